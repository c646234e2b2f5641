//! `include/linux/kref.h`: `struct kref`, a reference count with a release function. Modern
//! kernels build it on `refcount_t` (so its misuse is refcount_t's warning); 4.0 built it on
//! `atomic_t` with `WARN_ON_ONCE(atomic_inc_return() < 2)` in `kref_get()` and
//! `WARN_ON(release == NULL)` in `kref_sub()`. A `kref_put()` without a release is that 4.0
//! warning; in the modern profile the count reaching 0 calls the NULL release, reported as
//! the kernel's NULL pointer dereference.

use crate::defs::config::Profile;
use crate::defs::loc::Loc;
use crate::model::current_in;
use crate::model::report::Violation;
use crate::refcount::*;

/// `struct kref`.
pub struct Kref(Refcount);

fn warn_on(at: Loc, func: &str) {
    let t = current_in(func);
    let body =
        format!("------------[ cut here ]------------\nWARNING: CPU: 0 PID: {} at {at} {func}\n", t.pid);
    t.exec.report(&t, Violation::Warning, body, func);
}

fn modern() -> bool {
    current_in("kref").exec.config().profile == Profile::Modern
}

/// `kref_init(&kref)`: count 1.
#[track_caller]
pub fn kref_init() -> Kref {
    Kref(refcount_init(1))
}

/// `kref_read(&kref)`.
pub fn kref_read(k: &Kref) -> i64 {
    refcount_read(&k.0)
}

/// `kref_get(&kref)`.
///
/// # Context
/// Any. Warns when the count was 0 (the object may be gone).
#[track_caller]
pub fn kref_get(k: &Kref) {
    let at = Loc::caller();
    if modern() {
        refcount_inc(&k.0);
    } else if k.0.raw_add_return(1) < 2 {
        warn_on(at, "kref_get");
    }
}

/// `kref_get_unless_zero(&kref)`.
#[track_caller]
pub fn kref_get_unless_zero(k: &Kref) -> bool {
    refcount_inc_not_zero(&k.0)
}

/// `kref_put(&kref, release)`: drops a reference; at 0 calls `release` (and returns true).
///
/// # Context
/// Any the release allows. 4.0 warns for a missing release on every call.
#[track_caller]
pub fn kref_put(k: &Kref, release: Option<&dyn Fn()>) -> bool {
    let at = Loc::caller();
    if !modern() && release.is_none() {
        warn_on(at, "kref_sub");
    }
    if !refcount_dec_and_test(&k.0) {
        return false;
    }
    match release {
        Some(f) => f(),
        None => {
            let t = current_in("kref_put()");
            let body = format!(
                "BUG: kernel NULL pointer dereference, address: 0000000000000000\n#PF: supervisor instruction \
                 fetch in kernel mode\nksim: kref_put() at {at} dropped the last reference and called its NULL \
                 release\n"
            );
            t.exec.report(&t, Violation::NonAddressable, body, "kref_put()");
        }
    }
    true
}
