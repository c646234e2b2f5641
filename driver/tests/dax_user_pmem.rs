//! The DAX users of the 2015 thread against pmem v4.1 (facts §2.6): `direct_access` is offset
//! arithmetic, so the caller that asks once for 1 MiB gets 1 MiB and is right; the atomic callers
//! are silent in observed mode (nothing sleeps) but still break the contract ("Expect that
//! .direct_access can sleep"), which contract mode reports.
#![forbid(unsafe_code)]

mod v4_common;

use std::sync::Arc;

use ksim::mm::nr_allocated_pages;
use ksim::spinlock::SpinLock;
use ksim::{CheckMode, Config, Runner, Violation};
use ksim_drivers::dax_user::{
    dax_map_range, dax_map_range_atomic, dax_map_range_irq, dax_write_assuming_size,
};
use ksim_drivers::pmem_v4_1::{pmem_probe, pmem_remove};
use v4_common::*;

const MIB: usize = 1 << 20;

#[test]
fn dax_user_writing_a_mib_through_pmems_first_kaddr_is_clean() {
    let (o, (calls, back, live)) = run_clean(Config::v4_0(), || {
        let pmem = pmem_probe(2 * MIB as u64).unwrap();
        let bdev = pmem.open().unwrap();
        let calls = dax_write_assuming_size(&bdev, 8, &pattern(MIB, 1)).unwrap();
        let back = read_bytes(&bdev, 8, MIB).unwrap();
        let live = nr_allocated_pages();
        drop(bdev);
        pmem_remove(pmem);
        (calls, back, live)
    });
    assert_eq!(calls, 1);
    assert!(back == pattern(MIB, 1));
    assert_eq!(live, 0);
    // The one call got all of it.
    assert!(o
        .trace()
        .view(&[ksim::Cat::Dax])
        .contains("direct_access: pmem0 sector=8 size=1048576 -> 1048576 pfn="));
}

#[test]
fn dax_user_looping_caller_on_pmem_needs_one_call() {
    let (_, calls) = run_clean(Config::v4_0(), || {
        let pmem = pmem_probe(MIB as u64).unwrap();
        let bdev = pmem.open().unwrap();
        let calls = dax_map_range(&bdev, 0, &pattern(MIB, 2)).unwrap();
        drop(bdev);
        pmem_remove(pmem);
        calls
    });
    assert_eq!(calls, 1);
}

fn atomic_user() -> Result<usize, i64> {
    let pmem = pmem_probe(MIB as u64).unwrap();
    let bdev = pmem.open().unwrap();
    let lock = SpinLock::new((), "dax_user.lock");
    let r = dax_map_range_atomic(&bdev, &lock, 0, &pattern(64 * 1024, 3));
    drop(bdev);
    pmem_remove(pmem);
    r
}

#[test]
fn dax_user_under_spinlock_on_pmem_is_silent_observed_but_breaks_the_contract() {
    let (_, r) = run_clean(Config::v4_0(), atomic_user);
    assert_eq!(r, Ok(1));
    let (o, _) = run_std(Config::v4_0().mode(CheckMode::Contract), atomic_user);
    assert_eq!(o.kinds(), vec![Violation::SleepInAtomic]);
    let r = o.first_report().unwrap();
    assert!(r.text.contains("ksim: contract: bdev_direct_access() may sleep"), "{}", r.text);
    assert!(r.text.contains(" bdev_direct_access() <- dax_map_range_atomic\n"), "{}", r.text);
}

#[test]
fn dax_user_in_hardirq_handler_on_pmem_is_silent_in_observed_mode() {
    let o = Runner::pct(1, 2, 20).config(Config::v4_0()).run(|| {
        let pmem = pmem_probe(MIB as u64).unwrap();
        let bdev = Arc::new(pmem.open().unwrap());
        let r = dax_map_range_irq(bdev.clone(), 5, 0, Arc::new(pattern(8192, 4)));
        assert_eq!(r, Ok(1));
        drop(bdev);
        pmem_remove(pmem);
    });
    // Nothing in the handler is a scheduling point on pmem, so there is one interleaving.
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert!(o.executions >= 1);
}
