//! `include/linux/bottom_half.h`: `local_bh_disable()` adds `SOFTIRQ_DISABLE_OFFSET` (0x200)
//! to preempt_count; `in_softirq()` is then true and `might_sleep()` fires.

use crate::defs::loc::Loc;

use crate::defs::preempt_mask::SOFTIRQ_DISABLE_OFFSET;
use crate::model::context::{bh_disable, bh_enable};
use crate::model::current;
use crate::model::task::Site;

/// `local_bh_disable()`: +0x200.
///
/// # Context
/// Process or softirq context; does not sleep; the task is atomic until `local_bh_enable()`.
#[track_caller]
pub fn local_bh_disable() {
    local_bh_disable_at(Loc::caller())
}

/// [`local_bh_disable`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn local_bh_disable_at(at: Loc) {
    bh_disable(&current(), SOFTIRQ_DISABLE_OFFSET, Site { at, op: "local_bh_disable" });
}

/// `local_bh_enable()`: -0x200 (pending softirqs would run here in the kernel).
#[track_caller]
pub fn local_bh_enable() {
    local_bh_enable_at(Loc::caller())
}

/// [`local_bh_enable`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn local_bh_enable_at(at: Loc) {
    bh_enable(&current(), SOFTIRQ_DISABLE_OFFSET, Site { at, op: "local_bh_enable" });
}
