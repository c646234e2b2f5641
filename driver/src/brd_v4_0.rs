//! `drivers/block/brd.c` as of Linux v4.0 / v4.1 (2015, `CONFIG_BLK_DEV_RAM_DAX` era): the RAM
//! disk of the linux-mm thread "direct_access() from atomic context" (facts §1).
//!
//! Written fresh against ksim's simulated kernel API, function by function in the kernel's order
//! and with the kernel's names; each function's `/// C:` line names what it re-expresses and its
//! doc states its context rules. Every function body starts with `kfn!` so reports carry the
//! simulated call trace (`alloc_page(...) <- brd_insert_page <- brd_direct_access`).
//!
//! The shape of the data: one [`BrdDevice`] per `ram<N>` disk with its own `brd_lock` and radix
//! tree of backing pages (`page->index` = page offset in the disk), and the module-global
//! `brd_mutex` shared by all devices (only the ioctl takes it). Backing pages are allocated on
//! first write (or first `direct_access`), never on read, and freed only by `BLKFLSBUF` or module
//! unload ([`brd_exit`]).
//!
//! Behaviours reproduced on purpose (facts checklist 1, 9-15): data-dependent sleeping in
//! `brd_insert_page` (a present page costs an RCU lookup, an absent one `alloc_page(GFP_NOIO)` +
//! `radix_tree_preload(GFP_NOIO)`), the `-EEXIST` insert race resolved under `brd_lock`, the
//! two-page split without rollback, zero-filled reads of absent pages, 4.0's zero-only discard
//! with its unaligned over-zeroing, `BLKFLSBUF` freeing every page without telling
//! `direct_access` users, and the DAX/highmem coupling.

use std::sync::Arc;

use ksim::blk::{
    bio_endio, Bdev, Bio, BlockDriver, Gendisk, ReqOp, Sector, BLKFLSBUF, PAGE_SECTORS, PAGE_SECTORS_SHIFT,
    SECTOR_SHIFT,
};
use ksim::errno::Errno;
use ksim::gfp::{Gfp, __GFP_HIGHMEM, __GFP_ZERO, GFP_ATOMIC, GFP_NOIO};
use ksim::highmem::{clear_highpage, kmap_atomic, kunmap_atomic, page_address};
use ksim::mm::{
    __free_page, alloc_page, memcpy, memset, page_index, page_to_pfn, set_page_index, KAddr, Page, PAGE_SIZE,
};
use ksim::mutex::{mutex_lock, mutex_unlock, Mutex};
use ksim::radix_tree::{radix_tree_preload, radix_tree_preload_end, RadixTreeRoot};
use ksim::rcupdate::{rcu_read_lock, rcu_read_unlock};
use ksim::spinlock::{spin_lock, spin_unlock, SpinLock};
use ksim::{bug_on, kfn};

/// `RAMDISK_MAJOR` (include/uapi/linux/major.h).
pub const RAMDISK_MAJOR: u32 = 1;
/// `FREE_BATCH`: pages `brd_free_pages` takes from the tree per gang lookup.
pub const FREE_BATCH: usize = 16;
/// `CONFIG_BLK_DEV_RAM_COUNT` default: `rd_nr`.
pub const CONFIG_BLK_DEV_RAM_COUNT: u32 = 16;
/// `CONFIG_BLK_DEV_RAM_SIZE` default: `rd_size` in KiB.
pub const CONFIG_BLK_DEV_RAM_SIZE: u64 = 4096;

/// 4.0's `discard_from_brd` reads `if (0) brd_free_page(...); else brd_zero_page(...);`: discard
/// never frees ("re-allocating the pages can result in writeback deadlocks under heavy load").
const DISCARD_FREES_PAGES: bool = false;

/// The module parameters (`modprobe brd rd_nr=.. rd_size=.. max_part=..`) plus the Kconfig
/// switch `CONFIG_BLK_DEV_RAM_DAX`, and two ksim mutation switches for scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// `rd_nr`: "Maximum number of brd devices" — how many `ram<N>` disks `brd_init` creates.
    pub rd_nr: u32,
    /// `rd_size`: size of each RAM disk in KiB (capacity `rd_size * 2` sectors).
    pub rd_size: u64,
    /// `max_part`: "Num Minors to reserve between devices"; 0 is reset to 1 by `brd_init`.
    pub max_part: u32,
    /// `CONFIG_BLK_DEV_RAM_DAX`: `->direct_access` exists and backing pages come from lowmem.
    /// Without it pages may be highmem (`__GFP_HIGHMEM`) and `->direct_access` is NULL.
    pub dax: bool,
    /// **ksim mutation, NOT kernel behaviour**: replaces `GFP_NOIO` in `brd_insert_page` (the page
    /// allocation and the radix-tree preload), e.g. with `GFP_KERNEL` for the reclaim-recursion
    /// scenario. `None`: the kernel's `GFP_NOIO`.
    pub insert_gfp: Option<Gfp>,
    /// **ksim mutation, NOT kernel behaviour**: add `__GFP_HIGHMEM` even with DAX on, so
    /// `brd_direct_access` can hand out a page with no kernel address (the dax-highmem scenario).
    pub force_highmem: bool,
}

impl Default for Params {
    /// The kernel's defaults: `rd_nr = 16`, `rd_size = 4096` KiB, `max_part = 1`, and
    /// `CONFIG_BLK_DEV_RAM_DAX` off (its Kconfig default is n; the 2015 thread's configuration
    /// sets `dax: true`); no mutations.
    fn default() -> Self {
        Params {
            rd_nr: CONFIG_BLK_DEV_RAM_COUNT,
            rd_size: CONFIG_BLK_DEV_RAM_SIZE,
            max_part: 1,
            dax: false,
            insert_gfp: None,
            force_highmem: false,
        }
    }
}

/// The request-queue limits `brd_alloc` sets (facts §1.7). ksim's block layer does not enforce
/// them; they are kept so tests and scenarios can read what the kernel advertised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// `blk_queue_max_hw_sectors(q, 1024)`: 512 KiB per bio.
    pub max_hw_sectors: u32,
    /// `blk_queue_bounce_limit(q, BLK_BOUNCE_ANY)`: bio pages may be highmem.
    pub bounce_any: bool,
    /// `blk_queue_physical_block_size(q, PAGE_SIZE)`: fdisk aligns partitions on 4k "because of
    /// direct_access API needing 4k alignment".
    pub physical_block_size: u32,
    /// `q->limits.discard_granularity = PAGE_SIZE`.
    pub discard_granularity: u32,
    /// `q->limits.max_discard_sectors = UINT_MAX`.
    pub max_discard_sectors: u32,
    /// `q->limits.discard_zeroes_data = 1`.
    pub discard_zeroes_data: bool,
}

/// `struct brd_device`: one RAM disk.
pub struct BrdDevice {
    /// `brd_number`.
    pub brd_number: u32,
    /// `get_capacity(brd->brd_disk)` as `brd_alloc` set it (`rd_size * 2` sectors). Kept here
    /// rather than as a pointer to the gendisk, which holds this device (no reference cycle).
    capacity: Sector,
    /// `spinlock_t brd_lock`: serialises inserts (and the dead-code `brd_free_page`).
    brd_lock: SpinLock<()>,
    /// `struct radix_tree_root brd_pages`, `INIT_RADIX_TREE(GFP_ATOMIC)`. A page's `->index` is
    /// its offset in PAGE_SIZE units; the tree is "in no way connected" to the page cache.
    brd_pages: RadixTreeRoot<Page>,
    /// The module-global `brd_mutex` (shared by every device; only the ioctl uses it).
    brd_mutex: Arc<Mutex<()>>,
    /// The request queue's limits.
    pub queue: QueueLimits,
    dax: bool,
    insert_gfp: Option<Gfp>,
    force_highmem: bool,
}

impl BrdDevice {
    /// Pages in the radix tree (the device's backing store).
    pub fn nr_pages(&self) -> usize {
        self.brd_pages.len()
    }

    /// Capacity in sectors.
    pub fn capacity(&self) -> Sector {
        self.capacity
    }

    /// `GFP_NOIO`, or the mutation's replacement.
    fn noio(&self) -> Gfp {
        self.insert_gfp.unwrap_or(GFP_NOIO)
    }
}

/// `memcpy(dst, src, n)` between two kernel addresses: ksim's kernel-to-kernel `memcpy`, which
/// checks the source as a read and then the destination as a write, as KASAN would.
#[track_caller]
fn memcpy_kk(dst: KAddr, src: KAddr, n: usize) {
    memcpy(dst, src, n);
}

/// `flush_dcache_page(page)`: a no-op on x86 (and in ksim).
fn flush_dcache_page(_page: Page) {}

/// C: brd_lookup_page() — drivers/block/brd.c v4.0
///
/// The backing page of `sector`, or `None` if it was never written. Lock-free: the radix lookup
/// runs under `rcu_read_lock()` (lookups are not documented as safe without it), and the page
/// cannot be deleted underneath because the caller has the device open. `BUG_ON` if the page
/// found is not indexed where it was found.
///
/// # Context
/// Any; never sleeps, never allocates.
pub fn brd_lookup_page(brd: &BrdDevice, sector: Sector) -> Option<Page> {
    kfn!("brd_lookup_page");
    rcu_read_lock();
    let idx = sector >> PAGE_SECTORS_SHIFT;
    let page = brd.brd_pages.lookup(idx);
    rcu_read_unlock();
    bug_on!(page.is_some_and(|p| page_index(p) != idx));
    page
}

/// C: brd_insert_page() — drivers/block/brd.c v4.0
///
/// The backing page of `sector`, allocating a zeroed one if absent: the only allocating
/// function. Order (facts §1.3): lookup (a hit returns at once, no allocation, no
/// `might_sleep`); `alloc_page(GFP_NOIO | __GFP_ZERO [| __GFP_HIGHMEM without DAX])` outside any
/// lock; `radix_tree_preload(GFP_NOIO)` (on failure the page is freed and `None` returned);
/// `spin_lock(brd_lock)`; `page->index = idx`; `radix_tree_insert` — if another inserter won
/// (`-EEXIST`) our page is freed *under the lock* and the winner's returned (`BUG_ON` if it is
/// missing or misindexed); `spin_unlock`; `radix_tree_preload_end()`.
///
/// # Context
/// Process context when the page is absent: may sleep (the allocation and the preload). When the
/// page is present: any context. Returns with the context it was entered with.
pub fn brd_insert_page(brd: &BrdDevice, sector: Sector) -> Option<Page> {
    kfn!("brd_insert_page");
    if let Some(page) = brd_lookup_page(brd, sector) {
        return Some(page);
    }

    // "Must use NOIO because we don't want to recurse back into the block or filesystem layers
    // from page reclaim." Highmem only without DAX: ->direct_access must return memory that is
    // always addressable.
    let mut gfp_flags = brd.noio() | __GFP_ZERO;
    if !brd.dax || brd.force_highmem {
        gfp_flags |= __GFP_HIGHMEM;
    }
    let page = alloc_page(gfp_flags)?;

    if radix_tree_preload(brd.noio()).is_err() {
        __free_page(page);
        return None;
    }

    let guard = spin_lock(&brd.brd_lock);
    let idx = sector >> PAGE_SECTORS_SHIFT;
    set_page_index(page, idx);
    let page = match brd.brd_pages.insert(idx, page) {
        Ok(()) => page,
        Err(_) => {
            // Lost the race: another task inserted this index since our lookup.
            __free_page(page);
            let winner = brd.brd_pages.lookup(idx);
            bug_on!(winner.is_none());
            let winner = winner.expect("BUG_ON(!page) above");
            bug_on!(page_index(winner) != idx);
            winner
        }
    };
    spin_unlock(guard);
    radix_tree_preload_end();

    Some(page)
}

/// C: brd_free_page() — drivers/block/brd.c v4.0
///
/// Removes and frees the backing page of `sector`, under `brd_lock`. Dead code in 4.0: only
/// reachable through the `if (0)` branch of `discard_from_brd`.
///
/// # Context
/// Any; does not sleep.
pub fn brd_free_page(brd: &BrdDevice, sector: Sector) {
    kfn!("brd_free_page");
    let guard = spin_lock(&brd.brd_lock);
    let idx = sector >> PAGE_SECTORS_SHIFT;
    let page = brd.brd_pages.delete(idx);
    spin_unlock(guard);
    if let Some(page) = page {
        __free_page(page);
    }
}

/// C: brd_zero_page() — drivers/block/brd.c v4.0
///
/// Zeroes the whole backing page containing `sector` if it is present (`clear_highpage`);
/// absent pages stay absent.
///
/// # Context
/// Any; does not sleep or allocate (a short `kmap_atomic` section).
pub fn brd_zero_page(brd: &BrdDevice, sector: Sector) {
    kfn!("brd_zero_page");
    if let Some(page) = brd_lookup_page(brd, sector) {
        clear_highpage(page);
    }
}

/// C: brd_free_pages() — drivers/block/brd.c v4.0
///
/// Frees every backing page: gang lookups of `FREE_BATCH` from `pos`, each page deleted from the
/// tree and freed, `pos` = its index + 1, until a batch comes back short. "Must only be called
/// when there are no other users of the device": it takes neither `brd_lock` nor RCU.
///
/// # Context
/// Process context; does not sleep itself.
pub fn brd_free_pages(brd: &BrdDevice) {
    kfn!("brd_free_pages");
    let mut pos: u64 = 0;
    loop {
        let pages = brd.brd_pages.gang_lookup(pos, FREE_BATCH);
        let nr_pages = pages.len();
        for (_, page) in pages {
            let idx = page_index(page);
            bug_on!(idx < pos);
            pos = idx;
            let ret = brd.brd_pages.delete(pos);
            bug_on!(ret != Some(page));
            __free_page(page);
            pos += 1;
        }
        if nr_pages != FREE_BATCH {
            break;
        }
    }
}

/// C: copy_to_brd_setup() — drivers/block/brd.c v4.0
///
/// "Must be called before copy_to_brd. It may sleep." Makes sure the one or two backing pages
/// the `n` bytes at `sector` land in exist: the first page, then — if the range crosses a page
/// boundary — the second. `-ENOSPC` if an insert fails; there is no rollback, so a failed second
/// insert leaves the first page allocated (and zeroed).
///
/// # Context
/// Process context; may sleep (through `brd_insert_page`).
pub fn copy_to_brd_setup(brd: &BrdDevice, sector: Sector, n: usize) -> Result<(), Errno> {
    kfn!("copy_to_brd_setup");
    let offset = ((sector & (PAGE_SECTORS - 1)) << SECTOR_SHIFT) as usize;
    let copy = n.min(PAGE_SIZE - offset);
    if brd_insert_page(brd, sector).is_none() {
        return Err(Errno::ENOSPC);
    }
    if copy < n {
        let sector = sector + (copy >> SECTOR_SHIFT) as u64;
        if brd_insert_page(brd, sector).is_none() {
            return Err(Errno::ENOSPC);
        }
    }
    Ok(())
}

/// C: discard_from_brd() — drivers/block/brd.c v4.0
///
/// Discard as 4.0 does it: for each whole `PAGE_SIZE` of the `n` bytes, zero the present page
/// containing `sector` (absent pages are skipped); a tail shorter than a page is ignored; no page
/// is ever freed. `sector` is not checked for alignment, so an unaligned discard zeroes the whole
/// containing page — data before the range included — and leaves the rest of the range alone
/// (the 4.0 bug Jan Kara's "Refuse such misaligned requests" fixed later).
///
/// # Context
/// Any; does not sleep or allocate.
pub fn discard_from_brd(brd: &BrdDevice, mut sector: Sector, mut n: u64) {
    kfn!("discard_from_brd");
    while n >= PAGE_SIZE as u64 {
        // "Don't want to actually discard pages here because re-allocating the pages can result
        // in writeback deadlocks under heavy load."
        if DISCARD_FREES_PAGES {
            brd_free_page(brd, sector);
        } else {
            brd_zero_page(brd, sector);
        }
        sector += (PAGE_SIZE >> SECTOR_SHIFT) as u64;
        n -= PAGE_SIZE as u64;
    }
}

/// C: copy_to_brd() — drivers/block/brd.c v4.0
///
/// "Does not sleep." Copies `n` bytes from kernel address `src` to the device at `sector`,
/// splitting at the page boundary; each part goes through a nested `kmap_atomic` of the backing
/// page. The pages must exist (`copy_to_brd_setup` ran): `BUG_ON` otherwise.
///
/// # Context
/// Any, including inside the caller's `kmap_atomic`; does not sleep or allocate.
pub fn copy_to_brd(brd: &BrdDevice, src: KAddr, sector: Sector, n: usize) {
    kfn!("copy_to_brd");
    let offset = ((sector & (PAGE_SECTORS - 1)) << SECTOR_SHIFT) as usize;
    let copy = n.min(PAGE_SIZE - offset);
    let page = brd_lookup_page(brd, sector);
    bug_on!(page.is_none());
    let page = page.expect("BUG_ON(!page) above");

    let dst = kmap_atomic(page);
    memcpy_kk(dst.add(offset), src, copy);
    kunmap_atomic(dst);

    if copy < n {
        let src = src.add(copy);
        let sector = sector + (copy >> SECTOR_SHIFT) as u64;
        let copy = n - copy;
        let page = brd_lookup_page(brd, sector);
        bug_on!(page.is_none());
        let page = page.expect("BUG_ON(!page) above");

        let dst = kmap_atomic(page);
        memcpy_kk(dst, src, copy);
        kunmap_atomic(dst);
    }
}

/// C: copy_from_brd() — drivers/block/brd.c v4.0
///
/// "Does not sleep." Copies `n` bytes of the device at `sector` to kernel address `dst`,
/// splitting at the page boundary; a part whose backing page is absent reads as zeros
/// (`memset`) and allocates nothing.
///
/// # Context
/// Any, including inside the caller's `kmap_atomic`; does not sleep or allocate.
pub fn copy_from_brd(dst: KAddr, brd: &BrdDevice, sector: Sector, n: usize) {
    kfn!("copy_from_brd");
    let offset = ((sector & (PAGE_SECTORS - 1)) << SECTOR_SHIFT) as usize;
    let copy = n.min(PAGE_SIZE - offset);
    match brd_lookup_page(brd, sector) {
        Some(page) => {
            let src = kmap_atomic(page);
            memcpy_kk(dst, src.add(offset), copy);
            kunmap_atomic(src);
        }
        None => memset(dst, 0, copy),
    }

    if copy < n {
        let dst = dst.add(copy);
        let sector = sector + (copy >> SECTOR_SHIFT) as u64;
        let copy = n - copy;
        match brd_lookup_page(brd, sector) {
            Some(page) => {
                let src = kmap_atomic(page);
                memcpy_kk(dst, src, copy);
                kunmap_atomic(src);
            }
            None => memset(dst, 0, copy),
        }
    }
}

/// C: brd_do_bvec() — drivers/block/brd.c v4.0
///
/// One segment: `len` bytes at offset `off` of `page`, to or from the device at `sector`. For a
/// write, `copy_to_brd_setup` first (it may sleep; an error returns before any byte is copied);
/// then the bio page is mapped with `kmap_atomic` and the copy runs inside that atomic section
/// (with the backing pages' own nested `kmap_atomic`s). All allocation happens before the atomic
/// section.
///
/// # Context
/// Process context for writes (may sleep when backing pages are absent); reads never sleep.
pub fn brd_do_bvec(
    brd: &BrdDevice,
    page: Page,
    len: u32,
    off: u32,
    rw: ReqOp,
    sector: Sector,
) -> Result<(), Errno> {
    kfn!("brd_do_bvec");
    let len = len as usize;
    if rw != ReqOp::Read {
        copy_to_brd_setup(brd, sector, len)?;
    }

    let mem = kmap_atomic(page);
    if rw == ReqOp::Read {
        copy_from_brd(mem.add(off as usize), brd, sector, len);
        flush_dcache_page(page);
    } else {
        flush_dcache_page(page);
        copy_to_brd(brd, mem.add(off as usize), sector, len);
    }
    kunmap_atomic(mem);

    Ok(())
}

/// C: brd_make_request() — drivers/block/brd.c v4.0
///
/// The queue's `make_request_fn`: a bio ending past the capacity ends with `-EIO`; a discard ends
/// with 0 after `discard_from_brd`; `READA` is treated as `READ`; otherwise each segment goes
/// through `brd_do_bvec` in order, stopping at the first error — earlier segments stay written
/// (a partial bio). Ends the bio with `bio_endio(bio, err)` (4.0's two-argument form).
///
/// # Context
/// Process context (the submitter's); may sleep for writes to absent pages.
pub fn brd_make_request(brd: &BrdDevice, bio: &mut Bio) {
    kfn!("brd_make_request");
    let mut sector = bio.sector;
    let mut err: Option<Errno> = None;

    'out: {
        if bio.end_sector() > brd.capacity {
            err = Some(Errno::EIO);
            break 'out;
        }

        if bio.op == ReqOp::Discard {
            err = None;
            discard_from_brd(brd, sector, bio.size());
            break 'out;
        }

        let rw = match bio.op {
            ReqOp::ReadAhead => ReqOp::Read,
            op => op,
        };
        for bvec in bio.segments() {
            let len = bvec.len;
            if let Err(e) = brd_do_bvec(brd, bvec.page, len, bvec.offset, rw, sector) {
                err = Some(e);
                break;
            }
            sector += (len >> SECTOR_SHIFT) as u64;
        }
    }

    bio_endio(bio, err);
}

/// C: brd_rw_page() — drivers/block/brd.c v4.0
///
/// `->rw_page`: one whole page of I/O at `sector` (absolute; `bdev_read_page`/`bdev_write_page`
/// added the partition start). `page_endio` (page flags and writeback state) is not modelled.
///
/// # Context
/// Process context; writes may sleep.
pub fn brd_rw_page(brd: &BrdDevice, sector: Sector, page: Page, write: bool) -> Result<(), Errno> {
    kfn!("brd_rw_page");
    let rw = if write { ReqOp::Write } else { ReqOp::Read };
    // page_endio(page, rw & WRITE, err): not modelled.
    brd_do_bvec(brd, page, PAGE_SIZE as u32, 0, rw, sector)
}

/// C: brd_direct_access() — drivers/block/brd.c v4.0
///
/// `->direct_access(bdev, sector, &kaddr, &pfn, size)` (only with `CONFIG_BLK_DEV_RAM_DAX`):
/// `brd` is the disk's `private_data` (`None`: `-ENODEV`). Inserts the backing page of `sector`
/// (`-ENOSPC` if that fails) and returns `(page_address(page), page_to_pfn(page), PAGE_SIZE)` —
/// always exactly one page, whatever `size` asks for (TODO in the kernel: "If size > PAGE_SIZE,
/// we could look to see if the next page in the file happens to be mapped to the next page of
/// physical RAM"). A page with no kernel mapping (highmem) yields `KAddr::NULL`.
///
/// # Context
/// May sleep **when the page is absent** (it allocates); a present page costs an RCU lookup only.
/// That data dependence is what the 2015 thread was about.
pub fn brd_direct_access(
    brd: Option<&BrdDevice>,
    sector: Sector,
    size: i64,
) -> Result<(KAddr, u64, i64), Errno> {
    kfn!("brd_direct_access");
    // `size` is ignored: always exactly one page (the wrapper clamps to the request).
    let _ = size;
    let Some(brd) = brd else {
        return Err(Errno::ENODEV);
    };
    let Some(page) = brd_insert_page(brd, sector) else {
        return Err(Errno::ENOSPC);
    };
    let kaddr = page_address(page).unwrap_or(KAddr::NULL);
    let pfn = page_to_pfn(page);
    Ok((kaddr, pfn, PAGE_SIZE as i64))
}

/// `kill_bdev(bdev)`: `invalidate_bh_lrus()` + `truncate_inode_pages(mapping, 0)`. ksim models
/// no buffer or page cache, so there is nothing to drop; the frame shows in call traces.
fn kill_bdev(_bdev: &Bdev) {
    kfn!("kill_bdev");
}

/// C: brd_ioctl() — drivers/block/brd.c v4.0
///
/// Only `BLKFLSBUF` ("flush the backing store"), anything else `-ENOTTY`. Under `brd_mutex` then
/// `bdev->bd_mutex`: `-EBUSY` if the bdev has more than one opener, else `kill_bdev` and free
/// *every* page of the whole disk (even when `bdev` is a partition). There is no check for
/// `direct_access` users: addresses they hold dangle, and the next `direct_access` allocates (and
/// may sleep) again. ("Another thread might instantiate more buffercache here, but there is not
/// much we can do to close that race.")
///
/// # Context
/// Process context; sleeps (two mutexes).
pub fn brd_ioctl(brd: &BrdDevice, bdev: &Bdev, cmd: u32, _arg: u64) -> Result<i64, Errno> {
    kfn!("brd_ioctl");
    if cmd != BLKFLSBUF {
        return Err(Errno::ENOTTY);
    }

    // "ram device BLKFLSBUF has special semantics, we want to actually release and destroy the
    // ramdisk data."
    let brd_mutex = mutex_lock(&*brd.brd_mutex);
    let bd_mutex = mutex_lock(bdev.bd_mutex());
    let error = if bdev.openers() <= 1 {
        kill_bdev(bdev);
        brd_free_pages(brd);
        Ok(0)
    } else {
        Err(Errno::EBUSY)
    };
    mutex_unlock(bd_mutex);
    mutex_unlock(brd_mutex);

    error
}

/// `brd_fops` and the queue's `make_request_fn` (`brd_make_request`).
impl BlockDriver for BrdDevice {
    fn submit_bio(&self, bio: &mut Bio) {
        brd_make_request(self, bio);
    }

    /// `queue_flag_set_unlocked(QUEUE_FLAG_DISCARD, ...)` in `brd_alloc`.
    fn supports_discard(&self) -> bool {
        true
    }

    fn has_rw_page(&self) -> bool {
        true
    }

    fn rw_page(&self, sector: Sector, page: Page, write: bool) -> Result<(), Errno> {
        brd_rw_page(self, sector, page, write)
    }

    fn ioctl(&self, bdev: &Bdev, cmd: u32, arg: u64) -> Result<i64, Errno> {
        brd_ioctl(self, bdev, cmd, arg)
    }

    /// `#define brd_direct_access NULL` without `CONFIG_BLK_DEV_RAM_DAX`.
    fn has_direct_access(&self) -> bool {
        self.dax
    }

    fn direct_access(&self, sector: Sector, size: i64) -> Result<(KAddr, u64, i64), Errno> {
        brd_direct_access(Some(self), sector, size)
    }
}

/// The loaded module: its devices (`brd_devices`) and the module-global `brd_mutex`. Cloning
/// shares the same devices (handy for moving into kthreads).
#[derive(Clone)]
pub struct Brd {
    params: Params,
    /// `brd_devices`, in creation order, with their disks.
    devices: Vec<(Arc<BrdDevice>, Arc<Gendisk>)>,
    /// `static DEFINE_MUTEX(brd_mutex)`.
    brd_mutex: Arc<Mutex<()>>,
}

impl Brd {
    /// The parameters the module was loaded with (`max_part` after the 0 → 1 reset).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The module-global `brd_mutex` (what `brd_ioctl` takes first).
    pub fn brd_mutex(&self) -> &Mutex<()> {
        &self.brd_mutex
    }

    /// Number of devices.
    pub fn nr_devices(&self) -> usize {
        self.devices.len()
    }

    /// The gendisk of `ram<i>`.
    ///
    /// # Panics
    /// If there is no device `i` (a test bug).
    pub fn disk(&self, i: usize) -> &Arc<Gendisk> {
        &self.devices[i].1
    }

    /// The `brd_device` of `ram<i>`.
    ///
    /// # Panics
    /// If there is no device `i` (a test bug).
    pub fn device(&self, i: usize) -> &Arc<BrdDevice> {
        &self.devices[i].0
    }

    /// `blkdev_get` of the whole disk `ram<i>`; `-ENXIO` if there is no such device.
    pub fn open(&self, i: usize) -> Result<Bdev, Errno> {
        let (_, disk) = self.devices.get(i).ok_or(Errno::ENXIO)?;
        Bdev::open(disk, 0)
    }

    /// Pages in `ram<i>`'s radix tree.
    ///
    /// # Panics
    /// If there is no device `i` (a test bug).
    pub fn nr_pages(&self, i: usize) -> usize {
        self.devices[i].0.nr_pages()
    }
}

/// C: brd_alloc() — drivers/block/brd.c v4.0
///
/// One device: `brd_lock`, the radix tree with `GFP_ATOMIC` (so node allocation inside
/// `radix_tree_insert` draws on the preload pool), the queue and its limits, and a disk named
/// `ram<i>` with major `RAMDISK_MAJOR`, first minor `i * max_part` and capacity `rd_size * 2`
/// sectors. `None` if an allocation fails (ksim does not model `kzalloc` / `blk_alloc_queue`, so
/// it does not).
///
/// # Context
/// Process context; may sleep (GFP_KERNEL allocations).
fn brd_alloc(i: u32, params: &Params, brd_mutex: &Arc<Mutex<()>>) -> Option<(Arc<BrdDevice>, Arc<Gendisk>)> {
    kfn!("brd_alloc");
    let capacity = params.rd_size * 2;
    let brd = Arc::new(BrdDevice {
        brd_number: i,
        capacity,
        brd_lock: SpinLock::new((), "&brd->brd_lock"),
        brd_pages: RadixTreeRoot::new(GFP_ATOMIC),
        brd_mutex: brd_mutex.clone(),
        queue: QueueLimits {
            max_hw_sectors: 1024,
            bounce_any: true,
            physical_block_size: PAGE_SIZE as u32,
            discard_granularity: PAGE_SIZE as u32,
            max_discard_sectors: u32::MAX,
            discard_zeroes_data: true,
        },
        dax: params.dax,
        insert_gfp: params.insert_gfp,
        force_highmem: params.force_highmem,
    });
    let disk = Gendisk::new(
        format!("ram{i}"),
        RAMDISK_MAJOR,
        i * params.max_part,
        capacity,
        brd.clone() as Arc<dyn BlockDriver>,
    );
    Some((brd, disk))
}

/// C: brd_free() — drivers/block/brd.c v4.0
///
/// `put_disk`, `blk_cleanup_queue`, `brd_free_pages`, `kfree`.
///
/// # Context
/// Process context.
fn brd_free(brd: &BrdDevice) {
    kfn!("brd_free");
    brd_free_pages(brd);
}

/// C: brd_del_one() — drivers/block/brd.c v4.0
///
/// `list_del`, `del_gendisk`, `brd_free`.
fn brd_del_one(brd: &BrdDevice) {
    kfn!("brd_del_one");
    brd_free(brd);
}

/// C: brd_init() — drivers/block/brd.c v4.0
///
/// Module load: `max_part == 0` is reset to 1; `register_blkdev(RAMDISK_MAJOR, "ramdisk")`;
/// `rd_nr` devices allocated (any failure frees them all: "brd: module NOT loaded !!!",
/// `-ENOMEM`); then, past the point of no return, every disk added. The on-demand
/// `brd_probe` path (`mknod ... b 1 X`) is not modelled.
///
/// # Context
/// Process context; may sleep. Must run inside a ksim run (the locks belong to its scheduler).
pub fn brd_init(params: Params) -> Result<Brd, Errno> {
    kfn!("brd_init");
    let mut params = params;
    if params.max_part == 0 {
        params.max_part = 1;
    }

    // register_blkdev(RAMDISK_MAJOR, "ramdisk"): cannot fail in ksim (else -EIO).
    let brd_mutex = Arc::new(Mutex::new((), "brd_mutex"));
    let mut devices = Vec::with_capacity(params.rd_nr as usize);
    for i in 0..params.rd_nr {
        match brd_alloc(i, &params, &brd_mutex) {
            Some(d) => devices.push(d),
            None => {
                for (brd, _) in &devices {
                    brd_free(brd);
                }
                // unregister_blkdev; "brd: module NOT loaded !!!"
                return Err(Errno::ENOMEM);
            }
        }
    }

    // Point of no return: add_disk() for each (done by Gendisk::new in ksim);
    // blk_register_region(MKDEV(RAMDISK_MAJOR, 0), 1UL << MINORBITS, ..., brd_probe, ...).
    // "brd: module loaded"
    Ok(Brd { params, devices, brd_mutex })
}

/// C: brd_exit() — drivers/block/brd.c v4.0
///
/// Module unload: `brd_del_one` for every device (freeing every backing page), then
/// `blk_unregister_region` and `unregister_blkdev`. Bdevs still open keep their disk structures
/// alive in ksim, but the backing store is gone.
///
/// # Context
/// Process context.
pub fn brd_exit(brd: Brd) {
    kfn!("brd_exit");
    for (dev, _) in &brd.devices {
        brd_del_one(dev);
    }
    // "brd: module unloaded"
}
