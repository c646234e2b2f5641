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
