//! `include/linux/highmem.h`, `mm/highmem.c`: kernel mappings of pages (facts §5.4).
//!
//! - `page_address()` of a highmem page is `None` unless the page is `kmap()`ed;
//! - `kmap()` may sleep (waiting for a pkmap slot);
//! - `kmap_atomic()` is an atomic section (4.0: `pagefault_disable()` is a preempt_count
//!   increment; modern: `preempt_disable()` + `pagefault_disable()`), mappings nest strictly;
//! - `kmap_local_page()` is not atomic but nests strictly too.

use crate::defs::loc::Loc;
use std::fmt::Write as _;

use crate::defs::mm_types::PKMAP;
use crate::defs::preempt_mask::PREEMPT_OFFSET;
use crate::mm::memory::{memcpy_from, memcpy_to, memset};
use crate::mm::{KAddr, Page, Zone, PAGE_SIZE};
use crate::model::context::{add_in, added, preempt_on, sub_in, subtracted};
use crate::model::current;
use crate::model::report::Violation;
use crate::model::sleep::might_sleep_at;
use crate::model::task::{KmapSlot, Site, TaskCell};
use crate::model::trace::Cat;

/// Traces a mapping event in the allocation view (`Cat::Mem`, whose views promise kmap events).
fn trace_map(t: &TaskCell, op: &'static str, pfn: u64) {
    t.exec.emit(t, Cat::Mem, op, || format!("pfn={pfn:#x}"));
}

fn zone_of(page: Page) -> Option<Zone> {
    let t = current();
    let mm = t.exec.mm();
    mm.frame(page).map(|f| f.zone)
}

/// `PageHighMem(page)`.
#[allow(non_snake_case)]
pub fn PageHighMem(page: Page) -> bool {
    zone_of(page) == Some(Zone::HighMem)
}

/// `page_address(page)`: the permanent kernel address of a lowmem page; for a highmem page only
/// while it is `kmap()`ed, else `None` (the kernel's NULL).
///
/// # Context
/// Any.
pub fn page_address(page: Page) -> Option<KAddr> {
    let t = current();
    let mm = t.exec.mm();
    let f = mm.frame(page)?;
    match f.zone {
        Zone::Normal => Some(KAddr::direct(page.pfn, page.gen)),
        Zone::HighMem if f.kmaps > 0 => Some(KAddr { map: PKMAP, ..KAddr::direct(page.pfn, page.gen) }),
        Zone::HighMem => None,
    }
}

/// `kmap(page)`: a mapping that stays until `kunmap()`.
///
/// # Context
/// May sleep (`might_sleep()`).
#[track_caller]
pub fn kmap(page: Page) -> KAddr {
    kmap_at(Loc::caller(), page)
}

/// [`kmap`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn kmap_at(at: Loc, page: Page) -> KAddr {
    might_sleep_at(at, "kmap()", None);
    let t = current();
    let addr = {
        let mut mm = t.exec.mm();
        match mm.frame_mut(page) {
            Some(f) if f.zone == Zone::HighMem => {
                f.kmaps += 1;
                KAddr { map: PKMAP, ..KAddr::direct(page.pfn, page.gen) }
            }
            _ => KAddr::direct(page.pfn, page.gen),
        }
    };
    trace_map(&t, "kmap", page.pfn);
    addr
}

/// `kunmap(page)`.
///
/// # Context
/// Not from interrupt context (the kernel BUGs).
#[track_caller]
pub fn kunmap(page: Page) {
    kunmap_at(Loc::caller(), page)
}

/// [`kunmap`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn kunmap_at(at: Loc, page: Page) {
    if crate::preempt::in_interrupt() {
        crate::sched::bug_at(at);
    }
    let t = current();
    {
        let mut mm = t.exec.mm();
        if let Some(f) = mm.frame_mut(page) {
            f.kmaps = f.kmaps.saturating_sub(1);
        }
    }
    trace_map(&t, "kunmap", page.pfn);
}

fn push_map(page: Page, atomic: bool, at: Loc) -> KAddr {
    let t = current();
    let op = if atomic { "kmap_atomic" } else { "kmap_local_page" };
    let site = Site { at, op };
    // `preempt_disable()` (kmap_atomic with CONFIG_PREEMPT_COUNT) and the new slot in one
    // borrow of the task's state: this runs twice per brd bio.
    let count = atomic && t.exec.config().preempt_count;
    let id = {
        let mut st = t.state();
        if count {
            add_in(&mut st, PREEMPT_OFFSET, site);
        }
        st.kmaps_made = st.kmaps_made.wrapping_add(1);
        let id = (u64::from(t.pid) << 32) | u64::from(st.kmaps_made);
        st.kmaps.push(KmapSlot { id, pfn: page.pfn, atomic, site });
        id
    };
    if count {
        added(&t, PREEMPT_OFFSET, site);
    }
    trace_map(&t, op, page.pfn);
    KAddr { map: id, ..KAddr::direct(page.pfn, page.gen) }
}

fn pop_map(addr: KAddr, atomic: bool, at: Loc) {
    let t = current();
    let op = if atomic { "kunmap_atomic" } else { "kunmap_local" };
    let site = Site { at, op };
    let count = t.exec.config().preempt_count;
    // The common case, the most recent mapping, in one borrow of the task's state.
    let popped = {
        let mut st = t.state();
        if st.kmaps.last().is_some_and(|k| k.id == addr.map) {
            let k = st.kmaps.pop().expect("a last mapping");
            let r = (k.atomic && count).then(|| sub_in(&mut st, PREEMPT_OFFSET));
            Some((k, r))
        } else {
            None
        }
    };
    match popped {
        Some((k, r)) => {
            if let Some(r) = r {
                subtracted(&t, PREEMPT_OFFSET, site, r);
            }
            trace_map(&t, op, k.pfn);
        }
        None => pop_out_of_order(&t, addr, at, op),
    }
}

/// `kunmap_atomic()` / `kunmap_local()` of an address that is not the most recent mapping: the
/// nesting report, then the mapping (if it is one) is released anyway.
#[cold]
fn pop_out_of_order(t: &TaskCell, addr: KAddr, at: Loc, op: &'static str) {
    let (top, pos) = {
        let st = t.state();
        (st.kmaps.last().copied(), st.kmaps.iter().rposition(|k| k.id == addr.map))
    };
    if top.map(|k| k.id) != Some(addr.map) {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "WARNING: {op}() at {}:{} does not unmap the most recent mapping",
            at.file(),
            at.line()
        );
        match (pos, top) {
            (Some(_), Some(k)) => {
                let _ = writeln!(
                    s,
                    "most recent: pfn {:#x} mapped at {} {}",
                    k.pfn,
                    k.site.file_line(),
                    k.site.op
                );
            }
            _ => {
                let _ = writeln!(s, "address {addr} is not a live mapping of this task");
            }
        }
        s.push_str("kmap_atomic()/kmap_local_page() mappings must be released in reverse order\n");
        t.exec.report(t, Violation::KmapNesting, s, op);
    }
    if let Some(i) = pos {
        let k = t.state().kmaps.remove(i);
        if k.atomic {
            preempt_on(t, Site { at, op });
        }
        trace_map(t, op, k.pfn);
    }
}

/// `kmap_atomic(page)`: a short-lived mapping; the task is atomic until `kunmap_atomic()`.
///
/// # Context
/// Any; does not sleep; nothing may sleep until the matching `kunmap_atomic()`.
#[track_caller]
pub fn kmap_atomic(page: Page) -> KAddr {
    kmap_atomic_at(Loc::caller(), page)
}

/// [`kmap_atomic`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn kmap_atomic_at(at: Loc, page: Page) -> KAddr {
    push_map(page, true, at)
}

/// `kunmap_atomic(addr)`: must unmap the most recent `kmap_atomic()`.
#[track_caller]
pub fn kunmap_atomic(addr: KAddr) {
    kunmap_atomic_at(Loc::caller(), addr)
}

/// [`kunmap_atomic`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn kunmap_atomic_at(at: Loc, addr: KAddr) {
    pop_map(addr, true, at)
}

/// `kmap_local_page(page)`: a thread-local mapping; preemptible.
///
/// # Context
/// Any; the task may sleep while holding it.
#[track_caller]
pub fn kmap_local_page(page: Page) -> KAddr {
    kmap_local_page_at(Loc::caller(), page)
}

/// [`kmap_local_page`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn kmap_local_page_at(at: Loc, page: Page) -> KAddr {
    push_map(page, false, at)
}

/// `kunmap_local(addr)`: must unmap the most recent `kmap_local_page()`.
#[track_caller]
pub fn kunmap_local(addr: KAddr) {
    kunmap_local_at(Loc::caller(), addr)
}

/// [`kunmap_local`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn kunmap_local_at(at: Loc, addr: KAddr) {
    pop_map(addr, false, at)
}

/// `clear_highpage(page)`: zeroes a page through a temporary atomic mapping.
#[track_caller]
pub fn clear_highpage(page: Page) {
    let at = Loc::caller();
    let a = push_map(page, true, at);
    memset(a, 0, PAGE_SIZE);
    pop_map(a, true, at);
}

/// `memcpy_to_page(page, offset, from, len)`.
///
/// # Context
/// Any (uses `kmap_local_page()`). `offset + len` must not exceed the page (the kernel's
/// `VM_BUG_ON`); an overrun is reported as out of bounds.
#[track_caller]
pub fn memcpy_to_page(page: Page, offset: usize, from: &[u8]) {
    let at = Loc::caller();
    let a = push_map(page, false, at);
    memcpy_to(a.add(offset), from);
    pop_map(a, false, at);
}

/// `memcpy_from_page(to, page, offset, len)`.
#[track_caller]
pub fn memcpy_from_page(to: &mut [u8], page: Page, offset: usize) {
    let at = Loc::caller();
    let a = push_map(page, false, at);
    memcpy_from(to, a.add(offset));
    pop_map(a, false, at);
}
