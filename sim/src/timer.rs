//! `include/linux/timer.h` / `kernel/time/timer.c`: `struct timer_list`. An armed timer is a
//! softirq task (`timer/<name>`) that fires whenever the scheduler lets it — when a timer
//! fires is a scheduler choice, like an interrupt's arrival, and it arrives on a CPU with
//! bottom halves enabled when it can (`model::cpu`). Firing advances the simulated jiffies to
//! its expiry; the callback runs in softirq context (`SOFTIRQ_OFFSET`) holding the timer's
//! lockdep map, as `call_timer_fn()` does, so `del_timer_sync()` — which takes the same map —
//! from the callback itself is "possible recursive locking", and under a lock the callback
//! takes is a circular dependency. `timer_setup()` of a pending timer is debugobjects'
//! "ODEBUG: init active" (`CONFIG_DEBUG_OBJECTS_TIMERS`). Names are the kernel's of either
//! profile (`del_timer_sync` became `timer_delete_sync` in 6.2; both exist here).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::defs::loc::Loc;
use crate::interrupt::arrive;
use crate::model::backend::Ghost;
use crate::model::context::{interrupt_entry, set_irqs};
use crate::model::lockdep::{lock_acquire, lock_release};
use crate::model::report::Violation;
use crate::model::task::{LockKind, Site, TaskCell, TaskKind};
use crate::model::waitq::Wakeable;
use crate::model::{current, current_in, spawn_task, TaskHandle};

type Callback = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct State {
    func: Option<(&'static str, Callback)>,
    setup_at: Option<Loc>,
    pending: bool,
    /// Bumped at every arming: a firing task whose arming was cancelled does nothing.
    gen: u64,
    expires: u64,
    /// The task running the callback now, if any.
    running: Option<u32>,
    tasks: Vec<TaskHandle<()>>,
}

struct Inner {
    name: &'static str,
    state: Mutex<State>,
    ghost: Ghost,
}

/// `struct timer_list`. `name` is its lockdep class (the kernel names it after the timer
/// expression, e.g. `&dev->timer`).
#[derive(Clone)]
pub struct TimerList(Arc<Inner>);

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

impl TimerList {
    /// A `struct timer_list` not yet set up (`timer_setup()` gives it its callback).
    pub fn new(name: &'static str) -> Self {
        TimerList(Arc::new(Inner { name, state: Mutex::new(State::default()), ghost: Ghost::new() }))
    }

    fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// `timer->expires`.
    pub fn expires(&self) -> u64 {
        lock(&self.0.state).expires
    }
}

/// `jiffies`: the simulated tick count (advanced by `msleep()` and by timers firing).
#[track_caller]
pub fn jiffies() -> u64 {
    current_in("jiffies").exec.jiffies()
}

/// `msecs_to_jiffies(ms)` at the run's `HZ`.
#[track_caller]
pub fn msecs_to_jiffies(ms: u64) -> u64 {
    let hz = current_in("msecs_to_jiffies()").exec.config().hz;
    (ms * hz).div_ceil(1000)
}

fn warn(t: &TaskCell, kind: Violation, at: Loc, func: &str, line: String) {
    let body = format!(
        "------------[ cut here ]------------\n{line}\nWARNING: CPU: 0 PID: {} at {at} {func}\n",
        t.pid
    );
    t.exec.report(t, kind, body, func);
}

/// `timer_setup(&timer, callback, flags)`: `fn_name` names the callback (debugobjects' hint).
///
/// # Context
/// Any. Reported as "ODEBUG: init active" if the timer is pending (it is then deactivated,
/// as debugobjects' fixup does, and set up).
#[track_caller]
pub fn timer_setup(timer: &TimerList, fn_name: &'static str, callback: impl Fn() + Send + Sync + 'static) {
    let at = Loc::caller();
    let t = current_in("timer_setup()");
    timer.0.ghost.write();
    let active = {
        let mut st = lock(&timer.0.state);
        let was = st.pending;
        st.pending = false;
        st.func = Some((fn_name, Arc::new(callback)));
        st.setup_at = Some(at);
        was.then(|| st.func.as_ref().map_or("?", |f| f.0))
    };
    if let Some(hint) = active {
        let line =
            format!("ODEBUG: init active (active state 0) object type: timer_list hint: {hint}+0x0/0x0");
        warn(&t, Violation::DebugObjects, at, "debug_print_object", line);
    }
}

/// Arms the timer for `expires` unless it is pending: a firing task for this arming.
fn arm(timer: &TimerList, t: &TaskCell, expires: u64) -> bool {
    timer.0.ghost.write();
    let gen = {
        let mut st = lock(&timer.0.state);
        st.expires = expires;
        if st.pending {
            return true;
        }
        st.pending = true;
        st.gen += 1;
        st.gen
    };
    let tl = timer.clone();
    t.exec.cpus.raise();
    let h = spawn_task(&format!("timer/{}", timer.0.name), TaskKind::SoftIrq, None, move || fire(&tl, gen));
    lock(&timer.0.state).tasks.push(h);
    false
}

/// The firing task: `run_timer_softirq()` -> `call_timer_fn()`.
fn fire(timer: &TimerList, gen: u64) {
    let _cpu = arrive(false);
    let t = current();
    timer.0.ghost.write();
    let (func, expires, at) = {
        let mut st = lock(&timer.0.state);
        if !st.pending || st.gen != gen {
            return;
        }
        st.pending = false;
        st.running = Some(t.pid);
        (st.func.as_ref().map(|f| f.1.clone()), st.expires, st.setup_at.unwrap_or(Loc::new("?", 0)))
    };
    let now = t.exec.jiffies();
    if expires > now {
        t.exec.advance_jiffies(expires - now);
    }
    let site = Site { at, op: "call_timer_fn" };
    interrupt_entry(&t, false, site);
    let _done = NotRunning(&timer.0.state);
    if let Some(f) = func {
        crate::kfn!(timer.0.name);
        lock_acquire(&t, timer.0.name, timer.id(), LockKind::Map, site);
        f();
        lock_release(&t, timer.0.name, timer.id(), at, "call_timer_fn");
    }
}

/// `mod_timer(&timer, expires)`: (re)arms the timer; whether it was pending.
///
/// # Context
/// Any; never sleeps.
#[track_caller]
pub fn mod_timer(timer: &TimerList, expires: u64) -> bool {
    let at = Loc::caller();
    let t = current_in("mod_timer()");
    if lock(&timer.0.state).func.is_none() {
        let line =
            "ODEBUG: activate not available (active state 0) object type: timer_list hint: 0x0".to_string();
        warn(&t, Violation::DebugObjects, at, "debug_print_object", line);
        return false;
    }
    arm(timer, &t, expires)
}

/// `add_timer(&timer)`: arms at `timer->expires` (set with [`set_expires`]); `BUG()` if pending.
#[track_caller]
pub fn add_timer(timer: &TimerList) {
    if timer_pending(timer) {
        crate::sched::bug();
    }
    mod_timer(timer, timer.expires());
}

/// `timer->expires = j`.
pub fn set_expires(timer: &TimerList, j: u64) {
    lock(&timer.0.state).expires = j;
}

/// `timer_pending(&timer)`.
pub fn timer_pending(timer: &TimerList) -> bool {
    timer.0.ghost.read();
    lock(&timer.0.state).pending
}

/// `del_timer(&timer)` / `timer_delete()`: deactivates; whether it was pending. A callback
/// already running goes on.
///
/// # Context
/// Any; never sleeps.
#[track_caller]
pub fn del_timer(timer: &TimerList) -> bool {
    let _ = current_in("del_timer()");
    timer.0.ghost.write();
    std::mem::take(&mut lock(&timer.0.state).pending)
}

/// `del_timer_sync(&timer)` / `timer_delete_sync()`: deactivates and waits for a running
/// callback to return.
///
/// # Context
/// May wait (not sleep: it spins). Takes the timer's lockdep map with irqs disabled first,
/// so from the callback itself or under a lock the callback takes lockdep reports it; from
/// hardirq context it is the kernel's `WARN_ON(in_irq())`.
#[track_caller]
pub fn del_timer_sync(timer: &TimerList) -> bool {
    let at = Loc::caller();
    let t = current_in("del_timer_sync()");
    let site = Site { at, op: "del_timer_sync" };
    let was_off = t.state().irqs_disabled;
    set_irqs(&t, true, site);
    lock_acquire(&t, timer.0.name, timer.id(), LockKind::Map, site);
    lock_release(&t, timer.0.name, timer.id(), at, "del_timer_sync");
    set_irqs(&t, was_off, site);
    if crate::preempt::in_irq() {
        warn(
            &t,
            Violation::Warning,
            at,
            "del_timer_sync",
            "WARN_ON(in_irq() && !(timer->flags & TIMER_IRQSAFE))".into(),
        );
    }
    let was = del_timer(timer);
    let (running, tasks) = {
        let mut st = lock(&timer.0.state);
        (st.running, std::mem::take(&mut st.tasks))
    };
    if running == Some(t.pid) {
        let body = format!(
            "ksim: deadlock: {}/{} calls del_timer_sync({}) at {at} from the timer's own callback, and waits \
             for that callback to return\n",
            t.name, t.pid, timer.0.name
        );
        t.exec.report(&t, Violation::Deadlock, body, "del_timer_sync()");
        t.exec.stop_execution(Violation::Deadlock);
    }
    drop(t);
    for h in tasks {
        h.join();
    }
    was
}

/// `timer_delete_sync()` (the 6.2+ name of [`del_timer_sync`]).
#[track_caller]
pub fn timer_delete_sync(timer: &TimerList) -> bool {
    del_timer_sync(timer)
}

/// A sleep's timeout (`schedule_timeout()`'s on-stack timer): it fires as any timer does and
/// wakes the sleeper, which then reports a timeout.
pub(crate) struct Timeout {
    timer: TimerList,
    expired: Arc<AtomicBool>,
}

impl Timeout {
    pub(crate) fn start(t: &TaskCell, jiffies: u64, waker: Arc<dyn Wakeable>) -> Timeout {
        let timer = TimerList::new("process_timeout");
        let expired = Arc::new(AtomicBool::new(false));
        let e = expired.clone();
        {
            let mut st = lock(&timer.0.state);
            st.func = Some((
                "process_timeout",
                Arc::new(move || {
                    e.store(true, Ordering::SeqCst);
                    waker.wake();
                }),
            ));
        }
        arm(&timer, t, t.exec.jiffies() + jiffies);
        Timeout { timer, expired }
    }

    pub(crate) fn expired(&self) -> bool {
        self.expired.load(Ordering::SeqCst)
    }

    /// The sleep ended: the timer will not fire (if it has not).
    pub(crate) fn cancel(self) {
        self.timer.0.ghost.write();
        lock(&self.timer.0.state).pending = false;
    }
}
