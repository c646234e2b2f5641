//! Fault sweeps: for each brd generation and each allocating operation — a write whose
//! segments straddle pages, a multi-page write, a zero-fill of the device, a `direct_access`
//! (brd v4.0) — fail the n-th allocation for every n until one run injects nothing. Every run
//! must end with the kernel's errno (or success), no leak at `brd_exit`, and the data written
//! before the failure intact (the fuzz harness's shadow model checks a read-back of the whole
//! device after each failure).

#![forbid(unsafe_code)]

use ksim_scenarios::fuzz::{run, Case, Driver, Op};

/// The sectors of the device the fuzz harness builds (64 KiB).
const SECTORS: u64 = 128;

/// Prefill, the armed operation, then a read of everything.
fn case(driver: Driver, n: u64, op: Op) -> Case {
    let prefill = Op::Write { sector: 0, sectors: 16, tag: 7, nowait: false, locked: false };
    let read = Op::Read { sector: 0, sectors: SECTORS };
    Case { driver, ops: vec![prefill, Op::Arm { nth: n }, op, read] }
}

/// Sweeps n = 1.. for one operation; returns how many allocations were failed.
fn sweep(driver: Driver, op: Op) -> usize {
    for n in 1..=256 {
        let stats =
            run(case(driver, n, op)).unwrap_or_else(|e| panic!("{driver:?} {op:?} fail-nth {n}:\n{e}"));
        if stats.faults_fired == 0 {
            assert!(n > 1, "{driver:?} {op:?}: the operation allocated nothing");
            return n as usize - 1;
        }
    }
    panic!("{driver:?} {op:?}: still allocating after 256 failures")
}

const DRIVERS: &[Driver] = &[Driver::V40Dax, Driver::V40, Driver::V61, Driver::Current, Driver::V61C];

/// brd.c (`V61C`) needs the kernel tree: Debian's linux-source-6.1, installed when missing.
fn tree() {
    ksim_c::source::tree_installing().unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn fault_sweep_straddling_write_fails_cleanly_at_every_allocation() {
    tree();
    for &d in DRIVERS {
        // 20 sectors from sector 20: 2 KiB into page 2, straddling pages 2..5.
        let failed = sweep(d, Op::Write { sector: 20, sectors: 20, tag: 8, nowait: false, locked: false });
        eprintln!("{d:?}: straddling write, {failed} allocation(s) failed one by one");
    }
}

#[test]
fn fault_sweep_zero_fill_fails_cleanly_at_every_allocation() {
    tree();
    for &d in DRIVERS {
        let failed =
            sweep(d, Op::Write { sector: 0, sectors: SECTORS, tag: 0, nowait: false, locked: false });
        eprintln!("{d:?}: whole-device write, {failed} allocation(s) failed one by one");
    }
}

#[test]
fn fault_sweep_direct_access_fails_cleanly_at_every_allocation() {
    let failed = sweep(Driver::V40Dax, Op::Dax { sector: 64, size: 4096, locked: false });
    eprintln!("V40Dax: direct_access of an absent page, {failed} allocation(s) failed one by one");
    // Only the page: the prefill's radix_tree_preload left the task's node pool full, and a
    // preload with a full pool allocates nothing (facts §1.4).
    assert_eq!(failed, 1);
}
