//! What a run found and how an execution's end is handled: the [`Outcome`] a run returns,
//! one execution's fresh kernel state and exit checks, and the reports made for panics and
//! deadlocks that reach the runner without one.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use shuttle::scheduler::Schedule;

use crate::model::backend::set_current_task;
use crate::model::exec::{Exec, RunShared};
use crate::model::report::{Report, Violation};
use crate::model::spec::RunSpec;
use crate::model::task::TaskKind;
use crate::model::trace::{Cat, Trace};
use crate::model::{exit_check, note_panic, panic};

/// What a run found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Every report, in order (with `panic_on_report`, at most one per execution, and the run
    /// stops at the first failing execution).
    pub reports: Vec<Report>,
    /// Executions explored.
    pub executions: u64,
    /// Most tasks one execution ran, the main task included.
    pub tasks: usize,
    /// The failing execution's trace, else the first execution's.
    pub trace: Trace,
    /// One trace per distinct behaviour seen (at most 64).
    pub traces: Vec<Trace>,
    /// The failing execution's shuttle schedule (shuttle schedulers only).
    pub schedule: Option<String>,
    /// What was run.
    pub spec: RunSpec,
}

impl Outcome {
    /// What the run `run` found, once it is over; `schedule` is the last shuttle schedule (the
    /// failing one, if the run failed) for shuttle-backed runs.
    pub(crate) fn collect(run: &RunShared, schedule: Option<Schedule>) -> Outcome {
        let results = std::mem::take(&mut *run.results());
        let failed = !results.reports.is_empty();
        Outcome {
            executions: run.executions.load(Ordering::Relaxed),
            tasks: run.max_tasks.load(Ordering::Relaxed) as usize,
            trace: results.failed_trace.clone().or(results.first_trace.clone()).unwrap_or_default(),
            traces: results.distinct.into_values().collect(),
            schedule: schedule
                .filter(|_| failed)
                .map(|s| shuttle_engine::scheduler::serialization::serialize_schedule(&s)),
            reports: results.reports,
            spec: run.spec.clone(),
        }
    }

    /// The first report, if any.
    pub fn first_report(&self) -> Option<&Report> {
        self.reports.first()
    }

    /// No reports.
    pub fn is_clean(&self) -> bool {
        self.reports.is_empty()
    }

    /// The kinds reported, deduplicated, in order.
    pub fn kinds(&self) -> Vec<Violation> {
        let mut v: Vec<Violation> = self.reports.iter().map(|r| r.kind).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The first report of a kind.
    pub fn report_of(&self, kind: Violation) -> Option<&Report> {
        self.reports.iter().find(|r| r.kind == kind)
    }

    /// The trace (see [`Outcome::trace`] field).
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The replay token of the first failure.
    pub fn token(&self) -> Option<&str> {
        self.first_report().map(|r| r.token.as_str())
    }
}

/// One execution: fresh kernel state, the body as the main task, its exit check.
pub(super) fn execute_one(run: &Arc<RunShared>, body: &(dyn Fn() + Send + Sync)) {
    let index = run.executions.fetch_add(1, Ordering::Relaxed);
    let exec = Arc::new(Exec::new(run.clone(), index));
    if let Some(old) = run.current.lock().unwrap_or_else(|e| e.into_inner()).replace(exec.clone()) {
        old.teardown();
    }
    let main = exec.new_task("main", TaskKind::Main);
    set_current_task(Some(main.clone()));
    exec.emit(&main, Cat::Task, "start", String::new);
    if let Err(p) = catch_unwind(AssertUnwindSafe(body)) {
        note_panic(&main, &*p);
        exec.drop_locals();
        exec.sleepers.task_ended();
        set_current_task(None);
        resume_unwind(p);
    }
    exec.sleepers.task_ended();
    exit_check(&main, None);
    // Module unload's rcu_barrier(): queued RCU callbacks run before the leak check.
    let pending = std::mem::take(&mut *exec.rcu_callbacks.lock().unwrap_or_else(|e| e.into_inner()));
    for h in pending {
        h.join();
    }
    crate::model::mem::kmemleak::check(&main);
    exec.emit(&main, Cat::Task, "exit", String::new);
    exec.keep_trace();
    // Inside the execution: what foreign faces kept for it holds model objects of this backend.
    exec.drop_locals();
    set_current_task(None);
}

/// A panic that reached the runner without a report: the backend found a deadlock, or something
/// failed outside any task.
pub(super) fn report_escaped_panic(run: &RunShared, p: &(dyn std::any::Any + Send)) {
    let exec = run.current.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(exec) = exec else { return };
    if exec.failed() {
        return;
    }
    let msg = panic::take_last_panic().unwrap_or_else(|| panic::payload_text(p));
    if msg.contains("deadlock") {
        exec.record_deadlock(&msg);
    } else {
        exec.record_external(
            None,
            Violation::Panic,
            format!("ksim: the run panicked outside a task: {msg}\n"),
        );
    }
}
