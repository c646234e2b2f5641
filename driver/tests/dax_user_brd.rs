//! The DAX users of the 2015 thread against brd v4.0 (facts §1.10, §1.11): the process-context
//! loop is clean; holding a spinlock or running in a hardirq handler sleeps in atomic context on
//! an unpopulated device; punting to a workqueue is clean; asking once for 1 MiB and writing it
//! all through brd's one-page mapping runs off the page; and the dax-highmem mutation hands out a
//! NULL kaddr.
#![forbid(unsafe_code)]

mod v4_common;

use std::sync::Arc;

use ksim::interrupt::request_irq;
use ksim::mm::PAGE_SIZE;
use ksim::prelude::IrqReturn;
use ksim::spinlock::SpinLock;
use ksim::{CheckMode, Config, Violation};
use ksim_drivers::brd_v4_0::{brd_exit, brd_init, Params};
use ksim_drivers::dax_user::{
    dax_map_range, dax_map_range_atomic, dax_map_range_irq, dax_map_range_irq_wq, dax_map_range_wq,
    dax_read_range, dax_write_assuming_size,
};
use v4_common::*;

const MIB: usize = 1 << 20;

fn brd_params(kib: u64) -> Params {
    Params { rd_nr: 1, rd_size: kib, dax: true, ..Params::default() }
}

#[test]
fn dax_user_process_context_loop_is_clean_and_maps_page_by_page() {
    let (o, (calls, read_calls, via_dax, via_bio, nr)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(brd_params(64)).unwrap();
        let bdev = brd.open(0).unwrap();
        let data = pattern(10 * PAGE_SIZE + 512, 1);
        let calls = dax_map_range(&bdev, 8, &data).unwrap();
        let mut via_dax = vec![0u8; data.len()];
        let read_calls = dax_read_range(&bdev, 8, &mut via_dax).unwrap();
        let via_bio = read_bytes(&bdev, 8, data.len()).unwrap();
        let nr = brd.nr_pages(0);
        drop(bdev);
        brd_exit(brd);
        (calls, read_calls, via_dax, via_bio, nr)
    });
    // One bdev_direct_access per page: brd returns PAGE_SIZE whatever is asked.
    assert_eq!((calls, read_calls), (11, 11));
    assert_eq!(via_dax, pattern(10 * PAGE_SIZE + 512, 1));
    assert_eq!(via_bio, via_dax);
    assert_eq!(nr, 11);
    assert!(brd_allocs(o.trace())
        .iter()
        .all(|l| l.ends_with("in brd_insert_page<-brd_direct_access<-bdev_direct_access<-dax_map_range")));
}

#[test]
fn dax_user_under_spinlock_on_unpopulated_brd_sleeps_in_atomic() {
    let (o, _) = run_std(Config::v4_0(), || {
        let brd = brd_init(brd_params(64)).unwrap();
        let bdev = brd.open(0).unwrap();
        let lock = SpinLock::new((), "dax_user.lock");
        let _ = dax_map_range_atomic(&bdev, &lock, 0, &pattern(2 * PAGE_SIZE, 2));
        drop(bdev);
        brd_exit(brd);
    });
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
            " alloc_page(GFP_NOIO|__GFP_ZERO) <- brd_insert_page <- brd_direct_access <- bdev_direct_access <- dax_map_range_atomic",
        ],
    );
    assert!(r.text.contains(" #0: (dax_user.lock){+.+.}, at: driver/src/dax_user.rs:"), "{}", r.text);
}

#[test]
fn dax_user_under_spinlock_on_prepopulated_brd_is_silent_observed_and_reported_by_contract() {
    let body = || {
        let brd = brd_init(brd_params(64)).unwrap();
        let bdev = brd.open(0).unwrap();
        fill_zeros(&bdev);
        let lock = SpinLock::new((), "dax_user.lock");
        let r = dax_map_range_atomic(&bdev, &lock, 0, &pattern(2 * PAGE_SIZE, 3));
        drop(bdev);
        brd_exit(brd);
        r
    };
    let (_, r) = run_clean(Config::v4_0(), body);
    assert_eq!(r, Ok(2));
    let (o, _) = run_std(Config::v4_0().mode(CheckMode::Contract), body);
    assert_eq!(o.kinds(), vec![Violation::SleepInAtomic]);
    let r = o.first_report().unwrap();
    assert!(r
        .headline()
        .starts_with("BUG: sleeping function called from invalid context at driver/src/dax_user.rs:"));
    assert!(r.text.contains("ksim: contract: bdev_direct_access() may sleep"), "{}", r.text);
    assert!(r.text.contains(" bdev_direct_access() <- dax_map_range_atomic\n"), "{}", r.text);
}

#[test]
fn dax_user_in_hardirq_handler_sleeps_with_irqs_disabled() {
    let (o, _) = run_std(Config::v4_0(), || {
        let brd = brd_init(brd_params(64)).unwrap();
        let bdev = Arc::new(brd.open(0).unwrap());
        let _ = dax_map_range_irq(bdev, 5, 0, Arc::new(pattern(PAGE_SIZE, 4)));
        brd_exit(brd);
    });
    assert_eq!(o.kinds(), vec![Violation::SleepInAtomic]);
    let r = o.first_report().unwrap();
    assert_eq!(r.task, "irq/5-dax-user");
    assert!(r
        .headline()
        .starts_with("BUG: sleeping function called from invalid context at driver/src/brd_v4_0.rs:"));
    assert_lines_in_order(
        &r.text,
        &[
            "in_atomic(): 1, irqs_disabled(): 1, pid: 2, name: irq/5-dax-user",
            "no locks held by irq/5-dax-user/2.",
            "Call trace (simulated):",
            " alloc_page(GFP_NOIO|__GFP_ZERO) <- brd_insert_page <- brd_direct_access <- bdev_direct_access <- dax_map_range <- dax-user",
        ],
    );
}

#[test]
fn dax_user_in_hardirq_handler_is_reported_in_the_modern_format_too() {
    let (o, _) = run_std(Config::modern(), || {
        let brd = brd_init(brd_params(64)).unwrap();
        let bdev = Arc::new(brd.open(0).unwrap());
        let _ = dax_map_range_irq(bdev, 5, 0, Arc::new(pattern(PAGE_SIZE, 4)));
        brd_exit(brd);
    });
    let r = o.report_of(Violation::SleepInAtomic).expect("reported");
    assert_lines_in_order(
        &r.text,
        &[
            "in_atomic(): 1, irqs_disabled(): 1, non_block: 0, pid: 2, name: irq/5-dax-user",
            "preempt_count: 10000, expected: 0",
        ],
    );
}

#[test]
fn dax_user_irq_on_a_busy_line_is_ebusy() {
    let (_, r) = run_clean(Config::v4_0(), || {
        let brd = brd_init(brd_params(64)).unwrap();
        let bdev = Arc::new(brd.open(0).unwrap());
        request_irq(5, "other", |_| IrqReturn::None).unwrap();
        let r = dax_map_range_irq(bdev.clone(), 5, 0, Arc::new(pattern(512, 5)));
        ksim::interrupt::free_irq(5);
        drop(bdev);
        brd_exit(brd);
        r
    });
    assert_eq!(r, Err(ksim::Errno::EBUSY.neg()));
}

#[test]
fn dax_user_punted_to_a_workqueue_is_clean() {
    let (o, (from_lock, from_irq, back)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(brd_params(64)).unwrap();
        let bdev = Arc::new(brd.open(0).unwrap());
        let lock = SpinLock::new((), "dax_user.lock");
        let a = dax_map_range_wq(bdev.clone(), &lock, 0, Arc::new(pattern(3 * PAGE_SIZE, 6))).unwrap();
        let b = dax_map_range_irq_wq(bdev.clone(), 6, 24, Arc::new(pattern(2 * PAGE_SIZE, 7))).unwrap();
        let back = read_bytes(&bdev, 0, 5 * PAGE_SIZE).unwrap();
        drop(bdev);
        brd_exit(brd);
        (a, b, back)
    });
    assert_eq!((from_lock, from_irq), (3, 2));
    let mut want = pattern(3 * PAGE_SIZE, 6);
    want.extend(pattern(2 * PAGE_SIZE, 7));
    assert_eq!(back, want);
    // Every allocation happened in a kworker, in process context.
    let allocs = brd_allocs(o.trace());
    assert_eq!(allocs.len(), 5);
    assert!(allocs.iter().all(|l| l.trim_start().starts_with("kworker/events-")), "{allocs:#?}");
    assert!(allocs.iter().all(|l| l.ends_with("<-dax_map_range<-dax_map_work")), "{allocs:#?}");
}

#[test]
fn dax_user_writing_a_mib_through_brds_first_kaddr_is_out_of_bounds() {
    let (o, _) = run_std(Config::v4_0(), || {
        let brd = brd_init(brd_params(1024)).unwrap();
        let bdev = brd.open(0).unwrap();
        let _ = dax_write_assuming_size(&bdev, 0, &pattern(MIB, 8));
        drop(bdev);
        brd_exit(brd);
    });
    assert_eq!(o.kinds(), vec![Violation::OutOfBounds]);
    let r = o.first_report().unwrap();
    assert!(r.headline().starts_with("BUG: KASAN: page-out-of-bounds in memcpy at driver/src/dax_user.rs:"));
    assert_lines_in_order(
        &r.text,
        &[
            "The buggy address is located 0 bytes inside of the 4096-byte region; the access ends 1044480 bytes past its end",
            "Allocated by task main/1 (GFP_NOIO|__GFP_ZERO):",
            " memcpy <- dax_write_assuming_size",
        ],
    );
    assert!(r.text.contains("Write of size 1048576 at addr "), "{}", r.text);
}

#[test]
fn dax_user_looping_over_a_mib_of_brd_is_clean() {
    let (_, (calls, back, nr)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(brd_params(1024)).unwrap();
        let bdev = brd.open(0).unwrap();
        let calls = dax_map_range(&bdev, 0, &pattern(MIB, 8)).unwrap();
        let back = read_bytes(&bdev, 0, MIB).unwrap();
        let nr = brd.nr_pages(0);
        drop(bdev);
        brd_exit(brd);
        (calls, back, nr)
    });
    assert_eq!(calls, MIB / PAGE_SIZE);
    assert_eq!(nr, MIB / PAGE_SIZE);
    assert!(back == pattern(MIB, 8));
}

#[test]
fn dax_user_on_brd_with_highmem_mutation_dereferences_null() {
    let (o, _) = run_std(Config::v4_0().highmem(64), || {
        let brd = brd_init(Params { force_highmem: true, ..brd_params(64) }).unwrap();
        let bdev = brd.open(0).unwrap();
        let _ = dax_map_range(&bdev, 0, &pattern(PAGE_SIZE, 9));
        drop(bdev);
        brd_exit(brd);
    });
    assert_eq!(o.kinds(), vec![Violation::NonAddressable]);
    let r = o.first_report().unwrap();
    assert_eq!(r.headline(), "BUG: kernel NULL pointer dereference, address: 0000000000000000");
    assert!(r.text.contains(" memcpy <- dax_map_range\n"), "{}", r.text);
}

#[test]
fn dax_user_on_brd_with_dax_off_gets_eopnotsupp() {
    let (_, r) = run_clean(Config::v4_0(), || {
        let brd = brd_init(Params { dax: false, ..brd_params(64) }).unwrap();
        let bdev = brd.open(0).unwrap();
        let r = dax_map_range(&bdev, 0, &pattern(PAGE_SIZE, 10));
        drop(bdev);
        brd_exit(brd);
        r
    });
    assert_eq!(r, Err(ksim::Errno::EOPNOTSUPP.neg()));
}

#[test]
fn dax_user_in_hardirq_handler_is_found_in_every_interleaving() {
    // The interrupt's arrival is a scheduler choice; the handler always maps an absent page.
    let o = ksim::Runner::pct(3, 2, 30).config(Config::v4_0()).run(|| {
        let brd = brd_init(brd_params(64)).unwrap();
        let bdev = Arc::new(brd.open(0).unwrap());
        let _ = dax_map_range_irq(bdev, 5, 0, Arc::new(pattern(PAGE_SIZE, 4)));
        brd_exit(brd);
    });
    let r = o.first_report().expect("found");
    assert_eq!(r.execution, 0);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_eq!(r.task, "irq/5-dax-user");
}

#[test]
fn dax_user_punted_to_a_workqueue_is_clean_in_every_interleaving() {
    let o = ksim::Runner::pct(3, 2, 30).config(Config::v4_0()).run(|| {
        let brd = brd_init(brd_params(64)).unwrap();
        let bdev = Arc::new(brd.open(0).unwrap());
        let lock = SpinLock::new((), "dax_user.lock");
        let a = dax_map_range_wq(bdev.clone(), &lock, 0, Arc::new(pattern(PAGE_SIZE, 6)));
        let b = dax_map_range_irq_wq(bdev.clone(), 6, 8, Arc::new(pattern(PAGE_SIZE, 7)));
        assert_eq!((a, b), (Ok(1), Ok(1)));
        drop(bdev);
        brd_exit(brd);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert!(o.executions > 1);
}
