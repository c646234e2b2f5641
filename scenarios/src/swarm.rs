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
//!   kthread before some writes with [`set_fail_nth`]. The submitter's own data pages are
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

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ksim::blk::{bdev_read_page, bdev_write_page, blkdev_ioctl, submit_bio, Bdev, Bio, Caps};
use ksim::blk::{BLKFLSBUF, SECTOR_SHIFT};
use ksim::check::expect;
use ksim::fault_inject::{fail_nth, set_fail_nth, FaultPlan};
use ksim::highmem::page_address;
use ksim::mm::{__free_page, memcpy_from, memcpy_to, PAGE_SIZE};
use ksim::prelude::*;
use ksim_drivers::{brd_current, brd_v4_0, brd_v6_1, pmem_v4_1};

use crate::io::{rw, submitter_page};

/// Sectors per page.
const PAGE_SECTORS: u64 = (PAGE_SIZE >> SECTOR_SHIFT) as u64;
/// Bytes per sector.
const SECTOR: usize = 1 << SECTOR_SHIFT;
/// The swarm device's interrupt line.
const IRQ: u32 = 11;
/// Lowmem pages of the highmem machine.
const LOWMEM_PAGES: u64 = 256;

/// A small deterministic generator (SplitMix64): the case is a pure function of its seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6b73_696d_7377_726d)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// SplitMix64's finaliser.
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
        matches!(self, Driver::BrdV6_1 | Driver::BrdCurrent)
    }

    /// Whether writes allocate (and so can fail under fault injection).
    pub fn allocates(self) -> bool {
        !matches!(self, Driver::PmemV4_1)
    }

    /// What a bio write ends with when the driver cannot allocate.
    pub fn bio_error(self, nowait: bool) -> Option<Errno> {
        match self {
            Driver::BrdV4_0 { .. } => Some(Errno::ENOSPC),
            Driver::BrdV6_1 | Driver::BrdCurrent if nowait => Some(Errno::EAGAIN),
            Driver::BrdV6_1 | Driver::BrdCurrent => Some(Errno::EIO),
            Driver::PmemV4_1 => None,
        }
    }

    /// What `->rw_page` returns when the driver cannot allocate.
    pub fn rw_page_error(self) -> Option<Errno> {
        match self {
            Driver::BrdV4_0 { .. } => Some(Errno::ENOSPC),
            Driver::BrdV6_1 => Some(Errno::ENOMEM),
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
            Driver::BrdV6_1 | Driver::BrdCurrent => Profile::Modern,
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Driver::BrdV4_0 { dax: true } => f.write_str("brd-v4.0 dax=on"),
            Driver::BrdV4_0 { dax: false } => f.write_str("brd-v4.0 dax=off"),
            Driver::BrdV6_1 => f.write_str("brd-v6.1"),
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

/// Maximal runs of sectors owned by `w`, as (first, end) pairs.
fn owned_runs(owners: &[usize], w: usize) -> Vec<(u64, u64)> {
    let mut runs = Vec::new();
    let mut s = 0;
    while s < owners.len() {
        if owners[s] != w {
            s += 1;
            continue;
        }
        let start = s;
        while s < owners.len() && owners[s] == w {
            s += 1;
        }
        runs.push((start as u64, s as u64));
    }
    runs
}

/// Pages owned entirely by `w`.
fn private_pages(owners: &[usize], w: usize) -> Vec<u64> {
    owners
        .chunks(PAGE_SECTORS as usize)
        .enumerate()
        .filter(|(_, c)| c.iter().all(|&o| o == w))
        .map(|(p, _)| p as u64)
        .collect()
}

/// A random sub-run of `w`'s sectors: starts at a random owned sector (or, for overwrites, at
/// one `w` already wrote) and extends up to `max` sectors while `w` owns them.
fn pick_run(r: &mut Rng, owners: &[usize], w: usize, written: &[u64], max: u64) -> (u64, u64) {
    let owned: Vec<u64> = (0..owners.len() as u64).filter(|&s| owners[s as usize] == w).collect();
    let start = if !written.is_empty() && r.chance(40) {
        written[r.below(written.len() as u64) as usize]
    } else {
        owned[r.below(owned.len() as u64) as usize]
    };
    let want = r.range(1, max);
    let mut len = 1;
    while len < want && ((start + len) as usize) < owners.len() && owners[(start + len) as usize] == w {
        len += 1;
    }
    (start, len)
}

impl Case {
    /// The case of `seed`.
    pub fn generate(seed: u64) -> Case {
        let mut r = Rng::new(seed);
        let driver = match r.below(5) {
            0 => Driver::BrdV4_0 { dax: true },
            1 => Driver::BrdV4_0 { dax: false },
            2 => Driver::BrdV6_1,
            3 => Driver::BrdCurrent,
            _ => Driver::PmemV4_1,
        };
        let pages = r.range(2, 12);
        let sectors = (pages * PAGE_SECTORS) as usize;
        let highmem = r.chance(25);
        let nworkers = r.range(1, 3) as usize;
        // Ownership: a page is one kthread's, or split between all of them in order.
        let mut owners = vec![0usize; sectors];
        for p in 0..pages as usize {
            let shared = nworkers > 1 && r.chance(30);
            let o = r.below(nworkers as u64) as usize;
            for j in 0..PAGE_SECTORS as usize {
                owners[p * PAGE_SECTORS as usize + j] =
                    if shared { j * nworkers / PAGE_SECTORS as usize } else { o };
            }
        }
        // A kthread left without sectors gets a share of a random page (which then gives every
        // kthread some).
        for w in 0..nworkers {
            if !owners.contains(&w) {
                let p = r.below(pages) as usize;
                for j in 0..PAGE_SECTORS as usize {
                    owners[p * PAGE_SECTORS as usize + j] = j * nworkers / PAGE_SECTORS as usize;
                }
            }
        }
        let faults = match r.below(4) {
            0 | 1 => Faults::None,
            2 => Faults::Probability { percent: [5, 10, 25, 50][r.below(4) as usize], slab: r.chance(50) },
            _ => Faults::FailNth,
        };
        let mut tag = 0u32;
        let mut workers = Vec::new();
        for w in 0..nworkers {
            let mut written: Vec<u64> = Vec::new();
            let mut ops = Vec::new();
            let private = private_pages(&owners, w);
            for _ in 0..r.range(1, 6) {
                tag += 1;
                let nth = |r: &mut Rng| (faults == Faults::FailNth && r.chance(60)).then(|| r.range(1, 8));
                let kind = r.below(100);
                let op = if kind < 15 && driver.has_rw_page() && !private.is_empty() {
                    let sector = private[r.below(private.len() as u64) as usize] * PAGE_SECTORS;
                    if r.chance(60) {
                        written.extend(sector..sector + PAGE_SECTORS);
                        Op::WritePage { sector, tag, fail_nth: nth(&mut r) }
                    } else {
                        Op::ReadPage { sector }
                    }
                } else if kind < 35 {
                    // On drivers without discard, any owned run (it must be refused); with
                    // discard, whole pages this kthread owns alone.
                    let runs = owned_runs(&owners, w);
                    let priv_runs: Vec<(u64, u64)> = runs_of_pages(&private);
                    if !driver.supports_discard() {
                        let (s, e) = runs[r.below(runs.len() as u64) as usize];
                        Op::Discard { sector: s, sectors: r.range(1, e - s) }
                    } else if !priv_runs.is_empty() {
                        // Mostly from a page this kthread wrote, so 4.0's zeroing of the whole
                        // containing page destroys data the shadow must account for.
                        let dirty: Vec<u64> = private
                            .iter()
                            .copied()
                            .filter(|p| written.iter().any(|s| s / PAGE_SECTORS == *p))
                            .collect();
                        let first = if !dirty.is_empty() && r.chance(70) {
                            dirty[r.below(dirty.len() as u64) as usize]
                        } else {
                            let (p0, p1) = priv_runs[r.below(priv_runs.len() as u64) as usize];
                            r.range(p0, p1 - 1)
                        };
                        let (_, p1) =
                            *priv_runs.iter().find(|(a, b)| (*a..*b).contains(&first)).expect("a run");
                        let last = r.range(first, p1 - 1);
                        let start = first * PAGE_SECTORS + r.below(PAGE_SECTORS);
                        let end = (last * PAGE_SECTORS + r.range(1, PAGE_SECTORS)).max(start + 1);
                        Op::Discard { sector: start, sectors: end - start }
                    } else {
                        let (sector, sectors) = pick_run(&mut r, &owners, w, &written, 24);
                        Op::Read { sector, sectors }
                    }
                } else if kind < 55 {
                    let (sector, sectors) = pick_run(&mut r, &owners, w, &written, 24);
                    Op::Read { sector, sectors }
                } else {
                    let (sector, sectors) = pick_run(&mut r, &owners, w, &written, 24);
                    written.extend(sector..sector + sectors);
                    let nowait = driver.supports_nowait() && r.chance(25);
                    Op::Write { sector, sectors, tag, nowait, fail_nth: nth(&mut r) }
                };
                ops.push(op);
            }
            workers.push(ops);
        }
        let irqs = if r.chance(50) { 0 } else { r.range(1, 3) };
        for _ in 0..irqs {
            let w = r.below(nworkers as u64) as usize;
            let at = r.range(0, workers[w].len() as u64) as usize;
            workers[w].insert(at, Op::Irq);
        }
        let mut flush_after = false;
        if r.chance(30) {
            if nworkers == 1 {
                let at = r.range(0, workers[0].len() as u64) as usize;
                workers[0].insert(at, Op::Flush);
            } else {
                flush_after = true;
            }
        }
        let prepopulate = r.chance(30);
        let tasks = 1 + nworkers as u64 + 2 * irqs;
        let nops: usize = workers.iter().map(Vec::len).sum();
        let loom_ok = tasks <= 4 && nops <= 4;
        let scheduler = match r.below(if loom_ok { 4 } else { 3 }) {
            0 => Scheduler::Random { seed, iterations: r.range(2, 8) as usize },
            1 => Scheduler::Pct { seed, depth: r.range(2, 3) as usize, iterations: r.range(2, 8) as usize },
            2 => Scheduler::Dfs {
                preemption_bound: Some(r.range(1, 2) as usize),
                max_executions: Some(r.range(4, 16) as usize),
            },
            _ => Scheduler::Loom { preemption_bound: Some(r.range(0, 1) as usize) },
        };
        Case {
            seed,
            driver,
            pages,
            highmem,
            owners,
            workers,
            prepopulate,
            faults,
            flush_after,
            scheduler,
            tamper: false,
        }
    }

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
        let o =
            Runner::new(self.scheduler.clone()).config(self.config()).try_run(move || execute(&case, &t))?;
        Ok((o, tally))
    }
}

/// Consecutive pages of a sorted list, as (first, end) pairs.
fn runs_of_pages(pages: &[u64]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &p in pages {
        match runs.last_mut() {
            Some((_, end)) if *end == p => *end = p + 1,
            _ => runs.push((p, p + 1)),
        }
    }
    runs
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

/// The driver, loaded.
enum Dev {
    V4_0(brd_v4_0::Brd),
    V6_1(brd_v6_1::Brd),
    Current(brd_current::Brd),
    Pmem(pmem_v4_1::Pmem),
}

impl Dev {
    fn load(case: &Case) -> Dev {
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
            Driver::BrdCurrent => {
                let p = brd_current::Params { rd_nr: 1, rd_size: kib, ..brd_current::Params::default() };
                Dev::Current(brd_current::brd_init(p).expect("brd_init"))
            }
            Driver::PmemV4_1 => Dev::Pmem(pmem_v4_1::pmem_probe(case.bytes() as u64).expect("pmem_probe")),
        }
    }

    fn open(&self) -> Bdev {
        match self {
            Dev::V4_0(b) => b.open(0),
            Dev::V6_1(b) => b.open(0),
            Dev::Current(b) => b.open(0),
            Dev::Pmem(p) => p.open(),
        }
        .expect("open the disk")
    }

    fn unload(self) {
        match self {
            Dev::V4_0(b) => brd_v4_0::brd_exit(b),
            Dev::V6_1(b) => brd_v6_1::brd_exit(b),
            Dev::Current(b) => brd_current::brd_exit(b),
            Dev::Pmem(p) => pmem_v4_1::pmem_remove(p),
        }
    }
}

fn read(bdev: &Bdev, sector: u64, len: usize) -> Result<Vec<u8>, Errno> {
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

/// After a failed write of `new` over `old` at device byte `at`: the device holds `got`, which
/// must be `new` up to a boundary where the driver can stop and `old` after it.
fn prefix_ok(driver: Driver, at: usize, got: &[u8], new: &[u8], old: &[u8]) -> bool {
    (0..=got.len())
        .filter(|&l| {
            l == got.len() || l % PAGE_SIZE == 0 || (driver.splits_segments() && (at + l) % PAGE_SIZE == 0)
        })
        .any(|l| got[..l] == new[..l] && got[l..] == old[l..])
}

/// One kthread's state: its shadow of the device (meaningful on its own sectors).
struct Worker<'a> {
    case: &'a Case,
    bdev: &'a Bdev,
    tally: &'a Tally,
    shadow: Vec<u8>,
}

impl Worker<'_> {
    /// Whether a write may fail: the driver allocates and a fault may have hit it.
    fn may_fail(&self, fired: bool) -> bool {
        self.case.driver.allocates() && (fired || matches!(self.case.faults, Faults::Probability { .. }))
    }

    /// Checks a write's result and updates the shadow. `errno` is the driver's failure errno.
    fn written(
        &mut self,
        what: &str,
        sector: u64,
        new: &[u8],
        r: Result<(), Errno>,
        errno: Option<Errno>,
        fired: Option<bool>,
    ) {
        let at = sector as usize * SECTOR;
        let range = at..at + new.len();
        if let Some(fired) = fired {
            expect(fired == r.is_err(), || {
                format!(
                    "swarm: {what}: fail-nth {} but the write returned {r:?}",
                    if fired { "fired" } else { "did not fire" }
                )
            });
        }
        match r {
            Ok(()) => self.shadow[range].copy_from_slice(new),
            Err(e) => {
                Tally::bump(&self.tally.failed_writes);
                let ok = self.may_fail(fired == Some(true)) && Some(e) == errno;
                expect(ok, || {
                    format!("swarm: {what} failed with {e} (faults {}; the driver fails writes only with {errno:?} when an allocation fails)", self.case.faults)
                });
                match read(self.bdev, sector, new.len()) {
                    Ok(got) => {
                        let old = &self.shadow[range.clone()];
                        expect(prefix_ok(self.case.driver, at, &got, new, old), || {
                            format!("swarm: {what} failed with {e} and left neither a prefix of the new data nor the old data")
                        });
                        self.shadow[range].copy_from_slice(&got);
                    }
                    Err(e) => expect(false, || format!("swarm: reading back after a failed {what}: {e}")),
                }
            }
        }
    }

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

    /// The shadow after a successful discard.
    fn discarded(&mut self, sector: u64, sectors: u64) {
        let zero_page = |shadow: &mut [u8], page: u64| {
            let at = page as usize * PAGE_SIZE;
            shadow[at..at + PAGE_SIZE].fill(0);
        };
        match self.case.driver {
            // 4.0: for each whole PAGE_SIZE of the length, the page containing the current
            // sector is zeroed (so an unaligned start zeroes data before the range too).
            Driver::BrdV4_0 { .. } => {
                for k in 0..(sectors * SECTOR as u64) / PAGE_SIZE as u64 {
                    zero_page(&mut self.shadow, (sector + k * PAGE_SECTORS) / PAGE_SECTORS);
                }
            }
            // Current: the whole pages inside the range are freed and read as zeros.
            Driver::BrdCurrent => {
                let first = sector.div_ceil(PAGE_SECTORS);
                let end = (sector + sectors) / PAGE_SECTORS;
                for p in first..end.min(self.case.pages) {
                    zero_page(&mut self.shadow, p);
                }
            }
            Driver::BrdV6_1 | Driver::PmemV4_1 => unreachable!("discard is refused"),
        }
    }
}

/// One execution of a case.
fn execute(case: &Arc<Case>, tally: &Arc<Tally>) {
    kfn!("swarm_main");
    let dev = Dev::load(case);
    let bdev = Arc::new(dev.open());
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
