//! A place in the source a report names: a Rust caller (from `#[track_caller]`) or a C file and
//! line (from `__FILE__`/`__LINE__` in ksim's C headers). Reports print it as `file:line`.

use std::panic::Location;

/// A source location.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc {
    file: &'static str,
    line: u32,
}

impl Loc {
    /// The location of the caller (through every `#[track_caller]` frame).
    #[track_caller]
    #[inline]
    pub fn caller() -> Loc {
        Loc::from(Location::caller())
    }

    /// A location given by file and line (C code, or a place with no Rust caller).
    pub const fn new(file: &'static str, line: u32) -> Loc {
        Loc { file, line }
    }

    /// The file.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The line.
    pub fn line(&self) -> u32 {
        self.line
    }
}

impl From<&'static Location<'static>> for Loc {
    #[inline]
    fn from(l: &'static Location<'static>) -> Loc {
        Loc { file: l.file(), line: l.line() }
    }
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}
