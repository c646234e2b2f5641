//! `lib/fault-inject.c`, `mm/page_alloc.c` / `mm/fail_page_alloc.c` and `mm/failslab.c`:
//! fault injection faithful to `should_fail()` (facts §5.1-5.3), plus a deterministic
//! "fail the N-th call" mode mirroring `/proc/<pid>/fail-nth`.
//!
//! The kernel's defaults never fail brd's allocations: `fail_page_alloc` ignores order-0
//! (`min-order = 1`), sleepable (`ignore-gfp-wait = Y`) and highmem (`ignore-gfp-highmem = Y`)
//! requests, and `failslab` ignores sleepable ones.

pub use crate::defs::fault::{FailPageAlloc, FailSlab, FaultAttr, FaultPlan};

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
