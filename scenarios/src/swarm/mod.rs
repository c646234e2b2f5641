//! Swarm testing of the block drivers: from a seed, a random but valid combination of a driver,
//! a workload, pre-population, a fault plan, an interrupt load, `BLKFLSBUF` and a scheduler, run
//! and checked inside the run against a shadow model of the device's bytes and of the errnos
//! the kernel returns (with [`ksim::check::expect`], so a mismatch is a report with the
//! simulated call trace and a replay line like any other violation).
//!
//! What is generated, and why each choice is valid kernel usage:
//!
//! - **driver**: brd v4.0 with `CONFIG_BLK_DEV_RAM_DAX` on or off, brd v6.1, current brd (xarray,
//!   page references, discard frees), pmem v4.1; 2-12 pages, on a 64-bit or a 32-bit highmem
//!   machine.
//! - **workload**: 1-3 kthreads doing 1-6 operations each: writes (and overwrites) of 1-24
//!   sectors at any sector, reads, discards (on every driver: those without discard support
//!   must fail them with `-EOPNOTSUPP`), whole-page `->rw_page` writes and reads at
//!   page-aligned sectors (drivers that have `->rw_page`; like the filesystems that call
//!   `bdev_write_page`, never past the end), and `REQ_NOWAIT` writes (drivers that advertise
//!   nowait). Every sector belongs to one kthread (a page is either one kthread's, or split
//!   between all of them — so writers race on first touch of shared pages), and a kthread reads,
//!   writes and checks only its own sectors: concurrent writers of the same sector would make the
//!   expected bytes depend on the interleaving. Discards and page I/O touch only whole pages the
//!   kthread owns alone, because 4.0's unaligned discard zeroes the whole containing page
//!   (its documented bug) and page I/O writes a whole page.
//! - **pre-population**: optionally the whole device is first written with zeros (Dave Chinner's
//!   advice in the 2015 thread).
//! - **faults**: none; or `fail_page_alloc` (and optionally `failslab`) with a probability and
//!   the kernel's filters relaxed (min-order 0, ignore-gfp-wait and ignore-gfp-highmem off: the
//!   defaults never fail brd's order-0 `GFP_NOIO` allocations); or fail-nth armed from the
//!   kthread before some writes with [`ksim::fault_inject::set_fail_nth`]. The submitter's own data pages are
//!   `__GFP_NOFAIL`, so only the driver's allocations fail.
//! - **interrupts**: 0-3 `generate_irq` of a handler that only queues a work item (which counts
//!   its runs); `free_irq` and `flush_work` at the end, then the count is checked.
//! - **BLKFLSBUF** (`CAP_SYS_ADMIN`, through the one open): by the only kthread between two of
//!   its operations, or by the main task after joining several. Never while another task does
//!   I/O: brd 4.0 frees every page without `brd_lock`, so a write racing it may be lost — the
//!   kernel accepts that race ("there is not much we can do to close that race"), so no shadow
//!   model could say what the device holds. Nothing holds a DAX mapping (the workload never
//!   calls `direct_access`). brd 4.0 drops the data; the others have no `->ioctl` and the block
//!   layer's generic flush keeps it.
//! - **scheduler**: random, PCT or bounded DFS with small budgets, or loom (bound 0-1) when the
//!   run has at most 4 tasks including the main one and at most 4 operations.
//!
//! The checks: every read returns the shadow's bytes; a write succeeds unless a fault could
//! have failed it, and then fails only with the driver's errno (brd 4.0: `-ENOSPC`; brd v6.1 and
//! current: `-EIO` for a bio, `-EAGAIN` for `REQ_NOWAIT`, `-ENOMEM` from v6.1's `->rw_page`),
//! and what it left on the device is a prefix of the new data at a segment boundary (current
//! brd: or at a brd page boundary) over the old data; with fail-nth armed, the write fails
//! exactly when the injection fired. The final read of the whole device matches the merged
//! shadow; the work item ran between once and once per interrupt; and the run's own checks
//! (sleep in atomic context, KASAN, kmemleak at teardown, lockdep) apply throughout.

//!
//! The code is split by what it does: `generate` (a case from a seed), `shadow` (what the
//! device must hold after each operation), `run` (loading the driver, running the kthreads,
//! checking reads).

mod generate;
mod run;
mod shadow;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ksim::blk::SECTOR_SHIFT;
use ksim::errno::Errno;
use ksim::fault_inject::FaultPlan;
use ksim::mm::PAGE_SIZE;
use ksim::{Config, Outcome, Profile, Runner, Scheduler};

/// Sectors per page.
const PAGE_SECTORS: u64 = (PAGE_SIZE >> SECTOR_SHIFT) as u64;
/// Bytes per sector.
const SECTOR: usize = 1 << SECTOR_SHIFT;
/// The swarm device's interrupt line.
const IRQ: u32 = 11;
/// Lowmem pages of the highmem machine.
const LOWMEM_PAGES: u64 = 256;

/// SplitMix64's finaliser, as a hash of a write's tag and offset (not a random source: the
/// bytes a write puts at an offset must be the same in every run and every check).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The bytes a write tagged `tag` puts at device byte `at`: never zero (so written bytes differ
/// from unwritten ones), different for every tag and offset.
fn data_byte(tag: u32, at: u64) -> u8 {
    (mix((u64::from(tag) << 40) ^ at) as u8) | 1
}

/// `len` bytes of write `tag` starting at device byte `at`.
fn data(tag: u32, at: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| data_byte(tag, at + i)).collect()
}

/// The driver under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// brd of Linux 4.0, with or without `CONFIG_BLK_DEV_RAM_DAX`.
    BrdV4_0 {
        /// `CONFIG_BLK_DEV_RAM_DAX`.
        dax: bool,
    },
    /// brd of Linux 6.1 (radix tree, REQ_NOWAIT, no discard).
    BrdV6_1,
    /// `drivers/block/brd.c` of Linux 6.1 compiled against ksim's headers (must behave as
    /// `BrdV6_1`).
    BrdV6_1C,
    /// Today's brd (xarray, page references, discard frees pages).
    BrdCurrent,
    /// pmem of Linux 4.1.
    PmemV4_1,
}

impl Driver {
    /// Whether the queue accepts discards.
    pub fn supports_discard(self) -> bool {
        matches!(self, Driver::BrdV4_0 { .. } | Driver::BrdCurrent)
    }

    /// Whether `->rw_page` exists.
    pub fn has_rw_page(self) -> bool {
        !matches!(self, Driver::BrdCurrent)
    }

    /// Whether the queue handles `REQ_NOWAIT`.
    pub fn supports_nowait(self) -> bool {
        matches!(self, Driver::BrdV6_1 | Driver::BrdV6_1C | Driver::BrdCurrent)
    }

    /// Whether writes allocate (and so can fail under fault injection).
    pub fn allocates(self) -> bool {
        !matches!(self, Driver::PmemV4_1)
    }

    /// What a bio write ends with when the driver cannot allocate.
    pub fn bio_error(self, nowait: bool) -> Option<Errno> {
        match self {
            Driver::BrdV4_0 { .. } => Some(Errno::ENOSPC),
            Driver::BrdV6_1 | Driver::BrdV6_1C | Driver::BrdCurrent if nowait => Some(Errno::EAGAIN),
            Driver::BrdV6_1 | Driver::BrdV6_1C | Driver::BrdCurrent => Some(Errno::EIO),
            Driver::PmemV4_1 => None,
        }
    }

    /// What `->rw_page` returns when the driver cannot allocate.
    pub fn rw_page_error(self) -> Option<Errno> {
        match self {
            Driver::BrdV4_0 { .. } => Some(Errno::ENOSPC),
            Driver::BrdV6_1 | Driver::BrdV6_1C => Some(Errno::ENOMEM),
            Driver::BrdCurrent | Driver::PmemV4_1 => None,
        }
    }

    /// Whether `BLKFLSBUF` drops the data (only brd 4.0 has the ioctl).
    pub fn flush_drops_data(self) -> bool {
        matches!(self, Driver::BrdV4_0 { .. })
    }

    /// Whether a failed write may stop inside a segment at a brd page boundary (current brd
    /// copies one brd page at a time; the older drivers set up both pages of a segment first).
    pub fn splits_segments(self) -> bool {
        matches!(self, Driver::BrdCurrent)
    }

    /// The kernel generation, for the report format and GFP names.
    pub fn profile(self) -> Profile {
        match self {
            Driver::BrdV4_0 { .. } | Driver::PmemV4_1 => Profile::V4_0,
            Driver::BrdV6_1 | Driver::BrdV6_1C | Driver::BrdCurrent => Profile::Modern,
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Driver::BrdV4_0 { dax: true } => f.write_str("brd-v4.0 dax=on"),
            Driver::BrdV4_0 { dax: false } => f.write_str("brd-v4.0 dax=off"),
            Driver::BrdV6_1 => f.write_str("brd-v6.1"),
            Driver::BrdV6_1C => f.write_str("brd-6.1-c"),
            Driver::BrdCurrent => f.write_str("brd-current"),
            Driver::PmemV4_1 => f.write_str("pmem-v4.1"),
        }
    }
}

/// The fault plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faults {
    /// No injection.
    None,
    /// `fail_page_alloc` (and `failslab` if `slab`) with this probability, unlimited times,
    /// filters relaxed.
    Probability {
        /// Percent.
        percent: u32,
        /// Also fail slab (radix-tree / xarray node) allocations.
        slab: bool,
    },
    /// Filters relaxed, no probability: writes carrying `fail_nth` arm it from the kthread.
    FailNth,
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Faults::None => f.write_str("none"),
            Faults::Probability { percent, slab } => {
                write!(f, "p={percent}%{}", if *slab { "+slab" } else { "" })
            }
            Faults::FailNth => f.write_str("fail-nth"),
        }
    }
}

/// One operation of a kthread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Writes `sectors` sectors of data tagged `tag` at `sector`.
    Write {
        /// First sector.
        sector: u64,
        /// Length in sectors.
        sectors: u64,
        /// The data's tag (unique per write).
        tag: u32,
        /// `REQ_NOWAIT`.
        nowait: bool,
        /// fail-nth armed for this write.
        fail_nth: Option<u64>,
    },
    /// Reads and checks `sectors` sectors at `sector`.
    Read {
        /// First sector.
        sector: u64,
        /// Length in sectors.
        sectors: u64,
    },
    /// Discards `sectors` sectors at `sector`.
    Discard {
        /// First sector.
        sector: u64,
        /// Length in sectors.
        sectors: u64,
    },
    /// `bdev_write_page` of a whole page at page-aligned `sector`.
    WritePage {
        /// First sector (page aligned).
        sector: u64,
        /// The data's tag.
        tag: u32,
        /// fail-nth armed for this write.
        fail_nth: Option<u64>,
    },
    /// `bdev_read_page` of a whole page at page-aligned `sector`, checked.
    ReadPage {
        /// First sector (page aligned).
        sector: u64,
    },
    /// The device raises its interrupt.
    Irq,
    /// `BLKFLSBUF` (only as the only kthread).
    Flush,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nth = |n: &Option<u64>| n.map(|n| format!(" fail-nth={n}")).unwrap_or_default();
        match self {
            Op::Write { sector, sectors, nowait, fail_nth, .. } => {
                write!(f, "write {sector}+{sectors}{}{}", if *nowait { " nowait" } else { "" }, nth(fail_nth))
            }
            Op::Read { sector, sectors } => write!(f, "read {sector}+{sectors}"),
            Op::Discard { sector, sectors } => write!(f, "discard {sector}+{sectors}"),
            Op::WritePage { sector, fail_nth, .. } => write!(f, "write_page {sector}{}", nth(fail_nth)),
            Op::ReadPage { sector } => write!(f, "read_page {sector}"),
            Op::Irq => f.write_str("irq"),
            Op::Flush => f.write_str("BLKFLSBUF"),
        }
    }
}

/// One generated case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The seed it was generated from.
    pub seed: u64,
    /// The driver.
    pub driver: Driver,
    /// Device size in pages.
    pub pages: u64,
    /// A 32-bit highmem machine.
    pub highmem: bool,
    /// The kthread owning each sector.
    pub owners: Vec<usize>,
    /// Each kthread's operations (1-6 each, plus interrupts and BLKFLSBUF).
    pub workers: Vec<Vec<Op>>,
    /// Zero-fill the device first.
    pub prepopulate: bool,
    /// The fault plan.
    pub faults: Faults,
    /// `BLKFLSBUF` by the main task after joining the kthreads.
    pub flush_after: bool,
    /// The scheduler.
    pub scheduler: Scheduler,
    /// Test hook, not a generated choice: the final check expects one byte the workload never
    /// wrote, so the run must report an integrity failure (proves the shadow check bites).
    pub tamper: bool,
}

/// What the workload met, summed over every execution of a run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Operations run.
    pub ops: AtomicU64,
    /// Writes (and zero fills) that failed with the driver's errno.
    pub failed_writes: AtomicU64,
    /// fail-nth injections that fired.
    pub fired: AtomicU64,
    /// Discards refused with `-EOPNOTSUPP`.
    pub refused_discards: AtomicU64,
}

impl Tally {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// (ops, failed writes, fail-nth fired, refused discards).
    pub fn get(&self) -> (u64, u64, u64, u64) {
        (
            self.ops.load(Ordering::Relaxed),
            self.failed_writes.load(Ordering::Relaxed),
            self.fired.load(Ordering::Relaxed),
            self.refused_discards.load(Ordering::Relaxed),
        )
    }
}

impl Case {
    /// Device size in bytes.
    pub fn bytes(&self) -> usize {
        self.pages as usize * PAGE_SIZE
    }

    /// Most tasks in one execution, the main one included: kthreads, and a handler and a worker
    /// per interrupt.
    pub fn tasks(&self) -> usize {
        let irqs = self.workers.iter().flatten().filter(|o| **o == Op::Irq).count();
        1 + self.workers.len() + 2 * irqs
    }

    /// The simulated kernel's configuration.
    pub fn config(&self) -> Config {
        let mut c = match self.driver.profile() {
            Profile::V4_0 => Config::v4_0(),
            Profile::Modern => Config::modern(),
        };
        if self.highmem {
            c = c.highmem(LOWMEM_PAGES);
        }
        let mut plan = FaultPlan::default();
        if self.faults != Faults::None {
            plan.page_alloc.min_order = 0;
            plan.page_alloc.ignore_gfp_wait = false;
            plan.page_alloc.ignore_gfp_highmem = false;
            plan.slab.ignore_gfp_wait = false;
        }
        if let Faults::Probability { percent, slab } = self.faults {
            plan.page_alloc.attr.probability = percent;
            plan.page_alloc.attr.times = -1;
            if slab {
                plan.slab.attr.probability = percent;
                plan.slab.attr.times = -1;
            }
        }
        c.faults(plan)
    }

    /// Runs the case under its scheduler: the outcome, and what the workload met.
    pub fn run(&self) -> Result<(Outcome, Arc<Tally>), String> {
        let tally = Arc::new(Tally::default());
        let case = Arc::new(self.clone());
        let t = tally.clone();
        // brd.c: this run's copy of the module (each execution restores and loads it).
        let module = match self.driver {
            Driver::BrdV6_1C => match crate::brds::brd_c() {
                crate::brds::CDriver::Ready(img, v) => Some(ksim_c::brd::BrdModule::new(img, v)?),
                _ => return Err(crate::brds::c_unavailable().unwrap_or_default()),
            },
            _ => None,
        };
        let o = Runner::new(self.scheduler.clone())
            .config(self.config())
            .try_run(move || run::execute(&case, &t, module.as_ref()))?;
        Ok((o, tally))
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {}, {} pages{}, faults {}, {}{}, scheduler {}",
            self.seed,
            self.driver,
            self.pages,
            if self.highmem { " (highmem machine)" } else { "" },
            self.faults,
            if self.prepopulate { "zero-filled" } else { "empty" },
            if self.flush_after { ", BLKFLSBUF after join" } else { "" },
            self.scheduler
        )?;
        for (i, ops) in self.workers.iter().enumerate() {
            let ops: Vec<String> = ops.iter().map(ToString::to_string).collect();
            write!(f, "; swarm-{i}: {}", ops.join(", "))?;
        }
        Ok(())
    }
}
