//! `mm/`: the page allocator, page references, memory access through kernel addresses,
//! reclaim, and a slab-cache stand-in (facts §3.4, §4, §5; ARCHITECTURE §5).

pub(crate) mod frames;
pub(crate) mod kmemleak;
pub mod memory;
pub mod page_alloc;
pub mod reclaim;
pub mod slab;
pub(crate) mod state;

pub use page_alloc::{nr_allocated_pages, page_index, page_zone, register_shrinker, set_page_index};

pub use memory::{memcpy, memcpy_from, memcpy_to, memset, virt_to_phys, KAddr};
pub use page_alloc::{
    __free_page, __free_pages, alloc_page, alloc_pages, get_page, get_page_unless_zero, page_count,
    page_to_pfn, pfn_to_page, put_page, reserve_region,
};

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
