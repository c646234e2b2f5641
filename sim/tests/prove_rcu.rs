//! PROVE_RCU: rcu_dereference*() with neither the RCU read lock nor the update lock held,
//! the xarray's and radix tree's checked read sides, synchronize_rcu() inside a read-side
//! section, and call_rcu()/kfree_rcu() freeing only after a grace period.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::{assert_lines_in_order, only_report, run_lines};
use ksim::gfp::GFP_KERNEL;
use ksim::locking::lockdep_is_held;
use ksim::mm::{alloc_page, memcpy_from, memcpy_to};
use ksim::prelude::*;
use ksim::radix_tree::RadixTreeRoot;
use ksim::rcu_pointer::*;
use ksim::xarray::{xa_lock, xa_store, xas_load, XArray};

const FILE: &str = file!();

#[test]
fn rcu_dereference_outside_a_read_section_is_suspicious_in_both_profiles() {
    for cfg in common::profiles() {
        let modern = cfg.profile == Profile::Modern;
        let (o, l) = run_lines(cfg, |l| {
            let p = RcuPointer::new(Some(1u32));
            rcu_read_lock();
            assert_eq!(rcu_dereference(&p), Some(1));
            rcu_read_unlock();
            at!(l, "deref", rcu_dereference(&p));
        });
        let r = only_report(&o);
        assert_eq!(r.kind, Violation::SuspiciousRcu);
        let head = if modern { "WARNING: suspicious RCU usage" } else { "[ INFO: suspicious RCU usage. ]" };
        assert_eq!(r.headline(), head);
        assert_lines_in_order(
            &r.text,
            &[
                &format!("{} suspicious rcu_dereference_check() usage!", l.site(FILE, "deref")),
                "other info that might help us debug this:",
                &format!("rcu_scheduler_active = {}, debug_locks = 1", if modern { 2 } else { 1 }),
                "no locks held by main/1.",
            ],
        );
    }
}

#[test]
fn rcu_dereference_check_and_protected_accept_the_update_lock() {
    let (o, l) = run_lines(Config::modern(), |l| {
        let lock = SpinLock::new((), "dev.lock");
        let p = RcuPointer::new(Some(7u32));
        {
            let _g = spin_lock(&lock);
            assert_eq!(rcu_dereference_check(&p, lockdep_is_held(&lock)), Some(7));
            assert_eq!(rcu_dereference_protected(&p, lockdep_is_held(&lock)), Some(7));
            rcu_assign_pointer(&p, Some(8));
        }
        at!(l, "unlocked", rcu_dereference_protected(&p, lockdep_is_held(&lock)));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SuspiciousRcu);
    assert!(r
        .text
        .contains(&format!("{} suspicious rcu_dereference_protected() usage!", l.site(FILE, "unlocked"))));
}

#[test]
fn rcu_checked_read_sides_of_the_xarray_and_radix_tree() {
    let (o, l) = run_lines(Config::modern().panic_on_report(false), |l| {
        let xa: XArray<u32> = XArray::new("dev.xa_lock");
        xa_store(&xa, 3, 30, GFP_KERNEL).expect("stored");
        rcu_read_lock();
        assert_eq!(xas_load(&xa, 3), Some(30));
        rcu_read_unlock();
        {
            let _g = xa_lock(&xa);
            assert_eq!(xas_load(&xa, 3), Some(30));
        }
        at!(l, "xa", xas_load(&xa, 3));
        let tree: RadixTreeRoot<u32> = RadixTreeRoot::new(ksim::gfp::GFP_ATOMIC);
        tree.insert(1, 10).expect("inserted");
        assert_eq!(tree.lookup(1), Some(10), "radix_tree_lookup checks nothing");
        let lock = SpinLock::new((), "tree.lock");
        {
            let _g = spin_lock(&lock);
            assert_eq!(tree.deref_slot_protected(1, &lock), Some(10));
        }
        at!(l, "radix", tree.deref_slot(1));
    });
    assert_eq!(o.reports.len(), 2, "{:#?}", o.reports);
    assert!(o.reports[0]
        .text
        .contains(&format!("{} suspicious rcu_dereference_check() usage!", l.site(FILE, "xa"))));
    assert!(o.reports[1]
        .text
        .contains(&format!("{} suspicious rcu_dereference_check() usage!", l.site(FILE, "radix"))));
}

/// A reader copies a page published through an RCU pointer; the updater unpublishes it and
/// frees it with kfree_rcu(). The buggy reader keeps using the page after its section.
fn reader_vs_kfree_rcu(buggy: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let page = alloc_page(GFP_KERNEL).expect("page");
        let addr = ksim::highmem::page_address(page).expect("lowmem");
        memcpy_to(addr, &[5u8; 64]);
        let p = Arc::new(RcuPointer::new(Some(addr)));
        let r = p.clone();
        let reader = kthread_run("reader", move || {
            let mut buf = [0u8; 64];
            let work = ksim::atomic::Atomic::new(0);
            rcu_read_lock();
            let a = rcu_dereference(&r);
            work.inc(); // other work inside the section (a scheduling point)
            if let Some(a) = a {
                memcpy_from(&mut buf, a);
            }
            rcu_read_unlock();
            schedule(); // and after it
            if let (true, Some(a)) = (buggy, a) {
                memcpy_from(&mut buf, a); // outside the section: the grace period may be over
            }
        });
        schedule(); // the updater's other work: the reader may get in first
        rcu_assign_pointer(&p, None);
        kfree_rcu(page);
        reader.join();
    }
}

#[test]
fn rcu_kfree_rcu_waits_for_readers_and_a_reader_after_its_section_is_a_use_after_free() {
    for runner in [Runner::random(1, 200), Runner::dfs(Some(2), None), Runner::loom(Some(2))] {
        let spec = runner.spec().scheduler.to_string();
        let o = runner.clone().run(reader_vs_kfree_rcu(false));
        assert!(o.is_clean(), "{spec}: {:#?}", o.reports);
        let o = runner.run(reader_vs_kfree_rcu(true));
        let r = o.first_report().unwrap_or_else(|| panic!("{spec}: the late use is found"));
        assert_eq!(r.kind, Violation::UseAfterFree, "{spec}: {}", r.text);
        assert!(r.text.contains("Freed by task rcu_callback/"), "{}", r.text);
    }
}
