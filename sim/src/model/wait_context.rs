//! lockdep's wait-context check (`check_wait_context()`, `CONFIG_PROVE_RAW_LOCK_NESTING`, since
//! 5.7): every lock class has a wait type — `raw_spinlock_t` spins (`LD_WAIT_SPIN`, 2),
//! `spinlock_t` and `rwlock_t` sleep on PREEMPT_RT (`LD_WAIT_CONFIG`, 3), mutexes and
//! rw_semaphores sleep (`LD_WAIT_SLEEP`, 4) — and a context allows only so much: hardirq
//! context spins, softirq context is threaded (CONFIG), a task allows anything
//! (`LD_WAIT_MAX`, 5), each held lock (and an RCU read-side section) lowers that to its own.
//! Taking a lock whose wait type exceeds what the context allows is "BUG: Invalid wait
//! context": what PREEMPT_RT would turn into sleeping in atomic context. Trylocks and lockdep
//! maps are not checked, as in the kernel. Opt-in (`Config::wait_context`), modern profile only.

use std::fmt::Write as _;

use super::lockdep::{Acquire, LockGraph};
use super::task::{Site, TaskCell, TaskState};
use crate::defs::config::RcuFlavour;
use crate::defs::preempt_mask::{HARDIRQ_MASK, SOFTIRQ_OFFSET};

const LD_WAIT_SPIN: u8 = 2;
const LD_WAIT_CONFIG: u8 = 3;
const LD_WAIT_MAX: u8 = 5;

/// `task_wait_context()`: what the task's own context allows (non-threaded irqs).
fn task_wait_context(st: &TaskState) -> u8 {
    if st.preempt_count & HARDIRQ_MASK != 0 {
        LD_WAIT_SPIN
    } else if st.preempt_count & SOFTIRQ_OFFSET != 0 {
        LD_WAIT_CONFIG
    } else {
        LD_WAIT_MAX
    }
}

/// `check_wait_context()` for `class` taken as `how`: the report body if it is invalid.
pub(crate) fn check(
    graph: &LockGraph,
    task: &TaskCell,
    st: &TaskState,
    class: &'static str,
    how: Acquire,
    site: Site,
) -> Option<String> {
    let next = how.kind.wait_type(true);
    if next == 0 || how.trylock {
        return None;
    }
    let mut inner = task_wait_context(st);
    for h in &st.held {
        let w = h.kind.wait_type(true);
        if w != 0 {
            inner = inner.min(w);
        }
    }
    // An RCU read-side section is held like a lock (`rcu_lock_map`): it spins in classic RCU
    // and is preemptible (CONFIG) with PREEMPT_RCU.
    if task.rcu.depth() > 0 {
        let rcu =
            if task.exec.config().rcu == RcuFlavour::Preemptible { LD_WAIT_CONFIG } else { LD_WAIT_SPIN };
        inner = inner.min(rcu);
    }
    if next <= inner {
        return None;
    }
    let mut s = String::from(
        "=============================\n[ BUG: Invalid wait context ]\n-----------------------------\n",
    );
    let _ = writeln!(s, "{}/{} is trying to lock:", task.name, task.pid);
    let _ = writeln!(s, " {}, at: {}", graph.class(class), site.file_line());
    s.push_str("other info that might help us debug this:\n");
    let ctx = task_wait_context(st);
    let _ = writeln!(s, "context-{{{ctx}:{ctx}}}");
    s.push_str(&graph.held_locks(task, &st.held));
    Some(s)
}
