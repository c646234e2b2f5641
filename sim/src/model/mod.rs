//! The model behind the API: per-task context and its accounting, might_sleep and the other
//! checks, held locks and lockdep, the memory ledger, fault injection's decisions, interrupt
//! lines, the trace, reports, the backends and the runner. It imports only `defs` (never an API
//! module): the API modules are thin kernel-named calls into it. Model bookkeeping is never held across a scheduling point (under loom and shuttle
//! every task is a coroutine on one OS thread, so a lock held across a yield would deadlock),
//! and it is cheap because every simulated call does some: a task's own state is a
//! thread-bound cell with no lock at all (`task`), state shared between tasks sits behind a
//! short spinning lock (`booklock`), and the current task is found without a reference count
//! (`backend::CurrentTask`).

pub mod backend;
pub(crate) mod booklock;
pub(crate) mod context;
pub(crate) mod cpu;
pub(crate) mod dfs;
pub mod exec;
pub(crate) mod fault;
pub(crate) mod irq;
pub mod lock;
pub(crate) mod lockdep;
pub(crate) mod lockdep_irq;
pub(crate) mod mem;
pub(crate) mod panic;
pub mod report;
pub mod runner;
pub(crate) mod sleep;
pub mod spec;
pub mod task;
pub mod trace;
pub(crate) mod uaccess;
pub(crate) mod wait_context;
pub(crate) mod waitq;

/// The run configuration (kept at its old path; it is a plain definition, `defs::config`).
pub use crate::defs::config;

use std::fmt::Write as _;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

use backend::{set_current_task, spawn_raw, RawJoin};
use report::{Reported, Violation};
use task::{TaskCell, TaskKind, TaskState};
use trace::Cat;

/// The current simulated task. Panics with a clear message outside a run.
#[inline]
pub(crate) fn current() -> backend::CurrentTask {
    backend::current_task().unwrap_or_else(|| {
        panic!("ksim: simulated kernel API used outside a simulated task (call it inside Runner::run)")
    })
}

/// [`current`] for the API `api`: outside a run the panic names the API.
#[inline]
#[track_caller]
pub(crate) fn current_in(api: &str) -> backend::CurrentTask {
    backend::current_task()
        .unwrap_or_else(|| panic!("ksim: {api} called outside a simulated task (call it inside Runner::run)"))
}

/// A task handle returned by `kthread_run` and friends; `join` waits for the task and returns its
/// result (or continues the unwinding of a task that failed a check).
pub struct TaskHandle<T> {
    raw: RawJoin<T>,
    /// pid of the task.
    pub pid: u32,
}

impl<T> TaskHandle<T> {
    /// Waits for the task to finish (a scheduling point) and returns its result.
    pub fn join(self) -> T {
        let joined = match backend::current_task() {
            Some(t) => {
                let exec = t.exec.clone();
                drop(t);
                exec.sleepers.blocked_in(|| self.raw.join())
            }
            None => self.raw.join(),
        };
        match joined {
            Ok(v) => v,
            Err(p) => resume_unwind(p),
        }
    }
}

/// Spawns a simulated task of `kind` running `f`. The pid is assigned now, by the spawner, so pids
/// are deterministic.
pub(crate) fn spawn_task<T, F>(name: &str, kind: TaskKind, label: Option<&'static str>, f: F) -> TaskHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let parent = current();
    let exec = parent.exec.clone();
    let cell = exec.new_task(name, kind);
    exec.emit(&parent, Cat::Task, "spawn", || format!("{}-{}", cell.name, cell.pid));
    let pid = cell.pid;
    let raw = spawn_raw(format!("{name}-{pid}"), move || run_task(cell, label, f));
    TaskHandle { raw, pid }
}

/// The body of every spawned task: install it as current, run, check its context on return.
fn run_task<T>(cell: Arc<TaskCell>, label: Option<&'static str>, f: impl FnOnce() -> T) -> T {
    set_current_task(Some(cell.clone()));
    cell.exec.emit(&cell, Cat::Task, "start", String::new);
    let out = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            note_panic(&cell, &*p);
            cell.exec.sleepers.task_ended();
            set_current_task(None);
            resume_unwind(p)
        }
    };
    exit_check(&cell, label);
    cell.exec.emit(&cell, Cat::Task, "exit", String::new);
    cell.exec.sleepers.task_ended();
    set_current_task(None);
    out
}

/// Turns a panic that is not a ksim report (a driver or harness bug) into a report.
pub(crate) fn note_panic(cell: &TaskCell, p: &(dyn std::any::Any + Send)) {
    if p.downcast_ref::<Reported>().is_some() || cell.exec.failed() {
        return;
    }
    let msg = panic::take_last_panic().unwrap_or_else(|| panic::payload_text(p));
    let body = format!("ksim: task {}/{} panicked: {msg}\n", cell.name, cell.pid);
    cell.exec.record_external(Some(cell), Violation::Panic, body);
}

/// Checks that a task (or work item, or handler) leaves its context as it found it; the wording
/// follows the kernel check that catches each kind: `do_exit`'s notes, the workqueue's "leaked
/// lock or atomic", the irq core's "enabled interrupts" warning, the softirq loop's "huh".
pub(crate) fn exit_check(cell: &TaskCell, work_fn: Option<&str>) {
    let (pc0, irqs0) = TaskState::initial(cell.kind);
    let st = cell.state();
    let rcu = cell.rcu.depth();
    let balanced = st.preempt_count == pc0
        && st.irqs_disabled == irqs0
        && rcu == 0
        && st.non_block == 0
        && st.held.is_empty();
    if balanced || cell.exec.failed() {
        return;
    }
    let (name, pid, pc) = (&cell.name, cell.pid, st.preempt_count);
    let mut s = String::new();
    match cell.kind {
        TaskKind::Worker => {
            let _ = writeln!(s, "BUG: workqueue leaked lock or atomic: {name}/0x{pc:08x}/{pid}");
            let _ = writeln!(s, "     last function: {}", work_fn.unwrap_or("?"));
        }
        TaskKind::HardIrq(irq) if !st.irqs_disabled => {
            let _ = writeln!(s, "WARNING: irq {irq} handler {name} enabled interrupts");
        }
        TaskKind::HardIrq(irq) => {
            let _ = writeln!(
                s,
                "WARNING: irq {irq} handler {name} returned with preempt_count {pc:08x}, entered with {pc0:08x}"
            );
        }
        TaskKind::SoftIrq => {
            let _ = writeln!(
                s,
                "huh, entered softirq {name} with preempt_count {pc0:08x}, exited with {pc:08x}?"
            );
        }
        TaskKind::Main | TaskKind::Kthread => {
            if pc != pc0 {
                let _ = writeln!(s, "note: {name}[{pid}] exited with preempt_count {pc}");
            }
            if st.irqs_disabled {
                let _ = writeln!(s, "note: {name}[{pid}] exited with irqs disabled");
            }
            if !st.held.is_empty() {
                let _ = writeln!(s, "WARNING: {name}/{pid} still has locks held!");
            }
            if rcu != 0 {
                let _ = writeln!(s, "WARNING: {name}/{pid} exited inside an RCU read-side critical section");
            }
            if st.non_block != 0 {
                let _ = writeln!(s, "WARNING: {name}/{pid} exited with non_block {}", st.non_block);
            }
        }
    }
    let _ = writeln!(
        s,
        "preempt_count: {pc:x}, expected: {pc0:x}, irqs_disabled(): {}, RCU depth: {}, non_block: {}",
        st.irqs_disabled as u8, rcu, st.non_block
    );
    s.push_str(&cell.exec.run.lockdep().held_locks(cell, &st.held));
    drop(st);
    cell.exec.report(cell, Violation::UnbalancedContext, s, "exit");
}
