//! Wait queues from C (`tests/c/waits.c`): `wait_event()` under a spinlock is a sleep in
//! atomic context at the C line (whether or not it would sleep); a producer and consumer
//! hand over in every interleaving; two tasks each waiting for the other is ksim's deadlock
//! report naming each C wait; the timeout and interruptible forms return the kernel's values.

mod common;

use common::{assert_lines_in_order, only_report, run_c, site, Module};
use ksim::check::expect_eq;
use ksim::errno::Errno;
use ksim::prelude::*;
use ksim::sched::send_sig;

const M: &str = "waits";

fn hand_over(m: &Module, producer: &'static str) {
    expect_eq(m.call("waits_setup"), 0, "waits_setup");
    let c = m.clone();
    let consumer = kthread_run("consumer", move || c.call("waits_consume"));
    expect_eq(m.call(producer), 0, producer);
    expect_eq(consumer.join(), 0, "waits_consume");
}

#[test]
fn c_wait_event_hands_over_in_every_interleaving() {
    let m = Module::new(M);
    for runner in [Runner::std(), Runner::dfs(Some(3), None), Runner::loom(Some(2)), Runner::pct(1, 3, 50)] {
        let spec = runner.spec().scheduler.to_string();
        let mm = m.clone();
        let o = runner.run(move || {
            mm.reset();
            hand_over(&mm, "waits_produce");
        });
        assert!(o.is_clean(), "{spec}: {:#?}", o.reports);
    }
}

#[test]
fn c_every_task_waiting_is_a_deadlock_report_naming_each_c_wait() {
    let m = Module::new(M);
    for runner in [Runner::std(), Runner::dfs(Some(2), None), Runner::random(1, 10)] {
        let spec = runner.spec().scheduler.to_string();
        let mm = m.clone();
        let o = runner.run(move || {
            mm.reset();
            hand_over(&mm, "waits_produce_after_ack");
        });
        let r = o.first_report().unwrap_or_else(|| panic!("{spec}: the deadlock is reported"));
        assert_eq!(r.kind, Violation::Deadlock, "{spec}: {}", r.text);
        assert_lines_in_order(
            &r.text,
            &[
                "ksim: deadlock: every task is blocked",
                &format!("main/1 sleeps in wait_event()(&ack_wq) at {}", site(M, "ack_first")),
                &format!("consumer/2 sleeps in wait_event()(data_wq) at {}", site(M, "consume")),
            ],
        );
    }
}

#[test]
fn c_wait_event_under_spin_lock_sleeps_in_atomic_at_the_c_line() {
    let m = Module::new(M);
    let o = run_c(Config::modern(), &m, |m| {
        m.call("waits_under_lock");
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", site(M, "wait_locked")),
            "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
            "preempt_count: 1, expected: 0",
        ],
    );
}

#[test]
fn c_wait_event_timeout_and_interruptible_return_the_kernels_values() {
    let m = Module::new(M);
    let o = run_c(Config::modern(), &m, |m| {
        expect_eq(m.call("waits_timeout"), 0, "waits_timeout");
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    let o = run_c(Config::modern(), &m, |m| {
        let w = m.clone();
        let waiter = kthread_run("waiter", move || w.call("waits_interruptible"));
        send_sig(waiter.pid);
        let r = waiter.join();
        expect_eq(r, -Errno::ERESTARTSYS.code(), "the signal ends the wait");
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}
