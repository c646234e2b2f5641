//! brd v4.0 `direct_access` through the 4.0 `bdev_direct_access` wrapper (facts §1.10, §1.11,
//! §1.12; checklist 1, 13-15): one page whatever the size, the wrapper's errors, allocation only
//! on first touch, and the data-dependent sleep: under a spinlock it is silent in observed mode
//! on a pre-populated device, reported in contract mode, and reported in observed mode again once
//! `BLKFLSBUF` has freed the pages.
#![forbid(unsafe_code)]

mod v4_common;

use ksim::blk::{blkdev_ioctl, Caps, BLKFLSBUF};
use ksim::dax::bdev_direct_access;
use ksim::errno::Errno;
use ksim::mm::{memcpy_from, memcpy_to, nr_allocated_pages, page_to_pfn, page_zone, Zone, PAGE_SIZE};
use ksim::spinlock::{spin_lock, spin_unlock, SpinLock};
use ksim::{CheckMode, Config, Violation};
use ksim_drivers::brd_v4_0::{brd_direct_access, brd_exit, brd_init, brd_lookup_page, Params};
use v4_common::*;

const PS: i64 = PAGE_SIZE as i64;

fn small() -> Params {
    Params { rd_nr: 1, rd_size: 1024, dax: true, ..Params::default() }
}

#[test]
fn brd_v4_0_direct_access_returns_one_page_or_the_smaller_size() {
    let (_, lens) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        let sizes = [PS, 2 * PS, 1 << 20, 4095, 512, 1];
        let lens: Vec<i64> = sizes.iter().map(|&s| bdev_direct_access(&bdev, 0, s).unwrap().len).collect();
        drop(bdev);
        brd_exit(brd);
        lens
    });
    // min(PAGE_SIZE, size): brd ignores size and always returns PAGE_SIZE.
    assert_eq!(lens, vec![PS, PS, PS, 4095, 512, 1]);
}

#[test]
fn brd_v4_0_direct_access_wrapper_errors() {
    let (_, (unaligned, past_end, straddling_end, negative, last)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        let n = bdev.nr_sects();
        let unaligned = bdev_direct_access(&bdev, 3, PS).map(|m| m.len);
        let past_end = bdev_direct_access(&bdev, n, PS).map(|m| m.len);
        let straddling_end = bdev_direct_access(&bdev, n - 8, 2 * PS).map(|m| m.len);
        let negative = bdev_direct_access(&bdev, 0, -5).map(|m| m.len);
        let last = bdev_direct_access(&bdev, n - 8, PS).map(|m| m.len);
        drop(bdev);
        brd_exit(brd);
        (unaligned, past_end, straddling_end, negative, last)
    });
    assert_eq!(unaligned, Err(Errno::EINVAL.neg()));
    assert_eq!(past_end, Err(Errno::ERANGE.neg()));
    assert_eq!(straddling_end, Err(Errno::ERANGE.neg()));
    assert_eq!(negative, Err(-5), "a negative size is returned as is");
    assert_eq!(last, Ok(PS));
}

#[test]
fn brd_v4_0_direct_access_without_dax_is_eopnotsupp() {
    let (o, (r, nr)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(Params { dax: false, ..small() }).unwrap();
        let bdev = brd.open(0).unwrap();
        let r = bdev_direct_access(&bdev, 0, PS).map(|m| m.len);
        let nr = brd.nr_pages(0);
        drop(bdev);
        brd_exit(brd);
        (r, nr)
    });
    assert_eq!(r, Err(Errno::EOPNOTSUPP.neg()));
    assert_eq!(nr, 0);
    assert!(brd_allocs(o.trace()).is_empty());
}

#[test]
fn brd_v4_0_direct_access_without_a_device_is_enodev() {
    let (_, r) = run_clean(Config::v4_0(), || brd_direct_access(None, 0, PS).map(|(_, _, len)| len));
    assert_eq!(r, Err(Errno::ENODEV));
}

#[test]
fn brd_v4_0_direct_access_allocates_once_and_returns_the_same_pfn() {
    let (o, (first, second, page_pfn, live_after_first, live_after_second, zone)) =
        run_clean(Config::v4_0().highmem(64), || {
            let brd = brd_init(small()).unwrap();
            let bdev = brd.open(0).unwrap();
            let a = bdev_direct_access(&bdev, 16, PS).unwrap();
            let live1 = nr_allocated_pages();
            let b = bdev_direct_access(&bdev, 16, PS).unwrap();
            let live2 = nr_allocated_pages();
            let page = brd_lookup_page(brd.device(0), 16).unwrap();
            let zone = page_zone(page);
            let pfn = page_to_pfn(page);
            drop(bdev);
            brd_exit(brd);
            (a, b, pfn, live1, live2, zone)
        });
    assert_eq!(first.pfn, second.pfn);
    assert_eq!(first.kaddr, second.kaddr);
    assert_eq!(first.pfn, page_pfn);
    assert!(!first.kaddr.is_null());
    assert_eq!((live_after_first, live_after_second), (1, 1));
    // With DAX the page is lowmem even on a highmem machine: page_address() is always valid.
    assert_eq!(zone, Zone::Normal);
    let allocs = brd_allocs(o.trace());
    assert_eq!(allocs.len(), 1);
    assert!(allocs[0].contains("alloc_page: GFP_NOIO|__GFP_ZERO order=0 zone=Normal"));
    assert!(allocs[0].ends_with("in brd_insert_page<-brd_direct_access<-bdev_direct_access"));
    // Both calls are traced by the wrapper, with the driver's frames.
    let dax: Vec<String> = o.trace().view(&[ksim::Cat::Dax]).lines().map(str::to_string).collect();
    assert_eq!(dax.len(), 2);
    assert!(dax[0].contains(&format!("direct_access: ram0 sector=16 size=4096 -> 4096 pfn={page_pfn:#x}")));
}

#[test]
fn brd_v4_0_direct_access_shares_data_with_block_io() {
    let (_, (via_dax, via_bio)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        write_bytes(&bdev, 8, &pattern(PAGE_SIZE, 1)).unwrap();
        let m = bdev_direct_access(&bdev, 8, PS).unwrap();
        let mut via_dax = vec![0u8; PAGE_SIZE];
        memcpy_from(&mut via_dax, m.kaddr);
        memcpy_to(m.kaddr.add(512), &pattern(512, 2));
        let via_bio = read_bytes(&bdev, 9, 512).unwrap();
        drop(bdev);
        brd_exit(brd);
        (via_dax, via_bio)
    });
    assert_eq!(via_dax, pattern(PAGE_SIZE, 1));
    assert_eq!(via_bio, pattern(512, 2));
}

#[test]
fn brd_v4_0_force_highmem_mutation_returns_a_null_kaddr() {
    let (_, (kaddr_null, zone)) = run_clean(Config::v4_0().highmem(64), || {
        let brd = brd_init(Params { force_highmem: true, ..small() }).unwrap();
        let bdev = brd.open(0).unwrap();
        let m = bdev_direct_access(&bdev, 0, PS).unwrap();
        let zone = page_zone(brd_lookup_page(brd.device(0), 0).unwrap());
        drop(bdev);
        brd_exit(brd);
        (m.kaddr.is_null(), zone)
    });
    assert!(kaddr_null);
    assert_eq!(zone, Zone::HighMem);
}

/// `direct_access` of sector 0 under a spinlock, optionally after pre-populating the device
/// and optionally after a `BLKFLSBUF`.
fn under_spinlock(populate: bool, flush: bool) -> impl Fn() -> i64 + Send + Sync + 'static {
    move || {
        let brd = brd_init(Params { rd_size: 64, ..small() }).unwrap();
        let bdev = brd.open(0).unwrap();
        if populate {
            fill_zeros(&bdev);
        }
        if flush {
            blkdev_ioctl(&bdev, BLKFLSBUF, 0, Caps { sys_admin: true }).unwrap();
        }
        let lock = SpinLock::new((), "dax_user.lock");
        let g = spin_lock(&lock);
        let r = bdev_direct_access(&bdev, 0, PS).map(|m| m.len);
        spin_unlock(g);
        drop(bdev);
        brd_exit(brd);
        r.unwrap_or_else(|e| e)
    }
}

#[test]
fn brd_v4_0_direct_access_under_spinlock_on_unpopulated_device_sleeps_in_atomic() {
    let (o, _) = run_std(Config::v4_0(), under_spinlock(false, false));
    assert_eq!(o.kinds(), vec![Violation::SleepInAtomic]);
    let r = o.first_report().unwrap();
    assert!(r
        .headline()
        .starts_with("BUG: sleeping function called from invalid context at driver/src/brd_v4_0.rs:"));
    assert_lines_in_order(
        &r.text,
        &[
            "in_atomic(): 1, irqs_disabled(): 0, pid: 1, name: main",
            "1 lock held by main/1:",
            "Preemption disabled at:",
            "Call trace (simulated):",
            " alloc_page(GFP_NOIO|__GFP_ZERO) <- brd_insert_page <- brd_direct_access <- bdev_direct_access",
        ],
    );
    assert!(r.text.contains(" #0: (dax_user.lock){+.+.}, at: driver/tests/brd_v4_0_dax.rs:"));
}

#[test]
fn brd_v4_0_direct_access_under_spinlock_after_prepopulation_is_clean_in_observed_mode() {
    let (o, len) = run_clean(Config::v4_0(), under_spinlock(true, false));
    assert_eq!(len, PS);
    // The call did not allocate: every brd allocation came from the zero-fill writes.
    assert!(brd_allocs(o.trace()).iter().all(|l| l.contains("copy_to_brd_setup")));
    assert_eq!(brd_allocs(o.trace()).len(), 16);
}

#[test]
fn brd_v4_0_direct_access_under_spinlock_after_prepopulation_is_reported_in_contract_mode() {
    let (o, _) = run_std(Config::v4_0().mode(CheckMode::Contract), under_spinlock(true, false));
    assert_eq!(o.kinds(), vec![Violation::SleepInAtomic]);
    let r = o.first_report().unwrap();
    assert!(r
        .headline()
        .starts_with("BUG: sleeping function called from invalid context at driver/tests/brd_v4_0_dax.rs:"));
    assert_lines_in_order(
        &r.text,
        &[
            "in_atomic(): 1, irqs_disabled(): 0, pid: 1, name: main",
            "1 lock held by main/1:",
            "ksim: contract: bdev_direct_access() may sleep (2015 linux-mm thread: \"Expect that .direct_access can sleep\")",
            "Call trace (simulated):",
            " bdev_direct_access()",
        ],
    );
}

#[test]
fn brd_v4_0_direct_access_under_spinlock_after_blkflsbuf_sleeps_in_atomic_again() {
    // "...and .direct_access will never do allocation until you flush the backing store".
    let (o, _) = run_std(Config::v4_0(), under_spinlock(true, true));
    assert_eq!(o.kinds(), vec![Violation::SleepInAtomic]);
    let r = o.first_report().unwrap();
    assert!(r
        .headline()
        .starts_with("BUG: sleeping function called from invalid context at driver/src/brd_v4_0.rs:"));
    assert!(r.text.contains(
        " alloc_page(GFP_NOIO|__GFP_ZERO) <- brd_insert_page <- brd_direct_access <- bdev_direct_access\n"
    ));
}
