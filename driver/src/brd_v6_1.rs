//! `drivers/block/brd.c` as of Linux v6.1 — the RAM block device as Debian's user-mode-linux
//! 6.1 package ships it, re-expressed against ksim's simulated kernel API (written fresh from
//! the facts file, function by function in the kernel's order and with the kernel's names).
//!
//! What distinguishes 6.1 from the 2015 driver (facts §1 vs §2):
//!
//! - pages are still indexed by a **radix tree** initialised with `GFP_ATOMIC`, so node
//!   allocation inside `radix_tree_insert()` draws on the per-CPU preload pool;
//! - the four-patch REQ_NOWAIT series backported to 6.1.16 (linux-6.1.y, March 2023: "brd: mark
//!   as nowait compatible", "brd: return 0/-error from brd_insert_page()", "brd: check for
//!   REQ_NOWAIT and set correct page allocation mask", "brd: use radix_tree_maybe_preload
//!   instead of radix_tree_preload"): `brd_insert_page()` returns 0/-errno instead of a page,
//!   allocates with `GFP_NOWAIT` for `REQ_NOWAIT` bios (else `GFP_NOIO`), preloads only when that
//!   mask may block, and the queue is nowait capable; an `-ENOMEM` on a `REQ_NOWAIT` bio ends it
//!   with `-EAGAIN` (`bio_wouldblock_error`). (That the Debian user-mode-linux 6.1 build is
//!   newer than 6.1.16 is assumed, not checked: bookworm's 6.1 kernels are far past it);
//! - `__GFP_HIGHMEM` is back (DAX was removed in v4.15), **no DAX**, **no discard** (removed in
//!   2017, re-added only in v6.10), **no BLKFLSBUF** (removed in 2017: `brd_fops` has no
//!   `->ioctl`, so the block layer's generic flush applies);
//! - the data copy still runs under `kmap_atomic()` (an atomic section), with all allocation
//!   done before it, and `->rw_page` still exists;
//! - `brd_nr_pages` counts the pages (debugfs `ramdisk_pages/ramN`), `brd_free_pages()` calls
//!   `cond_resched()` between batches.
//!
//! Not modelled (no ksim API, no behaviour the checks can see): `kzalloc` of the device,
//! debugfs, `pr_info`, queue flags other than NOWAIT, `flush_dcache_page`, `page_endio`,
//! `brd_submit_bio`'s `WARN_ON_ONCE` on segments not aligned to 512 bytes, and the on-demand
//! `brd_probe`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ksim::blk::{bio_endio, bio_wouldblock_error, Bdev, Bio, BlockDriver, Gendisk, ReqOp};
use ksim::blk::{Sector, PAGE_SECTORS, PAGE_SECTORS_SHIFT, SECTOR_SHIFT};
use ksim::errno::Errno;
use ksim::gfp::{Gfp, __GFP_HIGHMEM, __GFP_ZERO, GFP_ATOMIC, GFP_NOIO, GFP_NOWAIT};
use ksim::highmem::{kmap_atomic, kunmap_atomic};
use ksim::mm::{__free_page, alloc_page, memcpy, memset, page_index, set_page_index, KAddr, Page, PAGE_SIZE};
use ksim::radix_tree::{radix_tree_maybe_preload, radix_tree_preload_end, RadixTreeRoot};
use ksim::rcupdate::{rcu_read_lock, rcu_read_unlock};
use ksim::sched::{bug, cond_resched};
use ksim::spinlock::{spin_lock, spin_unlock, SpinLock};
use ksim::{bug_on, kfn};

/// `RAMDISK_MAJOR` (`include/uapi/linux/major.h`).
pub const RAMDISK_MAJOR: u32 = 1;
/// `CONFIG_BLK_DEV_RAM_COUNT`'s default: the default `rd_nr`.
pub const CONFIG_BLK_DEV_RAM_COUNT: i32 = 16;
/// `CONFIG_BLK_DEV_RAM_SIZE`'s default in KiB: the default `rd_size`.
pub const CONFIG_BLK_DEV_RAM_SIZE: u64 = 4096;
/// `MINORBITS` (`include/linux/kdev_t.h`).
const MINORBITS: u32 = 20;
/// `DISK_MAX_PARTS` (`include/linux/blkdev.h`, 6.1).
const DISK_MAX_PARTS: i32 = 256;
/// `FREE_BATCH`: pages `brd_free_pages()` gathers per gang lookup.
const FREE_BATCH: usize = 16;

/// The module parameters (`modprobe brd rd_nr=... rd_size=... max_part=...`) with the kernel's
/// defaults, plus one ksim mutation switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// `rd_nr` (int, 0444): "Maximum number of brd devices" — how many are created at load.
    pub rd_nr: i32,
    /// `rd_size` (ulong, 0444): "Size of each RAM disk in kbytes."; capacity is `rd_size * 2`
    /// sectors.
    pub rd_size: u64,
    /// `max_part` (int, 0444): "Num Minors to reserve between devices"; normalised by
    /// `brd_check_and_reset_par()`.
    pub max_part: i32,
    /// **ksim mutation switch, NOT kernel behaviour**: when set, `brd_do_bvec()` allocates
    /// backing pages (and preloads) with this mask instead of `GFP_NOWAIT`/`GFP_NOIO` — e.g.
    /// `GFP_KERNEL`, to demonstrate the reclaim recursion that `GFP_NOIO` exists to prevent
    /// ("Must use NOIO because we don't want to recurse back into the block or filesystem
    /// layers from page reclaim"). `None` (the default) is the kernel's behaviour.
    pub insert_gfp: Option<Gfp>,
}

impl Default for Params {
    /// `rd_nr = CONFIG_BLK_DEV_RAM_COUNT (16)`, `rd_size = CONFIG_BLK_DEV_RAM_SIZE (4096 KiB)`,
    /// `max_part = 1`, no mutation.
    fn default() -> Self {
        Params {
            rd_nr: CONFIG_BLK_DEV_RAM_COUNT,
            rd_size: CONFIG_BLK_DEV_RAM_SIZE,
            max_part: 1,
            insert_gfp: None,
        }
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

/// `struct brd_device`: one RAM disk. Its backing store is a radix tree of pages indexed by
/// page number ("in no way connected" to the page cache); a page's `->index` is its offset in
/// PAGE_SIZE units.
struct BrdDevice {
    /// `brd_number`.
    brd_number: i32,
    /// `brd_lock`: serialises radix-tree inserts (lookups are lock-free under RCU).
    brd_lock: SpinLock<()>,
    /// `brd_pages`: `INIT_RADIX_TREE(&brd->brd_pages, GFP_ATOMIC)`.
    brd_pages: RadixTreeRoot<Page>,
    /// `brd_nr_pages`: pages allocated (debugfs `ramdisk_pages/ramN`); written under
    /// `brd_lock`, read without it.
    brd_nr_pages: AtomicU64,
    /// The ksim mutation switch (see [`Params::insert_gfp`]).
    insert_gfp: Option<Gfp>,
}

/// `bio_io_error(bio)` (`include/linux/bio.h`): ends the bio with `BLK_STS_IOERR` (`-EIO`).
#[track_caller]
fn bio_io_error(bio: &mut Bio) {
    bio_endio(bio, Some(Errno::EIO));
}

/// `offset = (sector & (PAGE_SECTORS-1)) << SECTOR_SHIFT`: the byte offset of `sector` inside
/// its brd page.
fn page_offset(sector: Sector) -> usize {
    ((sector & (PAGE_SECTORS - 1)) << SECTOR_SHIFT) as usize
}

impl BrdDevice {
    /// C: brd_lookup_page() — drivers/block/brd.c v6.1
    ///
    /// Looks up and returns the brd page backing `sector`, `None` if it was never written.
    ///
    /// # Context
    /// Any; never sleeps, never allocates. Takes the RCU read lock only around the radix-tree
    /// lookup; the page's lifetime is guaranteed because pages are freed only when the device
    /// is torn down (6.1 has neither discard nor BLKFLSBUF). `BUG_ON` if the page's `->index`
    /// does not match the slot.
    fn brd_lookup_page(&self, sector: Sector) -> Option<Page> {
        kfn!("brd_lookup_page");
        rcu_read_lock();
        let idx = sector >> PAGE_SECTORS_SHIFT;
        let page = self.brd_pages.lookup(idx);
        rcu_read_unlock();

        bug_on!(page.is_some_and(|p| page_index(p) != idx));
        page
    }

    /// C: brd_insert_page() — drivers/block/brd.c v6.1
    ///
    /// Inserts a zeroed page for `sector` if none exists yet: 0 or `-ENOMEM` (allocation,
    /// preload or node allocation failed) or `-EIO` (the page found after a lost race has the
    /// wrong index) — the 6.1.16 backport replaced the old `BUG_ON`s with these errors.
    ///
    /// # Context
    /// A present page returns after the RCU lookup with no might-sleep at all. Otherwise the
    /// page is allocated with `gfp | __GFP_ZERO | __GFP_HIGHMEM` **outside any lock**, then
    /// `radix_tree_maybe_preload(gfp)` (fills the node pool — and may sleep — only if `gfp`
    /// allows blocking; either way returns with preemption disabled), then `brd_lock` is taken
    /// for the insert. On `-EEXIST` (another writer inserted the same index in between) our
    /// page is freed under the lock — `__free_page` does not sleep — and the winner's page is
    /// checked. Sleeps exactly when `gfp` blocks and the page is absent.
    fn brd_insert_page(&self, sector: Sector, gfp: Gfp) -> Result<(), Errno> {
        kfn!("brd_insert_page");
        if self.brd_lookup_page(sector).is_some() {
            return Ok(());
        }

        let Some(page) = alloc_page(gfp | __GFP_ZERO | __GFP_HIGHMEM) else {
            return Err(Errno::ENOMEM);
        };

        if radix_tree_maybe_preload(gfp).is_err() {
            __free_page(page);
            return Err(Errno::ENOMEM);
        }

        let guard = spin_lock(&self.brd_lock);
        let idx = sector >> PAGE_SECTORS_SHIFT;
        set_page_index(page, idx);
        let ret = match self.brd_pages.insert(idx, page) {
            Ok(()) => {
                self.brd_nr_pages.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(_) => {
                // -EEXIST (lost the race) or -ENOMEM (no node): drop ours, look at the slot.
                __free_page(page);
                match self.brd_pages.lookup(idx) {
                    None => Err(Errno::ENOMEM),
                    Some(winner) if page_index(winner) != idx => Err(Errno::EIO),
                    Some(_) => Ok(()),
                }
            }
        };
        spin_unlock(guard);

        radix_tree_preload_end();
        ret
    }

    /// C: brd_free_pages() — drivers/block/brd.c v6.1
    ///
    /// Frees every backing page and empties the tree, in batches of `FREE_BATCH` found by gang
    /// lookup, with `cond_resched()` after each batch ("It takes 3.4 seconds to remove 80GiB
    /// ramdisk").
    ///
    /// # Context
    /// Process context; may sleep (`cond_resched`). Takes neither `brd_lock` nor RCU: it must
    /// only be called when the device has no other users. `BUG_ON` on index disorder or a
    /// delete that removes something else.
    fn brd_free_pages(&self) {
        kfn!("brd_free_pages");
        let mut pos: u64 = 0;
        loop {
            let batch = self.brd_pages.gang_lookup(pos, FREE_BATCH);
            for &(_, page) in &batch {
                let idx = page_index(page);
                bug_on!(idx < pos);
                pos = idx;
                let ret = self.brd_pages.delete(pos);
                bug_on!(ret != Some(page));
                __free_page(page);
            }
            pos += 1;

            cond_resched();

            // Relies on the gang lookup returning as many pages as it can.
            if batch.len() != FREE_BATCH {
                break;
            }
        }
    }

    /// C: copy_to_brd_setup() — drivers/block/brd.c v6.1
    ///
    /// Makes sure the one or two brd pages that `n` bytes at `sector` touch exist, so that
    /// `copy_to_brd()` will find them. "It may sleep." No rollback: if the second insert fails
    /// the first page stays allocated (and zeroed).
    ///
    /// # Context
    /// As `brd_insert_page()`; must be called before `copy_to_brd()`, outside the atomic
    /// section.
    fn copy_to_brd_setup(&self, sector: Sector, n: usize, gfp: Gfp) -> Result<(), Errno> {
        kfn!("copy_to_brd_setup");
        let offset = page_offset(sector);
        let copy = n.min(PAGE_SIZE - offset);
        self.brd_insert_page(sector, gfp)?;
        if copy < n {
            let sector = sector + (copy as u64 >> SECTOR_SHIFT);
            self.brd_insert_page(sector, gfp)?;
        }
        Ok(())
    }

    /// C: copy_to_brd() — drivers/block/brd.c v6.1
    ///
    /// Copies `n` bytes from `src` to the device at `sector`, splitting at the brd page
    /// boundary (a bvec touches at most two brd pages). "Does not sleep."
    ///
    /// # Context
    /// Any, typically inside `brd_do_bvec()`'s `kmap_atomic()`. Each destination page is mapped
    /// with a nested `kmap_atomic()`. `BUG_ON` if `copy_to_brd_setup()` did not run first.
    fn copy_to_brd(&self, src: KAddr, sector: Sector, n: usize) {
        kfn!("copy_to_brd");
        let offset = page_offset(sector);
        let copy = n.min(PAGE_SIZE - offset);
        // BUG_ON(!page)
        let Some(page) = self.brd_lookup_page(sector) else { bug() };

        let dst = kmap_atomic(page);
        memcpy(dst.add(offset), src, copy);
        kunmap_atomic(dst);

        if copy < n {
            let src = src.add(copy);
            let sector = sector + (copy as u64 >> SECTOR_SHIFT);
            let copy = n - copy;
            let Some(page) = self.brd_lookup_page(sector) else { bug() };

            let dst = kmap_atomic(page);
            memcpy(dst, src, copy);
            kunmap_atomic(dst);
        }
    }

    /// C: copy_from_brd() — drivers/block/brd.c v6.1
    ///
    /// Copies `n` bytes at `sector` from the device to `dst`, splitting at the brd page
    /// boundary; a part whose page was never written reads as zeros and allocates nothing.
    /// "Does not sleep."
    ///
    /// # Context
    /// Any, typically inside `brd_do_bvec()`'s `kmap_atomic()`; nested `kmap_atomic()` per
    /// source page.
    fn copy_from_brd(&self, dst: KAddr, sector: Sector, n: usize) {
        kfn!("copy_from_brd");
        let offset = page_offset(sector);
        let copy = n.min(PAGE_SIZE - offset);
        match self.brd_lookup_page(sector) {
            Some(page) => {
                let src = kmap_atomic(page);
                memcpy(dst, src.add(offset), copy);
                kunmap_atomic(src);
            }
            None => memset(dst, 0, copy),
        }

        if copy < n {
            let dst = dst.add(copy);
            let sector = sector + (copy as u64 >> SECTOR_SHIFT);
            let copy = n - copy;
            match self.brd_lookup_page(sector) {
                Some(page) => {
                    let src = kmap_atomic(page);
                    memcpy(dst, src, copy);
                    kunmap_atomic(src);
                }
                None => memset(dst, 0, copy),
            }
        }
    }

    /// C: brd_do_bvec() — drivers/block/brd.c v6.1
    ///
    /// Transfers one segment: `len` bytes at `off` in `page` to or from `sector`. For a write
    /// the backing pages are set up first with `GFP_NOWAIT` if the bio has `REQ_NOWAIT`, else
    /// `GFP_NOIO` ("Must use NOIO because we don't want to recurse back into the block or
    /// filesystem layers from page reclaim"); an error returns before any byte is copied.
    ///
    /// # Context
    /// Process context; may sleep in the setup (blocking GFP, absent page). The copy itself
    /// runs under `kmap_atomic(page)` — an atomic section in which nothing allocates
    /// (`flush_dcache_page` is a no-op on x86 and not modelled).
    fn brd_do_bvec(&self, page: Page, len: usize, off: usize, opf: Opf, sector: Sector) -> Result<(), Errno> {
        kfn!("brd_do_bvec");
        if opf.is_write() {
            let gfp = match self.insert_gfp {
                // ksim mutation (Params::insert_gfp), not kernel behaviour.
                Some(mutant) => mutant,
                None if opf.nowait => GFP_NOWAIT,
                None => GFP_NOIO,
            };
            self.copy_to_brd_setup(sector, len, gfp)?;
        }

        let mem = kmap_atomic(page);
        if !opf.is_write() {
            self.copy_from_brd(mem.add(off), sector, len);
        } else {
            self.copy_to_brd(mem.add(off), sector, len);
        }
        kunmap_atomic(mem);
        Ok(())
    }

    /// C: brd_submit_bio() — drivers/block/brd.c v6.1
    ///
    /// Processes a read or write bio segment by segment (sectors already absolute on the
    /// disk). An error ends the bio at once — earlier segments stay written: `-ENOMEM` on a
    /// `REQ_NOWAIT` bio becomes `bio_wouldblock_error()` (`-EAGAIN`, the submitter retries
    /// from a context that may block), anything else `bio_io_error()` (`-EIO`).
    ///
    /// # Context
    /// Process context (`->submit_bio`, inside the block I/O path); sleeps only as
    /// `brd_do_bvec()` does — never for `REQ_NOWAIT`. (6.1's `WARN_ON_ONCE` on a segment not
    /// aligned to 512 bytes is not modelled.)
    fn brd_submit_bio(&self, bio: &mut Bio) {
        kfn!("brd_submit_bio");
        let mut sector = bio.sector;
        let opf = Opf { op: bio.op, nowait: bio.nowait };
        // bio_for_each_segment(bvec, bio, iter)
        for i in 0..bio.vecs.len() {
            let bvec = bio.vecs[i];
            let len = bvec.len as usize;
            if let Err(err) = self.brd_do_bvec(bvec.page, len, bvec.offset as usize, opf, sector) {
                if err == Errno::ENOMEM && opf.nowait {
                    bio_wouldblock_error(bio);
                    return;
                }
                bio_io_error(bio);
                return;
            }
            sector += (len as u64) >> SECTOR_SHIFT;
        }
        bio_endio(bio, None);
    }

    /// C: brd_rw_page() — drivers/block/brd.c v6.1
    ///
    /// `->rw_page`: one whole page of I/O at `sector` (absolute), through `brd_do_bvec()`
    /// without `REQ_NOWAIT` (so `GFP_NOIO`). Returns the error as is (`-ENOMEM` from the
    /// setup); `page_endio()` and the `PageTransHuge` check (`-ENOTSUPP`; ksim pages are order
    /// 0) are not modelled.
    ///
    /// # Context
    /// Process context; may sleep as `brd_do_bvec()`.
    fn brd_rw_page(&self, sector: Sector, page: Page, write: bool) -> Result<(), Errno> {
        kfn!("brd_rw_page");
        let op = if write { ReqOp::Write } else { ReqOp::Read };
        self.brd_do_bvec(page, PAGE_SIZE, 0, Opf { op, nowait: false }, sector)
    }
}

/// `brd_fops` plus the queue: `.submit_bio = brd_submit_bio`, `.rw_page = brd_rw_page`, no
/// `->ioctl`, no `->direct_access`, `QUEUE_FLAG_NOWAIT` set, no discard limits.
impl BlockDriver for BrdDevice {
    /// `brd_submit_bio()`. 6.1's brd sets no discard limits (`supports_discard` stays false),
    /// so the block layer fails a discard bio with `-EOPNOTSUPP` before it gets here.
    fn submit_bio(&self, bio: &mut Bio) {
        self.brd_submit_bio(bio);
    }

    fn has_rw_page(&self) -> bool {
        true
    }

    fn rw_page(&self, sector: Sector, page: Page, write: bool) -> Result<(), Errno> {
        self.brd_rw_page(sector, page, write)
    }

    /// `brd_fops` has no `->ioctl` in 6.1 (BLKFLSBUF support was removed in 2017): the NULL op
    /// is `-ENOTTY`, and `blkdev_ioctl` handles `BLKFLSBUF` generically (fsync + invalidate,
    /// no page is freed).
    fn ioctl(&self, _bdev: &Bdev, _cmd: u32, _arg: u64) -> Result<i64, Errno> {
        Err(Errno::ENOTTY)
    }

    /// "brd: mark as nowait compatible" (`QUEUE_FLAG_NOWAIT`, 6.1.16).
    fn supports_nowait(&self) -> bool {
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
    /// `brd_probe` path of `mknod ... b 1 X` is not modelled).
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

/// C: brd_check_and_reset_par() — drivers/block/brd.c v6.1
///
/// Normalises `max_part`: 0 becomes 1; a value that does not divide `1 << MINORBITS` is rounded
/// up to a power of two (`1UL << fls(max_part)`, truncated to `int` as in C); above
/// `DISK_MAX_PARTS` it is clamped (the kernel logs "brd: max_part can't be larger than 256").
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

/// C: brd_alloc() — drivers/block/brd.c v6.1
///
/// Creates device `i`: `-EEXIST` if it exists; the device with its lock and `GFP_ATOMIC`
/// radix tree; the disk `ram{i}` (major 1, `first_minor = i * max_part`, capacity
/// `rd_size * 2` sectors), then `add_disk`. (`kzalloc`, debugfs and the queue flags other than
/// NOWAIT — physical block size `PAGE_SIZE`, NONROT, no ADD_RANDOM — are not modelled.)
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
        brd_lock: SpinLock::new((), "&brd->brd_lock"),
        brd_pages: RadixTreeRoot::new(GFP_ATOMIC),
        brd_nr_pages: AtomicU64::new(0),
        insert_gfp: brd.params.insert_gfp,
    });
    let capacity = brd.params.rd_size * 2;
    let first_minor = (i as u32).wrapping_mul(brd.params.max_part as u32);
    let disk = Gendisk::new(format!("ram{i}"), RAMDISK_MAJOR, first_minor, capacity, dev.clone());
    brd.devices.push((dev, disk));
    Ok(())
}

/// C: brd_cleanup() — drivers/block/brd.c v6.1
///
/// Deletes every device: `del_gendisk`, `put_disk`, `brd_free_pages`, unlink, free.
///
/// # Context
/// Process context; may sleep (`brd_free_pages`).
fn brd_cleanup(brd: Brd) {
    kfn!("brd_cleanup");
    for (dev, disk) in brd.devices {
        drop(disk);
        dev.brd_free_pages();
    }
}

/// C: brd_init() — drivers/block/brd.c v6.1
///
/// Loads the module: normalises `max_part`, creates `rd_nr` devices `ram0..` (on any failure
/// all are freed: "brd: module NOT loaded !!!"), then registers the major with the on-demand
/// probe (not modelled; cannot fail here).
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

/// C: brd_exit() — drivers/block/brd.c v6.1
///
/// Unloads the module: `unregister_blkdev`, then `brd_cleanup()` — every backing page is
/// freed.
///
/// # Context
/// Process context; may sleep. No device may be in use.
pub fn brd_exit(brd: Brd) {
    kfn!("brd_exit");
    brd_cleanup(brd);
}
