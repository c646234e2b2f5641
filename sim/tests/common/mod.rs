//! Helpers shared by the ksim integration tests: a probe that carries values computed inside a
//! simulated task out to the test, a context snapshot, source-line marks for report sites, and
//! line-by-line report assertions.
//!
//! Each test file is its own crate and uses only part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ksim::prelude::*;

/// Values recorded inside simulated tasks. A plain std mutex held for one push: model-external
/// bookkeeping, never held across a scheduling point.
pub struct Probe<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Probe<T> {
    fn clone(&self) -> Self {
        Probe(self.0.clone())
    }
}

impl<T> Default for Probe<T> {
    fn default() -> Self {
        Probe(Arc::new(Mutex::new(Vec::new())))
    }
}

impl<T: Clone> Probe<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, v: T) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(v);
    }

    pub fn values(&self) -> Vec<T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Source lines of interesting call sites, keyed by a label, recorded by [`at!`] right before
/// the call so a report raised by the call can be compared with the exact `file:line`.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<BTreeMap<&'static str, u32>>>);

impl Lines {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&self, label: &'static str, line: u32) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(label, line);
    }

    /// `file:line` of the site labelled `label`, in the file that recorded it.
    pub fn site(&self, file: &str, label: &str) -> String {
        let line = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(label)
            .copied()
            .unwrap_or_else(|| panic!("no line recorded for {label}"));
        format!("{file}:{line}")
    }
}

/// `at!(lines, "label", call)`: records the invocation's line under `label`, then evaluates the
/// call. Keep the invocation on one line: `line!()` and the call's `#[track_caller]` location
/// are then the same line.
#[allow(unused_macros)]
macro_rules! at {
    ($lines:expr, $label:expr, $call:expr) => {{
        $lines.set($label, line!());
        $call
    }};
}

/// The context predicates of the current task at one point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub preempt_count: u32,
    pub irqs_disabled: bool,
    pub in_atomic: bool,
    pub in_interrupt: bool,
    pub in_irq: bool,
    pub in_softirq: bool,
}

impl Ctx {
    /// Reads the current task's context through the public API.
    pub fn now() -> Ctx {
        Ctx {
            preempt_count: preempt_count(),
            irqs_disabled: irqs_disabled(),
            in_atomic: in_atomic(),
            in_interrupt: in_interrupt(),
            in_irq: in_irq(),
            in_softirq: in_softirq(),
        }
    }

    /// Process context, preemption and irqs enabled.
    pub const TASK: Ctx = Ctx {
        preempt_count: 0,
        irqs_disabled: false,
        in_atomic: false,
        in_interrupt: false,
        in_irq: false,
        in_softirq: false,
    };

    /// Atomic process context with the given count (no irq/softirq bits).
    pub const fn preempt(n: u32) -> Ctx {
        Ctx { preempt_count: n, in_atomic: n != 0, ..Ctx::TASK }
    }

    pub const fn irqs_off(self) -> Ctx {
        Ctx { irqs_disabled: true, ..self }
    }
}

/// Both kernel profiles, each checked for every accounting rule.
pub fn profiles() -> [Config; 2] {
    [Config::v4_0(), Config::modern()]
}

/// Runs `body` once on real threads (single-task or join-ordered bodies are deterministic) and
/// returns the outcome with what the body pushed into the probe.
/// Runs `body(lines)` once on real threads with `config`; `lines` records where things were
/// called, for the report lines to assert.
pub fn run_lines(config: Config, body: impl Fn(&Lines) + Send + Sync + 'static) -> (Outcome, Lines) {
    let lines = Lines::new();
    let l = lines.clone();
    let outcome = Runner::std().config(config).run(move || body(&l));
    (outcome, lines)
}

pub fn run_std<T, F>(config: Config, body: F) -> (Outcome, Vec<T>)
where
    T: Clone + Send + 'static,
    F: Fn(&Probe<T>) + Send + Sync + 'static,
{
    let probe = Probe::new();
    let p = probe.clone();
    let outcome = Runner::std().config(config).run(move || body(&p));
    (outcome, probe.values())
}

/// Asserts that each of `expected` is a whole line of `text`, in this order (other lines may be
/// interleaved).
#[track_caller]
pub fn assert_lines_in_order(text: &str, expected: &[&str]) {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    for want in expected {
        match lines[from..].iter().position(|l| l == want) {
            Some(i) => from += i + 1,
            None => panic!("line {want:?} not found (in order) in report:\n{text}"),
        }
    }
}

/// The single report of an outcome, asserting that there is exactly one.
#[track_caller]
pub fn only_report(o: &Outcome) -> &Report {
    assert_eq!(o.reports.len(), 1, "expected one report, got: {:#?}", o.reports);
    &o.reports[0]
}

/// The report text without its final `replay:` line (which names the scheduler).
pub fn without_replay(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with("replay: ")).map(|l| format!("{l}\n")).collect()
}

/// A source line recorded by [`at!`] into a `static` (for sites in plain functions).
pub struct LineCell(std::sync::atomic::AtomicU32);

impl LineCell {
    pub const fn new() -> Self {
        LineCell(std::sync::atomic::AtomicU32::new(0))
    }

    pub fn set(&self, _label: &str, line: u32) {
        self.0.store(line, std::sync::atomic::Ordering::Relaxed);
    }

    /// `file:line` of the recorded site.
    pub fn site(&self, file: &str) -> String {
        let line = self.0.load(std::sync::atomic::Ordering::Relaxed);
        assert_ne!(line, 0, "site not reached");
        format!("{file}:{line}")
    }
}

/// The interleaving-dependent bug used by the scheduler tests: a pool user refills the pool (a
/// sleeping operation) while holding its spinlock, but only if a flusher emptied the pool before
/// the user looked. The pool starts full, so only interleavings where the flush comes first are
/// buggy. The fixed user refills before taking the lock.
pub mod race {
    use std::sync::Arc;

    use ksim::atomic::Atomic;
    use ksim::prelude::*;

    use super::LineCell;

    pub const FILE: &str = file!();
    /// Where the user takes its spinlock (buggy variant).
    pub static LOCK: LineCell = LineCell::new();
    /// Where `pool_refill` calls `might_sleep()`.
    pub static SLEEP: LineCell = LineCell::new();

    fn refill(pool: &Atomic) {
        kfn!("pool_refill");
        at!(SLEEP, "sleep", might_sleep());
        pool.set(1);
    }

    /// The body: main (pid 1) spawns `pool-user` (pid 2) and `pool-flush` (pid 3), joins both.
    pub fn body(fixed: bool) -> impl Fn() + Send + Sync + 'static {
        move || {
            let pool = Arc::new(Atomic::new(1));
            let lock = Arc::new(SpinLock::new((), "pool.lock"));
            let flush_mutex = Arc::new(Mutex::new((), "pool_flush_mutex"));
            let p = pool.clone();
            let user = kthread_run("pool-user", move || {
                kfn!("pool_user");
                if fixed {
                    if p.read() == 0 {
                        refill(&p);
                    }
                    let _g = spin_lock(&lock);
                } else {
                    let _g = at!(LOCK, "lock", spin_lock(&lock));
                    if p.read() == 0 {
                        refill(&p);
                    }
                }
            });
            let flusher = kthread_run("pool-flush", move || {
                kfn!("pool_flush");
                let _m = mutex_lock(&flush_mutex);
                pool.set(0);
            });
            user.join();
            flusher.join();
        }
    }

    /// The exact report of the buggy variant found in execution with replay token `token`.
    pub fn expected_report(token: &str) -> String {
        let (lock, sleep) = (LOCK.site(FILE), SLEEP.site(FILE));
        format!(
            "BUG: sleeping function called from invalid context at {sleep}\n\
             in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 2, name: pool-user\n\
             preempt_count: 1, expected: 0\n\
             1 lock held by pool-user/2:\n \
             #0: (pool.lock){{+.+.}}, at: {lock}\n\
             Preemption disabled at:\n \
             {lock} spin_lock\n\
             Call trace (simulated):\n \
             might_sleep() <- pool_refill <- pool_user\n\
             replay: ksim::Runner::replay(\"{token}\")\n"
        )
    }
}
