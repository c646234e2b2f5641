//! The slab allocator's order of work (`mm/slab_common.c`, `mm/slub.c`, facts §3.4, §5.3): for
//! `kmalloc()` and `kmem_cache_alloc()` the `slab_pre_alloc_hook()` — `might_sleep_if(blocking)`
//! on every blocking call, then `should_failslab()` — then the object; `kmalloc()` above
//! `KMALLOC_MAX_CACHE_SIZE` goes to the page allocator instead (`kmalloc_large`: its checks are
//! `fail_page_alloc`'s, at the allocation's order). Frees are checked as KASAN checks them:
//! double free, a pointer that is not an object's start, an object of another cache.
//!
//! Model differences: small objects do not count against the memory limit (slab pages are not
//! modelled), and a large `kmalloc()` at the limit fails without entering reclaim.

use std::fmt::Write as _;

use super::access::sites;
use super::slab::{kmalloc_class, ObjState, Slabs, KMALLOC_MAX_CACHE_SIZE, KMALLOC_MAX_SIZE, POISON_INUSE};
use crate::defs::fault::Cap;
use crate::defs::gfp::{gfpflags_allow_blocking, Gfp, __GFP_NOWARN, __GFP_ZERO};
use crate::defs::loc::Loc;
use crate::defs::mm_types::{KAddr, PAGE_SIZE};
use crate::model::current;
use crate::model::fault::FaultState;
use crate::model::report::Violation;
use crate::model::sleep::might_sleep_check_lazy;
use crate::model::task::{Site, TaskCell};
use crate::model::trace::Cat;

/// `ZERO_SIZE_PTR`: what `kmalloc(0)` returns; dereferencing it faults, freeing it is a no-op.
pub const ZERO_SIZE_PTR: KAddr = KAddr { pfn: 0, gen: 0, off: 16, map: 0 };

/// `get_order(size)`.
fn order_of(size: usize) -> u32 {
    size.div_ceil(PAGE_SIZE).next_power_of_two().trailing_zeros()
}

/// `slab_pre_alloc_hook()` (or `kmalloc_large`'s checks for `cap == Cap::PageAlloc`): might_sleep
/// for a blocking `gfp`, then fault injection. True when the allocation is to fail.
pub(crate) fn pre_alloc(
    t: &TaskCell,
    at: Loc,
    call: &dyn Fn() -> String,
    gfp: Gfp,
    cap: Cap,
    order: u32,
    size: usize,
) -> bool {
    if gfpflags_allow_blocking(gfp) {
        might_sleep_check_lazy(at, call, 0, None);
    }
    let cfg = t.exec.config();
    FaultState::eligible(&cfg.faults, cap, gfp, order).is_some() && {
        let mut mm = t.exec.mm();
        let m = &mut *mm;
        let rng = &mut m.rng;
        let mut nth = t.state().fail_nth;
        let weight = if cap == Cap::PageAlloc { 1i64 << order } else { size as i64 };
        let r = m.fault.should_fail(&cfg.faults, &mut nth, cap, gfp, order, weight, || {
            rand::Rng::gen_range(rng, 0..100)
        });
        t.state().fail_nth = nth;
        r
    }
}

/// `kmalloc(size, gfp)` (`op` names the entry point: kmalloc, kzalloc, kcalloc, krealloc).
pub(crate) fn kmalloc_at(at: Loc, op: &'static str, size: usize, gfp: Gfp) -> Option<KAddr> {
    let t = current();
    let profile = t.exec.config().profile;
    if size == 0 {
        return Some(ZERO_SIZE_PTR);
    }
    if size > KMALLOC_MAX_SIZE {
        // `kmalloc_large()` -> `alloc_pages()` of an order above MAX_ORDER: it WARNs unless
        // `__GFP_NOWARN`, and fails.
        if !gfp.contains(__GFP_NOWARN) {
            t.exec.emit(&t, Cat::Mem, "WARNING", || format!("{op}({size}) above KMALLOC_MAX_SIZE"));
        }
        return None;
    }
    let call = || format!("{op}({size}, {})", gfp.display(profile));
    let (name, class, cap, order) = match kmalloc_class(size) {
        Some(c) if size <= KMALLOC_MAX_CACHE_SIZE => (kmalloc_name(c), c, Cap::Slab, 0),
        _ => ("kmalloc-large".to_string(), size, Cap::PageAlloc, order_of(size)),
    };
    let failed = pre_alloc(&t, at, &call, gfp, cap, order, size);
    let a = (!failed).then(|| {
        let mut mm = t.exec.mm();
        if cap == Cap::PageAlloc && !mm.has_room(1 << order) {
            return None;
        }
        let who = mm.intern_of(&t, Site { at, op }, gfp);
        // Objects of a class are aligned to its largest power-of-two factor (kmalloc-96: 32).
        let cache = mm.slabs.cache(&name, class, (class & class.wrapping_neg()).clamp(8, PAGE_SIZE));
        let fill = if gfp.contains(__GFP_ZERO) { 0 } else { POISON_INUSE };
        Some(mm.slabs.alloc(cache, size, fill, who))
    });
    let a = a.flatten();
    t.exec.emit(&t, Cat::Mem, op, || match a {
        Some(a) => {
            format!("size={size} {name} {} obj={a} in {}", gfp.display(profile), super::alloc::callers(&t))
        }
        None => format!(
            "size={size} {name} {} FAILED ({}) in {}",
            gfp.display(profile),
            if failed { "fault injection" } else { "out of memory" },
            super::alloc::callers(&t)
        ),
    });
    a
}

/// The cache name of a kmalloc class (`kmalloc-64`, `kmalloc-1k`, `kmalloc-8k`).
fn kmalloc_name(class: usize) -> String {
    if class >= 1024 {
        format!("kmalloc-{}k", class / 1024)
    } else {
        format!("kmalloc-{class}")
    }
}

/// `kmem_cache_create(name, size, align, flags, ctor)`: the cache's index.
pub(crate) fn cache_create(name: &str, size: usize, align: usize) -> usize {
    let t = current();
    let mut mm = t.exec.mm();
    // A new cache even if one of that name exists (the kernel allows duplicates).
    mm.slabs.caches.push(super::slab::Cache {
        name: std::sync::Arc::from(name),
        size,
        align: align.max(8),
        destroyed: false,
    });
    mm.slabs.caches.len() - 1
}

/// `kmem_cache_alloc(cache, gfp)`.
pub(crate) fn cache_alloc_at(at: Loc, cache: usize, gfp: Gfp) -> Option<KAddr> {
    let t = current();
    let profile = t.exec.config().profile;
    let (name, size) = {
        let mm = t.exec.mm();
        let c = &mm.slabs.caches[cache];
        (c.name.clone(), c.size)
    };
    let call = || format!("kmem_cache_alloc({name}, {})", gfp.display(profile));
    let failed = pre_alloc(&t, at, &call, gfp, Cap::Slab, 0, size);
    let a = (!failed).then(|| {
        let mut mm = t.exec.mm();
        let who = mm.intern_of(&t, Site { at, op: "kmem_cache_alloc" }, gfp);
        let fill = if gfp.contains(__GFP_ZERO) { 0 } else { POISON_INUSE };
        mm.slabs.alloc(cache, size, fill, who)
    });
    t.exec.emit(&t, Cat::Mem, "kmem_cache_alloc", || match a {
        Some(a) => format!("{name} {} obj={a} in {}", gfp.display(profile), super::alloc::callers(&t)),
        None => format!("{name} {} FAILED (fault injection)", gfp.display(profile)),
    });
    a
}

/// What a free found wrong, if anything.
enum BadFree {
    Double,
    Invalid(&'static str),
    WrongCache { cache: String, actual: String },
}

/// `kfree(obj)` (`cache: None`) or `kmem_cache_free(cache, obj)`.
pub(crate) fn free_at(at: Loc, op: &'static str, a: KAddr, cache: Option<usize>) {
    if a.is_null() || a == ZERO_SIZE_PTR {
        return;
    }
    let t = current();
    let site = Site { at, op };
    let bad = {
        let mut mm = t.exec.mm();
        let found = Slabs::id_of(a).filter(|&id| id < mm.slabs.objs.len());
        match found {
            None => Some((BadFree::Invalid("is not a slab object"), None)),
            Some(id) if a.off != 0 => Some((BadFree::Invalid("is not the start of its object"), Some(id))),
            Some(id) => match (&mm.slabs.objs[id].state, cache) {
                (ObjState::Freed(_), _) => Some((BadFree::Double, Some(id))),
                (ObjState::Live, Some(c)) if mm.slabs.objs[id].cache != c => {
                    let s = &mm.slabs;
                    let wrong = BadFree::WrongCache {
                        cache: s.caches[c].name.to_string(),
                        actual: s.caches[s.objs[id].cache].name.to_string(),
                    };
                    Some((wrong, Some(id)))
                }
                (ObjState::Live, _) => {
                    let who = mm.intern_of(&t, site, Gfp::EMPTY);
                    mm.slabs.free(id, who);
                    None
                }
            },
        }
    };
    match bad {
        None => t.exec.emit(&t, Cat::Mem, op, || format!("obj={a} in {}", super::alloc::callers(&t))),
        Some((kind, id)) => bad_free(&t, at, op, a, kind, id),
    }
}

#[cold]
fn bad_free(t: &TaskCell, at: Loc, op: &'static str, a: KAddr, kind: BadFree, id: Option<usize>) {
    let (alloc, free, size) = match id {
        Some(id) => {
            let mm = t.exec.mm();
            let o = &mm.slabs.objs[id];
            let free = match &o.state {
                ObjState::Freed(w) => Some(w.clone()),
                ObjState::Live => None,
            };
            (Some(o.alloc.clone()), free, o.size)
        }
        None => (None, None, 0),
    };
    let mut s = String::new();
    let v = match &kind {
        BadFree::Double => {
            let _ = writeln!(s, "BUG: KASAN: double-free in {op} at {at}");
            let _ = writeln!(s, "Free of addr {a} by task {}/{}", t.name, t.pid);
            Violation::DoubleFree
        }
        BadFree::Invalid(why) => {
            let _ = writeln!(s, "BUG: KASAN: invalid-free in {op} at {at}");
            let _ = writeln!(s, "Free of addr {a} by task {}/{}: the address {why}", t.name, t.pid);
            if id.is_some() {
                let _ = writeln!(
                    s,
                    "The buggy address is located {} bytes inside of the {size}-byte region",
                    a.off
                );
            }
            Violation::InvalidFree
        }
        BadFree::WrongCache { cache, actual } => {
            let _ = writeln!(
                s,
                "WARNING: kmem_cache_free at {at}: Wrong slab cache. {cache} but object is from {actual}"
            );
            Violation::InvalidFree
        }
    };
    s.push_str(&sites(alloc.as_deref(), free.as_deref()));
    t.exec.report(t, v, s, op);
}

/// `krealloc(obj, new_size, gfp)`: the same object while the new size fits its class, else a new
/// one with the old bytes; `new_size == 0` frees.
pub(crate) fn krealloc_at(at: Loc, a: KAddr, new_size: usize, gfp: Gfp) -> Option<KAddr> {
    if a.is_null() || a == ZERO_SIZE_PTR {
        return kmalloc_at(at, "krealloc", new_size, gfp);
    }
    if new_size == 0 {
        free_at(at, "krealloc", a, None);
        return Some(ZERO_SIZE_PTR);
    }
    let t = current();
    let old = {
        let mut mm = t.exec.mm();
        let Some(id) = Slabs::id_of(a).filter(|&id| id < mm.slabs.objs.len() && a.off == 0) else {
            drop(mm);
            free_at(at, "krealloc", a, None);
            return None;
        };
        let s = &mut mm.slabs;
        let cap = s.caches[s.objs[id].cache].size;
        if matches!(s.objs[id].state, ObjState::Live) && new_size <= cap {
            s.objs[id].size = new_size;
            return Some(a);
        }
        s.objs[id].size
    };
    let n = kmalloc_at(at, "krealloc", new_size, gfp & !__GFP_ZERO)?;
    copy_object(a, n, old.min(new_size));
    if gfp.contains(__GFP_ZERO) && new_size > old {
        super::access::access(n.add(old), new_size - old, None, None, Some(0), "krealloc", at);
    }
    free_at(at, "krealloc", a, None);
    Some(n)
}

/// Copies `n` bytes from object `from` to object `to` (both checked).
fn copy_object(from: KAddr, to: KAddr, n: usize) {
    let mut buf = vec![0u8; n];
    let at = Loc::new("mm/slab_common.c", 0);
    super::access::access(from, n, Some(&mut buf), None, None, "krealloc", at);
    super::access::access(to, n, None, Some(&buf), None, "krealloc", at);
}

/// `ksize(obj)`: the usable size (the object's class).
pub(crate) fn ksize(a: KAddr) -> usize {
    let t = current();
    let mm = t.exec.mm();
    Slabs::id_of(a)
        .and_then(|id| mm.slabs.objs.get(id))
        .map_or(0, |o| mm.slabs.caches[o.cache].size.max(o.size))
}

/// `kmem_cache_destroy(cache)`: reports objects still allocated from it.
pub(crate) fn cache_destroy_at(at: Loc, cache: usize) {
    let t = current();
    let (name, live) = {
        let mut mm = t.exec.mm();
        let live: Vec<_> = mm.slabs.live().filter(|(_, o)| o.cache == cache).map(|(id, _)| id).collect();
        mm.slabs.caches[cache].destroyed = true;
        (mm.slabs.caches[cache].name.clone(), live)
    };
    t.exec.emit(&t, Cat::Mem, "kmem_cache_destroy", || format!("{name}: {} objects left", live.len()));
    if live.is_empty() {
        return;
    }
    let mut s = String::new();
    let _ =
        writeln!(s, "WARNING: kmem_cache_destroy {name}: Slab cache still has objects when called from {at}");
    let mm = t.exec.mm();
    for &id in live.iter().take(8) {
        let o = &mm.slabs.objs[id];
        let _ = writeln!(s, "object {} (size {}) allocated by {}", Slabs::addr(id), o.size, o.alloc.trace());
    }
    drop(mm);
    t.exec.report(&t, Violation::Leak, s, "kmem_cache_destroy");
}
