//! `mm/`: the page allocator, page references, memory access through kernel addresses,
//! reclaim, and a slab-cache stand-in (facts §3.4, §4, §5; ARCHITECTURE §5) — the kernel-named
//! entry points; the memory model itself is `model::mem`.

pub mod memory;
pub mod page_alloc;
pub mod reclaim;
pub mod slab;

pub use page_alloc::{nr_allocated_pages, page_index, page_zone, register_shrinker, set_page_index};

pub use memory::{memcpy, memcpy_from, memcpy_to, memset, virt_to_phys};
pub use page_alloc::{
    __free_page, __free_pages, alloc_page, alloc_pages, get_page, get_page_unless_zero, page_count,
    page_to_pfn, pfn_to_page, put_page, reserve_region,
};

pub use crate::defs::mm_types::{KAddr, Page, Zone, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE};
