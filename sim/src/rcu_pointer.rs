//! `include/linux/rcupdate.h`, the pointer half, with `CONFIG_PROVE_RCU`'s checks
//! (`kernel/locking/lockdep.c: lockdep_rcu_suspicious()`): an `__rcu` pointer is published
//! with `rcu_assign_pointer()` and read with `rcu_dereference()` (inside `rcu_read_lock()`),
//! `rcu_dereference_check(p, c)` (inside it or when `c`, typically `lockdep_is_held(&lock)`)
//! or `rcu_dereference_protected(p, c)` (the update side: `c` only). A read with neither is
//! "WARNING: suspicious RCU usage" with "suspicious rcu_dereference_check() usage!" (4.0:
//! "[ INFO: suspicious RCU usage. ]"). `call_rcu()` / `kfree_rcu()` run their callback after
//! a grace period, in a task of their own, so a reader still inside its section keeps using
//! the object and one after it does not (a use after free of the page). Only with `lockdep`
//! and `prove_rcu` on. Sources: `docs/kernel-api-facts.md` §6.

use std::fmt::Write as _;
use std::sync::Mutex;

use crate::defs::config::Profile;
use crate::defs::loc::Loc;
use crate::mm::Page;
use crate::model::backend::Ghost;
use crate::model::report::Violation;
use crate::model::task::{TaskCell, TaskKind};
use crate::model::{current_in, spawn_task};

/// An `__rcu` pointer to a `T` (`None` is NULL).
pub struct RcuPointer<T> {
    value: Mutex<Option<T>>,
    ghost: Ghost,
}

impl<T: Clone> RcuPointer<T> {
    /// `RCU_INITIALIZER(v)`.
    pub fn new(v: Option<T>) -> Self {
        RcuPointer { value: Mutex::new(v), ghost: Ghost::new() }
    }

    fn load(&self) -> Option<T> {
        self.ghost.read();
        self.value.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Whether `t` is in an RCU read-side section (`rcu_read_lock_held()`).
fn rcu_held(t: &TaskCell) -> bool {
    t.rcu.depth() > 0
}

/// `lockdep_rcu_suspicious(file, line, s)`: the report of a suspicious RCU usage at `at`.
pub(crate) fn suspicious(t: &TaskCell, at: Loc, what: &str) {
    let cfg = t.exec.config();
    if !cfg.lockdep || !cfg.prove_rcu {
        return;
    }
    let (head, active) = match cfg.profile {
        Profile::V4_0 => ("[ INFO: suspicious RCU usage. ]", 1),
        Profile::Modern => ("WARNING: suspicious RCU usage", 2),
    };
    let rule = |c: &str| c.repeat(head.len());
    let mut s = format!("{}\n{head}\n{}\n", rule("="), rule("-"));
    let _ = writeln!(s, "{at} {what}!");
    s.push_str("\nother info that might help us debug this:\n\n");
    let _ = writeln!(s, "\nrcu_scheduler_active = {active}, debug_locks = 1");
    let held = t.state().held.clone();
    s.push_str(&t.exec.run.lockdep().held_locks(t, &held));
    t.exec.report(t, Violation::SuspiciousRcu, s, what);
}

/// `rcu_assign_pointer(p, v)`: publishes `v` (a release store).
///
/// # Context
/// Any; the update side serialises its writers itself.
#[track_caller]
pub fn rcu_assign_pointer<T: Clone>(p: &RcuPointer<T>, v: Option<T>) {
    let _ = current_in("rcu_assign_pointer()");
    p.ghost.write();
    *p.value.lock().unwrap_or_else(|e| e.into_inner()) = v;
}

/// `rcu_dereference(p)`: inside `rcu_read_lock()` only.
///
/// # Context
/// Any; PROVE_RCU reports a read outside a read-side section.
#[track_caller]
pub fn rcu_dereference<T: Clone>(p: &RcuPointer<T>) -> Option<T> {
    rcu_dereference_check(p, false)
}

/// `rcu_dereference_check(p, c)`: inside `rcu_read_lock()`, or when `c` holds.
#[track_caller]
pub fn rcu_dereference_check<T: Clone>(p: &RcuPointer<T>, c: bool) -> Option<T> {
    let at = Loc::caller();
    let t = current_in("rcu_dereference_check()");
    if !c && !rcu_held(&t) {
        suspicious(&t, at, "suspicious rcu_dereference_check() usage");
    }
    p.load()
}

/// `rcu_dereference_protected(p, c)`: the update side, when `c` (the update lock is held).
#[track_caller]
pub fn rcu_dereference_protected<T: Clone>(p: &RcuPointer<T>, c: bool) -> Option<T> {
    let at = Loc::caller();
    let t = current_in("rcu_dereference_protected()");
    if !c {
        suspicious(&t, at, "suspicious rcu_dereference_protected() usage");
    }
    p.load()
}

/// `rcu_dereference_raw(p)`: no check (the caller knows better).
pub fn rcu_dereference_raw<T: Clone>(p: &RcuPointer<T>) -> Option<T> {
    p.load()
}

/// `call_rcu(head, func)`: `func` runs after a grace period (every reader inside a read-side
/// section now has left it), in softirq context (`rcu_do_batch()`), in a task of its own.
///
/// # Context
/// Any; never sleeps.
#[track_caller]
pub fn call_rcu(func: impl FnOnce() + Send + 'static) {
    let t = current_in("call_rcu()");
    let readers = crate::rcupdate::readers_now(&t);
    let h = spawn_task("rcu_callback", TaskKind::SoftIrq, None, move || {
        crate::rcupdate::wait_for_readers(readers);
        crate::kfn!("rcu_do_batch");
        func();
    });
    t.exec.rcu_callbacks.lock().unwrap_or_else(|e| e.into_inner()).push(h);
}

/// `kfree_rcu(ptr, rhf)` for memory from the page allocator: `__free_page(page)` after a
/// grace period. (Slab objects come with the slab model.)
#[track_caller]
pub fn kfree_rcu(page: Page) {
    call_rcu(move || crate::mm::__free_page(page));
}

/// `rcu_barrier()`: waits for every callback queued so far.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn rcu_barrier() {
    crate::model::sleep::might_sleep_at(Loc::caller(), "rcu_barrier()", None);
    let t = current_in("rcu_barrier()");
    let hs = std::mem::take(&mut *t.exec.rcu_callbacks.lock().unwrap_or_else(|e| e.into_inner()));
    drop(t);
    for h in hs {
        h.join();
    }
}
