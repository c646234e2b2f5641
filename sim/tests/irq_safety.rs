//! lockdep's irq-safety checks and where interrupts arrive: a lock class used in hardirq
//! (softirq) context and also taken with that interrupt enabled is "inconsistent lock state"
//! whether or not anything deadlocked; an irq-safe lock depending on an irq-unsafe one is an
//! irq lock inversion; and under the model checkers a handler arrives on the CPU of a task with
//! interrupts enabled, so spinning on a lock that task holds is a real deadlock — never one
//! with interrupts disabled.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::{assert_lines_in_order, only_report, run_lines, Lines};
use ksim::atomic::Atomic;
use ksim::interrupt::Tasklet;
use ksim::prelude::*;

const FILE: &str = file!();

/// A device whose handler takes `dev.lock`; the driver takes it with `spin_lock` (irqs on) or,
/// fixed, with `spin_lock_irqsave`, then raises the interrupt.
fn irq_and_process(fixed: bool, l: &Lines) {
    let lock = Arc::new(SpinLock::new(0u32, "dev.lock"));
    let h = lock.clone();
    let hl = l.clone();
    request_irq(7, "dev", move |_| {
        let mut g = at!(hl, "irq_lock", spin_lock(&h));
        *g += 1;
        IrqReturn::Handled
    })
    .expect("irq 7 is free");
    if fixed {
        let _g = spin_lock_irqsave(&lock);
    } else {
        let _g = at!(l, "task_lock", spin_lock(&lock));
    }
    generate_irq(7);
    free_irq(7);
}

#[test]
fn irq_safety_lock_taken_in_hardirq_and_with_irqs_on_is_inconsistent_in_both_profiles() {
    for cfg in common::profiles() {
        let modern = cfg.profile == Profile::Modern;
        let (o, l) = run_lines(cfg, |l| irq_and_process(false, l));
        let r = only_report(&o);
        assert_eq!(r.kind, Violation::InconsistentLockState);
        assert_eq!(r.task, "irq/7-dev");
        let banner =
            if modern { "WARNING: inconsistent lock state" } else { "[ INFO: inconsistent lock state ]" };
        assert_eq!(r.headline(), banner);
        assert_lines_in_order(
            &r.text,
            &[
                banner,
                "inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage.",
                "irq/7-dev/2 [HC1[1]:SC0[0]:HE0:SE1] takes:",
                &format!(" (dev.lock){{?.+.}}, at: {}", l.site(FILE, "irq_lock")),
                "{HARDIRQ-ON-W} state was registered at:",
                &format!("  spin_lock at {}", l.site(FILE, "task_lock")),
                "irq event stamp: 1",
                "other info that might help us debug this:",
                " Possible unsafe locking scenario:",
                "       CPU0",
                "       ----",
                "  lock(dev.lock);",
                "  <Interrupt>",
                "    lock(dev.lock);",
                " *** DEADLOCK ***",
                "no locks held by irq/7-dev/2.",
                "Call trace (simulated):",
                " spin_lock <- dev",
            ],
        );
    }
}

#[test]
fn irq_safety_irqsave_in_process_context_is_clean() {
    let (o, _) = run_lines(Config::modern(), |l| irq_and_process(true, l));
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn irq_safety_is_accumulated_across_executions_and_needs_no_deadlock() {
    // With tracking off nothing is found in any interleaving (no execution deadlocks: the
    // handler runs elsewhere or after the unlock, never while the task holds the lock with
    // a scheduling point inside); with it on, PCT finds it in the first execution.
    let off = Runner::pct(3, 2, 40)
        .config(Config::modern().lockdep_irq(false))
        .run(|| irq_and_process(false, &Lines::new()));
    assert!(off.is_clean(), "{:#?}", off.reports);
    assert!(off.executions > 1);
    let on = Runner::pct(3, 2, 40).config(Config::modern()).run(|| irq_and_process(false, &Lines::new()));
    let r = on.first_report().expect("found");
    assert_eq!(r.kind, Violation::InconsistentLockState);
    assert_eq!(r.execution, 0);
}

#[test]
fn irq_safety_softirq_usage_is_checked_like_hardirq() {
    let (o, l) = run_lines(Config::modern(), |l| {
        let lock = Arc::new(SpinLock::new((), "cache.lock"));
        let t = lock.clone();
        let tl = l.clone();
        let tasklet = Tasklet::new("cache_tasklet", move || {
            let _g = at!(tl, "bh", spin_lock(&t));
        });
        {
            let _g = at!(l, "task", spin_lock(&lock));
        }
        tasklet_schedule(&tasklet);
        tasklet_kill(&tasklet);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::InconsistentLockState);
    assert_lines_in_order(
        &r.text,
        &[
            "inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage.",
            "ksoftirqd/cache_tasklet/2 [HC0[0]:SC1[1]:HE1:SE0] takes:",
            &format!(" (cache.lock){{+.?.}}, at: {}", l.site(FILE, "bh")),
            "{SOFTIRQ-ON-W} state was registered at:",
            &format!("  spin_lock at {}", l.site(FILE, "task")),
        ],
    );
}

#[test]
fn irq_safety_spin_lock_bh_against_a_tasklet_is_clean() {
    let (o, _) = run_lines(Config::modern(), |_| {
        let lock = Arc::new(SpinLock::new((), "cache.lock"));
        let t = lock.clone();
        let tasklet = Tasklet::new("cache_tasklet", move || drop(spin_lock(&t)));
        drop(spin_lock_bh(&lock));
        tasklet_schedule(&tasklet);
        tasklet_kill(&tasklet);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn irq_safety_irq_safe_lock_taking_an_irq_unsafe_one_is_a_bad_dependency() {
    let (o, l) = run_lines(Config::modern(), |l| {
        let a = Arc::new(SpinLock::new((), "dev.irq_lock"));
        let b = Arc::new(SpinLock::new((), "dev.list_lock"));
        let h = a.clone();
        request_irq(7, "dev", move |_| {
            drop(spin_lock(&h));
            IrqReturn::Handled
        })
        .expect("free");
        generate_irq(7);
        synchronize_irq(7);
        drop(at!(l, "unsafe", spin_lock(&b)));
        let _ga = at!(l, "safe", spin_lock_irqsave(&a));
        let _gb = at!(l, "nested", spin_lock(&b));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::IrqLockInversion);
    assert_eq!(r.headline(), "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected");
    assert_lines_in_order(
        &r.text,
        &[
            "main/1 [HC0[0]:SC0[0]:HE0:SE1] is trying to acquire:",
            &format!(" (dev.list_lock){{+.+.}}, at: {}", l.site(FILE, "nested")),
            "and this task is already holding:",
            &format!(" (dev.irq_lock){{-...}}, at: {}", l.site(FILE, "safe")),
            "which would create a new lock dependency:",
            " (dev.irq_lock){-...} -> (dev.list_lock){+.+.}",
            "but this new dependency connects a HARDIRQ-irq-safe lock:",
            "to a HARDIRQ-irq-unsafe lock:",
            "... which became HARDIRQ-irq-unsafe at:",
            &format!("  spin_lock at {}", l.site(FILE, "unsafe")),
            " Possible interrupt unsafe locking scenario:",
            "  lock(dev.list_lock);",
            "                               local_irq_disable();",
            "                               lock(dev.irq_lock);",
            "                               lock(dev.list_lock);",
            "  <Interrupt>",
            "    lock(dev.irq_lock);",
            "1 lock held by main/1:",
        ],
    );
}

#[test]
fn irq_safety_a_lock_becoming_irq_safe_after_taking_an_unsafe_one_is_an_inversion() {
    let (o, l) = run_lines(Config::v4_0(), |l| {
        let a = Arc::new(SpinLock::new((), "dev.irq_lock"));
        let b = Arc::new(SpinLock::new((), "dev.list_lock"));
        {
            let _ga = at!(l, "outer", spin_lock_irq(&a));
            let _gb = at!(l, "dep", spin_lock(&b));
        }
        drop(spin_lock(&b));
        let h = a.clone();
        let hl = l.clone();
        request_irq(7, "dev", move |_| {
            drop(at!(hl, "irq", spin_lock(&h)));
            IrqReturn::Handled
        })
        .expect("free");
        generate_irq(7);
        free_irq(7);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::IrqLockInversion);
    assert_eq!(r.headline(), "[ INFO: possible irq lock inversion dependency detected ]");
    assert_lines_in_order(
        &r.text,
        &[
            "irq/7-dev/2 just changed the state of lock:",
            &format!(" (dev.irq_lock){{-...}}, at: {}", l.site(FILE, "irq")),
            "but this lock took another, HARDIRQ-unsafe lock in the past:",
            " (dev.list_lock){+.+.}",
            "and interrupts could create inverse lock ordering between them.",
            " Possible interrupt unsafe locking scenario:",
            "  lock(dev.list_lock);",
            "    lock(dev.irq_lock);",
            "the shortest dependencies between 2nd lock and 1st lock:",
            " -> (dev.list_lock){+.+.}:",
            &format!(
                "       dev.list_lock taken at {} while holding dev.irq_lock (taken at {}) by main/1",
                l.site(FILE, "dep"),
                l.site(FILE, "outer")
            ),
        ],
    );
}

/// The driver holds `dev.lock` across a scheduling point (an atomic), with interrupts on or,
/// fixed, off; the handler takes the same lock. lockdep off, so only the CPU model can tell.
fn holds_across_a_point(fixed: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let lock = Arc::new(SpinLock::new((), "dev.lock"));
        let count = Arc::new(Atomic::new(0));
        let (h, c) = (lock.clone(), count.clone());
        request_irq(7, "dev", move |_| {
            let _g = spin_lock(&h);
            c.inc();
            IrqReturn::Handled
        })
        .expect("free");
        generate_irq(7);
        if fixed {
            let _g = spin_lock_irqsave(&lock);
            count.inc();
        } else {
            let _g = spin_lock(&lock);
            count.inc();
        }
        free_irq(7);
        assert_eq!(count.read(), 2);
    }
}

#[test]
fn irq_arrival_on_the_holders_cpu_is_a_real_deadlock_for_every_model_checker() {
    let cfg = Config::modern().lockdep(false);
    for runner in
        [Runner::dfs(Some(2), None), Runner::loom(Some(2)), Runner::pct(1, 3, 200), Runner::random(1, 200)]
    {
        let spec = runner.spec().scheduler.to_string();
        let o = runner.config(cfg.clone()).run(holds_across_a_point(false));
        let r = o.first_report().unwrap_or_else(|| panic!("{spec}: the deadlock interleaving is found"));
        assert_eq!(r.kind, Violation::Deadlock, "{spec}: {}", r.text);
        assert_lines_in_order(
            &r.text,
            &[
                "BUG: spinlock recursion on CPU#0, main/1",
                " lock: dev.lock, .magic: dead4ead, .owner: main/1, .owner_cpu: 0",
            ],
        );
        assert!(
            r.text.contains("ksim: irq/7-dev/2 interrupted main/1 on its CPU and spins at "),
            "{}",
            r.text
        );
    }
}

#[test]
fn irq_never_arrives_while_interrupts_are_disabled() {
    let cfg = Config::modern().lockdep(false);
    for runner in [Runner::dfs(None, None), Runner::loom(None)] {
        let spec = runner.spec().scheduler.to_string();
        let o = runner.config(cfg.clone()).run(holds_across_a_point(true));
        assert!(o.is_clean(), "{spec}: {:#?}", o.reports);
        assert!(o.executions > 1, "{spec}");
    }
}

#[test]
fn irq_arrival_is_deterministic_per_seed() {
    let cfg = Config::modern().lockdep(false);
    let a = Runner::random(9, 100).config(cfg.clone()).run(holds_across_a_point(false));
    let b = Runner::random(9, 100).config(cfg).run(holds_across_a_point(false));
    assert_eq!(a.reports, b.reports);
    assert_eq!(a.trace.text(), b.trace.text());
}
