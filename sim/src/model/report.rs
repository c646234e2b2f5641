//! Violations and their reports: the kernel's report text plus ksim's simulated call trace and
//! the one command that replays the run.

use std::fmt;

/// The kinds of contract violation ksim reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Violation {
    /// "BUG: sleeping function called from invalid context" (`___might_sleep`).
    SleepInAtomic,
    /// "BUG: scheduling while atomic" (`__schedule_bug`): a task really blocked in atomic context.
    SchedulingWhileAtomic,
    /// lockdep "possible recursive locking detected" (AA).
    RecursiveLocking,
    /// lockdep "bad unlock balance detected!".
    BadUnlock,
    /// lockdep "possible circular locking dependency detected" (AB-BA), accumulated over every
    /// execution of a run.
    LockOrderInversion,
    /// lockdep "inconsistent lock state": a class used in hardirq (softirq) context and also
    /// taken with that interrupt enabled, from usage accumulated over every execution of a run.
    InconsistentLockState,
    /// lockdep "possible irq lock inversion dependency detected" and "HARDIRQ-safe ->
    /// HARDIRQ-unsafe lock order detected": an irq-safe lock depends on an irq-unsafe one.
    IrqLockInversion,
    /// PROVE_RCU "suspicious RCU usage": an RCU-protected pointer read with neither the RCU read
    /// lock nor its update-side lock held, or `synchronize_rcu()` inside a read-side section.
    SuspiciousRcu,
    /// PROVE_RAW_LOCK_NESTING "BUG: Invalid wait context": a lock that may sleep on PREEMPT_RT
    /// (or always) taken where it may not.
    InvalidWaitContext,
    /// A `refcount_t` warning ("refcount_t: underflow; use-after-free." and the others).
    Refcount,
    /// debugobjects (`CONFIG_DEBUG_OBJECTS_*`): "ODEBUG: init active ..." and its kin — an
    /// object re-initialised or freed while still active.
    DebugObjects,
    /// A `WARN_ON()` / `WARN()` that fired: the kernel's own on a misused API (`kref_put()`
    /// without a release in 4.0, `del_timer_sync()` from hardirq context, `init_completion()`
    /// over waiters), or a driver's.
    Warning,
    /// A task, work item or handler returned with preempt_count, irqs, RCU or locks not restored.
    UnbalancedContext,
    /// Every task blocked (the backend's deadlock detection).
    Deadlock,
    /// KASAN "use-after-free": access through a stale page handle or address.
    UseAfterFree,
    /// KASAN "double-free" (or a reference dropped on a free page).
    DoubleFree,
    /// KASAN "invalid-free": `kfree()` of an address that is not the start of a live slab
    /// object (or `kmem_cache_free()` to the wrong cache).
    InvalidFree,
    /// KASAN "page-out-of-bounds": an access past the allocation an address points into.
    OutOfBounds,
    /// KMSAN "uninit-value": a read of bytes never written in a page allocated without
    /// `__GFP_ZERO`.
    UninitRead,
    /// kmemleak: pages still allocated when the execution ended.
    Leak,
    /// A reclaim that could issue I/O from inside the block I/O path (why brd uses GFP_NOIO).
    ReclaimRecursion,
    /// An access through an address with no kernel mapping: NULL (`page_address()` of a highmem
    /// page), or a kmap already unmapped.
    NonAddressable,
    /// `kunmap_atomic()` / `kunmap_local()` out of order (they must nest strictly).
    KmapNesting,
    /// A scenario's final check failed: data read back differs from the shadow model, or an
    /// errno is not the one the kernel returns.
    Integrity,
    /// A driver `BUG_ON()` / `BUG()`.
    Bug,
    /// Any other panic inside the simulation (a driver or harness bug).
    Panic,
}

impl Violation {
    /// Every kind, in order.
    pub const ALL: &'static [Violation] = &[
        Violation::SleepInAtomic,
        Violation::SchedulingWhileAtomic,
        Violation::RecursiveLocking,
        Violation::BadUnlock,
        Violation::LockOrderInversion,
        Violation::InconsistentLockState,
        Violation::IrqLockInversion,
        Violation::SuspiciousRcu,
        Violation::InvalidWaitContext,
        Violation::Refcount,
        Violation::DebugObjects,
        Violation::Warning,
        Violation::UnbalancedContext,
        Violation::Deadlock,
        Violation::UseAfterFree,
        Violation::DoubleFree,
        Violation::InvalidFree,
        Violation::OutOfBounds,
        Violation::UninitRead,
        Violation::Leak,
        Violation::ReclaimRecursion,
        Violation::NonAddressable,
        Violation::KmapNesting,
        Violation::Integrity,
        Violation::Bug,
        Violation::Panic,
    ];

    /// Stable kebab-case name used in KTAP, tokens and expectations.
    pub fn name(self) -> &'static str {
        match self {
            Violation::SleepInAtomic => "sleep-in-atomic",
            Violation::SchedulingWhileAtomic => "scheduling-while-atomic",
            Violation::RecursiveLocking => "recursive-locking",
            Violation::BadUnlock => "bad-unlock",
            Violation::LockOrderInversion => "lock-order-inversion",
            Violation::InconsistentLockState => "inconsistent-lock-state",
            Violation::IrqLockInversion => "irq-lock-inversion",
            Violation::SuspiciousRcu => "suspicious-rcu-usage",
            Violation::InvalidWaitContext => "invalid-wait-context",
            Violation::Refcount => "refcount",
            Violation::DebugObjects => "debug-objects",
            Violation::Warning => "warning",
            Violation::UnbalancedContext => "unbalanced-context",
            Violation::Deadlock => "deadlock",
            Violation::UseAfterFree => "use-after-free",
            Violation::DoubleFree => "double-free",
            Violation::InvalidFree => "invalid-free",
            Violation::OutOfBounds => "out-of-bounds",
            Violation::UninitRead => "uninit-read",
            Violation::Leak => "leak",
            Violation::ReclaimRecursion => "reclaim-recursion",
            Violation::NonAddressable => "non-addressable",
            Violation::KmapNesting => "kmap-nesting",
            Violation::Integrity => "integrity",
            Violation::Bug => "bug",
            Violation::Panic => "panic",
        }
    }

    /// Parses [`Violation::name`].
    pub fn from_name(s: &str) -> Option<Violation> {
        Violation::ALL.iter().copied().find(|v| v.name() == s)
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One report, as the kernel would print it, with ksim's additions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// What was violated.
    pub kind: Violation,
    /// The full text: kernel lines, `Call trace (simulated):`, `replay:`.
    pub text: String,
    /// pid of the offending task.
    pub pid: u32,
    /// Name of the offending task.
    pub task: String,
    /// Index of the execution (0-based) in which it was found.
    pub execution: u64,
    /// The replay token (argument of `ksim replay`).
    pub token: String,
    /// Whether the token replays the failure: false for a std run with more than one task
    /// (real threads, an interleaving nothing recorded); its `replay:` line then says so.
    pub replayable: bool,
}

impl Report {
    /// The first line (the kernel's headline).
    pub fn headline(&self) -> &str {
        self.text.lines().find(|l| !l.starts_with('=') && !l.starts_with('-') && !l.is_empty()).unwrap_or("")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The marker a violation panics with, so loom and shuttle stop and keep the failing schedule;
/// ksim's panic hook keeps it quiet.
#[derive(Debug)]
pub(crate) struct Reported(pub Violation);
