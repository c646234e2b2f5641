//! lockdep's irq-safety checks (`kernel/locking/lockdep.c`: `mark_usage`, `mark_lock_irq`,
//! `check_irq_usage`), the report lockdep prints most. Every lock class accumulates usage bits
//! over every execution of a run — used in hardirq (softirq) context, taken with hardirqs
//! (softirqs) enabled, for writing or reading — each remembered with the first site that set
//! it. A class that gets both "used in" and "enabled" for one interrupt kind could be taken by
//! an interrupt on the CPU that holds it: "inconsistent lock state", whether or not any
//! execution deadlocked. The same mismatch across a dependency is "irq lock inversion" (found
//! when a usage bit is set) or "irq-safe -> irq-unsafe lock order" (found when an edge is
//! added). Report text per profile (4.0's `[ INFO: ... ]` banners, modern `WARNING:` ones);
//! the facts are in `docs/kernel-api-facts.md` §1.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use super::lockdep::{Acquire, LockGraph};
use super::task::{HeldLock, Site, TaskCell, TaskState};
use crate::defs::config::Profile;
use crate::defs::preempt_mask::{HARDIRQ_MASK, SOFTIRQ_MASK, SOFTIRQ_OFFSET};

/// `enum lock_usage_bit`: `state << 2 | enabled << 1 | read`, state 0 HARDIRQ, 1 SOFTIRQ.
const BITS: usize = 8;
const READ: usize = 1;
const ENABLED: usize = 2;

/// lockdep's `usage_str[]`.
const USAGE_STR: [&str; BITS] = [
    "IN-HARDIRQ-W",
    "IN-HARDIRQ-R",
    "HARDIRQ-ON-W",
    "HARDIRQ-ON-R",
    "IN-SOFTIRQ-W",
    "IN-SOFTIRQ-R",
    "SOFTIRQ-ON-W",
    "SOFTIRQ-ON-R",
];

fn state_name(bit: usize) -> &'static str {
    if bit & 4 == 0 {
        "HARDIRQ"
    } else {
        "SOFTIRQ"
    }
}

/// Where a usage bit was first set (lockdep's `usage_traces[]`).
#[derive(Clone, Debug)]
pub(crate) struct UsageTrace {
    site: Site,
    frames: Vec<&'static str>,
}

impl UsageTrace {
    fn line(&self) -> String {
        let mut s = format!("  {} at {}", self.site.op, self.site.file_line());
        for f in self.frames.iter().rev() {
            s.push_str(" <- ");
            s.push_str(f);
        }
        s
    }
}

/// A class's usage: the bits, their first sites, and its wait type.
#[derive(Clone, Debug)]
pub(crate) struct Usage {
    mask: u8,
    traces: [Option<Box<UsageTrace>>; BITS],
    /// `LD_WAIT_*` of the class (for `-{n:n}` and the wait-context check).
    pub(crate) wait_type: u8,
}

impl Usage {
    pub(crate) fn new(wait_type: u8) -> Self {
        Usage { mask: 0, traces: Default::default(), wait_type }
    }

    fn has(&self, bit: usize) -> bool {
        self.mask & (1 << bit) != 0
    }

    /// `get_usage_chars()`: per state, the write then the read character: `+` enabled only,
    /// `-` used in irq only, `?` both, `.` neither.
    pub(crate) fn chars(&self) -> String {
        let mut s = String::with_capacity(4);
        for state in [0, 4] {
            for read in [0, READ] {
                let used = self.has(state | read);
                let on = self.has(state | ENABLED | read);
                s.push(match (on, used) {
                    (true, true) => '?',
                    (true, false) => '+',
                    (false, true) => '-',
                    (false, false) => '.',
                });
            }
        }
        s
    }
}

/// `exclusive_bit()`: the opposite direction of the same state, write.
fn exclusive(bit: usize) -> usize {
    (bit & 4) | ((bit & ENABLED) ^ ENABLED)
}

/// The usage bits an acquisition in state `st` sets, as a mask (`mark_usage()` sets them in
/// bit order: used-in before enabled, hardirq before softirq).
fn new_bits(st: &TaskState, how: Acquire) -> u8 {
    let r = how.read as usize;
    let mut bits = 0u8;
    if !how.trylock {
        if st.preempt_count & HARDIRQ_MASK != 0 {
            bits |= 1 << r;
        }
        if st.preempt_count & SOFTIRQ_OFFSET != 0 {
            bits |= 1 << (4 | r);
        }
    }
    if !st.irqs_disabled {
        bits |= 1 << (ENABLED | r);
        if st.preempt_count & SOFTIRQ_MASK == 0 {
            bits |= 1 << (4 | ENABLED | r);
        }
    }
    bits
}

/// The order `mark_usage()` checks the bits in.
const ORDER: [usize; BITS] = [0, 1, 4, 5, 2, 3, 6, 7];

/// `name/pid [HC1[1]:SC0[0]:HE0:SE1]`, lockdep's context of a task.
fn context(task: &TaskCell, st: &TaskState) -> String {
    let pc = st.preempt_count;
    format!(
        "{}/{} [HC{}[{}]:SC{}[{}]:HE{}:SE{}]",
        task.name,
        task.pid,
        (pc & HARDIRQ_MASK != 0) as u8,
        (pc & HARDIRQ_MASK) >> 16,
        (pc & SOFTIRQ_OFFSET != 0) as u8,
        (pc & SOFTIRQ_MASK) >> 8,
        !st.irqs_disabled as u8,
        (pc & SOFTIRQ_MASK == 0) as u8
    )
}

/// A report's banner: 4.0's `[ INFO: title ]` or the modern `WARNING: title`, between rules.
pub(crate) fn banner(profile: Profile, title: &str) -> String {
    let head = match profile {
        Profile::V4_0 => format!("[ INFO: {title} ]"),
        Profile::Modern => format!("WARNING: {title}"),
    };
    let rule = |c: char| c.to_string().repeat(head.len());
    format!("{}\n{head}\n{}\n", rule('='), rule('-'))
}

impl LockGraph {
    /// `mark_usage()`: sets the bits this acquisition earns and checks each new one.
    pub(crate) fn mark_usage(
        &mut self,
        task: &TaskCell,
        st: &TaskState,
        class: &'static str,
        how: Acquire,
        site: Site,
    ) -> Option<(super::report::Violation, String)> {
        let wanted = new_bits(st, how);
        let u = self.usage.get_mut(class).expect("class registered before its usage");
        if u.mask & wanted == wanted {
            return None; // nothing new: the common case, one lookup
        }
        for bit in ORDER.into_iter().filter(|b| wanted & (1 << b) != 0) {
            let u = self.usage.get_mut(class).expect("class registered before its usage");
            if u.has(bit) {
                continue;
            }
            u.mask |= 1 << bit;
            u.traces[bit] = Some(Box::new(UsageTrace { site, frames: st.frames.clone() }));
            if let Some(found) = self.mark_lock_irq(task, st, class, bit, site) {
                return Some(found);
            }
        }
        None
    }

    /// `mark_lock_irq()`: the class's own conflicting bit, then the dependencies'.
    fn mark_lock_irq(
        &self,
        task: &TaskCell,
        st: &TaskState,
        class: &'static str,
        bit: usize,
        site: Site,
    ) -> Option<(super::report::Violation, String)> {
        use super::report::Violation::{InconsistentLockState, IrqLockInversion};
        let excl = exclusive(bit);
        let u = &self.usage[class];
        let read = bit & READ != 0;
        for bad in [excl, excl | READ] {
            if (bad == excl || !read) && u.has(bad) {
                return Some((InconsistentLockState, self.usage_bug(task, st, class, bad, bit, site)));
            }
        }
        // The other side of the same state: used-in searches forwards for enabled, enabled
        // backwards for used-in; a write usage conflicts with the read variant too.
        let wanted = |u: &Usage| u.has(excl) || (!read && u.has(excl | READ));
        let path = if bit & ENABLED == 0 {
            self.search(class, true, &wanted)
        } else {
            self.search(class, false, &wanted)
        }?;
        Some((IrqLockInversion, self.inversion_bug(task, st, class, bit, &path, site)))
    }

    /// Breadth-first search from `class` along (forwards) or against the edges for a class
    /// other than `class` that satisfies `wanted`; the path, `class` first.
    fn search(
        &self,
        class: &'static str,
        forwards: bool,
        wanted: &dyn Fn(&Usage) -> bool,
    ) -> Option<Vec<&'static str>> {
        let next = |c: &'static str| -> Vec<&'static str> {
            if forwards {
                self.edges.get(c).map(|m| m.keys().copied().collect()).unwrap_or_default()
            } else {
                self.edges.iter().filter(|(_, m)| m.contains_key(c)).map(|(p, _)| *p).collect()
            }
        };
        let mut prev: BTreeMap<&'static str, &'static str> = BTreeMap::new();
        let mut seen = BTreeSet::from([class]);
        let mut queue = VecDeque::from([class]);
        while let Some(c) = queue.pop_front() {
            if c != class && self.usage.get(c).is_some_and(wanted) {
                let mut path = vec![c];
                let mut at = c;
                while let Some(p) = prev.get(at) {
                    path.push(p);
                    at = p;
                }
                path.reverse();
                return Some(path);
            }
            for n in next(c) {
                if seen.insert(n) {
                    prev.insert(n, c);
                    queue.push_back(n);
                }
            }
        }
        None
    }

    fn trace(&self, class: &str, bit: usize) -> String {
        self.usage
            .get(class)
            .and_then(|u| u.traces[bit].as_ref())
            .map_or_else(|| "  (unknown)".to_string(), |t| t.line())
    }

    /// `print_usage_bug()` with its `print_usage_bug_scenario()`.
    fn usage_bug(
        &self,
        task: &TaskCell,
        st: &TaskState,
        class: &str,
        prev: usize,
        new: usize,
        site: Site,
    ) -> String {
        let mut s = banner(self.profile, "inconsistent lock state");
        let _ = writeln!(s, "inconsistent {{{}}} -> {{{}}} usage.", USAGE_STR[prev], USAGE_STR[new]);
        let _ = writeln!(s, "{} takes:", context(task, st));
        let _ = writeln!(s, " {}, at: {}", self.class(class), site.file_line());
        let _ = writeln!(s, "{{{}}} state was registered at:", USAGE_STR[prev]);
        let _ = writeln!(s, "{}", self.trace(class, prev));
        s.push_str(&super::sleep::irqtrace_of(st));
        s.push_str("\nother info that might help us debug this:\n");
        s.push_str(" Possible unsafe locking scenario:\n\n       CPU0\n       ----\n");
        let _ = writeln!(s, "  lock({class});\n  <Interrupt>\n    lock({class});");
        s.push_str("\n *** DEADLOCK ***\n\n");
        s.push_str(&self.held_locks(task, &st.held));
        s
    }

    /// `print_irq_lock_scenario()`: `safe` is taken in interrupts, `unsafe_` with them on.
    fn irq_scenario(safe: &str, unsafe_: &str, middle: &str) -> String {
        let mut s = String::from(" Possible interrupt unsafe locking scenario:\n\n");
        s.push_str("       CPU0                    CPU1\n       ----                    ----\n");
        let _ = writeln!(s, "  lock({unsafe_});");
        s.push_str("                               local_irq_disable();\n");
        let _ = writeln!(s, "                               lock({safe});");
        let _ = writeln!(s, "                               lock({middle});");
        let _ = writeln!(s, "  <Interrupt>\n    lock({safe});");
        s.push_str("\n *** DEADLOCK ***\n\n");
        s
    }

    /// The dependency chain `path` (first to last), one edge per entry.
    fn chain(&self, path: &[&'static str]) -> String {
        let mut s = String::new();
        for pair in path.windows(2) {
            if let Some(e) = self.edges.get(pair[0]).and_then(|m| m.get(pair[1])) {
                let _ = writeln!(s, " -> {}:\n{}", self.class(pair[1]), e.taken_line(pair[0], pair[1]));
            }
        }
        s
    }

    /// `print_irq_inversion_bug()`: `class` just got usage `bit`; `path` leads (from `class`)
    /// to the class on the other side.
    fn inversion_bug(
        &self,
        task: &TaskCell,
        st: &TaskState,
        class: &'static str,
        bit: usize,
        path: &[&'static str],
        site: Site,
    ) -> String {
        let forwards = bit & ENABLED == 0;
        let other = *path.last().expect("a path ends somewhere");
        let irqclass = state_name(bit);
        let mut s = banner(self.profile, "possible irq lock inversion dependency detected");
        let _ = writeln!(s, "{}/{} just changed the state of lock:", task.name, task.pid);
        let _ = writeln!(s, " {}, at: {}", self.class(class), site.file_line());
        if forwards {
            let _ = writeln!(s, "but this lock took another, {irqclass}-unsafe lock in the past:");
        } else {
            let _ = writeln!(s, "but this lock was taken by another, {irqclass}-safe lock in the past:");
        }
        let _ = writeln!(s, " {}", self.class(other));
        s.push_str("\n\nand interrupts could create inverse lock ordering between them.\n\n");
        s.push_str("\nother info that might help us debug this:\n");
        // The chain from the safe lock to the unsafe one, and the lock next to the safe end.
        let chain: Vec<&'static str> =
            if forwards { path.to_vec() } else { path.iter().rev().copied().collect() };
        let (safe, unsafe_) = (chain[0], chain[chain.len() - 1]);
        s.push_str(&Self::irq_scenario(safe, unsafe_, chain[1]));
        s.push_str(&self.held_locks(task, &st.held));
        s.push_str("\nthe shortest dependencies between 2nd lock and 1st lock:\n");
        s.push_str(&self.chain(&chain));
        s
    }

    /// `check_irq_usage()` for a new edge `held -> class`: an irq-safe lock at or before
    /// `held` must not come to depend on an irq-unsafe lock at or after `class`.
    pub(crate) fn check_irq_dependency(
        &self,
        task: &TaskCell,
        st: &TaskState,
        held: &HeldLock,
        class: &'static str,
        site: Site,
    ) -> Option<String> {
        for state in [0, 4] {
            let safe = |u: &Usage| u.has(state) || u.has(state | READ);
            let unsafe_ = |u: &Usage| u.has(state | ENABLED);
            let Some(found_safe) = self.reach(held.class, false, &safe) else { continue };
            let Some(found_unsafe) = self.reach(class, true, &unsafe_) else { continue };
            return Some(self.bad_irq_dependency(
                task,
                st,
                held,
                class,
                site,
                state,
                found_safe,
                found_unsafe,
            ));
        }
        None
    }

    /// `from` itself if it satisfies `wanted`, else the nearest class along (or against) the
    /// edges that does.
    fn reach(
        &self,
        from: &'static str,
        forwards: bool,
        wanted: &dyn Fn(&Usage) -> bool,
    ) -> Option<&'static str> {
        if self.usage.get(from).is_some_and(wanted) {
            return Some(from);
        }
        self.search(from, forwards, wanted).and_then(|p| p.last().copied())
    }

    /// `print_bad_irq_dependency()`.
    #[allow(clippy::too_many_arguments)]
    fn bad_irq_dependency(
        &self,
        task: &TaskCell,
        st: &TaskState,
        held: &HeldLock,
        class: &'static str,
        site: Site,
        state: usize,
        safe: &'static str,
        unsafe_: &'static str,
    ) -> String {
        let irq = state_name(state);
        let mut s = banner(self.profile, &format!("{irq}-safe -> {irq}-unsafe lock order detected"));
        let _ = writeln!(s, "{} is trying to acquire:", context(task, st));
        let _ = writeln!(s, " {}, at: {}", self.class(class), site.file_line());
        s.push_str("\nand this task is already holding:\n");
        let _ = writeln!(s, " {}, at: {}", self.class(held.class), held.site.file_line());
        s.push_str("which would create a new lock dependency:\n");
        let _ = writeln!(s, " {} -> {}", self.class(held.class), self.class(class));
        let _ = writeln!(s, "\nbut this new dependency connects a {irq}-irq-safe lock:");
        let _ = writeln!(s, " {}", self.class(safe));
        let safe_bit = if self.usage[safe].has(state) { state } else { state | READ };
        let _ = writeln!(s, "\n... which became {irq}-irq-safe at:\n{}", self.trace(safe, safe_bit));
        let _ = writeln!(s, "\nto a {irq}-irq-unsafe lock:");
        let _ = writeln!(s, " {}", self.class(unsafe_));
        let _ =
            writeln!(s, "\n... which became {irq}-irq-unsafe at:\n{}", self.trace(unsafe_, state | ENABLED));
        s.push_str("\nother info that might help us debug this:\n\n");
        let middle = if held.class == safe { class } else { held.class };
        s.push_str(&Self::irq_scenario(safe, unsafe_, middle));
        s.push_str(&self.held_locks(task, &st.held));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_chars_follow_get_usage_char() {
        let mut u = Usage::new(2);
        assert_eq!(u.chars(), "....");
        u.mask = 1 << ENABLED | 1 << (4 | ENABLED);
        assert_eq!(u.chars(), "+.+.");
        u.mask |= 1;
        assert_eq!(u.chars(), "?.+.");
        u.mask = 1 | 1 << (4 | READ);
        assert_eq!(u.chars(), "-..-");
    }

    #[test]
    fn exclusive_bit_flips_direction_and_drops_read() {
        assert_eq!(USAGE_STR[exclusive(0)], "HARDIRQ-ON-W");
        assert_eq!(USAGE_STR[exclusive(ENABLED | READ)], "IN-HARDIRQ-W");
        assert_eq!(USAGE_STR[exclusive(4 | ENABLED)], "IN-SOFTIRQ-W");
    }
}
