//! `include/linux/kernel.h` / `include/linux/sched.h` / `kernel/sched/core.c`: `might_sleep()`
//! and the primitives that sleep (`cond_resched`, `msleep`, `schedule`), `non_block_start/end`,
//! the contract annotation for may-sleep APIs, the simulated call stack, and `BUG_ON`.

use crate::defs::loc::Loc;

use crate::defs::config::CheckMode;
use crate::model::backend::yield_now;
use crate::model::current;
use crate::model::report::Violation;
use crate::model::sleep::{might_sleep_check, schedule_debug};
use crate::model::trace::Cat;

/// `might_sleep()`: annotation that the caller may sleep. Checks on every call, whether or not
/// anything blocks (facts checklist 2).
///
/// # Context
/// Reports "BUG: sleeping function called from invalid context" unless preempt_count (plus the
/// PREEMPT_RCU nest depth) is 0, irqs are enabled and `non_block` is 0.
#[track_caller]
pub fn might_sleep() {
    might_sleep_at(Loc::caller())
}

/// [`might_sleep`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn might_sleep_at(at: Loc) {
    might_sleep_check(at, "might_sleep()", 0, None);
}

/// `might_sleep_if(cond)`.
#[track_caller]
pub fn might_sleep_if(cond: bool) {
    if cond {
        might_sleep_check(Loc::caller(), "might_sleep()", 0, None);
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
    might_sleep_contract_at(Loc::caller(), api, why);
}

/// [`might_sleep_contract`] called at `at` (a foreign caller's location).
pub fn might_sleep_contract_at(at: Loc, api: &str, why: &str) {
    let t = current();
    if t.exec.config().mode != CheckMode::Contract {
        return;
    }
    drop(t);
    let note = format!("ksim: contract: {api} may sleep ({why})");
    might_sleep_check(at, api, 0, Some(&note));
}

/// `schedule()`: gives up the CPU. Not annotated with `might_sleep()` in the kernel; a call in
/// atomic context is caught by `schedule_debug()` ("BUG: scheduling while atomic").
///
/// # Context
/// Process context with preemption enabled.
#[track_caller]
pub fn schedule() {
    schedule_at(Loc::caller())
}

/// [`schedule`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn schedule_at(at: Loc) {
    let t = current();
    schedule_debug(&t, at, "schedule()");
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
    cond_resched_at(Loc::caller())
}

/// [`cond_resched`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn cond_resched_at(at: Loc) {
    might_sleep_check(at, "cond_resched()", 0, None);
    yield_now();
}

/// `msleep(ms)`: sleeps at least `ms` milliseconds of simulated time.
///
/// # Context
/// Sleeps: `might_sleep()`, then it really schedules ("scheduling while atomic" if atomic).
#[track_caller]
pub fn msleep(ms: u64) {
    msleep_at(Loc::caller(), ms)
}

/// [`msleep`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn msleep_at(at: Loc, ms: u64) {
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

/// `send_sig(sig, p, 0)`: makes a signal pending for task `pid` and wakes it from an
/// interruptible sleep (`wait_event_interruptible()`, `wait_for_completion_interruptible()`,
/// a contended `mutex_lock_interruptible()` about to wait), which then returns `-ERESTARTSYS`
/// / `-EINTR`. Returns false if no task has that pid.
///
/// # Context
/// Any.
#[track_caller]
pub fn send_sig(pid: u32) -> bool {
    let t = crate::model::current_in("send_sig()");
    let Some(p) = t.exec.tasks().into_iter().find(|x| x.pid == pid) else { return false };
    p.signal.store(true, std::sync::atomic::Ordering::SeqCst);
    t.exec.sleepers.wake_task(pid);
    true
}

/// `signal_pending(current)`.
#[track_caller]
pub fn signal_pending() -> bool {
    crate::model::current_in("signal_pending()").signal.load(std::sync::atomic::Ordering::SeqCst)
}

/// `flush_signals(current)`: forgets the pending signal.
#[track_caller]
pub fn flush_signals() {
    crate::model::current_in("flush_signals()").signal.store(false, std::sync::atomic::Ordering::SeqCst);
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
    bug_at(Loc::caller())
}

/// [`bug`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn bug_at(at: Loc) -> ! {
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

/// `WARN_ON(cond)` found `cond` true at `at`: "WARNING: CPU: 0 PID: N at file:line", a report
/// the task survives (unless `panic_on_report`, as with `panic_on_warn`).
pub fn warn_at(at: Loc, cond: &str) {
    let t = current();
    let body = format!(
        "WARNING: CPU: 0 PID: {} at {}:{} {}
ksim: WARN_ON({cond})
",
        t.pid,
        at.file(),
        at.line(),
        t.state().frames.last().copied().unwrap_or("?")
    );
    t.exec.report(&t, Violation::Warning, body, "WARN_ON");
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
