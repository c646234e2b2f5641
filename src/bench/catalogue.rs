//! The catalogue group: what `ksim check` costs, and how fast the model checkers find the
//! catalogue's bugs.
//!
//! - `check_wall_s`: wall seconds of the whole catalogue × both checking modes × every
//!   scheduler of `ksim check` (its default budgets), run the way `ksim check` runs it: the
//!   (test, scheduler) units shared out to as many worker threads as the machine has cores,
//!   16 MiB stacks, every verdict compared with the scenario's expectation (a mismatch fails
//!   the group: a broken catalogue is not a benchmark). `check_runs` is the number of scenario
//!   runs in one sweep (loom's skips excluded).
//! - Schedules to first detection of the DAX/BLKFLSBUF race (`dax-atomic-vs-flush`, observed
//!   mode) over a range of seeds, under PCT (depth 3, `ksim check`'s) and random: the median and
//!   the maximum of the failing execution's number (1-based), and how many seeds found it within
//!   the cap.
//! - `contract_first_exec_detections`: of the scenarios whose contract-mode expectation is a
//!   sleep in atomic context, how many PCT reports in its first execution (contract checks at
//!   API entry do not wait for the racy interleaving).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ksim::{CheckMode, Scheduler, Violation};
use ksim_scenarios::{catalogue, default_schedulers, Expect, Scenario, Settings};

use super::{median, Budget, Figure, GroupResult, Unit};

/// `ksim check`'s default seed.
const CHECK_SEED: u64 = 1;
/// PCT's bug depth in `ksim check`.
const PCT_DEPTH: usize = 3;

/// One `ksim check` sweep: (test, scheduler) units on worker threads. Returns the number of
/// runs, or the first verdict that did not match.
fn check_sweep() -> Result<u64, String> {
    let scenarios = catalogue::all();
    let tests: Vec<(&Scenario, Settings)> = scenarios
        .iter()
        .flat_map(|s| {
            [CheckMode::Observed, CheckMode::Contract]
                .map(|m| (s, Scenario::with_mode(&Settings::default(), m)))
        })
        .collect();
    let schedulers = default_schedulers(CHECK_SEED, None);
    let units: Vec<(usize, usize)> =
        (0..tests.len()).flat_map(|t| (0..schedulers.len()).map(move |s| (t, s))).collect();
    let next = AtomicUsize::new(0);
    let runs = AtomicUsize::new(0);
    let mismatch: Mutex<Option<String>> = Mutex::new(None);
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(units.len()) {
            let work = || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(t, s)) = units.get(i) else { break };
                let ((scenario, settings), sched) = (&tests[t], &schedulers[s]);
                if !scenario.supports(sched) {
                    continue;
                }
                let o = scenario.run(settings, sched.clone());
                runs.fetch_add(1, Ordering::Relaxed);
                let ok = scenario.expected_under(settings, sched).is_none_or(|e| e.matches(&o));
                if !ok {
                    let mut m = mismatch.lock().unwrap_or_else(|e| e.into_inner());
                    m.get_or_insert_with(|| {
                        format!(
                            "{} {} under {sched} does not match its expectation",
                            scenario.name,
                            settings.label()
                        )
                    });
                }
            };
            // As `ksim check`: the model checkers recurse through the scenario on this stack.
            std::thread::Builder::new()
                .stack_size(16 << 20)
                .spawn_scoped(scope, work)
                .expect("spawn a check worker thread");
        }
    });
    match mismatch.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(m) => Err(format!("catalogue bench: {m}")),
        None => Ok(runs.load(Ordering::Relaxed) as u64),
    }
}

/// The 1-based execution in which `sched` first found the flush race, if it did.
fn flush_race_detection(s: &Scenario, sched: Scheduler) -> Result<Option<u64>, String> {
    let o = s.try_run(&Settings::default(), sched)?;
    match o.first_report() {
        None => Ok(None),
        Some(r) if matches!(r.kind, Violation::SleepInAtomic | Violation::UseAfterFree) => {
            Ok(Some(r.execution + 1))
        }
        Some(r) => Err(format!("catalogue bench: the flush race reported {}", r.kind)),
    }
}

/// (median, max, seeds that found it) of the executions to first detection.
fn detections(found: &[Option<u64>]) -> (f64, f64, f64) {
    let hits: Vec<f64> = found.iter().flatten().map(|&e| e as f64).collect();
    let max = hits.iter().copied().fold(f64::NAN, f64::max);
    (median(hits.clone()), max, hits.len() as f64)
}

pub fn run(b: &Budget) -> GroupResult {
    // The sweep always has `ksim check`'s budgets (smaller ones would not find every bug, and
    // the verdicts are checked): --quick only repeats it once, without a warm-up, and tries two
    // seeds of the flush race.
    let (seeds, cap) = if b.quick { (2u64, 20usize) } else { (50, 1000) };
    if !b.quick {
        check_sweep()?; // warm-up: panic hook, caches
    }
    let mut walls = Vec::new();
    let mut runs = 0;
    for _ in 0..b.repeats {
        let start = Instant::now();
        runs = check_sweep()?;
        walls.push(start.elapsed().as_secs_f64());
    }

    let flush = catalogue::find("dax-atomic-vs-flush")?;
    let (mut pct, mut random) = (Vec::new(), Vec::new());
    for seed in 1..=seeds {
        pct.push(flush_race_detection(&flush, Scheduler::Pct { seed, depth: PCT_DEPTH, iterations: cap })?);
        random.push(flush_race_detection(&flush, Scheduler::Random { seed, iterations: cap })?);
    }
    let (pct_median, pct_max, pct_found) = detections(&pct);
    let (random_median, random_max, random_found) = detections(&random);

    // Scenarios whose contract-mode expectation includes a sleep in atomic context.
    let contract = Scenario::with_mode(&Settings::default(), CheckMode::Contract);
    let pct_check = Scheduler::Pct { seed: CHECK_SEED, depth: PCT_DEPTH, iterations: cap };
    let (mut sia, mut first) = (0u64, 0u64);
    for s in catalogue::all() {
        let Expect::Finds(kinds) = s.expected(&contract) else { continue };
        if !kinds.contains(&Violation::SleepInAtomic) {
            continue;
        }
        sia += 1;
        let o = s.try_run(&contract, pct_check.clone())?;
        if o.first_report().is_some_and(|r| r.execution == 0 && r.kind == Violation::SleepInAtomic) {
            first += 1;
        }
    }

    let fig = |name, value, unit| Figure { name, value, unit };
    let about = format!(
        "{} scenarios x 2 modes x {} schedulers as ksim check runs them; flush race over {seeds} seeds, at most \
         {cap} executions each",
        catalogue::all().len(),
        default_schedulers(CHECK_SEED, None).len(),
    );
    Ok((
        about,
        vec![
            fig("check_wall_s", median(walls), Unit::Seconds),
            fig("check_runs", runs as f64, Unit::Runs),
            fig("flush_race_pct_median_execs", pct_median, Unit::Count),
            fig("flush_race_pct_max_execs", pct_max, Unit::Count),
            fig("flush_race_pct_seeds_found", pct_found, Unit::OutOf(seeds)),
            fig("flush_race_random_median_execs", random_median, Unit::Count),
            fig("flush_race_random_max_execs", random_max, Unit::Count),
            fig("flush_race_random_seeds_found", random_found, Unit::OutOf(seeds)),
            fig("contract_first_exec_detections", first as f64, Unit::OutOf(sia)),
        ],
    ))
}
