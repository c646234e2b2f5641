//! `ksim check`: every (or the named) scenario × checking mode × scheduler, compared with the
//! scenario's expected verdict, printed as KTAP (kunit's layout: one test per scenario and mode,
//! one subtest per scheduler).
//!
//! Runs go to worker threads, but stdout is assembled afterwards in catalogue order and holds
//! nothing that depends on timing, so two runs with the same arguments print the same bytes.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ksim::{CheckMode, Runner, Scheduler};
use ksim_scenarios::{catalogue, default_schedulers, Scenario, Settings};

use super::{
    expected, matches, out, parse_count, parse_seed, reproduce_line, scheduler, settings, status, verdict,
    CliResult,
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
    /// Seeds per seeded scheduler (random, pct) for --verify-determinism, from --seed on.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = parse_count, allow_hyphen_values = true)]
    seeds: usize,
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

/// One KTAP subtest's result: a scheduler's run of a test.
struct Sub {
    ok: bool,
    skipped: bool,
    /// Text after the subtest name (`# SKIP ...`, `# expected ...`), with its leading space.
    directive: String,
    /// Diagnostic lines, printed before the result line as kunit does.
    diags: Vec<String>,
    /// A line for stderr: what an unchecked, nondeterministic run found.
    note: Option<String>,
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
        for &mode in &modes {
            let mut name = format!("{} mode={mode}", scenario.name);
            if !others.is_empty() {
                name.push(' ');
                name.push_str(&others);
            }
            tests.push(Test { name, settings: Scenario::with_mode(&user, mode), scenario });
        }
    }
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let verify = a.verify_determinism.then_some(a.seeds);
    let subs = sweep(&tests, &schedulers, jobs, verify);
    for note in subs.iter().filter_map(|s| s.note.as_ref()) {
        eprintln!("ksim: note: {note}");
    }
    let (text, all_ok) = ktap(&tests, &schedulers, &subs);
    out(&text);
    Ok(status(all_ok))
}

/// Runs every (test, scheduler) pair on `jobs` threads; results come back in input order.
fn sweep(tests: &[Test<'_>], schedulers: &[Scheduler], jobs: usize, verify: Option<usize>) -> Vec<Sub> {
    let units: Vec<(usize, usize)> =
        (0..tests.len()).flat_map(|t| (0..schedulers.len()).map(move |s| (t, s))).collect();
    let results: Vec<Mutex<Option<Sub>>> = units.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let bar = progress(units.len() as u64);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(units.len()) {
            let work = || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(t, s)) = units.get(i) else { break };
                bar.set_message(format!("{} {}", tests[t].name, schedulers[s].name()));
                let mut sub = check_one(&tests[t], &schedulers[s]);
                if let Some(seeds) = verify {
                    determinism(&tests[t], &schedulers[s], seeds, &mut sub);
                }
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(sub);
                bar.inc(1);
            };
            // The model checkers recurse through the scenario on this thread's stack.
            std::thread::Builder::new()
                .stack_size(16 << 20)
                .spawn_scoped(scope, work)
                .expect("spawn a check worker thread");
        }
    });
    bar.finish_and_clear();
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()).expect("every unit ran"))
        .collect()
}

/// A progress bar on stderr, only for a person watching a terminal.
fn progress(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
        .expect("valid progress template");
    ProgressBar::new(len).with_style(style)
}

fn check_one(test: &Test<'_>, sched: &Scheduler) -> Sub {
    let s = test.scenario;
    if let Err(why) = s.check_keys(&test.settings) {
        return Sub {
            ok: true,
            skipped: true,
            directive: format!(" # SKIP {why}"),
            diags: Vec::new(),
            note: None,
        };
    }
    if !s.supports(sched) {
        return Sub {
            ok: true,
            skipped: true,
            directive: format!(" # SKIP {} cannot run {} tasks at once", sched.name(), s.max_tasks),
            diags: Vec::new(),
            note: None,
        };
    }
    let o = s.run(&test.settings, sched.clone());
    let found = verdict(&o);
    let Some(expect) = s.expected_under(&test.settings, sched) else {
        // One real-thread run of an interleaving-dependent scenario: any verdict is acceptable,
        // and which one happens varies from run to run, so it goes to stderr to keep stdout
        // byte-identical across runs.
        let replay = match o.first_report() {
            Some(r) if r.replayable => format!(" (replay: ksim replay {})", r.token),
            Some(_) => reproduce_line(s, &test.settings, &o).map(|l| format!(" ({l})")).unwrap_or_default(),
            None => String::new(),
        };
        return Sub {
            ok: true,
            skipped: false,
            directive: String::new(),
            diags: vec![
                format!("executions: {}", o.executions),
                "verdict not checked: interleaving-dependent, one real-thread run (found: see stderr)"
                    .to_string(),
            ],
            note: Some(format!("{} {}: found {found}{replay}", test.name, sched.name())),
        };
    };
    let ok = matches(Some(&expect), &o);
    let mut diags = Vec::new();
    if let Some(r) = o.first_report() {
        diags.push(r.headline().to_string());
        match r.replayable {
            true => diags.push(format!("replay: ksim replay {}", r.token)),
            false => diags.extend(reproduce_line(s, &test.settings, &o)),
        }
    }
    diags.push(format!("executions: {}", o.executions));
    let directive =
        if ok { String::new() } else { format!(" # expected {}, found {found}", expected(&expect)) };
    Sub { ok, skipped: false, directive, diags, note: None }
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

/// `--verify-determinism`: runs the test twice per seed (once for unseeded schedulers) and
/// fails the subtest at the first pair of outcomes that differ.
fn determinism(test: &Test<'_>, sched: &Scheduler, seeds: usize, sub: &mut Sub) {
    if sub.skipped || matches!(sched, Scheduler::Std) {
        return;
    }
    let base = match sched {
        Scheduler::Random { seed, .. } | Scheduler::Pct { seed, .. } => Some(*seed),
        _ => None,
    };
    let runs: Vec<Scheduler> = match base {
        Some(b) => (0..seeds as u64).map(|i| reseeded(sched, b.wrapping_add(i))).collect(),
        None => vec![sched.clone()],
    };
    for s in &runs {
        let (a, b) =
            (test.scenario.run(&test.settings, s.clone()), test.scenario.run(&test.settings, s.clone()));
        if fingerprint(&a) != fingerprint(&b) {
            sub.ok = false;
            sub.directive = format!(" # nondeterministic: two runs of {s} differ");
            return;
        }
    }
    sub.diags.push(format!("deterministic: {} run pair(s) byte-identical", runs.len()));
}

/// The KTAP text and whether every subtest passed.
fn ktap(tests: &[Test<'_>], schedulers: &[Scheduler], subs: &[Sub]) -> (String, bool) {
    let mut t = format!("KTAP version 1\n1..{}\n", tests.len());
    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    for (i, (test, subs)) in tests.iter().zip(subs.chunks(schedulers.len())).enumerate() {
        t.push_str(&format!("    KTAP version 1\n    # Subtest: {}\n    1..{}\n", test.name, subs.len()));
        for (j, (sub, sched)) in subs.iter().zip(schedulers).enumerate() {
            for d in &sub.diags {
                t.push_str(&format!("    # {d}\n"));
            }
            let ok = if sub.ok { "ok" } else { "not ok" };
            t.push_str(&format!("    {ok} {} {}{}\n", j + 1, sched.name(), sub.directive));
        }
        let p = subs.iter().filter(|s| s.ok && !s.skipped).count();
        let f = subs.iter().filter(|s| !s.ok).count();
        let k = subs.iter().filter(|s| s.skipped).count();
        t.push_str(&format!("    # {}: pass:{p} fail:{f} skip:{k} total:{}\n", test.name, subs.len()));
        let ok = if f == 0 { "ok" } else { "not ok" };
        let skipped = if k == subs.len() { " # SKIP" } else { "" };
        t.push_str(&format!("{ok} {} {}{skipped}\n", i + 1, test.name));
        (pass, fail, skip) = (pass + p, fail + f, skip + k);
    }
    t.push_str(&format!("# Totals: pass:{pass} fail:{fail} skip:{skip} total:{}\n", pass + fail + skip));
    (t, fail == 0)
}
