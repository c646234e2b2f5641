//! Timers, hrtimers and delayed work from C (`tests/c/timers.c`): `del_timer_sync()` under a
//! lock the timer's callback takes is lockdep's circular dependency (found across the
//! executions of a DFS run), and from the callback itself recursive locking, at the C lines;
//! callbacks run in softirq (timer), hardirq (hrtimer) and process context (delayed work);
//! `cancel_delayed_work_sync()` under a spinlock sleeps in atomic context.

mod common;

use common::{assert_lines_in_order, only_report, run_c, site, Module};
use ksim::check::expect_eq;
use ksim::prelude::*;

const M: &str = "timers";

fn dfs_run(m: &Module, entry: &'static str) -> Outcome {
    let mm = m.clone();
    Runner::dfs(Some(2), None).run(move || {
        mm.reset();
        expect_eq(mm.call("timers_setup"), 0, "timers_setup");
        expect_eq(mm.call(entry), 0, entry);
    })
}

#[test]
fn c_del_timer_sync_under_a_lock_the_callback_takes_is_a_circular_dependency() {
    let m = Module::new(M);
    let o = dfs_run(&m, "timers_sync_under_lock");
    let r = o.first_report().expect("lockdep finds the cycle");
    assert_eq!(r.kind, Violation::LockOrderInversion, "{}", r.text);
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: possible circular locking dependency detected",
            "timer/&tdev.timer/2 is trying to acquire lock:",
            &format!(" (&tdev.lock){{+.-.}}, at: {}", site(M, "cb_lock")),
            "but task is already holding lock:",
            // The callback holds the timer's map from call_timer_fn(), named by its setup.
            &format!(" (&tdev.timer){{+.-.}}, at: {}", site(M, "setup")),
            "the existing dependency chain (in reverse order) is:",
            &format!(
                "       &tdev.timer taken at {} while holding &tdev.lock (taken at {}) by main/1",
                site(M, "sync_locked"),
                site(M, "bh_lock")
            ),
        ],
    );
    let fixed = dfs_run(&m, "timers_sync_then_lock");
    assert!(fixed.is_clean(), "{:#?}", fixed.reports);
}

#[test]
fn c_del_timer_sync_from_its_own_callback_is_recursive_locking() {
    let m = Module::new(M);
    let o = run_c(Config::modern(), &m, |m| {
        expect_eq(m.call("timers_setup"), 0, "timers_setup");
        m.call("timers_self_sync");
    });
    let r = o.first_report().expect("found");
    assert_eq!(r.kind, Violation::RecursiveLocking, "{}", r.text);
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: possible recursive locking detected",
            "timer/&tdev.self_timer/2 is trying to acquire lock:",
            &format!(" (&tdev.self_timer){{+.-.}}, at: {}", site(M, "self_sync")),
            "  lock(&tdev.self_timer);",
        ],
    );
}

#[test]
fn c_timer_hrtimer_and_delayed_work_callbacks_run_in_their_contexts() {
    let m = Module::new(M);
    for runner in [Runner::std(), Runner::pct(1, 3, 20)] {
        let mm = m.clone();
        let o = runner.run(move || {
            mm.reset();
            expect_eq(mm.call("timers_setup"), 0, "timers_setup");
            expect_eq(mm.call("timers_fire"), 0, "timers_fire");
        });
        assert!(o.is_clean(), "{:#?}", o.reports);
    }
}

#[test]
fn c_cancel_delayed_work_sync_under_spinlock_sleeps_in_atomic_at_the_c_line() {
    let m = Module::new(M);
    let o = run_c(Config::modern().panic_on_report(false), &m, |m| {
        expect_eq(m.call("timers_setup"), 0, "timers_setup");
        expect_eq(m.call("timers_cancel_sync_atomic"), 0, "timers_cancel_sync_atomic");
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", site(M, "cancel_locked")),
            "preempt_count: 1, expected: 0",
        ],
    );
}
