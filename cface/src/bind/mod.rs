//! The functions ksim's C headers call (`ksim/api.h`): each converts C's arguments — a
//! `__FILE__`/`__LINE__` pair into a [`Loc`], 6.1's GFP numbers into [`Gfp`], C pointers into
//! the model's handles — and calls the Rust API function a Rust driver would call. They are
//! `extern "C-unwind"`: a report that ends an execution unwinds through the C frames, as a
//! report from Rust code unwinds through Rust frames (modules are compiled with unwind tables).

mod interrupt;
mod locks;
mod misc;
mod mm;
mod rcu;
mod refcount;
mod sync;
mod thread;
mod timer;
mod uaccess;
mod wait;

pub use misc::debugfs_u64;
pub(crate) use mm::page_of;

use std::ffi::{c_char, c_int, c_void, CStr};

use ksim::gfp::Gfp;
use ksim::{Loc, Profile};

/// The function ksim binds to `ksim_<name>`, if any.
pub(crate) fn lookup(name: &str) -> Option<*const c_void> {
    mm::TABLE
        .iter()
        .chain(sync::TABLE)
        .chain(misc::TABLE)
        .chain(locks::TABLE)
        .chain(interrupt::TABLE)
        .chain(refcount::TABLE)
        .chain(rcu::TABLE)
        .chain(uaccess::TABLE)
        .chain(timer::TABLE)
        .chain(wait::TABLE)
        .chain(thread::TABLE)
        .chain(crate::disk::TABLE)
        .chain(crate::blkdev::TABLE)
        .find(|(n, _)| *n == name)
        .map(|&(_, f)| f)
}

/// A C string that lives as long as the module (its `.rodata`: modules are never unloaded).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string in a loaded module (or otherwise never freed).
pub(crate) unsafe fn static_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        return "(null)";
    }
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("(not UTF-8)")
}

std::thread_local! {
    /// The last file names seen, by pointer: a C file's name is converted once, not per call.
    static FILES: std::cell::Cell<[(usize, &'static str); 4]> = const { std::cell::Cell::new([(0, ""); 4]) };
    /// The very last one (most calls come from the file of the call before).
    static LAST_FILE: std::cell::Cell<(usize, &'static str)> = const { std::cell::Cell::new((0, "")) };
}

/// The location of a C caller.
///
/// # Safety
/// `file` is C's `__FILE__` (a string in the module's `.rodata`).
pub(crate) unsafe fn loc(file: *const c_char, line: c_int) -> Loc {
    let key = file as usize;
    let last = LAST_FILE.get();
    if last.0 == key && key != 0 {
        return Loc::new(last.1, line.max(0) as u32);
    }
    let name = FILES.with(|c| {
        let mut v = c.get();
        if let Some(&(_, n)) = v.iter().find(|(k, _)| *k == key) {
            return n;
        }
        // SAFETY: the caller's contract.
        let n = unsafe { static_str(file) };
        v.rotate_right(1);
        v[0] = (key, n);
        c.set(v);
        n
    });
    LAST_FILE.set((key, name));
    Loc::new(name, line.max(0) as u32)
}

/// GFP flags from Linux 6.1's numbers (ksim's headers define 6.1's values).
pub(crate) fn gfp(v: u32) -> Gfp {
    Gfp::from_value(Profile::Modern, v)
}
