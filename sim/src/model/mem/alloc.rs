//! The page allocator's core (`mm/page_alloc.c`, facts §3.4): the order of work in an
//! allocation — the `might_sleep_if(blocking)` check first, on every blocking call, then fault
//! injection, then the allocation, and at the memory limit direct reclaim (with the
//! reclaim-recursion check) for blocking requests or failure for the others — and the freeing of
//! a page when its last reference goes. The API (`mm::page_alloc`) is a thin layer over it.

use crate::defs::loc::Loc;
use std::fmt::Write as _;
use std::sync::Arc;

use super::state::{Slot, SlotEntry};
use crate::defs::fault::Cap;
use crate::defs::gfp::{gfpflags_allow_blocking, Gfp, __GFP_FS, __GFP_HIGHMEM, __GFP_IO, __GFP_ZERO};
use crate::defs::mm_types::{Page, Zone};
use crate::model::current;
use crate::model::report::Violation;
use crate::model::sleep::might_sleep_check_lazy;
use crate::model::task::{Site, TaskCell};
use crate::model::trace::Cat;

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

pub(crate) fn alloc_pages_at(at: Loc, gfp: Gfp, order: u32) -> Option<Page> {
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
    let failed = crate::model::fault::FaultState::eligible(faults, Cap::PageAlloc, gfp, order).is_some() && {
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
        direct_reclaim(&t, gfp, gfp_context(&t, gfp), at);
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
fn direct_reclaim(t: &TaskCell, gfp: Gfp, eff: Gfp, at: Loc) {
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

/// Reports a stale handle: the page was freed (and maybe reallocated).
pub(crate) fn stale(t: &TaskCell, page: Page, at: Loc, op: &'static str, kind: Violation) {
    let (alloc, free) = match t.exec.mm().entry(page.pfn) {
        Some(SlotEntry { slot: Slot::Free { alloc, free }, .. }) => (alloc.clone(), free.clone()),
        Some(SlotEntry { slot: Slot::Live(f), .. }) => (Some(f.alloc.clone()), None),
        None => (None, None),
    };
    let mut s = String::new();
    let what = if kind == Violation::DoubleFree { "double-free" } else { "use-after-free" };
    let _ = writeln!(s, "BUG: KASAN: {what} in {op} at {}:{}", at.file(), at.line());
    let _ = writeln!(s, "{op} of page pfn:{:#x} by task {}/{}", page.pfn, t.name, t.pid);
    s.push_str(&super::access::sites(alloc.as_deref(), free.as_deref()));
    t.exec.report(t, kind, s, op);
}

pub(crate) fn put_page_at(at: Loc, page: Page, op: &'static str) {
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

/// `current_gfp_context(gfp)` for a task: `PF_MEMALLOC_NOIO` clears `__GFP_IO | __GFP_FS`, else
/// `PF_MEMALLOC_NOFS` clears `__GFP_FS` (the scopes never make an allocation non-blocking).
pub(crate) fn gfp_context(t: &TaskCell, gfp: Gfp) -> Gfp {
    let st = t.state();
    if st.memalloc_noio {
        gfp & !(__GFP_IO | __GFP_FS)
    } else if st.memalloc_nofs {
        gfp & !__GFP_FS
    } else {
        gfp
    }
}

/// `slab_pre_alloc_hook()` for an object of `size` bytes from cache `name` (a tree's node):
/// might_sleep for a blocking `gfp`, then `should_failslab()`. `Err(())` when it is to fail.
pub(crate) fn slab_pre_alloc_at(at: Loc, name: &'static str, size: usize, gfp: Gfp) -> Result<(), ()> {
    let t = current();
    let profile = t.exec.config().profile;
    let call = move || format!("kmem_cache_alloc({name}, {})", gfp.display(profile));
    let failed = super::kmalloc::pre_alloc(&t, at, &call, gfp, Cap::Slab, 0, size);
    t.exec.emit(&t, Cat::Mem, "kmem_cache_alloc", || {
        format!("{} {}{}", name, gfp.display(profile), if failed { " FAILED (fault injection)" } else { "" })
    });
    if failed {
        Err(())
    } else {
        Ok(())
    }
}
