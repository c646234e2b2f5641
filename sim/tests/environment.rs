//! Environment variables that would silently change a run are rejected (the prototype's pitfall
//! 6). Environment variables are process-global, so these tests live in their own test binary
//! (their own process) and take `ENV` so that they never overlap one another.
#![forbid(unsafe_code)]

use std::sync::Mutex;

use ksim::prelude::*;

static ENV: Mutex<()> = Mutex::new(());

/// Runs `f` with `var=value` set, restoring the variable afterwards even if `f` panics.
fn with_var<T>(var: &str, value: &str, f: impl FnOnce() -> T) -> T {
    let _serial = ENV.lock().unwrap_or_else(|e| e.into_inner());
    struct Restore<'a>(&'a str, Option<std::ffi::OsString>);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            match self.1.take() {
                Some(v) => std::env::set_var(self.0, v),
                None => std::env::remove_var(self.0),
            }
        }
    }
    let _restore = Restore(var, std::env::var_os(var));
    std::env::set_var(var, value);
    f()
}

fn body() {
    let s = SpinLock::new((), "env.lock");
    drop(spin_lock(&s));
}

#[test]
fn environment_shuttle_random_seed_is_rejected_by_random_and_pct() {
    with_var("SHUTTLE_RANDOM_SEED", "12345", || {
        for runner in [Runner::random(1, 5), Runner::pct(1, 2, 5)] {
            let name = runner.spec().scheduler.name();
            let err = runner.try_run(body).expect_err(name);
            assert_eq!(
                err, "SHUTTLE_RANDOM_SEED is set and would override the run's seed; unset it",
                "{name}"
            );
        }
        // Schedulers that take no seed from it are unaffected.
        let o = Runner::dfs(Some(1), None).try_run(body).expect("dfs ignores SHUTTLE_RANDOM_SEED");
        assert!(o.is_clean());
        assert_eq!(o.executions, 1);
    });
}

#[test]
fn environment_loom_variables_are_rejected_by_loom() {
    for var in ["LOOM_MAX_PREEMPTIONS", "LOOM_MAX_BRANCHES", "LOOM_LOG"] {
        with_var(var, "3", || {
            let err = Runner::loom(Some(2)).try_run(body).expect_err(var);
            assert_eq!(err, format!("{var} is set and would change loom's exploration; unset it"));
            // The other backends do not read it.
            let o = Runner::pct(1, 2, 5).try_run(body).expect("pct ignores LOOM_*");
            assert!(o.is_clean());
        });
    }
}

#[test]
fn environment_run_panics_with_the_reason() {
    with_var("SHUTTLE_RANDOM_SEED", "1", || {
        let err = std::panic::catch_unwind(|| Runner::random(1, 5).run(body)).expect_err("run panics");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert_eq!(msg, "ksim: SHUTTLE_RANDOM_SEED is set and would override the run's seed; unset it");
    });
}

#[test]
fn environment_clean_environment_runs() {
    let _serial = ENV.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(std::env::var_os("SHUTTLE_RANDOM_SEED"), None, "run the tests without SHUTTLE_RANDOM_SEED");
    let o = Runner::random(1, 5).try_run(body).expect("no variables set");
    assert!(o.is_clean());
    assert_eq!(Runner::loom(Some(1)).check_environment(), Ok(()));
}
