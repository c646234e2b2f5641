//! The C face's locks (`raw_spinlock_t`, `rwlock_t`, `struct rw_semaphore`, `spinlock_t`,
//! `mutex_lock_interruptible`) from C (`tests/c/locks.c`): lockdep's irq-safety report for a
//! lock a C interrupt handler takes, the wait-context report for a `spinlock_t` inside a
//! `raw_spinlock_t`, the irq state every irq form leaves, reader/writer semantics, and an
//! `rw_semaphore` sleeping under a spinlock — each report at the C line.

mod common;

use common::{assert_lines_in_order, only_report, run_c, site, Module};
use ksim::check::expect_eq;
use ksim::prelude::*;

const M: &str = "locks";

fn irq_and_process(m: &Module, entry: &str) {
    expect_eq(m.call("locks_setup"), 0, "locks_setup");
    expect_eq(m.call(entry), 0, entry);
    generate_irq(7);
    expect_eq(m.call("locks_teardown"), 0, "locks_teardown");
}

#[test]
fn c_lock_taken_in_irq_handler_and_with_irqs_on_is_inconsistent_lock_state() {
    let m = Module::new(M);
    let o = run_c(Config::modern(), &m, |m| irq_and_process(m, "locks_count_plain"));
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::InconsistentLockState);
    assert_eq!(r.task, "irq/7-locks");
    assert_eq!(r.headline(), "WARNING: inconsistent lock state");
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: inconsistent lock state",
            "inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage.",
            "irq/7-locks/2 [HC1[1]:SC0[0]:HE0:SE1] takes:",
            &format!(" (&dev.lock){{?.+.}}, at: {}", site(M, "irq_lock")),
            "{HARDIRQ-ON-W} state was registered at:",
            &format!("  spin_lock at {} <- locks_count_plain", site(M, "task_lock")),
            " Possible unsafe locking scenario:",
            "       CPU0",
            "  lock(&dev.lock);",
            "  <Interrupt>",
            "    lock(&dev.lock);",
            " *** DEADLOCK ***",
            "Call trace (simulated):",
        ],
    );
    assert!(r.text.contains("locks_irq"), "the C handler's frame:\n{}", r.text);
}

#[test]
fn c_irq_forms_keep_irq_state_and_the_irqsave_fix_is_clean() {
    let m = Module::new(M);
    let o = run_c(Config::modern(), &m, |m| irq_and_process(m, "locks_count_irqsave"));
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn c_spinlock_inside_raw_spinlock_is_invalid_wait_context_when_checked() {
    let m = Module::new(M);
    let body = |m: &Module| {
        expect_eq(m.call("locks_setup"), 0, "locks_setup");
        expect_eq(m.call("locks_nest_in_raw"), 0, "locks_nest_in_raw");
        expect_eq(m.call("locks_teardown"), 0, "locks_teardown");
    };
    let off = run_c(Config::modern(), &m, body);
    assert!(off.is_clean(), "wait_context off: {:#?}", off.reports);
    let o = run_c(Config::modern().wait_context(true), &m, body);
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::InvalidWaitContext);
    assert_lines_in_order(
        &r.text,
        &[
            "[ BUG: Invalid wait context ]",
            "main/1 is trying to lock:",
            &format!(" (&dev.lock){{+.+.}}-{{3:3}}, at: {}", site(M, "inner")),
            "other info that might help us debug this:",
            "context-{5:5}",
            "1 lock held by main/1:",
            &format!(" #0: (&dev.raw){{+.+.}}-{{2:2}}, at: {}", site(M, "raw")),
        ],
    );
    let fixed = run_c(Config::modern().wait_context(true), &m, |m| {
        expect_eq(m.call("locks_setup"), 0, "locks_setup");
        expect_eq(m.call("locks_nest_fixed"), 0, "locks_nest_fixed");
        expect_eq(m.call("locks_teardown"), 0, "locks_teardown");
    });
    assert!(fixed.is_clean(), "{:#?}", fixed.reports);
}

#[test]
fn c_rwlock_rwsem_and_mutex_trylocks_follow_reader_writer_rules() {
    let m = Module::new(M);
    for runner in [Runner::std(), Runner::dfs(Some(2), Some(20)), Runner::pct(1, 2, 10)] {
        let mm = m.clone();
        let o = runner.run(move || {
            mm.reset();
            expect_eq(mm.call("locks_setup"), 0, "locks_setup");
            expect_eq(mm.call("locks_rw_semantics"), 0, "locks_rw_semantics");
            expect_eq(mm.call("locks_hold_write"), 0, "locks_hold_write");
            let other = mm.clone();
            let tried = kthread_run("trier", move || other.call("locks_try_while_held")).join();
            expect_eq(tried, 0, "trylocks of a rwsem and mutex another task holds");
            expect_eq(mm.call("locks_release_write"), 0, "locks_release_write");
            let other = mm.clone();
            let tried = kthread_run("trier", move || other.call("locks_try_when_free")).join();
            expect_eq(tried, 0, "trylocks of free locks");
            expect_eq(mm.call("locks_teardown"), 0, "locks_teardown");
        });
        assert!(o.is_clean(), "{:#?}", o.reports);
    }
}

#[test]
fn c_down_read_under_spinlock_sleeps_in_atomic_at_the_c_line() {
    let m = Module::new(M);
    let o = run_c(Config::modern(), &m, |m| {
        expect_eq(m.call("locks_setup"), 0, "locks_setup");
        m.call("locks_down_read_atomic");
    });
    let r = &o.reports[0];
    assert_eq!(r.kind, Violation::SleepInAtomic, "{:#?}", o.reports);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", site(M, "down_read")),
            "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
            "preempt_count: 1, expected: 0",
        ],
    );
}
