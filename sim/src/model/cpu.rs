//! Which CPU an interrupt arrives on. A hardirq handler (or a softirq: a tasklet, a timer) is
//! its own task, and when it starts is a scheduler choice. Under shuttle and loom it may then
//! arrive on the CPU of a task it interrupts: while an interrupt is pending, every scheduling
//! point of a task whose interrupts are enabled is followed by an *irq window*, itself a
//! scheduling point; a handler that starts while a task waits at its window claims that task's
//! CPU, and the task stays at the window until the handler returns. So a handler runs between
//! any two scheduling points of a task with interrupts enabled — never while they are disabled
//! (no window opens then), never halfway through the task's steps — and a handler spinning on
//! a lock the interrupted task holds deadlocks, as on one CPU. A handler that finds no task at
//! a window runs on a CPU of its own, concurrently (as it did before this model), and so does
//! every handler under std, whose real threads have no scheduling points to wait at.
//!
//! A softirq interrupts only a task with bottom halves enabled too. The window and the claim
//! each touch one loom atomic of the execution, so loom orders them against each other.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::backend::{RawAtomic, RawEvent};
use super::task::{TaskCell, TaskKind};
use crate::defs::preempt_mask::{HARDIRQ_MASK, SOFTIRQ_MASK};

/// A task interrupted by a handler: the handler sets `done` when it returns.
struct Interruption {
    handler: u32,
    done: Arc<RawEvent>,
}

/// The task waiting at its irq window, if one is.
#[derive(Clone, Copy)]
struct Window {
    pid: u32,
    /// Whether a softirq may interrupt it (bottom halves enabled).
    softirq_ok: bool,
}

#[derive(Default)]
struct State {
    window: Option<Window>,
    interrupted: BTreeMap<u32, Interruption>,
}

/// The execution's interrupt-delivery state.
pub(crate) struct Cpus {
    /// Interrupt tasks spawned and not yet delivered: windows open only while some are.
    pending: AtomicU32,
    /// Handlers running on an interrupted task's CPU.
    active: AtomicU32,
    state: Mutex<State>,
    /// The loom-visible word the windows and the claims touch (the scheduling point itself).
    word: RawAtomic,
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cpus {
    pub(crate) fn new() -> Self {
        super::backend::irqs_pending(None);
        Cpus {
            pending: AtomicU32::new(0),
            active: AtomicU32::new(0),
            state: Mutex::new(State::default()),
            word: RawAtomic::new(0),
        }
    }

    /// An interrupt task is about to be spawned.
    pub(crate) fn raise(&self) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        super::backend::irqs_pending(Some(1));
    }
}

/// The irq window after a scheduling point of the current task (the backend calls it under
/// shuttle and loom only).
pub(crate) fn window(t: &TaskCell) {
    let cpus = &t.exec.cpus;
    if cpus.pending.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some((irqs_off, pc)) = t.try_state().map(|st| (st.irqs_disabled, st.preempt_count)) else {
        return;
    };
    if irqs_off || matches!(t.kind, TaskKind::HardIrq(_)) {
        return;
    }
    let softirq_ok = pc & (SOFTIRQ_MASK | HARDIRQ_MASK) == 0;
    lock(&cpus.state).window = Some(Window { pid: t.pid, softirq_ok });
    cpus.word.fetch_add_quiet(1);
    let done = {
        let mut st = lock(&cpus.state);
        if st.window.is_some_and(|w| w.pid == t.pid) {
            st.window = None;
        }
        st.interrupted.get(&t.pid).map(|i| i.done.clone())
    };
    if let Some(done) = done {
        // Interrupted: wait here until the handler returns.
        done.wait();
        lock(&cpus.state).interrupted.remove(&t.pid);
        cpus.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Set when dropped: the handler returned (or unwound), the interrupted task may go on.
pub(crate) struct Returned(Arc<RawEvent>);

impl Drop for Returned {
    fn drop(&mut self) {
        // After a report the execution is over (and shuttle may be tearing it down).
        if !std::thread::panicking() {
            self.0.set();
        }
    }
}

/// A handler's arrival (a scheduling point): it claims the CPU of the task at its window, if
/// one is there and accepts this kind of interrupt. The interrupted task's pid, and the guard
/// to keep while the handler runs.
pub(crate) fn arrive(t: &TaskCell, hardirq: bool) -> Option<(u32, Returned)> {
    let cpus = &t.exec.cpus;
    cpus.word.fetch_add_quiet(1);
    cpus.pending.fetch_sub(1, Ordering::Relaxed);
    super::backend::irqs_pending(Some(-1));
    let mut st = lock(&cpus.state);
    let w = st.window.filter(|w| hardirq || w.softirq_ok)?;
    st.window = None;
    let done = Arc::new(RawEvent::new());
    st.interrupted.insert(w.pid, Interruption { handler: t.pid, done: done.clone() });
    cpus.active.fetch_add(1, Ordering::Relaxed);
    Some((w.pid, Returned(done)))
}

/// The task the handler `t` interrupted, if it runs on another task's CPU.
fn interrupted_by(t: &TaskCell) -> Option<Arc<TaskCell>> {
    let cpus = &t.exec.cpus;
    if cpus.active.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let pid = lock(&cpus.state).interrupted.iter().find(|(_, i)| i.handler == t.pid).map(|(p, _)| *p)?;
    t.exec.tasks().into_iter().find(|x| x.pid == pid)
}

/// Before `t` spins for lock `instance` (class `class`, taken for reading if `read`): if `t` is
/// a handler on the CPU of a task that holds the lock (exclusively, or at all for a writer),
/// the CPU spins forever. That is reported (`DEBUG_SPINLOCK`'s "spinlock recursion": in the
/// kernel the handler runs as the task it interrupted) and the execution stops.
pub(crate) fn spin_deadlock_check(
    t: &TaskCell,
    class: &str,
    instance: usize,
    read: bool,
    at: crate::defs::loc::Loc,
) {
    let Some(x) = interrupted_by(t) else { return };
    let held = x
        .try_state()
        .and_then(|st| st.held.iter().find(|h| h.instance == instance && !(read && h.read)).map(|h| h.site));
    let Some(taken) = held else { return };
    let body = format!(
        "BUG: spinlock recursion on CPU#0, {x}/{xp}\n lock: {class}, .magic: dead4ead, .owner: {x}/{xp}, \
         .owner_cpu: 0\nksim: {h}/{hp} interrupted {x}/{xp} on its CPU and spins at {at} on {class}, which \
         {x}/{xp} took at {taken}: neither can go on\n",
        x = x.name,
        xp = x.pid,
        h = t.name,
        hp = t.pid,
        taken = taken.file_line(),
    );
    t.exec.report(t, super::report::Violation::Deadlock, body, "spin_lock");
    t.exec.stop_execution(super::report::Violation::Deadlock);
}
