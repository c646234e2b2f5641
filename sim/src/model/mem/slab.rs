//! The slab allocator's ledger (`mm/slab_common.c`, `mm/slub.c`): every object `kmalloc()` or
//! `kmem_cache_alloc()` handed out, with its cache, requested size, allocation and free sites.
//!
//! Objects live in host memory of their own, at stable addresses, so a C face can hand real
//! pointers to C code and read and write through them; Rust code reaches them through
//! [`KAddr`]s with pfns above [`SLAB_PFN`] (the object's id), so every `memcpy`/`memset` through
//! one is checked as KASAN checks slab accesses: out of bounds of the *requested* size, after
//! free. Freed objects are poisoned (`POISON_FREE`) and kept in a quarantine, as KASAN keeps
//! them, so a late access is caught instead of landing in a new object; the oldest leave it once
//! it holds [`QUARANTINE_BYTES`].

use std::alloc::Layout;
use std::collections::{BTreeMap, VecDeque};
use std::ptr::NonNull;
use std::sync::Arc;

use super::state::Who;
use crate::defs::mm_types::{KAddr, PAGE_SIZE, SLAB_PFN};

/// `POISON_INUSE`: what a `kmalloc()` object without `__GFP_ZERO` holds until written.
pub(crate) const POISON_INUSE: u8 = 0x5a;
/// `POISON_FREE`: what a freed object holds.
pub(crate) const POISON_FREE: u8 = 0x6b;
/// `KMALLOC_MAX_CACHE_SIZE` (SLUB, 4 KiB pages): larger `kmalloc()`s go to the page allocator.
pub const KMALLOC_MAX_CACHE_SIZE: usize = 2 * PAGE_SIZE;
/// `KMALLOC_MAX_SIZE` (`MAX_ORDER` 11): larger requests fail.
pub const KMALLOC_MAX_SIZE: usize = PAGE_SIZE << 10;
/// Freed bytes kept before the oldest object's memory goes back to the host.
const QUARANTINE_BYTES: usize = 16 << 20;

/// An object's host memory: allocated and freed through `std::alloc`, reached only through its
/// raw pointer (C code writes it directly; Rust copies with `std::ptr::copy`), never through a
/// Rust reference, so nothing aliases.
pub(crate) struct RawBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the buffer is plain bytes owned by this value; it is only accessed through its raw
// pointer, under the ledger's lock (Rust) or by simulated code that owns the object (C).
unsafe impl Send for RawBuf {}

impl RawBuf {
    fn new(size: usize, align: usize, fill: u8) -> RawBuf {
        let layout = Layout::from_size_align(size.max(1), align).expect("a valid slab layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        let ptr = NonNull::new(ptr).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        // SAFETY: `ptr` points to `layout.size()` writable bytes.
        unsafe { std::ptr::write_bytes(ptr.as_ptr(), fill, layout.size()) };
        RawBuf { ptr, layout }
    }

    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn fill(&self, c: u8) {
        // SAFETY: the buffer has `layout.size()` bytes.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr(), c, self.layout.size()) };
    }
}

impl Drop for RawBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// A cache: `kmem_cache_create()`'s, or a kmalloc size class.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    pub name: Arc<str>,
    /// Object size (the class size for kmalloc caches).
    pub size: usize,
    pub align: usize,
    /// Destroyed with `kmem_cache_destroy()`.
    pub destroyed: bool,
}

/// An object's state.
pub(crate) enum ObjState {
    Live,
    Freed(Arc<Who>),
}

/// One object.
pub(crate) struct Obj {
    /// The cache index in [`Slabs::caches`].
    pub cache: usize,
    /// Bytes asked for (KASAN's bound); the buffer has the cache's size.
    pub size: usize,
    pub alloc: Arc<Who>,
    pub state: ObjState,
    /// `None` once the quarantine released it.
    pub mem: Option<RawBuf>,
}

/// The slab ledger of one execution.
#[derive(Default)]
pub(crate) struct Slabs {
    pub caches: Vec<Cache>,
    /// By id (`KAddr` pfn - [`SLAB_PFN`]).
    pub objs: Vec<Obj>,
    /// Host address of each object's memory -> id, to find the object a C pointer falls in.
    pub by_addr: BTreeMap<usize, usize>,
    quarantine: VecDeque<usize>,
    quarantined: usize,
}

/// The kmalloc size classes of SLUB with 4 KiB pages (`kmalloc-8` ... `kmalloc-8k`).
const KMALLOC_CLASSES: &[usize] = &[8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

/// The kmalloc class of `size` bytes (`kmalloc_index`), or `None` above the cache sizes.
pub(crate) fn kmalloc_class(size: usize) -> Option<usize> {
    KMALLOC_CLASSES.iter().copied().find(|&c| c >= size)
}

impl Slabs {
    /// The cache named `name` of `size`-byte objects, created on first use (kmalloc classes and
    /// `kmalloc-large` allocations share this table with user caches).
    pub(crate) fn cache(&mut self, name: &str, size: usize, align: usize) -> usize {
        if let Some(i) = self.caches.iter().position(|c| !c.destroyed && &*c.name == name && c.size == size) {
            return i;
        }
        self.caches.push(Cache { name: Arc::from(name), size, align, destroyed: false });
        self.caches.len() - 1
    }

    /// A new object of `size` requested bytes from cache `cache`, filled with `fill`.
    pub(crate) fn alloc(&mut self, cache: usize, size: usize, fill: u8, alloc: Arc<Who>) -> KAddr {
        let c = &self.caches[cache];
        let (cap, align) = (c.size.max(size), c.align.max(8).next_power_of_two());
        let mem = RawBuf::new(cap, align, fill);
        let id = self.objs.len();
        self.by_addr.insert(mem.ptr() as usize, id);
        self.objs.push(Obj { cache, size, alloc, state: ObjState::Live, mem: Some(mem) });
        KAddr { pfn: SLAB_PFN + id as u64, gen: 1, off: 0, map: 0 }
    }

    /// The object `a` points into (its id), if `a` is a slab address.
    pub(crate) fn id_of(a: KAddr) -> Option<usize> {
        (a.pfn >= SLAB_PFN).then(|| (a.pfn - SLAB_PFN) as usize)
    }

    /// Frees object `id` (already checked to be live): poisons it and quarantines its memory.
    pub(crate) fn free(&mut self, id: usize, who: Arc<Who>) {
        let o = &mut self.objs[id];
        o.state = ObjState::Freed(who);
        if let Some(m) = &o.mem {
            m.fill(POISON_FREE);
            self.quarantined += self.caches[o.cache].size.max(o.size);
        }
        self.quarantine.push_back(id);
        while self.quarantined > QUARANTINE_BYTES {
            let Some(old) = self.quarantine.pop_front() else { break };
            let o = &mut self.objs[old];
            if let Some(m) = o.mem.take() {
                self.by_addr.remove(&(m.ptr() as usize));
                self.quarantined -= self.caches[o.cache].size.max(o.size);
            }
        }
    }

    /// The object whose memory holds host address `addr`, and the offset into it.
    pub(crate) fn find_ptr(&self, addr: usize) -> Option<(usize, usize)> {
        let (&base, &id) = self.by_addr.range(..=addr).next_back()?;
        let o = &self.objs[id];
        let cap = self.caches[o.cache].size.max(o.size);
        (addr < base + cap).then_some((id, addr - base))
    }

    /// Live objects, in allocation order (for the leak check).
    pub(crate) fn live(&self) -> impl Iterator<Item = (usize, &Obj)> {
        self.objs.iter().enumerate().filter(|(_, o)| matches!(o.state, ObjState::Live))
    }

    /// `KAddr::value` of object `id` plus `off`: stable across runs (the host address is not).
    pub(crate) fn addr(id: usize) -> KAddr {
        KAddr { pfn: SLAB_PFN + id as u64, gen: 1, off: 0, map: 0 }
    }
}
