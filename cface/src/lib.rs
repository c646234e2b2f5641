//! ksim's C face: real kernel C — a driver from a kernel tree, or the user's own — compiled
//! unmodified against ksim's own kernel headers (`cface/include`, written fresh), loaded as a
//! fresh module for every execution, and run under ksim's schedulers with ksim's checks.
//!
//! Every kernel function the headers provide is a thin call into the same Rust API a Rust
//! driver calls (`ksim::mm::alloc_pages_at`, `SpinLock::lock_flavour_at`, ...), with the C
//! caller's `__FILE__` and `__LINE__`, so a report from C code names `drivers/block/brd.c:93`
//! and its call trace the C functions (`-finstrument-functions` makes each a simulated frame).
//! There is one set of semantics and checks; this crate adds no model of its own, only the
//! translation between C's structs and pointers and the model's handles:
//!
//! - [`build`]: compiling C files into a module (a shared object) with the system C compiler,
//!   cached by content; compiler errors and missing kernel symbols as one-line errors;
//! - [`module`]: loading a module, a copy per concurrent run, its writable data restored at the
//!   start of every execution so globals are as at load time, parameters set as with modprobe;
//! - [`bind`]: the functions the headers call;
//! - [`disk`]: C gendisks behind ksim's block layer (bios go through `->submit_bio`);
//! - [`source`]: where kernel C comes from (`KSIM_LINUX_SRC`, or Debian's `linux-source-6.1`);
//! - [`brd`]: `drivers/block/brd.c` of a kernel tree as one more brd generation;
//! - [`kunit`]: KUnit suites (`<kunit/test.h>`), one case per execution.
//!
//! The unsafe code is the foreign-function boundary: C pointers read and written as the C
//! structs they are, each use with a `// SAFETY:` comment.

pub mod bind;
pub mod blkdev;
pub mod brd;
pub mod build;
mod cache;
pub mod crash;
pub mod disk;
mod headers;
pub mod kunit;
pub mod module;
pub mod source;
mod state;

pub use build::{BuildError, ModuleSpec};
pub use module::{Image, Instance, Lease, ParamError};
