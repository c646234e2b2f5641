//! Interrupt handlers, tasklets, workqueues and kthreads: sleeping in a handler, punting to a
//! workqueue, flush semantics, and the exit checks that catch a leaked lock or atomic section.
//!
//! Budgets: PCT with 50 iterations over bodies of two or three tasks with a handful of
//! scheduling points each; DFS with a preemption bound of 2 where every interleaving matters.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::{assert_lines_in_order, only_report, Lines, Probe};
use ksim::atomic::Atomic;
use ksim::interrupt::Tasklet;
use ksim::prelude::*;

const FILE: &str = file!();

/// A device on irq 7 whose handler either sleeps or punts the sleep to a work item.
fn irq_device(punt: bool, lines: Lines) -> impl Fn() + Send + Sync + 'static {
    move || {
        let work = WorkStruct::new("dev_bottom_half", || msleep(1));
        let w = work.clone();
        let l = lines.clone();
        let handler = move |_| {
            if punt {
                schedule_work(&w);
            } else {
                at!(l, "sleep", msleep(1));
            }
            IrqReturn::Handled
        };
        at!(lines, "request", request_irq(7, "dev", handler)).expect("irq 7 is free");
        generate_irq(7);
        free_irq(7);
        flush_work(&work);
    }
}

#[test]
fn interrupt_handler_that_sleeps_is_reported() {
    for cfg in common::profiles() {
        let modern = cfg.profile == Profile::Modern;
        let lines = Lines::new();
        let o = Runner::pct(1, 2, 50).config(cfg).run(irq_device(false, lines.clone()));
        let r = o.first_report().expect("a sleeping handler is found in every interleaving");
        assert_eq!(r.execution, 0);
        assert_eq!(r.kind, Violation::SleepInAtomic);
        assert_eq!(r.task, "irq/7-dev");
        let header = if modern {
            "in_atomic(): 1, irqs_disabled(): 1, non_block: 0, pid: 2, name: irq/7-dev"
        } else {
            "in_atomic(): 1, irqs_disabled(): 1, pid: 2, name: irq/7-dev"
        };
        let mut want = vec![
            format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "sleep")),
            header.to_string(),
        ];
        if modern {
            want.push("preempt_count: 10000, expected: 0".to_string());
        }
        // The handler's entry disabled hardirqs: the stamp names it (where it was installed).
        want.extend([
            "no locks held by irq/7-dev/2.".to_string(),
            "irq event stamp: 1".to_string(),
            "hardirqs last  enabled at (0): (none)".to_string(),
            format!("hardirqs last disabled at (1): {} handle_irq_event", lines.site(FILE, "request")),
        ]);
        want.extend(["Call trace (simulated):".to_string(), " msleep() <- dev".to_string()]);
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        assert_lines_in_order(&r.text, &want);
    }
}

#[test]
fn interrupt_handler_punting_to_a_workqueue_is_clean() {
    let o = Runner::pct(1, 2, 50).run(irq_device(true, Lines::new()));
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert!(o.executions > 1);
}

#[test]
fn interrupt_handler_enabling_irqs_is_reported() {
    let o = Runner::std().run(move || {
        request_irq(7, "dev", move |_| {
            local_irq_enable();
            IrqReturn::Handled
        })
        .expect("free");
        generate_irq(7);
        synchronize_irq(7);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UnbalancedContext);
    assert_eq!(r.task, "irq/7-dev");
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: irq 7 handler irq/7-dev enabled interrupts",
            "preempt_count: 10000, expected: 10000, irqs_disabled(): 0, RCU depth: 0, non_block: 0",
            "no locks held by irq/7-dev/2.",
        ],
    );
}

#[test]
fn interrupt_handler_returning_with_preempt_disabled_is_reported() {
    let o = Runner::std().run(|| {
        request_irq(8, "leaky", |_| {
            preempt_disable();
            IrqReturn::Handled
        })
        .expect("free");
        generate_irq(8);
        free_irq(8);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UnbalancedContext);
    assert_eq!(
        r.headline(),
        "WARNING: irq 8 handler irq/8-leaky returned with preempt_count 00010001, entered with 00010000"
    );
}

#[test]
fn interrupt_tasklet_leaving_bh_disabled_is_reported() {
    let o = Runner::std().run(|| {
        let t = Tasklet::new("leaky_tasklet", local_bh_disable);
        tasklet_schedule(&t);
        tasklet_kill(&t);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UnbalancedContext);
    assert_eq!(r.task, "ksoftirqd/leaky_tasklet");
    assert_eq!(
        r.headline(),
        "huh, entered softirq ksoftirqd/leaky_tasklet with preempt_count 00000100, exited with 00000300?"
    );
}

#[test]
fn interrupt_tasklet_that_sleeps_is_reported_in_softirq_context() {
    let o = Runner::std().run(|| {
        let t = Tasklet::new("sleepy_tasklet", || msleep(1));
        tasklet_schedule(&t);
        tasklet_kill(&t);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 2, name: ksoftirqd/sleepy_tasklet",
            "preempt_count: 100, expected: 0",
            " msleep() <- sleepy_tasklet",
        ],
    );
}

#[test]
fn interrupt_tasklet_schedule_while_pending_is_a_no_op() {
    let (o, seen) = common::run_std(Config::modern(), |p: &Probe<i64>| {
        let runs = Arc::new(Atomic::new(0));
        let r = runs.clone();
        let t = Tasklet::new("once", move || r.inc());
        let first = tasklet_schedule(&t);
        tasklet_kill(&t);
        let again = tasklet_schedule(&t);
        tasklet_kill(&t);
        p.push(first as i64);
        p.push(again as i64);
        p.push(runs.read());
    });
    assert!(o.is_clean());
    assert_eq!(seen, [1, 1, 2]);
}

#[test]
fn workqueue_queue_work_under_spinlock_with_sleeping_work_is_clean() {
    let ran = Probe::new();
    let r = ran.clone();
    let o = Runner::pct(3, 3, 50).run(move || {
        let wq = alloc_workqueue("deferred");
        let r = r.clone();
        let work = WorkStruct::new("sleepy_work_fn", move || {
            might_sleep();
            msleep(5);
            mutex_lock(&Mutex::new((), "work_mutex")).unlock();
            r.push(());
        });
        let lock = SpinLock::new((), "submit.lock");
        {
            let _g = spin_lock_irqsave(&lock);
            // queue_work() does not sleep: fine under a spinlock with irqs off.
            assert!(queue_work(&wq, &work));
        }
        flush_work(&work);
        destroy_workqueue(wq);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert!(o.executions > 1);
    assert_eq!(ran.values().len() as u64, o.executions, "the work ran once per execution");
}

/// The main task queues a work item that sleeps, then publishes a value; with `flush` the main
/// task waits for it before reading.
///
/// The main task does one atomic operation before the read: a sleep is a yield, and the model
/// checkers (loom, DFS, PCT) let a task that yielded run again only after another task made
/// progress, so the worker can finish before the read only if main has a scheduling point
/// before it.
fn publish(flush: bool, seen: Probe<(i64, bool)>) -> impl Fn() + Send + Sync + 'static {
    move || {
        let value = Arc::new(Atomic::new(0));
        let steps = Atomic::new(0);
        let v = value.clone();
        let work = WorkStruct::new("publish_fn", move || {
            msleep(1);
            v.set(42);
        });
        schedule_work(&work);
        steps.inc();
        let waited = if flush { flush_work(&work) } else { false };
        seen.push((value.read(), waited));
        // Do not leave the worker running past the end of the body.
        flush_work(&work);
    }
}

#[test]
fn workqueue_flush_work_waits_for_the_work() {
    let seen = Probe::new();
    let o = Runner::dfs(Some(2), None).run(publish(true, seen.clone()));
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert!(o.executions > 1);
    let seen = seen.values();
    assert_eq!(seen.len() as u64, o.executions);
    assert!(seen.iter().all(|s| *s == (42, true)), "{seen:?}");
}

#[test]
fn workqueue_without_flush_the_work_may_not_have_run() {
    // The control for the test above: the scheduler does explore both orders.
    let seen = Probe::new();
    let o = Runner::dfs(Some(2), None).run(publish(false, seen.clone()));
    assert!(o.is_clean());
    let seen = seen.values();
    assert!(seen.contains(&(0, false)) && seen.contains(&(42, false)), "{seen:?}");
}

#[test]
fn workqueue_queue_work_while_pending_is_a_no_op() {
    // Under shuttle, queueing is not a scheduling point: the worker cannot start (and clear
    // PENDING) between the two calls.
    let seen = Probe::new();
    let p = seen.clone();
    let o = Runner::pct(1, 2, 20).run(move || {
        let wq = alloc_workqueue("wq");
        let work = WorkStruct::new("idle_fn", || ());
        let first = queue_work(&wq, &work);
        let pending = work.pending();
        let second = queue_work(&wq, &work);
        flush_workqueue(&wq);
        p.push([first, pending, second, work.pending()]);
    });
    assert!(o.is_clean());
    let seen = seen.values();
    assert_eq!(seen.len() as u64, o.executions);
    assert!(seen.iter().all(|s| *s == [true, true, false, false]), "{seen:?}");
}

#[test]
fn workqueue_work_leaving_preempt_disabled_is_reported() {
    let o = Runner::std().run(|| {
        let work = WorkStruct::new("leaky_work_fn", preempt_disable);
        schedule_work(&work);
        flush_work(&work);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UnbalancedContext);
    assert_eq!((r.task.as_str(), r.pid), ("kworker/events", 2));
    assert_lines_in_order(
        &r.text,
        &[
            "BUG: workqueue leaked lock or atomic: kworker/events/0x00000001/2",
            "     last function: leaky_work_fn",
            "preempt_count: 1, expected: 0, irqs_disabled(): 0, RCU depth: 0, non_block: 0",
            "no locks held by kworker/events/2.",
        ],
    );
}

#[test]
fn workqueue_work_leaking_a_lock_is_reported() {
    let lines = Lines::new();
    let l = lines.clone();
    let o = Runner::std().run(move || {
        let lock = Arc::new(SpinLock::new((), "wq.lock"));
        let l = l.clone();
        let wq = alloc_workqueue("leak");
        let work = WorkStruct::new("lock_leak_fn", move || {
            std::mem::forget(at!(l, "lock", spin_lock(&lock)));
        });
        queue_work(&wq, &work);
        flush_work(&work);
    });
    let r = only_report(&o);
    assert_lines_in_order(
        &r.text,
        &[
            "BUG: workqueue leaked lock or atomic: kworker/leak/0x00000001/2",
            "     last function: lock_leak_fn",
            "1 lock held by kworker/leak/2:",
            &format!(" #0: (wq.lock){{+.+.}}, at: {}", lines.site(FILE, "lock")),
        ],
    );
}

#[test]
fn kthread_returning_with_a_leaked_spinlock_is_reported() {
    let lines = Lines::new();
    let l = lines.clone();
    let o = Runner::std().run(move || {
        let lock = Arc::new(SpinLock::new((), "leak.lock"));
        let l = l.clone();
        kthread_run("leaker", move || {
            std::mem::forget(at!(l, "lock", spin_lock(&lock)));
        })
        .join();
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UnbalancedContext);
    assert_eq!((r.task.as_str(), r.pid), ("leaker", 2));
    assert_lines_in_order(
        &r.text,
        &[
            "note: leaker[2] exited with preempt_count 1",
            "WARNING: leaker/2 still has locks held!",
            "preempt_count: 1, expected: 0, irqs_disabled(): 0, RCU depth: 0, non_block: 0",
            "1 lock held by leaker/2:",
            &format!(" #0: (leak.lock){{+.+.}}, at: {}", lines.site(FILE, "lock")),
            "Call trace (simulated):",
            " exit",
        ],
    );
}

#[test]
fn kthread_exit_checks_name_each_unbalanced_context() {
    type Case = (&'static str, fn(), &'static str);
    let cases: [Case; 4] = [
        ("preempt", preempt_disable, "note: k[2] exited with preempt_count 1"),
        ("irqs", local_irq_disable, "note: k[2] exited with irqs disabled"),
        // (Classic RCU also leaves preempt_count at 1: both notes are printed.)
        ("rcu", rcu_read_lock, "WARNING: k/2 exited inside an RCU read-side critical section"),
        ("non_block", non_block_start, "WARNING: k/2 exited with non_block 1"),
    ];
    for (what, leak, line) in cases {
        let o = Runner::std().run(move || kthread_run("k", leak).join());
        let r = only_report(&o);
        assert_eq!(r.kind, Violation::UnbalancedContext, "{what}");
        assert!(r.text.lines().any(|l| l == line), "{what}: {}", r.text);
    }
}

#[test]
fn kthread_main_task_is_exit_checked_too() {
    let o = Runner::std().run(|| local_bh_disable());
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UnbalancedContext);
    assert_eq!((r.task.as_str(), r.pid), ("main", 1));
    assert_eq!(r.headline(), "note: main[1] exited with preempt_count 512");
}

#[test]
fn preempt_count_underflow_is_reported() {
    let lines = Lines::new();
    let l = lines.clone();
    let o = Runner::std().run(move || at!(l, "enable", preempt_enable()));
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UnbalancedContext);
    assert_eq!(
        r.headline(),
        format!(
            "WARNING: preempt_count underflow: preempt_enable at {} subtracts 0x1 from 0x0",
            lines.site(FILE, "enable")
        )
    );
}

#[test]
fn kthread_pids_follow_spawn_order() {
    let (o, mut seen) = common::run_std(Config::modern(), |p: &Probe<(u32, String, u32)>| {
        let mut hs = Vec::new();
        for name in ["k-a", "k-b", "k-c"] {
            let q = p.clone();
            let h = kthread_run(name, move || {
                q.push((ksim::sched::current_pid(), ksim::sched::current_comm(), 0));
            });
            p.push((h.pid, name.to_string(), 1));
            hs.push(h);
        }
        for h in hs {
            h.join();
        }
    });
    assert!(o.is_clean());
    seen.sort();
    let want: Vec<(u32, String, u32)> = [(2, "k-a"), (3, "k-b"), (4, "k-c")]
        .into_iter()
        .flat_map(|(pid, n)| [(pid, n.to_string(), 0), (pid, n.to_string(), 1)])
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn interrupt_handler_irqsave_keeps_irqs_disabled() {
    let o = Runner::std().run(|| {
        request_irq(10, "saver", |_| {
            let l = SpinLock::new((), "saver.lock");
            let g = spin_lock_irqsave(&l);
            spin_unlock_irqrestore(g);
            let flags = local_irq_save();
            local_irq_restore(flags);
            IrqReturn::Handled
        })
        .expect("free");
        generate_irq(10);
        free_irq(10);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn interrupt_handler_spin_unlock_irq_enables_irqs_and_is_reported() {
    // spin_unlock_irq() enables irqs unconditionally: wrong in a handler, as the kernel warns.
    let o = Runner::std().run(|| {
        request_irq(11, "unlocker", |_| {
            let l = SpinLock::new((), "unlocker.lock");
            drop(spin_lock_irq(&l));
            IrqReturn::Handled
        })
        .expect("free");
        generate_irq(11);
        free_irq(11);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UnbalancedContext);
    assert_eq!(r.headline(), "WARNING: irq 11 handler irq/11-unlocker enabled interrupts");
}
