//! `<linux/rcupdate.h>`, the PROVE_RCU half. A C `T __rcu *p` is a plain C pointer, read and
//! written by C itself: `rcu_dereference*()` first calls here to make the check the kernel
//! makes at that dereference (`rcu_read_lock()` held, or the condition — typically
//! `lockdep_is_held(&lock)` — true), at the C line, then C loads the pointer. `call_rcu()` and
//! `kfree_rcu()` run their callback (or `kfree()`) after a grace period in ksim's callback task.

use std::ffi::{c_char, c_int, c_void};

use ksim::rcu_pointer;

use super::loc;

/// `struct rcu_head`'s callback.
type CRcuFunc = unsafe extern "C-unwind" fn(*mut c_void);

unsafe extern "C-unwind" fn rcu_check(c: c_int, protected: c_int, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    rcu_pointer::rcu_read_check_at(unsafe { loc(f, l) }, c != 0, protected != 0);
}

unsafe extern "C-unwind" fn call_rcu(head: *mut c_void, func: CRcuFunc, _f: *const c_char, _l: c_int) {
    // The head's address only: C owns it until its callback runs.
    let head = head as usize;
    // SAFETY: the module's callback with the head it was queued with, as rcu_do_batch() calls it.
    rcu_pointer::call_rcu(move || unsafe { func(head as *mut c_void) });
}

unsafe extern "C-unwind" fn kfree_rcu(p: *const c_void, f: *const c_char, l: c_int) {
    let (p, f) = (p as usize, f as usize);
    // SAFETY: `kfree()` of the object after the grace period, named at the kfree_rcu() line
    // (C's __FILE__ lives as long as the module).
    rcu_pointer::call_rcu(move || unsafe { super::mm::kfree(p as *const c_void, f as *const c_char, l) });
}

unsafe extern "C-unwind" fn rcu_barrier(f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    rcu_pointer::rcu_barrier_at(unsafe { loc(f, l) });
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("rcu_check", rcu_check as *const c_void),
    ("call_rcu", call_rcu as *const c_void),
    ("kfree_rcu", kfree_rcu as *const c_void),
    ("rcu_barrier", rcu_barrier as *const c_void),
];
