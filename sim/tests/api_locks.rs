//! rwlock_t, rw_semaphore, raw_spinlock_t, the trylocks and mutex_lock_interruptible: the
//! kernel's context accounting for every irq/bh form, reader sharing and nesting rules, and
//! the opt-in wait-context check (PROVE_RAW_LOCK_NESTING).
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::{assert_lines_in_order, only_report, run_lines, run_std, Ctx};
use ksim::locking::{Flavour, KernelLock, LockKind};
use ksim::prelude::*;
use ksim::raw_spinlock::*;
use ksim::rwlock::*;
use ksim::rwsem::*;

const FILE: &str = file!();

#[test]
fn rwlock_forms_count_as_the_spinlock_forms_and_restore_irqs_exactly() {
    for cfg in common::profiles() {
        let (o, seen) = run_std(cfg, |p| {
            let l = rwlock_init(0u32, "dev.rwlock");
            {
                let _r = read_lock(&l);
                p.push(Ctx::now());
                let _r2 = read_lock(&l); // readers nest
            }
            drop(read_lock_bh(&l));
            {
                let _g = read_lock_bh(&l);
                p.push(Ctx::now());
            }
            let flags = local_irq_save();
            drop(write_lock_irqsave(&l));
            p.push(Ctx::now()); // still disabled: irqsave restores
            local_irq_restore(flags);
            drop(write_lock_irq(&l));
            p.push(Ctx::now()); // _irq enables at unlock
            *write_lock(&l) += 1;
        });
        assert!(o.is_clean(), "{:#?}", o.reports);
        assert_eq!(seen[0], Ctx::preempt(1));
        assert_eq!(seen[1].preempt_count, 0x201);
        assert!(seen[1].in_softirq);
        assert_eq!(seen[2], Ctx::TASK.irqs_off());
        assert_eq!(seen[3], Ctx::TASK);
    }
}

#[test]
fn rwlock_writer_excludes_readers_in_every_interleaving() {
    let o = Runner::dfs(Some(2), None).run(|| {
        let l = Arc::new(rwlock_init((0u32, 0u32), "pair.rwlock"));
        let w = l.clone();
        let writer = kthread_run("writer", move || {
            let mut g = write_lock(&w);
            g.0 += 1;
            g.1 += 1;
        });
        let g = read_lock(&l);
        assert_eq!(g.0, g.1, "a reader never sees half a write");
        drop(g);
        writer.join();
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert!(o.executions > 1);
}

#[test]
fn rwsem_down_read_under_a_spinlock_sleeps_in_atomic_and_nested_reads_are_recursive() {
    let (o, l) = run_lines(Config::modern(), |l| {
        let s = init_rwsem((), "dev.rwsem");
        let sp = SpinLock::new((), "dev.lock");
        let _g = spin_lock(&sp);
        let _r = at!(l, "down", down_read(&s));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_eq!(
        r.headline(),
        format!("BUG: sleeping function called from invalid context at {}", l.site(FILE, "down"))
    );

    let (o, l) = run_lines(Config::modern(), |l| {
        let s = init_rwsem((), "dev.rwsem");
        let _a = down_read(&s);
        let _b = at!(l, "again", down_read(&s));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::RecursiveLocking);
    assert!(r.text.contains(&format!(" (dev.rwsem){{.+.+}}, at: {}", l.site(FILE, "again"))), "{}", r.text);
}

#[test]
fn rwsem_downgrade_keeps_a_reader_and_trylocks_never_sleep() {
    let (o, _) = run_std(Config::modern(), |_: &common::Probe<()>| {
        let s = init_rwsem(1u32, "dev.rwsem");
        let mut w = down_write(&s);
        *w = 2;
        downgrade_write(&mut w);
        assert!(down_write_trylock(&s).is_none(), "a reader holds it");
        up(w);
        assert!(down_write_trylock(&s).is_some());
        let sp = SpinLock::new((), "dev.lock");
        let _g = spin_lock(&sp);
        assert!(down_read_trylock(&s).is_some(), "trylock has no might_sleep");
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn trylocks_fail_on_a_held_lock_and_leave_the_count_alone() {
    let (o, seen) = run_std(Config::modern(), |p| {
        let sl = SpinLock::new((), "dev.lock");
        let g = spin_trylock(&sl).expect("free");
        p.push(preempt_count());
        drop(g);
        let m = Mutex::new((), "dev.mutex");
        let held = mutex_trylock(&m).expect("free");
        assert!(mutex_trylock(&m).is_none());
        drop(held);
        let r = raw_spin_lock_init((), "dev.raw");
        let g = raw_spin_trylock(&r).expect("free");
        assert!(raw_spin_trylock(&r).is_none());
        p.push(preempt_count());
        drop(g);
        p.push(preempt_count());
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(seen, vec![1, 1, 0]);
}

#[test]
fn mutex_lock_interruptible_returns_eintr_to_a_signalled_waiter() {
    let o = Runner::std().run(|| {
        let m = Arc::new(Mutex::new((), "dev.mutex"));
        let g = mutex_lock(&m);
        let m2 = m.clone();
        let k = kthread_run("sig", move || {
            ksim::sched::send_sig(ksim::sched::current_pid());
            mutex_lock_interruptible(&m2).map(drop)
        });
        assert_eq!(k.join(), Err(Errno::EINTR));
        drop(g);
        assert!(mutex_lock_interruptible(&m).is_ok(), "a free mutex is taken even with a signal");
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn wait_context_spinlock_inside_raw_spinlock_is_invalid_only_when_checked() {
    let body = |l: &common::Lines| {
        let raw = raw_spin_lock_init((), "dev.raw_lock");
        let sl = SpinLock::new((), "dev.lock");
        let _r = at!(l, "raw", raw_spin_lock(&raw));
        let _s = at!(l, "inner", spin_lock(&sl));
    };
    let (off, _) = run_lines(Config::modern(), body);
    assert!(off.is_clean(), "{:#?}", off.reports);
    let (o, l) = run_lines(Config::modern().wait_context(true), body);
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::InvalidWaitContext);
    assert_lines_in_order(
        &r.text,
        &[
            "=============================",
            "[ BUG: Invalid wait context ]",
            "-----------------------------",
            "main/1 is trying to lock:",
            &format!(" (dev.lock){{+.+.}}-{{3:3}}, at: {}", l.site(FILE, "inner")),
            "other info that might help us debug this:",
            "context-{5:5}",
            "1 lock held by main/1:",
            &format!(" #0: (dev.raw_lock){{+.+.}}-{{2:2}}, at: {}", l.site(FILE, "raw")),
        ],
    );
}

#[test]
fn wait_context_spinlock_in_hardirq_and_mutex_under_spinlock_are_invalid() {
    let (o, _) = run_lines(Config::modern().wait_context(true), |_| {
        let sl = Arc::new(SpinLock::new((), "dev.lock"));
        let h = sl.clone();
        request_irq(7, "dev", move |_| {
            drop(spin_lock(&h));
            IrqReturn::Handled
        })
        .expect("free");
        generate_irq(7);
        free_irq(7);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::InvalidWaitContext);
    assert_lines_in_order(&r.text, &["irq/7-dev/2 is trying to lock:", "context-{2:2}"]);

    // A mutex under a spinlock: with PREEMPT_COUNT off might_sleep cannot see the spinlock,
    // and the wait-context check still can.
    let (o, _) = run_lines(Config::modern().wait_context(true).preempt_count(false), |_| {
        let sl = SpinLock::new((), "dev.lock");
        let m = Mutex::new((), "dev.mutex");
        let _s = spin_lock(&sl);
        let _m = mutex_lock(&m);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::InvalidWaitContext);
    assert!(r.text.contains(" (dev.mutex){+.+.}-{4:4}, at: "), "{}", r.text);
}

#[test]
fn kernel_lock_is_usable_without_guards_for_the_c_face() {
    let (o, seen) = run_std(Config::modern(), |p| {
        let l = KernelLock::new(LockKind::Spin, "c.lock");
        let at = ksim::Loc::new("drivers/block/brd.c", 93);
        l.lock_at(at, "spin_lock_irqsave", Flavour::IrqSave(false), false);
        p.push((preempt_count(), irqs_disabled()));
        l.unlock_at(at, "spin_unlock_irqrestore", Flavour::IrqSave(false), false);
        p.push((preempt_count(), irqs_disabled()));
        let m = KernelLock::new(LockKind::Mutex, "c.mutex");
        m.lock_at(at, "mutex_lock", Flavour::Plain, false);
        assert!(!m.try_lock_at(at, "mutex_trylock", Flavour::Plain, false));
        m.unlock_at(at, "mutex_unlock", Flavour::Plain, false);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(seen, vec![(1, true), (0, false)]);
}
