//! `mm/slab.c` / `mm/slub.c` entry points, as far as drivers' callers need them: a named cache
//! whose allocations run the kernel's pre-allocation hook — `might_sleep_if(blocking)`, then
//! `should_failslab()` — and may fail. Object memory itself is not modelled (the radix tree
//! and xarray keep their nodes in the model); live objects are counted per cache.

use std::panic::Location;

use crate::fault_inject::Cap;
use crate::gfp::{gfpflags_allow_blocking, Gfp};
use crate::model::current;
use crate::model::trace::Cat;
use crate::sched::might_sleep_check_lazy;

/// `struct kmem_cache`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmemCache {
    /// Cache name (e.g. `radix_tree_node`).
    pub name: &'static str,
    /// Object size in bytes (failslab's `space` counts it).
    pub size: usize,
}

/// `radix_tree_node_cachep` (4.0 x86-64: 576-byte nodes).
pub const RADIX_TREE_NODE: KmemCache = KmemCache { name: "radix_tree_node", size: 576 };

/// `kmem_cache_alloc(cache, gfp)`: `Ok(())` for an object, `Err(())` when it failed.
///
/// # Context
/// May sleep when `gfp` allows blocking (`might_sleep()` checked on every such call).
#[track_caller]
#[allow(clippy::result_unit_err)]
pub fn kmem_cache_alloc(cache: &KmemCache, gfp: Gfp) -> Result<(), ()> {
    kmem_cache_alloc_at(Location::caller(), cache, gfp)
}

pub(crate) fn kmem_cache_alloc_at(
    at: &'static Location<'static>,
    cache: &KmemCache,
    gfp: Gfp,
) -> Result<(), ()> {
    let t = current();
    let profile = t.exec.config().profile;
    if gfpflags_allow_blocking(gfp) {
        let name = cache.name;
        might_sleep_check_lazy(
            at,
            &move || format!("kmem_cache_alloc({name}, {})", gfp.display(profile)),
            0,
            None,
        );
    }
    let faults = &t.exec.config().faults;
    let failed = crate::fault_inject::FaultState::eligible(faults, Cap::Slab, gfp, 0).is_some() && {
        let mut mm = t.exec.mm();
        let m = &mut *mm;
        let rng = &mut m.rng;
        let mut nth = t.state().fail_nth;
        let r = m.fault.should_fail(
            &t.exec.config().faults,
            &mut nth,
            Cap::Slab,
            gfp,
            0,
            cache.size as i64,
            || rand::Rng::gen_range(rng, 0..100),
        );
        t.state().fail_nth = nth;
        r
    };
    t.exec.emit(&t, Cat::Mem, "kmem_cache_alloc", || {
        format!(
            "{} {}{}",
            cache.name,
            gfp.display(profile),
            if failed { " FAILED (fault injection)" } else { "" }
        )
    });
    if failed {
        Err(())
    } else {
        Ok(())
    }
}
