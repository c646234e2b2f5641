//! Running a case: the driver loaded and unloaded, the kthreads doing their operations, reads
//! checked against the shadow, and the whole device checked at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ksim::blk::{bdev_read_page, bdev_write_page, blkdev_ioctl, submit_bio, Bdev, Bio, Caps, BLKFLSBUF};
use ksim::check::expect;
use ksim::errno::Errno;
use ksim::fault_inject::{fail_nth, set_fail_nth};
use ksim::highmem::page_address;
use ksim::mm::{__free_page, memcpy_from, memcpy_to, PAGE_SIZE};
use ksim::prelude::*;
use ksim_drivers::{brd_current, brd_v4_0, brd_v6_1, pmem_v4_1};

use super::shadow::Worker;
use super::{data, Case, Driver, Faults, Op, Tally, IRQ, SECTOR};
use crate::io::{rw, submitter_page};

/// The driver, loaded.
enum Dev {
    V4_0(brd_v4_0::Brd),
    V6_1(brd_v6_1::Brd),
    C(ksim_c::brd::Brd),
    Current(brd_current::Brd),
    Pmem(pmem_v4_1::Pmem),
}

impl Dev {
    fn load(case: &Case, module: Option<&Arc<ksim_c::brd::BrdModule>>) -> Dev {
        let kib = case.pages * (PAGE_SIZE as u64 / 1024);
        match case.driver {
            Driver::BrdV4_0 { dax } => {
                let p = brd_v4_0::Params { rd_nr: 1, rd_size: kib, dax, ..brd_v4_0::Params::default() };
                Dev::V4_0(brd_v4_0::brd_init(p).expect("brd_init"))
            }
            Driver::BrdV6_1 => {
                let p = brd_v6_1::Params { rd_nr: 1, rd_size: kib, ..brd_v6_1::Params::default() };
                Dev::V6_1(brd_v6_1::brd_init(p).expect("brd_init"))
            }
            Driver::BrdV6_1C => {
                let p = ksim_c::brd::Params { rd_nr: Some(1), rd_size: Some(kib), max_part: None };
                let m = module.expect("brd.c's module for this run");
                Dev::C(m.brd_init(&p).unwrap_or_else(|e| panic!("brd.c: {e}")))
            }
            Driver::BrdCurrent => {
                let p = brd_current::Params { rd_nr: 1, rd_size: kib, ..brd_current::Params::default() };
                Dev::Current(brd_current::brd_init(p).expect("brd_init"))
            }
            Driver::PmemV4_1 => Dev::Pmem(pmem_v4_1::pmem_probe(case.bytes() as u64).expect("pmem_probe")),
        }
    }

    fn open(&self) -> Result<Bdev, Errno> {
        match self {
            Dev::V4_0(b) => b.open(0),
            Dev::V6_1(b) => b.open(0),
            Dev::C(b) => b.open(0),
            Dev::Current(b) => b.open(0),
            Dev::Pmem(p) => p.open(),
        }
    }

    fn unload(self) {
        match self {
            Dev::V4_0(b) => brd_v4_0::brd_exit(b),
            Dev::V6_1(b) => brd_v6_1::brd_exit(b),
            Dev::C(b) => b.brd_exit(),
            Dev::Current(b) => brd_current::brd_exit(b),
            Dev::Pmem(p) => pmem_v4_1::pmem_remove(p),
        }
    }
}

pub(super) fn read(bdev: &Bdev, sector: u64, len: usize) -> Result<Vec<u8>, Errno> {
    let mut v = vec![0u8; len];
    rw(bdev, sector, &mut v, false, false)?;
    Ok(v)
}

/// Checks that `len = want.len()` bytes at `sector` read back as `want`.
#[track_caller]
fn check_read(bdev: &Bdev, sector: u64, want: &[u8], what: &str) {
    match read(bdev, sector, want.len()) {
        Ok(got) => {
            let bad = got.iter().zip(want).position(|(a, b)| a != b);
            expect(bad.is_none(), || {
                let i = bad.unwrap_or(0);
                format!(
                    "swarm: {what}: byte {i} (sector {}) reads {:#04x}, expected {:#04x}",
                    sector + (i / SECTOR) as u64,
                    got[i],
                    want[i]
                )
            });
        }
        Err(e) => expect(false, || format!("swarm: {what}: read at sector {sector} failed with {e}")),
    }
}

impl Worker<'_> {
    fn arm(nth: Option<u64>) {
        if let Some(n) = nth {
            set_fail_nth(n);
        }
    }

    /// Whether the armed fail-nth fired; disarms it.
    fn disarm(&self, nth: Option<u64>) -> Option<bool> {
        nth.map(|_| {
            let fired = fail_nth() == 0;
            set_fail_nth(0);
            if fired {
                Tally::bump(&self.tally.fired);
            }
            fired
        })
    }

    fn run(&mut self, op: &Op) {
        Tally::bump(&self.tally.ops);
        let what = op.to_string();
        match *op {
            Op::Write { sector, sectors, tag, nowait, fail_nth } => {
                let new = data(tag, sector * SECTOR as u64, sectors as usize * SECTOR);
                Self::arm(fail_nth);
                let r = rw(self.bdev, sector, &mut new.clone(), true, nowait);
                let fired = self.disarm(fail_nth);
                self.written(&what, sector, &new, r, self.case.driver.bio_error(nowait), fired);
            }
            Op::Read { sector, sectors } => {
                let at = sector as usize * SECTOR;
                let want = self.shadow[at..at + sectors as usize * SECTOR].to_vec();
                check_read(self.bdev, sector, &want, &what);
            }
            Op::Discard { sector, sectors } => {
                let r = submit_bio(self.bdev, &mut Bio::discard(sector, sectors * SECTOR as u64));
                if !self.case.driver.supports_discard() {
                    Tally::bump(&self.tally.refused_discards);
                    expect(r == Err(Errno::EOPNOTSUPP), || {
                        format!("swarm: {what} on a queue without discard returned {r:?}")
                    });
                    return;
                }
                expect(r.is_ok(), || format!("swarm: {what} returned {r:?}"));
                self.discarded(sector, sectors);
            }
            Op::WritePage { sector, tag, fail_nth } => {
                let new = data(tag, sector * SECTOR as u64, PAGE_SIZE);
                let page = submitter_page();
                memcpy_to(page_address(page).expect("lowmem"), &new);
                Self::arm(fail_nth);
                let r = bdev_write_page(self.bdev, sector, page);
                let fired = self.disarm(fail_nth);
                __free_page(page);
                self.written(&what, sector, &new, r, self.case.driver.rw_page_error(), fired);
            }
            Op::ReadPage { sector } => {
                let page = submitter_page();
                let r = bdev_read_page(self.bdev, sector, page);
                expect(r.is_ok(), || format!("swarm: {what} returned {r:?}"));
                let mut got = vec![0u8; PAGE_SIZE];
                memcpy_from(&mut got, page_address(page).expect("lowmem"));
                __free_page(page);
                let at = sector as usize * SECTOR;
                let bad = got.iter().zip(&self.shadow[at..at + PAGE_SIZE]).position(|(a, b)| a != b);
                expect(bad.is_none() || r.is_err(), || {
                    format!("swarm: {what}: byte {} differs from the shadow", bad.unwrap_or(0))
                });
            }
            Op::Irq => expect(generate_irq(IRQ), || "swarm: the interrupt line has no handler".to_string()),
            Op::Flush => {
                let r = blkdev_ioctl(self.bdev, BLKFLSBUF, 0, Caps { sys_admin: true });
                expect(r == Ok(0), || format!("swarm: BLKFLSBUF with one opener returned {r:?}"));
                if self.case.driver.flush_drops_data() {
                    self.shadow.fill(0);
                }
            }
        }
    }
}

/// One execution of a case.
pub(super) fn execute(case: &Arc<Case>, tally: &Arc<Tally>, module: Option<&Arc<ksim_c::brd::BrdModule>>) {
    kfn!("swarm_main");
    let dev = Dev::load(case, module);
    let bdev = match dev.open() {
        Ok(b) => Arc::new(b),
        Err(e) => {
            // brd.c allocates its device with kzalloc() in brd_alloc(), and brd_init() ignores
            // brd_alloc()'s failure: with failslab armed the module loads without ram0 (the Rust
            // ports keep the device as a Rust value and cannot lose it).
            let slab_faults = matches!(case.faults, Faults::Probability { slab: true, .. });
            expect(case.driver == Driver::BrdV6_1C && slab_faults && e == Errno::ENXIO, || {
                format!("swarm: opening the disk failed with {e}")
            });
            dev.unload();
            return;
        }
    };
    if case.prepopulate {
        // Zeros either way: a failed zero fill leaves pages absent (they read as zeros) or
        // allocated and zeroed.
        let r = rw(&bdev, 0, &mut vec![0u8; case.bytes()], true, false);
        let may_fail = case.driver.allocates() && matches!(case.faults, Faults::Probability { .. });
        if r.is_err() {
            Tally::bump(&tally.failed_writes);
        }
        expect(r.is_ok() || (may_fail && r.err() == case.driver.bio_error(false)), || {
            format!("swarm: zero fill returned {r:?} (faults {})", case.faults)
        });
    }
    let runs = Arc::new(AtomicU64::new(0));
    let work = {
        let runs = runs.clone();
        WorkStruct::new("swarm_irq_work", move || {
            runs.fetch_add(1, Ordering::Relaxed);
        })
    };
    let irqs = case.workers.iter().flatten().filter(|o| **o == Op::Irq).count() as u64;
    if irqs > 0 {
        let w = work.clone();
        request_irq(IRQ, "swarm-dev", move |_| {
            schedule_work(&w);
            IrqReturn::Handled
        })
        .expect("the swarm's irq line is free");
    }
    let handles: Vec<_> = (0..case.workers.len())
        .map(|i| {
            let (bdev, case, tally) = (bdev.clone(), case.clone(), tally.clone());
            kthread_run(&format!("swarm-{i}"), move || {
                let mut w =
                    Worker { case: &case, bdev: &bdev, tally: &tally, shadow: vec![0u8; case.bytes()] };
                for op in &case.workers[i] {
                    w.run(op);
                }
                w.shadow
            })
        })
        .collect();
    let mut shadow = vec![0u8; case.bytes()];
    for (i, h) in handles.into_iter().enumerate() {
        let mine = h.join();
        for (s, &owner) in case.owners.iter().enumerate() {
            if owner == i {
                shadow[s * SECTOR..(s + 1) * SECTOR].copy_from_slice(&mine[s * SECTOR..(s + 1) * SECTOR]);
            }
        }
    }
    if case.flush_after {
        let r = blkdev_ioctl(&bdev, BLKFLSBUF, 0, Caps { sys_admin: true });
        expect(r == Ok(0), || format!("swarm: BLKFLSBUF with one opener returned {r:?}"));
        if case.driver.flush_drops_data() {
            shadow.fill(0);
        }
    }
    if case.tamper {
        let i = shadow.len() / 2;
        shadow[i] ^= 0x5a;
    }
    check_read(&bdev, 0, &shadow, "the whole device after every kthread finished");
    if irqs > 0 {
        free_irq(IRQ);
        flush_work(&work);
        let n = runs.load(Ordering::Relaxed);
        expect((1..=irqs).contains(&n), || format!("swarm: {irqs} interrupts ran the work item {n} times"));
    }
    drop(bdev);
    dev.unload();
}
