//! `lib/fault-inject.c`, `mm/page_alloc.c` / `mm/fail_page_alloc.c` and `mm/failslab.c`:
//! fault injection faithful to `should_fail()` (facts §5.1-5.3), plus a deterministic
//! "fail the N-th call" mode mirroring `/proc/<pid>/fail-nth`.
//!
//! The kernel's defaults never fail brd's allocations: `fail_page_alloc` ignores order-0
//! (`min-order = 1`), sleepable (`ignore-gfp-wait = Y`) and highmem (`ignore-gfp-highmem = Y`)
//! requests, and `failslab` ignores sleepable ones.

use crate::gfp::{Gfp, __GFP_DIRECT_RECLAIM, __GFP_HIGHMEM, __GFP_NOFAIL};

/// `struct fault_attr`: the generic knobs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FaultAttr {
    /// `probability` in percent; 0 disables injection.
    pub probability: u32,
    /// `interval`: fail only every N-th eligible call.
    pub interval: u64,
    /// `times`: how many failures at most; -1 for unlimited.
    pub times: i64,
    /// `space`: injection is suppressed until this many bytes have been requested.
    pub space: i64,
    /// `verbose`: 0 silent, 1 one line, 2 with a stack (here: the simulated call trace).
    pub verbose: u8,
}

impl Default for FaultAttr {
    /// `FAULT_ATTR_INITIALIZER`: off, interval 1, times 1, verbose 2.
    fn default() -> Self {
        FaultAttr { probability: 0, interval: 1, times: 1, space: 0, verbose: 2 }
    }
}

/// `fail_page_alloc` (page allocator) knobs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FailPageAlloc {
    /// Generic knobs.
    pub attr: FaultAttr,
    /// `ignore-gfp-wait` (modern `ignore_gfp_reclaim`): default Y.
    pub ignore_gfp_wait: bool,
    /// `ignore-gfp-highmem`: default Y.
    pub ignore_gfp_highmem: bool,
    /// `min-order`: default 1.
    pub min_order: u32,
}

impl Default for FailPageAlloc {
    fn default() -> Self {
        FailPageAlloc {
            attr: FaultAttr::default(),
            ignore_gfp_wait: true,
            ignore_gfp_highmem: true,
            min_order: 1,
        }
    }
}

/// `failslab` knobs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FailSlab {
    /// Generic knobs.
    pub attr: FaultAttr,
    /// `ignore-gfp-wait`: default Y.
    pub ignore_gfp_wait: bool,
}

impl Default for FailSlab {
    fn default() -> Self {
        FailSlab { attr: FaultAttr::default(), ignore_gfp_wait: true }
    }
}

/// The fault plan of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FaultPlan {
    /// Page allocator injection.
    pub page_alloc: FailPageAlloc,
    /// Slab injection.
    pub slab: FailSlab,
    /// Fail the N-th call (1-based) that reaches `should_fail()` in an execution, whatever the
    /// probability — like writing N to `/proc/<pid>/fail-nth`, counted over all tasks of the
    /// execution so a sweep is deterministic. `None`: off.
    pub fail_nth: Option<u64>,
}

impl FaultPlan {
    /// A plan that makes every page and slab allocation eligible (no ignore filters,
    /// min-order 0) and fails only the N-th: what a fail-nth sweep of brd needs.
    pub fn fail_nth(n: u64) -> Self {
        let mut p = FaultPlan::default();
        p.page_alloc.ignore_gfp_wait = false;
        p.page_alloc.ignore_gfp_highmem = false;
        p.page_alloc.min_order = 0;
        p.slab.ignore_gfp_wait = false;
        p.fail_nth = Some(n);
        p
    }
}

/// Per-execution counters behind a plan.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    page_count: u64,
    page_times_used: i64,
    page_space_used: i64,
    slab_count: u64,
    slab_times_used: i64,
    slab_space_used: i64,
    /// Calls that reached `should_fail()`, for fail-nth.
    pub(crate) calls: u64,
}

/// Writes `n` to the current task's `/proc/self/fail-nth`: the task's n-th call that reaches
/// `should_fail()` (after the capability filters) fails; 0 disarms. Counted per task, as in the
/// kernel; the counter disarms itself when it fires.
///
/// # Context
/// Any.
pub fn set_fail_nth(n: u64) {
    crate::model::current().state().fail_nth = n;
}

/// Reads the current task's `/proc/self/fail-nth` (0 once it fired or when disarmed).
pub fn fail_nth() -> u64 {
    crate::model::current().state().fail_nth
}

/// Which capability is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cap {
    PageAlloc,
    Slab,
}

impl FaultState {
    /// The capability's filters (`should_fail_alloc_page()` / `should_failslab()` before they
    /// call `should_fail()`): the attributes to use, or `None` when the call is exempt. Callers
    /// use it as a fast path: most allocations are exempt under the kernel's defaults.
    pub(crate) fn eligible(plan: &FaultPlan, cap: Cap, gfp: Gfp, order: u32) -> Option<&FaultAttr> {
        if gfp.contains(__GFP_NOFAIL) {
            return None;
        }
        match cap {
            Cap::PageAlloc => {
                let p = &plan.page_alloc;
                if order < p.min_order
                    || (p.ignore_gfp_highmem && gfp.contains(__GFP_HIGHMEM))
                    || (p.ignore_gfp_wait && gfp.contains(__GFP_DIRECT_RECLAIM))
                {
                    return None;
                }
                Some(&p.attr)
            }
            Cap::Slab => {
                if plan.slab.ignore_gfp_wait && gfp.contains(__GFP_DIRECT_RECLAIM) {
                    return None;
                }
                Some(&plan.slab.attr)
            }
        }
    }

    /// `should_fail_alloc_page()` / `should_failslab()`: the capability's filters, then the
    /// generic `should_fail(attr, size)` in the kernel's order: fail-nth, probability == 0,
    /// times == 0, space, interval, the probability roll. `roll` gives a number in 0..100.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn should_fail(
        &mut self,
        plan: &FaultPlan,
        task_nth: &mut u64,
        cap: Cap,
        gfp: Gfp,
        order: u32,
        size: i64,
        roll: impl FnOnce() -> u32,
    ) -> bool {
        let Some(attr) = Self::eligible(plan, cap, gfp, order) else { return false };
        // `should_fail_ex()`: the task's fail-nth comes first and overrides everything else.
        if *task_nth > 0 {
            *task_nth -= 1;
            return *task_nth == 0;
        }
        self.calls += 1;
        if let Some(n) = plan.fail_nth {
            return self.calls == n;
        }
        let (count, times_used, space_used) = match cap {
            Cap::PageAlloc => (&mut self.page_count, &mut self.page_times_used, &mut self.page_space_used),
            Cap::Slab => (&mut self.slab_count, &mut self.slab_times_used, &mut self.slab_space_used),
        };
        if attr.probability == 0 {
            return false;
        }
        if attr.times != -1 && *times_used >= attr.times {
            return false;
        }
        // `if (atomic_read(&attr->space) > size) { atomic_sub(size, &attr->space); return false; }`
        if attr.space - *space_used > size {
            *space_used += size;
            return false;
        }
        if attr.interval > 1 {
            *count += 1;
            if *count % attr.interval != 0 {
                return false;
            }
        }
        if attr.probability <= roll() {
            return false;
        }
        *times_used += 1;
        true
    }
}
