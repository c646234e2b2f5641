//! brd v4.0 `BLKFLSBUF` (facts §1.5, §1.12; checklist 15): `-EBUSY` with more than one opener,
//! otherwise every page of the disk freed (in `FREE_BATCH` batches, without `brd_lock`), so the
//! next write allocates again; `-ENOTTY` for other commands, `-EACCES` without `CAP_SYS_ADMIN`;
//! and addresses handed out by `direct_access` dangle afterwards.
#![forbid(unsafe_code)]

mod v4_common;

use ksim::blk::{blkdev_ioctl, Caps, BLKFLSBUF};
use ksim::dax::bdev_direct_access;
use ksim::errno::Errno;
use ksim::mm::{memcpy_to, nr_allocated_pages, PAGE_SIZE};
use ksim::{Config, Violation};
use ksim_drivers::brd_v4_0::{brd_exit, brd_init, brd_ioctl, Params, FREE_BATCH};
use v4_common::*;

const ADMIN: Caps = Caps { sys_admin: true };
/// `BLKGETSIZE64` = `_IOR(0x12, 114, size_t)`.
const BLKGETSIZE64: u32 = 0x8008_1272;

fn small() -> Params {
    Params { rd_nr: 2, rd_size: 256, dax: true, ..Params::default() }
}

#[test]
fn brd_v4_0_blkflsbuf_with_two_openers_is_ebusy() {
    let (_, (r, nr, back)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        let other = brd.open(0).unwrap();
        write_bytes(&bdev, 0, &pattern(3 * PAGE_SIZE, 1)).unwrap();
        let r = blkdev_ioctl(&bdev, BLKFLSBUF, 0, ADMIN);
        let nr = brd.nr_pages(0);
        let back = read_bytes(&bdev, 0, 3 * PAGE_SIZE).unwrap();
        drop(other);
        drop(bdev);
        brd_exit(brd);
        (r, nr, back)
    });
    assert_eq!(r, Err(Errno::EBUSY));
    assert_eq!(nr, 3);
    assert_eq!(back, pattern(3 * PAGE_SIZE, 1));
}

#[test]
fn brd_v4_0_blkflsbuf_with_one_opener_frees_every_page() {
    // More than FREE_BATCH pages, so brd_free_pages needs several gang lookups.
    let pages = 2 * FREE_BATCH + 5;
    let (o, (r, nr, live, other_nr, back, nr_rewritten)) = run_clean(Config::v4_0(), move || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        write_bytes(&bdev, 0, &pattern(pages * PAGE_SIZE, 2)).unwrap();
        // The other device is untouched by a flush of ram0.
        let bdev1 = brd.open(1).unwrap();
        write_bytes(&bdev1, 0, &pattern(PAGE_SIZE, 3)).unwrap();
        let r = blkdev_ioctl(&bdev, BLKFLSBUF, 0, ADMIN);
        let nr = brd.nr_pages(0);
        let live = nr_allocated_pages();
        let other_nr = brd.nr_pages(1);
        let back = read_bytes(&bdev, 0, 2 * PAGE_SIZE).unwrap();
        // The next write allocates again.
        write_bytes(&bdev, 8, &pattern(512, 4)).unwrap();
        let rewritten = brd.nr_pages(0);
        drop((bdev, bdev1));
        brd_exit(brd);
        (r, nr, live, other_nr, back, rewritten)
    });
    assert_eq!(r, Ok(0));
    assert_eq!(nr, 0);
    assert_eq!(live, 1, "only ram1's page is left");
    assert_eq!(other_nr, 1);
    assert_eq!(back, vec![0u8; 2 * PAGE_SIZE]);
    assert_eq!(nr_rewritten, 1);
    let mem = o.trace().allocations();
    let freed = mem.lines().filter(|l| l.ends_with("in brd_free_pages<-brd_ioctl<-blkdev_ioctl")).count();
    assert_eq!(freed, pages, "{mem}");
    // Freed without brd_lock or RCU: preempt depth '.' on every free.
    assert!(mem
        .lines()
        .filter(|l| l.ends_with("in brd_free_pages<-brd_ioctl<-blkdev_ioctl"))
        .all(|l| l.contains(" ....: ")));
    assert_eq!(brd_allocs(o.trace()).len(), pages + 2);
}

#[test]
fn brd_v4_0_blkflsbuf_takes_brd_mutex_then_bd_mutex() {
    let (o, r) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        let r = blkdev_ioctl(&bdev, BLKFLSBUF, 0, ADMIN);
        drop(bdev);
        brd_exit(brd);
        r
    });
    assert_eq!(r, Ok(0));
    let locks: Vec<String> = o
        .trace()
        .view(&[ksim::Cat::Lock])
        .lines()
        .filter(|l| l.contains("mutex_lock"))
        .map(str::to_string)
        .collect();
    assert_eq!(locks.len(), 2, "{locks:#?}");
    assert!(locks[0].contains("brd_mutex"), "{}", locks[0]);
    assert!(locks[1].contains("&bdev->bd_mutex"), "{}", locks[1]);
}

#[test]
fn brd_v4_0_other_ioctls_are_enotty() {
    let (_, (generic, driver, flush)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        let generic = blkdev_ioctl(&bdev, BLKGETSIZE64, 0, ADMIN);
        let driver = brd_ioctl(brd.device(0), &bdev, BLKGETSIZE64, 0);
        let flush = brd_ioctl(brd.device(0), &bdev, BLKFLSBUF, 0);
        drop(bdev);
        brd_exit(brd);
        (generic, driver, flush)
    });
    assert_eq!(generic, Err(Errno::ENOTTY));
    assert_eq!(driver, Err(Errno::ENOTTY));
    assert_eq!(flush, Ok(0));
}

#[test]
fn brd_v4_0_blkflsbuf_without_cap_sys_admin_is_eacces() {
    let (_, (r, nr)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        write_bytes(&bdev, 0, &pattern(PAGE_SIZE, 5)).unwrap();
        let r = blkdev_ioctl(&bdev, BLKFLSBUF, 0, Caps { sys_admin: false });
        let nr = brd.nr_pages(0);
        drop(bdev);
        brd_exit(brd);
        (r, nr)
    });
    assert_eq!(r, Err(Errno::EACCES));
    assert_eq!(nr, 1);
}

#[test]
fn brd_v4_0_blkflsbuf_leaves_direct_access_addresses_dangling() {
    // No check for DAX users holding kaddr/pfn: the page they map is freed under them.
    let (o, _) = run_std(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        let m = bdev_direct_access(&bdev, 0, PAGE_SIZE as i64).unwrap();
        blkdev_ioctl(&bdev, BLKFLSBUF, 0, ADMIN).unwrap();
        memcpy_to(m.kaddr, &pattern(64, 6));
        drop(bdev);
        brd_exit(brd);
    });
    assert_eq!(o.kinds(), vec![Violation::UseAfterFree]);
    let r = o.first_report().unwrap();
    assert!(r
        .headline()
        .starts_with("BUG: KASAN: use-after-free in memcpy at driver/tests/brd_v4_0_ioctl.rs:"));
    assert!(r.text.contains("Write of size 64 at addr "), "{}", r.text);
    assert!(r.text.contains("alloc_page at driver/src/brd_v4_0.rs:"), "{}", r.text);
    assert!(r.text.contains("<- brd_insert_page <- brd_direct_access <- bdev_direct_access"), "{}", r.text);
    assert!(r.text.contains("__free_page at driver/src/brd_v4_0.rs:"), "{}", r.text);
    assert!(r.text.contains("<- brd_free_pages <- brd_ioctl"), "{}", r.text);
}
