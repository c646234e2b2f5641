//! `include/linux/genhd.h`, `include/linux/blkdev.h`: disks, their partitions, and opened block
//! devices with the `bd_openers` count and `bd_mutex` brd's BLKFLSBUF path uses.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::errno::Errno;
use crate::mm::{KAddr, Page};
use crate::mutex::Mutex;

use super::bio::Bio;
use super::Sector;

/// The driver side of a disk: `block_device_operations` plus the queue's `make_request_fn` /
/// `submit_bio`. Unimplemented optional ops are NULL pointers in the kernel: here `has_*`
/// says whether one exists.
pub trait BlockDriver: Send + Sync {
    /// `make_request_fn` (4.0) / `->submit_bio` (modern): processes the bio and ends it with
    /// `bio_endio`. Sectors are absolute on the disk (partition offset already added).
    fn submit_bio(&self, bio: &mut Bio);

    /// Whether `->rw_page` exists.
    fn has_rw_page(&self) -> bool {
        false
    }

    /// `->rw_page(bdev, sector, page, rw)`: one page of I/O, sector absolute.
    fn rw_page(&self, _sector: Sector, _page: Page, _write: bool) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// `->ioctl(bdev, mode, cmd, arg)`.
    fn ioctl(&self, _bdev: &Bdev, _cmd: u32, _arg: u64) -> Result<i64, Errno> {
        Err(Errno::ENOTTY)
    }

    /// Whether `->direct_access` exists (brd: only with `CONFIG_BLK_DEV_RAM_DAX`).
    fn has_direct_access(&self) -> bool {
        false
    }

    /// `->direct_access(bdev, sector, &kaddr, &pfn, size)` (4.0 shape): the kernel address and
    /// pfn of `sector` (absolute, page aligned) and how many bytes are accessible there.
    fn direct_access(&self, _sector: Sector, _size: i64) -> Result<(KAddr, u64, i64), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// `QUEUE_FLAG_DISCARD` / `max_discard_sectors > 0`: the queue accepts discards. Without
    /// it the block layer ends a discard bio with `-EOPNOTSUPP` before the driver sees it.
    fn supports_discard(&self) -> bool {
        false
    }

    /// `QUEUE_FLAG_NOWAIT` / `BLK_FEAT_NOWAIT`: the driver handles `REQ_NOWAIT`.
    fn supports_nowait(&self) -> bool {
        false
    }
}

/// A partition (or the whole disk, partno 0).
pub struct Part {
    /// `get_start_sect()`.
    pub start: Sector,
    /// `part_nr_sects_read()`.
    pub nr_sects: Sector,
    openers: AtomicU32,
    /// `bdev->bd_mutex`.
    pub bd_mutex: Mutex<()>,
}

/// `struct gendisk` with its queue.
pub struct Gendisk {
    /// `disk_name`, e.g. `ram0`.
    pub name: String,
    /// `major`.
    pub major: u32,
    /// `first_minor`.
    pub first_minor: u32,
    /// Capacity in sectors (`set_capacity`).
    pub capacity: Sector,
    /// The driver.
    pub driver: Arc<dyn BlockDriver>,
    parts: Vec<Part>,
}

impl Gendisk {
    /// `alloc_disk` + `set_capacity` + `add_disk`: a disk with no partitions.
    pub fn new(
        name: String,
        major: u32,
        first_minor: u32,
        capacity: Sector,
        driver: Arc<dyn BlockDriver>,
    ) -> Arc<Gendisk> {
        let whole = Part {
            start: 0,
            nr_sects: capacity,
            openers: AtomicU32::new(0),
            bd_mutex: Mutex::new((), "&bdev->bd_mutex"),
        };
        Arc::new(Gendisk { name, major, first_minor, capacity, driver, parts: vec![whole] })
    }

    /// The same disk with partitions (start, sectors) 1..N added, as a partition table scan
    /// would.
    pub fn with_partitions(
        name: String,
        major: u32,
        first_minor: u32,
        capacity: Sector,
        driver: Arc<dyn BlockDriver>,
        parts: &[(Sector, Sector)],
    ) -> Arc<Gendisk> {
        let mut v = vec![Part {
            start: 0,
            nr_sects: capacity,
            openers: AtomicU32::new(0),
            bd_mutex: Mutex::new((), "&bdev->bd_mutex"),
        }];
        for &(start, nr_sects) in parts {
            v.push(Part {
                start,
                nr_sects,
                openers: AtomicU32::new(0),
                bd_mutex: Mutex::new((), "&bdev->bd_mutex"),
            });
        }
        Arc::new(Gendisk { name, major, first_minor, capacity, driver, parts: v })
    }

    /// Number of partitions (not counting the whole disk).
    pub fn nr_partitions(&self) -> usize {
        self.parts.len() - 1
    }
}

/// An opened block device (`blkdev_get`): the whole disk or a partition. Dropping it is
/// `blkdev_put`.
pub struct Bdev {
    /// The disk.
    pub disk: Arc<Gendisk>,
    /// 0 for the whole disk.
    pub partno: usize,
}

impl Bdev {
    /// `blkdev_get(bdev)`: opens partition `partno` (0 = whole disk); `-ENXIO` if it does not
    /// exist.
    pub fn open(disk: &Arc<Gendisk>, partno: usize) -> Result<Bdev, Errno> {
        let p = disk.parts.get(partno).ok_or(Errno::ENXIO)?;
        p.openers.fetch_add(1, Ordering::SeqCst);
        Ok(Bdev { disk: disk.clone(), partno })
    }

    fn part(&self) -> &Part {
        &self.disk.parts[self.partno]
    }

    /// `bdev->bd_openers`.
    pub fn openers(&self) -> u32 {
        self.part().openers.load(Ordering::SeqCst)
    }

    /// `get_start_sect(bdev)`.
    pub fn start_sect(&self) -> Sector {
        self.part().start
    }

    /// `part_nr_sects_read(bdev->bd_part)`.
    pub fn nr_sects(&self) -> Sector {
        self.part().nr_sects
    }

    /// `bdev->bd_mutex`.
    pub fn bd_mutex(&self) -> &Mutex<()> {
        &self.part().bd_mutex
    }
}

impl Drop for Bdev {
    fn drop(&mut self) {
        self.part().openers.fetch_sub(1, Ordering::SeqCst);
    }
}
