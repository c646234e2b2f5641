//! Completions, wait queues, timers, hrtimers and delayed work: might_sleep on every waiting
//! call, a deadlock report (not a hang) when every task waits, timeouts and signals, timer
//! callbacks in softirq context, and the checks on del_timer_sync / timer_setup misuse.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::{assert_lines_in_order, only_report, run_lines, Lines};
use ksim::atomic::Atomic;
use ksim::completion::*;
use ksim::hrtimer::*;
use ksim::prelude::*;
use ksim::sched::send_sig;
use ksim::timer::*;
use ksim::wait::*;
use ksim::workqueue::{cancel_delayed_work_sync, schedule_delayed_work, DelayedWork};

const FILE: &str = file!();

fn handshake() {
    let done = Arc::new(Completion::new("done"));
    let d = done.clone();
    let waiter = kthread_run("waiter", move || wait_for_completion(&d));
    complete(&done);
    waiter.join();
}

#[test]
fn completion_wakes_its_waiter_in_every_interleaving() {
    for runner in [Runner::std(), Runner::dfs(Some(3), None), Runner::loom(Some(3)), Runner::pct(1, 3, 100)] {
        let spec = runner.spec().scheduler.to_string();
        let o = runner.run(handshake);
        assert!(o.is_clean(), "{spec}: {:#?}", o.reports);
    }
}

#[test]
fn completion_wait_under_a_spinlock_is_reported_even_when_done() {
    let (o, l) = run_lines(Config::modern(), |l| {
        let done = Completion::new("done");
        complete(&done);
        let lock = SpinLock::new((), "dev.lock");
        let _g = spin_lock(&lock);
        at!(l, "wait", wait_for_completion(&done));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_eq!(
        r.headline(),
        format!("BUG: sleeping function called from invalid context at {}", l.site(FILE, "wait"))
    );
    assert_lines_in_order(&r.text, &["Call trace (simulated):", " wait_for_completion()"]);
}

/// Two tasks each wait for a completion only the other would complete.
fn everyone_waits(l: &Lines) {
    let a = Arc::new(Completion::new("a_done"));
    let b = Arc::new(Completion::new("b_done"));
    let (a2, b2, l2) = (a.clone(), b.clone(), l.clone());
    let other = kthread_run("other", move || {
        at!(l2, "other", wait_for_completion(&b2));
        complete(&a2);
    });
    at!(l, "main", wait_for_completion(&a));
    complete(&b);
    other.join();
}

#[test]
fn completion_every_task_waiting_is_a_deadlock_report_not_a_hang() {
    let lines = Lines::new();
    for runner in [Runner::std(), Runner::dfs(Some(2), None), Runner::loom(Some(2)), Runner::random(1, 20)] {
        let spec = runner.spec().scheduler.to_string();
        let l = lines.clone();
        let o = runner.run(move || everyone_waits(&l));
        let r = o.first_report().unwrap_or_else(|| panic!("{spec}: the deadlock is reported"));
        assert_eq!(r.kind, Violation::Deadlock, "{spec}: {}", r.text);
        assert_lines_in_order(
            &r.text,
            &[
                "ksim: deadlock: every task is blocked",
                &format!("main/1 sleeps in wait_for_completion()(a_done) at {}", lines.site(FILE, "main")),
                &format!("other/2 sleeps in wait_for_completion()(b_done) at {}", lines.site(FILE, "other")),
            ],
        );
    }
}

#[test]
fn completion_all_releases_every_waiter_and_try_wait_never_sleeps() {
    let o = Runner::dfs(Some(2), None).run(|| {
        let done = Arc::new(Completion::new("done"));
        let ws: Vec<_> = (0..2)
            .map(|i| {
                let d = done.clone();
                kthread_run(&format!("w{i}"), move || wait_for_completion(&d))
            })
            .collect();
        assert!(!try_wait_for_completion(&done) || completion_done(&done));
        complete_all(&done);
        for w in ws {
            w.join();
        }
        assert!(try_wait_for_completion(&done), "complete_all is never consumed");
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn completion_timeout_returns_zero_when_nobody_completes() {
    for runner in [Runner::std(), Runner::pct(2, 2, 20), Runner::loom(Some(2))] {
        let spec = runner.spec().scheduler.to_string();
        let o = runner.run(|| {
            let done = Completion::new("never");
            assert_eq!(wait_for_completion_timeout(&done, 10), 0);
            assert!(jiffies() >= 10, "the timeout's timer advanced time");
        });
        assert!(o.is_clean(), "{spec}: {:#?}", o.reports);
    }
}

#[test]
fn completion_init_over_a_sleeping_waiter_is_a_warning() {
    let o = Runner::random(1, 200).config(Config::modern().panic_on_report(false)).run(|| {
        let done = Arc::new(Completion::new("dev_done"));
        let d = done.clone();
        let w = kthread_run("waiter", move || wait_for_completion(&d));
        init_completion(&done);
        complete(&done);
        w.join();
    });
    let r = o.report_of(Violation::Warning).unwrap_or_else(|| {
        panic!(
            "some interleaving re-initialises over the sleeper: {} executions {:#?}",
            o.executions, o.reports
        )
    });
    assert_lines_in_order(
        &r.text,
        &["ksim: init_completion(dev_done) with 1 task(s) sleeping in wait_for_completion(): their wake-ups are lost"],
    );
    assert!(o.reports.iter().all(|r| r.kind == Violation::Warning), "{:#?}", o.reports);
}

#[test]
fn completion_outside_a_run_names_the_api() {
    let p = std::panic::catch_unwind(|| drop(Completion::new("x"))).expect_err("panics");
    let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("ksim: init_completion() called outside a simulated task"), "{msg}");
}

fn flag_waiter(interruptible: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let wq = Arc::new(WaitQueueHead::new("dev_wq"));
        let flag = Arc::new(Atomic::new(0));
        let (w, f) = (wq.clone(), flag.clone());
        let waiter = kthread_run("waiter", move || {
            if interruptible {
                wait_event_interruptible(&w, || f.read() == 1)
            } else {
                wait_event(&w, || f.read() == 1);
                Ok(())
            }
        });
        if interruptible {
            send_sig(waiter.pid);
            let r = waiter.join();
            assert!(r.is_ok() || r == Err(Errno::ERESTARTSYS), "{r:?}");
        } else {
            flag.set(1);
            wake_up(&wq);
            waiter.join().expect("woken");
        }
    }
}

#[test]
fn wait_event_is_woken_in_every_interleaving_and_a_signal_ends_the_interruptible_form() {
    for interruptible in [false, true] {
        for runner in [Runner::std(), Runner::dfs(Some(3), None), Runner::loom(Some(2))] {
            let spec = runner.spec().scheduler.to_string();
            let o = runner.run(flag_waiter(interruptible));
            assert!(o.is_clean(), "{spec} interruptible={interruptible}: {:#?}", o.reports);
        }
    }
}

#[test]
fn wait_event_timeout_reports_the_jiffies_left_or_zero() {
    let o = Runner::std().run(|| {
        let wq = WaitQueueHead::new("dev_wq");
        assert_eq!(wait_event_timeout(&wq, || false, 5), 0);
        assert!(wait_event_timeout(&wq, || true, 5) >= 1);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn timer_callback_runs_in_softirq_context_at_its_expiry() {
    let o = Runner::std().run(|| {
        let seen = Arc::new(Atomic::new(0));
        let timer = TimerList::new("&dev->timer");
        let s = seen.clone();
        timer_setup(&timer, "dev_timer_fn", move || {
            assert!(in_softirq() && !in_irq());
            assert!(jiffies() >= 100);
            s.inc();
        });
        mod_timer(&timer, jiffies() + 100);
        del_timer_sync(&timer);
        assert!(seen.read() <= 1);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn timer_del_timer_sync_from_its_own_callback_is_recursive_locking_or_a_deadlock() {
    for lockdep in [true, false] {
        let (o, l) = run_lines(Config::modern().lockdep(lockdep), |l| {
            let timer = TimerList::new("&dev->timer");
            let t2 = timer.clone();
            let l2 = l.clone();
            timer_setup(&timer, "dev_timer_fn", move || {
                at!(l2, "sync", del_timer_sync(&t2));
            });
            mod_timer(&timer, 1);
            // Wait for the callback (not del_timer_sync: that would deactivate it first).
            while timer_pending(&timer) || jiffies() < 1 {
                schedule();
            }
            msleep(1);
        });
        let r = o.first_report().expect("found");
        if lockdep {
            assert_eq!(r.kind, Violation::RecursiveLocking);
            assert_lines_in_order(
                &r.text,
                &[
                    "WARNING: possible recursive locking detected",
                    "timer/&dev->timer/2 is trying to acquire lock:",
                    &format!(" (&dev->timer){{+.-.}}, at: {}", l.site(FILE, "sync")),
                    "  lock(&dev->timer);",
                ],
            );
        } else {
            assert_eq!(r.kind, Violation::Deadlock);
            assert!(r.text.contains("from the timer's own callback"), "{}", r.text);
        }
    }
}

#[test]
fn timer_del_timer_sync_under_a_lock_the_callback_takes_is_a_circular_dependency() {
    let o = Runner::dfs(Some(2), None).run(|| {
        let lock = Arc::new(SpinLock::new((), "dev.lock"));
        let timer = TimerList::new("&dev->timer");
        let l2 = lock.clone();
        timer_setup(&timer, "dev_timer_fn", move || drop(spin_lock_bh(&l2)));
        mod_timer(&timer, 1);
        let _g = spin_lock_bh(&lock);
        del_timer_sync(&timer);
    });
    let r = o.first_report().expect("lockdep finds the cycle");
    assert_eq!(r.kind, Violation::LockOrderInversion, "{}", r.text);
    assert!(r.text.contains("(&dev->timer)") && r.text.contains("(dev.lock)"), "{}", r.text);
}

#[test]
fn timer_setup_of_a_pending_timer_is_odebug_init_active() {
    let (o, l) = run_lines(Config::modern(), |l| {
        let timer = TimerList::new("&dev->timer");
        timer_setup(&timer, "dev_timer_fn", || ());
        mod_timer(&timer, 50);
        at!(l, "again", timer_setup(&timer, "dev_timer_fn", || ()));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::DebugObjects);
    assert_eq!(
        r.headline(),
        "ODEBUG: init active (active state 0) object type: timer_list hint: dev_timer_fn+0x0/0x0"
    );
    assert!(r
        .text
        .contains(&format!("WARNING: CPU: 0 PID: 1 at {} debug_print_object", l.site(FILE, "again"))));
}

#[test]
fn delayed_work_runs_later_and_cancel_sync_stops_it() {
    for cancel in [false, true] {
        let o = Runner::dfs(Some(2), Some(500)).run(move || {
            let ran = Arc::new(Atomic::new(0));
            let r = ran.clone();
            let dw = DelayedWork::new("dev_poll_work", move || r.inc());
            assert!(schedule_delayed_work(&dw, 10));
            if cancel {
                cancel_delayed_work_sync(&dw);
                let after = ran.read();
                msleep(100);
                assert_eq!(ran.read(), after, "nothing runs after cancel_delayed_work_sync");
            } else {
                while ran.read() == 0 {
                    msleep(10);
                }
            }
        });
        assert!(o.is_clean(), "cancel={cancel}: {:#?}", o.reports);
    }
}

#[test]
fn hrtimer_runs_in_hardirq_restarts_and_cancel_from_its_callback_deadlocks() {
    let o = Runner::std().run(|| {
        let n = Arc::new(Atomic::new(0));
        let c = n.clone();
        let h = hrtimer_init("dev_hrtimer", HrtimerMode::Hard, move || {
            assert!(in_irq() && irqs_disabled());
            if c.add_return(1) < 3 {
                HrtimerRestart::Restart
            } else {
                HrtimerRestart::NoRestart
            }
        });
        hrtimer_start(&h, 1000);
        while n.read() < 3 {
            schedule();
        }
        hrtimer_cancel(&h);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    let o = Runner::std().run(|| {
        let slot: Arc<std::sync::Mutex<Option<Hrtimer>>> = Arc::default();
        let s = slot.clone();
        let h = hrtimer_init("dev_hrtimer", HrtimerMode::Hard, move || {
            let me = s.lock().expect("slot").clone().expect("set");
            hrtimer_cancel(&me);
            HrtimerRestart::NoRestart
        });
        *slot.lock().expect("slot") = Some(h.clone());
        hrtimer_start(&h, 1000);
        while hrtimer_active(&h) {
            schedule();
        }
    });
    let r = o.first_report().expect("the self-cancel is found");
    assert_eq!(r.kind, Violation::Deadlock);
    assert!(r.text.contains("calls hrtimer_cancel(dev_hrtimer) at "), "{}", r.text);
}
