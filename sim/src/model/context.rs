//! Context accounting: how `preempt_count`, the irq flag and the softirq-disable count change,
//! with lockdep's irq-trace stamps and the trace events (facts §3.2). The API modules
//! (`preempt`, `irqflags`, `bottom_half`, `spinlock`, `highmem`, `rcupdate`, ...) are thin calls
//! into these.

use super::task::{IrqTraceStamp, Site, TaskCell, TaskState};
use super::trace::Cat;
use crate::defs::preempt_mask::{PREEMPT_OFFSET, SOFTIRQ_MASK};

/// Adds `val` to the task's preempt_count, remembering where it left zero ("Preemption disabled
/// at:"), and traces the change.
pub(crate) fn count_add(t: &TaskCell, val: u32, site: Site) {
    add_in(&mut t.state(), val, site);
    added(t, val, site);
}

/// [`count_add`]'s state change, for a caller that holds the task's state for more (the hot
/// paths change several fields at once); [`added`] must follow once the state is released.
#[inline]
pub(crate) fn add_in(st: &mut TaskState, val: u32, site: Site) {
    if st.preempt_count == 0 {
        st.preempt_disabled_at = Some(site);
    }
    st.preempt_count += val;
}

/// [`count_add`]'s trace event.
#[inline]
pub(crate) fn added(t: &TaskCell, val: u32, site: Site) {
    t.exec.emit(t, Cat::Context, site.op, || format!("+{val:#x} at {}", site.file_line()));
}

/// Subtracts `val` from the task's preempt_count. Underflow is a kernel bug the real
/// `DEBUG_PREEMPT` catches too ("BUG: using ... preempt_count underflow"); here it is reported as
/// an unbalanced context.
pub(crate) fn count_sub(t: &TaskCell, val: u32, site: Site) {
    let r = sub_in(&mut t.state(), val);
    subtracted(t, val, site, r);
}

/// [`count_sub`]'s state change (see [`add_in`]): `Err(preempt_count)` on underflow, which
/// leaves the count alone. [`subtracted`] must follow.
#[inline]
pub(crate) fn sub_in(st: &mut TaskState, val: u32) -> Result<(), u32> {
    let v = st.preempt_count.checked_sub(val).ok_or(st.preempt_count)?;
    st.preempt_count = v;
    if v == 0 {
        st.preempt_disabled_at = None;
    }
    Ok(())
}

/// [`count_sub`]'s report or trace event.
#[inline]
pub(crate) fn subtracted(t: &TaskCell, val: u32, site: Site, r: Result<(), u32>) {
    if let Err(pc) = r {
        underflow(t, val, site, pc);
    } else {
        t.exec.emit(t, Cat::Context, site.op, || format!("-{val:#x} at {}", site.file_line()));
    }
}

#[cold]
fn underflow(t: &TaskCell, val: u32, site: Site, pc: u32) {
    let body = format!(
        "WARNING: preempt_count underflow: {} at {} subtracts {val:#x} from {pc:#x}\n",
        site.op,
        site.file_line()
    );
    t.exec.report(t, super::report::Violation::UnbalancedContext, body, site.op);
}

/// `preempt_disable()` on behalf of an API (`radix_tree_preload`, `kmap_atomic`): +1 only with
/// `CONFIG_PREEMPT_COUNT`.
pub(crate) fn preempt_off(t: &TaskCell, site: Site) {
    if t.exec.config().preempt_count {
        count_add(t, PREEMPT_OFFSET, site);
    }
}

/// The matching `preempt_enable()`.
pub(crate) fn preempt_on(t: &TaskCell, site: Site) {
    if t.exec.config().preempt_count {
        count_sub(t, PREEMPT_OFFSET, site);
    }
}

/// Sets the irq flag, recording lockdep's irq-trace stamp.
pub(crate) fn set_irqs(t: &TaskCell, disabled: bool, site: Site) {
    {
        let mut st = t.state();
        if st.irqs_disabled == disabled {
            return;
        }
        st.irqs_disabled = disabled;
        st.irqtrace.events += 1;
        let stamp = IrqTraceStamp { stamp: st.irqtrace.events, site: Some(site) };
        if disabled {
            st.irqtrace.hardirq_off = stamp;
        } else {
            st.irqtrace.hardirq_on = stamp;
        }
    }
    t.exec.emit(t, Cat::Context, site.op, || format!("at {}", site.file_line()));
}

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

/// The irq-trace stamp of an interrupt's entry: a hardirq handler starts with hardirqs
/// disabled, a softirq with softirqs disabled, by the entry code at `site` (lockdep records
/// these in `irq_enter()` / `__do_softirq()`), so a report from the handler says where.
pub(crate) fn interrupt_entry(t: &TaskCell, hardirq: bool, site: Site) {
    let mut st = t.state();
    st.irqtrace.events += 1;
    let stamp = IrqTraceStamp { stamp: st.irqtrace.events, site: Some(site) };
    if hardirq {
        st.irqtrace.hardirq_off = stamp;
    } else {
        st.irqtrace.softirq_off = stamp;
    }
}
