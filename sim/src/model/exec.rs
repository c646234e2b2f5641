//! One execution of a run (fresh kernel state: tasks, trace, simulated time) and the state shared
//! by all executions of a run (configuration, lock graph, reports).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::booklock::{BookGuard, BookLock};
use super::config::Config;
use super::lockdep::LockGraph;
use super::report::{Report, Reported, Violation};
use super::spec::RunSpec;
use super::task::{TaskCell, TaskKind};
use super::trace::{Cat, Event, Trace};

/// How many distinct traces a run keeps (one per distinct behaviour, not per permutation).
const MAX_DISTINCT_TRACES: usize = 64;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a run has found so far.
#[derive(Default)]
pub(crate) struct RunResults {
    pub reports: Vec<Report>,
    pub failed_trace: Option<Trace>,
    pub first_trace: Option<Trace>,
    pub distinct: BTreeMap<u64, Trace>,
}

/// State shared by every execution of one run.
pub(crate) struct RunShared {
    pub config: Config,
    pub spec: RunSpec,
    pub lockdep: Mutex<LockGraph>,
    pub results: Mutex<RunResults>,
    pub executions: AtomicU64,
    /// Most tasks one execution created.
    pub max_tasks: AtomicU32,
    pub current: Mutex<Option<Arc<Exec>>>,
    /// Set by a report under shuttle: the recording scheduler then ends the execution (and the
    /// run) quietly instead of letting a panic through shuttle, which prints for every task
    /// panic.
    pub stop: AtomicBool,
}

impl RunShared {
    pub(crate) fn new(config: Config, spec: RunSpec) -> Self {
        RunShared {
            lockdep: Mutex::new(LockGraph::new(&config)),
            config,
            spec,
            results: Mutex::new(RunResults::default()),
            executions: AtomicU64::new(0),
            max_tasks: AtomicU32::new(0),
            current: Mutex::new(None),
            stop: AtomicBool::new(false),
        }
    }

    pub(crate) fn lockdep(&self) -> MutexGuard<'_, LockGraph> {
        lock(&self.lockdep)
    }

    pub(crate) fn results(&self) -> MutexGuard<'_, RunResults> {
        lock(&self.results)
    }

    /// The token and `replay:` line for a failure in execution `index` of an execution with
    /// `tasks` tasks, and whether the line replays it: a std run with more than one task ran
    /// them on real threads, in an interleaving nothing recorded, so it names none.
    pub(crate) fn replay_line(&self, index: u64, tasks: usize) -> (String, String, bool) {
        let token = self.spec.token(index);
        if self.spec.scheduler == super::spec::Scheduler::Std && tasks > 1 {
            let line = format!(
                "replay: none: std ran these {tasks} tasks on real threads, in an interleaving no run can \
                 repeat; run it under a deterministic scheduler (pct, random, dfs or loom) for a replay"
            );
            return (token, line, false);
        }
        let line = if self.spec.scenario.is_some() {
            format!("replay: ksim replay {token}")
        } else {
            format!("replay: ksim::Runner::replay(\"{token}\")")
        };
        (token, line, true)
    }
}

/// The kernel state of one execution.
pub struct Exec {
    pub(crate) run: Arc<RunShared>,
    /// Execution index within the run (0-based).
    pub index: u64,
    /// Unique among every execution of the process (for foreign faces: `ffi::exec_id`).
    pub(crate) id: u64,
    /// Storage that lives for this execution (`ffi::exec_local`), one value per type.
    pub(crate) locals: Mutex<Vec<(std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>)>>,
    tasks: Mutex<Vec<Arc<TaskCell>>>,
    next_pid: AtomicU32,
    trace: Mutex<Vec<Event>>,
    seq: AtomicU64,
    jiffies: AtomicU64,
    last_report_jiffy: Mutex<Option<u64>>,
    failed: AtomicBool,
    /// Tasks asleep in waits, and the live and blocked counts (`waitq`).
    pub(crate) sleepers: super::waitq::Sleepers,
    /// The user address space of the process the run's tasks serve (`uaccess`).
    pub(crate) user: Mutex<super::uaccess::UserMm>,
    /// `call_rcu()` callbacks not yet waited for (`rcu_barrier()`, and the end of the
    /// execution, which waits for them before its leak check).
    pub(crate) rcu_callbacks: Mutex<Vec<super::TaskHandle<()>>>,
    /// Which CPU interrupts arrive on (`cpu`).
    pub(crate) cpus: super::cpu::Cpus,
    /// Registered interrupt handlers, by irq line.
    pub(crate) irqs: Mutex<BTreeMap<u32, Arc<super::irq::IrqAction>>>,
    /// The page ledger.
    mm: BookLock<super::mem::state::Mm>,
    /// `run.config.trace`, one load closer: every context change of every call tests it.
    tracing: bool,
    /// Page references and page memory, made visible to loom: drivers race on them without a
    /// lock (a reader's `get_page_unless_zero` + copy against a discard's `put_page`), and loom
    /// reorders only what touches its objects. Touched before the ledger lock is taken.
    pub(crate) mem_ghost: super::backend::Ghost,
}

impl std::fmt::Debug for Exec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Exec#{}", self.index)
    }
}

impl Exec {
    pub(crate) fn new(run: Arc<RunShared>, index: u64) -> Self {
        Exec {
            tracing: run.config.trace,
            index,
            id: {
                static NEXT: AtomicU64 = AtomicU64::new(1);
                NEXT.fetch_add(1, Ordering::Relaxed)
            },
            locals: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
            next_pid: AtomicU32::new(1),
            trace: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
            jiffies: AtomicU64::new(0),
            last_report_jiffy: Mutex::new(None),
            failed: AtomicBool::new(false),
            irqs: Mutex::new(BTreeMap::new()),
            cpus: super::cpu::Cpus::new(),
            rcu_callbacks: Mutex::new(Vec::new()),
            user: Mutex::new(super::uaccess::UserMm::default()),
            sleepers: super::waitq::Sleepers::default(),
            mm: BookLock::new(super::mem::state::Mm::new(
                &run.config,
                // DFS and loom re-run a prefix of an earlier execution's schedule, so an
                // execution's random choices (fault injection) must not depend on its index.
                run.spec.seed()
                    ^ if matches!(
                        run.spec.scheduler,
                        super::spec::Scheduler::Dfs { .. } | super::spec::Scheduler::Loom { .. }
                    ) {
                        0
                    } else {
                        index.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    },
            )),
            mem_ghost: super::backend::Ghost::new(),
            run,
        }
    }

    /// The page ledger (model bookkeeping: never held across a scheduling point or a report).
    #[inline]
    pub(crate) fn mm(&self) -> BookGuard<'_, super::mem::state::Mm> {
        self.mm.lock()
    }

    /// The run's configuration.
    pub fn config(&self) -> &Config {
        &self.run.config
    }

    /// Creates a task with the next pid.
    pub(crate) fn new_task(self: &Arc<Self>, name: &str, kind: TaskKind) -> Arc<TaskCell> {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        self.run.max_tasks.fetch_max(pid, Ordering::Relaxed);
        let t = Arc::new(TaskCell::new(pid, Arc::from(name), kind, self.clone()));
        self.sleepers.task_started();
        lock(&self.tasks).push(t.clone());
        t
    }

    /// Every task created in this execution, in pid order.
    pub(crate) fn tasks(&self) -> Vec<Arc<TaskCell>> {
        lock(&self.tasks).clone()
    }

    /// How many tasks this execution has created so far.
    pub(crate) fn tasks_made(&self) -> usize {
        self.next_pid.load(Ordering::Relaxed) as usize - 1
    }

    /// Whether a report has been made in this execution.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Simulated jiffies.
    pub fn jiffies(&self) -> u64 {
        self.jiffies.load(Ordering::Relaxed)
    }

    pub(crate) fn advance_jiffies(&self, n: u64) {
        self.jiffies.fetch_add(n, Ordering::Relaxed);
    }

    /// Records an event for `task` (no-op with the trace off: inlined to one test, since every
    /// context change of every API call emits).
    #[inline(always)]
    pub(crate) fn emit(
        &self,
        task: &TaskCell,
        cat: Cat,
        name: &'static str,
        detail: impl FnOnce() -> String,
    ) {
        if self.tracing {
            self.record(task, cat, name, detail());
        }
    }

    #[cold]
    fn record(&self, task: &TaskCell, cat: Cat, name: &'static str, detail: String) {
        let (preempt_count, irqs_off) = {
            let st = task.state();
            (st.preempt_count, st.irqs_disabled)
        };
        let mut tr = lock(&self.trace);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        tr.push(Event {
            seq,
            pid: task.pid,
            task: task.name.clone(),
            preempt_count,
            irqs_off,
            cat,
            name,
            detail,
        });
    }

    /// The trace so far.
    pub(crate) fn trace(&self) -> Trace {
        Trace { events: lock(&self.trace).clone() }
    }

    /// The `Call trace (simulated):` block: the innermost API call, then the task's frames.
    fn call_trace(task: &TaskCell, innermost: &str) -> String {
        let frames = task.state().frames.clone();
        let mut s = String::from("Call trace (simulated):\n ");
        s.push_str(innermost);
        for f in frames.iter().rev() {
            s.push_str(" <- ");
            s.push_str(f);
        }
        s.push('\n');
        s
    }

    /// Reports a violation by `task`: the kernel text in `body`, then the call trace and the
    /// replay line. With `panic_on_report` the execution stops here (a quiet panic the runner
    /// catches); otherwise the task continues, as in the kernel.
    pub(crate) fn report(&self, task: &TaskCell, kind: Violation, body: String, innermost: &str) {
        if kind == Violation::SleepInAtomic && self.run.config.rate_limit {
            // ___might_sleep: `if (time_before(jiffies, prev_jiffy + HZ) && prev_jiffy) return;`
            let now = self.jiffies();
            let mut last = lock(&self.last_report_jiffy);
            if let Some(prev) = *last {
                if now < prev + self.run.config.hz {
                    return;
                }
            }
            *last = Some(now);
        }
        let (token, replay, replayable) = self.run.replay_line(self.index, self.tasks_made());
        let mut text = body;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&Self::call_trace(task, innermost));
        let _ = writeln!(text, "{replay}");
        self.emit(task, Cat::Report, "report", || kind.name().to_string());
        let report = Report {
            kind,
            text,
            pid: task.pid,
            task: task.name.to_string(),
            execution: self.index,
            token,
            replayable,
        };
        self.failed.store(true, Ordering::Relaxed);
        {
            let mut r = self.run.results();
            if r.reports.is_empty() {
                r.failed_trace = Some(self.trace());
            }
            r.reports.push(report);
        }
        if self.run.config.panic_on_report || kind == Violation::Bug {
            self.stop_execution(kind);
        }
    }

    /// Ends the execution after a report. Under shuttle the scheduler is asked to stop at the
    /// next scheduling point, which never returns here; elsewhere (or if it did return) a quiet
    /// panic unwinds to the runner.
    pub(crate) fn stop_execution(&self, kind: Violation) -> ! {
        if super::backend::try_backend() == Some(super::backend::BackendKind::Shuttle) {
            self.run.stop.store(true, Ordering::SeqCst);
            shuttle::thread::yield_now();
        }
        std::panic::panic_any(Reported(kind))
    }

    /// Records a report that was not raised by a check (a panic, a deadlock) without panicking.
    pub(crate) fn record_external(&self, task: Option<&TaskCell>, kind: Violation, body: String) {
        let (token, replay, replayable) = self.run.replay_line(self.index, self.tasks_made());
        let mut text = body;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        if let Some(t) = task {
            text.push_str(&Self::call_trace(t, "panic"));
        }
        let _ = writeln!(text, "{replay}");
        self.failed.store(true, Ordering::Relaxed);
        let mut r = self.run.results();
        if r.reports.is_empty() {
            r.failed_trace = Some(self.trace());
        }
        r.reports.push(Report {
            kind,
            text,
            pid: task.map_or(0, |t| t.pid),
            task: task.map_or_else(String::new, |t| t.name.to_string()),
            execution: self.index,
            token,
            replayable,
        });
    }

    /// Drops the execution's local storage (`ffi::exec_local`).
    pub(crate) fn drop_locals(&self) {
        let locals = std::mem::take(&mut *lock(&self.locals));
        drop(locals);
    }

    /// Drops the execution's references to its tasks and handlers (they point back at it).
    pub(crate) fn teardown(&self) {
        lock(&self.locals).clear();
        lock(&self.tasks).clear();
        lock(&self.irqs).clear();
        lock(&self.rcu_callbacks).clear();
    }

    /// Keeps the trace of a finished execution if its behaviour is new.
    pub(crate) fn keep_trace(&self) {
        if !self.run.config.trace {
            return;
        }
        let t = self.trace();
        let mut r = self.run.results();
        if r.first_trace.is_none() {
            r.first_trace = Some(t.clone());
        }
        if r.distinct.len() < MAX_DISTINCT_TRACES {
            let fp = t.fingerprint();
            r.distinct.entry(fp).or_insert(t);
        }
    }

    /// Records the backend's deadlock detection (`msg` is its panic message) as a deadlock report
    /// listing every task's held locks. Called from the runner's `report_escaped_panic` for shuttle, which
    /// detects deadlocks in its scheduler, and from the backend's loom blocking operations, because
    /// loom panics inside the task that blocks last (see `backend::loom_blocking`).
    pub(crate) fn record_deadlock(&self, msg: &str) {
        let mut body = String::from("ksim: deadlock: every task is blocked\n");
        body.push_str(&format!("({msg})\n\nShowing all locks held in the system:\n"));
        let graph = self.run.lockdep();
        // All tasks are blocked, and shuttle and loom run them on this OS thread: each state is
        // reachable (`try_state` only guards against a ksim bug).
        for t in self.tasks() {
            let Some(st) = t.try_state() else { continue };
            if !st.held.is_empty() {
                body.push_str(&graph.held_locks(&t, &st.held));
            }
        }
        drop(graph);
        let sleeping = self.sleepers.describe(&self.tasks());
        if !sleeping.is_empty() {
            body.push('\n');
            body.push_str(&sleeping);
        }
        self.record_external(None, Violation::Deadlock, body);
    }
}
