//! Workloads for scenarios: bios built from real pages (as a filesystem or `dd` would submit
//! them), and the shadow-model checks that end every scenario doing I/O.

use ksim::blk::{submit_bio, Bdev, Bio, ReqOp, Sector, SECTOR_SHIFT};
use ksim::check::expect;
use ksim::gfp::{__GFP_NOFAIL, GFP_KERNEL};
use ksim::highmem::page_address;
use ksim::mm::{__free_page, alloc_page, memcpy_from, memcpy_to, Page, PAGE_SIZE};
use ksim::Errno;

/// Bytes per bio (`max_hw_sectors` of brd is 512 KiB; 64 KiB keeps bios realistic and small).
const BIO_BYTES: usize = 64 * 1024;

/// A deterministic pattern: byte `i` of a buffer tagged `tag`.
pub fn pattern(tag: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| tag.wrapping_mul(31).wrapping_add((i % 251) as u8) | 1).collect()
}

/// A page of the submitter (a page-cache page, say). `__GFP_NOFAIL`: fault injection never
/// fails it, so only the driver's allocations are under test.
pub fn submitter_page() -> Page {
    alloc_page(GFP_KERNEL | __GFP_NOFAIL).expect("__GFP_NOFAIL")
}

/// Submitter pages holding `data`, allocated outside the I/O path.
fn data_pages(data: &[u8]) -> Vec<(Page, usize)> {
    data.chunks(PAGE_SIZE)
        .map(|c| {
            let p = submitter_page();
            memcpy_to(page_address(p).expect("lowmem"), c);
            (p, c.len())
        })
        .collect()
}

/// Reads or writes `data` at `sector` in 64 KiB bios (`REQ_NOWAIT` if `nowait`); the first error.
pub fn rw(bdev: &Bdev, sector: Sector, data: &mut [u8], write: bool, nowait: bool) -> Result<(), Errno> {
    let mut result = Ok(());
    let mut off = 0;
    while off < data.len() && result.is_ok() {
        let end = (off + BIO_BYTES).min(data.len());
        let chunk = &mut data[off..end];
        let pages = if write { data_pages(chunk) } else { data_pages(&vec![0u8; chunk.len()]) };
        let mut bio =
            Bio::new(if write { ReqOp::Write } else { ReqOp::Read }, sector + (off >> SECTOR_SHIFT) as u64);
        bio.nowait = nowait;
        for (p, len) in &pages {
            bio.add_page(*p, *len as u32, 0);
        }
        result = submit_bio(bdev, &mut bio);
        if !write && result.is_ok() {
            for (i, (p, len)) in pages.iter().enumerate() {
                memcpy_from(
                    &mut chunk[i * PAGE_SIZE..i * PAGE_SIZE + len],
                    page_address(*p).expect("lowmem"),
                );
            }
        }
        for (p, _) in pages {
            __free_page(p);
        }
        off = end;
    }
    result
}

/// A bio whose data pages are allocated up front, so it can be submitted where the submitter
/// must not allocate (under `non_block_start()`, or with fault injection armed).
pub struct Prepared {
    bio: Bio,
    pages: Vec<Page>,
}

impl Prepared {
    /// A write bio of `data` (at most 64 KiB) at `sector`.
    pub fn write(sector: Sector, data: &[u8], nowait: bool) -> Prepared {
        let pages = data_pages(data);
        let mut bio = Bio::new(ReqOp::Write, sector);
        bio.nowait = nowait;
        for (p, len) in &pages {
            bio.add_page(*p, *len as u32, 0);
        }
        Prepared { bio, pages: pages.into_iter().map(|(p, _)| p).collect() }
    }

    /// Submits it; the data pages stay allocated until `free`.
    pub fn submit(&mut self, bdev: &Bdev) -> Result<(), Errno> {
        self.bio.status = None;
        submit_bio(bdev, &mut self.bio)
    }

    /// Frees the data pages.
    pub fn free(self) {
        for p in self.pages {
            __free_page(p);
        }
    }
}

/// Writes `data` at `sector` in 64 KiB bios.
pub fn write(bdev: &Bdev, sector: Sector, data: &[u8]) -> Result<(), Errno> {
    rw(bdev, sector, &mut data.to_vec(), true, false)
}

/// Writes with `REQ_NOWAIT`.
pub fn write_nowait(bdev: &Bdev, sector: Sector, data: &[u8]) -> Result<(), Errno> {
    rw(bdev, sector, &mut data.to_vec(), true, true)
}

/// Reads `len` bytes at `sector`.
pub fn read(bdev: &Bdev, sector: Sector, len: usize) -> Result<Vec<u8>, Errno> {
    let mut v = vec![0u8; len];
    rw(bdev, sector, &mut v, false, false)?;
    Ok(v)
}

/// Discards `bytes` at `sector`.
pub fn discard(bdev: &Bdev, sector: Sector, bytes: u64) -> Result<(), Errno> {
    submit_bio(bdev, &mut Bio::discard(sector, bytes))
}

/// Writes zeros over the whole device: Dave Chinner's way to pre-populate brd so that
/// `direct_access` never allocates — "until you flush the backing store".
pub fn zero_fill(bdev: &Bdev) -> Result<(), Errno> {
    let bytes = (bdev.nr_sects() << SECTOR_SHIFT) as usize;
    write(bdev, 0, &vec![0u8; bytes])
}

/// Checks that reading `want.len()` bytes at `sector` gives `want`.
#[track_caller]
pub fn expect_read(bdev: &Bdev, sector: Sector, want: &[u8], what: &str) {
    match read(bdev, sector, want.len()) {
        Ok(got) => {
            let first_bad = got.iter().zip(want).position(|(a, b)| a != b);
            expect(first_bad.is_none(), || {
                let i = first_bad.unwrap_or(0);
                format!(
                    "{what}: byte {i} at sector {sector} reads {:#04x}, expected {:#04x}",
                    got[i], want[i]
                )
            });
        }
        Err(e) => expect(false, || format!("{what}: read at sector {sector} failed with {e}")),
    }
}
