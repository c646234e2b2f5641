//! `include/linux/mm_types.h` and the address constants of `arch/x86/include/asm/page*.h`: the
//! handles the model and the API pass around — `struct page *` as [`Page`], a kernel virtual
//! address as [`KAddr`] — and the page size and zones.

/// `PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;
/// `PAGE_SIZE`.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

/// A memory zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Zone {
    /// ZONE_NORMAL: permanently mapped.
    Normal,
    /// ZONE_HIGHMEM (32-bit highmem configs): no kernel address unless `kmap()`ed.
    HighMem,
}

impl Zone {
    /// The kernel's zone name.
    pub fn name(self) -> &'static str {
        match self {
            Zone::Normal => "Normal",
            Zone::HighMem => "HighMem",
        }
    }
}

/// `struct page *`: a frame number and the generation of the allocation it names, so a stale
/// handle (the page was freed, maybe reallocated) is detected rather than silently reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Page {
    pub(crate) pfn: u64,
    pub(crate) gen: u32,
}

impl Page {
    /// `page_to_pfn(page)`.
    pub fn pfn(self) -> u64 {
        self.pfn
    }
}

/// x86-64's direct map base (`PAGE_OFFSET`), for printing addresses.
pub const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;
/// `PKMAP_BASE`-like base for printing `kmap()` addresses.
pub const PKMAP_BASE: u64 = 0xffff_c000_0000_0000;
/// First pfn of slab objects (`kmalloc()` / `kmem_cache_alloc()`): object `id` is
/// `SLAB_PFN + id`, above every frame and reserved region.
pub const SLAB_PFN: u64 = 1 << 40;
/// Where slab addresses are printed from (objects 8 MiB apart: ids, not host addresses, so
/// reports are the same in every run).
const SLAB_PRINT_BASE: u64 = 0xffff_8881_0000_0000;
/// Map id of `kmap()` (permanent, shared) mappings.
pub const PKMAP: u64 = u64::MAX;

/// A kernel virtual address: which frame (and allocation generation) it points into, the offset
/// from that frame, and which mapping produced it (the direct map, `kmap()`, or one
/// `kmap_atomic()` / `kmap_local_page()` slot, valid only until unmapped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KAddr {
    pub(crate) pfn: u64,
    pub(crate) gen: u32,
    pub(crate) off: u64,
    pub(crate) map: u64,
}

impl KAddr {
    /// `NULL`.
    pub const NULL: KAddr = KAddr { pfn: 0, gen: 0, off: 0, map: 0 };

    pub(crate) fn direct(pfn: u64, gen: u32) -> KAddr {
        KAddr { pfn, gen, off: 0, map: 0 }
    }

    /// `addr + n` (pointer arithmetic; no check until the address is used).
    #[allow(clippy::should_implement_trait)] // also `addr + n` through `Add<usize>`
    pub fn add(self, n: usize) -> KAddr {
        KAddr { off: self.off + n as u64, ..self }
    }

    /// The frame the address falls in (`virt_to_pfn`).
    pub fn pfn(self) -> u64 {
        self.pfn + self.off / PAGE_SIZE as u64
    }

    /// Whether this is `NULL`.
    pub fn is_null(self) -> bool {
        self.pfn == 0
    }

    /// The numeric address, as the kernel would print it with `%px`.
    pub fn value(self) -> u64 {
        if self.pfn == 0 {
            return self.off;
        }
        if self.pfn >= SLAB_PFN {
            return SLAB_PRINT_BASE.wrapping_add((self.pfn - SLAB_PFN) << 23).wrapping_add(self.off);
        }
        let base = if self.map == 0 { PAGE_OFFSET } else { PKMAP_BASE };
        base + self.pfn * PAGE_SIZE as u64 + self.off
    }
}

impl std::ops::Add<usize> for KAddr {
    type Output = KAddr;

    fn add(self, n: usize) -> KAddr {
        KAddr::add(self, n)
    }
}

impl std::fmt::Display for KAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#018x}", self.value())
    }
}
