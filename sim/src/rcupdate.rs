//! `include/linux/rcupdate.h`: RCU read-side critical sections in both flavours (facts §3.2) and
//! `synchronize_rcu()` with a real grace period: it waits until every reader that was inside a
//! read-side section when it started has left it.
//!
//! - classic (`!CONFIG_PREEMPT_RCU`): `rcu_read_lock()` is `preempt_disable()`, so a sleep inside
//!   reports `preempt_count: 1`;
//! - preemptible (`CONFIG_PREEMPT_RCU`): a separate nesting counter, reported as
//!   `RCU nest depth: 1, expected: 0` with `preempt_count: 0`.

use std::panic::Location;

use crate::model::backend::yield_now;
use crate::model::config::RcuFlavour;
use crate::model::current;
use crate::model::task::Site;
use crate::model::trace::Cat;
use crate::preempt::{count_add, count_sub, PREEMPT_OFFSET};
use crate::sched::might_sleep_at;

/// `rcu_read_lock()`.
///
/// # Context
/// Any; does not sleep; nothing inside may sleep (classic: preemption is off; preemptible: the
/// nest depth counts against `might_sleep()`).
#[track_caller]
pub fn rcu_read_lock() {
    let t = current();
    let site = Site { at: Location::caller(), op: "rcu_read_lock" };
    let cfg = t.exec.config();
    {
        let mut st = t.state();
        if st.rcu_readers == 0 {
            st.rcu_section += 1;
        }
        st.rcu_readers += 1;
        if cfg.rcu == RcuFlavour::Preemptible {
            st.rcu_depth += 1;
        }
    }
    match cfg.rcu {
        RcuFlavour::Classic if cfg.preempt_count => count_add(&t, PREEMPT_OFFSET, site),
        _ => t.exec.emit(&t, Cat::Context, "rcu_read_lock", || format!("at {}", site.file_line())),
    }
}

/// `rcu_read_unlock()`.
#[track_caller]
pub fn rcu_read_unlock() {
    let t = current();
    let site = Site { at: Location::caller(), op: "rcu_read_unlock" };
    let cfg = t.exec.config();
    {
        let mut st = t.state();
        st.rcu_readers = st.rcu_readers.saturating_sub(1);
        if cfg.rcu == RcuFlavour::Preemptible {
            st.rcu_depth = st.rcu_depth.saturating_sub(1);
        }
    }
    match cfg.rcu {
        RcuFlavour::Classic if cfg.preempt_count => count_sub(&t, PREEMPT_OFFSET, site),
        _ => t.exec.emit(&t, Cat::Context, "rcu_read_unlock", || format!("at {}", site.file_line())),
    }
}

/// `rcu_read_lock_held()` (approximately: whether the current task is in a read-side section).
pub fn rcu_read_lock_held() -> bool {
    current().state().rcu_readers > 0
}

/// `synchronize_rcu()`: waits for a grace period.
///
/// # Context
/// Process context; may sleep (`might_sleep()` at entry); must not be called inside a read-side
/// section (which `might_sleep()` reports).
#[track_caller]
pub fn synchronize_rcu() {
    let at = Location::caller();
    might_sleep_at(at, "synchronize_rcu()", None);
    let t = current();
    let readers: Vec<(std::sync::Arc<crate::model::task::TaskCell>, u64)> = t
        .exec
        .tasks()
        .into_iter()
        .filter(|o| o.pid != t.pid)
        .filter_map(|o| {
            let st = o.state();
            (st.rcu_readers > 0).then_some(st.rcu_section).map(|sec| (o.clone(), sec))
        })
        .collect();
    t.exec.emit(&t, Cat::Sleep, "synchronize_rcu", || format!("waits for {} reader(s)", readers.len()));
    for (r, section) in readers {
        loop {
            let still = {
                let st = r.state();
                st.rcu_readers > 0 && st.rcu_section == section
            };
            if !still {
                break;
            }
            yield_now();
        }
    }
    yield_now();
}
