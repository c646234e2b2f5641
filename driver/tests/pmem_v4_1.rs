//! pmem v4.1 (facts §2.6; checklist 13): `direct_access` is offset arithmetic over memory
//! reserved at probe — bytes to the end of the device, `kaddr = base + offset`, `pfn = base pfn +
//! offset / PAGE_SIZE`, no allocation, no sleep (clean under a spinlock in observed mode, still
//! reported in contract mode); block I/O and `->rw_page` copy under `kmap_atomic`; discard is a
//! BUG.
#![forbid(unsafe_code)]

mod v4_common;

use ksim::blk::{bdev_read_page, bdev_write_page, submit_bio, Bio, ReqOp};
use ksim::dax::bdev_direct_access;
use ksim::errno::Errno;
use ksim::highmem::page_address;
use ksim::mm::{__free_page, memcpy_from, memcpy_to, nr_allocated_pages, PAGE_SIZE};
use ksim::spinlock::{spin_lock, spin_unlock, SpinLock};
use ksim::{CheckMode, Config, Violation};
use ksim_drivers::pmem_v4_1::{pmem_direct_access, pmem_make_request, pmem_probe, pmem_remove};
use v4_common::*;

const SIZE: u64 = 64 * 1024;
const PS: i64 = PAGE_SIZE as i64;

#[test]
fn pmem_direct_access_returns_bytes_to_the_end_of_the_device() {
    let (_, (raw, base_pfn, kaddr_delta, via_wrapper, whole)) = run_clean(Config::v4_0(), || {
        let pmem = pmem_probe(SIZE).unwrap();
        let dev = pmem.device().clone();
        let raw: Vec<(u64, i64)> = [0u64, 8, 24, 120]
            .iter()
            .map(|&s| pmem_direct_access(Some(&dev), s, PS).map(|(_, pfn, len)| (pfn, len)).unwrap())
            .collect();
        let (k0, ..) = pmem_direct_access(Some(&dev), 0, PS).unwrap();
        let (k3, ..) = pmem_direct_access(Some(&dev), 24, PS).unwrap();
        let bdev = pmem.open().unwrap();
        let via_wrapper = bdev_direct_access(&bdev, 8, PS).map(|m| m.len);
        let whole = bdev_direct_access(&bdev, 8, SIZE as i64 - 4096).map(|m| (m.len, m.pfn));
        let base = dev.base_pfn();
        drop(bdev);
        pmem_remove(pmem);
        (raw, base, k3.value() - k0.value(), via_wrapper, whole)
    });
    let s = SIZE as i64;
    assert_eq!(
        raw,
        vec![
            (base_pfn, s),
            (base_pfn + 1, s - 4096),
            (base_pfn + 3, s - 3 * 4096),
            (base_pfn + 15, s - 15 * 4096)
        ]
    );
    assert_eq!(kaddr_delta, 3 * 4096, "kaddr = virt_addr + offset");
    // bdev_direct_access clamps to the request.
    assert_eq!(via_wrapper, Ok(PS));
    assert_eq!(whole, Ok((s - 4096, base_pfn + 1)));
}

#[test]
fn pmem_direct_access_never_allocates() {
    let (o, (live, calls)) = run_clean(Config::v4_0(), || {
        let pmem = pmem_probe(SIZE).unwrap();
        let bdev = pmem.open().unwrap();
        let mut calls = 0;
        for s in (0..SIZE / 512).step_by(8) {
            bdev_direct_access(&bdev, s, PS).unwrap();
            calls += 1;
        }
        let live = nr_allocated_pages();
        drop(bdev);
        pmem_remove(pmem);
        (live, calls)
    });
    assert_eq!(calls, 16);
    assert_eq!(live, 0);
    assert!(all_page_allocs(o.trace()).is_empty(), "{}", o.trace().allocations());
    assert!(!o.trace().allocations().contains("kmem_cache_alloc"));
    // No might_sleep check ran at all.
    assert!(!o.trace().text().contains("might_sleep"));
}

#[test]
fn pmem_direct_access_without_a_device_is_enodev() {
    let (_, r) = run_clean(Config::v4_0(), || pmem_direct_access(None, 0, PS).map(|(_, _, len)| len));
    assert_eq!(r, Err(Errno::ENODEV));
}

#[test]
fn pmem_direct_access_wrapper_errors() {
    let (_, (unaligned, past_end)) = run_clean(Config::v4_0(), || {
        let pmem = pmem_probe(SIZE).unwrap();
        let bdev = pmem.open().unwrap();
        let unaligned = bdev_direct_access(&bdev, 4, PS).map(|m| m.len);
        let past_end = bdev_direct_access(&bdev, 120, 2 * PS).map(|m| m.len);
        drop(bdev);
        pmem_remove(pmem);
        (unaligned, past_end)
    });
    assert_eq!(unaligned, Err(Errno::EINVAL.neg()));
    assert_eq!(past_end, Err(Errno::ERANGE.neg()));
}

fn under_spinlock() -> i64 {
    let pmem = pmem_probe(SIZE).unwrap();
    let bdev = pmem.open().unwrap();
    let lock = SpinLock::new((), "dax_user.lock");
    let g = spin_lock(&lock);
    let r = bdev_direct_access(&bdev, 16, PS).map(|m| m.len);
    spin_unlock(g);
    drop(bdev);
    pmem_remove(pmem);
    r.unwrap_or_else(|e| e)
}

#[test]
fn pmem_direct_access_under_spinlock_is_clean_in_observed_mode() {
    let (_, len) = run_clean(Config::v4_0(), under_spinlock);
    assert_eq!(len, PS);
}

#[test]
fn pmem_direct_access_under_spinlock_is_reported_in_contract_mode() {
    let (o, _) = run_std(Config::v4_0().mode(CheckMode::Contract), under_spinlock);
    assert_eq!(o.kinds(), vec![Violation::SleepInAtomic]);
    let r = o.first_report().unwrap();
    assert!(r
        .headline()
        .starts_with("BUG: sleeping function called from invalid context at driver/tests/pmem_v4_1.rs:"));
    assert_lines_in_order(
        &r.text,
        &[
            "in_atomic(): 1, irqs_disabled(): 0, pid: 1, name: main",
            "1 lock held by main/1:",
            "ksim: contract: bdev_direct_access() may sleep (2015 linux-mm thread: \"Expect that .direct_access can sleep\")",
            " bdev_direct_access()",
        ],
    );
}

#[test]
fn pmem_block_io_and_rw_page_round_trip_and_share_data_with_dax() {
    let (_, (bio_back, page_back, dax_view, from_dax)) = run_clean(Config::v4_0(), || {
        let pmem = pmem_probe(SIZE).unwrap();
        let bdev = pmem.open().unwrap();
        // Unaligned, multi-segment bio.
        let (mut bio, pages) = make_bio(ReqOp::Write, 3, &[(1536, 512), (4096, 0)], Some(&pattern(5632, 1)));
        submit_bio(&bdev, &mut bio).unwrap();
        free_pages(pages);
        let bio_back = read_bytes(&bdev, 3, 5632).unwrap();
        // rw_page.
        let src = buf_page();
        memcpy_to(page_address(src).unwrap(), &pattern(PAGE_SIZE, 2));
        bdev_write_page(&bdev, 32, src).unwrap();
        let dst = buf_page();
        bdev_read_page(&bdev, 32, dst).unwrap();
        let mut page_back = vec![0u8; PAGE_SIZE];
        memcpy_from(&mut page_back, page_address(dst).unwrap());
        __free_page(src);
        __free_page(dst);
        // The same bytes through direct_access, and back.
        let m = bdev_direct_access(&bdev, 32, PS).unwrap();
        let mut dax_view = vec![0u8; PAGE_SIZE];
        memcpy_from(&mut dax_view, m.kaddr);
        memcpy_to(m.kaddr, &pattern(512, 3));
        let from_dax = read_bytes(&bdev, 32, 512).unwrap();
        drop(bdev);
        pmem_remove(pmem);
        (bio_back, page_back, dax_view, from_dax)
    });
    assert_eq!(bio_back, pattern(5632, 1));
    assert_eq!(page_back, pattern(PAGE_SIZE, 2));
    assert_eq!(dax_view, pattern(PAGE_SIZE, 2));
    assert_eq!(from_dax, pattern(512, 3));
}

#[test]
fn pmem_bio_beyond_capacity_ends_with_eio() {
    let (_, status) = run_clean(Config::v4_0(), || {
        let pmem = pmem_probe(SIZE).unwrap();
        let (mut bio, pages) = make_bio(ReqOp::Write, SIZE / 512 - 1, &[(1024, 0)], Some(&pattern(1024, 4)));
        pmem_make_request(pmem.device(), &mut bio);
        free_pages(pages);
        pmem_remove(pmem);
        bio.status
    });
    assert_eq!(status, Some(Err(Errno::EIO)));
}

#[test]
fn pmem_discard_is_rejected_by_the_block_layer() {
    // pmem 4.1 never sets QUEUE_FLAG_DISCARD, so generic_make_request_checks() fails the bio
    // with -EOPNOTSUPP before pmem_make_request (whose BUG_ON is tested below) sees it.
    let (o, status) = run_std(Config::v4_0(), || {
        let pmem = pmem_probe(SIZE).unwrap();
        let bdev = pmem.open().unwrap();
        let mut bio = Bio::discard(0, 4096);
        let r = submit_bio(&bdev, &mut bio);
        drop(bdev);
        pmem_remove(pmem);
        r
    });
    assert!(o.is_clean(), "{:?}", o.reports);
    assert_eq!(status, Some(Err(Errno::EOPNOTSUPP)));
}

#[test]
fn pmem_discard_reaching_the_driver_is_a_kernel_bug() {
    let (o, _) = run_std(Config::v4_0(), || {
        let pmem = pmem_probe(SIZE).unwrap();
        let mut bio = Bio::discard(0, 4096);
        pmem_make_request(pmem.device(), &mut bio);
    });
    assert_eq!(o.kinds(), vec![Violation::Bug]);
    let r = o.first_report().unwrap();
    assert!(r.headline().starts_with("kernel BUG at driver/src/pmem_v4_1.rs:"), "{}", r.text);
    assert!(r.text.contains(" BUG() <- pmem_make_request\n"), "{}", r.text);
}

#[test]
fn pmem_probe_without_a_resource_is_enxio() {
    let (_, r) = run_clean(Config::v4_0(), || pmem_probe(0).err());
    assert_eq!(r, Some(Errno::ENXIO));
}
