//! `include/linux/hrtimer.h` / `kernel/time/hrtimer.c`: high-resolution timers, the basics.
//! A started hrtimer is a task that fires when the scheduler lets it; its callback runs in
//! hardirq context (the default modes; `HRTIMER_MODE_*_SOFT` runs it in softirq context) and
//! returns whether to restart. `hrtimer_cancel()` waits for a running callback, so from the
//! callback itself it would wait forever: reported as a deadlock.

use std::sync::{Arc, Mutex};

use crate::defs::loc::Loc;
use crate::interrupt::arrive;
use crate::model::context::interrupt_entry;
use crate::model::report::Violation;
use crate::model::task::{Site, TaskKind};
use crate::model::{current, current_in, spawn_task, TaskHandle};

/// `enum hrtimer_restart`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HrtimerRestart {
    /// `HRTIMER_NORESTART`.
    NoRestart,
    /// `HRTIMER_RESTART`: fire again.
    Restart,
}

/// `enum hrtimer_mode`, as far as the callback's context goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HrtimerMode {
    /// `HRTIMER_MODE_REL` / `_ABS`: the callback runs in hardirq context.
    Hard,
    /// `HRTIMER_MODE_REL_SOFT` / `_ABS_SOFT`: in softirq context.
    Soft,
}

type Callback = Arc<dyn Fn() -> HrtimerRestart + Send + Sync>;

struct State {
    active: bool,
    gen: u64,
    running: Option<u32>,
    tasks: Vec<TaskHandle<()>>,
}

struct Inner {
    name: &'static str,
    mode: HrtimerMode,
    at: Loc,
    func: Callback,
    state: Mutex<State>,
}

/// `struct hrtimer`.
#[derive(Clone)]
pub struct Hrtimer(Arc<Inner>);

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Clears `running` when the callback returns or unwinds (a report), so waiters see it done.
struct NotRunning<'a>(&'a Mutex<State>);

impl Drop for NotRunning<'_> {
    fn drop(&mut self) {
        lock(self.0).running = None;
    }
}

/// `hrtimer_init(&timer, clock, mode)` with `timer.function = callback`.
#[track_caller]
pub fn hrtimer_init(
    name: &'static str,
    mode: HrtimerMode,
    callback: impl Fn() -> HrtimerRestart + Send + Sync + 'static,
) -> Hrtimer {
    let _ = current_in("hrtimer_init()");
    Hrtimer(Arc::new(Inner {
        name,
        mode,
        at: Loc::caller(),
        func: Arc::new(callback),
        state: Mutex::new(State { active: false, gen: 0, running: None, tasks: Vec::new() }),
    }))
}

fn arm(h: &Hrtimer) {
    let gen = {
        let mut st = lock(&h.0.state);
        st.active = true;
        st.gen += 1;
        st.gen
    };
    let t = current();
    t.exec.cpus.raise();
    let hard = h.0.mode == HrtimerMode::Hard;
    let kind = if hard { TaskKind::HardIrq(0) } else { TaskKind::SoftIrq };
    let hc = h.clone();
    let task = spawn_task(&format!("hrtimer/{}", h.0.name), kind, None, move || {
        let _cpu = arrive(hard);
        let t = current();
        {
            let mut st = lock(&hc.0.state);
            if !st.active || st.gen != gen {
                return;
            }
            st.active = false;
            st.running = Some(t.pid);
        }
        interrupt_entry(&t, hard, Site { at: hc.0.at, op: "__run_hrtimer" });
        crate::kfn!(hc.0.name);
        let again = {
            let _done = NotRunning(&hc.0.state);
            (hc.0.func)()
        };
        drop(t);
        if again == HrtimerRestart::Restart {
            arm(&hc);
        }
    });
    lock(&h.0.state).tasks.push(task);
}

/// `hrtimer_start(&timer, tim, mode)`: (re)starts the timer; it fires when the scheduler
/// lets it (the simulated time does not order it against other timers).
///
/// # Context
/// Any; never sleeps.
#[track_caller]
pub fn hrtimer_start(h: &Hrtimer, _ns: u64) {
    let _ = current_in("hrtimer_start()");
    lock(&h.0.state).active = false;
    arm(h);
}

/// `hrtimer_try_to_cancel(&timer)`: 1 if it was active and is now stopped, 0 if it was not
/// active, -1 if its callback is running.
#[track_caller]
pub fn hrtimer_try_to_cancel(h: &Hrtimer) -> i32 {
    let _ = current_in("hrtimer_try_to_cancel()");
    let mut st = lock(&h.0.state);
    if st.running.is_some() {
        return -1;
    }
    std::mem::take(&mut st.active) as i32
}

/// `hrtimer_cancel(&timer)`: stops the timer and waits for a running callback; whether it
/// was active.
///
/// # Context
/// Waits (spinning) for the callback: from the callback itself that is a deadlock, reported.
#[track_caller]
pub fn hrtimer_cancel(h: &Hrtimer) -> bool {
    let at = Loc::caller();
    let t = current_in("hrtimer_cancel()");
    let (was, running, tasks) = {
        let mut st = lock(&h.0.state);
        (std::mem::take(&mut st.active), st.running, std::mem::take(&mut st.tasks))
    };
    if running == Some(t.pid) {
        let body = format!(
            "ksim: deadlock: {}/{} calls hrtimer_cancel({}) at {at} from the timer's own callback, which \
             waits for that callback to return\n",
            t.name, t.pid, h.0.name
        );
        t.exec.report(&t, Violation::Deadlock, body, "hrtimer_cancel()");
        t.exec.stop_execution(Violation::Deadlock);
    }
    drop(t);
    for task in tasks {
        task.join();
    }
    was
}

/// `hrtimer_active(&timer)`: queued or running its callback.
#[track_caller]
pub fn hrtimer_active(h: &Hrtimer) -> bool {
    let _ = current_in("hrtimer_active()");
    let st = lock(&h.0.state);
    st.active || st.running.is_some()
}
