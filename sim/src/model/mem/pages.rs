//! Page references and the fields of `struct page` the API reads and writes (`page_count`,
//! `page->index`, the zone), reserved regions (pmem's memory) and shrinker registration: the
//! ledger operations behind `mm::page_alloc`'s small functions.

use std::sync::Arc;

use super::alloc::stale;
use super::state::{Region, Shrinker, Slot, SlotEntry, REGION_PFN};
use crate::defs::gfp::Gfp;
use crate::defs::loc::Loc;
use crate::defs::mm_types::{KAddr, Page, Zone};
use crate::model::current;
use crate::model::report::Violation;

/// `register_shrinker()`: `scan(nr)` frees up to `nr` pages and returns how many it freed.
pub(crate) fn register_shrinker(
    name: &'static str,
    needs: Gfp,
    scan: impl Fn(u64) -> u64 + Send + Sync + 'static,
) {
    current().exec.mm().shrinkers.push(Shrinker { name, needs, scan: Arc::new(scan) });
}

/// `get_page(page)`: takes a reference.
pub(crate) fn get_page_at(at: Loc, page: Page) {
    let t = current();
    t.exec.mem_ghost.write();
    let ok = match t.exec.mm().entry_mut(page.pfn) {
        Some(SlotEntry { slot: Slot::Live(f), .. }) => {
            f.refcount += 1;
            true
        }
        _ => false,
    };
    if !ok {
        stale(&t, page, at, "get_page", Violation::UseAfterFree);
    }
}

/// `get_page_unless_zero(page)`: takes a reference unless the page is already free.
pub(crate) fn get_page_unless_zero(page: Page) -> bool {
    let t = current();
    t.exec.mem_ghost.write();
    let mut mm = t.exec.mm();
    match mm.entry_mut(page.pfn) {
        Some(SlotEntry { slot: Slot::Live(f), .. }) if f.refcount > 0 => {
            f.refcount += 1;
            true
        }
        _ => false,
    }
}

/// `page_count(page)`: 0 for a free frame.
pub(crate) fn page_count(page: Page) -> i64 {
    let t = current();
    t.exec.mem_ghost.read();
    let mm = t.exec.mm();
    match mm.entry(page.pfn) {
        Some(SlotEntry { slot: Slot::Live(f), .. }) => f.refcount,
        _ => 0,
    }
}

/// `pfn_to_page(pfn)`: the frame's current handle.
pub(crate) fn pfn_to_page(pfn: u64) -> Page {
    let t = current();
    let gen = t.exec.mm().entry(pfn).map_or(0, |e| e.gen);
    Page { pfn, gen }
}

/// `page->index`.
pub(crate) fn page_index(page: Page) -> u64 {
    let t = current();
    let mm = t.exec.mm();
    mm.frame(page).map_or(0, |f| f.index)
}

/// Sets `page->index`.
pub(crate) fn set_page_index(page: Page, index: u64) {
    let t = current();
    let mut mm = t.exec.mm();
    if let Some(f) = mm.frame_mut(page) {
        f.index = index;
    }
}

/// Whether `page` is a zone's (`PageHighMem`).
pub(crate) fn page_zone(page: Page) -> Zone {
    let t = current();
    let mm = t.exec.mm();
    mm.frame(page).map_or(Zone::Normal, |f| f.zone)
}

/// Pages currently allocated (the ledger, for tests and benchmarks).
pub(crate) fn nr_allocated_pages() -> u64 {
    current().exec.mm().in_use
}

/// Reserves `pages` contiguous pages outside the allocator, as a pmem driver's
pub(crate) fn reserve_region(pages: u64, name: &'static str) -> KAddr {
    let t = current();
    let mut mm = t.exec.mm();
    let base = mm.next_region.max(REGION_PFN);
    mm.next_region = base + pages;
    mm.regions.push(Region { base, pages, name, data: Default::default() });
    KAddr::direct(base, 0)
}
