//! `ksim check`: KTAP structure, exit status, determinism.

#![forbid(unsafe_code)]

mod common;

use common::{code, ksim, stdout};

const SCHEDULERS: &[&str] = &["std", "random", "pct", "dfs", "loom"];

/// Checks KTAP version 1 structure (kunit layout) and returns the parent tests' (ok, name).
fn parse_ktap(text: &str) -> Vec<(bool, String)> {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "KTAP version 1");
    let n: usize = lines[1].strip_prefix("1..").expect("plan line").parse().expect("plan count");
    let mut i = 2;
    let mut parents = Vec::new();
    for number in 1..=n {
        assert_eq!(lines[i], "    KTAP version 1", "subtest {number} header");
        let name = lines[i + 1].strip_prefix("    # Subtest: ").expect("subtest name line").to_string();
        let m: usize = lines[i + 2].strip_prefix("    1..").expect("subtest plan").parse().expect("count");
        i += 3;
        let mut sub = 0;
        let mut all_ok = true;
        while sub < m {
            let l = lines[i];
            i += 1;
            if l.starts_with("    # ") {
                continue; // diagnostic
            }
            sub += 1;
            let rest = match l.strip_prefix("    ok ") {
                Some(r) => r,
                None => {
                    all_ok = false;
                    l.strip_prefix("    not ok ").unwrap_or_else(|| panic!("result line, got {l:?}"))
                }
            };
            let (num, name) = rest.split_once(' ').expect("number and name");
            assert_eq!(num.parse::<usize>().unwrap(), sub, "subtests are numbered in order");
            assert!(!name.is_empty());
        }
        assert!(lines[i].starts_with(&format!("    # {name}: pass:")), "subtest totals");
        i += 1;
        let parent = lines[i];
        i += 1;
        let want = format!("{} {number} {name}", if all_ok { "ok" } else { "not ok" });
        assert!(parent == want || parent.starts_with(&format!("{want} # SKIP")), "{parent:?} != {want:?}");
        parents.push((all_ok, name));
    }
    assert!(lines[i].starts_with("# Totals: pass:"));
    assert_eq!(i + 1, lines.len(), "nothing after the totals");
    parents
}

#[test]
fn check_prints_kunit_style_ktap() {
    let o = ksim(&["check", "demo-race", "demo-abba"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let text = stdout(&o);
    let parents = parse_ktap(&text);
    let names: Vec<&str> = parents.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "demo-race mode=observed",
            "demo-race mode=contract",
            "demo-abba mode=observed",
            "demo-abba mode=contract"
        ]
    );
    // Every block has one subtest per scheduler, named after it, in this order.
    let block: Vec<&str> = text
        .split("    # Subtest: demo-abba mode=observed\n")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("    ok ") || l.starts_with("    not ok "))
        .take(5)
        .collect();
    for (i, (line, s)) in block.iter().zip(SCHEDULERS).enumerate() {
        assert_eq!(*line, format!("    ok {} {s}", i + 1));
    }
    assert!(text.contains("    # WARNING: possible circular locking dependency detected\n"));
    assert!(text.contains("    # replay: ksim replay demo-abba/pct:seed=1:depth=3:iters=200/e0\n"));
    assert!(text.contains("    # executions: "));
}

#[test]
fn check_exits_zero_when_every_verdict_matches() {
    let o = ksim(&["check", "demo-irq-sleep", "--config", "fixed=yes"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(parse_ktap(&stdout(&o)).iter().all(|(ok, _)| *ok));
}

#[test]
fn check_exits_one_on_a_mismatch() {
    // Without CONFIG_PREEMPT_COUNT a spinlock is invisible to might_sleep(): the race is then
    // not found, but the scenario expects it.
    let o = ksim(&["check", "demo-race", "--config", "preempt_count=off", "--mode", "observed"]);
    assert_eq!(code(&o), 1);
    let text = stdout(&o);
    assert_eq!(parse_ktap(&text), [(false, "demo-race mode=observed preempt_count=off".to_string())]);
    assert!(text.contains("    not ok 3 pct # expected sleep-in-atomic, found clean\n"), "{text}");
    // The std run of an interleaving-dependent scenario is not held to the expectation.
    assert!(text.contains("    ok 1 std\n"));
}

#[test]
fn check_output_is_deterministic() {
    let first = ksim(&["check", "demo-race"]);
    let second = ksim(&["check", "demo-race"]);
    assert_eq!(stdout(&first), stdout(&second));
    let serial = ksim(&["check", "demo-race", "--jobs", "1"]);
    assert_eq!(stdout(&first), stdout(&serial), "the output does not depend on --jobs");
}

#[test]
fn check_one_scheduler_and_mode() {
    let o = ksim(&["check", "demo-race", "--scheduler", "pct:seed=7:depth=2:iters=50", "--mode", "contract"]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.starts_with(
        "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: demo-race mode=contract\n    1..1\n"
    ));
    assert!(text.contains("    # replay: ksim replay demo-race/pct:seed=7:depth=2:iters=50/e"), "{text}");
}

#[test]
fn check_without_arguments_runs_the_whole_catalogue() {
    let o = ksim(&["check"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let parents = parse_ktap(&stdout(&o));
    // Each scenario in both modes, on every brd generation it runs.
    let variants: usize = ksim_scenarios::catalogue::all().iter().map(|s| s.drivers.len().max(1)).sum();
    assert_eq!(parents.len(), 2 * variants);
}

#[test]
fn check_verify_determinism_compares_run_pairs_per_seed() {
    let o = ksim(&["check", "demo-race", "--mode", "observed", "--verify-determinism", "--seeds", "5"]);
    assert_eq!(code(&o), 0, "{}", common::stderr(&o));
    let out = stdout(&o);
    // random and pct: one pair per seed; dfs and loom: one pair; std: not checked.
    assert_eq!(out.matches("# deterministic: 5 run pair(s) byte-identical").count(), 2, "{out}");
    assert_eq!(out.matches("# deterministic: 1 run pair(s) byte-identical").count(), 2, "{out}");
}
