//! The README's example, compiled and run: a DAX user that holds a spinlock across
//! `bdev_direct_access` on brd v4.0 is found by PCT with the kernel's report; the fixed user,
//! which punts the mapping to a workqueue, is clean, and its allocation trace is a snapshot.

#![forbid(unsafe_code)]

use std::sync::Arc;

use ksim::prelude::*;
use ksim_drivers::brd_v4_0;

/// A 64 KiB brd v4.0 with DAX; the mapper touches page 0 while holding `mapper.lock`, either
/// directly or through a work item.
fn dax_user(punt_to_workqueue: bool) {
    let params = brd_v4_0::Params { rd_nr: 1, rd_size: 64, dax: true, ..Default::default() };
    let brd = brd_v4_0::brd_init(params).expect("brd_init");
    let bdev = Arc::new(brd.open(0).expect("open ram0"));
    let b = bdev.clone();
    let mapper = kthread_run("dax-user", move || {
        let lock = SpinLock::new((), "mapper.lock");
        let _g = spin_lock(&lock);
        if punt_to_workqueue {
            let work = WorkStruct::new("dax_map_work", move || {
                let _ = ksim::dax::bdev_direct_access(&b, 0, 4096);
            });
            schedule_work(&work);
            drop(_g);
            flush_work(&work);
        } else {
            // May sleep: brd allocates the backing page on first touch.
            let _ = ksim::dax::bdev_direct_access(&b, 0, 4096);
        }
    });
    mapper.join();
    drop(bdev);
    brd_v4_0::brd_exit(brd);
}

#[test]
fn dax_mapper_must_not_hold_a_spinlock() {
    let outcome = Runner::pct(1, 3, 500).config(Config::v4_0()).run(|| dax_user(false));
    let bug = outcome.first_report().expect("sleep in atomic must be found");
    assert_eq!(bug.kind, Violation::SleepInAtomic);
    assert!(bug.text.contains("in_atomic(): 1, irqs_disabled(): 0, pid: 2, name: dax-user"));
    assert!(bug.text.contains("alloc_page(GFP_NOIO|__GFP_ZERO) <- brd_insert_page <- brd_direct_access"));

    let fixed = Runner::pct(1, 3, 500).config(Config::v4_0()).run(|| dax_user(true));
    assert!(fixed.is_clean(), "{:?}", fixed.reports);
    insta::assert_snapshot!(fixed.trace().allocations());
}
