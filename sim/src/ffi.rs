//! What a foreign face of the simulated kernel (ksim's C face, which runs real kernel C against
//! this API) needs beyond the kernel-named functions: host pointers to the memory behind kernel
//! addresses and back, storage that lives for one execution, a unique id per execution, and
//! simulated call frames pushed and popped without a guard. Nothing here models the kernel; a
//! Rust driver never needs it.
//!
//! Memory handed out as a host pointer is written by foreign code without the model seeing each
//! store, so a page exported once counts as initialised from then on (KMSAN's uninit check is
//! off for it); accesses through the model (`memcpy`/`memset` through addresses found with
//! [`kaddr_of`]) are checked as always.

use std::any::{Any, TypeId};
use std::sync::Arc;

use crate::defs::mm_types::{KAddr, Page, Zone, PAGE_SIZE};
use crate::model::current;
use crate::model::mem::state::{Slot, SlotEntry};

/// The host pointer to the byte at `a`: in a live lowmem or mapped page (which gets a buffer of
/// zeros if it had none, and counts as initialised from now on), or in a live slab object.
/// `None` for NULL or a freed page or object. A reserved region's page (pmem) gets a buffer of
/// its own the same way (accesses through the model stay within the region).
pub fn host_ptr(a: KAddr) -> Option<*mut u8> {
    let t = current();
    let mut mm = t.exec.mm();
    if let Some(id) = crate::model::mem::slab::Slabs::id_of(a) {
        let o = mm.slabs.objs.get(id)?;
        let live = matches!(o.state, crate::model::mem::slab::ObjState::Live);
        return live.then(|| o.mem.as_ref().map(|m| m.ptr().wrapping_add(a.off as usize))).flatten();
    }
    if a.pfn >= crate::model::mem::state::REGION_PFN {
        // Reserved memory (pmem): the region's buffer of the page, made on first use.
        let (m, pfn) = (&mut *mm, a.pfn());
        let r = m.regions.iter_mut().find(|r| (r.base..r.base + r.pages).contains(&pfn))?;
        let page = r.data.entry(pfn - r.base).or_insert_with(|| vec![0; PAGE_SIZE].into_boxed_slice());
        let base = page.as_mut_ptr();
        m.region_bufs.insert(base as usize, pfn);
        return Some(base.wrapping_add(a.off as usize % PAGE_SIZE));
    }
    let page = Page { pfn: a.pfn(), gen: a.gen };
    // A multi-page allocation's address names its head: the frame it falls in is found by pfn.
    let pfn = page.pfn;
    let m = &mut *mm;
    let i = pfn.checked_sub(crate::model::mem::state::BASE_PFN)? as usize;
    let f = match m.slots.get_mut(i) {
        Some(SlotEntry { slot: Slot::Live(f), .. }) => f,
        _ => return None,
    };
    let bufs = &mut m.bufs;
    let d = *f.data.get_or_insert_with(|| bufs.alloc(0));
    f.written = None;
    let base = m.bufs.get_mut(d).as_mut_ptr();
    m.bufs.export(d, pfn);
    Some(base.wrapping_add(a.off as usize % PAGE_SIZE))
}

/// The kernel address of host pointer `ptr`, if it falls in a page buffer handed out by
/// [`host_ptr`] or in a slab object (live or quarantined). A page's address carries the current
/// task's most recent `kmap_atomic()`/`kmap_local_page()` mapping of it, if any; a reserved
/// region's page (pmem) is reached through its direct mapping.
pub fn kaddr_of(ptr: usize) -> Option<KAddr> {
    let t = current();
    let mm = t.exec.mm();
    if let Some((pfn, base)) = mm.bufs.exported_at(ptr) {
        let (gen, zone) = match mm.entry(pfn) {
            Some(SlotEntry { gen, slot: Slot::Live(f) }) => (*gen, f.zone),
            _ => return None,
        };
        // The task's most recent live mapping of the frame names the address (so unmapping
        // it pops that mapping); without one, a lowmem page is reached through the direct
        // map and a highmem page through an id no slot has, which the checks call unmapped.
        let slot = t.state().kmaps.iter().rev().find(|k| k.pfn == pfn).map(|k| k.id);
        let map = match (slot, zone) {
            (Some(id), _) => id,
            (None, Zone::Normal) => 0,
            (None, Zone::HighMem) => u64::MAX - 1,
        };
        return Some(KAddr { pfn, gen, off: (ptr - base) as u64, map });
    }
    if let Some((&base, &pfn)) = mm.region_bufs.range(..=ptr).next_back() {
        if ptr < base + PAGE_SIZE {
            // A reserved region's page (pmem), reached through its direct mapping.
            return Some(KAddr { pfn, gen: 0, off: (ptr - base) as u64, map: 0 });
        }
    }
    let (id, off) = mm.slabs.find_ptr(ptr)?;
    Some(crate::model::mem::slab::Slabs::addr(id).add(off))
}

/// The handle of frame `pfn` in allocation generation `gen` (as a foreign `struct page` records
/// them).
pub fn page_from_parts(pfn: u64, gen: u32) -> Page {
    Page { pfn, gen }
}

/// A dense index of the frame a page handle names (frames are numbered from 0 upward in
/// allocation order of the zones), for foreign faces that keep per-frame data in a vector.
pub fn frame_index(page: Page) -> usize {
    page.pfn.saturating_sub(crate::model::mem::state::BASE_PFN) as usize
}

/// The allocation generation a page handle names.
pub fn page_gen(page: Page) -> u32 {
    page.gen
}

/// A unique id of the current execution (unique across runs in this process).
pub fn exec_id() -> u64 {
    current().exec.id
}

/// This execution's value of type `T`, created (`Default`) on first use and dropped with the
/// execution.
pub fn exec_local<T: Any + Default + Send + Sync>() -> Arc<T> {
    let t = current();
    let mut locals = t.exec.locals.lock().unwrap_or_else(|e| e.into_inner());
    let id = TypeId::of::<T>();
    if let Some((_, v)) = locals.iter().find(|(k, _)| *k == id) {
        return v.clone().downcast::<T>().expect("exec-local of its own type");
    }
    let v: Arc<T> = Arc::new(T::default());
    locals.push((id, v.clone()));
    v
}

/// Pushes `name` on the current task's simulated call stack (a foreign function's entry); a
/// no-op outside a task.
#[inline]
pub fn frame_push(name: &'static str) {
    if let Some(t) = crate::model::backend::current_task() {
        t.state().frames.push(name);
    }
}

/// Pops the current task's innermost simulated frame (a foreign function's exit).
#[inline]
pub fn frame_pop() {
    if let Some(t) = crate::model::backend::current_task() {
        t.state().frames.pop();
    }
}

/// Whether the calling thread is running a simulated task (foreign code may run outside one,
/// e.g. a test calling it directly).
pub fn in_task() -> bool {
    crate::model::backend::current_task().is_some()
}

/// Reports a free (`op`, called at `at`) of an address the model does not know at all (stack,
/// static data, or a heap pointer that never came from the kernel): KASAN's invalid-free.
pub fn invalid_free_at(at: crate::defs::loc::Loc, op: &'static str) {
    let t = current();
    let body = format!(
        "BUG: KASAN: invalid-free in {op} at {at}\nthe address is not a kernel address (stack, static data, or never allocated)\n"
    );
    t.exec.report(&t, crate::model::report::Violation::InvalidFree, body, op);
}

/// Limits the current execution's page allocator to `free` more pages than are allocated now
/// (`None`: no limit), as a test that wants "no free memory" sets it: the allocator then fails
/// as at the configured limit (`Config::mem.limit_pages`).
pub fn set_free_pages(free: Option<u64>) {
    let t = current();
    let mut mm = t.exec.mm();
    mm.limit = free.map(|n| mm.in_use + n);
}
