//! The block layer (`block/`, `fs/block_dev.c`): submission of bios to a disk's driver with the
//! generic checks, page-sized I/O through `->rw_page`, and the generic ioctl path.
//!
//! Submission marks the task as inside the block I/O path (`current->bio_list`), so an
//! allocation there whose reclaim could issue I/O is reported as reclaim recursion.

pub mod bio;
pub mod genhd;

use crate::defs::loc::Loc;

use crate::errno::Errno;
use crate::mm::reclaim::io_path_enter;
use crate::mm::Page;
use crate::model::current;
use crate::model::sleep::might_sleep_at;
use crate::model::trace::Cat;

pub use bio::{bio_endio, bio_endio_at, bio_wouldblock_error, Bio, BioVec, ReqOp, BIO_INLINE_VECS};
pub use genhd::{Bdev, BlockDriver, Gendisk, Part};

/// `sector_t`.
pub type Sector = u64;
/// `SECTOR_SHIFT`.
pub const SECTOR_SHIFT: u32 = 9;
/// `SECTOR_SIZE`.
pub const SECTOR_SIZE: u64 = 1 << SECTOR_SHIFT;
/// `PAGE_SECTORS_SHIFT` (4 KiB pages).
pub const PAGE_SECTORS_SHIFT: u32 = crate::mm::PAGE_SHIFT - SECTOR_SHIFT;
/// `PAGE_SECTORS`.
pub const PAGE_SECTORS: u64 = 1 << PAGE_SECTORS_SHIFT;
/// `BLKFLSBUF` = `_IO(0x12, 97)`.
pub const BLKFLSBUF: u32 = 0x1261;

/// `generic_make_request()` / `submit_bio()`: remaps the partition offset, applies the generic
/// checks (beyond end of device: `-EIO`; a discard to a queue without discard support, or
/// `REQ_NOWAIT` to one without nowait support: `-EOPNOTSUPP`), marks the task as inside the I/O path and calls the driver. Returns the bio's
/// status (ksim drivers complete synchronously, as brd and pmem do).
///
/// # Context
/// Process context; the driver may sleep (unless `REQ_NOWAIT`).
#[track_caller]
pub fn submit_bio(bdev: &Bdev, bio: &mut Bio) -> Result<(), Errno> {
    crate::kfn!("submit_bio");
    let t = current();
    let part_end = bdev.nr_sects();
    if bio.end_sector() > part_end {
        t.exec.emit(&t, Cat::Block, "submit_bio", || {
            format!(
                "attempt to access beyond end of device {}p{}: {}+{} > {part_end}",
                bdev.disk.name,
                bdev.partno,
                bio.sector,
                bio.size() >> SECTOR_SHIFT
            )
        });
        bio.status = Some(Err(Errno::EIO));
        return Err(Errno::EIO);
    }
    bio.sector += bdev.start_sect();
    if bio.op == ReqOp::Discard && !bdev.disk.driver.supports_discard() {
        bio.status = Some(Err(Errno::EOPNOTSUPP));
        return Err(Errno::EOPNOTSUPP);
    }
    if bio.nowait && !bdev.disk.driver.supports_nowait() {
        bio.status = Some(Err(Errno::EOPNOTSUPP));
        return Err(Errno::EOPNOTSUPP);
    }
    t.exec.emit(&t, Cat::Block, "submit_bio", || {
        format!(
            "{} {:?} sector={} size={}{}",
            bdev.disk.name,
            bio.op,
            bio.sector,
            bio.size(),
            if bio.nowait { " NOWAIT" } else { "" }
        )
    });
    {
        let _io = io_path_enter("submit_bio");
        bdev.disk.driver.submit_bio(bio);
    }
    let status = bio.status.unwrap_or_else(|| {
        // A driver that returns without ending the bio leaves the submitter waiting forever.
        crate::sched::bug();
    });
    t.exec.emit(&t, Cat::Block, "bio_endio", || {
        format!("{:?}", status.err().map(|e| e.to_string()).unwrap_or_else(|| "0".into()))
    });
    status
}

/// `submit_bio_wait()`: submits and waits.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn submit_bio_wait(bdev: &Bdev, bio: &mut Bio) -> Result<(), Errno> {
    might_sleep_at(Loc::caller(), "submit_bio_wait()", None);
    submit_bio(bdev, bio)
}

/// `bdev_read_page(bdev, sector, page)` (fs/block_dev.c): `->rw_page` with the partition
/// offset added; `-EOPNOTSUPP` without it (callers then fall back to a bio).
#[track_caller]
pub fn bdev_read_page(bdev: &Bdev, sector: Sector, page: Page) -> Result<(), Errno> {
    rw_page(bdev, sector, page, false)
}

/// `bdev_write_page(bdev, sector, page, wbc)`.
#[track_caller]
pub fn bdev_write_page(bdev: &Bdev, sector: Sector, page: Page) -> Result<(), Errno> {
    rw_page(bdev, sector, page, true)
}

fn rw_page(bdev: &Bdev, sector: Sector, page: Page, write: bool) -> Result<(), Errno> {
    crate::kfn!(if write { "bdev_write_page" } else { "bdev_read_page" });
    if !bdev.disk.driver.has_rw_page() {
        return Err(Errno::EOPNOTSUPP);
    }
    let _io = io_path_enter("rw_page");
    bdev.disk.driver.rw_page(sector + bdev.start_sect(), page, write)
}

/// The caller's capabilities, for ioctls that check them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// `capable(CAP_SYS_ADMIN)`.
    pub sys_admin: bool,
}

/// `blkdev_ioctl(bdev, mode, cmd, arg)` (block/ioctl.c, 4.1) for the commands ksim models:
/// `BLKFLSBUF` needs `CAP_SYS_ADMIN` (`-EACCES`), asks the driver, and when the driver does not
/// recognise it (`-EINVAL`, `-ENOTTY`, `-ENOIOCTLCMD`) falls back to `fsync_bdev` +
/// `invalidate_bdev` and returns 0. Other commands go to the driver.
///
/// # Context
/// Process context; may sleep.
#[track_caller]
pub fn blkdev_ioctl(bdev: &Bdev, cmd: u32, arg: u64, caps: Caps) -> Result<i64, Errno> {
    crate::kfn!("blkdev_ioctl");
    might_sleep_at(Loc::caller(), "blkdev_ioctl()", None);
    let t = current();
    let r = if cmd == BLKFLSBUF {
        if !caps.sys_admin {
            Err(Errno::EACCES)
        } else {
            match bdev.disk.driver.ioctl(bdev, cmd, arg) {
                Err(Errno::EINVAL | Errno::ENOTTY | Errno::ENOIOCTLCMD) => {
                    t.exec.emit(&t, Cat::Block, "invalidate_bdev", || bdev.disk.name.clone());
                    Ok(0)
                }
                r => r,
            }
        }
    } else {
        bdev.disk.driver.ioctl(bdev, cmd, arg)
    };
    t.exec.emit(&t, Cat::Block, "ioctl", || {
        format!("{} cmd={cmd:#x} -> {:?}", bdev.disk.name, r.map_err(|e| e.to_string()))
    });
    r
}
