//! `<linux/refcount.h>` and `<linux/kref.h>`: a C `refcount_t` is a handle to ksim's
//! [`Refcount`] (its misuse is the kernel's `refcount_warn_saturate()` report at the C line),
//! made on first use from `REFCOUNT_INIT()`'s value or by `refcount_set()`. 6.1's `kref` is
//! inline code over `refcount_t` in the header, as in the kernel, so it needs nothing here
//! but the report of a `kref_put()` whose NULL release would be called.

use std::ffi::{c_char, c_int, c_void};

use ksim::refcount::{self as rc, Refcount};

use super::loc;
use crate::state::{state, CHandle};

/// `refcount_t` (refcount.h).
#[repr(C)]
pub(crate) struct CRefcount {
    h: CHandle,
    init: c_int,
}

fn refcount(r: *mut CRefcount) -> &'static Refcount {
    // SAFETY: a C refcount_t; its handle only ever holds Refcounts.
    unsafe {
        let init = (*r).init;
        crate::state::object(&mut (*r).h, || rc::refcount_init(init))
    }
}

unsafe extern "C-unwind" fn refcount_set(r: *mut CRefcount, n: c_int) {
    // SAFETY: a C refcount_t.
    unsafe {
        (*r).init = n;
        state().install(&mut (*r).h, std::sync::Arc::new(rc::refcount_init(n)));
    }
}

unsafe extern "C-unwind" fn refcount_read(r: *mut CRefcount) -> c_int {
    rc::refcount_read(refcount(r)) as c_int
}

unsafe extern "C-unwind" fn refcount_add(i: c_int, r: *mut CRefcount, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    rc::refcount_add_at(unsafe { loc(f, l) }, i, refcount(r));
}

unsafe extern "C-unwind" fn refcount_inc_not_zero(r: *mut CRefcount, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    rc::refcount_inc_not_zero_at(unsafe { loc(f, l) }, refcount(r)) as c_int
}

unsafe extern "C-unwind" fn refcount_sub_and_test(
    i: c_int,
    r: *mut CRefcount,
    f: *const c_char,
    l: c_int,
) -> c_int {
    // SAFETY: C's __FILE__.
    rc::refcount_sub_and_test_at(unsafe { loc(f, l) }, i, refcount(r)) as c_int
}

unsafe extern "C-unwind" fn refcount_dec(r: *mut CRefcount, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    rc::refcount_dec_at(unsafe { loc(f, l) }, refcount(r));
}

/// `kref_put()` reached 0 with a NULL release: the kernel calls address 0. The Rust API's own
/// report of that (a kref at 1 put once with no release), at the C line.
unsafe extern "C-unwind" fn kref_null_release(f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    ksim::kref::kref_put_at(at, &ksim::kref::kref_init(), None);
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("refcount_set", refcount_set as *const c_void),
    ("refcount_read", refcount_read as *const c_void),
    ("refcount_add", refcount_add as *const c_void),
    ("refcount_inc_not_zero", refcount_inc_not_zero as *const c_void),
    ("refcount_sub_and_test", refcount_sub_and_test as *const c_void),
    ("refcount_dec", refcount_dec as *const c_void),
    ("kref_null_release", kref_null_release as *const c_void),
];
