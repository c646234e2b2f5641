//! Swarm testing of the block drivers (`ksim_scenarios::swarm`): every seed builds a random but
//! valid combination of driver, workload, pre-population, fault plan, interrupt load, BLKFLSBUF
//! and scheduler, runs it, and the run checks itself against a shadow model. Correct usage must
//! be clean: any report fails the test with the case, the report (with its replay line) and the
//! command that reruns that seed alone.
//!
//! - `KSIM_SWARM_SEED=<n> cargo test --test swarm`: only seed `n` (and its full description);
//! - `KSIM_SWARM_CASES=<n> cargo test --test swarm`: seeds `1..=n` instead of the default.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::Instant;

use ksim::{Scheduler, Violation};
use ksim_scenarios::swarm::{Case, Driver, Faults, Op};

/// Seeds `1..=CASES` by default: about 2-3 s on two cores (debug profile of this workspace).
const CASES: u64 = 700;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

fn seeds() -> Vec<u64> {
    match env_u64("KSIM_SWARM_SEED") {
        Some(seed) => vec![seed],
        None => (1..=env_u64("KSIM_SWARM_CASES").unwrap_or(CASES)).collect(),
    }
}

fn failure(case: &Case, text: &str) -> String {
    format!(
        "swarm case failed: {case}\n{text}rerun this seed alone: KSIM_SWARM_SEED={} cargo test --test swarm -- --nocapture\n",
        case.seed
    )
}

#[test]
fn swarm_cases_are_clean() {
    // brd.c cases need the kernel tree: Debian's linux-source-6.1, installed when missing.
    ksim_c::source::tree_installing().unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    let seeds = seeds();
    let single = seeds.len() == 1;
    let mut failures = Vec::new();
    let mut by_driver: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_faults: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_sched: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut executions, mut ops, mut failed, mut fired, mut refused) = (0, 0, 0, 0, 0);
    for &seed in &seeds {
        let case = Case::generate(seed);
        if single {
            eprintln!("{case}");
        }
        *by_driver.entry(case.driver.to_string()).or_default() += 1;
        *by_faults
            .entry(match case.faults {
                Faults::None => "none",
                Faults::Probability { .. } => "probability",
                Faults::FailNth => "fail-nth",
            })
            .or_default() += 1;
        *by_sched.entry(case.scheduler.name()).or_default() += 1;
        let (o, tally) = match case.run() {
            Ok(r) => r,
            Err(e) => {
                failures.push(failure(&case, &format!("the run could not start: {e}\n")));
                continue;
            }
        };
        executions += o.executions;
        let (n, f, x, d) = tally.get();
        (ops, failed, fired, refused) = (ops + n, failed + f, fired + x, refused + d);
        if let Some(r) = o.first_report() {
            failures.push(failure(&case, &r.text));
        }
    }
    eprintln!(
        "swarm: {} cases in {:.2} s, {executions} executions, {ops} operations ({failed} writes failed by \
         injected faults, {fired} fail-nth fired, {refused} discards refused); drivers {by_driver:?}; faults \
         {by_faults:?}; schedulers {by_sched:?}",
        seeds.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} swarm cases failed:\n\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
}

#[test]
fn swarm_case_is_a_function_of_its_seed() {
    assert_eq!(Case::generate(7), Case::generate(7));
    assert_ne!(Case::generate(7), Case::generate(8));
    let cases: Vec<Case> = (1..=CASES).map(Case::generate).collect();
    // The default seeds cover every axis of the generator.
    for driver in [
        Driver::BrdV4_0 { dax: true },
        Driver::BrdV4_0 { dax: false },
        Driver::BrdV6_1,
        Driver::BrdV6_1C,
        Driver::BrdCurrent,
        Driver::PmemV4_1,
    ] {
        assert!(cases.iter().any(|c| c.driver == driver), "{driver}");
    }
    assert!(cases.iter().any(|c| c.faults == Faults::FailNth));
    assert!(cases.iter().any(|c| matches!(c.faults, Faults::Probability { slab: true, .. })));
    assert!(cases.iter().any(|c| c.faults == Faults::None));
    for name in ["random", "pct", "dfs", "loom"] {
        assert!(cases.iter().any(|c| c.scheduler.name() == name), "{name}");
    }
    let ops = |p: fn(&Op) -> bool| cases.iter().any(|c| c.workers.iter().flatten().any(p));
    assert!(ops(|o| matches!(o, Op::Write { nowait: true, .. })));
    assert!(ops(|o| matches!(o, Op::Write { fail_nth: Some(_), .. })));
    assert!(ops(|o| matches!(o, Op::Discard { .. })));
    assert!(ops(|o| matches!(o, Op::WritePage { .. })));
    assert!(ops(|o| matches!(o, Op::ReadPage { .. })));
    assert!(ops(|o| matches!(o, Op::Irq)));
    assert!(ops(|o| matches!(o, Op::Flush)));
    assert!(cases.iter().any(|c| c.flush_after && c.driver == Driver::BrdV4_0 { dax: true }));
    assert!(cases.iter().any(|c| c.prepopulate));
    assert!(cases.iter().any(|c| c.highmem));
    assert!(cases.iter().any(|c| c.workers.len() == 3));
    // loom only where it fits: at most 4 tasks including the main one.
    assert!(cases.iter().filter(|c| matches!(c.scheduler, Scheduler::Loom { .. })).all(|c| c.tasks() <= 4));
}

#[test]
fn swarm_tampered_shadow_is_an_integrity_report() {
    // A multi-kthread case with faults, so the check runs after real work.
    let mut case = (1..)
        .map(Case::generate)
        .find(|c| c.workers.len() > 1 && c.faults != Faults::None && c.driver.allocates())
        .expect("such a seed exists");
    let (o, _) = case.run().expect("runs");
    assert!(o.is_clean(), "{}", o.reports.iter().map(|r| r.text.as_str()).collect::<String>());
    case.tamper = true;
    let (o, _) = case.run().expect("runs");
    let r = o.first_report().expect("the shadow check bites");
    assert_eq!(r.kind, Violation::Integrity);
    assert!(r.text.contains("swarm: the whole device after every kthread finished: byte "), "{}", r.text);
    assert!(r.token.starts_with("adhoc/"), "{}", r.token);
    assert!(r.text.lines().any(|l| l.starts_with("replay: ") && l.contains(&r.token)), "{}", r.text);
    assert!(
        failure(&case, &r.text).contains(&format!("KSIM_SWARM_SEED={} cargo test --test swarm", case.seed))
    );
}

#[test]
fn swarm_rerun_of_a_seed_is_identical() {
    let case = (1..).map(Case::generate).find(|c| c.tasks() > 2).expect("a concurrent case");
    let (a, _) = case.run().expect("runs");
    let (b, _) = case.run().expect("runs");
    assert_eq!(a.executions, b.executions);
    assert_eq!(a.trace.text(), b.trace.text());
    assert_eq!(a.traces.len(), b.traces.len());
}
