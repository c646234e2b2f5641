//! The decision behind fault injection: `should_fail()` in the kernel's order, with the
//! per-execution counters a plan needs (facts §5.1-5.3).

use crate::defs::fault::{Cap, FaultAttr, FaultPlan};
use crate::defs::gfp::{Gfp, __GFP_DIRECT_RECLAIM, __GFP_HIGHMEM, __GFP_NOFAIL};

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
