//! `ksim check`: every (or the named) scenario × checking mode × scheduler, compared with the
//! scenario's expected verdict, printed as KTAP (kunit's layout: one test per scenario and mode,
//! one subtest per scheduler).
//!
//! A unit of work is one scenario × mode × scheduler × seed (`--seeds` for random and pct);
//! units go to worker threads, and with `--shard K/N` only the K-th of N slices of them run
//! (see `sweep` and `shard`). stdout is assembled afterwards in catalogue order and holds
//! nothing that depends on timing, so two runs with the same arguments print the same bytes,
//! and `ksim merge` of the shards prints the unsharded run's bytes.

use clap::{Args, ValueEnum};
use ksim::{CheckMode, Runner, Scheduler};
use ksim_scenarios::brds::{CDriver, Generation};
use ksim_scenarios::{catalogue, default_schedulers, Scenario, Settings};

use super::shard::{self, ShardArgs};
use super::sweep::{self, Cell, Divergence, First, Mismatch, Plan, Shard, Tally};
use super::{
    expected, ktap, matches, out, parse_count, parse_seed, reproduce_line, scheduler, settings, status,
    verdict, CliResult,
};

#[derive(Args)]
pub struct CheckArgs {
    /// Scenarios to check (default: the whole catalogue).
    #[arg(value_name = "SCENARIO")]
    scenarios: Vec<String>,
    /// std|random|pct|dfs|loom|all, or one full spec such as pct:seed=7:depth=3:iters=500.
    #[arg(long, default_value = "all", value_name = "NAME|SPEC|all")]
    scheduler: String,
    /// Seed for random and pct.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = parse_seed, allow_hyphen_values = true)]
    seed: u64,
    /// Executions for random and pct (and the DFS cap).
    #[arg(long, value_name = "N", value_parser = parse_count, allow_hyphen_values = true)]
    iterations: Option<usize>,
    /// Checking modes to run [default: both, or the one --config mode=... names].
    #[arg(long, value_enum)]
    mode: Option<Modes>,
    /// A setting KEY=VALUE applied to every scenario (repeatable, or comma-joined).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// Worker threads [default: available parallelism]; the output does not depend on it.
    #[arg(long, value_name = "N", value_parser = parse_count, allow_hyphen_values = true)]
    jobs: Option<usize>,
    /// Also run every deterministic scheduler twice per seed and require byte-identical
    /// outcomes (reports, executions, every distinct trace). std is skipped: real threads are
    /// not deterministic once a scenario has two tasks.
    #[arg(long)]
    verify_determinism: bool,
    /// Seeds per seeded scheduler (random, pct), from --seed on: each seed is a run whose
    /// verdict must match; with --verify-determinism, a run pair that must be byte-identical
    /// (the verdict held on the first seed only).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = parse_count, allow_hyphen_values = true)]
    seeds: usize,
    #[command(flatten)]
    shard: ShardArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Modes {
    Observed,
    Contract,
    Both,
}

/// One KTAP test: a scenario under one checking mode.
struct Test<'a> {
    name: String,
    scenario: &'a Scenario,
    settings: Settings,
}

pub fn run(a: CheckArgs) -> CliResult {
    // Validate everything before running anything: bad input must not cost a sweep.
    let scenarios = if a.scenarios.is_empty() {
        catalogue::all()
    } else {
        a.scenarios.iter().map(|n| catalogue::find(n)).collect::<Result<_, _>>()?
    };
    let user = settings(&a.config)?;
    let schedulers = match a.scheduler.as_str() {
        "all" => default_schedulers(a.seed, a.iterations),
        spec => vec![scheduler(spec, a.seed, a.iterations)?],
    };
    for s in &schedulers {
        Runner::new(s.clone()).check_environment()?;
    }
    let index_var = std::env::var(shard::INDEX_VAR).ok();
    let shard = a.shard.resolve(index_var.as_deref())?;
    if shard.is_none() && index_var.is_some() {
        eprintln!(
            "ksim: note: {} is set but neither --shard nor --shard-count is given: running every unit",
            shard::INDEX_VAR
        );
    }
    let modes = match a.mode {
        Some(Modes::Observed) => vec![CheckMode::Observed],
        Some(Modes::Contract) => vec![CheckMode::Contract],
        Some(Modes::Both) => vec![CheckMode::Observed, CheckMode::Contract],
        None if a.config.iter().flat_map(|c| c.split(',')).any(|c| c.starts_with("mode=")) => {
            vec![user.mode()]
        }
        None => vec![CheckMode::Observed, CheckMode::Contract],
    };
    // The test name shows the mode and any other setting the user chose.
    let mut others = user.clone();
    others.set("mode", "observed").expect("mode is a key");
    let others = others.label();
    let mut tests = Vec::new();
    for scenario in &scenarios {
        // A scenario that runs several brd generations is checked on each (its default first,
        // named as before), unless the user chose one.
        let chosen = user.given().any(|(k, _)| k == "driver");
        let variants: Vec<Option<&str>> = match scenario.drivers {
            [_, rest @ ..] if !chosen => {
                std::iter::once(None).chain(rest.iter().map(|g| Some(g.name()))).collect()
            }
            _ => vec![None],
        };
        for variant in variants {
            let mut settings = user.clone();
            if let Some(d) = variant {
                settings.set("driver", d).expect("a driver value");
            }
            for &mode in &modes {
                let mut name = format!("{} mode={mode}", scenario.name);
                if !others.is_empty() {
                    name.push(' ');
                    name.push_str(&others);
                }
                if let Some(d) = variant {
                    name.push_str(&format!(" driver={d}"));
                }
                tests.push(Test { name, settings: Scenario::with_mode(&settings, mode), scenario });
            }
        }
    }
    c_driver_usable(&tests)?;
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let plan = plan(&tests, &schedulers, a.seeds as u64);
    let n = schedulers.len();
    let whole = shard.unwrap_or(Shard::WHOLE);
    let (tallies, stats) = sweep::run(
        &plan,
        whole,
        jobs,
        |c| format!("{} {}", tests[c / n].name, schedulers[c % n].name()),
        |c, seed| run_seed(&tests[c / n], &schedulers[c % n], &plan.cells[c], seed, a.verify_determinism),
    );
    // The rate is for a person watching, and for a shard's log in CI; stdout never has it.
    if sweep::on_terminal() || shard.is_some() {
        eprintln!("{}", stats.line(shard));
    }
    for note in tallies.iter().flatten().filter_map(|t| t.note.as_ref()) {
        eprintln!("ksim: note: {note}");
    }
    let names: Vec<String> = tests.iter().map(|t| t.name.clone()).collect();
    let sched_names: Vec<String> = schedulers.iter().map(|s| s.name().to_string()).collect();
    let Some(shard) = shard else {
        let blocks = ktap::blocks(&names, &sched_names, &plan, &tallies, |_, _| None);
        let (text, ok) = ktap::render(&blocks, None);
        out(&text);
        return Ok(status(ok));
    };
    let run = shard::Run {
        tests: names,
        schedulers: schedulers.iter().map(|s| [s.name().to_string(), s.to_string()]).collect(),
        config: user.label(),
        seed: a.seed,
        seeds: a.seeds as u64,
        verify: a.verify_determinism,
        units: plan.units(),
    };
    let (text, ok) = shard::output(shard, run, &sched_names, &plan, &tallies);
    out(&text);
    Ok(status(ok))
}

/// Every (test, scheduler) cell and its seeds: `--seeds` for random and pct, one for the
/// schedulers without a seed and for a skipped cell.
fn plan(tests: &[Test<'_>], schedulers: &[Scheduler], seeds: u64) -> Plan {
    let (mut cells, mut counts) = (Vec::new(), Vec::new());
    for test in tests {
        for sched in schedulers {
            let c = cell(test, sched);
            let seeded = matches!(sched, Scheduler::Random { .. } | Scheduler::Pct { .. });
            counts.push(if seeded && !matches!(c, Cell::Skip(_)) { seeds } else { 1 });
            cells.push(c);
        }
    }
    Plan::new(cells, counts)
}

/// Refuses to run when a test needs brd.c and the kernel tree the user named is unusable or its
/// brd.c does not build (the compiler's lines on stderr first); no tree at all only skips them.
fn c_driver_usable(tests: &[Test<'_>]) -> Result<(), String> {
    let needs_c = tests.iter().any(|t| t.scenario.generation(&t.settings) == Some(Generation::V6_1C));
    if !needs_c {
        return Ok(());
    }
    match ksim_scenarios::brds::brd_c() {
        CDriver::Broken(e) => {
            if let Some(d) = e.details() {
                eprint!("{d}");
            }
            Err(e.to_string())
        }
        CDriver::BadTree(why) => Err(why.clone()),
        _ => Ok(()),
    }
}

/// What a (test, scheduler) cell is, before anything runs.
fn cell(test: &Test<'_>, sched: &Scheduler) -> Cell {
    let s = test.scenario;
    if let Err(why) = s.check_keys(&test.settings) {
        return Cell::Skip(why);
    }
    if let Some(why) = s.unavailable(&test.settings) {
        return Cell::Skip(why);
    }
    if !s.supports(sched) {
        return Cell::Skip(format!("{} cannot run {} tasks at once", sched.name(), s.max_tasks));
    }
    match s.expected_under(&test.settings, sched) {
        // One real-thread run of an interleaving-dependent scenario: any verdict is acceptable,
        // and which one happens varies from run to run, so it goes to stderr to keep stdout
        // byte-identical across runs.
        None => Cell::Unchecked,
        Some(e) => Cell::Checked(expected(&e)),
    }
}

/// One unit: the test under the cell's scheduler with seed number `index` (from `--seed`),
/// compared with the expectation; with `--verify-determinism`, run a second time and compared
/// byte for byte instead (the first seed is still held to the expectation). Returns the tally
/// and every execution run.
fn run_seed(test: &Test<'_>, sched: &Scheduler, cell: &Cell, index: u64, verify: bool) -> (Tally, u64) {
    let mut t = Tally { seeds: 1, ..Tally::default() };
    if let Cell::Skip(_) = cell {
        return (t, 0);
    }
    let sched = match sched {
        Scheduler::Random { seed, .. } | Scheduler::Pct { seed, .. } => {
            reseeded(sched, seed.wrapping_add(index))
        }
        other => other.clone(),
    };
    let o = test.scenario.run(&test.settings, sched.clone());
    let mut all = o.executions;
    t.executions = o.executions;
    let headline = o.first_report().map(|r| r.headline().to_string());
    // The replay command (`ksim replay TOKEN`), or for a std run of several tasks, which no
    // token replays, what can: the same scenario under a deterministic scheduler.
    let token = o.first_report().map(|r| match r.replayable {
        true => format!("ksim replay {}", r.token),
        false => reproduce_line(test.scenario, &test.settings, &o)
            .map_or_else(String::new, |l| l.trim_start_matches("replay: ").to_string()),
    });
    if index == 0 {
        // An unchecked run's report varies from run to run: only its note (stderr) shows it.
        let (headline, token) = match cell {
            Cell::Unchecked => (None, None),
            _ => (headline.clone(), token.clone()),
        };
        t.first = Some(First { executions: o.executions, headline, replay: token });
    }
    match cell {
        Cell::Unchecked => {
            let replay = token.map(|t| format!(" (replay: {t})")).unwrap_or_default();
            t.note = Some(format!("{} {}: found {}{replay}", test.name, sched.name(), verdict(&o)));
        }
        // --verify-determinism holds the seeds after the first to their run pairs only, so a
        // small --iterations budget can verify determinism over many seeds.
        Cell::Checked(_)
            if (!verify || index == 0)
                && !matches(test.scenario.expected_under(&test.settings, &sched).as_ref(), &o) =>
        {
            let config = test.settings.label();
            let config = if config.is_empty() { String::new() } else { format!(" --config {config}") };
            t.mismatches = 1;
            t.mismatch = Some(Mismatch {
                seed: index,
                scheduler: sched.to_string(),
                found: verdict(&o),
                headline,
                replay: token,
                rerun: format!("ksim run {} --scheduler {sched}{config}", test.scenario.name),
            });
        }
        _ => {}
    }
    // std is not compared: real threads are not deterministic once a scenario has two tasks.
    if verify && !matches!(sched, Scheduler::Std) {
        let again = test.scenario.run(&test.settings, sched.clone());
        all += again.executions;
        t.pairs = 1;
        if fingerprint(&o) != fingerprint(&again) {
            t.nondeterministic = Some(Divergence { seed: index, scheduler: sched.to_string() });
        }
    }
    (t, all)
}

/// Everything an outcome shows, as one string: two runs are deterministic when these are equal.
fn fingerprint(o: &ksim::Outcome) -> String {
    let mut f = format!("executions {}\nschedule {:?}\n", o.executions, o.schedule);
    for r in &o.reports {
        f.push_str(&r.text);
    }
    f.push_str(&o.trace.text());
    for t in &o.traces {
        f.push_str(&t.text());
    }
    f
}

/// The same scheduler with another seed (random and pct; the others have none).
fn reseeded(sched: &Scheduler, seed: u64) -> Scheduler {
    match sched.clone() {
        Scheduler::Random { iterations, .. } => Scheduler::Random { seed, iterations },
        Scheduler::Pct { depth, iterations, .. } => Scheduler::Pct { seed, depth, iterations },
        other => other,
    }
}
