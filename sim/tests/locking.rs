//! lockdep-lite and real deadlocks: AB-BA orders (within one execution and accumulated across the
//! executions of a run), AA recursion, a true ABBA deadlock under DFS, and RCU grace periods.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::{assert_lines_in_order, only_report, LineCell, Lines, Probe};
use ksim::atomic::Atomic;
use ksim::prelude::*;

const FILE: &str = file!();

/// kthread `ab` (pid 2) takes `lk_a` then `lk_b`; after it exits, kthread `ba` (pid 3) takes
/// them in the opposite order (or, fixed, in the same order). The two never overlap.
fn sequential_abba(fixed: bool, lines: Lines) -> impl Fn() + Send + Sync + 'static {
    move || {
        let a = Arc::new(Mutex::new((), "lk_a"));
        let b = Arc::new(SpinLock::new((), "lk_b"));
        let (a1, b1, l1) = (a.clone(), b.clone(), lines.clone());
        kthread_run("ab", move || {
            let _x = at!(l1, "ab.a", mutex_lock(&a1));
            let _y = at!(l1, "ab.b", spin_lock(&b1));
        })
        .join();
        let (a2, b2, l2) = (a.clone(), b.clone(), lines.clone());
        kthread_run("ba", move || {
            if fixed {
                let _x = mutex_lock(&a2);
                let _y = spin_lock(&b2);
            } else {
                let _y = at!(l2, "ba.b", spin_lock(&b2));
                // A mutex under a spinlock would also be a sleep in atomic context; lockdep's
                // check runs after might_sleep, so take it with trylock (which does not sleep).
                let _x = at!(l2, "ba.a", a2.try_lock());
            }
        })
        .join();
    }
}

#[test]
fn lockdep_abba_across_sequential_kthreads_is_reported() {
    let lines = Lines::new();
    let o = Runner::std().run(sequential_abba(false, lines.clone()));
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::LockOrderInversion);
    assert_eq!(r.headline(), "WARNING: possible circular locking dependency detected");
    assert_eq!((r.pid, r.task.as_str()), (3, "ba"));
    let s = |l| lines.site(FILE, l);
    assert_lines_in_order(
        &r.text,
        &[
            "======================================================",
            "WARNING: possible circular locking dependency detected",
            "------------------------------------------------------",
            "ba/3 is trying to acquire lock:",
            &format!(" (lk_a){{+.+.}}, at: {}", s("ba.a")),
            "but task is already holding lock:",
            &format!(" (lk_b){{+.+.}}, at: {}", s("ba.b")),
            "which lock already depends on the new lock.",
            "the existing dependency chain (in reverse order) is:",
            "-> #0 (lk_b){+.+.}:",
            &format!(
                "       lk_b taken at {} while holding lk_a (taken at {}) by ab/2",
                s("ab.b"),
                s("ab.a")
            ),
            " Possible unsafe locking scenario:",
            "  lock(lk_b);",
            "                               lock(lk_a);",
            "                               lock(lk_b);",
            "  lock(lk_a);",
            " *** DEADLOCK ***",
            "1 lock held by ba/3:",
            &format!(" #0: (lk_b){{+.+.}}, at: {}", s("ba.b")),
            "Call trace (simulated):",
            " mutex_trylock",
        ],
    );
}

#[test]
fn lockdep_same_order_is_clean() {
    let o = Runner::std().run(sequential_abba(true, Lines::new()));
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn lockdep_off_does_not_check_lock_order() {
    let cfg = Config { lockdep: false, ..Config::modern() };
    let o = Runner::std().config(cfg).run(sequential_abba(false, Lines::new()));
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn lockdep_recursive_spin_lock_on_same_instance_is_reported() {
    let lines = Lines::new();
    let l = lines.clone();
    let o = Runner::std().run(move || {
        let lock = SpinLock::new((), "aa.lock");
        let _g = at!(l, "first", spin_lock(&lock));
        // Reported before blocking, so the self-deadlock does not hang the run.
        let _h = at!(l, "second", spin_lock(&lock));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::RecursiveLocking);
    assert_eq!(r.headline(), "WARNING: possible recursive locking detected");
    assert_lines_in_order(
        &r.text,
        &[
            "main/1 is trying to acquire lock:",
            &format!(" (aa.lock){{+.+.}}, at: {}", lines.site(FILE, "second")),
            "but task is already holding lock:",
            &format!(" (aa.lock){{+.+.}}, at: {}", lines.site(FILE, "first")),
            "  lock(aa.lock);",
            "  lock(aa.lock);",
            " *** DEADLOCK ***",
            " The same lock instance: this task deadlocks on itself.",
            "1 lock held by main/1:",
        ],
    );
}

#[test]
fn lockdep_recursive_same_instance_stops_even_without_panic_on_report() {
    // Continuing would self-deadlock (and hang the std backend, which has no deadlock
    // detection), so the execution stops at the report like a BUG().
    let cfg = Config::modern().panic_on_report(false);
    for runner in [Runner::std(), Runner::pct(1, 2, 5)] {
        let name = runner.spec().scheduler.name();
        let o = runner.config(cfg.clone()).run(|| {
            let lock = SpinLock::new((), "aa.lock");
            let _g = spin_lock(&lock);
            let _h = spin_lock(&lock);
        });
        assert_eq!(o.kinds(), [Violation::RecursiveLocking], "{name}");
        assert_eq!(o.reports.len(), 1, "{name}");
        let o = Runner::std().config(cfg.clone()).run(|| {
            let m = Mutex::new((), "aa_mutex");
            let _g = mutex_lock(&m);
            let _h = mutex_lock(&m);
        });
        assert_eq!(o.kinds(), [Violation::RecursiveLocking], "{name}: mutex");
        assert!(only_report(&o).text.contains(" The same lock instance: this task deadlocks on itself.\n"));
    }
}

#[test]
fn lockdep_recursive_class_without_panic_on_report_goes_on() {
    // Same class, different instances: no real deadlock, so the task goes on as in the kernel.
    let o = Runner::std().config(Config::modern().panic_on_report(false)).run(|| {
        let x = SpinLock::new((), "obj.lock");
        let y = SpinLock::new((), "obj.lock");
        let _g = spin_lock(&x);
        let _h = spin_lock(&y);
        might_sleep();
    });
    assert_eq!(o.kinds(), [Violation::SleepInAtomic, Violation::RecursiveLocking]);
    assert_lines_in_order(&o.reports[1].text, &["preempt_count: 2, expected: 0", "2 locks held by main/1:"]);
}

#[test]
fn lockdep_same_class_different_instances_suggests_nesting_annotation() {
    let o = Runner::std().run(|| {
        // Two instances of one class (like two inodes' i_lock), nested without annotation.
        let x = SpinLock::new((), "obj.lock");
        let y = SpinLock::new((), "obj.lock");
        let _g = spin_lock(&x);
        let _h = spin_lock(&y);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::RecursiveLocking);
    assert!(r.text.contains("\n May be due to missing lock nesting notation\n"), "{}", r.text);
    assert!(!r.text.contains("The same lock instance"), "{}", r.text);
}

/// Each execution takes `acc_a` and `acc_b` in one order only, which one depending on whether
/// the `setter` kthread ran before main looked at the flag. No single execution has both orders.
fn order_depends_on_interleaving() {
    let flag = Arc::new(Atomic::new(0));
    let f = flag.clone();
    let setter = kthread_run("setter", move || f.set(1));
    let a = SpinLock::new((), "acc_a");
    let b = SpinLock::new((), "acc_b");
    if flag.read() == 1 {
        let _x = spin_lock(&a);
        let _y = spin_lock(&b);
    } else {
        let _y = spin_lock(&b);
        let _x = spin_lock(&a);
    }
    setter.join();
}

#[test]
fn lockdep_abba_accumulates_across_executions_of_a_run() {
    // DFS's first execution runs main straight through (flag 0: b then a); a later one runs the
    // setter first (flag 1: a then b), which closes the cycle recorded by the earlier one.
    let o = Runner::dfs(Some(2), None).run(order_depends_on_interleaving);
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::LockOrderInversion);
    assert!(r.execution >= 1, "found in execution {}: needs an earlier execution's edge", r.execution);
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: possible circular locking dependency detected",
            "main/1 is trying to acquire lock:",
            "the existing dependency chain (in reverse order) is:",
            "-> #0 (acc_a){+.+.}:",
        ],
    );
    assert!(r.text.contains("acc_a taken at ") && r.text.contains(" while holding acc_b (taken at "));
    // The random scheduler accumulates the same way.
    let o = Runner::random(3, 50).run(order_depends_on_interleaving);
    assert_eq!(o.first_report().map(|r| r.kind), Some(Violation::LockOrderInversion));
}

#[test]
fn lockdep_single_execution_of_either_order_is_clean() {
    // The control for the test above: one execution alone never sees both orders.
    let o = Runner::std().run(order_depends_on_interleaving);
    assert!(o.is_clean(), "{:#?}", o.reports);
    let o = Runner::dfs(Some(0), Some(1)).run(order_depends_on_interleaving);
    assert!(o.is_clean(), "{:#?}", o.reports);
}

static DL_AB_A: LineCell = LineCell::new();
static DL_AB_B: LineCell = LineCell::new();
static DL_BA_B: LineCell = LineCell::new();
static DL_BA_A: LineCell = LineCell::new();

/// Two kthreads take two mutexes in opposite orders at the same time: a real ABBA deadlock in
/// the interleavings where each gets its first lock.
fn overlapping_abba() {
    let a = Arc::new(Mutex::new((), "dl_a"));
    let b = Arc::new(Mutex::new((), "dl_b"));
    let (a1, b1) = (a.clone(), b.clone());
    let t1 = kthread_run("t-ab", move || {
        let _x = at!(DL_AB_A, "a", mutex_lock(&a1));
        let _y = at!(DL_AB_B, "b", mutex_lock(&b1));
    });
    let t2 = kthread_run("t-ba", move || {
        let _y = at!(DL_BA_B, "b", mutex_lock(&b));
        let _x = at!(DL_BA_A, "a", mutex_lock(&a));
    });
    t1.join();
    t2.join();
}

#[test]
fn deadlock_abba_overlapping_is_found_under_dfs() {
    let o = Runner::dfs(Some(2), None).run(overlapping_abba);
    let r = only_report(&o);
    // lockdep usually sees the inversion before the tasks actually deadlock.
    assert!(matches!(r.kind, Violation::Deadlock | Violation::LockOrderInversion), "{:?}", r.kind);
    match r.kind {
        Violation::LockOrderInversion => {
            assert_eq!(r.headline(), "WARNING: possible circular locking dependency detected");
            assert!(r.text.contains(" *** DEADLOCK ***"), "{}", r.text);
        }
        _ => assert_eq!(r.headline(), "ksim: deadlock: every task is blocked"),
    }
}

#[test]
fn deadlock_without_lockdep_is_found_by_the_backend() {
    let cfg = Config { lockdep: false, ..Config::modern() };
    let o = Runner::dfs(Some(2), None).config(cfg.clone()).run(overlapping_abba);
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::Deadlock);
    // As in lockdep, a task blocked in mutex_lock() lists the lock it waits for too. Without
    // lockdep no usage is recorded, hence `{....}`.
    assert_lines_in_order(
        &r.text,
        &[
            "ksim: deadlock: every task is blocked",
            "Showing all locks held in the system:",
            "2 locks held by t-ab/2:",
            &format!(" #0: (dl_a){{....}}, at: {}", DL_AB_A.site(FILE)),
            &format!(" #1: (dl_b){{....}}, at: {}", DL_AB_B.site(FILE)),
            "2 locks held by t-ba/3:",
            &format!(" #0: (dl_b){{....}}, at: {}", DL_BA_B.site(FILE)),
            &format!(" #1: (dl_a){{....}}, at: {}", DL_BA_A.site(FILE)),
        ],
    );
    assert!(r.text.lines().last().is_some_and(|l| l.starts_with("replay: ")));
    // And the replay token finds it again.
    let again = Runner::replay(&r.token).expect("token").config(cfg).run(overlapping_abba);
    assert_eq!(again.reports, o.reports);
}

/// The main task joins a kthread that waits for a mutex main holds: a deadlock lockdep cannot
/// see (joining is not a lock), found by the backend.
fn join_while_holding() {
    let m = Arc::new(Mutex::new((), "held_mutex"));
    let _g = at!(JOIN_HOLD, "hold", mutex_lock(&m));
    let m2 = m.clone();
    kthread_run("waiter", move || drop(mutex_lock(&m2))).join();
}

static JOIN_HOLD: LineCell = LineCell::new();

#[test]
fn deadlock_join_while_holding_is_found_by_every_model_checker() {
    for runner in [Runner::pct(1, 2, 20), Runner::dfs(Some(2), None), Runner::loom(Some(2))] {
        let name = runner.spec().scheduler.name();
        let o = runner.run(join_while_holding);
        let r = only_report(&o);
        assert_eq!(r.kind, Violation::Deadlock, "{name}: {}", r.text);
        assert_eq!(r.headline(), "ksim: deadlock: every task is blocked", "{name}");
        assert_lines_in_order(
            &r.text,
            &[
                "Showing all locks held in the system:",
                "1 lock held by main/1:",
                &format!(" #0: (held_mutex){{+.+.}}, at: {}", JOIN_HOLD.site(FILE)),
                "1 lock held by waiter/2:",
            ],
        );
        // The backend's own words follow the headline: loom's and shuttle's differ.
        let backend_msg = if name == "loom" { "(deadlock; threads = " } else { "(deadlock! blocked tasks: " };
        assert!(r.text.lines().nth(1).is_some_and(|l| l.starts_with(backend_msg)), "{name}: {}", r.text);
    }
}

#[test]
fn deadlock_without_lockdep_is_found_by_loom() {
    let cfg = Config { lockdep: false, ..Config::modern() };
    let o = Runner::loom(Some(2)).config(cfg.clone()).run(overlapping_abba);
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::Deadlock, "{}", r.text);
    assert_lines_in_order(
        &r.text,
        &["ksim: deadlock: every task is blocked", "2 locks held by t-ab/2:", "2 locks held by t-ba/3:"],
    );
    // loom has no schedule to replay; its token re-runs the exploration to the same execution.
    assert!(o.schedule.is_none());
    let again = Runner::replay(&r.token).expect("token").config(cfg).run(overlapping_abba);
    assert_eq!(again.reports, o.reports);
}

#[test]
fn deadlock_shuttle_schedule_replays_the_deadlock() {
    let cfg = Config { lockdep: false, ..Config::modern() };
    let o = Runner::dfs(Some(2), None).config(cfg.clone()).run(overlapping_abba);
    let schedule = o.schedule.clone().expect("schedule of the deadlocked execution");
    let again = Runner::new(Scheduler::Replay { schedule }).config(cfg).run(overlapping_abba);
    assert_eq!(again.executions, 1);
    let (r, first) = (only_report(&again), only_report(&o));
    assert_eq!(r.kind, Violation::Deadlock);
    assert_eq!(common::without_replay(&r.text), common::without_replay(&first.text));
}

static CONTENDED: LineCell = LineCell::new();

#[test]
fn mutex_contended_while_atomic_is_scheduling_while_atomic() {
    // The atomic task's mutex_lock() is always a sleep in atomic context; when the mutex is
    // also contended the task really blocks, and schedule_debug() reports that too. Reports
    // accumulate (panic_on_report off) so every execution runs.
    let cfg = Config::modern().panic_on_report(false);
    let o = Runner::dfs(Some(2), None).config(cfg).run(|| {
        let m = Arc::new(Mutex::new((), "contended_mutex"));
        let ticks = Arc::new(Atomic::new(0));
        let (m1, t1) = (m.clone(), ticks.clone());
        let owner = kthread_run("owner", move || {
            let _g = mutex_lock(&m1);
            t1.inc();
        });
        let atomic = kthread_run("atomic", move || {
            ticks.read();
            preempt_disable();
            drop(at!(CONTENDED, "lock", mutex_lock(&m)));
            preempt_enable();
        });
        owner.join();
        atomic.join();
    });
    let site = CONTENDED.site(FILE);
    let sleeps = o.reports.iter().filter(|r| r.kind == Violation::SleepInAtomic).count() as u64;
    assert_eq!(sleeps, o.executions, "might_sleep fires in every execution, contended or not");
    let r = o.report_of(Violation::SchedulingWhileAtomic).expect("some execution finds the mutex held");
    assert_lines_in_order(
        &r.text,
        &[
            "BUG: scheduling while atomic: atomic/3/0x00000001",
            &format!("ksim: mutex_lock() blocked at {site}"),
        ],
    );
    assert_eq!(o.kinds(), [Violation::SleepInAtomic, Violation::SchedulingWhileAtomic]);
}

/// An updater retires an object and waits for a grace period before freeing it; a reader that
/// saw the object inside its read-side section must never see it freed.
fn rcu_reader_vs_updater(wait_for_readers: bool, seen: Probe<(i64, i64)>) -> impl Fn() + Send + Sync {
    move || {
        let published = Arc::new(Atomic::new(1));
        let freed = Arc::new(Atomic::new(0));
        let (p, f, s) = (published.clone(), freed.clone(), seen.clone());
        let reader = kthread_run("reader", move || {
            rcu_read_lock();
            let obj = p.read();
            let gone = f.read();
            rcu_read_unlock();
            s.push((obj, gone));
        });
        let updater = kthread_run("updater", move || {
            published.set(0);
            if wait_for_readers {
                synchronize_rcu();
            }
            freed.set(1);
        });
        reader.join();
        updater.join();
    }
}

#[test]
fn rcu_synchronize_waits_for_readers_in_every_interleaving() {
    for runner in [Runner::dfs(Some(2), None), Runner::loom(Some(2))] {
        let name = runner.spec().scheduler.name();
        let seen = Probe::new();
        let o = runner.run(rcu_reader_vs_updater(true, seen.clone()));
        assert!(o.is_clean(), "{name}: {:#?}", o.reports);
        let seen = seen.values();
        assert_eq!(seen.len() as u64, o.executions, "{name}");
        assert!(seen.contains(&(1, 0)), "{name}: some reader saw the object");
        assert!(!seen.contains(&(1, 1)), "{name}: a reader saw its object freed: {seen:?}");
    }
}

#[test]
fn rcu_without_grace_period_the_reader_sees_a_freed_object() {
    // The control: drop synchronize_rcu() and both find the use-after-free interleaving.
    for runner in [Runner::dfs(Some(2), None), Runner::loom(Some(2))] {
        let name = runner.spec().scheduler.name();
        let seen = Probe::new();
        let o = runner.run(rcu_reader_vs_updater(false, seen.clone()));
        assert!(o.is_clean(), "{name}");
        assert!(seen.values().contains(&(1, 1)), "{name}: {:?}", seen.values());
    }
}
