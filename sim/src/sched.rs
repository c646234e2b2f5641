//! `include/linux/kernel.h` / `include/linux/sched.h` / `kernel/sched/core.c`: `might_sleep()`
//! and the primitives that sleep (`cond_resched`, `msleep`, `schedule`), `non_block_start/end`,
//! the contract annotation for may-sleep APIs, the simulated call stack, and `BUG_ON`.

use std::fmt::Write as _;
use std::panic::Location;

use crate::model::backend::yield_now;
use crate::model::config::{CheckMode, Profile, RcuFlavour};
use crate::model::current;
use crate::model::report::Violation;
use crate::model::task::{Site, TaskCell};
use crate::model::trace::Cat;
use crate::preempt::atomic_count;

/// The irq-trace block lockdep prints when irqs are disabled (`print_irqtrace_events`).
fn irqtrace(t: &TaskCell) -> String {
    let st = t.state();
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
pub(crate) fn might_sleep_check(
    at: &'static Location<'static>,
    innermost: &str,
    offsets: u32,
    note: Option<&str>,
) {
    might_sleep_check_lazy(at, &|| innermost.to_string(), offsets, note)
}

/// [`might_sleep_check`] with the call's description built only when it is printed: the
/// allocator checks on every blocking call, and naming the GFP flags costs more than the check.
pub(crate) fn might_sleep_check_lazy(
    at: &'static Location<'static>,
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
pub(crate) fn might_sleep_at(at: &'static Location<'static>, innermost: &str, note: Option<&str>) {
    might_sleep_check(at, innermost, 0, note);
}

/// `might_sleep()`: annotation that the caller may sleep. Checks on every call, whether or not
/// anything blocks (facts checklist 2).
///
/// # Context
/// Reports "BUG: sleeping function called from invalid context" unless preempt_count (plus the
/// PREEMPT_RCU nest depth) is 0, irqs are enabled and `non_block` is 0.
#[track_caller]
pub fn might_sleep() {
    might_sleep_check(Location::caller(), "might_sleep()", 0, None);
}

/// `might_sleep_if(cond)`.
#[track_caller]
pub fn might_sleep_if(cond: bool) {
    if cond {
        might_sleep_check(Location::caller(), "might_sleep()", 0, None);
    }
}

/// The contract annotation for an API documented as may-sleep: in contract mode it checks at
/// entry as `might_sleep()` would, so a caller in atomic context is found even when this call's
/// fast path would not sleep; in observed mode it does nothing.
///
/// # Context
/// As `might_sleep()`, in contract mode only.
#[track_caller]
pub fn might_sleep_contract(api: &str, why: &str) {
    let t = current();
    if t.exec.config().mode != CheckMode::Contract {
        return;
    }
    drop(t);
    let note = format!("ksim: contract: {api} may sleep ({why})");
    might_sleep_check(Location::caller(), api, 0, Some(&note));
}

/// `__schedule_bug()`'s check in `schedule_debug()`: a task actually blocks while atomic.
pub(crate) fn schedule_debug(t: &TaskCell, at: &'static Location<'static>, what: &str) {
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

/// `schedule()`: gives up the CPU. Not annotated with `might_sleep()` in the kernel; a call in
/// atomic context is caught by `schedule_debug()` ("BUG: scheduling while atomic").
///
/// # Context
/// Process context with preemption enabled.
#[track_caller]
pub fn schedule() {
    let t = current();
    schedule_debug(&t, Location::caller(), "schedule()");
    t.exec.emit(&t, Cat::Sleep, "schedule", String::new);
    drop(t);
    yield_now();
}

/// `cond_resched()`: a voluntary preemption point (`__might_resched(.., 0)`, then maybe schedule).
///
/// # Context
/// May sleep.
#[track_caller]
pub fn cond_resched() {
    might_sleep_check(Location::caller(), "cond_resched()", 0, None);
    yield_now();
}

/// `msleep(ms)`: sleeps at least `ms` milliseconds of simulated time.
///
/// # Context
/// Sleeps: `might_sleep()`, then it really schedules ("scheduling while atomic" if atomic).
#[track_caller]
pub fn msleep(ms: u64) {
    let at = Location::caller();
    might_sleep_check(at, "msleep()", 0, None);
    let t = current();
    schedule_debug(&t, at, "msleep()");
    let hz = t.exec.config().hz;
    t.exec.advance_jiffies((ms * hz).div_ceil(1000).max(1));
    t.exec.emit(&t, Cat::Sleep, "msleep", || format!("{ms} ms"));
    drop(t);
    yield_now();
}

/// `non_block_start()`: the task must not sleep until `non_block_end()` (modern kernels; used by
/// mmu notifiers). Reported as `non_block: N`.
pub fn non_block_start() {
    current().state().non_block += 1;
}

/// `non_block_end()`.
pub fn non_block_end() {
    let t = current();
    let mut st = t.state();
    st.non_block = st.non_block.saturating_sub(1);
}

/// The current task's pid.
pub fn current_pid() -> u32 {
    current().pid
}

/// The current task's `comm`.
pub fn current_comm() -> String {
    current().name.to_string()
}

/// One frame of the simulated call stack; popped when dropped. It keeps the task it was pushed
/// on, so leaving a frame costs no second current-task lookup (drivers enter one per function).
pub struct Frame(Option<crate::model::backend::CurrentTask>);

impl Frame {
    /// Pushes `name` on the current task's simulated stack (no-op outside a task).
    #[inline(always)]
    pub fn enter(name: &'static str) -> Frame {
        let t = crate::model::backend::current_task();
        if let Some(t) = &t {
            t.state().frames.push(name);
        }
        Frame(t)
    }
}

impl Drop for Frame {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.state().frames.pop();
        }
    }
}

/// Names the enclosing driver function on the simulated call stack, so reports show
/// `alloc_page(...) <- brd_insert_page <- brd_direct_access`.
#[macro_export]
macro_rules! kfn {
    ($name:expr) => {
        let _ksim_frame = $crate::sched::Frame::enter($name);
    };
}

/// `BUG()`: "kernel BUG at file:line!" — the task dies (its execution stops) whatever
/// `panic_on_report` says.
#[track_caller]
pub fn bug() -> ! {
    let at = Location::caller();
    let t = current();
    let body = format!(
        "kernel BUG at {}:{}!\ninvalid opcode: 0000 [#1] SMP\nCPU: 0 PID: {} Comm: {}\n",
        at.file(),
        at.line(),
        t.pid,
        t.name
    );
    t.exec.report(&t, Violation::Bug, body, "BUG()");
    t.exec.stop_execution(Violation::Bug)
}

/// `BUG_ON(cond)`.
#[macro_export]
macro_rules! bug_on {
    ($cond:expr) => {
        if $cond {
            $crate::sched::bug();
        }
    };
}
