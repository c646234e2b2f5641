//! `include/linux/refcount.h` / `lib/refcount.c`: `refcount_t`, a reference count that
//! saturates instead of wrapping. Misuse is the kernel's `refcount_warn_saturate()` warning
//! — "refcount_t: addition on 0; use-after-free.", "refcount_t: underflow; use-after-free.",
//! "refcount_t: saturated; leaking memory.", "refcount_t: decrement hit 0; leaking memory." —
//! and the counter is left at `REFCOUNT_SATURATED`, where it stays. Text of the modern
//! implementation (refcount_t came with 4.11; the 4.0 profile uses the same text).
//! Every operation is a scheduling point (an atomic drivers race on).

use crate::defs::loc::Loc;
use crate::model::backend::RawAtomic;
use crate::model::current_in;
use crate::model::report::Violation;

/// `REFCOUNT_SATURATED` (`INT_MIN / 2`).
pub const REFCOUNT_SATURATED: i64 = (i32::MIN / 2) as i64;

/// `refcount_t`.
pub struct Refcount(RawAtomic);

/// `REFCOUNT_INIT(n)` / `refcount_set()` at creation.
#[track_caller]
pub fn refcount_init(n: i32) -> Refcount {
    let _ = current_in("refcount_set()");
    Refcount(RawAtomic::new(n as i64))
}

fn warn(r: &Refcount, at: Loc, what: &str) {
    r.0.store(REFCOUNT_SATURATED);
    let t = current_in("refcount_warn_saturate()");
    let body = format!(
        "------------[ cut here ]------------\nrefcount_t: {what}\nWARNING: CPU: 0 PID: {} at {at} refcount_warn_saturate\n",
        t.pid
    );
    t.exec.report(&t, Violation::Refcount, body, "refcount_warn_saturate");
}

impl Refcount {
    /// `atomic_add_return()` on the plain counter (4.0's `kref` is on `atomic_t`).
    pub(crate) fn raw_add_return(&self, i: i64) -> i64 {
        self.0.fetch_add(i) + i
    }
}

/// `refcount_read(r)`.
pub fn refcount_read(r: &Refcount) -> i64 {
    r.0.load()
}

/// `refcount_set(r, n)`.
pub fn refcount_set(r: &Refcount, n: i32) {
    r.0.store(n as i64)
}

/// `refcount_add(i, r)`.
///
/// # Context
/// Any. Warns on addition to 0 (a use after free) and on overflow.
#[track_caller]
pub fn refcount_add(i: i32, r: &Refcount) {
    let at = Loc::caller();
    let old = r.0.fetch_add(i as i64);
    if old == 0 {
        warn(r, at, "addition on 0; use-after-free.");
    } else if old < 0 || old + i as i64 > i32::MAX as i64 {
        warn(r, at, "saturated; leaking memory.");
    }
}

/// `refcount_inc(r)`.
#[track_caller]
pub fn refcount_inc(r: &Refcount) {
    let at = Loc::caller();
    let old = r.0.fetch_add(1);
    if old == 0 {
        warn(r, at, "addition on 0; use-after-free.");
    } else if old < 0 || old + 1 > i32::MAX as i64 {
        warn(r, at, "saturated; leaking memory.");
    }
}

/// `refcount_inc_not_zero(r)`: increments unless 0; whether it did.
#[track_caller]
pub fn refcount_inc_not_zero(r: &Refcount) -> bool {
    let at = Loc::caller();
    let mut old = r.0.load();
    loop {
        if old == 0 {
            return false;
        }
        match r.0.compare_exchange(old, old + 1) {
            Ok(_) => break,
            Err(cur) => old = cur,
        }
    }
    if old < 0 || old + 1 > i32::MAX as i64 {
        warn(r, at, "saturated; leaking memory.");
    }
    true
}

/// `refcount_sub_and_test(i, r)`: true when the count reaches 0 (the caller frees).
#[track_caller]
pub fn refcount_sub_and_test(i: i32, r: &Refcount) -> bool {
    let at = Loc::caller();
    let old = r.0.fetch_add(-(i as i64));
    if old == i as i64 {
        return true;
    }
    if old < 0 || old - (i as i64) < 0 {
        warn(r, at, "underflow; use-after-free.");
    }
    false
}

/// `refcount_dec_and_test(r)`.
///
/// # Context
/// Any. Warns on underflow (a put too many: a use after free).
#[track_caller]
pub fn refcount_dec_and_test(r: &Refcount) -> bool {
    let at = Loc::caller();
    let old = r.0.fetch_add(-1);
    if old == 1 {
        return true;
    }
    if old <= 0 {
        warn(r, at, "underflow; use-after-free.");
    }
    false
}

/// `refcount_dec(r)`: a decrement that must not reach 0 (that would leak the object).
#[track_caller]
pub fn refcount_dec(r: &Refcount) {
    let at = Loc::caller();
    if r.0.fetch_add(-1) <= 1 {
        warn(r, at, "decrement hit 0; leaking memory.");
    }
}
