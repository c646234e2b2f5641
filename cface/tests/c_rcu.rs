//! PROVE_RCU from C (`tests/c/rcu.c`): `rcu_dereference()` outside a read-side section,
//! `rcu_dereference_check()` / `_protected()` whose `lockdep_is_held()` condition is false,
//! and `synchronize_rcu()` inside a section are "suspicious RCU usage" at the C line; the
//! same reads inside `rcu_read_lock()` or under the update lock are clean; `kfree_rcu()` /
//! `call_rcu()` free after the grace period, so a use after the reader's section is a use
//! after free of the C object.

mod common;

use common::{assert_lines_in_order, only_report, run_c, site, Module};
use ksim::check::expect_eq;
use ksim::prelude::*;

const M: &str = "rcu";

fn suspicious(entry: &'static str, tag: &str, what: &str) {
    let m = Module::new(M);
    let o = run_c(Config::modern().panic_on_report(false), &m, move |m| {
        expect_eq(m.call("rcu_setup"), 0, "rcu_setup");
        expect_eq(m.call(entry), 0, entry);
        expect_eq(m.call("rcu_teardown"), 0, "rcu_teardown");
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SuspiciousRcu);
    assert_eq!(r.headline(), "WARNING: suspicious RCU usage");
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: suspicious RCU usage",
            &format!("{} {what}!", site(M, tag)),
            "other info that might help us debug this:",
            "rcu_scheduler_active = 2, debug_locks = 1",
        ],
    );
    assert!(r.text.contains(entry), "the C caller's frame:\n{}", r.text);
}

#[test]
fn c_rcu_dereference_outside_a_read_section_is_suspicious() {
    suspicious("rcu_read_bare", "bare", "suspicious rcu_dereference_check() usage");
}

#[test]
fn c_rcu_dereference_check_without_the_update_lock_is_suspicious() {
    suspicious("rcu_check_unlocked", "check", "suspicious rcu_dereference_check() usage");
}

#[test]
fn c_rcu_dereference_protected_without_the_update_lock_is_suspicious() {
    suspicious("rcu_protected_unlocked", "protected", "suspicious rcu_dereference_protected() usage");
}

#[test]
fn c_rcu_reads_under_the_read_lock_or_the_update_lock_are_clean() {
    let m = Module::new(M);
    let o = run_c(Config::modern(), &m, |m| {
        expect_eq(m.call("rcu_setup"), 0, "rcu_setup");
        expect_eq(m.call("rcu_reads_fixed"), 0, "rcu_reads_fixed");
        expect_eq(m.call("rcu_teardown"), 0, "rcu_teardown");
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn c_synchronize_rcu_inside_a_read_section_is_reported_at_the_c_line() {
    let m = Module::new(M);
    let o = run_c(Config::modern().panic_on_report(false), &m, |m| {
        m.call("rcu_sync_in_reader");
    });
    // lockdep's report first, then might_sleep's (the non-preemptible read lock is atomic).
    assert_eq!(o.reports.len(), 2, "{:#?}", o.reports);
    let r = &o.reports[0];
    assert_eq!(r.kind, Violation::SuspiciousRcu);
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: suspicious RCU usage",
            &format!("{} Illegal synchronize_rcu() in RCU read-side critical section!", site(M, "sync")),
            "rcu_scheduler_active = 2, debug_locks = 1",
        ],
    );
    let r = &o.reports[1];
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", site(M, "sync")),
            "Preemption disabled at:",
        ],
    );
}

#[test]
fn c_kfree_rcu_frees_after_the_reader_and_a_late_use_is_a_use_after_free() {
    let m = Module::new(M);
    // The callback's task may run at any scheduling point; it still waits for the section of
    // the reader that queued it.
    for runner in [Runner::std(), Runner::random(1, 30), Runner::dfs(Some(2), Some(50))] {
        let spec = runner.spec().scheduler.to_string();
        let mm = m.clone();
        let o = runner.run(move || {
            mm.reset();
            expect_eq(mm.call("rcu_setup"), 0, "rcu_setup");
            expect_eq(mm.call("rcu_replace_fixed"), 0, "rcu_replace_fixed");
            expect_eq(mm.call("rcu_teardown"), 0, "rcu_teardown");
        });
        assert!(o.is_clean(), "{spec}: {:#?}", o.reports);
    }
    let o = run_c(Config::modern(), &m, |m| {
        expect_eq(m.call("rcu_setup"), 0, "rcu_setup");
        m.call("rcu_replace_late_use");
    });
    let r = &o.reports[0];
    assert_eq!(r.kind, Violation::UseAfterFree, "{:#?}", o.reports);
    assert!(r.text.contains("BUG: KASAN: use-after-free"), "{}", r.text);
    assert!(r.text.contains(&site(M, "late_use")), "{}", r.text);
    assert!(r.text.contains("Freed by task rcu_callback/"), "{}", r.text);
}
