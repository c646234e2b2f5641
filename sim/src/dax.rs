//! DAX entry points: the 4.0 `bdev_direct_access()` wrapper (fs/block_dev.c) that callers of the
//! 2015 thread used, and the later `dax_direct_access()` shape behind `dax_read_lock()`.
//!
//! Both are may-sleep APIs: "Expect that .direct_access can sleep" (Dave Chinner, 2015), and
//! brd's implementation allocates its backing page on first touch. In contract mode the wrappers
//! check that at entry, so a caller in atomic context is reported in every interleaving, whether
//! or not the page was already there.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::blk::{Bdev, Sector, PAGE_SECTORS, SECTOR_SIZE};
use crate::errno::Errno;
use crate::mm::KAddr;
use crate::model::current;
use crate::model::task::TaskCell;
use crate::model::trace::Cat;
use crate::sched::might_sleep_contract;

/// Why: the contract's source.
const CONTRACT: &str = "2015 linux-mm thread: \"Expect that .direct_access can sleep\"";

/// What `bdev_direct_access` gives: the kernel address and pfn of the sector and how many bytes
/// are accessible there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DaxMapping {
    /// `*kaddr` (NULL if the driver returned a page without a kernel mapping).
    pub kaddr: KAddr,
    /// `*pfn`.
    pub pfn: u64,
    /// The return value: bytes accessible at `kaddr` (`min(avail, size)`).
    pub len: i64,
}

fn caller_frames(t: &TaskCell) -> String {
    crate::model::mem::alloc::callers(t)
}

/// `bdev_direct_access(bdev, sector, &addr, &pfn, size)` (4.0), with its checks in order
/// (facts §1.10): a negative `size` is returned as is; no `->direct_access` → `-EOPNOTSUPP`;
/// `sector + DIV_ROUND_UP(size, 512)` past the partition → `-ERANGE`; the partition start is
/// added; a sector not page aligned → `-EINVAL`; the driver's 0 → `-ERANGE`; else
/// `min(avail, size)`. Errors are the kernel's negative return value (`-errno`, or the negative
/// size).
///
/// # Context
/// May sleep (a contract: checked at entry in contract mode; brd sleeps when it allocates).
#[track_caller]
pub fn bdev_direct_access(bdev: &Bdev, sector: Sector, size: i64) -> Result<DaxMapping, i64> {
    bdev_direct_access_at(crate::defs::loc::Loc::caller(), bdev, sector, size)
}

/// [`bdev_direct_access`] called at `at` (a foreign caller's location).
pub fn bdev_direct_access_at(
    at: crate::defs::loc::Loc,
    bdev: &Bdev,
    sector: Sector,
    size: i64,
) -> Result<DaxMapping, i64> {
    crate::sched::might_sleep_contract_at(at, "bdev_direct_access()", CONTRACT);
    crate::kfn!("bdev_direct_access");
    let t = current();
    let r = direct_access_checked(bdev, sector, size);
    t.exec.emit(&t, Cat::Dax, "direct_access", || {
        let mut s = format!("{} sector={sector} size={size} -> ", bdev.disk.name);
        match &r {
            Ok(m) => {
                let _ = write!(s, "{} pfn={:#x}", m.len, m.pfn);
            }
            Err(e) => {
                let _ = write!(s, "{}", Errno::from_neg(*e).map_or_else(|| e.to_string(), |e| e.to_string()));
            }
        }
        let _ = write!(s, " in {}", caller_frames(&t));
        s
    });
    r
}

fn direct_access_checked(bdev: &Bdev, sector: Sector, size: i64) -> Result<DaxMapping, i64> {
    if size < 0 {
        return Err(size);
    }
    let ops = bdev.disk.driver.clone();
    if !ops.has_direct_access() {
        return Err(Errno::EOPNOTSUPP.neg());
    }
    if sector + (size as u64).div_ceil(SECTOR_SIZE) > bdev.nr_sects() {
        return Err(Errno::ERANGE.neg());
    }
    let sector = sector + bdev.start_sect();
    if sector % PAGE_SECTORS != 0 {
        return Err(Errno::EINVAL.neg());
    }
    let (kaddr, pfn, avail) = ops.direct_access(sector, size).map_err(Errno::neg)?;
    if avail == 0 {
        return Err(Errno::ERANGE.neg());
    }
    Ok(DaxMapping { kaddr, pfn, len: avail.min(size) })
}

/// `struct dax_operations` (v4.12+): page-granular direct access.
pub trait DaxOperations: Send + Sync {
    /// `->direct_access(dax_dev, pgoff, nr_pages, &kaddr, &pfn)`: pages accessible from `pgoff`.
    fn direct_access(&self, pgoff: u64, nr_pages: i64) -> Result<(i64, KAddr, u64), Errno>;
}

/// `struct dax_device`.
#[derive(Clone)]
pub struct DaxDevice {
    /// Its operations.
    pub ops: Arc<dyn DaxOperations>,
    /// `dax_alive()`.
    pub alive: bool,
}

/// `dax_read_lock()`: `srcu_read_lock(&dax_srcu)`. SRCU readers may sleep, so this is not an
/// atomic context. Returns the SRCU index for `dax_read_unlock`.
pub fn dax_read_lock() -> DaxReadLock {
    let t = current();
    t.exec.emit(&t, Cat::Dax, "dax_read_lock", String::new);
    DaxReadLock(())
}

/// A held `dax_read_lock()`; `dax_read_unlock` is its drop.
pub struct DaxReadLock(());

/// `dax_direct_access(dax_dev, pgoff, nr_pages, &kaddr, &pfn)` (v4.12+ shape): `-ENXIO` for a
/// dead device, `-EINVAL` for a negative count, the driver's 0 → `-ERANGE`, else
/// `min(avail, nr_pages)` pages. Called under `dax_read_lock()`.
///
/// # Context
/// May sleep (contract-checked at entry in contract mode).
#[track_caller]
pub fn dax_direct_access(
    dax: &DaxDevice,
    _lock: &DaxReadLock,
    pgoff: u64,
    nr_pages: i64,
) -> Result<(i64, KAddr, u64), Errno> {
    might_sleep_contract("dax_direct_access()", CONTRACT);
    crate::kfn!("dax_direct_access");
    if !dax.alive {
        return Err(Errno::ENXIO);
    }
    if nr_pages < 0 {
        return Err(Errno::EINVAL);
    }
    let (avail, kaddr, pfn) = dax.ops.direct_access(pgoff, nr_pages)?;
    if avail == 0 {
        return Err(Errno::ERANGE);
    }
    Ok((avail.min(nr_pages), kaddr, pfn))
}
