//! `mm/page_alloc.c` / `include/linux/gfp.h` / `include/linux/mm.h`: `alloc_pages()`,
//! `__free_pages()`, page references.
//!
//! Order of work in `alloc_pages()`, as in 4.0's `__alloc_pages_nodemask` (facts §3.4): the
//! `might_sleep_if(blocking)` check first — on every blocking call, even with free pages at hand —
//! then fault injection (`should_fail_alloc_page`), then the allocation, and at the memory limit
//! direct reclaim for blocking requests or failure for the others.

use std::fmt::Write as _;
use std::panic::Location;
use std::sync::Arc;

use super::state::{Region, Shrinker, Slot, SlotEntry, REGION_PFN};
use super::{KAddr, Page, Zone};
use crate::fault_inject::Cap;
use crate::gfp::{gfpflags_allow_blocking, Gfp, __GFP_FS, __GFP_HIGHMEM, __GFP_IO, __GFP_ZERO};
use crate::model::current;
use crate::model::report::Violation;
use crate::model::task::{Site, TaskCell};
use crate::model::trace::Cat;
use crate::sched::might_sleep_check_lazy;
use crate::sched_mm::current_gfp_context;

/// A shrinker's scan callback.
type ScanFn = Arc<dyn Fn(u64) -> u64 + Send + Sync>;

/// Pages reclaim asks each shrinker for (`SHRINK_BATCH`).
const SHRINK_BATCH: u64 = 128;

/// The task's simulated stack, innermost first, for trace lines.
pub(crate) fn callers(t: &TaskCell) -> String {
    let st = t.state();
    if st.frames.is_empty() {
        return t.name.to_string();
    }
    let v: Vec<&str> = st.frames.iter().rev().copied().collect();
    v.join("<-")
}

/// `alloc_pages(gfp, order)`: `1 << order` contiguous pages, or `None`.
///
/// # Context
/// May sleep when `gfpflags_allow_blocking(gfp)` (`might_sleep()` is checked on every such
/// call, before anything else); otherwise callable from any context and fails instead of
/// reclaiming at the memory limit.
#[track_caller]
pub fn alloc_pages(gfp: Gfp, order: u32) -> Option<Page> {
    alloc_pages_at(Location::caller(), gfp, order)
}

/// `alloc_page(gfp)`: `alloc_pages(gfp, 0)`.
#[track_caller]
pub fn alloc_page(gfp: Gfp) -> Option<Page> {
    alloc_pages_at(Location::caller(), gfp, 0)
}

pub(crate) fn alloc_pages_at(at: &'static Location<'static>, gfp: Gfp, order: u32) -> Option<Page> {
    let t = current();
    let exec = t.exec.clone();
    let cfg = exec.config();
    let op = if order == 0 { "alloc_page" } else { "alloc_pages" };
    let blocking = gfpflags_allow_blocking(gfp);
    if blocking {
        let profile = cfg.profile;
        let call = move || {
            if order == 0 {
                format!("alloc_page({})", gfp.display(profile))
            } else {
                format!("alloc_pages({}, {order})", gfp.display(profile))
            }
        };
        might_sleep_check_lazy(at, &call, 0, None);
    }
    let site = Site { at, op };
    let faults = &cfg.faults;
    let failed = crate::fault_inject::FaultState::eligible(faults, Cap::PageAlloc, gfp, order).is_some() && {
        let mut mm = exec.mm();
        let m = &mut *mm;
        let rng = &mut m.rng;
        let mut nth = t.state().fail_nth;
        let r = m.fault.should_fail(&cfg.faults, &mut nth, Cap::PageAlloc, gfp, order, 1 << order, || {
            rand::Rng::gen_range(rng, 0..100)
        });
        t.state().fail_nth = nth;
        r
    };
    if failed {
        exec.emit(&t, Cat::Mem, op, || {
            format!("{} order={order} FAILED (fault injection) in {}", gfp.display(cfg.profile), callers(&t))
        });
        if cfg.faults.page_alloc.attr.verbose > 0 || cfg.faults.fail_nth.is_some() {
            exec.emit(&t, Cat::Mem, "fault_inject", || "FAULT_INJECTION: forcing a failure.".to_string());
        }
        return None;
    }
    let mut reclaimed = false;
    loop {
        if let Some(page) = try_alloc(&t, site, gfp, order) {
            exec.emit(&t, Cat::Mem, op, || {
                let zone = exec.mm().frame(page).map_or(Zone::Normal, |f| f.zone);
                format!(
                    "{} order={order} zone={} pfn={:#x} in {}",
                    gfp.display(cfg.profile),
                    zone.name(),
                    page.pfn,
                    callers(&t)
                )
            });
            return Some(page);
        }
        if !blocking || reclaimed {
            exec.emit(&t, Cat::Mem, op, || {
                format!(
                    "{} order={order} FAILED (out of memory) in {}",
                    gfp.display(cfg.profile),
                    callers(&t)
                )
            });
            return None;
        }
        direct_reclaim(&t, gfp, current_gfp_context(&t, gfp), at);
        reclaimed = true;
    }
}

fn try_alloc(t: &TaskCell, site: Site, gfp: Gfp, order: u32) -> Option<Page> {
    let mut mm = t.exec.mm();
    if !mm.has_room(1 << order) {
        return None;
    }
    let zones: &[Zone] = if gfp.contains(__GFP_HIGHMEM) && mm.lowmem.is_some() {
        &[Zone::HighMem, Zone::Normal]
    } else {
        &[Zone::Normal]
    };
    for &zone in zones {
        if let Some(head) = mm.take_pfns(zone, order) {
            let who = mm.intern_of(t, site, gfp);
            return Some(mm.install(head, order, zone, gfp.contains(__GFP_ZERO), who));
        }
    }
    None
}

/// Simulated direct reclaim: first the reclaim-recursion check, then every registered shrinker
/// whose needs the effective GFP allows (block writeback needs `__GFP_IO`, fs needs `__GFP_FS`).
fn direct_reclaim(t: &TaskCell, gfp: Gfp, eff: Gfp, at: &'static Location<'static>) {
    let profile = t.exec.config().profile;
    let io_entry = t.state().io_path;
    if let Some(entry) = io_entry {
        if eff.intersects(__GFP_IO | __GFP_FS) {
            let mut s = String::new();
            let _ = writeln!(
                s,
                "WARNING: reclaim recursion: {} allocation inside the block I/O path",
                gfp.display(profile)
            );
            let _ = writeln!(
                s,
                "{}/{} allocates at {}:{} with {} (effective {}) while submitting I/O",
                t.name,
                t.pid,
                at.file(),
                at.line(),
                gfp.display(profile),
                eff.display(profile)
            );
            let _ = writeln!(s, "(I/O submission entered at {} {})", entry.file_line(), entry.op);
            s.push_str(
                "direct reclaim may write back through the block layer and recurse into this driver;\n",
            );
            s.push_str("allocate with GFP_NOIO, or inside memalloc_noio_save()/memalloc_noio_restore().\n");
            t.exec.report(t, Violation::ReclaimRecursion, s, "direct_reclaim");
        }
    }
    let shrinkers: Vec<(&'static str, ScanFn)> = t
        .exec
        .mm()
        .shrinkers
        .iter()
        .filter(|s| eff.contains(s.needs))
        .map(|s| (s.name, s.scan.clone()))
        .collect();
    t.exec.emit(t, Cat::Mem, "direct_reclaim", || {
        format!(
            "{} (effective {}) {} shrinker(s)",
            gfp.display(profile),
            eff.display(profile),
            shrinkers.len()
        )
    });
    for (name, scan) in shrinkers {
        let freed = scan(SHRINK_BATCH);
        t.exec.emit(t, Cat::Mem, "shrink", || format!("{name} freed {freed}"));
    }
}

/// `register_shrinker()`: `scan(nr)` frees up to `nr` pages and returns how many it freed.
/// `needs` is the GFP a reclaimer must allow for it to be called (`__GFP_IO` for block device
/// writeback, `__GFP_FS` for filesystems, empty for a plain cache).
pub fn register_shrinker(name: &'static str, needs: Gfp, scan: impl Fn(u64) -> u64 + Send + Sync + 'static) {
    current().exec.mm().shrinkers.push(Shrinker { name, needs, scan: Arc::new(scan) });
}

/// Reports a stale handle: the page was freed (and maybe reallocated).
fn stale(t: &TaskCell, page: Page, at: &'static Location<'static>, op: &'static str, kind: Violation) {
    let (alloc, free) = match t.exec.mm().entry(page.pfn) {
        Some(SlotEntry { slot: Slot::Free { alloc, free }, .. }) => (alloc.clone(), free.clone()),
        Some(SlotEntry { slot: Slot::Live(f), .. }) => (Some(f.alloc.clone()), None),
        None => (None, None),
    };
    let mut s = String::new();
    let what = if kind == Violation::DoubleFree { "double-free" } else { "use-after-free" };
    let _ = writeln!(s, "BUG: KASAN: {what} in {op} at {}:{}", at.file(), at.line());
    let _ = writeln!(s, "{op} of page pfn:{:#x} by task {}/{}", page.pfn, t.name, t.pid);
    s.push_str(&super::memory::sites(alloc.as_deref(), free.as_deref()));
    t.exec.report(t, kind, s, op);
}

/// `__free_pages(page, order)`: drops a reference; the pages are freed when it was the last.
///
/// # Context
/// Any; does not sleep (brd frees its losing page under `brd_lock`).
#[track_caller]
pub fn __free_pages(page: Page, order: u32) {
    put_page_at(Location::caller(), page, if order == 0 { "__free_page" } else { "__free_pages" });
}

/// `__free_page(page)`.
#[track_caller]
pub fn __free_page(page: Page) {
    put_page_at(Location::caller(), page, "__free_page");
}

/// `put_page(page)`: drops a reference, freeing the page at zero.
///
/// # Context
/// Any.
#[track_caller]
pub fn put_page(page: Page) {
    put_page_at(Location::caller(), page, "put_page");
}

fn put_page_at(at: &'static Location<'static>, page: Page, op: &'static str) {
    let t = current();
    t.exec.mem_ghost.write();
    let site = Site { at, op };
    // References are per frame, whatever generation the caller's handle has (the kernel's
    // refcount lives in the struct page): a stale handle to a reallocated frame drops the new
    // owner's reference, as a real use-after-free would.
    let freed = {
        let mut mm = t.exec.mm();
        let head = match mm.entry_mut(page.pfn) {
            Some(SlotEntry { slot: Slot::Live(f), .. }) => {
                f.refcount -= 1;
                (f.refcount == 0).then_some((f.head, f.order))
            }
            _ => {
                drop(mm);
                return stale(&t, page, at, op, Violation::DoubleFree);
            }
        };
        if let Some((head, order)) = head {
            let who = mm.intern_of(&t, site, Gfp::EMPTY);
            mm.release(head, order, who);
        }
        head
    };
    if let Some((head, order)) = freed {
        t.exec.emit(&t, Cat::Mem, op, || format!("pfn={head:#x} order={order} in {}", callers(&t)));
    }
}

/// `get_page(page)`: takes a reference.
///
/// # Context
/// Any. On a freed page: use-after-free.
#[track_caller]
pub fn get_page(page: Page) {
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
        stale(&t, page, Location::caller(), "get_page", Violation::UseAfterFree);
    }
}

/// `get_page_unless_zero(page)`: takes a reference unless the page is already free.
///
/// # Context
/// Any; the RCU lookup pattern of current brd (then re-check the slot: the frame may have been
/// reallocated).
pub fn get_page_unless_zero(page: Page) -> bool {
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
pub fn page_count(page: Page) -> i64 {
    let t = current();
    t.exec.mem_ghost.read();
    let mm = t.exec.mm();
    match mm.entry(page.pfn) {
        Some(SlotEntry { slot: Slot::Live(f), .. }) => f.refcount,
        _ => 0,
    }
}

/// `page_to_pfn(page)`.
pub fn page_to_pfn(page: Page) -> u64 {
    page.pfn
}

/// `pfn_to_page(pfn)`: the frame's current handle.
pub fn pfn_to_page(pfn: u64) -> Page {
    let t = current();
    let gen = t.exec.mm().entry(pfn).map_or(0, |e| e.gen);
    Page { pfn, gen }
}

/// `page->index`.
pub fn page_index(page: Page) -> u64 {
    let t = current();
    let mm = t.exec.mm();
    mm.frame(page).map_or(0, |f| f.index)
}

/// Sets `page->index`.
pub fn set_page_index(page: Page, index: u64) {
    let t = current();
    let mut mm = t.exec.mm();
    if let Some(f) = mm.frame_mut(page) {
        f.index = index;
    }
}

/// Whether `page` is a zone's (`PageHighMem`).
pub fn page_zone(page: Page) -> Zone {
    let t = current();
    let mm = t.exec.mm();
    mm.frame(page).map_or(Zone::Normal, |f| f.zone)
}

/// Pages currently allocated (the ledger, for tests and benchmarks).
pub fn nr_allocated_pages() -> u64 {
    current().exec.mm().in_use
}

/// Reserves `pages` contiguous pages outside the allocator, as a pmem driver's
/// `request_mem_region()` + `memremap()` at probe; returns the kernel address of the first byte.
/// The contents read as zeros until written.
///
/// # Context
/// Process context.
pub fn reserve_region(pages: u64, name: &'static str) -> KAddr {
    let t = current();
    let mut mm = t.exec.mm();
    let base = mm.next_region.max(REGION_PFN);
    mm.next_region = base + pages;
    mm.regions.push(Region { base, pages, name, data: Default::default() });
    KAddr::direct(base, 0)
}
