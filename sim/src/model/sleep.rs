//! `___might_sleep` / `__might_resched` and `schedule_debug()`: the checks behind every API that
//! may sleep, and their reports in the profile's format (facts §3.3). The API's `might_sleep()`,
//! `mutex_lock()`, `alloc_pages()` ... call these with their caller's location.

use crate::defs::loc::Loc;
use std::fmt::Write as _;

use super::current;
use super::report::Violation;
use super::task::{Site, TaskCell};
use super::trace::Cat;
use crate::defs::config::{Profile, RcuFlavour};
use crate::defs::preempt_mask::atomic_count;

/// The irq-trace block lockdep prints when irqs are disabled (`print_irqtrace_events`).
fn irqtrace(t: &TaskCell) -> String {
    irqtrace_of(&t.state())
}

/// [`irqtrace`] from a state the caller already holds.
pub(crate) fn irqtrace_of(st: &super::task::TaskState) -> String {
    let it = st.irqtrace;
    let site =
        |s: Option<Site>| s.map_or_else(|| "(none)".to_string(), |s| format!("{} {}", s.file_line(), s.op));
    let mut s = String::new();
    let _ = writeln!(s, "irq event stamp: {}", it.events);
    let _ = writeln!(s, "hardirqs last  enabled at ({}): {}", it.hardirq_on.stamp, site(it.hardirq_on.site));
    let _ =
        writeln!(s, "hardirqs last disabled at ({}): {}", it.hardirq_off.stamp, site(it.hardirq_off.site));
    let _ = writeln!(s, "softirqs last  enabled at ({}): {}", it.softirq_on.stamp, site(it.softirq_on.site));
    let _ =
        writeln!(s, "softirqs last disabled at ({}): {}", it.softirq_off.stamp, site(it.softirq_off.site));
    s
}

/// `___might_sleep` / `__might_resched`: checks that the current task may sleep, with `offsets`
/// as the expected preempt_count (and, modern, the expected RCU depth `<< 8`), and reports in the
/// profile's format. `innermost` names the API call for the simulated call trace; `note` is an
/// extra line (the contract that was checked).
pub(crate) fn might_sleep_check(at: Loc, innermost: &str, offsets: u32, note: Option<&str>) {
    might_sleep_check_lazy(at, &|| innermost.to_string(), offsets, note)
}

/// [`might_sleep_check`] with the call's description built only when it is printed: the
/// allocator checks on every blocking call, and naming the GFP flags costs more than the check.
pub(crate) fn might_sleep_check_lazy(
    at: Loc,
    innermost: &dyn Fn() -> String,
    offsets: u32,
    note: Option<&str>,
) {
    let t = current();
    let cfg = t.exec.config();
    if !cfg.debug_atomic_sleep {
        return;
    }
    let (pc, irqs, rcu, nb) = {
        let st = t.state();
        (st.preempt_count, st.irqs_disabled, st.rcu_depth, st.non_block)
    };
    let ok = match cfg.profile {
        Profile::V4_0 => atomic_count(cfg.profile, pc) + rcu == offsets && !irqs,
        Profile::Modern => pc + (rcu << 8) == offsets && !irqs && nb == 0,
    };
    t.exec.emit(&t, Cat::Sleep, "might_sleep", || {
        format!("{} at {}:{} {}", innermost(), at.file(), at.line(), if ok { "ok" } else { "INVALID" })
    });
    if ok {
        return;
    }
    let mut s = String::new();
    let _ = writeln!(s, "BUG: sleeping function called from invalid context at {}:{}", at.file(), at.line());
    let in_atomic = (atomic_count(cfg.profile, pc) != 0) as u8;
    match cfg.profile {
        Profile::V4_0 => {
            let _ = writeln!(
                s,
                "in_atomic(): {in_atomic}, irqs_disabled(): {}, pid: {}, name: {}",
                irqs as u8, t.pid, t.name
            );
        }
        Profile::Modern => {
            let _ = writeln!(
                s,
                "in_atomic(): {in_atomic}, irqs_disabled(): {}, non_block: {nb}, pid: {}, name: {}",
                irqs as u8, t.pid, t.name
            );
            let _ = writeln!(s, "preempt_count: {pc:x}, expected: {:x}", offsets & 0xff);
            if cfg.rcu == RcuFlavour::Preemptible {
                let _ = writeln!(s, "RCU nest depth: {rcu}, expected: {}", offsets >> 8);
            }
        }
    }
    let held = t.state().held.clone();
    s.push_str(&t.exec.run.lockdep().held_locks(&t, &held));
    if irqs {
        s.push_str(&irqtrace(&t));
    }
    let expected_pc = match cfg.profile {
        Profile::V4_0 => offsets,
        Profile::Modern => offsets & 0xff,
    };
    if cfg.debug_preempt && pc != expected_pc {
        if let Some(site) = t.state().preempt_disabled_at {
            let _ = writeln!(s, "Preemption disabled at:\n {} {}", site.file_line(), site.op);
        }
    }
    if let Some(n) = note {
        let _ = writeln!(s, "{n}");
    }
    t.exec.report(&t, Violation::SleepInAtomic, s, &innermost());
}

/// `might_sleep()` at a given caller location (for APIs that sleep: they pass their caller).
pub(crate) fn might_sleep_at(at: Loc, innermost: &str, note: Option<&str>) {
    might_sleep_check(at, innermost, 0, note);
}

/// `__schedule_bug()`'s check in `schedule_debug()`: a task actually blocks while atomic.
pub(crate) fn schedule_debug(t: &TaskCell, at: Loc, what: &str) {
    let (pc, preempt_at, held) = {
        let st = t.state();
        (st.preempt_count, st.preempt_disabled_at, st.held.clone())
    };
    if atomic_count(t.exec.config().profile, pc) == 0 {
        return;
    }
    let mut s = String::new();
    let _ = writeln!(s, "BUG: scheduling while atomic: {}/{}/0x{pc:08x}", t.name, t.pid);
    s.push_str(&t.exec.run.lockdep().held_locks(t, &held));
    if t.exec.config().debug_preempt {
        if let Some(site) = preempt_at {
            let _ = writeln!(s, "Preemption disabled at:\n {} {}", site.file_line(), site.op);
        }
    }
    let _ = writeln!(s, "ksim: {what} blocked at {}:{}", at.file(), at.line());
    t.exec.report(t, Violation::SchedulingWhileAtomic, s, what);
}
