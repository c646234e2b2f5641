//! The core group: what ksim's primitives and bookkeeping cost per execution over the model
//! checkers they run on. One program — two tasks each take a lock, bump a shared counter and
//! unlock; the main task joins both — written three times: against ksim (run under its random
//! and loom schedulers), directly against shuttle, and directly against loom. The ratios are
//! per-execution times (ksim / raw), since ksim's extra scheduling points may change how many
//! executions loom's exhaustive search visits. And the cost of lockdep's irq-state tracking:
//! a spinlock acquire/release pair with it on ÷ off (`lockdep_irq_tracking_ratio`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ksim::prelude::*;

use super::{Budget, Figure, Unit};

const SEED: u64 = 0x6b73_696d;

/// The program under ksim: kthreads and a spinlock.
fn ksim_program() {
    let lock = Arc::new(SpinLock::new(0u64, "bench.lock"));
    let bump = |name: &str| {
        let l = lock.clone();
        kthread_run(name, move || {
            let mut g = spin_lock(&l);
            *g += 1;
            spin_unlock(g);
        })
    };
    let (a, b) = (bump("bump-a"), bump("bump-b"));
    a.join();
    b.join();
}

/// One measured ksim run: (elapsed, executions).
fn ksim(runner: Runner, trace: bool) -> Result<(Duration, u64), String> {
    let start = Instant::now();
    let o = runner.config(Config::default().trace(trace)).try_run(ksim_program)?;
    let elapsed = start.elapsed();
    match o.first_report() {
        Some(r) => Err(format!("the benchmark program reported '{}'", r.headline())),
        None => Ok((elapsed, o.executions)),
    }
}

/// The program directly against shuttle, under its seeded random scheduler.
fn raw_shuttle(iterations: usize) -> (Duration, u64) {
    let start = Instant::now();
    let scheduler = shuttle::scheduler::RandomScheduler::new_from_seed(SEED, iterations);
    shuttle::Runner::new(scheduler, shuttle::Config::new()).run(|| {
        let m = Arc::new(shuttle::sync::Mutex::new(0u64));
        let bump = || {
            let m = m.clone();
            shuttle::thread::spawn(move || *m.lock().expect("not poisoned") += 1)
        };
        let (a, b) = (bump(), bump());
        a.join().expect("bump-a");
        b.join().expect("bump-b");
    });
    (start.elapsed(), iterations as u64)
}

/// The program directly against loom, exhaustive (no preemption bound).
fn raw_loom() -> (Duration, u64) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let mut b = loom::model::Builder::new();
    b.preemption_bound = None;
    let start = Instant::now();
    b.check(move || {
        c.fetch_add(1, Ordering::Relaxed);
        let m = Arc::new(loom::sync::Mutex::new(0u64));
        let bump = || {
            let m = m.clone();
            loom::thread::spawn(move || *m.lock().expect("not poisoned") += 1)
        };
        let (a, b) = (bump(), bump());
        a.join().expect("bump-a");
        b.join().expect("bump-b");
    });
    (start.elapsed(), count.load(Ordering::Relaxed) as u64)
}

/// `pairs` spin_lock/spin_unlock pairs (with one level of nesting, so lockdep sees a
/// dependency too) in one std execution with lockdep on, irq-state tracking on or off: the
/// seconds per pair.
fn lock_pairs(pairs: usize, irq_tracking: bool) -> Result<f64, String> {
    let cfg = Config::default().trace(false).lockdep_irq(irq_tracking);
    let start = Instant::now();
    let o = Runner::std().config(cfg).try_run(move || {
        let outer = SpinLock::new(0u64, "bench.outer");
        let inner = SpinLock::new(0u64, "bench.inner");
        for _ in 0..pairs / 2 {
            let mut g = spin_lock(&outer);
            *g += 1;
            let mut h = spin_lock(&inner);
            *h += 1;
        }
    })?;
    let elapsed = start.elapsed();
    match o.first_report() {
        Some(r) => Err(format!("the lock benchmark reported '{}'", r.headline())),
        None => Ok(elapsed.as_secs_f64() / pairs.max(1) as f64),
    }
}

/// Per-execution seconds of repeated measurements (the median is reported), and the last
/// measurement's execution count.
#[derive(Default)]
struct Samples {
    per_exec: Vec<f64>,
    executions: u64,
}

impl Samples {
    fn add(&mut self, (elapsed, executions): (Duration, u64)) {
        self.per_exec.push(elapsed.as_secs_f64() / executions.max(1) as f64);
        self.executions = executions;
    }

    /// Executions of one run, when a measurement was `rounds` runs.
    fn per_run(&self, rounds: usize) -> f64 {
        (self.executions / rounds.max(1) as u64) as f64
    }

    fn median(&self) -> f64 {
        let mut v = self.per_exec.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

/// `n` runs timed as one measurement: (total elapsed, total executions).
fn rounds(
    n: usize,
    mut once: impl FnMut() -> Result<(Duration, u64), String>,
) -> Result<(Duration, u64), String> {
    let (mut elapsed, mut executions) = (Duration::ZERO, 0);
    for _ in 0..n {
        let (e, x) = once()?;
        (elapsed, executions) = (elapsed + e, executions + x);
    }
    Ok((elapsed, executions))
}

pub fn run(b: &Budget) -> super::GroupResult {
    let n = b.iterations;
    // Warm-up (not measured): ksim's first run installs its panic hook, and caches fill.
    ksim(Runner::random(SEED, 1), false)?;
    ksim(Runner::loom(None), false)?;
    raw_shuttle(1);
    raw_loom();
    let [mut kr, mut krt, mut sr, mut kl, mut klt, mut lr]: [Samples; 6] = Default::default();
    // Interleaved, so that drift in the machine's speed touches every figure alike.
    for _ in 0..b.repeats {
        kr.add(ksim(Runner::random(SEED, n), false)?);
        krt.add(ksim(Runner::random(SEED, n), true)?);
        sr.add(raw_shuttle(n));
        kl.add(rounds(b.rounds, || ksim(Runner::loom(None), false))?);
        klt.add(rounds(b.rounds, || ksim(Runner::loom(None), true))?);
        lr.add(rounds(b.rounds, || Ok(raw_loom()))?);
    }
    // lockdep's irq-state tracking: a lock acquire/release pair with it on and off,
    // interleaved like the rest.
    let pairs = n * 40;
    let (mut on, mut off) = (Vec::new(), Vec::new());
    lock_pairs(pairs.min(1000), true)?;
    for _ in 0..b.repeats {
        on.push(lock_pairs(pairs, true)?);
        off.push(lock_pairs(pairs, false)?);
    }
    let (on, off) = (super::median(on), super::median(off));
    let rate = |s: &Samples| 1.0 / s.median();
    let fig = |name, value, unit| Figure { name, value, unit };
    let about = format!(
        "random: {n} executions, loom: {} exhaustive runs, lock pairs: {pairs} per measurement",
        b.rounds
    );
    Ok((
        about,
        vec![
            fig("ksim_random_exec_per_sec", rate(&kr), Unit::PerSec),
            fig("ksim_random_traced_exec_per_sec", rate(&krt), Unit::PerSec),
            fig("shuttle_random_exec_per_sec", rate(&sr), Unit::PerSec),
            fig("ksim_loom_exec_per_sec", rate(&kl), Unit::PerSec),
            fig("ksim_loom_traced_exec_per_sec", rate(&klt), Unit::PerSec),
            fig("loom_exec_per_sec", rate(&lr), Unit::PerSec),
            fig("ksim_loom_executions", kl.per_run(b.rounds), Unit::Count),
            fig("loom_executions", lr.per_run(b.rounds), Unit::Count),
            fig("shuttle_overhead_ratio", kr.median() / sr.median(), Unit::Ratio),
            fig("shuttle_overhead_ratio_traced", krt.median() / sr.median(), Unit::Ratio),
            fig("loom_overhead_ratio", kl.median() / lr.median(), Unit::Ratio),
            fig("loom_overhead_ratio_traced", klt.median() / lr.median(), Unit::Ratio),
            fig("lock_pair_irq_tracking_per_sec", 1.0 / on, Unit::OpsPerSec),
            fig("lock_pair_no_irq_tracking_per_sec", 1.0 / off, Unit::OpsPerSec),
            fig("lockdep_irq_tracking_ratio", on / off, Unit::Ratio),
        ],
    ))
}
