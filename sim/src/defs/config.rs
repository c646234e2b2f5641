//! What kernel the simulation models: the preempt_count layout and report format (4.0 or
//! modern), the RCU flavour, the debug options that decide what is detected, and ksim's own
//! checking options. Where kernels differ, the difference is a profile here, not a guess.

use std::fmt;

use super::fault::FaultPlan;

/// Which kernel's layout and report text to reproduce (facts §3.1, §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Profile {
    /// Linux 4.0 (2015): `NMI_BITS = 1`, `PREEMPT_ACTIVE` at bit 21, the two-line report header.
    V4_0,
    /// Linux 5.16 and later: `NMI_BITS = 4`, `preempt_count:` / `RCU nest depth:` report lines.
    Modern,
}

/// How `rcu_read_lock()` is counted (facts §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RcuFlavour {
    /// `!CONFIG_PREEMPT_RCU`: `rcu_read_lock()` is `preempt_disable()`.
    Classic,
    /// `CONFIG_PREEMPT_RCU`: a separate nesting counter, reported as `RCU nest depth:`.
    Preemptible,
}

/// When a may-sleep API is checked (ARCHITECTURE §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckMode {
    /// The kernel's own `CONFIG_DEBUG_ATOMIC_SLEEP`: report when a sleeping path actually runs.
    Observed,
    /// Also check APIs documented as may-sleep at their entry, even when their fast path would
    /// not sleep ("Expect that .direct_access can sleep").
    Contract,
}

/// The simulated kernel's configuration for one run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Layout and report format.
    pub profile: Profile,
    /// RCU flavour.
    pub rcu: RcuFlavour,
    /// `CONFIG_PREEMPT_COUNT`: without it `preempt_disable()` is only a barrier, so spinlocks,
    /// classic RCU and `kmap_atomic` are invisible to `might_sleep()` (facts checklist 5).
    pub preempt_count: bool,
    /// `CONFIG_DEBUG_ATOMIC_SLEEP`: whether `might_sleep()` checks at all.
    pub debug_atomic_sleep: bool,
    /// `CONFIG_DEBUG_PREEMPT`: print "Preemption disabled at:".
    pub debug_preempt: bool,
    /// `CONFIG_PROVE_LOCKING`: lockdep-lite (recursion, bad unlock, lock-order inversion).
    pub lockdep: bool,
    /// lockdep's irq-state tracking (`CONFIG_TRACE_IRQFLAGS` under `PROVE_LOCKING`): each lock
    /// class's hardirq/softirq usage bits and the checks on them ("inconsistent lock state",
    /// "irq lock inversion"). Only with `lockdep`.
    pub lockdep_irq: bool,
    /// `CONFIG_PROVE_RCU` (on with `PROVE_LOCKING` in the kernel): `rcu_dereference*()` checks
    /// and "Illegal synchronize_rcu() in RCU read-side critical section". Only with `lockdep`.
    pub prove_rcu: bool,
    /// `CONFIG_PROVE_RAW_LOCK_NESTING`: lockdep's wait-context check ("BUG: Invalid wait
    /// context"), reporting what PREEMPT_RT would break. Off by default, as in the kernel.
    pub wait_context: bool,
    /// Observed or contract checking.
    pub mode: CheckMode,
    /// The kernel's one-report-per-HZ rate limit in `___might_sleep`. Off by default: tests
    /// want every hit.
    pub rate_limit: bool,
    /// Stop the execution at the first report (like `panic_on_warn`), so that the model checkers
    /// record the failing schedule. When off, reports accumulate and the task goes on, as in the
    /// kernel.
    pub panic_on_report: bool,
    /// Record the event trace.
    pub trace: bool,
    /// Simulated `HZ` (jiffies per second) for `msleep` and the rate limit.
    pub hz: u64,
    /// Memory: page limit, highmem split, checks.
    pub mem: MemConfig,
    /// Fault injection.
    pub faults: FaultPlan,
}

/// The simulated machine's memory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemConfig {
    /// Total pages the allocator may hand out (`None`: unlimited). At the limit a blocking
    /// allocation enters simulated direct reclaim; a non-blocking one fails.
    pub limit_pages: Option<u64>,
    /// A 32-bit highmem machine: only this many pages are lowmem (ZONE_NORMAL, permanently
    /// mapped); `__GFP_HIGHMEM` allocations come from ZONE_HIGHMEM. `None`: no highmem (64-bit).
    pub lowmem_pages: Option<u64>,
    /// Report pages still allocated when an execution ends (kmemleak-style).
    pub leak_check: bool,
    /// Report reads of never-written bytes of pages allocated without `__GFP_ZERO`.
    pub poison_check: bool,
}

impl Default for MemConfig {
    fn default() -> Self {
        MemConfig { limit_pages: None, lowmem_pages: None, leak_check: true, poison_check: true }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::modern()
    }
}

impl Config {
    /// A current kernel with `DEBUG_ATOMIC_SLEEP`, `DEBUG_PREEMPT`, `PROVE_LOCKING`, classic RCU.
    pub fn modern() -> Self {
        Config {
            profile: Profile::Modern,
            rcu: RcuFlavour::Classic,
            preempt_count: true,
            debug_atomic_sleep: true,
            debug_preempt: true,
            lockdep: true,
            lockdep_irq: true,
            prove_rcu: true,
            wait_context: false,
            mode: CheckMode::Observed,
            rate_limit: false,
            panic_on_report: true,
            trace: true,
            hz: 250,
            mem: MemConfig::default(),
            faults: FaultPlan::default(),
        }
    }

    /// Linux 4.0 (the 2015 thread's kernel) with the same debug options.
    pub fn v4_0() -> Self {
        Config { profile: Profile::V4_0, ..Config::modern() }
    }

    /// Sets the RCU flavour.
    pub fn rcu(mut self, rcu: RcuFlavour) -> Self {
        self.rcu = rcu;
        self
    }

    /// Sets the checking mode.
    pub fn mode(mut self, mode: CheckMode) -> Self {
        self.mode = mode;
        self
    }

    /// Turns the event trace on or off.
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Turns the one-report-per-HZ rate limit on or off.
    pub fn rate_limit(mut self, on: bool) -> Self {
        self.rate_limit = on;
        self
    }

    /// Whether the first report ends the execution.
    pub fn panic_on_report(mut self, on: bool) -> Self {
        self.panic_on_report = on;
        self
    }

    /// Limits the allocator to `pages` pages.
    pub fn mem_limit(mut self, pages: u64) -> Self {
        self.mem.limit_pages = Some(pages);
        self
    }

    /// A 32-bit highmem machine with `lowmem` pages of ZONE_NORMAL.
    pub fn highmem(mut self, lowmem: u64) -> Self {
        self.mem.lowmem_pages = Some(lowmem);
        self
    }

    /// Sets the fault plan.
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// `CONFIG_PROVE_LOCKING` on or off (lockdep and the checks built on it).
    pub fn lockdep(mut self, on: bool) -> Self {
        self.lockdep = on;
        self
    }

    /// lockdep's irq-state tracking on or off.
    pub fn lockdep_irq(mut self, on: bool) -> Self {
        self.lockdep_irq = on;
        self
    }

    /// `CONFIG_PROVE_RCU` on or off.
    pub fn prove_rcu(mut self, on: bool) -> Self {
        self.prove_rcu = on;
        self
    }

    /// `CONFIG_PROVE_RAW_LOCK_NESTING` (the wait-context check) on or off.
    pub fn wait_context(mut self, on: bool) -> Self {
        self.wait_context = on;
        self
    }

    /// `CONFIG_PREEMPT_COUNT` on or off.
    pub fn preempt_count(mut self, on: bool) -> Self {
        self.preempt_count = on;
        self
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::V4_0 => "4.0",
            Profile::Modern => "modern",
        })
    }
}

impl fmt::Display for CheckMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CheckMode::Observed => "observed",
            CheckMode::Contract => "contract",
        })
    }
}

impl fmt::Display for RcuFlavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RcuFlavour::Classic => "classic",
            RcuFlavour::Preemptible => "preempt",
        })
    }
}
