//! `include/uapi/asm-generic/errno-base.h`, `errno.h` and `include/linux/errno.h`: kernel error
//! numbers, returned as `Err(Errno::ENOSPC)` and printed as `-ENOSPC`.

use std::fmt;

/// A kernel errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::upper_case_acronyms)]
pub enum Errno {
    /// Operation not permitted (1).
    EPERM,
    /// Interrupted system call (4).
    EINTR,
    /// I/O error (5).
    EIO,
    /// No such device or address (6).
    ENXIO,
    /// Try again (11); `-EWOULDBLOCK` too.
    EAGAIN,
    /// Out of memory (12).
    ENOMEM,
    /// Permission denied (13).
    EACCES,
    /// Bad address (14).
    EFAULT,
    /// Device or resource busy (16).
    EBUSY,
    /// File exists (17).
    EEXIST,
    /// No such device (19).
    ENODEV,
    /// Invalid argument (22).
    EINVAL,
    /// Not a typewriter: inappropriate ioctl (25).
    ENOTTY,
    /// No space left on device (28).
    ENOSPC,
    /// Math result not representable (34).
    ERANGE,
    /// Operation not supported (95).
    EOPNOTSUPP,
    /// Kernel-internal "restart the system call" (512): an interruptible wait a signal ended.
    ERESTARTSYS,
    /// Kernel-internal "no ioctl command" (515).
    ENOIOCTLCMD,
}

impl Errno {
    /// The positive errno value.
    pub fn code(self) -> i32 {
        match self {
            Errno::EPERM => 1,
            Errno::EINTR => 4,
            Errno::EIO => 5,
            Errno::ENXIO => 6,
            Errno::EAGAIN => 11,
            Errno::ENOMEM => 12,
            Errno::EACCES => 13,
            Errno::EFAULT => 14,
            Errno::EBUSY => 16,
            Errno::EEXIST => 17,
            Errno::ENODEV => 19,
            Errno::EINVAL => 22,
            Errno::ENOTTY => 25,
            Errno::ENOSPC => 28,
            Errno::ERANGE => 34,
            Errno::EOPNOTSUPP => 95,
            Errno::ERESTARTSYS => 512,
            Errno::ENOIOCTLCMD => 515,
        }
    }

    /// The kernel's negative return value, e.g. -28 for `ENOSPC` (also `-Errno::ENOSPC`).
    #[allow(clippy::should_implement_trait)] // kept as a method: `Errno::ENOSPC.neg()` reads as the C
    pub fn neg(self) -> i64 {
        -(self.code() as i64)
    }

    /// The errno of a negative return value, if it is one ksim knows.
    pub fn from_neg(v: i64) -> Option<Errno> {
        ALL.iter().copied().find(|e| e.neg() == v)
    }

    /// The symbolic name, e.g. `ENOSPC`.
    pub fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::EINTR => "EINTR",
            Errno::EIO => "EIO",
            Errno::ENXIO => "ENXIO",
            Errno::EAGAIN => "EAGAIN",
            Errno::ENOMEM => "ENOMEM",
            Errno::EACCES => "EACCES",
            Errno::EFAULT => "EFAULT",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::ENOTTY => "ENOTTY",
            Errno::ENOSPC => "ENOSPC",
            Errno::ERANGE => "ERANGE",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
            Errno::ERESTARTSYS => "ERESTARTSYS",
            Errno::ENOIOCTLCMD => "ENOIOCTLCMD",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "-{}", self.name())
    }
}

impl std::error::Error for Errno {}

impl std::ops::Neg for Errno {
    type Output = i64;

    /// `-EINVAL`: the kernel's negative return value.
    fn neg(self) -> i64 {
        Errno::neg(self)
    }
}

const ALL: &[Errno] = &[
    Errno::EPERM,
    Errno::EINTR,
    Errno::EIO,
    Errno::ENXIO,
    Errno::EAGAIN,
    Errno::ENOMEM,
    Errno::EACCES,
    Errno::EFAULT,
    Errno::EBUSY,
    Errno::EEXIST,
    Errno::ENODEV,
    Errno::EINVAL,
    Errno::ENOTTY,
    Errno::ENOSPC,
    Errno::ERANGE,
    Errno::EOPNOTSUPP,
    Errno::ERESTARTSYS,
    Errno::ENOIOCTLCMD,
];

/// A kernel result.
pub type KResult<T> = Result<T, Errno>;
