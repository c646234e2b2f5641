//! `include/linux/completion.h` / `kernel/sched/completion.c`: `struct completion`, a count of
//! `complete()` calls that `wait_for_completion()` consumes (`complete_all()` makes it
//! `UINT_MAX`, which no wait consumes). Every waiting call starts with `might_sleep()`, as in
//! the kernel; a wait nobody completes is a deadlock report listing where each task sleeps
//! (never a hang, std included). Timeouts come from a timer whose firing is a scheduler choice.
//! `init_completion()` over sleeping waiters loses them (the kernel re-initialises the wait
//! list under them, silently): ksim reports it as a warning.

use crate::defs::loc::Loc;
use crate::errno::Errno;
use crate::model::current_in;
use crate::model::report::Violation;
use crate::model::sleep::might_sleep_at;
use crate::model::waitq::{WaitCore, Woke};

/// `UINT_MAX`: `complete_all()`'s count.
const ALL: u32 = u32::MAX;

/// `struct completion` (`DECLARE_COMPLETION` / `init_completion`). `name` is the variable's
/// name, for reports.
pub struct Completion {
    name: &'static str,
    core: WaitCore<u32>,
}

impl Completion {
    /// `DECLARE_COMPLETION(name)` / `init_completion(&x)` of a new completion.
    #[track_caller]
    pub fn new(name: &'static str) -> Self {
        let _ = current_in("init_completion()");
        Completion { name, core: WaitCore::new(0) }
    }
}

/// `init_completion(&x)` again on a completion in use: resets its count. Over sleeping
/// waiters it is reported (their wake-ups would be lost).
///
/// # Context
/// Any; does not sleep.
#[track_caller]
pub fn init_completion(x: &Completion) {
    let at = Loc::caller();
    let t = current_in("init_completion()");
    x.core.with(|d| *d = 0);
    let waiters = x.core.sleepers();
    if waiters > 0 {
        let body = format!(
            "------------[ cut here ]------------\nksim: init_completion({}) with {waiters} task(s) sleeping in \
             wait_for_completion(): their wake-ups are lost\nWARNING: CPU: 0 PID: {} at {at} init_completion\n",
            x.name, t.pid
        );
        t.exec.report(&t, Violation::Warning, body, "init_completion()");
    }
}

/// `reinit_completion(&x)`: the count back to 0 (the waiters stay).
#[track_caller]
pub fn reinit_completion(x: &Completion) {
    let _ = current_in("reinit_completion()");
    x.core.with(|d| *d = 0);
}

/// `complete(&x)`: one more completion; wakes a waiter.
///
/// # Context
/// Any, hardirq included; never sleeps.
#[track_caller]
pub fn complete(x: &Completion) {
    let t = current_in("complete()");
    x.core.wake_with(&t, |d| {
        if *d != ALL {
            *d += 1;
        }
    });
}

/// `complete_all(&x)`: every present and future wait returns (until re-initialised).
///
/// # Context
/// Any; never sleeps.
#[track_caller]
pub fn complete_all(x: &Completion) {
    let t = current_in("complete_all()");
    x.core.wake_with(&t, |d| *d = ALL);
}

fn consume(d: &mut u32) -> bool {
    if *d == 0 {
        return false;
    }
    if *d != ALL {
        *d -= 1;
    }
    true
}

fn wait(x: &Completion, at: Loc, api: &'static str, interruptible: bool, timeout: Option<u64>) -> Woke {
    might_sleep_at(at, api, None);
    let t = current_in(api);
    let what = || format!("{api}({}) at {at}", x.name);
    let deadline = timeout.map(|j| crate::timer::Timeout::start(&t, j, x.core.waker()));
    let timed_out = || deadline.as_ref().is_some_and(|d| d.expired());
    let woke = x.core.sleep_until(&t, &what, interruptible, &timed_out, &mut |_, d| consume(d));
    if let Some(d) = deadline {
        d.cancel();
    }
    woke
}

/// `wait_for_completion(&x)`.
///
/// # Context
/// Process context; sleeps (`might_sleep()` on every call, even when already completed).
#[track_caller]
pub fn wait_for_completion(x: &Completion) {
    wait_for_completion_at(x, Loc::caller());
}

/// [`wait_for_completion`] called at `at` (a foreign caller's location).
pub fn wait_for_completion_at(x: &Completion, at: Loc) {
    wait(x, at, "wait_for_completion()", false, None);
}

/// `wait_for_completion_interruptible(&x)`: `-ERESTARTSYS` if a signal came first.
///
/// # Context
/// Process context; sleeps.
#[track_caller]
pub fn wait_for_completion_interruptible(x: &Completion) -> Result<(), Errno> {
    match wait(x, Loc::caller(), "wait_for_completion_interruptible()", true, None) {
        Woke::Signal => Err(Errno::ERESTARTSYS),
        _ => Ok(()),
    }
}

/// `wait_for_completion_timeout(&x, timeout)`: 0 if `timeout` jiffies passed first, else the
/// jiffies left (at least 1).
///
/// # Context
/// Process context; sleeps.
#[track_caller]
pub fn wait_for_completion_timeout(x: &Completion, timeout: u64) -> u64 {
    wait_for_completion_timeout_at(x, timeout, Loc::caller())
}

/// [`wait_for_completion_timeout`] called at `at` (a foreign caller's location).
pub fn wait_for_completion_timeout_at(x: &Completion, timeout: u64, at: Loc) -> u64 {
    let t = current_in("wait_for_completion_timeout()");
    let start = t.exec.jiffies();
    drop(t);
    match wait(x, at, "wait_for_completion_timeout()", false, Some(timeout)) {
        Woke::TimedOut => 0,
        _ => {
            let now = current_in("wait_for_completion_timeout()").exec.jiffies();
            timeout.saturating_sub(now.saturating_sub(start)).max(1)
        }
    }
}

/// `try_wait_for_completion(&x)`: consumes a completion if there is one; never sleeps.
///
/// # Context
/// Any.
#[track_caller]
pub fn try_wait_for_completion(x: &Completion) -> bool {
    let _ = current_in("try_wait_for_completion()");
    x.core.with(consume)
}

/// `completion_done(&x)`: whether a wait would return at once.
#[track_caller]
pub fn completion_done(x: &Completion) -> bool {
    let _ = current_in("completion_done()");
    x.core.with(|d| *d > 0)
}
