//! User copies from C (`tests/c/uaccess.c`) against a user mapping the test makes through the
//! Rust API: `copy_to_user()` under `spin_lock()` is the kernel's sleep in atomic context
//! (`might_fault()`) at the C line; the snapshot-then-copy fix is clean and its bytes arrive;
//! a copy running off the mapping returns the kernel's uncopied count, `get_user()` /
//! `put_user()` -EFAULT.

mod common;

use common::{assert_lines_in_order, run_c, site, Module};
use ksim::check::expect_eq;
use ksim::prelude::*;
use ksim::uaccess::{user_mmap, user_peek};

const M: &str = "uaccess";

#[test]
fn c_copy_to_user_under_spin_lock_sleeps_in_atomic_at_the_c_line() {
    let m = Module::new(M);
    let o = run_c(Config::modern().panic_on_report(false), &m, |m| {
        let u = user_mmap(4096, true);
        expect_eq(m.call_with("ua_copy_under_lock", u.0), 0, "the copy itself succeeds");
    });
    assert_eq!(o.reports.len(), 1, "{:#?}", o.reports);
    let r = &o.reports[0];
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", site(M, "copy_locked")),
            "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
            "preempt_count: 1, expected: 0",
        ],
    );
    assert!(r.text.contains("ua_copy_under_lock"), "the C caller's frame:\n{}", r.text);
}

#[test]
fn c_copy_after_the_lock_is_clean_and_the_bytes_arrive() {
    let m = Module::new(M);
    for present in [true, false] {
        let o = run_c(Config::modern(), &m, move |m| {
            let u = user_mmap(4096, present);
            expect_eq(m.call_with("ua_copy_fixed", u.0), 0, "ua_copy_fixed");
            let got = user_peek(u, 16).expect("mapped");
            let mut want = Vec::new();
            want.extend_from_slice(&3u32.to_le_bytes());
            want.extend_from_slice(&0u32.to_le_bytes()); // cleared by clear_user
            want.extend_from_slice(&(7u64 << 40).to_le_bytes()); // put_user
            expect_eq(got, want, "user memory after the C copies");
        });
        assert!(o.is_clean(), "present={present}: {:#?}", o.reports);
    }
}

#[test]
fn c_copies_past_the_mapping_return_the_uncopied_count_and_efault() {
    let m = Module::new(M);
    let o = run_c(Config::modern(), &m, |m| {
        let u = user_mmap(4096, true);
        expect_eq(m.call_with("ua_copy_past_end", u.add(4096).0), 0, "ua_copy_past_end");
        let got = user_peek(u.add(4090), 6).expect("mapped");
        // copy_to_user wrote "012345" there; clear_user zeroed the last 2 bytes.
        expect_eq(got, b"0123\0\0".to_vec(), "the last 6 bytes of the mapping");
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}
