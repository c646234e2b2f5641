//! Sleeping until woken: the wait-queue core behind `wait_event*()` and `struct completion`.
//! A [`WaitCore`] holds its state behind a backend mutex with a condition variable and a wake
//! sequence number; a sleeper re-checks its condition after every wake-up, so spurious and
//! lost wake-ups cannot happen. Every sleeper is registered with what it waits in, so a
//! deadlock report says where each task sleeps. shuttle and loom notice when every task is
//! blocked; under std (real threads, no such detection) a sleeper polls, and when every live
//! task has been asleep in a wait or a join across a few polls with nothing woken, the
//! execution is reported as deadlocked instead of hanging.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::backend::{RawCondvar, RawMutex};
use super::report::{Reported, Violation};
use super::task::TaskCell;

/// How long a std sleeper waits before it looks at the other tasks.
const POLL: Duration = Duration::from_millis(5);
/// Polls with every task asleep and nothing woken before std calls it a deadlock.
const STUCK_POLLS: u32 = 20;

/// Something a signal or a timeout can wake.
pub(crate) trait Wakeable: Send + Sync {
    fn wake(&self);
}

/// One sleeping task, as a deadlock report names it.
pub(crate) struct Sleeper {
    pub(crate) what: String,
    core: Weak<dyn Wakeable>,
}

/// The execution's sleepers and its live and blocked task counts (for std's detection).
#[derive(Default)]
pub(crate) struct Sleepers {
    map: Mutex<BTreeMap<u32, Sleeper>>,
    live: AtomicU32,
    blocked: AtomicU32,
    /// Bumped on every wake-up anywhere: std's detection sees progress.
    wakes: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sleepers {
    pub(crate) fn task_started(&self) {
        self.live.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn task_ended(&self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs `f` (a join) counted as blocked.
    pub(crate) fn blocked_in<R>(&self, f: impl FnOnce() -> R) -> R {
        self.blocked.fetch_add(1, Ordering::SeqCst);
        let r = f();
        self.blocked.fetch_sub(1, Ordering::SeqCst);
        r
    }

    /// "pid name sleeps in ..." lines for a deadlock report.
    pub(crate) fn describe(&self, tasks: &[Arc<TaskCell>]) -> String {
        let map = lock(&self.map);
        let mut s = String::new();
        for (pid, sl) in map.iter() {
            let name = tasks.iter().find(|t| t.pid == *pid).map_or("?", |t| &t.name);
            s.push_str(&format!("{name}/{pid} sleeps in {}\n", sl.what));
        }
        s
    }

    /// Wakes every sleeper of task `pid` (a signal).
    pub(crate) fn wake_task(&self, pid: u32) {
        let core = lock(&self.map).get(&pid).and_then(|s| s.core.upgrade());
        if let Some(c) = core {
            c.wake();
        }
    }
}

/// How a sleep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woke {
    /// The condition holds.
    Done,
    /// A signal is pending (interruptible sleeps only).
    Signal,
    /// The timeout's timer fired first.
    TimedOut,
}

struct Inner<T> {
    state: RawMutex<(u64, T)>,
    cv: RawCondvar,
    sleepers: AtomicU32,
}

impl<T: Send> Wakeable for Inner<T> {
    fn wake(&self) {
        self.state.lock_quiet().0 += 1;
        self.cv.notify_all();
    }
}

/// A wait queue with state `T` (a completion's count; nothing for a plain wait queue).
pub(crate) struct WaitCore<T: Send + 'static>(Arc<Inner<T>>);

impl<T: Send + 'static> WaitCore<T> {
    pub(crate) fn new(value: T) -> Self {
        WaitCore(Arc::new(Inner {
            state: RawMutex::new((0, value)),
            cv: RawCondvar::new(),
            sleepers: AtomicU32::new(0),
        }))
    }

    /// Tasks asleep on it now.
    pub(crate) fn sleepers(&self) -> u32 {
        self.0.sleepers.load(Ordering::SeqCst)
    }

    /// The wake sequence number (a scheduling point: the queue's lock).
    pub(crate) fn seq(&self) -> u64 {
        let s = self.0.state.lock_quiet().0;
        super::backend::after_point();
        s
    }

    /// Runs `f` on the state (a scheduling point: the queue's lock).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let r = f(&mut self.0.state.lock_quiet().1);
        super::backend::after_point();
        r
    }

    /// Changes the state and wakes every sleeper (they re-check).
    pub(crate) fn wake_with<R>(&self, t: &TaskCell, f: impl FnOnce(&mut T) -> R) -> R {
        let r = {
            let mut g = self.0.state.lock_quiet();
            g.0 += 1;
            f(&mut g.1)
        };
        self.0.cv.notify_all();
        t.exec.sleepers.wakes.fetch_add(1, Ordering::SeqCst);
        super::backend::after_point();
        r
    }

    /// Sleeps until `ready(state)` (checked under the queue's lock, which it may change), a
    /// pending signal (if `interruptible`), or `timed_out()`. `what` names the wait for
    /// deadlock reports.
    pub(crate) fn sleep_until(
        &self,
        t: &TaskCell,
        what: &dyn Fn() -> String,
        interruptible: bool,
        timed_out: &dyn Fn() -> bool,
        ready: &mut dyn FnMut(u64, &mut T) -> bool,
    ) -> Woke {
        let mut g = self.0.state.lock_quiet();
        if ready(g.0, &mut g.1) {
            drop(g);
            super::backend::after_point();
            return Woke::Done;
        }
        let weak: Weak<dyn Wakeable> = {
            let a: Arc<dyn Wakeable> = self.0.clone();
            Arc::downgrade(&a)
        };
        let ex = &t.exec.sleepers;
        lock(&ex.map).insert(t.pid, Sleeper { what: what(), core: weak });
        self.0.sleepers.fetch_add(1, Ordering::SeqCst);
        ex.blocked.fetch_add(1, Ordering::SeqCst);
        let mut stuck = 0;
        let woke = loop {
            if interruptible && t.signal.load(Ordering::SeqCst) {
                break Woke::Signal;
            }
            if timed_out() {
                break Woke::TimedOut;
            }
            if model_checked() && ex.blocked.load(Ordering::SeqCst) >= ex.live.load(Ordering::SeqCst) {
                // Every live task now sleeps in a wait or a join: report it here, before
                // shuttle's or loom's own detection (which knows nothing of where each sleeps).
                drop(g);
                if !t.exec.failed() {
                    t.exec
                        .record_deadlock("every task sleeps in a wait or a join, and nothing can wake them");
                }
                self.leave(t);
                t.exec.stop_execution(Violation::Deadlock);
            }
            let (seq, wakes) = (g.0, ex.wakes.load(Ordering::SeqCst));
            g = self.0.cv.wait_quiet(g, POLL);
            if ready(g.0, &mut g.1) {
                break Woke::Done;
            }
            if g.0 == seq && ex.wakes.load(Ordering::SeqCst) == wakes && all_asleep(t) {
                stuck += 1;
                if stuck >= STUCK_POLLS {
                    drop(g);
                    // Reported while this sleeper is still listed, then it leaves.
                    if !t.exec.failed() {
                        t.exec.record_deadlock(
                            "every task sleeps in a wait or a join, and nothing can wake them",
                        );
                    }
                    self.leave(t);
                    std::panic::panic_any(Reported(Violation::Deadlock));
                }
            } else {
                stuck = 0;
            }
        };
        drop(g);
        self.leave(t);
        super::backend::after_point();
        woke
    }

    fn leave(&self, t: &TaskCell) {
        let ex = &t.exec.sleepers;
        ex.blocked.fetch_sub(1, Ordering::SeqCst);
        self.0.sleepers.fetch_sub(1, Ordering::SeqCst);
        lock(&ex.map).remove(&t.pid);
    }

    /// A handle a timer or signal can wake.
    pub(crate) fn waker(&self) -> Arc<dyn Wakeable> {
        self.0.clone()
    }
}

/// Under shuttle or loom (whose tasks all run on this thread, one at a time).
fn model_checked() -> bool {
    matches!(
        super::backend::try_backend(),
        Some(super::backend::BackendKind::Shuttle | super::backend::BackendKind::Loom)
    )
}

/// Under std: every live task is asleep (in a wait or a join), or the execution already failed.
fn all_asleep(t: &TaskCell) -> bool {
    if t.exec.failed() {
        return true;
    }
    if super::backend::try_backend() != Some(super::backend::BackendKind::Std) {
        return false;
    }
    let ex = &t.exec.sleepers;
    ex.blocked.load(Ordering::SeqCst) >= ex.live.load(Ordering::SeqCst)
}
