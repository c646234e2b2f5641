//! C disks behind ksim's block layer (`<linux/blkdev.h>`, `<linux/bio.h>`): `add_disk()` makes
//! the C gendisk an ordinary ksim disk whose bios are handed to the C driver's `->submit_bio` as
//! C `struct bio`s (pages as `struct page` mirrors), `->rw_page` and `->ioctl` likewise, and the
//! driver's `bio_endio()` completes the ksim bio. Queue flags and limits the driver set decide
//! what the block layer accepts (`QUEUE_FLAG_NOWAIT`, discard limits).

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use std::sync::Arc;

use ksim::blk::{bio_endio_at, Bdev, Bio, BlockDriver, Gendisk, ReqOp, Sector};
use ksim::errno::Errno;
use ksim::gfp::{__GFP_ZERO, GFP_KERNEL};
use ksim::mm::{slab, Page};

use crate::bind::{loc, static_str};
use crate::state::{state, CPage};

/// `struct bvec_iter` (bvec.h: packed, 4-aligned).
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub(crate) struct CBvecIter {
    pub bi_sector: u64,
    pub bi_size: u32,
    pub bi_idx: u32,
    pub bi_bvec_done: u32,
}

/// `struct bio_vec`.
#[repr(C)]
pub(crate) struct CBioVec {
    pub bv_page: *mut CPage,
    pub bv_len: c_uint,
    pub bv_offset: c_uint,
}

/// `struct bio` (blk_types.h).
#[repr(C)]
pub(crate) struct CBio {
    pub bi_next: *mut CBio,
    pub bi_bdev: *mut CBlockDevice,
    pub bi_opf: u32,
    pub bi_flags: u16,
    pub bi_ioprio: u16,
    pub bi_status: u8,
    pub bi_iter: CBvecIter,
    pub bi_end_io: *mut c_void,
    pub bi_private: *mut c_void,
    pub bi_vcnt: u16,
    pub bi_max_vecs: u16,
    pub bi_io_vec: *mut CBioVec,
}

/// `struct block_device`.
#[repr(C)]
pub(crate) struct CBlockDevice {
    pub bd_start_sect: u64,
    pub bd_nr_sectors: u64,
    pub bd_disk: *mut CGendisk,
    pub bd_partno: u8,
}

/// `struct queue_limits`.
#[repr(C)]
pub(crate) struct CLimits {
    pub physical_block_size: c_uint,
    pub logical_block_size: c_uint,
    pub max_hw_sectors: c_uint,
    pub max_discard_sectors: c_uint,
    pub max_hw_discard_sectors: c_uint,
    pub max_write_zeroes_sectors: c_uint,
    pub discard_granularity: c_uint,
    pub max_discard_segments: u16,
}

/// `struct request_queue`.
#[repr(C)]
pub(crate) struct CQueue {
    pub queue_flags: c_ulong,
    pub limits: CLimits,
}

/// `struct block_device_operations`.
#[repr(C)]
pub(crate) struct CFops {
    pub submit_bio: Option<unsafe extern "C-unwind" fn(*mut CBio)>,
    pub open: *mut c_void,
    pub release: *mut c_void,
    pub rw_page: Option<unsafe extern "C-unwind" fn(*mut CBlockDevice, u64, *mut CPage, c_uint) -> c_int>,
    pub ioctl: Option<unsafe extern "C-unwind" fn(*mut CBlockDevice, c_uint, c_uint, c_ulong) -> c_int>,
    pub compat_ioctl: *mut c_void,
    pub owner: *mut c_void,
}

/// `struct gendisk`.
#[repr(C)]
pub(crate) struct CGendisk {
    pub major: c_int,
    pub first_minor: c_int,
    pub minors: c_int,
    pub disk_name: [c_char; 32],
    pub flags: u16,
    pub fops: *const CFops,
    pub queue: *mut CQueue,
    pub private_data: *mut c_void,
    pub ksim_capacity: u64,
    pub ksim_disk: *mut c_void,
}

/// `QUEUE_FLAG_NOWAIT` (6.1).
const QUEUE_FLAG_NOWAIT: u32 = 29;
/// `REQ_NOWAIT` (6.1: bit 21).
const REQ_NOWAIT: u32 = 1 << 21;

/// A disk C added, in this execution.
pub(crate) struct DiskEntry {
    cdisk: usize,
    disk: Arc<Gendisk>,
}

/// The ksim driver of a C gendisk.
struct CDisk {
    cdisk: usize,
}

impl CDisk {
    fn disk(&self) -> &CGendisk {
        // SAFETY: a gendisk C allocated with blk_alloc_disk; it outlives its ksim disk (put_disk
        // comes after del_gendisk).
        unsafe { &*(self.cdisk as *const CGendisk) }
    }

    fn fops(&self) -> Option<&CFops> {
        // SAFETY: the driver's (static) operations table.
        unsafe { self.disk().fops.as_ref() }
    }

    fn queue(&self) -> Option<&CQueue> {
        // SAFETY: the queue blk_alloc_disk allocated.
        unsafe { self.disk().queue.as_ref() }
    }

    fn bdev(&self) -> CBlockDevice {
        let d = self.disk();
        CBlockDevice {
            bd_start_sect: 0,
            bd_nr_sectors: d.ksim_capacity,
            bd_disk: self.cdisk as *mut CGendisk,
            bd_partno: 0,
        }
    }
}

/// A C bio in flight and the ksim bio it stands for (`cbio` first: `bio_endio` finds the call
/// from the C bio's address).
#[repr(C)]
struct BioCall {
    cbio: CBio,
    rust: *mut Bio,
}

/// A negative errno from C as the model's errno (`-EIO` for one ksim does not name).
fn errno(r: c_int) -> Errno {
    Errno::from_neg(i64::from(r)).unwrap_or(Errno::EIO)
}

/// `blk_status_to_errno()` (block/blk-core.c).
fn status_errno(sts: u8) -> Option<Errno> {
    match sts {
        0 => None,
        1 => Some(Errno::EOPNOTSUPP),
        3 => Some(Errno::ENOSPC),
        9 => Some(Errno::ENOMEM),
        12 => Some(Errno::EAGAIN),
        _ => Some(Errno::EIO),
    }
}

impl BlockDriver for CDisk {
    fn submit_bio(&self, bio: &mut Bio) {
        let Some(submit) = self.fops().and_then(|f| f.submit_bio) else {
            bio_endio_at(ksim::Loc::new("block/blk-core.c", 0), bio, Some(Errno::EIO));
            return;
        };
        let st = state();
        let mut vecs: smallvec::SmallVec<[CBioVec; 4]> = bio
            .segments()
            .map(|v| CBioVec { bv_page: st.cpage(v.page), bv_len: v.len, bv_offset: v.offset })
            .collect();
        drop(st);
        let op = match bio.op {
            ReqOp::Read | ReqOp::ReadAhead => 0,
            ReqOp::Write => 1,
            ReqOp::Discard => 3,
        };
        let mut bdev = self.bdev();
        let mut call = BioCall {
            cbio: CBio {
                bi_next: std::ptr::null_mut(),
                bi_bdev: &mut bdev,
                bi_opf: op | if bio.nowait { REQ_NOWAIT } else { 0 },
                bi_flags: 0,
                bi_ioprio: 0,
                bi_status: 0,
                bi_iter: CBvecIter {
                    bi_sector: bio.sector,
                    bi_size: bio.size() as u32,
                    bi_idx: 0,
                    bi_bvec_done: 0,
                },
                bi_end_io: std::ptr::null_mut(),
                bi_private: std::ptr::null_mut(),
                bi_vcnt: vecs.len() as u16,
                bi_max_vecs: vecs.len() as u16,
                bi_io_vec: vecs.as_mut_ptr(),
            },
            rust: bio,
        };
        // SAFETY: the driver's ->submit_bio with a bio whose parts live until it returns (ksim's
        // drivers complete synchronously, as brd does).
        unsafe { submit(&mut call.cbio) };
    }

    fn has_rw_page(&self) -> bool {
        self.fops().is_some_and(|f| f.rw_page.is_some())
    }

    fn rw_page(&self, sector: Sector, page: Page, write: bool) -> Result<(), Errno> {
        let Some(rw) = self.fops().and_then(|f| f.rw_page) else { return Err(Errno::EOPNOTSUPP) };
        let cpage = state().cpage(page);
        let mut bdev = self.bdev();
        // SAFETY: the driver's ->rw_page.
        let r = unsafe { rw(&mut bdev, sector, cpage, write as c_uint) };
        if r < 0 {
            Err(errno(r))
        } else {
            Ok(())
        }
    }

    fn ioctl(&self, _bdev: &Bdev, cmd: u32, arg: u64) -> Result<i64, Errno> {
        let Some(ioctl) = self.fops().and_then(|f| f.ioctl) else { return Err(Errno::ENOTTY) };
        let mut bdev = self.bdev();
        // SAFETY: the driver's ->ioctl.
        let r = unsafe { ioctl(&mut bdev, 0, cmd, arg as c_ulong) };
        if r < 0 {
            Err(errno(r))
        } else {
            Ok(i64::from(r))
        }
    }

    fn supports_discard(&self) -> bool {
        self.queue().is_some_and(|q| q.limits.max_discard_sectors > 0)
    }

    fn supports_nowait(&self) -> bool {
        self.queue().is_some_and(|q| q.queue_flags & (1 << QUEUE_FLAG_NOWAIT) != 0)
    }
}

// SAFETY: a C gendisk is plain memory the driver owns; the model calls into it from whichever
// task submits I/O, as the kernel does.
unsafe impl Send for CDisk {}
unsafe impl Sync for CDisk {}

/// The disks C modules added in the current execution, in the order added.
pub fn disks() -> Vec<Arc<Gendisk>> {
    let st = state();
    let d = st.disks.lock().unwrap_or_else(|e| e.into_inner());
    d.iter().map(|e| e.disk.clone()).collect()
}

/// The disks C modules added in the current execution, with their C gendisks.
pub(crate) fn disks_with_c() -> Vec<(*mut CGendisk, Arc<Gendisk>)> {
    let st = state();
    let d = st.disks.lock().unwrap_or_else(|e| e.into_inner());
    d.iter().map(|e| (e.cdisk as *mut CGendisk, e.disk.clone())).collect()
}

/// The disk named `name` (`ram0`) a C module added in the current execution.
pub fn disk(name: &str) -> Option<Arc<Gendisk>> {
    disks().into_iter().find(|d| d.name == name)
}

fn zalloc(at: ksim::Loc, size: usize) -> *mut c_void {
    slab::kmalloc_at(at, "blk_alloc_disk", size, GFP_KERNEL | __GFP_ZERO)
        .and_then(ksim::ffi::host_ptr)
        .map_or(std::ptr::null_mut(), |p| p as *mut c_void)
}

unsafe extern "C-unwind" fn blk_alloc_disk(_node: c_int, f: *const c_char, l: c_int) -> *mut CGendisk {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    let disk = zalloc(at, std::mem::size_of::<CGendisk>()) as *mut CGendisk;
    if disk.is_null() {
        return disk;
    }
    let q = zalloc(at, std::mem::size_of::<CQueue>()) as *mut CQueue;
    if q.is_null() {
        free(at, disk as *mut c_void);
        return std::ptr::null_mut();
    }
    // SAFETY: freshly allocated, zeroed C structs.
    unsafe {
        (*q).limits.logical_block_size = 512;
        (*q).limits.physical_block_size = 512;
        (*disk).queue = q;
    }
    disk
}

fn free(at: ksim::Loc, p: *mut c_void) {
    if let Some(a) = ksim::ffi::kaddr_of(p as usize) {
        slab::kfree_at(at, a);
    }
}

unsafe extern "C-unwind" fn add_disk(d: *mut CGendisk, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's arguments: a gendisk from blk_alloc_disk, its name NUL-terminated.
    let (at, name, disk) = unsafe {
        let name = std::ffi::CStr::from_ptr((*d).disk_name.as_ptr()).to_string_lossy().into_owned();
        (loc(f, l), name, &*d)
    };
    ksim::sched::might_sleep_at(at);
    let driver: Arc<dyn BlockDriver> = Arc::new(CDisk { cdisk: d as usize });
    let g = Gendisk::new(name, disk.major as u32, disk.first_minor as u32, disk.ksim_capacity, driver);
    let st = state();
    st.disks.lock().unwrap_or_else(|e| e.into_inner()).push(DiskEntry { cdisk: d as usize, disk: g });
    0
}

unsafe extern "C-unwind" fn del_gendisk(d: *mut CGendisk, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    ksim::sched::might_sleep_at(unsafe { loc(f, l) });
    let st = state();
    st.disks.lock().unwrap_or_else(|e| e.into_inner()).retain(|e| e.cdisk != d as usize);
}

unsafe extern "C-unwind" fn put_disk(d: *mut CGendisk, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    if d.is_null() {
        return;
    }
    // SAFETY: a gendisk from blk_alloc_disk.
    let q = unsafe { (*d).queue };
    free(at, q as *mut c_void);
    free(at, d as *mut c_void);
}

unsafe extern "C-unwind" fn register_blkdev(
    major: c_uint,
    name: *const c_char,
    _probe: *mut c_void,
    f: *const c_char,
    l: c_int,
) -> c_int {
    // SAFETY: C's arguments.
    let (at, name) = unsafe { (loc(f, l), static_str(name)) };
    ksim::sched::might_sleep_at(at);
    let st = state();
    let mut m = st.majors.lock().unwrap_or_else(|e| e.into_inner());
    if m.iter().any(|(n, _)| *n == major) {
        return -Errno::EBUSY.code();
    }
    m.push((major, name.to_string()));
    0
}

unsafe extern "C-unwind" fn unregister_blkdev(
    major: c_uint,
    _name: *const c_char,
    f: *const c_char,
    l: c_int,
) {
    // SAFETY: C's __FILE__.
    ksim::sched::might_sleep_at(unsafe { loc(f, l) });
    let st = state();
    st.majors.lock().unwrap_or_else(|e| e.into_inner()).retain(|(n, _)| *n != major);
}

unsafe extern "C-unwind" fn bio_endio(b: *mut CBio, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__; `b` is the C bio of a BioCall (the only bios C gets), which is its
    // first field.
    let (at, call) = unsafe { (loc(f, l), &mut *(b as *mut BioCall)) };
    // SAFETY: the ksim bio outlives the call.
    let bio = unsafe { &mut *call.rust };
    bio_endio_at(at, bio, status_errno(call.cbio.bi_status));
}

/// The functions of this file, by `ksim_<name>`.
pub(crate) const TABLE: &[(&str, *const c_void)] = &[
    ("blk_alloc_disk", blk_alloc_disk as *const c_void),
    ("add_disk", add_disk as *const c_void),
    ("del_gendisk", del_gendisk as *const c_void),
    ("put_disk", put_disk as *const c_void),
    ("register_blkdev", register_blkdev as *const c_void),
    ("unregister_blkdev", unregister_blkdev as *const c_void),
    ("bio_endio", bio_endio as *const c_void),
];
