//! The debug checks drivers trip most, each finding its bug and clean with `fixed=yes`:
//! lockdep's irq-safety, a handler deadlocking the CPU it interrupted, `del_timer_sync()`
//! under a lock its callback takes, a completion nobody completes, `copy_to_user()` under a
//! spinlock, a double `refcount_t` put, PROVE_RCU's suspicious dereference, a reader using an
//! RCU-freed page after its section, and PREEMPT_RT's wait-context nesting (opt-in).

use std::sync::Arc;

use ksim::atomic::Atomic;
use ksim::completion::{complete, wait_for_completion, Completion};
use ksim::gfp::GFP_KERNEL;
use ksim::mm::{alloc_page, memcpy_from, memcpy_to};
use ksim::prelude::*;
use ksim::rcu_pointer::{kfree_rcu, rcu_assign_pointer, rcu_dereference, RcuPointer};
use ksim::refcount::{refcount_dec_and_test, refcount_inc, refcount_init};
use ksim::timer::{del_timer_sync, mod_timer, timer_setup, TimerList};
use ksim::uaccess::{copy_to_user, user_mmap};

use crate::scenario::{Body, Expect, Scenario};
use crate::settings::Settings;

fn fixed_or(s: &Settings, v: Violation) -> Expect {
    if s.on("fixed") {
        Expect::Clean
    } else {
        Expect::finds(v)
    }
}

/// A device's handler counts events under `dev.lock`; the driver reads the count with
/// `spin_lock` (irqs on) — fixed: `spin_lock_irqsave`.
fn irq_inconsistent(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let lock = Arc::new(SpinLock::new(0u32, "dev.lock"));
        let h = lock.clone();
        request_irq(11, "dev", move |_| {
            kfn!("dev_interrupt");
            *spin_lock(&h) += 1;
            IrqReturn::Handled
        })
        .expect("irq 11 is free");
        {
            kfn!("dev_read_count");
            let _g = if fixed { spin_lock_irqsave(&lock) } else { spin_lock(&lock) };
        }
        generate_irq(11);
        free_irq(11);
    })
}

/// The same driver, holding `dev.lock` across an atomic (a scheduling point) while the
/// interrupt may arrive on its CPU. lockdep is off (`tune`), so only the interleaving tells.
fn irq_cpu_deadlock(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let lock = Arc::new(SpinLock::new((), "dev.lock"));
        let events = Arc::new(Atomic::new(0));
        let (h, e) = (lock.clone(), events.clone());
        request_irq(11, "dev", move |_| {
            kfn!("dev_interrupt");
            let _g = spin_lock(&h);
            e.inc();
            IrqReturn::Handled
        })
        .expect("irq 11 is free");
        generate_irq(11);
        {
            kfn!("dev_poll");
            let _g = if fixed { spin_lock_irqsave(&lock) } else { spin_lock(&lock) };
            events.inc();
        }
        free_irq(11);
    })
}

/// A driver stops its watchdog timer with `del_timer_sync()` while holding the lock the
/// timer callback takes; fixed: after dropping it.
fn timer_sync_lock(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let lock = Arc::new(SpinLock::new((), "dev.lock"));
        let timer = TimerList::new("&dev->watchdog");
        let l = lock.clone();
        timer_setup(&timer, "dev_watchdog", move || {
            kfn!("dev_watchdog");
            drop(spin_lock_bh(&l));
        });
        mod_timer(&timer, 10);
        kfn!("dev_stop");
        let g = spin_lock_bh(&lock);
        if fixed {
            drop(g);
            del_timer_sync(&timer);
        } else {
            del_timer_sync(&timer);
            drop(g);
        }
    })
}

/// A kthread waits for the device to finish; the driver's error path returns without
/// `complete()`; fixed: it completes on every path.
fn completion_lost(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let done = Arc::new(Completion::new("dev->done"));
        let d = done.clone();
        let waiter = kthread_run("dev-wait", move || {
            kfn!("dev_wait_ready");
            wait_for_completion(&d);
        });
        kfn!("dev_probe");
        let failed = true; // the device reported an error
        if !failed || fixed {
            complete(&done);
        }
        waiter.join();
    })
}

/// `read()` copies a status record to user space under the device lock; fixed: into a
/// bounce buffer under the lock, then `copy_to_user()` after it.
fn copy_user_atomic(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let user = user_mmap(4096, true);
        let lock = SpinLock::new(*b"status:ok", "dev.lock");
        kfn!("dev_read");
        if fixed {
            let bounce = *spin_lock(&lock);
            assert_eq!(copy_to_user(user, &bounce), 0);
        } else {
            let g = spin_lock(&lock);
            assert_eq!(copy_to_user(user, &*g), 0);
        }
    })
}

/// Two tasks share an object; the buggy release path drops the same reference twice.
fn refcount_double_put(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let refs = Arc::new(refcount_init(1));
        refcount_inc(&refs);
        let r = refs.clone();
        let user = kthread_run("dev-user", move || {
            kfn!("dev_release");
            refcount_dec_and_test(&r);
            if !fixed {
                refcount_dec_and_test(&r);
            }
        });
        user.join();
        kfn!("dev_remove");
        refcount_dec_and_test(&refs);
    })
}

/// A lookup reads the RCU-published config pointer without `rcu_read_lock()`.
fn rcu_suspicious(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let cfg = RcuPointer::new(Some(4096u32));
        kfn!("dev_lookup");
        if fixed {
            rcu_read_lock();
            let _ = rcu_dereference(&cfg);
            rcu_read_unlock();
        } else {
            let _ = rcu_dereference(&cfg);
        }
    })
}

/// A reader copies a page published through an RCU pointer and, buggy, reads it again after
/// its section, while the updater unpublishes it and frees it with `kfree_rcu()`.
fn rcu_late_use(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let page = alloc_page(GFP_KERNEL).expect("page");
        let addr = ksim::highmem::page_address(page).expect("lowmem");
        memcpy_to(addr, &[7u8; 64]);
        let ptr = Arc::new(RcuPointer::new(Some(addr)));
        let r = ptr.clone();
        let reader = kthread_run("dev-reader", move || {
            kfn!("dev_reader");
            let work = Atomic::new(0);
            let mut buf = [0u8; 64];
            rcu_read_lock();
            let a = rcu_dereference(&r);
            work.inc();
            if let Some(a) = a {
                memcpy_from(&mut buf, a);
            }
            rcu_read_unlock();
            schedule();
            if let (false, Some(a)) = (fixed, a) {
                memcpy_from(&mut buf, a);
            }
        });
        kfn!("dev_update");
        schedule();
        rcu_assign_pointer(&ptr, None);
        kfree_rcu(page);
        reader.join();
    })
}

/// A `spinlock_t` taken inside a `raw_spinlock_t` (fixed: a raw spinlock inside it).
fn wait_context(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let raw = ksim::raw_spinlock::raw_spin_lock_init((), "dev.raw_lock");
        let inner_raw = ksim::raw_spinlock::raw_spin_lock_init((), "dev.stats_raw_lock");
        let inner = SpinLock::new((), "dev.stats_lock");
        kfn!("dev_update_stats");
        let _r = ksim::raw_spinlock::raw_spin_lock(&raw);
        if fixed {
            drop(ksim::raw_spinlock::raw_spin_lock(&inner_raw));
        } else {
            drop(spin_lock(&inner));
        }
    })
}

fn no_lockdep(_: &Settings, c: &mut ksim::Config) {
    c.lockdep = false;
}

/// The scenarios.
pub fn scenarios() -> Vec<Scenario> {
    let s = |name, summary, description, body, expect, dep, max_tasks, tune| Scenario {
        name,
        summary,
        description,
        base: &[],
        body,
        expect,
        interleaving_dependent: dep,
        max_tasks,
        tune,
        keys: &["fixed"],
        drivers: &[],
    };
    let mut v = vec![
        s(
            "irq-inconsistent-lock",
            "a lock taken in a hardirq handler and with spin_lock in process context: inconsistent lock state",
            "dev_interrupt takes dev.lock in hardirq context; dev_read_count takes it with spin_lock, irqs on. \
             lockdep records both usages (accumulated over every execution) and reports inconsistent \
             {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage whether or not anything deadlocked. With fixed=yes the \
             process side uses spin_lock_irqsave: clean.",
            irq_inconsistent as fn(&Settings) -> Body,
            (|s| fixed_or(s, Violation::InconsistentLockState)) as fn(&Settings) -> Expect,
            false,
            2,
            None,
        ),
        s(
            "irq-cpu-deadlock",
            "the interrupt arrives on the CPU that holds the lock its handler spins on (lockdep off)",
            "dev_poll holds dev.lock with irqs enabled across an atomic (a scheduling point); the device's \
             interrupt may arrive on that task's CPU there, and its handler spins on dev.lock: the CPU \
             deadlocks (DEBUG_SPINLOCK's spinlock recursion). lockdep is off, so only interleavings where the \
             interrupt arrives inside the critical section find it. With fixed=yes dev_poll disables irqs: no \
             interrupt arrives on its CPU, clean.",
            irq_cpu_deadlock,
            |s| fixed_or(s, Violation::Deadlock),
            true,
            2,
            Some(no_lockdep as fn(&Settings, &mut ksim::Config)),
        ),
        s(
            "timer-del-sync-lock",
            "del_timer_sync() under the lock the timer's callback takes: circular dependency",
            "dev_stop calls del_timer_sync on the watchdog timer while holding dev.lock, which the watchdog \
             callback takes. del_timer_sync takes the timer's lockdep map, the callback runs holding it, so \
             lockdep sees dev.lock -> timer and timer -> dev.lock once the callback has run in any execution. \
             With fixed=yes the timer is stopped after the unlock: clean.",
            timer_sync_lock,
            |s| fixed_or(s, Violation::LockOrderInversion),
            true,
            2,
            None,
        ),
        s(
            "completion-lost",
            "an error path returns without complete(): every task waits, a deadlock report",
            "dev-wait sleeps in wait_for_completion(dev->done); dev_probe's error path skips complete() and \
             joins it. Every task waits: reported as a deadlock naming where each sleeps (under std too, \
             where no scheduler detects it). With fixed=yes every path completes: clean.",
            completion_lost,
            |s| fixed_or(s, Violation::Deadlock),
            false,
            2,
            None,
        ),
        s(
            "copy-to-user-atomic",
            "copy_to_user() under a spinlock: might_fault() may sleep",
            "dev_read copies its status record to user space while holding dev.lock. copy_to_user() may fault \
             and sleep, and might_fault() checks that on every call (modern kernels), so the report comes \
             whether or not the page is present. With fixed=yes the record goes to a bounce buffer under \
             the lock and to user space after it: clean.",
            copy_user_atomic,
            |s| fixed_or(s, Violation::SleepInAtomic),
            false,
            1,
            None,
        ),
        s(
            "refcount-double-put",
            "a release path drops the same refcount_t reference twice: underflow warning",
            "dev_release drops its reference twice; dev_remove's final put then underflows: refcount_t: \
             underflow; use-after-free. With fixed=yes each reference is put once: clean.",
            refcount_double_put,
            |s| fixed_or(s, Violation::Refcount),
            false,
            2,
            None,
        ),
        s(
            "rcu-suspicious",
            "rcu_dereference() outside rcu_read_lock(): PROVE_RCU's suspicious RCU usage",
            "dev_lookup reads an RCU-published pointer with rcu_dereference() holding neither the RCU read \
             lock nor the update lock: WARNING: suspicious RCU usage. With fixed=yes it reads inside \
             rcu_read_lock(): clean.",
            rcu_suspicious,
            |s| fixed_or(s, Violation::SuspiciousRcu),
            false,
            1,
            None,
        ),
        s(
            "rcu-late-use",
            "a reader uses an RCU-protected page after its read-side section while kfree_rcu() frees it",
            "dev_update unpublishes a page and frees it with kfree_rcu(): the callback waits for readers inside \
             their sections, so the reader's copy inside its section is safe — but its second copy, after \
             rcu_read_unlock(), may come after the grace period: a use after free, in interleavings where \
             the callback runs first. With fixed=yes the reader copies only inside its section: clean.",
            rcu_late_use,
            |s| fixed_or(s, Violation::UseAfterFree),
            true,
            3,
            None,
        ),
    ];
    v.push(Scenario {
        name: "wait-context-nesting",
        summary: "a spinlock_t inside a raw_spinlock_t: invalid on PREEMPT_RT (wait_context=on reports it)",
        description: "dev_update_stats takes dev.stats_lock (a spinlock_t, which sleeps on PREEMPT_RT) inside \
                      dev.raw_lock (a raw_spinlock_t). Fine on this kernel, so clean by default; with \
                      wait_context=on (CONFIG_PROVE_RAW_LOCK_NESTING) lockdep reports BUG: Invalid wait context. \
                      With fixed=yes the inner lock is a raw spinlock too: clean either way.",
        base: &[],
        body: wait_context,
        expect: |s| {
            if s.on("wait_context") && !s.on("fixed") {
                Expect::finds(Violation::InvalidWaitContext)
            } else {
                Expect::Clean
            }
        },
        interleaving_dependent: false,
        max_tasks: 1,
        drivers: &[],
        tune: None,
        keys: &["fixed", "wait_context"],
    });
    v
}
