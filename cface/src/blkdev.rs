//! The submitter's side of the block layer for C callers (a KUnit test of a block driver):
//! `blkdev_get_by_dev()`/`blkdev_put()`, `bio_alloc()`, `bio_add_page()`, `submit_bio()`,
//! `submit_bio_wait()`, `bio_put()`. A C bio is turned into a ksim bio and submitted through
//! ksim's block layer (its checks: beyond the end of the device, REQ_NOWAIT support, the I/O
//! path), which hands it to the disk's driver — a C driver's `->submit_bio` gets a C bio again.
//!
//! Block devices and bios live in host memory: the kernel's come from slab caches of its own,
//! which ksim does not model, so a test's page counts are the driver's alone.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::Mutex;

use ksim::blk::{Bdev, Bio, ReqOp};
use ksim::errno::Errno;
use ksim::gfp::__GFP_DIRECT_RECLAIM;

use crate::bind::{gfp, loc};
use crate::disk::{CBio, CBioVec, CBlockDevice, CBvecIter};
use crate::state::{state, CPage};

/// An opened block device: the C struct first (what C sees), then the model's.
#[repr(C)]
struct Opened {
    c: CBlockDevice,
    bdev: Bdev,
}

/// A C bio and its vector, in host memory.
#[repr(C)]
struct OwnedBio {
    c: CBio,
    vecs: Vec<CBioVec>,
}

/// This execution's open devices (by the C pointer), so `blkdev_put()` finds them.
#[derive(Default)]
struct Opens(Mutex<Vec<usize>>);

/// `REQ_NOWAIT` (6.1: bit 21).
const REQ_NOWAIT: u32 = 1 << 21;

fn err_ptr(e: Errno) -> *mut c_void {
    (-(e.code() as isize)) as usize as *mut c_void
}

unsafe extern "C-unwind" fn blkdev_get_by_dev(dev: u32, _f: *const c_char, _l: c_int) -> *mut c_void {
    let (major, minor) = ((dev >> 20) as c_int, (dev & 0xfffff) as c_int);
    let found = crate::disk::disks_with_c().into_iter().find_map(|(cdisk, disk)| {
        // SAFETY: a gendisk C added in this execution (disks_with_c lists live ones).
        let c = unsafe { &*cdisk };
        let parts = c.minors.max(1);
        (c.major == major && minor >= c.first_minor && minor < c.first_minor + parts)
            .then(|| (cdisk, disk, (minor - c.first_minor) as usize))
    });
    let Some((cdisk, disk, partno)) = found else { return err_ptr(Errno::ENXIO) };
    let bdev = match Bdev::open(&disk, partno) {
        Ok(b) => b,
        Err(e) => return err_ptr(e),
    };
    let c = CBlockDevice {
        bd_start_sect: bdev.start_sect(),
        bd_nr_sectors: bdev.nr_sects(),
        bd_disk: cdisk,
        bd_partno: partno as u8,
    };
    let p = Box::into_raw(Box::new(Opened { c, bdev }));
    ksim::ffi::exec_local::<Opens>().0.lock().unwrap_or_else(|e| e.into_inner()).push(p as usize);
    p.cast()
}

/// Hands a block device the Rust side opened (a modelled driver's, such as brd v4.0's) to C code
/// as its `struct block_device *` (an address, to pass to a C function): a C caller of a
/// modelled driver. Give it back with [`release_for_c`].
///
/// # Context
/// Inside a run.
pub fn bdev_for_c(bdev: Bdev) -> usize {
    let c = CBlockDevice {
        bd_start_sect: bdev.start_sect(),
        bd_nr_sectors: bdev.nr_sects(),
        bd_disk: std::ptr::null_mut(),
        bd_partno: bdev.partno as u8,
    };
    let p = Box::into_raw(Box::new(Opened { c, bdev }));
    ksim::ffi::exec_local::<Opens>().0.lock().unwrap_or_else(|e| e.into_inner()).push(p as usize);
    p as usize
}

/// Closes a block device [`bdev_for_c`] handed out (as `blkdev_put()`).
pub fn release_for_c(p: usize) {
    // SAFETY: checked against this execution's open devices before use.
    unsafe { blkdev_put(p as *mut c_void) }
}

/// The open device behind a C `struct block_device *`, if it is one of this execution's.
fn opened(b: *mut c_void) -> Option<&'static Opened> {
    let opens = ksim::ffi::exec_local::<Opens>();
    let v = opens.0.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: listed, so made above and not yet put (a put removes it first).
    v.contains(&(b as usize)).then(|| unsafe { &*(b as *const Opened) })
}

/// `bdev_direct_access(bdev, sector, &addr, &pfn, size)` (the 4.0 wrapper the 2015 thread's
/// callers used): the kernel address as a host pointer C can use.
unsafe extern "C-unwind" fn bdev_direct_access(
    b: *mut c_void,
    sector: u64,
    addr: *mut *mut c_void,
    pfn: *mut u64,
    size: i64,
    f: *const c_char,
    l: c_int,
) -> i64 {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    let Some(o) = opened(b) else { return -i64::from(Errno::ENXIO.code()) };
    match ksim::dax::bdev_direct_access_at(at, &o.bdev, sector, size) {
        Ok(m) => {
            let p = ksim::ffi::host_ptr(m.kaddr).map_or(std::ptr::null_mut(), |p| p.cast());
            // SAFETY: C's out-parameters.
            unsafe {
                *addr = p;
                *pfn = m.pfn;
            }
            m.len
        }
        Err(e) => e,
    }
}

unsafe extern "C-unwind" fn blkdev_put(b: *mut c_void) {
    let opens = ksim::ffi::exec_local::<Opens>();
    let mut v = opens.0.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = v.iter().position(|&p| p == b as usize) {
        v.remove(i);
        // SAFETY: made by blkdev_get_by_dev above, not yet put.
        drop(unsafe { Box::from_raw(b as *mut Opened) });
    }
}

unsafe extern "C-unwind" fn bio_alloc(
    bdev: *mut CBlockDevice,
    nr_vecs: c_uint,
    opf: u32,
    g: c_uint,
    f: *const c_char,
    l: c_int,
) -> *mut CBio {
    if gfp(g).contains(__GFP_DIRECT_RECLAIM) {
        // SAFETY: C's __FILE__.
        ksim::sched::might_sleep_at(unsafe { loc(f, l) });
    }
    let mut b = Box::new(OwnedBio {
        c: CBio {
            bi_next: std::ptr::null_mut(),
            bi_bdev: bdev,
            bi_opf: opf,
            bi_flags: 0,
            bi_ioprio: 0,
            bi_status: 0,
            bi_iter: CBvecIter { bi_sector: 0, bi_size: 0, bi_idx: 0, bi_bvec_done: 0 },
            bi_end_io: std::ptr::null_mut(),
            bi_private: std::ptr::null_mut(),
            bi_vcnt: 0,
            bi_max_vecs: nr_vecs.min(u16::MAX as c_uint) as u16,
            bi_io_vec: std::ptr::null_mut(),
        },
        vecs: Vec::with_capacity(nr_vecs as usize),
    });
    b.c.bi_io_vec = b.vecs.as_mut_ptr();
    Box::into_raw(b).cast()
}

unsafe extern "C-unwind" fn bio_add_page(b: *mut CBio, page: *mut CPage, len: c_uint, off: c_uint) -> c_int {
    // SAFETY: a bio bio_alloc made (the C struct is its first field).
    let b = unsafe { &mut *(b as *mut OwnedBio) };
    if b.vecs.len() >= usize::from(b.c.bi_max_vecs) {
        return 0;
    }
    b.vecs.push(CBioVec { bv_page: page, bv_len: len, bv_offset: off });
    b.c.bi_io_vec = b.vecs.as_mut_ptr();
    b.c.bi_vcnt = b.vecs.len() as u16;
    b.c.bi_iter.bi_size += len;
    len as c_int
}

type EndIo = unsafe extern "C-unwind" fn(*mut CBio);

unsafe extern "C-unwind" fn submit_bio(b: *mut CBio, wait: c_int, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    if wait != 0 {
        ksim::sched::might_sleep_at(at);
    }
    // SAFETY: a bio bio_alloc made.
    let ob = unsafe { &mut *(b as *mut OwnedBio) };
    let Some(opened) = opened(ob.c.bi_bdev.cast()) else {
        ob.c.bi_status = 10; // BLK_STS_IOERR
        return -Errno::ENXIO.code() as c_int;
    };
    let op = match ob.c.bi_opf & 0xff {
        0 => ReqOp::Read,
        1 => ReqOp::Write,
        3 => ReqOp::Discard,
        _ => {
            ob.c.bi_status = 1; // BLK_STS_NOTSUPP
            return -Errno::EOPNOTSUPP.code() as c_int;
        }
    };
    let sector = ob.c.bi_iter.bi_sector;
    let mut bio = if op == ReqOp::Discard {
        Bio::discard(sector, u64::from(ob.c.bi_iter.bi_size))
    } else {
        let mut bio = Bio::new(op, sector);
        for v in &ob.vecs {
            // SAFETY: pages C got from ksim (alloc_page), as struct pages ksim made.
            let Some(page) = (unsafe { crate::bind::page_of(v.bv_page) }) else {
                ksim::sched::bug_at(at);
            };
            bio.add_page(page, v.bv_len, v.bv_offset);
        }
        bio
    };
    bio.nowait = ob.c.bi_opf & REQ_NOWAIT != 0;
    let _ = state();
    let r = ksim::blk::submit_bio(&opened.bdev, &mut bio);
    ob.c.bi_status = match r {
        Ok(()) => 0,
        Err(Errno::EOPNOTSUPP) => 1,
        Err(Errno::ENOSPC) => 3,
        Err(Errno::ENOMEM) => 9,
        Err(Errno::EAGAIN) => 12,
        Err(_) => 10,
    };
    if wait == 0 && !ob.c.bi_end_io.is_null() {
        // SAFETY: the bio's bi_end_io, called once as bio_endio() calls it.
        let end: EndIo = unsafe { std::mem::transmute::<*mut c_void, EndIo>(ob.c.bi_end_io) };
        // SAFETY: as above.
        unsafe { end(b) };
    }
    r.map_or_else(|e| -(e.code() as c_int), |()| 0)
}

unsafe extern "C-unwind" fn bio_put(b: *mut CBio) {
    if !b.is_null() {
        // SAFETY: a bio bio_alloc made, put once.
        drop(unsafe { Box::from_raw(b as *mut OwnedBio) });
    }
}

unsafe extern "C-unwind" fn nr_allocated_pages() -> u64 {
    ksim::mm::page_alloc::nr_allocated_pages()
}

unsafe extern "C-unwind" fn set_free_pages(n: i64) {
    ksim::ffi::set_free_pages(u64::try_from(n).ok());
}

unsafe extern "C-unwind" fn non_block(start: c_int) {
    if start != 0 {
        ksim::sched::non_block_start();
    } else {
        ksim::sched::non_block_end();
    }
}

/// The functions of this file, by `ksim_<name>`.
pub(crate) const TABLE: &[(&str, *const c_void)] = &[
    ("blkdev_get_by_dev", blkdev_get_by_dev as *const c_void),
    ("blkdev_put", blkdev_put as *const c_void),
    ("bdev_direct_access", bdev_direct_access as *const c_void),
    ("bio_alloc", bio_alloc as *const c_void),
    ("bio_add_page", bio_add_page as *const c_void),
    ("submit_bio", submit_bio as *const c_void),
    ("bio_put", bio_put as *const c_void),
    ("nr_allocated_pages", nr_allocated_pages as *const c_void),
    ("set_free_pages", set_free_pages as *const c_void),
    ("non_block", non_block as *const c_void),
];
