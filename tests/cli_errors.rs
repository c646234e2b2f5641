//! Bad input: one line on stderr naming the problem and the valid choices, exit status 2,
//! nothing on stdout, never a panic.

#![forbid(unsafe_code)]

mod common;

use common::{code, command, ksim, stderr, stdout};

fn assert_usage_error(o: &std::process::Output, args: &[&str], names: &[&str]) {
    let err = stderr(o);
    assert_eq!(code(o), 2, "{args:?}: {err}");
    assert!(o.stdout.is_empty(), "{args:?}: stdout {}", stdout(o));
    assert_eq!(err.lines().count(), 1, "{args:?}: one line, got {err:?}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    for n in names {
        assert!(err.contains(n), "{args:?}: {err:?} should name {n:?}");
    }
}

#[test]
fn bad_input_is_one_line_and_status_two() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["check", "no-such"], &["unknown scenario 'no-such'", "demo-race"]),
        (&["run", "no-such"], &["unknown scenario 'no-such'", "demo-abba"]),
        (&["check", "--config", "colour=blue"], &["unknown config key 'colour'", "preempt_count"]),
        (&["check", "--config", "fixed=maybe"], &["invalid value 'maybe'", "no, yes"]),
        (&["run", "demo-race", "--config", "fixed"], &["not key=value"]),
        (&["check", "--scheduler", "fifo"], &["unknown scheduler 'fifo'", "pct"]),
        (&["run", "demo-race", "--scheduler", "pct:seed=1:depth=0:iters=5"], &["depth must be at least 1"]),
        (&["run", "demo-race", "--scheduler", "pct:seed=1:iters=5"], &["needs depth=N"]),
        (&["run", "demo-race", "--scheduler", "replay:"], &["malformed shuttle schedule"]),
        (&["check", "--seed", "seven"], &["seed", "0..=18446744073709551615"]),
        (&["check", "--seed", "-1"], &["seed"]),
        (&["run", "demo-race", "--seed", "18446744073709551616"], &["seed"]),
        (&["check", "--jobs", "0"], &["--jobs", "at least 1"]),
        (&["check", "--mode", "sideways"], &["sideways", "observed, contract, both"]),
        (&["replay", "garbage"], &["malformed replay token 'garbage'", "SCENARIO/SCHEDULER/eN"]),
        (&["replay", "demo-race/fifo/e0"], &["malformed replay token", "unknown scheduler 'fifo'"]),
        (&["replay", "demo-race/std/ex"], &["malformed replay token"]),
        (&["replay", "demo-race/replay:/e0"], &["malformed replay token", "schedule"]),
        (&["replay", "no-such/std/e0"], &["unknown scenario 'no-such'"]),
        (&["replay", "demo-race/std/e0/fixed=maybe"], &["invalid value 'maybe'"]),
        // A setting the scenario fixes (its kernel's profile) is refused, not silently dropped.
        (
            &["run", "dax-atomic-unpopulated", "--config", "profile=modern"],
            &["scenario 'dax-atomic-unpopulated' fixes config key 'profile' to '4.0'", "profile=modern"],
        ),
        (&["trace", "rcu-sleep", "--config", "rcu=classic"], &["fixes config key 'rcu' to 'preempt'"]),
        (&["trace", "demo-race", "--format", "xml"], &["xml", "text, jsonl, perfetto"]),
        (&["diff", "demo-race", "--vs", "colour=blue"], &["unknown config key 'colour'"]),
        (&["bench", "gpu"], &["unknown bench group 'gpu'", "core", "all"]),
        (&["frobnicate"], &["frobnicate", "check"]),
        (&[], &["missing command", "check"]),
        (&["check", "--frob"], &["--frob"]),
        (&["run"], &["SCENARIO"]),
    ];
    for (args, names) in cases {
        assert_usage_error(&ksim(args), args, names);
    }
}

#[test]
fn overriding_environment_is_refused() {
    let args = ["check", "demo-race", "--scheduler", "random"];
    let o = command(&args).env("SHUTTLE_RANDOM_SEED", "5").output().unwrap();
    assert_usage_error(&o, &args, &["SHUTTLE_RANDOM_SEED"]);
    let args = ["run", "demo-race", "--scheduler", "loom"];
    let o = command(&args).env("LOOM_MAX_PREEMPTIONS", "1").output().unwrap();
    assert_usage_error(&o, &args, &["LOOM_MAX_PREEMPTIONS"]);
}

#[test]
fn help_and_version_exit_zero() {
    for args in [&["--help"][..], &["check", "--help"], &["--version"]] {
        let o = ksim(args);
        assert_eq!(code(&o), 0, "{args:?}");
        assert!(!o.stdout.is_empty());
    }
}

#[test]
fn check_skips_a_scenario_whose_fixed_setting_the_user_overrides() {
    let o = ksim(&["check", "dax-atomic-unpopulated", "pmem-atomic", "--config", "profile=modern"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}");
    for sched in ["std", "random", "pct", "dfs", "loom"] {
        assert!(
            out.lines().any(|l| l.trim_start().ends_with(&format!(
                "{sched} # SKIP scenario 'dax-atomic-unpopulated' fixes config key 'profile' to '4.0' (it cannot run with profile=modern)"
            ))),
            "{out}"
        );
    }
    assert!(out.contains("ok 1 dax-atomic-unpopulated mode=observed # SKIP"), "{out}");
    // The same value as the scenario's own is honoured.
    let o = ksim(&["run", "dax-atomic-unpopulated", "--config", "profile=4.0"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("config:     profile=4.0"), "{}", stdout(&o));
}
