//! Runs the built `ksim` binary, with the variables that would change a run removed.

#![allow(dead_code)] // each test file uses a different part

use std::process::{Command, Output};

/// Variables that ksim refuses (they would silently override a run's scheduler settings).
pub const OVERRIDES: &[&str] = &[
    "SHUTTLE_RANDOM_SEED",
    "LOOM_MAX_PREEMPTIONS",
    "LOOM_MAX_BRANCHES",
    "LOOM_CHECKPOINT_FILE",
    "LOOM_CHECKPOINT_INTERVAL",
    "LOOM_MAX_DURATION",
    "LOOM_MAX_PERMUTATIONS",
    "LOOM_LOG",
    "LOOM_LOCATION",
];

pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ksim"));
    c.args(args);
    for v in OVERRIDES {
        c.env_remove(v);
    }
    c
}

pub fn ksim(args: &[&str]) -> Output {
    command(args).output().expect("the ksim binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("ksim exited (not killed by a signal)")
}
