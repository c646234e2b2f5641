//! The page ledger behind `mm/`: every frame with its generation, zone, data, allocation and
//! free sites. Model bookkeeping only — callers take the lock for a few instructions and release
//! it before reporting or calling back into driver code.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::frames::{BufId, PageBufs};
use crate::defs::config::Config;
use crate::defs::gfp::Gfp;
use crate::defs::mm_types::{Page, Zone, PAGE_SIZE};
use crate::model::fault::FaultState;
use crate::model::task::{Site, TaskCell};

/// First pfn handed out (pfn 0 stands for NULL).
pub(crate) const BASE_PFN: u64 = 0x1000;
/// First pfn of reserved regions (pmem), far above the allocator's frames.
pub(crate) const REGION_PFN: u64 = 0x10_0000;
/// `POISON_INUSE`: what a page allocated without `__GFP_ZERO` holds until written.
pub(crate) const POISON: u8 = 0x5a;

/// Who did something to a page, for reports: task, site and simulated call stack.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Who {
    pub site: Site,
    pub pid: u32,
    pub task: Arc<str>,
    pub frames: Vec<&'static str>,
    pub gfp: Gfp,
}

impl Who {
    pub(crate) fn of(t: &TaskCell, site: Site, gfp: Gfp) -> Who {
        Who { site, pid: t.pid, task: t.name.clone(), frames: t.state().frames.clone(), gfp }
    }

    /// The simulated call trace, innermost first.
    pub(crate) fn trace(&self) -> String {
        let mut s = format!("{} at {}", self.site.op, self.site.file_line());
        for f in self.frames.iter().rev() {
            s.push_str(" <- ");
            s.push_str(f);
        }
        s
    }
}

/// A live frame.
#[derive(Debug)]
pub(crate) struct Frame {
    /// Head pfn of its allocation and the allocation's order.
    pub head: u64,
    pub order: u32,
    /// Contents; `None` while the frame reads as zeros (allocated with `__GFP_ZERO` and never
    /// written with a non-zero byte).
    pub data: Option<BufId>,
    /// Bit per byte written, for pages allocated without `__GFP_ZERO`; `None` = initialised.
    pub written: Option<Box<[u64]>>,
    /// `page_count()` (head only).
    pub refcount: i64,
    /// `page->index`.
    pub index: u64,
    pub zone: Zone,
    /// `kmap()` mappings of a highmem page.
    pub kmaps: u32,
    pub alloc: Arc<Who>,
}

#[derive(Debug)]
pub(crate) enum Slot {
    Live(Frame),
    Free { alloc: Option<Arc<Who>>, free: Option<Arc<Who>> },
}

#[derive(Debug)]
pub(crate) struct SlotEntry {
    pub gen: u32,
    pub slot: Slot,
}

/// A shrinker or writeback callback that reclaim may call.
pub(crate) struct Shrinker {
    pub name: &'static str,
    /// GFP bits the callback needs (`__GFP_IO` for block writeback, `__GFP_FS` for fs).
    pub needs: Gfp,
    pub scan: Arc<dyn Fn(u64) -> u64 + Send + Sync>,
}

/// Memory reserved outside the allocator (`memremap` of a pmem range): contiguous pfns whose
/// contents read as zeros until written.
pub(crate) struct Region {
    pub base: u64,
    pub pages: u64,
    pub name: &'static str,
    pub data: BTreeMap<u64, Box<[u8]>>,
}

/// The ledger of one execution.
pub(crate) struct Mm {
    pub slots: Vec<SlotEntry>,
    /// Free pfns per (zone, order), reused last-freed first like the kernel's per-cpu lists.
    pub free: BTreeMap<(Zone, u32), Vec<u64>>,
    pub next_normal: u64,
    pub next_high: u64,
    pub lowmem: Option<u64>,
    pub limit: Option<u64>,
    pub in_use: u64,
    pub regions: Vec<Region>,
    /// Reserved regions' page buffers handed to foreign code as host pointers (`ffi::host_ptr`):
    /// host address -> pfn. Frames' own buffers are found through `PageBufs`.
    pub region_bufs: BTreeMap<usize, u64>,
    pub next_region: u64,
    pub fault: FaultState,
    pub shrinkers: Vec<Shrinker>,
    pub rng: SmallRng,
    /// Recent allocation/free records, shared when equal (a driver allocates and frees from a
    /// handful of sites hundreds of thousands of times).
    pub recent_who: Vec<Arc<Who>>,
    /// The frames' contents.
    pub bufs: PageBufs,
    /// Slab objects.
    pub slabs: super::slab::Slabs,
}

/// Records remembered for sharing.
const RECENT_WHO: usize = 8;

impl Mm {
    pub(crate) fn new(config: &Config, seed: u64) -> Mm {
        Mm {
            slots: Vec::new(),
            free: BTreeMap::new(),
            next_normal: BASE_PFN,
            next_high: BASE_PFN + config.mem.lowmem_pages.unwrap_or(0),
            lowmem: config.mem.lowmem_pages,
            limit: config.mem.limit_pages,
            in_use: 0,
            regions: Vec::new(),
            region_bufs: BTreeMap::new(),
            next_region: REGION_PFN,
            fault: FaultState::default(),
            shrinkers: Vec::new(),
            rng: SmallRng::seed_from_u64(seed),
            recent_who: Vec::new(),
            bufs: PageBufs::default(),
            slabs: Default::default(),
        }
    }

    /// The record of `t` doing `site` with `gfp`, shared with a recent equal one without
    /// building a new one first (no copy of the task's stack for the comparison).
    pub(crate) fn intern_of(&mut self, t: &TaskCell, site: Site, gfp: Gfp) -> Arc<Who> {
        let found = {
            let st = t.state();
            self.recent_who.iter().find(|w| {
                w.site == site && w.gfp == gfp && w.pid == t.pid && w.task == t.name && w.frames == st.frames
            })
        };
        match found {
            Some(w) => w.clone(),
            None => self.intern(Who::of(t, site, gfp)),
        }
    }

    /// Shares the allocation record with the previous one when they are equal (pre-populating a
    /// device allocates from one site hundreds of thousands of times).
    pub(crate) fn intern(&mut self, who: Who) -> Arc<Who> {
        if let Some(i) = self.recent_who.iter().position(|w| **w == who) {
            return self.recent_who[i].clone();
        }
        let a = Arc::new(who);
        if self.recent_who.len() == RECENT_WHO {
            self.recent_who.remove(0);
        }
        self.recent_who.push(a.clone());
        a
    }

    pub(crate) fn entry(&self, pfn: u64) -> Option<&SlotEntry> {
        pfn.checked_sub(BASE_PFN).and_then(|i| self.slots.get(i as usize))
    }

    pub(crate) fn entry_mut(&mut self, pfn: u64) -> Option<&mut SlotEntry> {
        pfn.checked_sub(BASE_PFN).and_then(|i| self.slots.get_mut(i as usize))
    }

    /// The live frame a handle names, if the handle is current.
    pub(crate) fn frame(&self, page: Page) -> Option<&Frame> {
        match self.entry(page.pfn) {
            Some(SlotEntry { gen, slot: Slot::Live(f) }) if *gen == page.gen => Some(f),
            _ => None,
        }
    }

    pub(crate) fn frame_mut(&mut self, page: Page) -> Option<&mut Frame> {
        match self.entry_mut(page.pfn) {
            Some(SlotEntry { gen, slot: Slot::Live(f) }) if *gen == page.gen => Some(f),
            _ => None,
        }
    }

    /// Whether the allocator may hand out `n` more pages.
    pub(crate) fn has_room(&self, n: u64) -> bool {
        self.limit.is_none_or(|l| self.in_use + n <= l)
    }

    /// Takes `1 << order` contiguous pfns from `zone`, or `None` when the zone is exhausted.
    pub(crate) fn take_pfns(&mut self, zone: Zone, order: u32) -> Option<u64> {
        if let Some(p) = self.free.get_mut(&(zone, order)).and_then(|v| v.pop()) {
            return Some(p);
        }
        let n = 1u64 << order;
        match zone {
            Zone::Normal => {
                let end = self.lowmem.map_or(u64::MAX, |l| BASE_PFN + l);
                let p = self.next_normal;
                (p + n <= end).then(|| {
                    self.next_normal += n;
                    p
                })
            }
            Zone::HighMem => {
                self.lowmem?;
                let p = self.next_high;
                (p + n <= REGION_PFN).then(|| {
                    self.next_high += n;
                    p
                })
            }
        }
    }

    /// Installs live frames for an allocation at `head`.
    pub(crate) fn install(&mut self, head: u64, order: u32, zone: Zone, zeroed: bool, who: Arc<Who>) -> Page {
        let mut head_gen = 0;
        for pfn in head..head + (1u64 << order) {
            let i = (pfn - BASE_PFN) as usize;
            if self.slots.len() <= i {
                self.slots.resize_with(i + 1, || SlotEntry {
                    gen: 0,
                    slot: Slot::Free { alloc: None, free: None },
                });
            }
            // A zeroed frame has no buffer until a non-zero byte is written (it reads as zeros):
            // pre-populating a device with zeros costs no host memory.
            let data = (!zeroed).then(|| self.bufs.alloc(POISON));
            let e = &mut self.slots[i];
            e.gen = e.gen.wrapping_add(1);
            e.slot = Slot::Live(Frame {
                head,
                order,
                data,
                written: (!zeroed).then(|| vec![0u64; PAGE_SIZE / 64].into_boxed_slice()),
                refcount: 1,
                index: 0,
                zone,
                kmaps: 0,
                alloc: who.clone(),
            });
            if pfn == head {
                head_gen = e.gen;
            }
        }
        self.in_use += 1u64 << order;
        Page { pfn: head, gen: head_gen }
    }

    /// Frees an allocation (the head's frames), keeping tombstones for reports.
    pub(crate) fn release(&mut self, head: u64, order: u32, who: Arc<Who>) {
        let mut zone = Zone::Normal;
        for pfn in head..head + (1u64 << order) {
            if let Some(e) = self.entry_mut(pfn) {
                let old = std::mem::replace(&mut e.slot, Slot::Free { alloc: None, free: Some(who.clone()) });
                if let Slot::Live(f) = old {
                    zone = f.zone;
                    e.slot = Slot::Free { alloc: Some(f.alloc), free: Some(who.clone()) };
                    if let Some(d) = f.data {
                        self.bufs.release(d);
                    }
                }
            }
        }
        self.in_use -= 1u64 << order;
        self.free.entry((zone, order)).or_default().push(head);
    }

    /// Every live allocation head (for the leak check), in pfn order.
    pub(crate) fn live_heads(&self) -> Vec<(u64, u32, Arc<Who>)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match &e.slot {
                Slot::Live(f) if f.head == BASE_PFN + i as u64 => Some((f.head, f.order, f.alloc.clone())),
                _ => None,
            })
            .collect()
    }
}
