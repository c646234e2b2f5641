//! User copies against the simulated user address space (might_fault per profile, faults,
//! bad addresses), refcount_t's saturation warnings, kref, and atomic_t wrapping.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use common::{assert_lines_in_order, only_report, run_lines, run_std};
use ksim::atomic::AtomicT;
use ksim::kref::*;
use ksim::prelude::*;
use ksim::refcount::*;
use ksim::uaccess::*;

const FILE: &str = file!();

#[test]
fn uaccess_copies_round_trip_and_fault_pages_in() {
    let (o, seen) = run_std(Config::modern(), |p| {
        let u = user_mmap(8192, false);
        assert_eq!(copy_to_user(u.add(4090), b"hello across a page"), 0);
        let mut back = [0u8; 19];
        assert_eq!(copy_from_user(&mut back, u.add(4090)), 0);
        p.push(back.to_vec());
        put_user(0xdead_beef, u, 4).expect("mapped");
        p.push(get_user(u, 4).expect("mapped").to_le_bytes()[..4].to_vec());
        assert_eq!(clear_user(u, 4), 0);
        p.push(user_peek(u, 4).expect("mapped"));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(seen[0], b"hello across a page");
    assert_eq!(seen[1], 0xdead_beefu32.to_le_bytes());
    assert_eq!(seen[2], [0, 0, 0, 0]);
    let faults = o.trace.text().lines().filter(|l| l.contains("page_fault")).count();
    assert!(faults >= 2, "a copy across two absent pages faults twice:\n{}", o.trace.text());
}

#[test]
fn uaccess_bad_addresses_return_the_uncopied_count_or_efault() {
    let (o, _) = run_std(Config::modern(), |_: &common::Probe<()>| {
        let u = user_mmap(4096, true);
        // The copy runs off the end of the mapping (a guard page follows): 96 bytes fit.
        assert_eq!(copy_to_user(u.add(4000), &[7u8; 200]), 104);
        assert_eq!(copy_to_user(UserPtr(0xffff_8880_0000_0000), &[1]), 1, "a kernel address fails access_ok");
        assert_eq!(get_user(UserPtr(0x10), 8), Err(Errno::EFAULT));
        assert_eq!(put_user(1, u.add(4096), 1), Err(Errno::EFAULT));
        let mut buf = [9u8; 8];
        assert_eq!(copy_from_user(&mut buf, u.add(4092)), 4);
        assert_eq!(&buf[4..], &[0, 0, 0, 0], "copy_from_user zeroes what it could not copy");
        user_munmap(u);
        assert_eq!(get_user(u, 1), Err(Errno::EFAULT));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

fn copy_under_spinlock(l: &common::Lines, present: bool) {
    let u = user_mmap(4096, present);
    let lock = SpinLock::new((), "dev.lock");
    let _g = at!(l, "lock", spin_lock(&lock));
    let left = at!(l, "copy", copy_to_user(u, b"status"));
    // 4.0: the fault cannot be handled in atomic context, so an absent page fails the copy.
    assert_eq!(left, if present { 0 } else { 6 });
}

#[test]
fn uaccess_copy_to_user_under_a_spinlock_sleeps_in_atomic_in_the_modern_profile() {
    let (o, l) = run_lines(Config::modern(), |l| copy_under_spinlock(l, true));
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", l.site(FILE, "copy")),
            "preempt_count: 1, expected: 0",
            "1 lock held by main/1:",
            "Call trace (simulated):",
            " copy_to_user()",
        ],
    );
}

#[test]
fn uaccess_in_4_0_might_fault_is_silent_when_atomic_and_the_copy_fails_instead() {
    for present in [true, false] {
        let (o, _) = run_lines(Config::v4_0(), move |l| copy_under_spinlock(l, present));
        assert!(o.is_clean(), "present={present}: {:#?}", o.reports);
    }
    // With page faults disabled (the kernel's sanctioned atomic copy) neither profile reports.
    let (o, _) = run_lines(Config::modern(), |_| {
        let u = user_mmap(64, true);
        pagefault_disable();
        assert_eq!(copy_to_user(u, b"x"), 0);
        pagefault_enable();
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn refcount_underflow_and_addition_on_zero_are_the_kernels_warnings() {
    let (o, l) = run_lines(Config::modern().panic_on_report(false), |l| {
        let r = refcount_init(1);
        assert!(refcount_dec_and_test(&r));
        assert!(!at!(l, "put", refcount_dec_and_test(&r)));
        assert_eq!(refcount_read(&r), REFCOUNT_SATURATED, "left saturated");
        let z = refcount_init(0);
        at!(l, "inc", refcount_inc(&z));
        assert!(!refcount_inc_not_zero(&refcount_init(0)));
    });
    assert_eq!(o.reports.len(), 2, "{:#?}", o.reports);
    assert_eq!(o.reports[0].kind, Violation::Refcount);
    assert_eq!(o.reports[0].headline(), "refcount_t: underflow; use-after-free.");
    assert!(o.reports[0]
        .text
        .contains(&format!("WARNING: CPU: 0 PID: 1 at {} refcount_warn_saturate", l.site(FILE, "put"))));
    assert_eq!(o.reports[1].headline(), "refcount_t: addition on 0; use-after-free.");
    assert!(o.reports[1].text.contains(&l.site(FILE, "inc")));
}

#[test]
fn kref_put_without_release_warns_in_4_0_and_oopses_in_modern_at_zero() {
    let (o, l) = run_lines(Config::v4_0(), |l| {
        let k = kref_init();
        kref_get(&k);
        at!(l, "put", kref_put(&k, None));
        kref_put(&k, Some(&|| ()));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::Warning);
    assert!(
        r.text.contains(&format!("WARNING: CPU: 0 PID: 1 at {} kref_sub", l.site(FILE, "put"))),
        "{}",
        r.text
    );

    let (o, _) = run_lines(Config::modern(), |_| {
        let k = kref_init();
        kref_get(&k);
        assert!(!kref_put(&k, None), "not the last reference: nothing is called");
        kref_put(&k, None);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::NonAddressable);
    assert_eq!(r.headline(), "BUG: kernel NULL pointer dereference, address: 0000000000000000");

    let (o, released) = run_std(Config::modern(), |p| {
        let k = kref_init();
        kref_get(&k);
        kref_put(&k, Some(&|| p.push(1)));
        kref_put(&k, Some(&|| p.push(2)));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(released, vec![2], "release runs once, at the last put");
}

#[test]
fn kref_get_on_zero_is_refcounts_use_after_free_warning() {
    let (o, _) = run_lines(Config::modern(), |_| {
        let k = kref_init();
        kref_put(&k, Some(&|| ()));
        kref_get(&k);
    });
    assert_eq!(only_report(&o).headline(), "refcount_t: addition on 0; use-after-free.");
}

#[test]
fn atomic_t_wraps_at_32_bits() {
    let (o, seen) = run_std(Config::modern(), |p| {
        let a = AtomicT::new(i32::MAX);
        p.push(a.add_return(1));
        assert!(AtomicT::new(1).dec_and_test());
    });
    assert!(o.is_clean());
    assert_eq!(seen, vec![i32::MIN]);
}
