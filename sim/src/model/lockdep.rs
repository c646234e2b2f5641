//! lockdep-lite (`kernel/locking/lockdep.c`): lock classes keyed by name, their irq-usage bits,
//! and the dependency graph, accumulated across every execution of a run, so an AB-BA order is
//! reported even when no execution deadlocked; and `lock_acquire()` / `lock_release()`, the
//! hooks every simulated lock calls (before blocking, so an AA deadlock is reported instead of
//! hanging). Report text follows lockdep's.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use crate::defs::loc::Loc;

use super::lockdep_irq::Usage;
use super::report::Violation;
use super::task::{HeldLock, LockKind, Site, TaskCell, TaskState};
use super::trace::Cat;
use crate::defs::config::Config;

/// Where an edge A -> B was first seen: B taken at `next` while A (taken at `prev`) was held.
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    pub(crate) prev: Site,
    pub(crate) next: Site,
    pub(crate) task: String,
}

impl Edge {
    /// The dependency's line in a chain, as lockdep's print_lock_class_header() ends it:
    /// `{next} taken at ... while holding {prev} (taken at ...) by {task}`.
    pub(crate) fn taken_line(&self, prev: &str, next: &str) -> String {
        format!(
            "       {next} taken at {} while holding {prev} (taken at {}) by {}",
            self.next.file_line(),
            self.prev.file_line(),
            self.task
        )
    }
}

/// How a lock is being acquired, beyond its class and instance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Acquire {
    /// What kind of lock (its wait type for the wait-context check).
    pub kind: LockKind,
    /// A read acquisition (`read_lock`, `down_read`).
    pub read: bool,
    /// A trylock: it cannot deadlock, so lockdep does not mark irq usage for it.
    pub trylock: bool,
}

impl Acquire {
    /// An exclusive, blocking acquisition of a lock of `kind`.
    pub(crate) fn of(kind: LockKind) -> Self {
        Acquire { kind, read: false, trylock: false }
    }
}

/// The run-wide lock graph.
#[derive(Debug)]
pub(crate) struct LockGraph {
    pub(crate) usage: BTreeMap<&'static str, Usage>,
    pub(crate) edges: BTreeMap<&'static str, BTreeMap<&'static str, Edge>>,
    /// Print lockdep's `-{n:n}` wait types after the usage (with `PROVE_RAW_LOCK_NESTING`).
    wait_types: bool,
    /// The run's checks: irq-state tracking, wait context, the report format.
    pub(crate) irq_tracking: bool,
    pub(crate) profile: crate::defs::config::Profile,
}

impl LockGraph {
    /// The graph of a run with `config`.
    pub(crate) fn new(config: &Config) -> Self {
        LockGraph {
            wait_types: config.wait_context,
            irq_tracking: config.lockdep_irq,
            profile: config.profile,
            usage: BTreeMap::new(),
            edges: BTreeMap::new(),
        }
    }

    /// `(name){+.+.}` as lockdep prints a class (and `-{3:3}` with the wait-context check on).
    pub(crate) fn class(&self, class: &str) -> String {
        let u = self.usage.get(class);
        let chars = u.map_or_else(|| "....".to_string(), Usage::chars);
        match (self.wait_types, u) {
            (true, Some(u)) => format!("({class}){{{chars}}}-{{{w}:{w}}}", w = u.wait_type),
            _ => format!("({class}){{{chars}}}"),
        }
    }

    /// lockdep's held-locks listing ("%d lock%s held by %s/%d:").
    pub(crate) fn held_locks(&self, task: &TaskCell, held: &[HeldLock]) -> String {
        let mut s = String::new();
        if held.is_empty() {
            let _ = writeln!(s, "no locks held by {}/{}.", task.name, task.pid);
            return s;
        }
        let n = held.len();
        let plural = if n == 1 { "" } else { "s" };
        let _ = writeln!(s, "{n} lock{plural} held by {}/{}:", task.name, task.pid);
        for (i, h) in held.iter().enumerate() {
            let _ = writeln!(s, " #{i}: {}, at: {}", self.class(h.class), h.site.file_line());
        }
        s
    }

    /// Records the acquisition of `class` by a task in state `st` and checks it against the
    /// locks the task holds. Returns the violation and its report body, if any.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn acquire(
        &mut self,
        task: &TaskCell,
        st: &TaskState,
        class: &'static str,
        instance: usize,
        how: Acquire,
        site: Site,
        wait_check: bool,
    ) -> Option<(Violation, String)> {
        if !self.usage.contains_key(class) {
            self.usage.insert(class, Usage::new(how.kind.wait_type(self.wait_types)));
        }
        // lockdep's order in __lock_acquire(): irq usage (mark_usage), then the wait context,
        // then the dependency chain.
        if self.irq_tracking {
            if let Some(found) = self.mark_usage(task, st, class, how, site) {
                return Some(found);
            }
        }
        if wait_check {
            if let Some(body) = super::wait_context::check(self, task, st, class, how, site) {
                return Some((Violation::InvalidWaitContext, body));
            }
        }
        // A trylock cannot deadlock: 6.1's validate_chain() skips check_deadlock() and adds no
        // dependency for it (later locks still depend on it while it is held).
        if how.trylock {
            return None;
        }
        // Readers of an rwlock_t may nest (the kernel's recursive read); an rw_semaphore's may
        // not (a writer queued between them deadlocks both).
        let recursive_read = |h: &HeldLock| how.read && h.read && how.kind == LockKind::RwLock;
        if let Some(h) = st.held.iter().find(|h| h.class == class && !recursive_read(h)) {
            let deadlock = h.instance == instance;
            return Some((Violation::RecursiveLocking, self.recursive(task, st, h, site, deadlock)));
        }
        if st.held.iter().any(|h| h.class == class) {
            return None;
        }
        for h in &st.held {
            if let Some(chain) = self.path(class, h.class) {
                return Some((
                    Violation::LockOrderInversion,
                    self.circular(task, st, h, class, site, &chain),
                ));
            }
        }
        for h in &st.held {
            let new = !self.edges.get(h.class).is_some_and(|m| m.contains_key(class));
            self.edges.entry(h.class).or_default().entry(class).or_insert_with(|| Edge {
                prev: h.site,
                next: site,
                task: format!("{}/{}", task.name, task.pid),
            });
            if new && self.irq_tracking {
                if let Some(body) = self.check_irq_dependency(task, st, h, class, site) {
                    return Some((Violation::IrqLockInversion, body));
                }
            }
        }
        None
    }

    /// A path of existing edges from `from` to `to`, breadth first (shortest), as class names.
    pub(crate) fn path(&self, from: &'static str, to: &'static str) -> Option<Vec<&'static str>> {
        let mut prev: BTreeMap<&'static str, &'static str> = BTreeMap::new();
        let mut seen = BTreeSet::from([from]);
        let mut queue = VecDeque::from([from]);
        while let Some(c) = queue.pop_front() {
            if c == to {
                let mut chain = vec![to];
                let mut at = to;
                while let Some(p) = prev.get(at) {
                    chain.push(p);
                    at = p;
                }
                chain.reverse();
                return Some(chain);
            }
            for next in self.edges.get(c).into_iter().flat_map(|m| m.keys()) {
                if seen.insert(next) {
                    prev.insert(next, c);
                    queue.push_back(next);
                }
            }
        }
        None
    }

    fn recursive(&self, task: &TaskCell, st: &TaskState, held: &HeldLock, site: Site, same: bool) -> String {
        let mut s = String::new();
        let c = self.class(held.class);
        s.push_str("============================================\n");
        s.push_str("WARNING: possible recursive locking detected\n");
        s.push_str("--------------------------------------------\n");
        let _ = writeln!(s, "{}/{} is trying to acquire lock:", task.name, task.pid);
        let _ = writeln!(s, " {c}, at: {}", site.file_line());
        s.push_str("\nbut task is already holding lock:\n");
        let _ = writeln!(s, " {c}, at: {}", held.site.file_line());
        s.push_str("\nother info that might help us debug this:\n");
        s.push_str(" Possible unsafe locking scenario:\n\n       CPU0\n       ----\n");
        let _ = writeln!(s, "  lock({});\n  lock({});", held.class, held.class);
        s.push_str("\n *** DEADLOCK ***\n\n");
        if same {
            s.push_str(" The same lock instance: this task deadlocks on itself.\n\n");
        } else {
            s.push_str(" May be due to missing lock nesting notation\n\n");
        }
        s.push_str(&self.held_locks(task, &st.held));
        s
    }

    fn circular(
        &self,
        task: &TaskCell,
        st: &TaskState,
        held: &HeldLock,
        class: &'static str,
        site: Site,
        chain: &[&'static str],
    ) -> String {
        let mut s = String::new();
        s.push_str("======================================================\n");
        s.push_str("WARNING: possible circular locking dependency detected\n");
        s.push_str("------------------------------------------------------\n");
        let _ = writeln!(s, "{}/{} is trying to acquire lock:", task.name, task.pid);
        let _ = writeln!(s, " {}, at: {}", self.class(class), site.file_line());
        s.push_str("\nbut task is already holding lock:\n");
        let _ = writeln!(s, " {}, at: {}", self.class(held.class), held.site.file_line());
        s.push_str("\nwhich lock already depends on the new lock.\n\n");
        s.push_str("\nthe existing dependency chain (in reverse order) is:\n");
        for (i, pair) in chain.windows(2).enumerate().rev() {
            let e = &self.edges[pair[0]][pair[1]];
            let _ = writeln!(s, "\n-> #{i} {}:\n{}", self.class(pair[1]), e.taken_line(pair[0], pair[1]));
        }
        s.push_str("\nother info that might help us debug this:\n\n");
        s.push_str(" Possible unsafe locking scenario:\n\n");
        s.push_str("       CPU0                    CPU1\n       ----                    ----\n");
        let _ = writeln!(s, "  lock({});", held.class);
        let _ = writeln!(s, "                               lock({class});");
        let _ = writeln!(s, "                               lock({});", held.class);
        let _ = writeln!(s, "  lock({class});");
        s.push_str("\n *** DEADLOCK ***\n\n");
        s.push_str(&self.held_locks(task, &st.held));
        s
    }

    /// lockdep's "bad unlock balance detected!" body.
    pub(crate) fn bad_unlock(&self, task: &TaskCell, st: &TaskState, class: &str, site: Site) -> String {
        let mut s = String::new();
        s.push_str("=====================================\n");
        s.push_str("WARNING: bad unlock balance detected!\n");
        s.push_str("-------------------------------------\n");
        let _ = writeln!(s, "{}/{} is trying to release lock ({class}) at:", task.name, task.pid);
        let _ = writeln!(s, "{}", site.file_line());
        s.push_str("but there are no more locks to release!\n\n");
        s.push_str("other info that might help us debug this:\n");
        s.push_str(&self.held_locks(task, &st.held));
        s
    }
}

/// Records that `t` acquires lock `class`/`instance` at `site` and runs the lockdep checks.
pub(crate) fn lock_acquire(t: &TaskCell, class: &'static str, instance: usize, kind: LockKind, site: Site) {
    lock_acquire_as(t, class, instance, Acquire::of(kind), site);
}

/// [`lock_acquire`] with how the lock is taken (read, trylock).
pub(crate) fn lock_acquire_as(t: &TaskCell, class: &'static str, instance: usize, how: Acquire, site: Site) {
    let cfg = t.exec.config();
    let kind = how.kind;
    if cfg.lockdep {
        let found = {
            let st = t.state();
            t.exec.run.lockdep().acquire(t, &st, class, instance, how, site, cfg.wait_context)
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
    t.state().held.push(HeldLock { class, instance, kind, read: how.read, site });
    t.exec.emit(t, Cat::Lock, site.op, || format!("{class} at {}", site.file_line()));
}

/// Records the release of `instance`; reports a release of a lock the task does not hold.
/// Returns false when the lock was not held.
pub(crate) fn lock_release(
    t: &TaskCell,
    class: &'static str,
    instance: usize,
    at: Loc,
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
