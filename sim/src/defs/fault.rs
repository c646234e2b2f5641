//! Fault plans (`lib/fault-inject.c`'s `struct fault_attr`, `fail_page_alloc` and `failslab`
//! knobs, with the kernel's defaults; facts §5.1-5.3): plain configuration, shared by the model
//! (which decides each injection) and the API (which sets plans and `fail-nth`).

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

/// Which capability is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cap {
    /// `fail_page_alloc`.
    PageAlloc,
    /// `failslab`.
    Slab,
}
