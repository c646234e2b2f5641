//! `include/linux/bottom_half.h`: `local_bh_disable()` adds `SOFTIRQ_DISABLE_OFFSET` (0x200)
//! to preempt_count; `in_softirq()` is then true and `might_sleep()` fires.

use std::panic::Location;

use crate::model::current;
use crate::model::task::{IrqTraceStamp, Site, TaskCell};
use crate::preempt::{count_add, count_sub, SOFTIRQ_DISABLE_OFFSET, SOFTIRQ_MASK};

fn stamp(t: &TaskCell, site: Site, off: bool) {
    let mut st = t.state();
    st.irqtrace.events += 1;
    let s = IrqTraceStamp { stamp: st.irqtrace.events, site: Some(site) };
    if off {
        st.irqtrace.softirq_off = s;
    } else {
        st.irqtrace.softirq_on = s;
    }
}

/// Adds `val` (a multiple of `SOFTIRQ_DISABLE_OFFSET`, plus the preempt offset for
/// `spin_lock_bh`) and records softirqs-off when they go off.
pub(crate) fn bh_disable(t: &TaskCell, val: u32, site: Site) {
    let was_on = t.state().preempt_count & SOFTIRQ_MASK == 0;
    count_add(t, val, site);
    if was_on {
        stamp(t, site, true);
    }
}

pub(crate) fn bh_enable(t: &TaskCell, val: u32, site: Site) {
    count_sub(t, val, site);
    if t.state().preempt_count & SOFTIRQ_MASK == 0 {
        stamp(t, site, false);
    }
}

/// `local_bh_disable()`: +0x200.
///
/// # Context
/// Process or softirq context; does not sleep; the task is atomic until `local_bh_enable()`.
#[track_caller]
pub fn local_bh_disable() {
    bh_disable(&current(), SOFTIRQ_DISABLE_OFFSET, Site { at: Location::caller(), op: "local_bh_disable" });
}

/// `local_bh_enable()`: -0x200 (pending softirqs would run here in the kernel).
#[track_caller]
pub fn local_bh_enable() {
    bh_enable(&current(), SOFTIRQ_DISABLE_OFFSET, Site { at: Location::caller(), op: "local_bh_enable" });
}
