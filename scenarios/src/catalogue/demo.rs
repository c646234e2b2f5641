//! Demonstration scenarios of the core: an interleaving-dependent sleep in atomic context (and
//! its fix), a hardirq handler that sleeps, and an AB-BA lock order.

use std::sync::Arc;

use ksim::atomic::Atomic;
use ksim::prelude::*;

use crate::scenario::{Body, Expect, Scenario};
use crate::settings::Settings;

/// A cache user that may have to refill the cache (a sleeping operation) while a flusher empties
/// it. The buggy user checks and refills under its spinlock, so it sleeps in atomic context only
/// when the flush lands before its check; the fixed user refills before taking the lock.
fn race(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let cache = Arc::new(Atomic::new(1));
        let lock = Arc::new(SpinLock::new((), "cache_user.lock"));
        let flush_mutex = Arc::new(Mutex::new((), "cache_flush_mutex"));
        let (c, l) = (cache.clone(), lock.clone());
        let user = kthread_run("cache-user", move || {
            kfn!("cache_user");
            if fixed {
                if c.read() == 0 {
                    refill(&c);
                }
                let _g = spin_lock(&l);
            } else {
                let _g = spin_lock(&l);
                if c.read() == 0 {
                    refill(&c);
                }
            }
        });
        let c = cache.clone();
        let flusher = kthread_run("cache-flush", move || {
            kfn!("cache_flush");
            let _m = mutex_lock(&flush_mutex);
            c.set(0);
        });
        user.join();
        flusher.join();
    })
}

/// Refilling allocates, so it may sleep.
fn refill(c: &Atomic) {
    kfn!("cache_refill");
    might_sleep();
    c.set(1);
}

fn irq_sleeps(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let work = WorkStruct::new("demo_irq_work", || {
            msleep(1);
        });
        request_irq(7, "demo-dev", move |_| {
            if fixed {
                schedule_work(&work);
            } else {
                msleep(1);
            }
            IrqReturn::Handled
        })
        .expect("irq 7 is free");
        generate_irq(7);
        free_irq(7);
    })
}

fn abba(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let a = Arc::new(Mutex::new((), "demo_a"));
        let b = Arc::new(Mutex::new((), "demo_b"));
        let (a1, b1) = (a.clone(), b.clone());
        let t1 = kthread_run("ab", move || {
            let _x = mutex_lock(&a1);
            let _y = mutex_lock(&b1);
        });
        t1.join();
        let t2 = kthread_run("ba", move || {
            if fixed {
                let _x = mutex_lock(&a);
                let _y = mutex_lock(&b);
            } else {
                let _y = mutex_lock(&b);
                let _x = mutex_lock(&a);
            }
        });
        t2.join();
    })
}

fn fixed_or(s: &Settings, v: Violation) -> Expect {
    if s.on("fixed") {
        Expect::Clean
    } else {
        Expect::finds(v)
    }
}

/// The demonstration scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "demo-race",
            summary: "a cache user refills (may sleep) under its spinlock only if a flush got there first",
            description: "Two kthreads: cache-user takes a spinlock and, if the cache is empty, refills it \
                          with a sleeping call; cache-flush empties the cache under a mutex. The cache starts \
                          full, so the sleep in atomic context happens only in interleavings where the flush \
                          runs before the user's check. With fixed=yes the user refills before taking the lock: \
                          clean in every interleaving.",
            base: &[],
            body: race,
            expect: |s| fixed_or(s, Violation::SleepInAtomic),
            interleaving_dependent: true,
            max_tasks: 3,
            tune: None,
            keys: &["fixed"],
            drivers: &[],
        },
        Scenario {
            name: "demo-irq-sleep",
            summary: "a hardirq handler calls msleep(); fixed=yes punts it to a workqueue",
            description: "A handler registered with request_irq() runs in hardirq context (preempt_count \
                          0x10000, irqs disabled) when the device raises the line, and calls msleep(): a sleep \
                          in atomic context in every interleaving. With fixed=yes the handler queues a work \
                          item and the worker sleeps in process context: clean.",
            base: &[],
            body: irq_sleeps,
            expect: |s| fixed_or(s, Violation::SleepInAtomic),
            interleaving_dependent: false,
            max_tasks: 3,
            tune: None,
            keys: &["fixed"],
            drivers: &[],
        },
        Scenario {
            name: "demo-abba",
            summary: "two kthreads take two mutexes in opposite orders, one after the other",
            description: "kthread ab takes demo_a then demo_b; after it exits, kthread ba takes demo_b then \
                          demo_a. No execution can deadlock (they never overlap), but lockdep's dependency \
                          graph has a cycle, reported as a possible circular locking dependency. With \
                          fixed=yes both take demo_a first: clean.",
            base: &[],
            body: abba,
            expect: |s| fixed_or(s, Violation::LockOrderInversion),
            interleaving_dependent: false,
            max_tasks: 2,
            tune: None,
            keys: &["fixed"],
            drivers: &[],
        },
    ]
}
