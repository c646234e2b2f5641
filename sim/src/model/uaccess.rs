//! A simulated user address space: the mappings of the process the run's tasks act for, each
//! page present or not (swapped out, never touched), and the fault path of a user access. A
//! fault on a present mapping is handled — it may sleep (a scheduling point) — unless page
//! faults cannot be handled here (`faulthandler_disabled()`: 4.0's `in_atomic()`, modern
//! `pagefault_disabled() || in_atomic()`), when the access stops and the copy returns what it
//! did not copy, as the kernel's exception fixup does. An address with no mapping stops it too.

use std::collections::BTreeMap;

use crate::defs::mm_types::PAGE_SIZE;

/// `TASK_SIZE` (x86-64, 4-level paging): user addresses lie below it.
pub(crate) const TASK_SIZE: u64 = 0x0000_7fff_ffff_f000;
/// Where the first mapping goes.
const MMAP_BASE: u64 = 0x0000_7f00_0000_0000;

struct Mapping {
    len: u64,
    data: Vec<u8>,
    present: Vec<bool>,
}

/// The mappings, by start address.
#[derive(Default)]
pub(crate) struct UserMm {
    maps: BTreeMap<u64, Mapping>,
    next: u64,
}

/// What a byte access found.
pub(crate) enum Access<'a> {
    /// The byte, mapped and present.
    Byte(&'a mut u8),
    /// Mapped but not present: a fault must bring it in first.
    NotPresent,
    /// No mapping: a bad address.
    Bad,
}

impl UserMm {
    /// `mmap(len)`: a new anonymous mapping, its pages present or not.
    pub(crate) fn map(&mut self, len: u64, present: bool) -> u64 {
        if self.next == 0 {
            self.next = MMAP_BASE;
        }
        let start = self.next;
        let pages = len.div_ceil(PAGE_SIZE as u64).max(1);
        self.next += (pages + 1) * PAGE_SIZE as u64; // a guard page between mappings
        self.maps.insert(
            start,
            Mapping { len, data: vec![0; len as usize], present: vec![present; pages as usize] },
        );
        start
    }

    /// `munmap`: the whole mapping at `start`.
    pub(crate) fn unmap(&mut self, start: u64) -> bool {
        self.maps.remove(&start).is_some()
    }

    pub(crate) fn byte(&mut self, addr: u64) -> Access<'_> {
        let Some((&start, m)) = self.maps.range_mut(..=addr).next_back() else { return Access::Bad };
        let off = addr - start;
        if off >= m.len {
            return Access::Bad;
        }
        if !m.present[(off / PAGE_SIZE as u64) as usize] {
            return Access::NotPresent;
        }
        Access::Byte(&mut m.data[off as usize])
    }

    /// The fault handler brings the page of `addr` in.
    pub(crate) fn fault_in(&mut self, addr: u64) {
        if let Some((&start, m)) = self.maps.range_mut(..=addr).next_back() {
            let page = ((addr - start) / PAGE_SIZE as u64) as usize;
            if let Some(p) = m.present.get_mut(page) {
                *p = true;
            }
        }
    }
}
