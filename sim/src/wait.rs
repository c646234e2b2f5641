//! `include/linux/wait.h`: wait queues. `wait_event*(wq, condition)` starts with
//! `might_sleep()` (every call, as the kernel's macros do), then sleeps until the condition
//! holds after a `wake_up*()` on the queue; the condition is evaluated by the sleeper, outside
//! the queue's lock, after every wake-up. Interruptible forms return `-ERESTARTSYS` when a
//! signal is pending (`send_sig()`); `_timeout` forms return 0 when their timer fired first
//! (else the jiffies left, at least 1). A wait nobody ends is a deadlock report naming where
//! each task sleeps.

use crate::defs::loc::Loc;
use crate::errno::Errno;
use crate::model::current_in;
use crate::model::sleep::might_sleep_at;
use crate::model::waitq::{WaitCore, Woke};

/// `wait_queue_head_t` (`init_waitqueue_head` / `DECLARE_WAIT_QUEUE_HEAD`); `name` names it
/// in reports.
pub struct WaitQueueHead {
    name: &'static str,
    core: WaitCore<()>,
}

/// `init_waitqueue_head(&wq)`.
#[track_caller]
pub fn init_waitqueue_head(name: &'static str) -> WaitQueueHead {
    let _ = current_in("init_waitqueue_head()");
    WaitQueueHead { name, core: WaitCore::new(()) }
}

impl WaitQueueHead {
    /// `init_waitqueue_head(&wq)`.
    #[track_caller]
    pub fn new(name: &'static str) -> Self {
        init_waitqueue_head(name)
    }
}

fn wait(
    wq: &WaitQueueHead,
    at: Loc,
    api: &'static str,
    interruptible: bool,
    timeout: Option<u64>,
    cond: &mut dyn FnMut() -> bool,
) -> Woke {
    might_sleep_at(at, api, None);
    let t = current_in(api);
    let mut seen = wq.core.seq();
    if cond() {
        return Woke::Done;
    }
    let deadline = timeout.map(|j| crate::timer::Timeout::start(&t, j, wq.core.waker()));
    let timed_out = || deadline.as_ref().is_some_and(|d| d.expired());
    let what = || format!("{api}({}) at {at}", wq.name);
    let woke = loop {
        // The condition is the caller's, and may take locks: it is evaluated with the queue's
        // lock released, and the sleep ends at any wake-up since the sequence number read
        // before that evaluation (so none is lost).
        let w = wq.core.sleep_until(&t, &what, interruptible, &timed_out, &mut |seq, _| seq != seen);
        if w != Woke::Done {
            break w;
        }
        seen = wq.core.seq();
        if cond() {
            break Woke::Done;
        }
    };
    if let Some(d) = deadline {
        d.cancel();
    }
    if woke == Woke::TimedOut && cond() {
        return Woke::Done;
    }
    woke
}

/// `wait_event(wq, condition)`.
///
/// # Context
/// Process context; may sleep (`might_sleep()` on every call).
#[track_caller]
pub fn wait_event(wq: &WaitQueueHead, mut cond: impl FnMut() -> bool) {
    wait(wq, Loc::caller(), "wait_event()", false, None, &mut cond);
}

/// `wait_event_interruptible(wq, condition)`: `Err(-ERESTARTSYS)` if a signal came first.
///
/// # Context
/// Process context; may sleep.
#[track_caller]
pub fn wait_event_interruptible(wq: &WaitQueueHead, mut cond: impl FnMut() -> bool) -> Result<(), Errno> {
    match wait(wq, Loc::caller(), "wait_event_interruptible()", true, None, &mut cond) {
        Woke::Signal => Err(Errno::ERESTARTSYS),
        _ => Ok(()),
    }
}

/// `wait_event_timeout(wq, condition, timeout)`: 0 if the timeout elapsed with the condition
/// false, else the jiffies left (at least 1).
///
/// # Context
/// Process context; may sleep.
#[track_caller]
pub fn wait_event_timeout(wq: &WaitQueueHead, mut cond: impl FnMut() -> bool, timeout: u64) -> u64 {
    let start = current_in("wait_event_timeout()").exec.jiffies();
    match wait(wq, Loc::caller(), "wait_event_timeout()", false, Some(timeout), &mut cond) {
        Woke::Done => {
            let now = current_in("wait_event_timeout()").exec.jiffies();
            timeout.saturating_sub(now.saturating_sub(start)).max(1)
        }
        _ => 0,
    }
}

/// `wake_up(&wq)`: wakes the queue's sleepers (they re-check their conditions).
///
/// # Context
/// Any, hardirq included; never sleeps.
#[track_caller]
pub fn wake_up(wq: &WaitQueueHead) {
    let t = current_in("wake_up()");
    wq.core.wake_with(&t, |_| ());
}

/// `wake_up_all(&wq)`.
#[track_caller]
pub fn wake_up_all(wq: &WaitQueueHead) {
    wake_up(wq);
}

/// `wake_up_interruptible(&wq)`.
#[track_caller]
pub fn wake_up_interruptible(wq: &WaitQueueHead) {
    wake_up(wq);
}

/// A `wait_event*()` whose condition the caller evaluates itself between the steps — the C
/// face's macros, whose condition is C code: [`wait_begin_at`], then, while the condition is
/// false, [`WaitSteps::sleep`] (false: the wait ended without it), then [`WaitSteps::end`] with
/// the condition's last value. The same order as [`wait_event`]: the queue's sequence number
/// is read before each evaluation, so no wake-up between an evaluation and the sleep is lost.
pub struct WaitSteps {
    at: Loc,
    api: &'static str,
    interruptible: bool,
    timeout: Option<u64>,
    start: u64,
    seen: u64,
    deadline: Option<crate::timer::Timeout>,
    woke: Woke,
}

/// Starts a wait on `wq` as the API `api` at `at`: `might_sleep()`, as on every call.
pub fn wait_begin_at(
    wq: &WaitQueueHead,
    at: Loc,
    api: &'static str,
    interruptible: bool,
    timeout: Option<u64>,
) -> WaitSteps {
    might_sleep_at(at, api, None);
    let t = current_in(api);
    WaitSteps {
        at,
        api,
        interruptible,
        timeout,
        start: t.exec.jiffies(),
        seen: wq.core.seq(),
        deadline: None,
        woke: Woke::Done,
    }
}

impl WaitSteps {
    /// Sleeps until a wake-up since the last evaluation: true to evaluate the condition again,
    /// false if a signal (interruptible waits) or the timeout ended the wait.
    pub fn sleep(&mut self, wq: &WaitQueueHead) -> bool {
        let t = current_in(self.api);
        if let (None, Some(j)) = (&self.deadline, self.timeout) {
            self.deadline = Some(crate::timer::Timeout::start(&t, j, wq.core.waker()));
        }
        let deadline = &self.deadline;
        let timed_out = || deadline.as_ref().is_some_and(|d| d.expired());
        let (api, at, seen) = (self.api, self.at, self.seen);
        let what = || format!("{api}({}) at {at}", wq.name);
        let w = wq.core.sleep_until(&t, &what, self.interruptible, &timed_out, &mut |seq, _| seq != seen);
        self.seen = wq.core.seq();
        self.woke = w;
        w == Woke::Done
    }

    /// Ends the wait, `cond` being the condition's last value: the API's return value — 0,
    /// `-ERESTARTSYS` for a signal, and for a `_timeout` form 0 when it timed out with the
    /// condition false, else the jiffies left (at least 1).
    pub fn end(self, cond: bool) -> i64 {
        if let Some(d) = self.deadline {
            d.cancel();
        }
        let done = cond || self.woke == Woke::Done;
        match (self.woke, self.timeout) {
            (Woke::Signal, _) if !cond => -(Errno::ERESTARTSYS.code() as i64),
            (_, Some(timeout)) if done => {
                let now = current_in(self.api).exec.jiffies();
                timeout.saturating_sub(now.saturating_sub(self.start)).max(1) as i64
            }
            _ => 0,
        }
    }
}
