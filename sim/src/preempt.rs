//! `include/linux/preempt.h`: `preempt_disable()`/`preempt_enable()` and the context
//! predicates. The layout (the masks, re-exported here) is `defs::preempt_mask`; the counting
//! is the model's (`model::context`).

use crate::defs::loc::Loc;

pub use crate::defs::preempt_mask::*;
use crate::model::context::{count_add, count_sub};
use crate::model::current;
use crate::model::task::Site;

/// `preempt_disable()`: +1 with `CONFIG_PREEMPT_COUNT`, else only a compiler barrier.
///
/// # Context
/// Any; does not sleep. The task is atomic until the matching `preempt_enable()`.
#[track_caller]
pub fn preempt_disable() {
    preempt_disable_at(Loc::caller())
}

/// [`preempt_disable`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn preempt_disable_at(at: Loc) {
    let t = current();
    if t.exec.config().preempt_count {
        count_add(&t, PREEMPT_OFFSET, Site { at, op: "preempt_disable" });
    }
}

/// `preempt_enable()`: -1 (and, in a preemptible kernel, a possible reschedule: a scheduling
/// point here only through the next lock or sleep).
///
/// # Context
/// Any; must pair with `preempt_disable()`.
#[track_caller]
pub fn preempt_enable() {
    preempt_enable_at(Loc::caller())
}

/// [`preempt_enable`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn preempt_enable_at(at: Loc) {
    let t = current();
    if t.exec.config().preempt_count {
        count_sub(&t, PREEMPT_OFFSET, Site { at, op: "preempt_enable" });
    }
}

/// `preempt_count()` of the current task.
pub fn preempt_count() -> u32 {
    current().state().preempt_count
}

/// `in_atomic()`: 4.0 `(preempt_count() & ~PREEMPT_ACTIVE) != 0`; modern `preempt_count() != 0`.
pub fn in_atomic() -> bool {
    let t = current();
    let pc = t.state().preempt_count;
    atomic_count(t.exec.config().profile, pc) != 0
}

/// `in_irq()` / `in_hardirq()`.
pub fn in_irq() -> bool {
    preempt_count() & HARDIRQ_MASK != 0
}

/// `in_softirq()`: serving a softirq or with bottom halves disabled.
pub fn in_softirq() -> bool {
    preempt_count() & SOFTIRQ_MASK != 0
}

/// `in_serving_softirq()`.
pub fn in_serving_softirq() -> bool {
    preempt_count() & SOFTIRQ_OFFSET != 0
}

/// `in_nmi()`.
pub fn in_nmi() -> bool {
    let t = current();
    let mask = nmi_mask(t.exec.config().profile);
    let pc = t.state().preempt_count;
    pc & mask != 0
}

/// `in_interrupt()`: hardirq, softirq (or bh disabled) or NMI.
pub fn in_interrupt() -> bool {
    let t = current();
    let mask = HARDIRQ_MASK | SOFTIRQ_MASK | nmi_mask(t.exec.config().profile);
    let pc = t.state().preempt_count;
    pc & mask != 0
}

/// `in_task()` (modern): not in NMI, hardirq or serving softirq.
pub fn in_task() -> bool {
    let t = current();
    let mask = HARDIRQ_MASK | SOFTIRQ_OFFSET | nmi_mask(t.exec.config().profile);
    let pc = t.state().preempt_count;
    pc & mask == 0
}
