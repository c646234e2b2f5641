//! `ksim run` and `ksim replay`: reports in full, the summary, and byte-identical replay.

#![forbid(unsafe_code)]

mod common;

use common::{code, ksim, stdout};

fn replay_token(run_output: &str) -> String {
    run_output
        .lines()
        .find_map(|l| l.strip_prefix("replay: ksim replay "))
        .expect("a failing run prints its replay command")
        .to_string()
}

#[test]
fn run_prints_reports_then_summary() {
    let o = ksim(&["run", "demo-race"]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.starts_with("BUG: sleeping function called from invalid context at "), "{text}");
    assert!(text.contains("preempt_count: 1, expected: 0\n"));
    assert!(text.contains("Call trace (simulated):\n"));
    assert!(text.contains("\nscenario:   demo-race\n"));
    assert!(text.contains("\nscheduler:  pct:seed=1:depth=3:iters=200\n"), "the spec, not the typed name");
    assert!(text.contains("\nverdict:    sleep-in-atomic\nexpected:   sleep-in-atomic\nresult:     ok\n"));
}

#[test]
fn run_fixed_variant_is_clean() {
    let o = ksim(&["run", "demo-race", "--config", "fixed=yes", "--scheduler", "dfs"]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.starts_with("scenario:   demo-race\nconfig:     fixed=yes\n"), "{text}");
    assert!(text.contains("\nverdict:    clean\n"));
}

#[test]
fn run_exits_one_on_a_mismatch() {
    let o = ksim(&["run", "demo-race", "--config", "preempt_count=off", "--scheduler", "loom"]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).ends_with("verdict:    clean\nexpected:   sleep-in-atomic\nresult:     MISMATCH\n"));
}

#[test]
fn replay_prints_what_the_run_printed() {
    let cases: &[&[&str]] = &[
        &["run", "demo-race"],
        &["run", "demo-race", "--scheduler", "random", "--seed", "9"],
        &["run", "demo-race", "--scheduler", "dfs", "--mode", "contract"],
        &["run", "demo-race", "--scheduler", "loom", "--config", "profile=4.0,rcu=preempt"],
        &["run", "demo-race", "--scheduler", "pct:seed=7:depth=2:iters=50"],
        &["run", "demo-abba", "--scheduler", "pct"],
        &["run", "demo-irq-sleep", "--scheduler", "random", "--iterations", "3"],
    ];
    for args in cases {
        let run = ksim(args);
        let token = replay_token(&stdout(&run));
        let replay = ksim(&["replay", &token]);
        assert_eq!(stdout(&run), stdout(&replay), "{args:?} replayed by {token}");
        assert_eq!(code(&run), code(&replay));
        assert!(replay.stderr.is_empty(), "the replay failed the same way");
    }
}
