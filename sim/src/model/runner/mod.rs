//! The runner: one build, the scheduler chosen at run time. It runs a body under std, shuttle
//! (random, PCT, bounded DFS, replay) or loom, gives every execution fresh kernel state, turns
//! violations into reports, and names the replay token of the first failure. This file sets up
//! the schedulers; `outcome` handles what each execution and the whole run found; `spec` names
//! runs.

mod outcome;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use shuttle::scheduler::{
    PctScheduler, RandomScheduler, ReplayScheduler, Schedule, Scheduler as ShuttleScheduler, Task, TaskId,
};

pub use super::spec::{RunSpec, Scheduler, Token};
pub use outcome::Outcome;
use outcome::{execute_one, report_escaped_panic};

use super::backend::{set_backend, BackendKind};
use super::dfs::BoundedDfs;
use super::exec::RunShared;
use super::panic;
use crate::defs::config::Config;

/// Runs a body under a scheduler.
#[derive(Clone, Debug)]
pub struct Runner {
    spec: RunSpec,
    config: Config,
}

/// Records the decisions of a shuttle scheduler so the failing schedule can be printed; and
/// keeps the inner scheduler from printing its own failure text (shuttle's random scheduler
/// prints its seed when it is dropped during a failure, so then it is forgotten, not dropped).
struct Recording<S: ShuttleScheduler> {
    inner: Option<S>,
    schedule: Rc<RefCell<Schedule>>,
    run: Arc<RunShared>,
    /// Real choices (more than one runnable task) of the current execution. An execution that
    /// had none has no concurrency, so every further execution would be the same (and shuttle's PCT asserts).
    decisions: Option<usize>,
    /// The run ended before the inner scheduler said so (a report, or no concurrency).
    ended_early: bool,
}

impl<S: ShuttleScheduler> Recording<S> {
    fn inner(&mut self) -> &mut S {
        self.inner.as_mut().expect("scheduler used after drop")
    }
}

impl<S: ShuttleScheduler> ShuttleScheduler for Recording<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.run.stop.load(Ordering::SeqCst) || self.decisions == Some(0) {
            self.ended_early = true;
            return None;
        }
        self.decisions = Some(0);
        let s = self.inner().new_execution()?;
        *self.schedule.borrow_mut() = s.clone();
        Some(s)
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        if self.run.stop.load(Ordering::SeqCst) {
            return None;
        }
        if runnable.len() > 1 {
            self.decisions = self.decisions.map(|d| d + 1);
        }
        let t = self.inner().next_task(runnable, current, is_yielding)?;
        self.schedule.borrow_mut().push_task(t);
        Some(t)
    }

    fn next_u64(&mut self) -> u64 {
        self.schedule.borrow_mut().push_random();
        self.inner().next_u64()
    }
}

impl<S: ShuttleScheduler> Drop for Recording<S> {
    fn drop(&mut self) {
        if std::thread::panicking() || self.ended_early || self.run.stop.load(Ordering::SeqCst) {
            std::mem::forget(self.inner.take());
        }
    }
}

const LOOM_VARS: &[&str] = &[
    "LOOM_MAX_PREEMPTIONS",
    "LOOM_MAX_BRANCHES",
    "LOOM_CHECKPOINT_FILE",
    "LOOM_CHECKPOINT_INTERVAL",
    "LOOM_MAX_DURATION",
    "LOOM_MAX_PERMUTATIONS",
    "LOOM_LOG",
    "LOOM_LOCATION",
];

impl Runner {
    /// A runner for `scheduler` with the default configuration.
    pub fn new(scheduler: Scheduler) -> Self {
        Runner {
            spec: RunSpec { scenario: None, config_label: String::new(), scheduler },
            config: Config::default(),
        }
    }

    /// One execution on real threads.
    pub fn std() -> Self {
        Runner::new(Scheduler::Std)
    }

    /// shuttle random scheduling.
    pub fn random(seed: u64, iterations: usize) -> Self {
        Runner::new(Scheduler::Random { seed, iterations })
    }

    /// shuttle PCT with the given bug depth (at least 1).
    pub fn pct(seed: u64, depth: usize, iterations: usize) -> Self {
        Runner::new(Scheduler::Pct { seed, depth, iterations })
    }

    /// Exhaustive DFS with a preemption bound.
    pub fn dfs(preemption_bound: Option<usize>, max_executions: Option<usize>) -> Self {
        Runner::new(Scheduler::Dfs { preemption_bound, max_executions })
    }

    /// loom with a preemption bound.
    pub fn loom(preemption_bound: Option<usize>) -> Self {
        Runner::new(Scheduler::Loom { preemption_bound })
    }

    /// A runner that repeats the run named by a replay token.
    pub fn replay(token: &str) -> Result<Self, String> {
        let t: Token = token.parse()?;
        let mut r = Runner::new(t.scheduler);
        if t.scenario != "adhoc" {
            r.spec.scenario = Some(t.scenario);
        }
        r.spec.config_label = t.config_label;
        Ok(r)
    }

    /// Sets the simulated kernel's configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Names the catalogue scenario and its configuration label, for replay tokens.
    pub fn scenario(mut self, name: &str, config_label: &str) -> Self {
        self.spec.scenario = Some(name.to_string());
        self.spec.config_label = config_label.to_string();
        self
    }

    /// The run's spec.
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// Runs `body` (as the main task, pid 1) under the scheduler. Panics only on a setup error
    /// (see [`Runner::try_run`]).
    pub fn run<F>(self, body: F) -> Outcome
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.try_run(body).unwrap_or_else(|e| panic!("ksim: {e}"))
    }

    /// Checks that nothing in the environment would silently change the run.
    pub fn check_environment(&self) -> Result<(), String> {
        match &self.spec.scheduler {
            Scheduler::Random { .. } | Scheduler::Pct { .. }
                if std::env::var_os("SHUTTLE_RANDOM_SEED").is_some() =>
            {
                return Err("SHUTTLE_RANDOM_SEED is set and would override the run's seed; unset it".into());
            }
            Scheduler::Loom { .. } => {
                if let Some(v) = LOOM_VARS.iter().find(|v| std::env::var_os(v).is_some()) {
                    return Err(format!("{v} is set and would change loom's exploration; unset it"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Runs `body`, or says why it cannot run.
    pub fn try_run<F>(self, body: F) -> Result<Outcome, String>
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.check_environment()?;
        if let Scheduler::Pct { depth: 0, .. } = self.spec.scheduler {
            return Err("pct depth must be at least 1".into());
        }
        panic::install();
        let run = Arc::new(RunShared::new(self.config.clone(), self.spec.clone()));
        let kind = self.spec.scheduler.backend();
        let prev_backend = set_backend(Some(kind));
        let prev_in_run = panic::set_in_run(true);
        let body = Arc::new(body);
        let schedule = Rc::new(RefCell::new(Schedule::new(0)));
        let result = {
            let run = run.clone();
            let schedule = schedule.clone();
            catch_unwind(AssertUnwindSafe(move || drive(&self.spec.scheduler, run, body, schedule)))
        };
        if let Err(p) = &result {
            report_escaped_panic(&run, &**p);
        }
        panic::set_in_run(prev_in_run);
        set_backend(prev_backend);
        if let Some(last) = run.current.lock().unwrap_or_else(|e| e.into_inner()).take() {
            last.teardown();
        }
        Ok(Outcome::collect(&run, (kind == BackendKind::Shuttle).then(|| schedule.borrow().clone())))
    }
}

/// The stack of every task shuttle runs, and of every task loom spawns (loom's main task keeps
/// loom's own 32 KiB): room for C frames of code run through ksim's C face (a kernel stack is 16
/// KiB; ksim's own frames sit on top). Untouched stack costs no memory.
pub(crate) const TASK_STACK: usize = 512 * 1024;

fn shuttle_config() -> shuttle::Config {
    let mut c = shuttle::Config::new();
    c.failure_persistence = shuttle::FailurePersistence::None;
    c.silence_warnings = true;
    c.stack_size = TASK_STACK;
    c
}

fn drive<F>(sched: &Scheduler, run: Arc<RunShared>, body: Arc<F>, schedule: Rc<RefCell<Schedule>>)
where
    F: Fn() + Send + Sync + 'static,
{
    let shared = run.clone();
    let one = move || execute_one(&run, &*body);
    let shuttle = |s: Box<dyn ShuttleScheduler + Send>, rec: Rc<RefCell<Schedule>>, f| {
        let r = Recording {
            inner: Some(s),
            schedule: rec,
            run: shared.clone(),
            decisions: None,
            ended_early: false,
        };
        shuttle::Runner::new(r, shuttle_config()).run(f);
    };
    match sched {
        Scheduler::Std => one(),
        Scheduler::Random { seed, iterations } => {
            shuttle(Box::new(RandomScheduler::new_from_seed(*seed, *iterations)), schedule, one)
        }
        Scheduler::Pct { seed, depth, iterations } => {
            shuttle(Box::new(PctScheduler::new_from_seed(*seed, *depth, *iterations)), schedule, one)
        }
        Scheduler::Dfs { preemption_bound, max_executions } => {
            shuttle(Box::new(BoundedDfs::new(*preemption_bound, *max_executions)), schedule, one)
        }
        Scheduler::Replay { schedule: s } => {
            shuttle(Box::new(ReplayScheduler::new_from_encoded(s)), schedule, one)
        }
        Scheduler::Loom { preemption_bound } => {
            let mut b = loom::model::Builder::new();
            b.preemption_bound = *preemption_bound;
            b.max_branches = 100_000;
            b.check(one);
        }
    }
}
