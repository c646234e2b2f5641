//! `drivers/block/brd.c` as of 2025 (torvalds/linux, facts §2.3-2.5 "B-NOW"): the RAM block
//! device re-expressed against ksim's simulated kernel API (written fresh from the facts file,
//! function by function in the kernel's order and with the kernel's names).
//!
//! What distinguishes today's driver from 6.1:
//!
//! - pages live in an **XArray** (`786bb0245881`, v6.5), whose own `xa_lock` serialises
//!   writers; `__xa_cmpxchg()` drops that lock around a blocking node allocation
//!   (`__xas_nomem`), so no preload and no caller-side lock is needed;
//! - **page references** ("brd: use page reference to protect page lifetime", 2025): the
//!   array holds one reference per page; a lookup takes its own under RCU with
//!   `get_page_unless_zero()` and re-checks the slot (retrying if the page was replaced), and
//!   every user drops it with `put_page()` when done — so a page discarded under a reader
//!   stays valid until the reader lets go;
//! - **discard frees memory** (`9ead7efc6f3f`, v6.10): whole pages inside the range are erased
//!   and put, `brd_nr_pages` drops (`82734209bedd`), the unaligned head and tail are left alone;
//! - the copy is capped at one brd page per step and uses `kmap_local` (`bvec_kmap_local`,
//!   `memcpy_to_page`/`memcpy_from_page`): there is **no preempt-disabled region** any more;
//! - `REQ_NOWAIT` → `GFP_NOWAIT` and `-EAGAIN` (`BLK_FEAT_NOWAIT`); no `->rw_page` (removed in
//!   v6.4), no ioctl, no DAX.
//!
//! Written from the facts file's description of the 2025 driver, not from its source. Details
//! that description leaves open and this file chooses (unverified): `brd_insert_page()` is
//! called outside RCU (the lookup takes and drops the RCU lock itself) and no longer records
//! `page->index`; `brd_free_pages()` is `xa_for_each` + `put_page` + `cond_resched()` then
//! `xa_destroy()` (the v6.5 shape with `put_page` for `__free_page`); `GFP_NOWAIT` includes
//! `__GFP_NOWARN` (see [`gfp_nowait`]). Not modelled: `kzalloc`, debugfs, `pr_info`, queue
//! limits other than NOWAIT, the on-demand `brd_probe`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ksim::blk::{bio_endio, bio_wouldblock_error, Bdev, Bio, BioVec, BlockDriver, Gendisk, ReqOp};
use ksim::blk::{Sector, PAGE_SECTORS, PAGE_SECTORS_SHIFT, SECTOR_SHIFT};
use ksim::errno::Errno;
use ksim::gfp::{Gfp, __GFP_HIGHMEM, __GFP_NOWARN, __GFP_ZERO, GFP_NOIO};
use ksim::highmem::{kmap_local_page, kunmap_local};
use ksim::kfn;
use ksim::mm::PAGE_SIZE;
use ksim::mm::{alloc_page, get_page, get_page_unless_zero, memcpy, memset, put_page, KAddr, Page};
use ksim::rcupdate::{rcu_read_lock, rcu_read_unlock};
use ksim::sched::{bug, cond_resched};
use ksim::xarray::{__xa_cmpxchg, __xa_erase, xa_find_from, xa_load, xa_lock, xa_unlock, XArray};

/// `RAMDISK_MAJOR` (`include/uapi/linux/major.h`).
pub const RAMDISK_MAJOR: u32 = 1;
/// `CONFIG_BLK_DEV_RAM_COUNT`'s default: the default `rd_nr`.
pub const CONFIG_BLK_DEV_RAM_COUNT: i32 = 16;
/// `CONFIG_BLK_DEV_RAM_SIZE`'s default in KiB: the default `rd_size`.
pub const CONFIG_BLK_DEV_RAM_SIZE: u64 = 4096;
/// `MINORBITS` (`include/linux/kdev_t.h`).
const MINORBITS: u32 = 20;
/// `DISK_MAX_PARTS` (`include/linux/blkdev.h`).
const DISK_MAX_PARTS: i32 = 256;

/// `GFP_NOWAIT` as the 2025 kernel defines it: `__GFP_KSWAPD_RECLAIM | __GFP_NOWARN` (Willy's
/// 2023-11 "gfp: Include __GFP_NOWARN in GFP_NOWAIT"; ksim's `gfp::GFP_NOWAIT` is the
/// v4.4-6.6 value without `__GFP_NOWARN`). A function because `Gfp`'s `|` is not `const`.
pub fn gfp_nowait() -> Gfp {
    ksim::gfp::GFP_NOWAIT | __GFP_NOWARN
}

/// The module parameters with the kernel's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// `rd_nr` (int, 0444): "Maximum number of brd devices" — how many are created at load.
    pub rd_nr: i32,
    /// `rd_size` (unsigned long, 0444): "Size of each RAM disk in kbytes."; capacity is
    /// `rd_size * 2` sectors.
    pub rd_size: u64,
    /// `max_part` (int, 0444): "Num Minors to reserve between devices"; normalised by
    /// `brd_check_and_reset_par()`.
    pub max_part: i32,
}

impl Default for Params {
    /// `rd_nr = CONFIG_BLK_DEV_RAM_COUNT (16)`, `rd_size = CONFIG_BLK_DEV_RAM_SIZE (4096 KiB)`,
    /// `max_part = 1`.
    fn default() -> Self {
        Params { rd_nr: CONFIG_BLK_DEV_RAM_COUNT, rd_size: CONFIG_BLK_DEV_RAM_SIZE, max_part: 1 }
    }
}

/// `blk_opf_t` as brd reads it: the operation and the `REQ_NOWAIT` flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Opf {
    op: ReqOp,
    nowait: bool,
}

impl Opf {
    /// `op_is_write(opf)`.
    fn is_write(self) -> bool {
        self.op.is_write()
    }
}

/// `struct brd_device`: one RAM disk, its pages in an XArray indexed by page number.
struct BrdDevice {
    /// `brd_number`.
    brd_number: i32,
    /// `brd_pages`: the XArray; its `xa_lock` (lockdep class `&brd->brd_pages`) serialises
    /// stores and erases, lookups run under RCU. Holds one reference on every page it stores.
    brd_pages: XArray<Page>,
    /// `brd_nr_pages`: pages stored (debugfs `ramdisk_pages/ramN`); written under `xa_lock`,
    /// read without it.
    brd_nr_pages: AtomicU64,
    /// `rd_size` (KiB) at load: discard stops at `rd_size * 2` sectors.
    rd_size: u64,
}

/// `struct bvec_iter` over a bio's segments: the current sector, segment and bytes of it done.
#[derive(Clone, Copy, Debug)]
struct BvecIter {
    /// `bi_sector`.
    sector: Sector,
    /// `bi_idx`.
    idx: usize,
    /// `bi_bvec_done`.
    done: u32,
}

impl BvecIter {
    /// `bio->bi_iter` at submission.
    fn new(bio: &Bio) -> BvecIter {
        let mut it = BvecIter { sector: bio.sector, idx: 0, done: 0 };
        it.skip_empty(bio);
        it
    }

    fn skip_empty(&mut self, bio: &Bio) {
        while self.idx < bio.vecs.len() && bio.vecs[self.idx].len == self.done {
            self.idx += 1;
            self.done = 0;
        }
    }

    /// `bio->bi_iter.bi_size != 0`.
    fn has_more(&self, bio: &Bio) -> bool {
        self.idx < bio.vecs.len()
    }

    /// `bio_iter_iovec(bio, iter)`: the rest of the current segment.
    fn iovec(&self, bio: &Bio) -> BioVec {
        let bv = bio.vecs[self.idx];
        BioVec { page: bv.page, offset: bv.offset + self.done, len: bv.len - self.done }
    }

    /// `bio_advance_iter_single(bio, iter, bytes)`.
    fn advance(&mut self, bio: &Bio, bytes: u32) {
        self.sector += u64::from(bytes) >> SECTOR_SHIFT;
        self.done += bytes;
        self.skip_empty(bio);
    }
}

/// `bio_io_error(bio)` (`include/linux/bio.h`): ends the bio with `BLK_STS_IOERR` (`-EIO`).
#[track_caller]
fn bio_io_error(bio: &mut Bio) {
    bio_endio(bio, Some(Errno::EIO));
}

/// `memcpy_to_page(page, offset, from, len)` (`include/linux/highmem.h`) with `from` a kernel
/// address, as the kernel's takes it: `kmap_local_page()`, `memcpy()`, `kunmap_local()`. (ksim's
/// own `memcpy_to_page` takes a host buffer, for tests.)
#[track_caller]
fn memcpy_to_page(page: Page, offset: usize, from: KAddr, len: usize) {
    let to = kmap_local_page(page);
    memcpy(to.add(offset), from, len);
    kunmap_local(to);
}

/// `memcpy_from_page(to, page, offset, len)` with `to` a kernel address (see
/// [`memcpy_to_page`]).
#[track_caller]
fn memcpy_from_page(to: KAddr, page: Page, offset: usize, len: usize) {
    let from = kmap_local_page(page);
    memcpy(to, from.add(offset), len);
    kunmap_local(from);
}

/// `offset = (sector & (PAGE_SECTORS-1)) << SECTOR_SHIFT`: the byte offset of `sector` inside
/// its brd page.
fn page_offset(sector: Sector) -> usize {
    ((sector & (PAGE_SECTORS - 1)) << SECTOR_SHIFT) as usize
}

/// `xa_destroy(xa)`: empties the array (ksim's xarray has no `xa_destroy`; this erases every
/// entry under `xa_lock`, which is what it amounts to). The entries' references must already
/// have been dropped.
fn xa_destroy(xa: &XArray<Page>) {
    let all = xa_find_from(xa, 0, usize::MAX);
    let mut g = xa_lock(xa);
    for (idx, _) in all {
        __xa_erase(&mut g, idx);
    }
    xa_unlock(g);
}

impl BrdDevice {
    /// C: brd_lookup_page() — drivers/block/brd.c current (2025)
    ///
    /// Looks up the page backing `sector` and returns it **with a reference taken**, or `None`
    /// if it is absent. Under RCU: load the slot, `get_page_unless_zero()` (a page whose count
    /// already dropped to zero is being freed: reload), then re-load the slot and, if it no
    /// longer holds this page (discarded, or the frame was reused), `put_page()` and retry.
    ///
    /// # Context
    /// Any; never sleeps, never allocates. The caller must `put_page()` the result.
    fn brd_lookup_page(&self, sector: Sector) -> Option<Page> {
        kfn!("brd_lookup_page");
        let idx = sector >> PAGE_SECTORS_SHIFT;
        rcu_read_lock();
        let page = loop {
            let Some(page) = xa_load(&self.brd_pages, idx) else {
                break None;
            };
            if !get_page_unless_zero(page) {
                continue;
            }
            if xa_load(&self.brd_pages, idx) != Some(page) {
                put_page(page);
                continue;
            }
            break Some(page);
        };
        rcu_read_unlock();
        page
    }

    /// C: brd_insert_page() — drivers/block/brd.c current (2025)
    ///
    /// Allocates a zeroed page for `sector` and stores it if the slot is still empty; returns
    /// the page in the slot **with a reference for the caller**. `gfp` is `GFP_NOWAIT` for a
    /// `REQ_NOWAIT` bio, else `GFP_NOIO`. Win: `brd_nr_pages++`, and the array keeps the
    /// allocation's reference while `get_page()` gives the caller its own. Lose (another
    /// writer stored first): take a reference on the winner, drop ours (freeing it). XArray
    /// error (no node): drop ours, `-ENOMEM`. Allocation failure: `-ENOMEM`.
    ///
    /// # Context
    /// Process context. The page is allocated with `gfp | __GFP_ZERO | __GFP_HIGHMEM` outside
    /// any lock (sleeps if `gfp` blocks); `__xa_cmpxchg()` runs under `xa_lock` and, for a
    /// blocking `gfp`, drops that lock around a node allocation — with `GFP_NOWAIT` the node is
    /// allocated atomically under it.
    fn brd_insert_page(&self, sector: Sector, opf: Opf) -> Result<Page, Errno> {
        kfn!("brd_insert_page");
        let gfp = if opf.nowait { gfp_nowait() } else { GFP_NOIO };

        let Some(page) = alloc_page(gfp | __GFP_ZERO | __GFP_HIGHMEM) else {
            return Err(Errno::ENOMEM);
        };

        let mut xa = xa_lock(&self.brd_pages);
        match __xa_cmpxchg(&mut xa, sector >> PAGE_SECTORS_SHIFT, None, Some(page), gfp) {
            Ok(None) => {
                self.brd_nr_pages.fetch_add(1, Ordering::Relaxed);
                get_page(page);
                xa_unlock(xa);
                Ok(page)
            }
            Ok(Some(winner)) => {
                get_page(winner);
                xa_unlock(xa);
                put_page(page);
                Ok(winner)
            }
            Err(err) => {
                xa_unlock(xa);
                put_page(page);
                Err(err)
            }
        }
    }

    /// C: brd_rw_bvec() — drivers/block/brd.c current (2025)
    ///
    /// Transfers the next piece of the bio — the rest of the current segment, capped at the end
    /// of the brd page (`min(bv_len, PAGE_SIZE - offset)`), so each step touches one brd page —
    /// and advances the iterator. A write to an absent page inserts it; a read of an absent
    /// page yields zeros without allocating. Returns `false` after ending the bio on error
    /// (`-ENOMEM` with `REQ_NOWAIT` → `-EAGAIN`, else `-EIO`).
    ///
    /// # Context
    /// Process context; sleeps only in `brd_insert_page()` (blocking GFP, absent page). The
    /// copy uses `bvec_kmap_local()` and `memcpy_to_page`/`memcpy_from_page` (kmap_local):
    /// preemptible, no atomic section. The page reference from lookup/insert is dropped after
    /// the copy.
    fn brd_rw_bvec(&self, bio: &mut Bio, iter: &mut BvecIter) -> bool {
        kfn!("brd_rw_bvec");
        let mut bv = iter.iovec(bio);
        let sector = iter.sector;
        let offset = page_offset(sector);
        let opf = Opf { op: bio.op, nowait: bio.nowait };

        bv.len = bv.len.min((PAGE_SIZE - offset) as u32);
        let len = bv.len as usize;

        let mut page = self.brd_lookup_page(sector);
        if page.is_none() && opf.is_write() {
            match self.brd_insert_page(sector, opf) {
                Ok(p) => page = Some(p),
                Err(err) => {
                    if err == Errno::ENOMEM && opf.nowait {
                        bio_wouldblock_error(bio);
                    } else {
                        bio_io_error(bio);
                    }
                    return false;
                }
            }
        }

        // bvec_kmap_local(&bv)
        let map = kmap_local_page(bv.page);
        let kaddr = map.add(bv.offset as usize);
        match (opf.is_write(), page) {
            (true, Some(page)) => memcpy_to_page(page, offset, kaddr, len),
            (false, Some(page)) => memcpy_from_page(kaddr, page, offset, len),
            (false, None) => memset(kaddr, 0, len),
            // A write always has a page by now.
            (true, None) => bug(),
        }
        kunmap_local(map);

        iter.advance(bio, bv.len);
        if let Some(page) = page {
            put_page(page);
        }
        true
    }

    /// C: brd_do_discard() — drivers/block/brd.c current (2025)
    ///
    /// Frees the whole brd pages inside `size` bytes at `sector`: the start is rounded up and
    /// the end down to `PAGE_SECTORS`, so the unaligned head and tail keep their data; the walk
    /// stops at the device size (`rd_size * 2`). Each present page is erased from the array,
    /// its reference put (the page is freed unless a reader still holds one) and
    /// `brd_nr_pages` decremented. Reads of a discarded page return zeros ("Aligned discards
    /// will free the associated pages, if any, and deterministically return zeroed data").
    ///
    /// # Context
    /// Process context; all under `xa_lock` (atomic), which is fine: erase and `put_page` do
    /// not sleep.
    fn brd_do_discard(&self, sector: Sector, size: u64) {
        kfn!("brd_do_discard");
        let aligned_sector = sector.next_multiple_of(PAGE_SECTORS);
        let aligned_end = (sector + (size >> SECTOR_SHIFT)) / PAGE_SECTORS * PAGE_SECTORS;

        if aligned_end <= aligned_sector {
            return;
        }

        let mut xa = xa_lock(&self.brd_pages);
        let mut s = aligned_sector;
        while s < aligned_end && s < self.rd_size * 2 {
            if let Some(page) = __xa_erase(&mut xa, s >> PAGE_SECTORS_SHIFT) {
                put_page(page);
                self.brd_nr_pages.fetch_sub(1, Ordering::Relaxed);
            }
            s += PAGE_SECTORS;
        }
        xa_unlock(xa);
    }

    /// C: brd_submit_bio() — drivers/block/brd.c current (2025)
    ///
    /// A discard goes to `brd_do_discard()` and always succeeds; a read or write is processed
    /// one brd page at a time by `brd_rw_bvec()`, which ends the bio itself on error (earlier
    /// pieces stay written). (The kernel's `do { } while (bi_size)` is a `while` here so an
    /// empty bio ends at once.)
    ///
    /// # Context
    /// Process context (`->submit_bio`, inside the block I/O path); never sleeps for
    /// `REQ_NOWAIT`.
    fn brd_submit_bio(&self, bio: &mut Bio) {
        kfn!("brd_submit_bio");
        if bio.op == ReqOp::Discard {
            self.brd_do_discard(bio.sector, bio.size());
            bio_endio(bio, None);
            return;
        }

        let mut iter = BvecIter::new(bio);
        while iter.has_more(bio) {
            if !self.brd_rw_bvec(bio, &mut iter) {
                return;
            }
        }
        bio_endio(bio, None);
    }

    /// C: brd_free_pages() — drivers/block/brd.c current (2025)
    ///
    /// Drops the array's reference on every page (`xa_for_each` + `put_page`), with
    /// `cond_resched()` after each — the loop body runs without the RCU lock — then destroys
    /// the array.
    ///
    /// # Context
    /// Process context; may sleep. Only when the device has no other users.
    fn brd_free_pages(&self) {
        kfn!("brd_free_pages");
        let mut pos = 0;
        while let Some(&(idx, page)) = xa_find_from(&self.brd_pages, pos, 1).first() {
            put_page(page);
            cond_resched();
            pos = idx + 1;
        }
        xa_destroy(&self.brd_pages);
    }
}

/// `brd_fops` (`.submit_bio = brd_submit_bio`; no `->rw_page`, `->ioctl` or DAX) and the queue
/// limits: `BLK_FEAT_SYNCHRONOUS | BLK_FEAT_NOWAIT`, discard of up to `UINT_MAX` sectors, one
/// segment, `PAGE_SIZE` granularity (ksim's queue does not model limits; discard is handled by
/// the driver).
impl BlockDriver for BrdDevice {
    fn submit_bio(&self, bio: &mut Bio) {
        self.brd_submit_bio(bio);
    }

    /// `BLK_FEAT_NOWAIT`.
    fn supports_nowait(&self) -> bool {
        true
    }

    /// `max_hw_discard_sectors = UINT_MAX` (discard support re-added in v6.10).
    fn supports_discard(&self) -> bool {
        true
    }
}

/// The loaded module: its devices (`brd_devices`) and the effective parameters.
pub struct Brd {
    params: Params,
    devices: Vec<(Arc<BrdDevice>, Arc<Gendisk>)>,
}

impl Brd {
    /// Opens `ram{i}` (the whole disk): `-ENXIO` if no such device was created (the on-demand
    /// `brd_probe` path is not modelled).
    ///
    /// # Context
    /// Process context.
    pub fn open(&self, i: usize) -> Result<Bdev, Errno> {
        let (_, disk) = self.devices.get(i).ok_or(Errno::ENXIO)?;
        Bdev::open(disk, 0)
    }

    /// `brd_nr_pages` of `ram{i}` — what debugfs `ramdisk_pages/ram{i}` shows. Panics if there
    /// is no such device.
    pub fn nr_pages(&self, i: usize) -> u64 {
        let (dev, _) = self.devices.get(i).unwrap_or_else(|| panic!("brd: no device ram{i}"));
        dev.brd_nr_pages.load(Ordering::Relaxed)
    }

    /// The gendisk of `ram{i}`, if it exists.
    pub fn disk(&self, i: usize) -> Option<Arc<Gendisk>> {
        self.devices.get(i).map(|(_, d)| d.clone())
    }

    /// How many devices exist.
    pub fn nr_devices(&self) -> usize {
        self.devices.len()
    }

    /// The parameters in effect (after `brd_check_and_reset_par()`).
    pub fn params(&self) -> &Params {
        &self.params
    }
}

/// `fls(x)`: the 1-based index of the most significant set bit, 0 for 0.
fn fls(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// C: brd_check_and_reset_par() — drivers/block/brd.c current (2025)
///
/// Normalises `max_part`: 0 becomes 1; a value that does not divide `1 << MINORBITS` is rounded
/// up to a power of two (`1UL << fls(max_part)`, truncated to `int` as in C); above
/// `DISK_MAX_PARTS` it is clamped.
///
/// # Context
/// Module init.
fn brd_check_and_reset_par(max_part: i32) -> i32 {
    kfn!("brd_check_and_reset_par");
    let mut max_part = max_part;
    if max_part == 0 {
        max_part = 1;
    }
    // The C compares `(1U << MINORBITS) % max_part` with `max_part` converted to unsigned.
    if (1u32 << MINORBITS) % (max_part as u32) != 0 {
        max_part = (1u64 << fls(max_part as u32)) as u32 as i32;
    }
    if max_part > DISK_MAX_PARTS {
        max_part = DISK_MAX_PARTS;
    }
    max_part
}

/// C: brd_alloc() — drivers/block/brd.c current (2025)
///
/// Creates device `i`: `-EEXIST` if it exists; the device with an empty XArray; the disk
/// `ram{i}` (major 1, `first_minor = i * max_part`, capacity `rd_size * 2` sectors), then
/// `add_disk`. (`kzalloc`, debugfs and the queue limits are not modelled.)
///
/// # Context
/// Module init; process context.
fn brd_alloc(brd: &mut Brd, i: i32) -> Result<(), Errno> {
    kfn!("brd_alloc");
    if brd.devices.iter().any(|(d, _)| d.brd_number == i) {
        return Err(Errno::EEXIST);
    }
    let dev = Arc::new(BrdDevice {
        brd_number: i,
        brd_pages: XArray::new("&brd->brd_pages"),
        brd_nr_pages: AtomicU64::new(0),
        rd_size: brd.params.rd_size,
    });
    let capacity = brd.params.rd_size * 2;
    let first_minor = (i as u32).wrapping_mul(brd.params.max_part as u32);
    let disk = Gendisk::new(format!("ram{i}"), RAMDISK_MAJOR, first_minor, capacity, dev.clone());
    brd.devices.push((dev, disk));
    Ok(())
}

/// C: brd_cleanup() — drivers/block/brd.c current (2025)
///
/// Deletes every device: `del_gendisk`, `put_disk`, `brd_free_pages`, unlink, free.
///
/// # Context
/// Process context; may sleep.
fn brd_cleanup(brd: Brd) {
    kfn!("brd_cleanup");
    for (dev, disk) in brd.devices {
        drop(disk);
        dev.brd_free_pages();
    }
}

/// C: brd_init() — drivers/block/brd.c current (2025)
///
/// Loads the module: normalises `max_part`, creates `rd_nr` devices `ram0..` (on failure all
/// are freed), registers the major (with the on-demand probe, not modelled).
///
/// # Context
/// Process context.
pub fn brd_init(params: Params) -> Result<Brd, Errno> {
    kfn!("brd_init");
    let max_part = brd_check_and_reset_par(params.max_part);
    let mut brd = Brd { params: Params { max_part, ..params }, devices: Vec::new() };
    for i in 0..brd.params.rd_nr {
        if let Err(err) = brd_alloc(&mut brd, i) {
            brd_cleanup(brd);
            return Err(err);
        }
    }
    Ok(brd)
}

/// C: brd_exit() — drivers/block/brd.c current (2025)
///
/// Unloads the module: `unregister_blkdev`, then `brd_cleanup()` — the array's reference on
/// every page is dropped, so with no user references left every page is freed.
///
/// # Context
/// Process context; may sleep. No device may be in use.
pub fn brd_exit(brd: Brd) {
    kfn!("brd_exit");
    brd_cleanup(brd);
}
