//! The 2015 thread in C: a DAX user written in C (`tests/c/dax_user.c`) calls
//! `bdev_direct_access()` of ksim's modelled brd v4.0 and pmem v4.1 — a C caller of a Rust
//! driver — under every scheduler and in both checking modes:
//!
//! - under its spinlock on a fresh brd v4.0: brd allocates on first touch, a sleep in atomic
//!   context, with the C lock line and the C function in the report (observed), and at the C
//!   caller's `bdev_direct_access()` line (contract);
//! - punted to a work item: clean;
//! - under its spinlock on pmem v4.1 (offset arithmetic, never sleeps): clean when observed,
//!   found only by the contract, at the C line.

use std::ffi::c_char;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ksim::prelude::*;
use ksim::{CheckMode, Config, Outcome, Scheduler, Violation};
use ksim_c::{Lease, ModuleSpec};
use ksim_drivers::{brd_v4_0, pmem_v4_1};

/// The line of `bdev_direct_access()` and of `spin_lock()` in tests/c/dax_user.c.
const DIRECT_ACCESS_LINE: u32 = 23;
const LOCK_LINE: u32 = 40;

#[derive(Clone, Copy, PartialEq)]
enum Driver {
    Brd,
    Pmem,
}

type MapFn = unsafe extern "C-unwind" fn(usize, *const c_char, i64) -> i64;

fn lease() -> Arc<Mutex<Lease>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let img = ModuleSpec::new("dax_user", [dir.join("tests/c/dax_user.c")])
        .root(&dir)
        .build()
        .unwrap_or_else(|e| panic!("{}\n{e}", e.details().unwrap_or("")));
    Arc::new(Mutex::new(img.lease().expect("an instance")))
}

fn run(
    lease: &Arc<Mutex<Lease>>,
    sched: Scheduler,
    mode: CheckMode,
    driver: Driver,
    func: &'static str,
) -> Outcome {
    let config = Config { mode, ..Config::default() };
    let l = lease.clone();
    Runner::new(sched).config(config).run(move || {
        let f = {
            let mut l = l.lock().unwrap();
            l.reset();
            let p = l.symbol(func).expect("the DAX user's function");
            // SAFETY: the C function `long f(struct block_device *, const char *, long)`.
            #[allow(unsafe_code)]
            unsafe {
                std::mem::transmute::<*mut std::ffi::c_void, MapFn>(p)
            }
        };
        // The device handed to C, a second opener to read back through, and the teardown.
        let (bdev, check, done): (usize, ksim::blk::Bdev, Box<dyn FnOnce()>) = match driver {
            Driver::Brd => {
                let params = brd_v4_0::Params { rd_nr: 1, rd_size: 64, dax: true, ..Default::default() };
                let brd = brd_v4_0::brd_init(params).expect("brd_init");
                let b = ksim_c::blkdev::bdev_for_c(brd.open(0).expect("open ram0"));
                (b, brd.open(0).expect("open ram0"), Box::new(move || brd_v4_0::brd_exit(brd)))
            }
            Driver::Pmem => {
                let pmem = pmem_v4_1::pmem_probe(64 * 1024).expect("pmem probe");
                let b = ksim_c::blkdev::bdev_for_c(pmem.open().expect("open pmem0"));
                (b, pmem.open().expect("open pmem0"), Box::new(move || pmem_v4_1::pmem_remove(pmem)))
            }
        };
        let data: Arc<Vec<u8>> = Arc::new((0..8192u32).map(|i| (i * 13 + 5) as u8).collect());
        let d = data.clone();
        // SAFETY: the DAX user with an open device and a buffer of 8192 bytes that outlives it.
        #[allow(unsafe_code)]
        let r = kthread_run("dax-user", move || unsafe { f(bdev, d.as_ptr().cast(), 8192) }).join();
        ksim::check::expect_eq(r, 0, "the C DAX user's return");
        // What C copied in is on the device.
        let mut got = vec![0u8; 8192];
        for (i, chunk) in got.chunks_mut(4096).enumerate() {
            let m = ksim::dax::bdev_direct_access(&check, i as u64 * 8, 4096).expect("direct_access");
            ksim::mm::memory::memcpy_from(chunk, m.kaddr);
        }
        ksim::check::expect(got == *data, || "the device does not hold what the C DAX user wrote".into());
        drop(check);
        ksim_c::blkdev::release_for_c(bdev);
        done();
    })
}

fn schedulers() -> Vec<Scheduler> {
    vec![
        Scheduler::Std,
        Scheduler::Random { seed: 1, iterations: 50 },
        Scheduler::Pct { seed: 1, depth: 3, iterations: 50 },
        Scheduler::Dfs { preemption_bound: Some(2), max_executions: Some(500) },
        Scheduler::Loom { preemption_bound: Some(2) },
    ]
}

#[test]
fn under_a_spinlock_on_brd_v4_0_a_sleep_in_atomic_at_the_c_callers_lines() {
    let l = lease();
    for sched in schedulers() {
        let o = run(&l, sched.clone(), CheckMode::Observed, Driver::Brd, "dax_user_map_atomic");
        assert_eq!(o.kinds(), [Violation::SleepInAtomic], "{sched}: {:?}", o.reports);
        let text = &o.reports[0].text;
        assert!(
            text.starts_with("BUG: sleeping function called from invalid context at driver/src/brd_v4_0.rs:"),
            "{text}"
        );
        assert!(
            text.contains(&format!("(dax_user_lock){{+.+.}}, at: tests/c/dax_user.c:{LOCK_LINE}\n")),
            "{sched}: {text}"
        );
        assert!(
            text.contains("<- bdev_direct_access <- dax_user_copy <- dax_user_map_atomic"),
            "{sched}: {text}"
        );
        let o = run(&l, sched.clone(), CheckMode::Contract, Driver::Brd, "dax_user_map_atomic");
        assert_eq!(o.kinds(), [Violation::SleepInAtomic], "{sched}: {:?}", o.reports);
        let text = &o.reports[0].text;
        let head = format!(
            "BUG: sleeping function called from invalid context at tests/c/dax_user.c:{DIRECT_ACCESS_LINE}\n"
        );
        assert!(text.starts_with(&head), "{sched}: {text}");
        assert!(text.contains("ksim: contract: bdev_direct_access() may sleep"), "{text}");
    }
}

#[test]
fn punted_to_a_work_item_it_is_clean() {
    let l = lease();
    for sched in schedulers() {
        for mode in [CheckMode::Observed, CheckMode::Contract] {
            let o = run(&l, sched.clone(), mode, Driver::Brd, "dax_user_map_wq");
            assert!(o.is_clean(), "{sched} {mode}: {:?}", o.reports);
        }
    }
}

#[test]
fn on_pmem_it_is_found_only_by_the_contract() {
    let l = lease();
    for sched in schedulers() {
        let o = run(&l, sched.clone(), CheckMode::Observed, Driver::Pmem, "dax_user_map_atomic");
        assert!(o.is_clean(), "{sched}: {:?}", o.reports);
        let o = run(&l, sched.clone(), CheckMode::Contract, Driver::Pmem, "dax_user_map_atomic");
        assert_eq!(o.kinds(), [Violation::SleepInAtomic], "{sched}: {:?}", o.reports);
        let head = format!(
            "BUG: sleeping function called from invalid context at tests/c/dax_user.c:{DIRECT_ACCESS_LINE}\n"
        );
        assert!(o.reports[0].text.starts_with(&head), "{sched}: {}", o.reports[0].text);
    }
}
