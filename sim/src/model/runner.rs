//! The runner: one build, the scheduler chosen at run time. It runs a body under std, shuttle
//! (random, PCT, bounded DFS, replay) or loom, gives every execution fresh kernel state, turns
//! violations into reports, and names the replay token of the first failure.

use std::cell::RefCell;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use shuttle::scheduler::{
    PctScheduler, RandomScheduler, ReplayScheduler, Schedule, Scheduler as ShuttleScheduler, Task, TaskId,
};

use super::backend::{set_backend, set_current_task, BackendKind};
use super::config::Config;
use super::dfs::BoundedDfs;
use super::exec::{Exec, RunShared};
use super::report::{Report, Violation};
use super::task::TaskKind;
use super::trace::{Cat, Trace};
use super::{exit_check, note_panic, panic};

/// A scheduler and its parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scheduler {
    /// One execution on real OS threads.
    Std,
    /// shuttle's random scheduler.
    Random {
        /// Seed of the run.
        seed: u64,
        /// Executions to try.
        iterations: usize,
    },
    /// shuttle's PCT scheduler (probabilistic concurrency testing).
    Pct {
        /// Seed of the run.
        seed: u64,
        /// Bug depth (number of priority change points + 1), at least 1.
        depth: usize,
        /// Executions to try.
        iterations: usize,
    },
    /// Exhaustive depth-first search with a preemption bound.
    Dfs {
        /// Most preemptions per execution (`None`: unbounded).
        preemption_bound: Option<usize>,
        /// Most executions (`None`: until the tree is exhausted).
        max_executions: Option<usize>,
    },
    /// Replay one shuttle schedule (as printed in an `Outcome`).
    Replay {
        /// shuttle's encoded schedule.
        schedule: String,
    },
    /// loom: exhaustive, with a preemption bound.
    Loom {
        /// Most preemptions per execution (`None`: unbounded).
        preemption_bound: Option<usize>,
    },
}

impl Scheduler {
    /// The backend that runs this scheduler.
    pub fn backend(&self) -> BackendKind {
        match self {
            Scheduler::Std => BackendKind::Std,
            Scheduler::Loom { .. } => BackendKind::Loom,
            _ => BackendKind::Shuttle,
        }
    }

    /// Short name: std, random, pct, dfs, replay, loom.
    pub fn name(&self) -> &'static str {
        match self {
            Scheduler::Std => "std",
            Scheduler::Random { .. } => "random",
            Scheduler::Pct { .. } => "pct",
            Scheduler::Dfs { .. } => "dfs",
            Scheduler::Replay { .. } => "replay",
            Scheduler::Loom { .. } => "loom",
        }
    }
}

fn opt(v: Option<usize>) -> String {
    v.map_or_else(|| "none".to_string(), |n| n.to_string())
}

impl fmt::Display for Scheduler {
    /// The spec form used in tokens and on the command line, e.g. `pct:seed=7:depth=3:iters=500`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheduler::Std => write!(f, "std"),
            Scheduler::Random { seed, iterations } => write!(f, "random:seed={seed}:iters={iterations}"),
            Scheduler::Pct { seed, depth, iterations } => {
                write!(f, "pct:seed={seed}:depth={depth}:iters={iterations}")
            }
            Scheduler::Dfs { preemption_bound, max_executions } => {
                write!(f, "dfs:bound={}:max={}", opt(*preemption_bound), opt(*max_executions))
            }
            Scheduler::Replay { schedule } => write!(f, "replay:{schedule}"),
            Scheduler::Loom { preemption_bound } => write!(f, "loom:bound={}", opt(*preemption_bound)),
        }
    }
}

impl FromStr for Scheduler {
    type Err = String;

    /// Parses the spec form of [`Scheduler`]'s `Display`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split(':');
        let name = parts.next().unwrap_or("");
        if name == "replay" {
            let schedule = s.strip_prefix("replay:").unwrap_or("").to_string();
            if !valid_schedule(&schedule) {
                return Err(format!("malformed shuttle schedule in '{s}'"));
            }
            return Ok(Scheduler::Replay { schedule });
        }
        let mut kv = std::collections::BTreeMap::new();
        for p in parts {
            let (k, v) =
                p.split_once('=').ok_or_else(|| format!("scheduler parameter '{p}' is not key=value"))?;
            kv.insert(k, v);
        }
        let num = |k: &str| -> Result<Option<u64>, String> {
            match kv.get(k) {
                None | Some(&"none") => Ok(None),
                Some(v) => {
                    v.parse().map(Some).map_err(|_| format!("scheduler parameter {k}='{v}' is not a number"))
                }
            }
        };
        let need = |k: &str| -> Result<u64, String> {
            num(k)?.ok_or_else(|| format!("scheduler '{name}' needs {k}=N"))
        };
        let allowed: &[&str] = match name {
            "std" => &[],
            "random" => &["seed", "iters"],
            "pct" => &["seed", "depth", "iters"],
            "dfs" => &["bound", "max"],
            "loom" => &["bound"],
            _ => {
                return Err(format!(
                    "unknown scheduler '{name}' (valid: std, random, pct, dfs, loom, replay)"
                ))
            }
        };
        if let Some(k) = kv.keys().find(|k| !allowed.contains(k)) {
            return Err(format!("scheduler '{name}' has no parameter '{k}' (valid: {})", allowed.join(", ")));
        }
        Ok(match name {
            "std" => Scheduler::Std,
            "random" => Scheduler::Random { seed: need("seed")?, iterations: need("iters")? as usize },
            "pct" => {
                let depth = need("depth")? as usize;
                if depth == 0 {
                    return Err("pct depth must be at least 1".to_string());
                }
                Scheduler::Pct { seed: need("seed")?, depth, iterations: need("iters")? as usize }
            }
            "dfs" => Scheduler::Dfs {
                preemption_bound: num("bound")?.map(|v| v as usize),
                max_executions: num("max")?.map(|v| v as usize),
            },
            _ => Scheduler::Loom { preemption_bound: num("bound")?.map(|v| v as usize) },
        })
    }
}

/// Whether shuttle can decode `schedule`. Its decoder indexes without checking (it panics on an
/// empty or truncated string), so the check runs behind `catch_unwind` with ksim's panic hook
/// keeping it quiet.
fn valid_schedule(schedule: &str) -> bool {
    if schedule.is_empty() || !schedule.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    panic::install();
    let prev = panic::set_in_run(true);
    let ok =
        catch_unwind(|| shuttle_engine::scheduler::serialization::deserialize_schedule(schedule).is_some());
    panic::set_in_run(prev);
    let _ = panic::take_last_panic();
    ok.unwrap_or(false)
}

/// What identifies a run for replay: scenario (if from the catalogue), its configuration label,
/// and the scheduler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    /// Catalogue scenario name, if any.
    pub scenario: Option<String>,
    /// The scenario's configuration overrides (`key=value,...`), empty for defaults.
    pub config_label: String,
    /// The scheduler.
    pub scheduler: Scheduler,
}

impl RunSpec {
    /// The run's seed (0 for schedulers without one), from which each execution's RNG is seeded.
    pub fn seed(&self) -> u64 {
        match self.scheduler {
            Scheduler::Random { seed, .. } | Scheduler::Pct { seed, .. } => seed,
            _ => 0,
        }
    }

    /// The replay token for a failure in execution `index`:
    /// `SCENARIO/SCHEDULER/eINDEX[/CONFIG]` (`adhoc` for a body that is not in the catalogue).
    pub fn token(&self, index: u64) -> String {
        let mut t = format!("{}/{}/e{index}", self.scenario.as_deref().unwrap_or("adhoc"), self.scheduler);
        if !self.config_label.is_empty() {
            t.push('/');
            t.push_str(&self.config_label);
        }
        t
    }
}

/// A parsed replay token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Scenario name (`adhoc` for a body outside the catalogue).
    pub scenario: String,
    /// The scheduler of the original run.
    pub scheduler: Scheduler,
    /// The execution that failed.
    pub execution: u64,
    /// Configuration overrides.
    pub config_label: String,
}

impl FromStr for Token {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("malformed replay token '{s}' (expected SCENARIO/SCHEDULER/eN[/CONFIG])");
        let mut it = s.splitn(4, '/');
        let scenario = it.next().filter(|x| !x.is_empty()).ok_or_else(bad)?.to_string();
        let scheduler = it.next().ok_or_else(bad)?.parse::<Scheduler>()?;
        let execution =
            it.next().and_then(|e| e.strip_prefix('e')).and_then(|e| e.parse().ok()).ok_or_else(bad)?;
        let config_label = it.next().unwrap_or("").to_string();
        Ok(Token { scenario, scheduler, execution, config_label })
    }
}

/// Runs a body under a scheduler.
#[derive(Clone, Debug)]
pub struct Runner {
    spec: RunSpec,
    config: Config,
}

/// What a run found.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Every report, in order (with `panic_on_report`, at most one per execution, and the run
    /// stops at the first failing execution).
    pub reports: Vec<Report>,
    /// Executions explored.
    pub executions: u64,
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
        let results = std::mem::take(&mut *run.results());
        let failed = !results.reports.is_empty();
        let shuttle_backed = kind == BackendKind::Shuttle;
        Ok(Outcome {
            executions: run.executions.load(Ordering::Relaxed),
            trace: results.failed_trace.clone().or(results.first_trace.clone()).unwrap_or_default(),
            traces: results.distinct.into_values().collect(),
            schedule: (failed && shuttle_backed)
                .then(|| shuttle_engine::scheduler::serialization::serialize_schedule(&schedule.borrow())),
            reports: results.reports,
            spec: run.spec.clone(),
        })
    }
}

fn shuttle_config() -> shuttle::Config {
    let mut c = shuttle::Config::new();
    c.failure_persistence = shuttle::FailurePersistence::None;
    c.silence_warnings = true;
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

/// One execution: fresh kernel state, the body as the main task, its exit check.
fn execute_one(run: &Arc<RunShared>, body: &(dyn Fn() + Send + Sync)) {
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
        set_current_task(None);
        resume_unwind(p);
    }
    exit_check(&main, None);
    crate::mm::kmemleak::check(&main);
    exec.emit(&main, Cat::Task, "exit", String::new);
    exec.keep_trace();
    set_current_task(None);
}

/// A panic that reached the runner without a report: the backend found a deadlock, or something
/// failed outside any task.
fn report_escaped_panic(run: &RunShared, p: &(dyn std::any::Any + Send)) {
    let exec = run.current.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(exec) = exec else { return };
    if exec.failed() {
        return;
    }
    let msg = panic::take_last_panic().unwrap_or_else(|| panic::payload_text(p));
    if msg.contains("deadlock") {
        record_deadlock(&exec, &msg);
    } else {
        exec.record_external(
            None,
            Violation::Panic,
            format!("ksim: the run panicked outside a task: {msg}\n"),
        );
    }
}

/// Records the backend's deadlock detection (`msg` is its panic message) as a deadlock report
/// listing every task's held locks. Called from [`report_escaped_panic`] for shuttle, which
/// detects deadlocks in its scheduler, and from the backend's loom blocking operations, because
/// loom panics inside the task that blocks last (see `backend::loom_blocking`).
pub(crate) fn record_deadlock(exec: &Exec, msg: &str) {
    let mut body = String::from("ksim: deadlock: every task is blocked\n");
    body.push_str(&format!("({msg})\n\nShowing all locks held in the system:\n"));
    let graph = exec.run.lockdep();
    // All tasks are blocked, and shuttle and loom run them on this OS thread: each state is
    // reachable (`try_state` only guards against a ksim bug).
    for t in exec.tasks() {
        let Some(st) = t.try_state() else { continue };
        if !st.held.is_empty() {
            body.push_str(&graph.held_locks(&t, &st.held));
        }
    }
    drop(graph);
    exec.record_external(None, Violation::Deadlock, body);
}
