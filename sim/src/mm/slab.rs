//! `include/linux/slab.h` (`mm/slab_common.c`, `mm/slub.c`): the kmalloc family and named object
//! caches. Every allocation runs the kernel's pre-allocation hook — `might_sleep_if(blocking)`,
//! then `should_failslab()` — and objects are real memory the model tracks: accesses through
//! their addresses are checked as KASAN checks slab objects (out of bounds of the requested
//! size, after free), frees are checked (double free, invalid free, wrong cache), and objects
//! still allocated when an execution ends are kmemleak reports naming their allocation site.
//! The work is the model's (`model::mem::kmalloc`, `model::mem::slab`).
//!
//! The radix tree's and xarray's node allocations run the same hook ([`node_alloc_at`]) but
//! their nodes are the trees' own model, not objects.

use crate::defs::loc::Loc;
use crate::gfp::{Gfp, __GFP_ZERO};
use crate::mm::KAddr;
use crate::model::mem::alloc::slab_pre_alloc_at;
use crate::model::mem::kmalloc as k;
use crate::model::sleep::might_sleep_at;

pub use crate::model::mem::kmalloc::ZERO_SIZE_PTR;
pub use crate::model::mem::slab::{KMALLOC_MAX_CACHE_SIZE, KMALLOC_MAX_SIZE};

/// A tree's node cache (`radix_tree_node_cachep`): allocations are checked and traced, the
/// nodes themselves live in the tree's model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeCache {
    /// Cache name.
    pub name: &'static str,
    /// Object size in bytes (failslab's `space` counts it).
    pub size: usize,
}

/// `radix_tree_node_cachep` (4.0 x86-64: 576-byte nodes); the xarray's `xa_node`s come from it too.
pub(crate) const RADIX_TREE_NODE: NodeCache = NodeCache { name: "radix_tree_node", size: 576 };

/// A node allocation from `cache` on behalf of a tree operation called at `at`: `Err(())` when
/// it failed (fault injection).
pub(crate) fn node_alloc_at(at: Loc, cache: &NodeCache, gfp: Gfp) -> Result<(), ()> {
    slab_pre_alloc_at(at, cache.name, cache.size, gfp)
}

/// `SLAB_*` cache flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabFlags(pub u32);

impl SlabFlags {
    /// `SLAB_HWCACHE_ALIGN`: align objects to a cache line (64 bytes).
    pub const HWCACHE_ALIGN: SlabFlags = SlabFlags(0x2000);
    /// `SLAB_PANIC`: the kernel panics if creation fails (it never fails here).
    pub const PANIC: SlabFlags = SlabFlags(0x4_0000);
}

/// `struct kmem_cache *` from [`kmem_cache_create`]: valid in the execution that created it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmemCache {
    idx: usize,
    /// Object size in bytes.
    pub size: usize,
}

impl KmemCache {
    /// The cache's index in its execution (for foreign faces that hand out opaque handles).
    pub fn index(self) -> usize {
        self.idx
    }

    /// The cache of index `idx` (see [`KmemCache::index`]).
    pub fn from_index(idx: usize, size: usize) -> KmemCache {
        KmemCache { idx, size }
    }
}

/// `kmem_cache_create(name, size, align, flags, ctor)`.
///
/// # Context
/// Process context; may sleep (it allocates with `GFP_KERNEL`).
#[track_caller]
pub fn kmem_cache_create(name: &str, size: usize, align: usize, flags: SlabFlags) -> Option<KmemCache> {
    kmem_cache_create_at(Loc::caller(), name, size, align, flags)
}

/// [`kmem_cache_create`] called at `at`.
pub fn kmem_cache_create_at(
    at: Loc,
    name: &str,
    size: usize,
    align: usize,
    flags: SlabFlags,
) -> Option<KmemCache> {
    might_sleep_at(at, "kmem_cache_create()", None);
    let align = if flags.0 & SlabFlags::HWCACHE_ALIGN.0 != 0 { align.max(64) } else { align };
    Some(KmemCache { idx: k::cache_create(name, size, align), size })
}

/// `kmem_cache_alloc(cache, gfp)`: an object, or `None`.
///
/// # Context
/// May sleep when `gfp` allows blocking (`might_sleep()` checked on every such call).
#[track_caller]
pub fn kmem_cache_alloc(cache: &KmemCache, gfp: Gfp) -> Option<KAddr> {
    k::cache_alloc_at(Loc::caller(), cache.idx, gfp)
}

/// [`kmem_cache_alloc`] called at `at`.
pub fn kmem_cache_alloc_at(at: Loc, cache: &KmemCache, gfp: Gfp) -> Option<KAddr> {
    k::cache_alloc_at(at, cache.idx, gfp)
}

/// `kmem_cache_zalloc(cache, gfp)`: a zeroed object.
///
/// # Context
/// As [`kmem_cache_alloc`].
#[track_caller]
pub fn kmem_cache_zalloc(cache: &KmemCache, gfp: Gfp) -> Option<KAddr> {
    k::cache_alloc_at(Loc::caller(), cache.idx, gfp | __GFP_ZERO)
}

/// `kmem_cache_free(cache, obj)`: an object of another cache is SLUB's "Wrong slab cache"
/// warning; a freed one KASAN's double-free.
///
/// # Context
/// Any; does not sleep.
#[track_caller]
pub fn kmem_cache_free(cache: &KmemCache, obj: KAddr) {
    k::free_at(Loc::caller(), "kmem_cache_free", obj, Some(cache.idx))
}

/// [`kmem_cache_free`] called at `at`.
pub fn kmem_cache_free_at(at: Loc, cache: &KmemCache, obj: KAddr) {
    k::free_at(at, "kmem_cache_free", obj, Some(cache.idx))
}

/// `kmem_cache_destroy(cache)`: objects still allocated from it are reported ("Slab cache still
/// has objects").
///
/// # Context
/// Process context; may sleep.
#[track_caller]
pub fn kmem_cache_destroy(cache: KmemCache) {
    kmem_cache_destroy_at(Loc::caller(), cache)
}

/// [`kmem_cache_destroy`] called at `at`.
pub fn kmem_cache_destroy_at(at: Loc, cache: KmemCache) {
    might_sleep_at(at, "kmem_cache_destroy()", None);
    k::cache_destroy_at(at, cache.idx)
}

/// `kmalloc(size, gfp)`: `size` bytes (poisoned until written), [`ZERO_SIZE_PTR`] for 0,
/// `None` on failure or above `KMALLOC_MAX_SIZE`. Above `KMALLOC_MAX_CACHE_SIZE` (8 KiB) the
/// page allocator serves it, so `fail_page_alloc` decides its injection.
///
/// # Context
/// May sleep when `gfp` allows blocking; `GFP_ATOMIC`/`GFP_NOWAIT` from any context.
#[track_caller]
pub fn kmalloc(size: usize, gfp: Gfp) -> Option<KAddr> {
    k::kmalloc_at(Loc::caller(), "kmalloc", size, gfp)
}

/// `kzalloc(size, gfp)`: `kmalloc(size, gfp | __GFP_ZERO)`.
///
/// # Context
/// As [`kmalloc`].
#[track_caller]
pub fn kzalloc(size: usize, gfp: Gfp) -> Option<KAddr> {
    k::kmalloc_at(Loc::caller(), "kzalloc", size, gfp | __GFP_ZERO)
}

/// [`kmalloc`] (or `kzalloc`, `kmalloc_array`... named by `op`) called at `at`.
pub fn kmalloc_at(at: Loc, op: &'static str, size: usize, gfp: Gfp) -> Option<KAddr> {
    k::kmalloc_at(at, op, size, gfp)
}

/// `kcalloc(n, size, gfp)`: a zeroed array; `None` when `n * size` overflows.
///
/// # Context
/// As [`kmalloc`].
#[track_caller]
pub fn kcalloc(n: usize, size: usize, gfp: Gfp) -> Option<KAddr> {
    kcalloc_at(Loc::caller(), n, size, gfp)
}

/// [`kcalloc`] called at `at`.
pub fn kcalloc_at(at: Loc, n: usize, size: usize, gfp: Gfp) -> Option<KAddr> {
    let bytes = n.checked_mul(size)?;
    k::kmalloc_at(at, "kcalloc", bytes, gfp | __GFP_ZERO)
}

/// `krealloc(obj, new_size, gfp)`: the same object while the new size fits its size class,
/// else a new object holding the old bytes (the old one is freed); `new_size` 0 frees and
/// returns [`ZERO_SIZE_PTR`]; on failure `None` and the old object is untouched.
///
/// # Context
/// As [`kmalloc`].
#[track_caller]
pub fn krealloc(obj: KAddr, new_size: usize, gfp: Gfp) -> Option<KAddr> {
    k::krealloc_at(Loc::caller(), obj, new_size, gfp)
}

/// [`krealloc`] called at `at`.
pub fn krealloc_at(at: Loc, obj: KAddr, new_size: usize, gfp: Gfp) -> Option<KAddr> {
    k::krealloc_at(at, obj, new_size, gfp)
}

/// `kfree(obj)`: `NULL` and [`ZERO_SIZE_PTR`] are no-ops; a freed object is KASAN's double-free,
/// an address that is not an object's start its invalid-free.
///
/// # Context
/// Any; does not sleep.
#[track_caller]
pub fn kfree(obj: KAddr) {
    k::free_at(Loc::caller(), "kfree", obj, None)
}

/// [`kfree`] called at `at`.
pub fn kfree_at(at: Loc, obj: KAddr) {
    k::free_at(at, "kfree", obj, None)
}

/// `ksize(obj)`: the object's usable size (its size class).
///
/// # Context
/// Any.
pub fn ksize(obj: KAddr) -> usize {
    k::ksize(obj)
}
