//! `mm/page_alloc.c` / `include/linux/gfp.h` / `include/linux/mm.h`: `alloc_pages()`,
//! `__free_pages()`, page references and the `struct page` fields drivers use.
//!
//! Order of work in `alloc_pages()`, as in 4.0's `__alloc_pages_nodemask` (facts §3.4): the
//! `might_sleep_if(blocking)` check first — on every blocking call, even with free pages at hand —
//! then fault injection (`should_fail_alloc_page`), then the allocation, and at the memory limit
//! direct reclaim for blocking requests or failure for the others. The work is the model's
//! (`model::mem::alloc`, `model::mem::pages`); these are its kernel-named entry points.

use crate::defs::loc::Loc;

use super::{KAddr, Page, Zone};
use crate::gfp::Gfp;
use crate::model::mem::{alloc, pages};

/// `alloc_pages(gfp, order)`: `1 << order` contiguous pages, or `None`.
///
/// # Context
/// May sleep when `gfpflags_allow_blocking(gfp)` (`might_sleep()` is checked on every such
/// call, before anything else); otherwise callable from any context and fails instead of
/// reclaiming at the memory limit.
#[track_caller]
pub fn alloc_pages(gfp: Gfp, order: u32) -> Option<Page> {
    alloc_pages_at(Loc::caller(), gfp, order)
}

/// [`alloc_pages`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn alloc_pages_at(at: Loc, gfp: Gfp, order: u32) -> Option<Page> {
    alloc::alloc_pages_at(at, gfp, order)
}

/// `alloc_page(gfp)`: `alloc_pages(gfp, 0)`.
#[track_caller]
pub fn alloc_page(gfp: Gfp) -> Option<Page> {
    alloc::alloc_pages_at(Loc::caller(), gfp, 0)
}

/// `register_shrinker()`: `scan(nr)` frees up to `nr` pages and returns how many it freed.
/// `needs` is the GFP a reclaimer must allow for it to be called (`__GFP_IO` for block device
/// writeback, `__GFP_FS` for filesystems, empty for a plain cache).
///
/// # Context
/// Process context.
pub fn register_shrinker(name: &'static str, needs: Gfp, scan: impl Fn(u64) -> u64 + Send + Sync + 'static) {
    pages::register_shrinker(name, needs, scan)
}

/// `__free_pages(page, order)`: drops a reference; the pages are freed when it was the last.
///
/// # Context
/// Any; does not sleep (brd frees its losing page under `brd_lock`). On a freed page:
/// KASAN's double-free report.
#[track_caller]
pub fn __free_pages(page: Page, order: u32) {
    __free_pages_at(Loc::caller(), page, order)
}

/// [`__free_pages`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn __free_pages_at(at: Loc, page: Page, order: u32) {
    alloc::put_page_at(at, page, if order == 0 { "__free_page" } else { "__free_pages" });
}

/// `__free_page(page)`.
///
/// # Context
/// Any; does not sleep.
#[track_caller]
pub fn __free_page(page: Page) {
    alloc::put_page_at(Loc::caller(), page, "__free_page");
}

/// `put_page(page)`: drops a reference, freeing the page at zero.
///
/// # Context
/// Any.
#[track_caller]
pub fn put_page(page: Page) {
    put_page_at(Loc::caller(), page)
}

/// [`put_page`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn put_page_at(at: Loc, page: Page) {
    alloc::put_page_at(at, page, "put_page");
}

/// `get_page(page)`: takes a reference.
///
/// # Context
/// Any. On a freed page: use-after-free.
#[track_caller]
pub fn get_page(page: Page) {
    get_page_at(Loc::caller(), page)
}

/// [`get_page`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn get_page_at(at: Loc, page: Page) {
    pages::get_page_at(at, page)
}

/// `get_page_unless_zero(page)`: takes a reference unless the page is already free.
///
/// # Context
/// Any; the RCU lookup pattern of current brd (then re-check the slot: the frame may have been
/// reallocated).
pub fn get_page_unless_zero(page: Page) -> bool {
    pages::get_page_unless_zero(page)
}

/// `page_count(page)`: 0 for a free frame.
///
/// # Context
/// Any.
pub fn page_count(page: Page) -> i64 {
    pages::page_count(page)
}

/// `page_to_pfn(page)`.
///
/// # Context
/// Any.
pub fn page_to_pfn(page: Page) -> u64 {
    page.pfn
}

/// `pfn_to_page(pfn)`: the frame's current handle.
///
/// # Context
/// Any.
pub fn pfn_to_page(pfn: u64) -> Page {
    pages::pfn_to_page(pfn)
}

/// `page->index`.
///
/// # Context
/// Any.
pub fn page_index(page: Page) -> u64 {
    pages::page_index(page)
}

/// Sets `page->index`.
///
/// # Context
/// Any.
pub fn set_page_index(page: Page, index: u64) {
    pages::set_page_index(page, index)
}

/// The zone the page came from (`page_zone()`; `PageHighMem` is `Zone::HighMem`).
///
/// # Context
/// Any.
pub fn page_zone(page: Page) -> Zone {
    pages::page_zone(page)
}

/// Pages currently allocated (the ledger, for tests and benchmarks).
pub fn nr_allocated_pages() -> u64 {
    pages::nr_allocated_pages()
}

/// Reserves `pages` contiguous pages outside the allocator, as a pmem driver's
/// `request_mem_region()` + `memremap()` at probe; returns the kernel address of the first byte.
/// The contents read as zeros until written.
///
/// # Context
/// Process context.
pub fn reserve_region(pages: u64, name: &'static str) -> KAddr {
    pages::reserve_region(pages, name)
}
