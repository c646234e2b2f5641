//! Every byte access through a kernel address, and the checks KASAN and KMSAN make on it: NULL
//! or unmapped addresses, use after free (the frame's generation changed), access beyond the
//! allocation the address points into, and reads of never-written bytes of a page allocated
//! without `__GFP_ZERO`. The API's `memcpy`/`memset`/`kmap` helpers call [`access`] and
//! [`copy_direct`].

use crate::defs::loc::Loc;
use std::fmt::Write as _;

use super::frames::{BufId, PageBufs};
use super::slab::ObjState;
use super::state::{Frame, Mm, Slot, SlotEntry, Who, BASE_PFN, REGION_PFN};
use crate::defs::mm_types::{KAddr, Zone, PAGE_SIZE, PKMAP, SLAB_PFN};
use crate::model::current;
use crate::model::report::Violation;
use crate::model::task::{KmapSlot, TaskCell};

/// "Allocated by task ..." / "Freed by task ..." blocks of a memory report.
pub(crate) fn sites(alloc: Option<&Who>, free: Option<&Who>) -> String {
    let mut s = String::new();
    if let Some(a) = alloc {
        let _ = write!(s, "\nAllocated by task {}/{} ({}):\n {}\n", a.task, a.pid, a.gfp, a.trace());
    }
    if let Some(f) = free {
        let _ = write!(s, "\nFreed by task {}/{}:\n {}\n", f.task, f.pid, f.trace());
    }
    s
}

enum Fault {
    Null,
    Unmapped,
    NoKernelMapping,
    Stale {
        alloc: Option<std::sync::Arc<Who>>,
        free: Option<std::sync::Arc<Who>>,
    },
    OutOfBounds {
        alloc: Option<std::sync::Arc<Who>>,
        size: u64,
        into: u64,
        region: Option<&'static str>,
        /// The slab cache, for an object.
        cache: Option<std::sync::Arc<str>>,
    },
    Uninit {
        alloc: std::sync::Arc<Who>,
        at: u64,
    },
}

/// Where the bytes are: a run of allocator frames, a reserved region, or a slab object's host
/// memory (at the access's offset).
enum Target {
    Frames { first: u64, off: usize },
    Region { index: usize, byte: u64 },
    Slab { ptr: *mut u8 },
}

/// Where the `len` bytes at `a` are, after the checks; `kmaps` are the accessing task's live
/// `kmap_atomic()`/`kmap_local_page()` mappings.
fn locate(
    mm: &Mm,
    kmaps: &[KmapSlot],
    a: KAddr,
    len: usize,
    read: bool,
    poison: bool,
) -> Result<Target, Fault> {
    if a.pfn == 0 {
        return Err(Fault::Null);
    }
    if a.map != 0 && a.map != PKMAP && !kmaps.iter().any(|k| k.id == a.map) {
        return Err(Fault::Unmapped);
    }
    if a.pfn >= SLAB_PFN {
        let o = mm.slabs.objs.get((a.pfn - SLAB_PFN) as usize).ok_or(Fault::Null)?;
        if let ObjState::Freed(f) = &o.state {
            return Err(Fault::Stale { alloc: Some(o.alloc.clone()), free: Some(f.clone()) });
        }
        if a.off + len as u64 > o.size as u64 {
            let cache = Some(mm.slabs.caches[o.cache].name.clone());
            return Err(Fault::OutOfBounds {
                alloc: Some(o.alloc.clone()),
                size: o.size as u64,
                into: a.off,
                region: None,
                cache,
            });
        }
        let mem = o.mem.as_ref().ok_or(Fault::Null)?;
        return Ok(Target::Slab { ptr: mem.ptr().wrapping_add(a.off as usize) });
    }
    if a.pfn >= REGION_PFN {
        let (i, r) = mm
            .regions
            .iter()
            .enumerate()
            .find(|(_, r)| (r.base..r.base + r.pages).contains(&a.pfn))
            .ok_or(Fault::Null)?;
        let byte = (a.pfn - r.base) * PAGE_SIZE as u64 + a.off;
        if byte + len as u64 > r.pages * PAGE_SIZE as u64 {
            return Err(Fault::OutOfBounds {
                alloc: None,
                size: r.pages * PAGE_SIZE as u64,
                into: byte,
                region: Some(r.name),
                cache: None,
            });
        }
        return Ok(Target::Region { index: i, byte });
    }
    let head = match mm.entry(a.pfn) {
        Some(SlotEntry { gen, slot: Slot::Live(f) }) if *gen == a.gen => f,
        Some(SlotEntry { slot: Slot::Free { alloc, free }, .. }) => {
            return Err(Fault::Stale { alloc: alloc.clone(), free: free.clone() })
        }
        Some(SlotEntry { slot: Slot::Live(f), .. }) => {
            return Err(Fault::Stale { alloc: Some(f.alloc.clone()), free: None })
        }
        None => return Err(Fault::Null),
    };
    if a.map == PKMAP && head.kmaps == 0 {
        return Err(Fault::Unmapped);
    }
    if a.map == 0 && head.zone == Zone::HighMem {
        return Err(Fault::NoKernelMapping);
    }
    let start = (a.pfn - head.head) * PAGE_SIZE as u64 + a.off;
    let size = (PAGE_SIZE as u64) << head.order;
    if start + len as u64 > size {
        return Err(Fault::OutOfBounds {
            alloc: Some(head.alloc.clone()),
            size,
            into: start,
            region: None,
            cache: None,
        });
    }
    let first = head.head + start / PAGE_SIZE as u64;
    let off = (start % PAGE_SIZE as u64) as usize;
    if read && poison {
        let mut done = 0;
        let mut pfn = first;
        let mut o = off;
        while done < len {
            let n = (PAGE_SIZE - o).min(len - done);
            if let Some(SlotEntry { slot: Slot::Live(f), .. }) = mm.entry(pfn) {
                if let Some(w) = &f.written {
                    if let Some(bad) = (o..o + n).find(|&b| w[b / 64] & (1 << (b % 64)) == 0) {
                        return Err(Fault::Uninit {
                            alloc: f.alloc.clone(),
                            at: (pfn - head.head) * PAGE_SIZE as u64 + bad as u64,
                        });
                    }
                }
            }
            done += n;
            pfn += 1;
            o = 0;
        }
    }
    Ok(Target::Frames { first, off })
}

fn mark_written(w: &mut Option<Box<[u64]>>, from: usize, n: usize) {
    if let Some(bits) = w {
        // A word at a time: bits `lo..hi` of word `b / 64`.
        let (mut b, end) = (from, from + n);
        while b < end {
            let (word, lo) = (b / 64, b % 64);
            let hi = (end - word * 64).min(64);
            bits[word] |= if hi - lo == 64 { u64::MAX } else { ((1u64 << (hi - lo)) - 1) << lo };
            b = word * 64 + hi;
        }
        if bits.iter().all(|&x| x == u64::MAX) {
            *w = None;
        }
    }
}

/// The live frame at `pfn`, if any.
fn live_mut(slots: &mut [SlotEntry], pfn: u64) -> Option<&mut Frame> {
    let i = pfn.checked_sub(BASE_PFN)? as usize;
    match slots.get_mut(i) {
        Some(SlotEntry { slot: Slot::Live(f), .. }) => Some(f),
        _ => None,
    }
}

/// What a write stores: bytes, one byte repeated (`memset`), or bytes of another frame's
/// buffer (`memcpy`), at an offset.
#[derive(Clone, Copy)]
enum Bytes<'a> {
    Slice(&'a [u8]),
    Fill(u8),
    Buf(BufId, usize),
}

/// Whether `s` is all zeros: word-wide OR per cache line, so the scan vectorises; stops at the
/// first non-zero line.
fn all_zero(s: &[u8]) -> bool {
    s.chunks(64).all(|c| c.iter().fold(0u8, |a, &b| a | b) == 0)
}

/// Writes `n` bytes at offset `o` of a frame's contents. A frame with no buffer reads as zeros
/// (a `__GFP_ZERO` page never written, or only ever written with zeros) and keeps none while
/// the bytes written are zeros; otherwise it gets one, left unfilled when the bytes cover the
/// whole page.
fn store(data: &mut Option<BufId>, bufs: &mut PageBufs, o: usize, n: usize, bytes: Bytes<'_>) {
    let d = match *data {
        Some(d) => d,
        None => {
            let zero = match bytes {
                Bytes::Slice(s) => all_zero(s),
                Bytes::Fill(c) => c == 0,
                Bytes::Buf(id, so) => all_zero(&bufs.get(id)[so..so + n]),
            };
            if zero {
                return;
            }
            let d = if n == PAGE_SIZE { bufs.alloc_dirty(0) } else { bufs.alloc(0) };
            *data = Some(d);
            d
        }
    };
    match bytes {
        Bytes::Slice(s) => bufs.get_mut(d)[o..o + n].copy_from_slice(s),
        Bytes::Fill(c) => bufs.get_mut(d)[o..o + n].fill(c),
        Bytes::Buf(id, so) => {
            let (src, dst) = bufs.pair(id, d);
            dst[o..o + n].copy_from_slice(&src[so..so + n]);
        }
    }
}

/// Reads (`dst` Some) or writes (`src` Some) or fills (`fill` Some) `len` bytes at `a`.
pub(crate) fn access(
    a: KAddr,
    len: usize,
    mut dst: Option<&mut [u8]>,
    src: Option<&[u8]>,
    fill: Option<u8>,
    op: &'static str,
    at: Loc,
) {
    if len == 0 {
        // A zero-length copy touches nothing (KASAN does not check size-0 accesses either).
        return;
    }
    let t = current();
    if dst.is_some() {
        t.exec.mem_ghost.read();
    } else {
        t.exec.mem_ghost.write();
    }
    let poison = t.exec.config().mem.poison_check;
    let result = {
        let mut mm = t.exec.mm();
        let located = locate(&mm, &t.state().kmaps, a, len, dst.is_some(), poison);
        match located {
            Err(f) => Err(f),
            Ok(Target::Region { index, byte }) => {
                let r = &mut mm.regions[index];
                let mut done = 0;
                while done < len {
                    let b = byte + done as u64;
                    let (page, o) = (b / PAGE_SIZE as u64, (b % PAGE_SIZE as u64) as usize);
                    let n = (PAGE_SIZE - o).min(len - done);
                    match dst.as_deref_mut() {
                        Some(d) => match r.data.get(&page) {
                            Some(p) => d[done..done + n].copy_from_slice(&p[o..o + n]),
                            None => d[done..done + n].fill(0),
                        },
                        None => {
                            let p =
                                r.data.entry(page).or_insert_with(|| vec![0; PAGE_SIZE].into_boxed_slice());
                            match src {
                                Some(s) => p[o..o + n].copy_from_slice(&s[done..done + n]),
                                None => p[o..o + n].fill(fill.unwrap_or(0)),
                            }
                        }
                    }
                    done += n;
                }
                Ok(())
            }
            Ok(Target::Slab { ptr }) => {
                // SAFETY: `locate` checked that the `len` bytes at `ptr` are inside a live
                // object's buffer, which the ledger (locked) keeps alive; `d`/`s` are `len` long.
                unsafe {
                    match (dst.as_deref_mut(), src) {
                        (Some(d), _) => std::ptr::copy(ptr, d.as_mut_ptr(), len),
                        (None, Some(s)) => std::ptr::copy(s.as_ptr(), ptr, len),
                        (None, None) => std::ptr::write_bytes(ptr, fill.unwrap_or(0), len),
                    }
                }
                Ok(())
            }
            Ok(Target::Frames { first, off }) => {
                let Mm { slots, bufs, .. } = &mut *mm;
                let mut done = 0;
                let mut pfn = first;
                let mut o = off;
                while done < len {
                    let n = (PAGE_SIZE - o).min(len - done);
                    if let Some(f) = live_mut(slots, pfn) {
                        match dst.as_deref_mut() {
                            Some(d) => match f.data {
                                Some(id) => d[done..done + n].copy_from_slice(&bufs.get(id)[o..o + n]),
                                None => d[done..done + n].fill(0),
                            },
                            None => {
                                let bytes = match src {
                                    Some(s) => Bytes::Slice(&s[done..done + n]),
                                    None => Bytes::Fill(fill.unwrap_or(0)),
                                };
                                store(&mut f.data, bufs, o, n, bytes);
                                mark_written(&mut f.written, o, n);
                            }
                        }
                    }
                    done += n;
                    pfn += 1;
                    o = 0;
                }
                Ok(())
            }
        }
    };
    if let Err(f) = result {
        report(&t, f, a, len, dst.is_some(), op, at);
    }
}

fn report(t: &TaskCell, f: Fault, a: KAddr, len: usize, read: bool, op: &'static str, at: Loc) {
    let rw = if read { "Read" } else { "Write" };
    let mut s = String::new();
    let kind = match f {
        Fault::Null => {
            let _ = writeln!(s, "BUG: kernel NULL pointer dereference, address: {:016x}", a.value());
            let _ =
                writeln!(s, "#PF: supervisor {} access in kernel mode", if read { "read" } else { "write" });
            let _ = writeln!(s, "ksim: {op} at {}:{} through a NULL kernel address", at.file(), at.line());
            Violation::NonAddressable
        }
        Fault::Unmapped => {
            let _ = writeln!(s, "BUG: unable to handle page fault for address: {:016x}", a.value());
            let _ = writeln!(
                s,
                "ksim: {op} at {}:{} through a kmap address that is no longer mapped",
                at.file(),
                at.line()
            );
            Violation::NonAddressable
        }
        Fault::NoKernelMapping => {
            let _ = writeln!(s, "BUG: unable to handle page fault for address: {:016x}", a.value());
            let _ = writeln!(
                s,
                "ksim: {op} at {}:{}: pfn {:#x} is a highmem page with no kernel mapping (kmap it first)",
                at.file(),
                at.line(),
                a.pfn
            );
            Violation::NonAddressable
        }
        Fault::Stale { alloc, free } => {
            let _ = writeln!(s, "BUG: KASAN: use-after-free in {op} at {}:{}", at.file(), at.line());
            let _ = writeln!(s, "{rw} of size {len} at addr {a} by task {}/{}", t.name, t.pid);
            s.push_str(&sites(alloc.as_deref(), free.as_deref()));
            Violation::UseAfterFree
        }
        Fault::OutOfBounds { alloc, size, into, region, cache } => {
            let what = if cache.is_some() { "slab" } else { "page" };
            let _ = writeln!(s, "BUG: KASAN: {what}-out-of-bounds in {op} at {}:{}", at.file(), at.line());
            if let Some(c) = &cache {
                let _ = writeln!(s, "The buggy address belongs to an object of the cache {c}");
            }
            let _ = writeln!(s, "{rw} of size {len} at addr {a} by task {}/{}", t.name, t.pid);
            let _ = writeln!(
                s,
                "The buggy address is located {into} bytes inside of the {size}-byte region{}; the access ends {} bytes past its end",
                region.map(|r| format!(" '{r}'")).unwrap_or_default(),
                into + len as u64 - size
            );
            s.push_str(&sites(alloc.as_deref(), None));
            Violation::OutOfBounds
        }
        Fault::Uninit { alloc, at: byte } => {
            let _ = writeln!(s, "BUG: KMSAN: uninit-value in {op} at {}:{}", at.file(), at.line());
            let _ = writeln!(s, "{rw} of size {len} at addr {a}: byte {byte} of the page was never written");
            let _ = writeln!(s, "Uninit was created at:\n {} (no __GFP_ZERO)", alloc.trace());
            Violation::UninitRead
        }
    };
    t.exec.report(t, kind, s, op);
}

/// The common case of [`memcpy`] in one step: both ranges are in allocator frames and pass
/// their checks, so the bytes go from frame to frame under one lock, with no bounce buffer.
/// `false` (nothing done) otherwise — a fault to report, a reserved region, or loom, whose ghost
/// accesses must stay two separate steps — and `memcpy` takes the two-step path.
pub(crate) fn copy_direct(dst: KAddr, src: KAddr, n: usize) -> bool {
    let t = current();
    if t.exec.mem_ghost.is_loom() {
        return false;
    }
    let poison = t.exec.config().mem.poison_check;
    let mut mm = t.exec.mm();
    let (s, d) = {
        let st = t.state();
        (locate(&mm, &st.kmaps, src, n, true, poison), locate(&mm, &st.kmaps, dst, n, false, poison))
    };
    let (Ok(Target::Frames { first: sfirst, off: soff }), Ok(Target::Frames { first: dfirst, off: doff })) =
        (s, d)
    else {
        return false;
    };
    t.exec.mem_ghost.read();
    t.exec.mem_ghost.write();
    let Mm { slots, bufs, .. } = &mut *mm;
    let mut done = 0;
    while done < n {
        let (spfn, so) = (sfirst + ((soff + done) / PAGE_SIZE) as u64, (soff + done) % PAGE_SIZE);
        let (dpfn, dof) = (dfirst + ((doff + done) / PAGE_SIZE) as u64, (doff + done) % PAGE_SIZE);
        let k = (PAGE_SIZE - so).min(PAGE_SIZE - dof).min(n - done);
        if spfn == dpfn {
            // Within one frame (overlap allowed, as through a bounce buffer).
            if let Some(f) = live_mut(slots, spfn) {
                if let Some(d) = f.data {
                    bufs.get_mut(d).copy_within(so..so + k, dof);
                }
                mark_written(&mut f.written, dof, k);
            }
        } else {
            let sdata = live_mut(slots, spfn).and_then(|f| f.data);
            if let Some(f) = live_mut(slots, dpfn) {
                let bytes = match sdata {
                    Some(id) => Bytes::Buf(id, so),
                    None => Bytes::Fill(0),
                };
                store(&mut f.data, bufs, dof, k, bytes);
                mark_written(&mut f.written, dof, k);
            }
        }
        done += k;
    }
    true
}
