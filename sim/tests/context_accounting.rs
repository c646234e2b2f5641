//! preempt_count accounting of every context-changing primitive, in both kernel profiles, read
//! through the public predicates (facts §3.2 and checklist item 4), and `CONFIG_PREEMPT_COUNT=n`
//! hiding spinlocks from `might_sleep()` (checklist item 5).
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use common::{profiles, run_std, Ctx, Probe};
use ksim::interrupt::Tasklet;
use ksim::prelude::*;
use ksim::rcupdate::rcu_read_lock_held;

/// Runs `body` once in every profile and checks the snapshots it records.
#[track_caller]
fn check_each_profile(body: fn(&Probe<Ctx>), expected: &[Ctx]) {
    for cfg in profiles() {
        let profile = cfg.profile;
        let (o, seen) = run_std(cfg, body);
        assert!(o.is_clean(), "{profile}: unexpected reports {:#?}", o.reports);
        assert_eq!(seen, expected, "profile {profile}");
    }
}

#[test]
fn spinlock_plain_adds_preempt_offset() {
    check_each_profile(
        |p| {
            let lock = SpinLock::new(0u32, "t.lock");
            p.push(Ctx::now());
            let g = spin_lock(&lock);
            p.push(Ctx::now());
            spin_unlock(g);
            p.push(Ctx::now());
        },
        &[Ctx::TASK, Ctx::preempt(1), Ctx::TASK],
    );
}

#[test]
fn spinlock_nested_locks_count_each() {
    check_each_profile(
        |p| {
            let a = SpinLock::new((), "t.a");
            let b = SpinLock::new((), "t.b");
            let ga = spin_lock(&a);
            let gb = b.lock();
            p.push(Ctx::now());
            spin_unlock(gb);
            p.push(Ctx::now());
            drop(ga);
            p.push(Ctx::now());
        },
        &[Ctx::preempt(2), Ctx::preempt(1), Ctx::TASK],
    );
}

#[test]
fn spinlock_irq_disables_irqs_and_unlock_enables_them() {
    check_each_profile(
        |p| {
            let lock = SpinLock::new((), "t.lock");
            let g = spin_lock_irq(&lock);
            p.push(Ctx::now());
            drop(g);
            p.push(Ctx::now());
            // spin_unlock_irq() enables irqs unconditionally, even if they were off before.
            local_irq_disable();
            let g = lock.lock_irq();
            p.push(Ctx::now());
            drop(g);
            p.push(Ctx::now());
        },
        &[Ctx::preempt(1).irqs_off(), Ctx::TASK, Ctx::preempt(1).irqs_off(), Ctx::TASK],
    );
}

#[test]
fn spinlock_irqsave_restores_previous_irq_state() {
    check_each_profile(
        |p| {
            let lock = SpinLock::new((), "t.lock");
            let g = spin_lock_irqsave(&lock);
            p.push(Ctx::now());
            spin_unlock_irqrestore(g);
            p.push(Ctx::now());
            local_irq_disable();
            let g = lock.lock_irqsave();
            p.push(Ctx::now());
            spin_unlock_irqrestore(g);
            p.push(Ctx::now());
            local_irq_enable();
            p.push(Ctx::now());
        },
        &[Ctx::preempt(1).irqs_off(), Ctx::TASK, Ctx::preempt(1).irqs_off(), Ctx::TASK.irqs_off(), Ctx::TASK],
    );
}

/// bh disabled: the softirq field is set, so `in_softirq()` and `in_interrupt()` are true.
const fn bh_ctx(pc: u32) -> Ctx {
    Ctx { preempt_count: pc, in_atomic: true, in_softirq: true, in_interrupt: true, ..Ctx::TASK }
}

#[test]
fn spinlock_bh_adds_softirq_lock_offset() {
    check_each_profile(
        |p| {
            let lock = SpinLock::new((), "t.lock");
            let g = spin_lock_bh(&lock);
            p.push(Ctx::now());
            let inner = SpinLock::new((), "t.inner");
            let gi = spin_lock(&inner);
            p.push(Ctx::now());
            drop(gi);
            drop(g);
            p.push(Ctx::now());
        },
        &[bh_ctx(0x201), bh_ctx(0x202), Ctx::TASK],
    );
}

#[test]
fn bottom_half_disable_adds_softirq_disable_offset() {
    check_each_profile(
        |p| {
            local_bh_disable();
            p.push(Ctx::now());
            local_bh_disable();
            p.push(Ctx::now());
            local_bh_enable();
            local_bh_enable();
            p.push(Ctx::now());
        },
        &[bh_ctx(0x200), bh_ctx(0x400), Ctx::TASK],
    );
}

#[test]
fn preempt_disable_nests_and_enable_restores() {
    check_each_profile(
        |p| {
            preempt_disable();
            p.push(Ctx::now());
            preempt_disable();
            p.push(Ctx::now());
            preempt_enable();
            p.push(Ctx::now());
            preempt_enable();
            p.push(Ctx::now());
        },
        &[Ctx::preempt(1), Ctx::preempt(2), Ctx::preempt(1), Ctx::TASK],
    );
}

#[test]
fn irqflags_disable_changes_only_the_irq_flag() {
    check_each_profile(
        |p| {
            local_irq_disable();
            p.push(Ctx::now());
            local_irq_enable();
            p.push(Ctx::now());
            let flags = local_irq_save();
            p.push(Ctx::now());
            let inner = local_irq_save();
            local_irq_restore(inner);
            p.push(Ctx::now());
            local_irq_restore(flags);
            p.push(Ctx::now());
        },
        &[Ctx::TASK.irqs_off(), Ctx::TASK, Ctx::TASK.irqs_off(), Ctx::TASK.irqs_off(), Ctx::TASK],
    );
}

#[test]
fn rcu_classic_read_lock_counts_in_preempt_count() {
    for cfg in profiles() {
        let profile = cfg.profile;
        let (o, seen) = run_std(cfg.rcu(RcuFlavour::Classic), |p: &Probe<(Ctx, bool)>| {
            rcu_read_lock();
            p.push((Ctx::now(), rcu_read_lock_held()));
            rcu_read_lock();
            p.push((Ctx::now(), rcu_read_lock_held()));
            rcu_read_unlock();
            rcu_read_unlock();
            p.push((Ctx::now(), rcu_read_lock_held()));
        });
        assert!(o.is_clean(), "{profile}: {:#?}", o.reports);
        assert_eq!(
            seen,
            [(Ctx::preempt(1), true), (Ctx::preempt(2), true), (Ctx::TASK, false)],
            "profile {profile}"
        );
    }
}

#[test]
fn rcu_preemptible_read_lock_counts_depth_not_preempt_count() {
    for cfg in profiles() {
        let profile = cfg.profile;
        let cfg = cfg.rcu(RcuFlavour::Preemptible).panic_on_report(false);
        let (o, seen) = run_std(cfg, |p: &Probe<(Ctx, bool)>| {
            rcu_read_lock();
            p.push((Ctx::now(), rcu_read_lock_held()));
            // preempt_count is 0, but the nest depth still makes this invalid.
            might_sleep();
            rcu_read_unlock();
            p.push((Ctx::now(), rcu_read_lock_held()));
        });
        assert_eq!(seen, [(Ctx::TASK, true), (Ctx::TASK, false)], "profile {profile}");
        let r = common::only_report(&o);
        assert_eq!(r.kind, Violation::SleepInAtomic, "profile {profile}");
        // in_atomic() reads preempt_count only: 0 under PREEMPT_RCU.
        assert!(r.text.contains("in_atomic(): 0, irqs_disabled(): 0"), "{profile}: {}", r.text);
        assert_eq!(r.text.contains("RCU nest depth: 1, expected: 0\n"), profile == Profile::Modern);
    }
}

#[test]
fn interrupt_hardirq_handler_runs_at_hardirq_offset_with_irqs_disabled() {
    const HARDIRQ: Ctx = Ctx {
        preempt_count: 0x1_0000,
        irqs_disabled: true,
        in_atomic: true,
        in_interrupt: true,
        in_irq: true,
        in_softirq: false,
    };
    check_each_profile(
        |p| {
            let hp = p.clone();
            request_irq(5, "t-dev", move |irq| {
                assert_eq!(irq, 5);
                hp.push(Ctx::now());
                let lock = SpinLock::new((), "t.irq_lock");
                let g = spin_lock(&lock);
                hp.push(Ctx::now());
                drop(g);
                IrqReturn::Handled
            })
            .expect("line 5 is free");
            assert!(generate_irq(5));
            assert!(!generate_irq(6), "no handler on line 6");
            free_irq(5);
            // The interrupted task's own context is untouched.
            p.push(Ctx::now());
        },
        &[HARDIRQ, Ctx { preempt_count: 0x1_0001, ..HARDIRQ }, Ctx::TASK],
    );
}

#[test]
fn interrupt_request_irq_twice_is_busy() {
    let (o, seen) = run_std(Config::modern(), |p: &Probe<Result<(), Errno>>| {
        p.push(request_irq(9, "a", |_| IrqReturn::None));
        p.push(request_irq(9, "b", |_| IrqReturn::None));
        free_irq(9);
        p.push(request_irq(9, "c", |_| IrqReturn::None));
    });
    assert!(o.is_clean());
    assert_eq!(seen, [Ok(()), Err(Errno::EBUSY), Ok(())]);
}

#[test]
fn interrupt_tasklet_runs_at_softirq_offset() {
    const SOFTIRQ: Ctx = Ctx {
        preempt_count: 0x100,
        irqs_disabled: false,
        in_atomic: true,
        in_interrupt: true,
        in_irq: false,
        in_softirq: true,
    };
    check_each_profile(
        |p| {
            let tp = p.clone();
            let t = Tasklet::new("t_tasklet", move || tp.push(Ctx::now()));
            assert!(tasklet_schedule(&t));
            tasklet_kill(&t);
        },
        &[SOFTIRQ],
    );
}

#[test]
fn kthread_and_worker_start_in_process_context() {
    check_each_profile(
        |p| {
            let kp = p.clone();
            let k = kthread_run("t-kthread", move || kp.push(Ctx::now()));
            k.join();
            let wp = p.clone();
            let work = WorkStruct::new("t_work_fn", move || wp.push(Ctx::now()));
            let wq = alloc_workqueue("t_wq");
            assert!(queue_work(&wq, &work));
            assert!(flush_work(&work));
            let sp = p.clone();
            let sys = WorkStruct::new("t_sys_work_fn", move || sp.push(Ctx::now()));
            assert!(schedule_work(&sys));
            flush_work(&sys);
            destroy_workqueue(wq);
        },
        &[Ctx::TASK, Ctx::TASK, Ctx::TASK],
    );
}

#[test]
fn kthread_context_is_per_task() {
    // A kthread spawned under a spinlock starts at 0; the spawner stays at 1.
    for cfg in profiles() {
        let (o, mut seen) = run_std(cfg, |p: &Probe<(&'static str, Ctx)>| {
            let lock = SpinLock::new((), "t.lock");
            let g = spin_lock(&lock);
            let kp = p.clone();
            let k = kthread_run("t-child", move || kp.push(("child", Ctx::now())));
            p.push(("parent", Ctx::now()));
            drop(g);
            k.join();
        });
        assert!(o.is_clean());
        // Real threads: the two pushes may come in either order.
        seen.sort_by_key(|(who, _)| *who);
        assert_eq!(seen, [("child", Ctx::TASK), ("parent", Ctx::preempt(1))]);
    }
}

#[test]
fn preempt_count_off_hides_spinlocks_from_might_sleep() {
    for cfg in profiles() {
        let profile = cfg.profile;
        let (o, seen) = run_std(cfg.preempt_count(false), |p: &Probe<Ctx>| {
            let lock = SpinLock::new((), "t.lock");
            let g = spin_lock(&lock);
            p.push(Ctx::now());
            might_sleep();
            drop(g);
            preempt_disable();
            p.push(Ctx::now());
            might_sleep();
            preempt_enable();
            rcu_read_lock();
            p.push(Ctx::now());
            might_sleep();
            rcu_read_unlock();
        });
        assert_eq!(seen, [Ctx::TASK, Ctx::TASK, Ctx::TASK], "profile {profile}");
        assert!(o.is_clean(), "{profile}: no PREEMPT_COUNT, nothing to see: {:#?}", o.reports);
    }
}

#[test]
fn preempt_count_on_reports_the_same_body() {
    // The control for the test above: the same sleep under a spinlock with PREEMPT_COUNT.
    for cfg in profiles() {
        let (o, _) = run_std(cfg, |_: &Probe<()>| {
            let lock = SpinLock::new((), "t.lock");
            let _g = spin_lock(&lock);
            might_sleep();
        });
        assert_eq!(common::only_report(&o).kind, Violation::SleepInAtomic);
    }
}

#[test]
fn context_is_per_task_under_every_model_checker() {
    // One kthread holds a spinlock across scheduling points while another checks its own
    // context: the holder's preempt_count must never leak into the other task (per-task state
    // is keyed by the backend's current task, not a plain thread-local: loom and shuttle run
    // every task on one OS thread).
    for runner in [Runner::dfs(Some(2), None), Runner::loom(Some(2)), Runner::pct(2, 3, 30)] {
        let name = runner.spec().scheduler.name();
        let seen: Probe<(&'static str, Ctx)> = Probe::new();
        let p = seen.clone();
        let o = runner.run(move || {
            let ticks = std::sync::Arc::new(ksim::atomic::Atomic::new(0));
            let t = ticks.clone();
            let hp = p.clone();
            let holder = kthread_run("holder", move || {
                let lock = SpinLock::new((), "holder.lock");
                let _g = spin_lock(&lock);
                t.inc();
                t.inc();
                hp.push(("holder", Ctx::now()));
            });
            let cp = p.clone();
            let checker = kthread_run("checker", move || {
                ticks.read();
                cp.push(("checker", Ctx::now()));
                might_sleep();
                ticks.read();
                cp.push(("checker", Ctx::now()));
            });
            holder.join();
            checker.join();
        });
        assert!(o.is_clean(), "{name}: {:#?}", o.reports);
        assert!(o.executions > 1, "{name}");
        let seen = seen.values();
        assert_eq!(seen.len() as u64, 3 * o.executions, "{name}");
        for (who, ctx) in seen {
            let want = if who == "holder" { Ctx::preempt(1) } else { Ctx::TASK };
            assert_eq!(ctx, want, "{name}: {who}");
        }
    }
}
