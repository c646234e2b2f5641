//! `include/linux/bio.h`, `include/linux/blk_types.h`: bios and their segments.

use smallvec::SmallVec;

use crate::defs::loc::Loc;

use crate::errno::Errno;
use crate::mm::Page;

use super::Sector;

/// The operation of a bio (`REQ_OP_*`; 4.0: the `rw` bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReqOp {
    /// `READ`.
    Read,
    /// `READA` (4.0 read-ahead; brd treats it as READ).
    ReadAhead,
    /// `WRITE`.
    Write,
    /// `REQ_DISCARD` / `REQ_OP_DISCARD`: data-less, `size` bytes from `sector`.
    Discard,
}

impl ReqOp {
    /// Whether the op moves data from memory to the device.
    pub fn is_write(self) -> bool {
        self == ReqOp::Write
    }
}

/// `struct bio_vec`: one segment, within one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BioVec {
    /// `bv_page`.
    pub page: Page,
    /// `bv_len` (at most `PAGE_SIZE - offset`).
    pub len: u32,
    /// `bv_offset`.
    pub offset: u32,
}

/// `struct bio`.
#[derive(Debug)]
pub struct Bio {
    /// The op.
    pub op: ReqOp,
    /// `REQ_NOWAIT`: the submitter must not block; the driver ends the bio with `-EAGAIN`
    /// (`bio_wouldblock_error`) instead.
    pub nowait: bool,
    /// `bi_iter.bi_sector` (the partition's sector until `submit_bio` remaps it).
    pub sector: Sector,
    /// Data segments (none for a discard); up to [`BIO_INLINE_VECS`] inline in the bio, as
    /// `bio_alloc()` places them (`bi_inline_vecs`), without a separate allocation.
    pub vecs: SmallVec<[BioVec; BIO_INLINE_VECS]>,
    /// Bytes of a data-less bio (discard).
    pub discard_bytes: u64,
    /// Completion status, set once by `bio_endio`.
    pub status: Option<Result<(), Errno>>,
}

/// `BIO_INLINE_VECS`: segments a bio holds without a separate bvec allocation.
pub const BIO_INLINE_VECS: usize = 4;

impl Bio {
    /// A read or write bio at `sector`.
    pub fn new(op: ReqOp, sector: Sector) -> Bio {
        Bio { op, nowait: false, sector, vecs: SmallVec::new(), discard_bytes: 0, status: None }
    }

    /// A discard of `bytes` at `sector`.
    pub fn discard(sector: Sector, bytes: u64) -> Bio {
        Bio { discard_bytes: bytes, ..Bio::new(ReqOp::Discard, sector) }
    }

    /// `bio_add_page(bio, page, len, offset)`. A segment crossing its page is a caller bug
    /// (`BUG()`).
    #[track_caller]
    pub fn add_page(&mut self, page: Page, len: u32, offset: u32) -> &mut Self {
        if offset as usize + len as usize > crate::mm::PAGE_SIZE {
            crate::sched::bug();
        }
        self.vecs.push(BioVec { page, len, offset });
        self
    }

    /// `bio->bi_iter.bi_size`.
    pub fn size(&self) -> u64 {
        if self.op == ReqOp::Discard {
            self.discard_bytes
        } else {
            self.vecs.iter().map(|v| v.len as u64).sum()
        }
    }

    /// `bio_end_sector(bio)`.
    pub fn end_sector(&self) -> Sector {
        self.sector + (self.size() >> super::SECTOR_SHIFT)
    }

    /// `bio_for_each_segment`: the segments in order.
    pub fn segments(&self) -> impl Iterator<Item = BioVec> + '_ {
        self.vecs.iter().copied()
    }
}

/// `bio_endio(bio, error)` (4.0's two-argument form): completes the bio. A bio must be ended
/// exactly once; a second end is a driver bug (BUG).
#[track_caller]
pub fn bio_endio(bio: &mut Bio, error: Option<Errno>) {
    bio_endio_at(Loc::caller(), bio, error)
}

/// [`bio_endio`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn bio_endio_at(at: Loc, bio: &mut Bio, error: Option<Errno>) {
    if bio.status.is_some() {
        crate::sched::bug_at(at);
    }
    bio.status = Some(error.map_or(Ok(()), Err));
}

/// `bio_wouldblock_error(bio)`: ends a `REQ_NOWAIT` bio with `-EAGAIN`.
#[track_caller]
pub fn bio_wouldblock_error(bio: &mut Bio) {
    bio_endio(bio, Some(Errno::EAGAIN));
}
