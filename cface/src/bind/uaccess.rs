//! `<linux/uaccess.h>`: copies between C's kernel buffers and the simulated user address space
//! a test maps through the Rust API (`ksim::uaccess::user_mmap`). A `void __user *` is that
//! space's address as a C pointer value, never dereferenced by C. Every copy is the Rust
//! API's, at the C line (`might_fault()` first; a bad address is the uncopied count or
//! `-EFAULT`); the kernel side goes through the model's checked copies when it is memory the
//! model knows (a slab object or page), so KASAN sees it too.

use std::ffi::{c_char, c_int, c_ulong, c_void};

use ksim::mm::memory;
use ksim::uaccess::{self as ua, UserPtr};
use ksim::Loc;

use super::loc;
use super::mm::kaddr;

/// Reads `n` bytes of C kernel memory at `p`.
///
/// # Safety
/// `p` points to `n` readable bytes (host memory), or to memory the model knows.
unsafe fn kernel_read(at: Loc, p: *const c_void, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    match kaddr(p) {
        Some(k) => memory::memcpy_from_at(at, &mut buf, k),
        // SAFETY: the caller's contract.
        None => buf.copy_from_slice(unsafe { std::slice::from_raw_parts(p as *const u8, n) }),
    }
    buf
}

/// Writes `bytes` to C kernel memory at `p`.
///
/// # Safety
/// As [`kernel_read`], writable.
unsafe fn kernel_write(at: Loc, p: *mut c_void, bytes: &[u8]) {
    match kaddr(p) {
        Some(k) => memory::memcpy_to_at(at, k, bytes),
        // SAFETY: the caller's contract.
        None => unsafe { std::slice::from_raw_parts_mut(p as *mut u8, bytes.len()) }.copy_from_slice(bytes),
    }
}

unsafe extern "C-unwind" fn copy_to_user(
    to: *mut c_void,
    from: *const c_void,
    n: c_ulong,
    f: *const c_char,
    l: c_int,
) -> c_ulong {
    // SAFETY: C's __FILE__ and its source buffer of `n` bytes.
    let (at, bytes) = unsafe {
        let at = loc(f, l);
        (at, kernel_read(at, from, n as usize))
    };
    ua::copy_to_user_at(at, UserPtr(to as u64), &bytes) as c_ulong
}

unsafe extern "C-unwind" fn copy_from_user(
    to: *mut c_void,
    from: *const c_void,
    n: c_ulong,
    f: *const c_char,
    l: c_int,
) -> c_ulong {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    let mut bytes = vec![0u8; n as usize];
    let left = ua::copy_from_user_at(at, &mut bytes, UserPtr(from as u64));
    // The kernel zeroes what it could not copy: the whole buffer is written.
    // SAFETY: C's destination buffer of `n` bytes.
    unsafe { kernel_write(at, to, &bytes) };
    left as c_ulong
}

unsafe extern "C-unwind" fn clear_user(to: *mut c_void, n: c_ulong, f: *const c_char, l: c_int) -> c_ulong {
    // SAFETY: C's __FILE__.
    ua::clear_user_at(unsafe { loc(f, l) }, UserPtr(to as u64), n as usize) as c_ulong
}

/// `-EFAULT`, for a size the binding refuses.
const EFAULT: c_int = 14;

/// The checked sizes of `get_user`/`put_user`; any other is a C-side mistake, reported here
/// rather than by the Rust API's assertion.
fn user_size(size: c_int, at: Loc, what: &str) -> Option<usize> {
    match size {
        1 | 2 | 4 | 8 => Some(size as usize),
        _ => {
            ksim::sched::warn_at(at, &format!("{what} of a {size}-byte value (valid: 1, 2, 4, 8)"));
            None
        }
    }
}

unsafe extern "C-unwind" fn get_user(
    out: *mut u64,
    from: *const c_void,
    size: c_int,
    f: *const c_char,
    l: c_int,
) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    let Some(size) = user_size(size, at, "get_user()") else { return -EFAULT };
    let (v, r) = match ua::get_user_at(at, UserPtr(from as u64), size) {
        Ok(v) => (v, 0),
        Err(e) => (0, -e.code()),
    };
    // SAFETY: the header's local u64.
    unsafe { *out = v };
    r
}

unsafe extern "C-unwind" fn put_user(
    v: u64,
    to: *mut c_void,
    size: c_int,
    f: *const c_char,
    l: c_int,
) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    let Some(size) = user_size(size, at, "put_user()") else { return -EFAULT };
    ua::put_user_at(at, v, UserPtr(to as u64), size).map_or_else(|e| -e.code(), |()| 0)
}

unsafe extern "C-unwind" fn access_ok(p: *const c_void, n: c_ulong) -> c_int {
    ua::access_ok(UserPtr(p as u64), n) as c_int
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("copy_to_user", copy_to_user as *const c_void),
    ("copy_from_user", copy_from_user as *const c_void),
    ("clear_user", clear_user as *const c_void),
    ("get_user", get_user as *const c_void),
    ("put_user", put_user as *const c_void),
    ("access_ok", access_ok as *const c_void),
];
