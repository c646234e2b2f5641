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

#[test]
fn std_run_of_several_tasks_names_a_deterministic_replay_instead() {
    // dax-atomic-vs-flush races three tasks: under std each run may end differently, so no std
    // token is offered; the command offered instead reproduces the same kind of failure.
    for _ in 0..3 {
        let o = ksim(&["run", "dax-atomic-vs-flush", "--scheduler", "std"]);
        let text = stdout(&o);
        assert!(!text.contains("/std/e"), "{text}");
        let Some(line) = text.lines().find(|l| l.starts_with("replay: ")) else { continue };
        let cmd = line
            .strip_prefix("replay: none (std, 3 tasks on real threads); reproduce with: ksim replay ")
            .unwrap_or_else(|| panic!("{line}"));
        let verdict = |t: &str| t.lines().find_map(|l| l.strip_prefix("verdict:    ")).map(str::to_string);
        let replayed = ksim(&["replay", cmd]);
        assert_eq!(code(&replayed), 0, "{}", stdout(&replayed));
        assert_eq!(verdict(&stdout(&replayed)), verdict(&text), "{cmd} reproduces the kind");
    }
    // A std token of it is refused in one line that names a replayable command.
    let o = ksim(&["replay", "dax-atomic-vs-flush/std/e0"]);
    assert_eq!(code(&o), 2);
    let err = common::stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("names a std run of 3 tasks on real threads"), "{err}");
    assert!(err.contains("reproduce it with: ksim replay dax-atomic-vs-flush/"), "{err}");
}
