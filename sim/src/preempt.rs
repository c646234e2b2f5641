//! `include/linux/preempt.h` (modern) and `include/linux/preempt_mask.h` (4.0): the
//! preempt_count layout, `preempt_disable()`/`preempt_enable()` and the context predicates.
//!
//! Layout (facts §3.1): bits 0-7 PREEMPT, 8-15 SOFTIRQ, 16-19 HARDIRQ, then NMI — one bit at 20
//! in 4.0 (`NMI_MASK 0x00100000`, with `PREEMPT_ACTIVE 0x00200000` above it), four bits 20-23 in
//! modern kernels (`NMI_MASK 0x00f00000`).

use std::panic::Location;

use crate::model::config::Profile;
use crate::model::current;
use crate::model::task::{Site, TaskCell, TaskState};
use crate::model::trace::Cat;

/// `PREEMPT_OFFSET`.
pub const PREEMPT_OFFSET: u32 = 1;
/// `PREEMPT_MASK`.
pub const PREEMPT_MASK: u32 = 0x0000_00ff;
/// `SOFTIRQ_OFFSET`: added while a softirq is being served.
pub const SOFTIRQ_OFFSET: u32 = 0x100;
/// `SOFTIRQ_MASK`.
pub const SOFTIRQ_MASK: u32 = 0x0000_ff00;
/// `SOFTIRQ_DISABLE_OFFSET = 2 * SOFTIRQ_OFFSET`: added by `local_bh_disable()`.
pub const SOFTIRQ_DISABLE_OFFSET: u32 = 0x200;
/// `SOFTIRQ_LOCK_OFFSET = SOFTIRQ_DISABLE_OFFSET + PREEMPT_OFFSET`: added by `spin_lock_bh()`.
pub const SOFTIRQ_LOCK_OFFSET: u32 = SOFTIRQ_DISABLE_OFFSET + PREEMPT_OFFSET;
/// `HARDIRQ_OFFSET`.
pub const HARDIRQ_OFFSET: u32 = 0x1_0000;
/// `HARDIRQ_MASK`.
pub const HARDIRQ_MASK: u32 = 0x000f_0000;
/// `NMI_OFFSET`.
pub const NMI_OFFSET: u32 = 0x10_0000;
/// `NMI_MASK` in 4.0 (`NMI_BITS = 1`).
pub const NMI_MASK_4_0: u32 = 0x0010_0000;
/// `NMI_MASK` in modern kernels (`NMI_BITS = 4`).
pub const NMI_MASK_MODERN: u32 = 0x00f0_0000;
/// `PREEMPT_ACTIVE` (4.0 only).
pub const PREEMPT_ACTIVE: u32 = 0x0020_0000;

/// `NMI_MASK` for a profile.
pub fn nmi_mask(profile: Profile) -> u32 {
    match profile {
        Profile::V4_0 => NMI_MASK_4_0,
        Profile::Modern => NMI_MASK_MODERN,
    }
}

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
    t.exec.report(t, crate::Violation::UnbalancedContext, body, site.op);
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

/// `preempt_disable()`: +1 with `CONFIG_PREEMPT_COUNT`, else only a compiler barrier.
///
/// # Context
/// Any; does not sleep. The task is atomic until the matching `preempt_enable()`.
#[track_caller]
pub fn preempt_disable() {
    let t = current();
    if t.exec.config().preempt_count {
        count_add(&t, PREEMPT_OFFSET, Site { at: Location::caller(), op: "preempt_disable" });
    }
}

/// `preempt_enable()`: -1 (and, in a preemptible kernel, a possible reschedule: a scheduling
/// point here only through the next lock or sleep).
///
/// # Context
/// Any; must pair with `preempt_disable()`.
#[track_caller]
pub fn preempt_enable() {
    let t = current();
    if t.exec.config().preempt_count {
        count_sub(&t, PREEMPT_OFFSET, Site { at: Location::caller(), op: "preempt_enable" });
    }
}

/// `preempt_count()` of the current task.
pub fn preempt_count() -> u32 {
    current().state().preempt_count
}

/// The part of a preempt_count that makes a task atomic: in 4.0 everything but
/// `PREEMPT_ACTIVE`; in modern kernels all of it (bit 21 belongs to the NMI field there).
pub(crate) fn atomic_count(profile: Profile, pc: u32) -> u32 {
    match profile {
        Profile::V4_0 => pc & !PREEMPT_ACTIVE,
        Profile::Modern => pc,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_count_masks_preempt_active_only_in_4_0() {
        // Bit 21 is PREEMPT_ACTIVE in 4.0 (not atomic) and part of NMI_MASK in modern kernels.
        assert_eq!(atomic_count(Profile::V4_0, PREEMPT_ACTIVE), 0);
        assert_eq!(atomic_count(Profile::V4_0, PREEMPT_ACTIVE | 1), 1);
        assert_eq!(atomic_count(Profile::Modern, 0x0020_0000), 0x0020_0000);
        assert_ne!(0x0020_0000 & NMI_MASK_MODERN, 0);
    }
}
