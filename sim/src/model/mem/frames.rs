//! The host memory behind simulated page frames: page-aligned 4 KiB buffers carved from 2 MiB
//! chunks, so that frames are laid out as physical memory is. The layout matters for speed as
//! much as for fidelity: the host's `memcpy` of a page runs at about twice the bandwidth when
//! source and destination share their alignment within a cache line (measured on this project's
//! 2-core AMD EPYC machine: 24 GB/s page-aligned, 10-13 GB/s when one side is 16 bytes off),
//! and separately allocated heap buffers are 16 bytes off a page boundary, or not, by accident.
//!
//! Buffers are recycled last-freed first and are returned to the host only with the execution's
//! ledger: a run holds at most its peak of non-zero pages.

use crate::defs::mm_types::PAGE_SIZE;

/// One page of host memory, page-aligned.
#[repr(C, align(4096))]
pub(crate) struct PageBytes(pub [u8; PAGE_SIZE]);

/// Pages per chunk (2 MiB).
const CHUNK_PAGES: usize = 512;

/// Names one buffer of a [`PageBufs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BufId(u32);

impl BufId {
    fn split(self) -> (usize, usize) {
        let i = self.0 as usize;
        (i / CHUNK_PAGES, i % CHUNK_PAGES)
    }
}

/// The buffers of one execution's frames.
#[derive(Default)]
pub(crate) struct PageBufs {
    /// Each reserved with room for [`CHUNK_PAGES`] pages and filled as pages are first needed
    /// (so a chunk never reallocates, and untouched room costs no host memory).
    chunks: Vec<Vec<PageBytes>>,
    free: Vec<BufId>,
    /// Chunk start addresses, sorted, with their chunk index: a host pointer's buffer in a
    /// binary search over chunks, not over pages.
    bases: Vec<(usize, u32)>,
    /// Per buffer, `pfn + 1` of the frame whose buffer was handed to foreign code as a host
    /// pointer (`ffi::host_ptr`), 0 if none: what `ffi::kaddr_of` maps a pointer back through.
    exported: Vec<u64>,
}

impl PageBufs {
    /// A buffer holding `fill` in every byte.
    pub(crate) fn alloc(&mut self, fill: u8) -> BufId {
        match self.free.pop() {
            Some(id) => {
                self.get_mut(id).fill(fill);
                id
            }
            None => self.add(fill),
        }
    }

    /// A buffer whose bytes the caller overwrites entirely: a reused one keeps its old bytes
    /// (no fill just to be overwritten), a new one holds `fill`.
    pub(crate) fn alloc_dirty(&mut self, fill: u8) -> BufId {
        self.free.pop().unwrap_or_else(|| self.add(fill))
    }

    /// A new buffer holding `fill`, at the end of the last chunk (or of a new one).
    fn add(&mut self, fill: u8) -> BufId {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK_PAGES) {
            let chunk: Vec<PageBytes> = Vec::with_capacity(CHUNK_PAGES);
            let base = chunk.as_ptr() as usize;
            let at = self.bases.partition_point(|&(b, _)| b < base);
            self.bases.insert(at, (base, self.chunks.len() as u32));
            self.chunks.push(chunk);
        }
        let c = self.chunks.len() - 1;
        let chunk = &mut self.chunks[c];
        chunk.push(PageBytes([fill; PAGE_SIZE]));
        BufId((c * CHUNK_PAGES + chunk.len() - 1) as u32)
    }

    /// Returns a buffer for reuse.
    pub(crate) fn release(&mut self, id: BufId) {
        if let Some(e) = self.exported.get_mut(id.0 as usize) {
            *e = 0;
        }
        self.free.push(id);
    }

    /// Records that buffer `id`, frame `pfn`'s, was handed out as a host pointer.
    pub(crate) fn export(&mut self, id: BufId, pfn: u64) {
        let i = id.0 as usize;
        if self.exported.len() <= i {
            self.exported.resize(i + 1, 0);
        }
        self.exported[i] = pfn + 1;
    }

    /// The frame and buffer start of host pointer `ptr`, if it falls in an exported buffer.
    pub(crate) fn exported_at(&self, ptr: usize) -> Option<(u64, usize)> {
        let k = self.bases.partition_point(|&(b, _)| b <= ptr).checked_sub(1)?;
        let (base, c) = self.bases[k];
        let i = (ptr - base) / PAGE_SIZE;
        if i >= self.chunks[c as usize].len() {
            return None;
        }
        let id = c as usize * CHUNK_PAGES + i;
        match self.exported.get(id) {
            Some(&e) if e != 0 => Some((e - 1, base + i * PAGE_SIZE)),
            _ => None,
        }
    }

    pub(crate) fn get(&self, id: BufId) -> &[u8; PAGE_SIZE] {
        let (c, i) = id.split();
        &self.chunks[c][i].0
    }

    pub(crate) fn get_mut(&mut self, id: BufId) -> &mut [u8; PAGE_SIZE] {
        let (c, i) = id.split();
        &mut self.chunks[c][i].0
    }

    /// Two different buffers, the first to read and the second to write.
    pub(crate) fn pair(&mut self, src: BufId, dst: BufId) -> (&[u8; PAGE_SIZE], &mut [u8; PAGE_SIZE]) {
        assert_ne!(src, dst, "ksim: a buffer paired with itself");
        let ((sc, si), (dc, di)) = (src.split(), dst.split());
        if sc == dc {
            let chunk = &mut self.chunks[sc];
            if si < di {
                let (a, b) = chunk.split_at_mut(di);
                (&a[si].0, &mut b[0].0)
            } else {
                let (a, b) = chunk.split_at_mut(si);
                (&b[0].0, &mut a[di].0)
            }
        } else if sc < dc {
            let (a, b) = self.chunks.split_at_mut(dc);
            (&a[sc][si].0, &mut b[0][di].0)
        } else {
            let (a, b) = self.chunks.split_at_mut(sc);
            (&b[0][si].0, &mut a[dc][di].0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_page_aligned_recycled_and_disjoint() {
        let mut b = PageBufs::default();
        let ids: Vec<BufId> = (0..CHUNK_PAGES + 3).map(|i| b.alloc(i as u8)).collect();
        for (i, &id) in ids.iter().enumerate() {
            assert_eq!(b.get(id).as_ptr() as usize % PAGE_SIZE, 0);
            assert!(b.get(id).iter().all(|&x| x == i as u8));
        }
        // Across chunks and within one, in both orders.
        for (s, d) in [(0, CHUNK_PAGES + 1), (CHUNK_PAGES + 2, 1), (3, 2), (4, 5)] {
            let (src, dst) = b.pair(ids[s], ids[d]);
            dst.copy_from_slice(src);
            assert!(b.get(ids[d]).iter().all(|&x| x == s as u8));
        }
        b.release(ids[5]);
        let again = b.alloc(0xee);
        assert_eq!(again, ids[5], "last freed, first reused");
        assert!(b.get(again).iter().all(|&x| x == 0xee));
        let fresh = b.alloc_dirty(7);
        assert_eq!(fresh, BufId((CHUNK_PAGES + 3) as u32));
        assert!(b.get(fresh).iter().all(|&x| x == 7), "a new buffer holds the fill");
    }
}
