//! `drivers/block/pmem.c` as of Linux v4.1 (moved to `drivers/nvdimm/` in 4.2): persistent memory
//! as a block device — the "NVDIMM is an offset calculation" side of the 2015 thread (facts §2.6).
//!
//! Written fresh against ksim's simulated kernel API, in the kernel's order and with its names.
//! The whole device is reserved once at probe ([`ksim::mm::reserve_region`], standing in for
//! `request_mem_region` + `ioremap_nocache`); after that `direct_access` is pure arithmetic on
//! that range: it never allocates, takes no lock and never sleeps, and returns the bytes from the
//! sector to the end of the device (so a caller asking for 1 MiB gets 1 MiB, unlike brd's one
//! page).

use std::sync::Arc;

use ksim::blk::{bio_endio, Bdev, Bio, BlockDriver, Gendisk, ReqOp, Sector, SECTOR_SHIFT};
use ksim::errno::Errno;
use ksim::highmem::{kmap_atomic, kunmap_atomic};
use ksim::mm::memory::PAGE_OFFSET;
use ksim::mm::{memcpy_from, memcpy_to, reserve_region, KAddr, Page, PAGE_SHIFT, PAGE_SIZE};
use ksim::{bug_on, kfn};

/// The major `register_blkdev(0, "pmem")` hands out. Dynamic in the kernel; fixed here so disks
/// are deterministic.
pub const PMEM_MAJOR: u32 = 259;

/// `struct pmem_device`.
pub struct PmemDevice {
    /// `phys_addr`: physical address of the first byte (`__pa(virt_addr)` in ksim).
    phys_addr: u64,
    /// `virt_addr`: the kernel mapping of the range.
    virt_addr: KAddr,
    /// `size` in bytes.
    size: u64,
}

impl PmemDevice {
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// `virt_addr`.
    pub fn virt_addr(&self) -> KAddr {
        self.virt_addr
    }

    /// The pfn of the first page.
    pub fn base_pfn(&self) -> u64 {
        self.phys_addr >> PAGE_SHIFT
    }
}

/// `memcpy(dst, src, n)` between two kernel addresses, through a bounce buffer (ksim's accessors
/// copy between kernel memory and Rust buffers; both ends are checked).
#[track_caller]
fn memcpy_kk(dst: KAddr, src: KAddr, n: usize) {
    let mut buf = vec![0u8; n];
    memcpy_from(&mut buf, src);
    memcpy_to(dst, &buf);
}

/// C: pmem_do_bvec() — drivers/block/pmem.c v4.1
///
/// One segment: `len` bytes at `off` of `page` to or from the device at `sector`, copied with the
/// bio page under `kmap_atomic` (`flush_dcache_page` is a no-op here).
///
/// # Context
/// Any; does not sleep or allocate.
pub fn pmem_do_bvec(pmem: &PmemDevice, page: Page, len: u32, off: u32, rw: ReqOp, sector: Sector) {
    kfn!("pmem_do_bvec");
    let mem = kmap_atomic(page);
    let pmem_off = (sector << SECTOR_SHIFT) as usize;
    let pmem_addr = pmem.virt_addr.add(pmem_off);

    if rw == ReqOp::Read {
        memcpy_kk(mem.add(off as usize), pmem_addr, len as usize);
    } else {
        memcpy_kk(pmem_addr, mem.add(off as usize), len as usize);
    }

    kunmap_atomic(mem);
}

/// C: pmem_make_request() — drivers/block/pmem.c v4.1
///
/// A bio ending past the capacity ends with `-EIO` (this check is not in the facts file; it is
/// harmless, as `submit_bio` applies the same one first); a discard is a kernel `BUG` (the queue
/// does not advertise discard); otherwise every segment is copied and the bio ends with 0.
///
/// # Context
/// Any context the submitter is in; never sleeps.
pub fn pmem_make_request(pmem: &PmemDevice, bio: &mut Bio) {
    kfn!("pmem_make_request");
    let mut err = None;

    'out: {
        if bio.end_sector() > pmem.size >> SECTOR_SHIFT {
            err = Some(Errno::EIO);
            break 'out;
        }

        bug_on!(bio.op == ReqOp::Discard);

        let rw = if bio.op.is_write() { ReqOp::Write } else { ReqOp::Read };
        let mut sector = bio.sector;
        for bvec in bio.segments() {
            pmem_do_bvec(pmem, bvec.page, bvec.len, bvec.offset, rw, sector);
            sector += (bvec.len >> SECTOR_SHIFT) as u64;
        }
    }

    bio_endio(bio, err);
}

/// C: pmem_rw_page() — drivers/block/pmem.c v4.1
///
/// `->rw_page`: one whole page at `sector`; always succeeds (`page_endio` not modelled).
///
/// # Context
/// Any; never sleeps.
pub fn pmem_rw_page(pmem: &PmemDevice, sector: Sector, page: Page, write: bool) -> Result<(), Errno> {
    kfn!("pmem_rw_page");
    let rw = if write { ReqOp::Write } else { ReqOp::Read };
    pmem_do_bvec(pmem, page, PAGE_SIZE as u32, 0, rw, sector);
    Ok(())
}

/// C: pmem_direct_access() — drivers/block/pmem.c v4.1
///
/// `->direct_access(bdev, sector, &kaddr, &pfn, size)`: `pmem` is the disk's `private_data`
/// (`None`: `-ENODEV`); `kaddr = virt_addr + offset`, `pfn = (phys_addr + offset) >> PAGE_SHIFT`
/// and the return value is `size - offset`, the bytes to the end of the device (`size` is the
/// device's, the caller's request is ignored: `bdev_direct_access` clamps to it).
///
/// # Context
/// Any; pure arithmetic — no allocation, no lock, no sleep.
pub fn pmem_direct_access(
    pmem: Option<&PmemDevice>,
    sector: Sector,
    _size: i64,
) -> Result<(KAddr, u64, i64), Errno> {
    kfn!("pmem_direct_access");
    let offset = sector << SECTOR_SHIFT;
    let Some(pmem) = pmem else {
        return Err(Errno::ENODEV);
    };
    let kaddr = pmem.virt_addr.add(offset as usize);
    let pfn = (pmem.phys_addr + offset) >> PAGE_SHIFT;
    Ok((kaddr, pfn, (pmem.size - offset) as i64))
}

/// `pmem_fops` and the queue's `make_request_fn`.
impl BlockDriver for PmemDevice {
    fn submit_bio(&self, bio: &mut Bio) {
        pmem_make_request(self, bio);
    }

    fn has_rw_page(&self) -> bool {
        true
    }

    fn rw_page(&self, sector: Sector, page: Page, write: bool) -> Result<(), Errno> {
        pmem_rw_page(self, sector, page, write)
    }

    fn has_direct_access(&self) -> bool {
        true
    }

    fn direct_access(&self, sector: Sector, size: i64) -> Result<(KAddr, u64, i64), Errno> {
        pmem_direct_access(Some(self), sector, size)
    }
}

/// A probed pmem device and its disk `pmem0`.
#[derive(Clone)]
pub struct Pmem {
    dev: Arc<PmemDevice>,
    disk: Arc<Gendisk>,
}

impl Pmem {
    /// `blkdev_get` of the whole disk.
    pub fn open(&self) -> Result<Bdev, Errno> {
        Bdev::open(&self.disk, 0)
    }

    /// The gendisk.
    pub fn disk(&self) -> &Arc<Gendisk> {
        &self.disk
    }

    /// The `pmem_device`.
    pub fn device(&self) -> &Arc<PmemDevice> {
        &self.dev
    }
}

/// C: pmem_alloc() — drivers/block/pmem.c v4.1
///
/// Maps the range (`request_mem_region` + `ioremap_nocache`: here [`reserve_region`] of the pages
/// covering `size`), then the queue and a disk `pmem<id>` of `size >> 9` sectors.
///
/// # Context
/// Process context; may sleep.
fn pmem_alloc(size: u64, id: u32) -> Result<Pmem, Errno> {
    kfn!("pmem_alloc");
    let pages = size.div_ceil(PAGE_SIZE as u64);
    let virt_addr = reserve_region(pages, "pmem");
    // __pa(virt_addr): the direct map is linear.
    let phys_addr = virt_addr.value() - PAGE_OFFSET;
    let dev = Arc::new(PmemDevice { phys_addr, virt_addr, size });
    let disk = Gendisk::new(
        format!("pmem{id}"),
        PMEM_MAJOR,
        0,
        size >> SECTOR_SHIFT,
        dev.clone() as Arc<dyn BlockDriver>,
    );
    Ok(Pmem { dev, disk })
}

/// C: pmem_probe() — drivers/block/pmem.c v4.1
///
/// Probes a pmem resource of `size_bytes` (`platform_get_resource`; none — size 0 — is
/// `-ENXIO`) and adds its disk `pmem0`.
///
/// # Context
/// Process context; may sleep. Must run inside a ksim run.
pub fn pmem_probe(size_bytes: u64) -> Result<Pmem, Errno> {
    kfn!("pmem_probe");
    if size_bytes == 0 {
        return Err(Errno::ENXIO);
    }
    pmem_alloc(size_bytes, 0)
}

/// C: pmem_remove() — drivers/block/pmem.c v4.1
///
/// `pmem_free`: `del_gendisk`, `put_disk`, `blk_cleanup_queue`, `iounmap`, `release_mem_region`.
/// The reserved range is outside the page allocator, so nothing is leak-checked.
///
/// # Context
/// Process context.
pub fn pmem_remove(pmem: Pmem) {
    kfn!("pmem_remove");
    drop(pmem);
}
