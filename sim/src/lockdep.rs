//! `include/linux/lockdep.h`: `lock_acquire()` / `lock_release()`, the hooks every simulated lock
//! calls (before blocking, so an AA deadlock is reported instead of hanging).

use std::panic::Location;

use crate::model::report::Violation;
use crate::model::task::{HeldLock, LockKind, Site, TaskCell};
use crate::model::trace::Cat;

/// Records that `t` acquires lock `class`/`instance` at `site` and runs the lockdep checks.
pub(crate) fn lock_acquire(t: &TaskCell, class: &'static str, instance: usize, kind: LockKind, site: Site) {
    let cfg = t.exec.config();
    if cfg.lockdep {
        let found = {
            let st = t.state();
            t.exec.run.lockdep().acquire(t, &st, class, instance, site)
        };
        if let Some((v, body)) = found {
            // Taking a lock instance the task already holds can only deadlock on itself: with
            // `panic_on_report` off the report returned and the lock below would hang forever
            // (the std backend has no deadlock detection; found by sim/tests/locking.rs). Stop
            // the execution as for a BUG().
            let self_deadlock =
                v == Violation::RecursiveLocking && t.state().held.iter().any(|h| h.instance == instance);
            t.exec.report(t, v, body, site.op);
            if self_deadlock {
                t.exec.stop_execution(v);
            }
        }
    }
    t.state().held.push(HeldLock { class, instance, kind, site });
    t.exec.emit(t, Cat::Lock, site.op, || format!("{class} at {}", site.file_line()));
}

/// Records the release of `instance`; reports a release of a lock the task does not hold.
/// Returns false when the lock was not held.
pub(crate) fn lock_release(
    t: &TaskCell,
    class: &'static str,
    instance: usize,
    at: &'static Location<'static>,
    op: &'static str,
) -> bool {
    let pos = t.state().held.iter().rposition(|h| h.instance == instance);
    match pos {
        Some(i) => {
            t.state().held.remove(i);
            t.exec.emit(t, Cat::Lock, op, || format!("{class} at {}:{}", at.file(), at.line()));
            true
        }
        None => {
            if t.exec.config().lockdep {
                let site = Site { at, op };
                let body = {
                    let st = t.state();
                    t.exec.run.lockdep().bad_unlock(t, &st, class, site)
                };
                t.exec.report(t, Violation::BadUnlock, body, op);
            }
            false
        }
    }
}
