//! `mm/slab.c` / `mm/slub.c` entry points, as far as drivers' callers need them: a named cache
//! whose allocations run the kernel's pre-allocation hook — `might_sleep_if(blocking)`, then
//! `should_failslab()` — and may fail. Object memory itself is not modelled (the radix tree
//! and xarray keep their nodes in the model); live objects are counted per cache.

use crate::defs::loc::Loc;

use crate::gfp::Gfp;
use crate::model::mem::alloc::slab_pre_alloc_at;

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
    slab_pre_alloc_at(Loc::caller(), cache.name, cache.size, gfp)
}

/// [`kmem_cache_alloc`] on behalf of an API that allocates at its caller's location (the radix
/// tree's and xarray's node allocations).
pub(crate) fn kmem_cache_alloc_at(at: Loc, cache: &KmemCache, gfp: Gfp) -> Result<(), ()> {
    slab_pre_alloc_at(at, cache.name, cache.size, gfp)
}
