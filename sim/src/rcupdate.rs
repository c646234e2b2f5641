//! `include/linux/rcupdate.h`: RCU read-side critical sections in both flavours (facts §3.2) and
//! `synchronize_rcu()` with a real grace period: it waits until every reader that was inside a
//! read-side section when it started has left it.
//!
//! - classic (`!CONFIG_PREEMPT_RCU`): `rcu_read_lock()` is `preempt_disable()`, so a sleep inside
//!   reports `preempt_count: 1`;
//! - preemptible (`CONFIG_PREEMPT_RCU`): a separate nesting counter, reported as
//!   `RCU nest depth: 1, expected: 0` with `preempt_count: 0`.

use crate::defs::loc::Loc;

use crate::defs::preempt_mask::PREEMPT_OFFSET;
use crate::model::backend::{try_backend, yield_now, BackendKind, Ghost};
use crate::model::config::RcuFlavour;
use crate::model::context::{count_add, count_sub};
use crate::model::current;
use crate::model::sleep::might_sleep_at;
use crate::model::task::Site;
use crate::model::trace::Cat;

/// The grace-period machinery's memory ordering, made visible to loom.
///
/// In the kernel a grace period implies full memory barriers on every CPU, so a reader that
/// enters its section after `synchronize_rcu()` began sees every store made before it. ksim's
/// grace period scans the readers' task state, kept in std locks that loom does not see, and loom
/// treats SeqCst accesses as AcqRel: without this, loom let a reader that started after the scan
/// read a value overwritten before `synchronize_rcu()` and then see the object freed, a false
/// positive (found by sim/tests/locking.rs). Readers and updaters therefore perform an RMW on one
/// per-execution loom atomic — but readers only while a grace period is in progress, so that
/// bodies that never call `synchronize_rcu()` pay nothing. Inert under std and shuttle (shuttle
/// is sequentially consistent).
struct RcuOrder {
    ghost: Ghost,
    /// Grace periods in progress (physical state: loom runs one task at a time).
    in_progress: std::sync::atomic::AtomicUsize,
}

loom::lazy_static! {
    static ref RCU_ORDER: RcuOrder =
        RcuOrder { ghost: Ghost::new(), in_progress: std::sync::atomic::AtomicUsize::new(0) };
}

/// A reader's side: orders its section against a grace period in progress.
fn reader_order() {
    if try_backend() == Some(BackendKind::Loom)
        && RCU_ORDER.in_progress.load(std::sync::atomic::Ordering::SeqCst) > 0
    {
        RCU_ORDER.ghost.write();
    }
}

/// An updater's side: `start` before the scan of the readers, `!start` after the wait.
fn updater_order(start: bool) {
    use std::sync::atomic::Ordering::SeqCst;
    if try_backend() != Some(BackendKind::Loom) {
        return;
    }
    if start {
        RCU_ORDER.in_progress.fetch_add(1, SeqCst);
        RCU_ORDER.ghost.write();
    } else {
        RCU_ORDER.ghost.write();
        RCU_ORDER.in_progress.fetch_sub(1, SeqCst);
    }
}

/// `rcu_read_lock()`.
///
/// # Context
/// Any; does not sleep; nothing inside may sleep (classic: preemption is off; preemptible: the
/// nest depth counts against `might_sleep()`).
#[track_caller]
pub fn rcu_read_lock() {
    rcu_read_lock_at(Loc::caller())
}

/// [`rcu_read_lock`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn rcu_read_lock_at(at: Loc) {
    let t = current();
    let site = Site { at, op: "rcu_read_lock" };
    let cfg = t.exec.config();
    t.rcu.enter();
    // After the reader is visible as inside: a grace period that misses it is ordered before it.
    reader_order();
    if cfg.rcu == RcuFlavour::Preemptible {
        t.state().rcu_depth += 1;
    }
    match cfg.rcu {
        RcuFlavour::Classic if cfg.preempt_count => count_add(&t, PREEMPT_OFFSET, site),
        _ => t.exec.emit(&t, Cat::Context, "rcu_read_lock", || format!("at {}", site.file_line())),
    }
}

/// `rcu_read_unlock()`.
#[track_caller]
pub fn rcu_read_unlock() {
    rcu_read_unlock_at(Loc::caller())
}

/// [`rcu_read_unlock`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn rcu_read_unlock_at(at: Loc) {
    let t = current();
    let site = Site { at, op: "rcu_read_unlock" };
    let cfg = t.exec.config();
    // Before the reader is visible as outside: a grace period that waited for it is ordered
    // after its section.
    reader_order();
    t.rcu.exit();
    if cfg.rcu == RcuFlavour::Preemptible {
        let mut st = t.state();
        st.rcu_depth = st.rcu_depth.saturating_sub(1);
    }
    match cfg.rcu {
        RcuFlavour::Classic if cfg.preempt_count => count_sub(&t, PREEMPT_OFFSET, site),
        _ => t.exec.emit(&t, Cat::Context, "rcu_read_unlock", || format!("at {}", site.file_line())),
    }
}

/// `rcu_read_lock_held()` (approximately: whether the current task is in a read-side section).
pub fn rcu_read_lock_held() -> bool {
    current().rcu.depth() > 0
}

/// `synchronize_rcu()`: waits for a grace period.
///
/// # Context
/// Process context; may sleep (`might_sleep()` at entry); must not be called inside a read-side
/// section (which `might_sleep()` reports).
#[track_caller]
pub fn synchronize_rcu() {
    synchronize_rcu_at(Loc::caller())
}

/// [`synchronize_rcu`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn synchronize_rcu_at(at: Loc) {
    {
        let t = current();
        if t.rcu.depth() > 0 {
            // PROVE_RCU's RCU_LOCKDEP_WARN, before the might_sleep() of the wait.
            crate::rcu_pointer::suspicious(
                &t,
                at,
                "Illegal synchronize_rcu() in RCU read-side critical section",
            );
        }
    }
    might_sleep_at(at, "synchronize_rcu()", None);
    updater_order(true);
    let t = current();
    let readers = readers_now(&t);
    t.exec.emit(&t, Cat::Sleep, "synchronize_rcu", || format!("waits for {} reader(s)", readers.len()));
    drop(t);
    wait_for_readers(readers);
    updater_order(false);
    yield_now();
}

/// The other tasks inside a read-side section now, with the section each is in.
pub(crate) fn readers_now(
    t: &crate::model::task::TaskCell,
) -> Vec<(std::sync::Arc<crate::model::task::TaskCell>, u64)> {
    t.exec
        .tasks()
        .into_iter()
        .filter(|o| o.pid != t.pid)
        .filter_map(|o| o.rcu.section().map(|sec| (o.clone(), sec)))
        .collect()
}

/// A grace period: waits until each of `readers` has left the section it was in.
pub(crate) fn wait_for_readers(readers: Vec<(std::sync::Arc<crate::model::task::TaskCell>, u64)>) {
    for (r, section) in readers {
        while r.rcu.section() == Some(section) {
            yield_now();
        }
    }
}
