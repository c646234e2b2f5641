//! The fuzzing harness: arbitrary bytes become a sequence of operations on one brd — bios in and
//! beyond range, reads, discards, `direct_access` calls, BLKFLSBUF, fail-nth faults, operations
//! under a spinlock, writes through mappings kept across a flush — run on the std backend.
//!
//! The only acceptable outcomes are the errnos the kernel returns for each operation and the
//! reports the sequence really earned: a sleep in atomic context when an operation under the
//! spinlock had to allocate a page, a use after free when a mapping outlived a flush. Everything
//! else — a harness panic, a missed or unearned report, data that differs from the shadow model,
//! a leak — is a bug, returned as `Err` with the decoded case. `cargo test` drives it with seeded
//! random bytes (tests/fuzz_brd.rs); `fuzz/` holds a libFuzzer target over the same function.

use std::sync::{Arc, Mutex as StdMutex};

use ksim::blk::{blkdev_ioctl, Bdev, Caps, BLKFLSBUF};
use ksim::check::expect;
use ksim::dax::bdev_direct_access;
use ksim::fault_inject::set_fail_nth;
use ksim::mm::{memcpy_to, KAddr, PAGE_SIZE};
use ksim::prelude::*;
use ksim_drivers::{brd_current, brd_v4_0, brd_v6_1};

use crate::io::{discard, pattern, read, Prepared};

/// Device size in sectors (64 KiB): small, so operations collide.
const SECTORS: u64 = 128;
const PAGES: usize = (SECTORS / 8) as usize;
/// Most operations per case.
const MAX_OPS: usize = 24;

/// Which driver a case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// brd v4.0 with `CONFIG_BLK_DEV_RAM_DAX`.
    V40Dax,
    /// brd v4.0 without DAX.
    V40,
    /// brd v6.1.
    V61,
    /// brd today.
    Current,
    /// brd.c of Linux 6.1 compiled against ksim's headers (behaves as `V61` must).
    V61C,
}

/// One operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Write `sectors` sectors of pattern `tag` at `sector` (REQ_NOWAIT if `nowait`), under a
    /// spinlock if `locked`.
    Write { sector: u64, sectors: u64, tag: u8, nowait: bool, locked: bool },
    /// Read and compare with the shadow model.
    Read { sector: u64, sectors: u64 },
    /// Discard.
    Discard { sector: u64, sectors: u64 },
    /// `bdev_direct_access(sector, size)`, under a spinlock if `locked`; a mapping it returns is
    /// written through and kept.
    Dax { sector: u64, size: i64, locked: bool },
    /// Write through a kept mapping.
    UseMap { index: usize },
    /// BLKFLSBUF, with a second opener holding the device if `busy`.
    Flush { busy: bool },
    /// Arm fail-nth for the next operation.
    Arm { nth: u64 },
}

/// A decoded case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The driver.
    pub driver: Driver,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn int(&mut self, below: u64) -> Option<u64> {
        let hi = self.byte()? as u64;
        let lo = self.byte()? as u64;
        Some(((hi << 8) | lo) % below)
    }
}

impl Case {
    /// Decodes bytes (any bytes) into a case.
    pub fn decode(data: &[u8]) -> Case {
        let mut b = Bytes(data);
        let driver = match b.byte().unwrap_or(0) % 5 {
            0 => Driver::V40Dax,
            1 => Driver::V40,
            2 => Driver::V61,
            3 => Driver::Current,
            _ => Driver::V61C,
        };
        let mut ops = Vec::new();
        while ops.len() < MAX_OPS {
            let Some(kind) = b.byte() else { break };
            // Sectors run past the end of the device (-EIO) a little of the time.
            let op = (|| {
                Some(match kind % 8 {
                    0 | 1 => {
                        let flags = b.byte()?;
                        Op::Write {
                            sector: b.int(SECTORS + 8)?,
                            sectors: 1 + b.int(24)?,
                            tag: b.byte()?,
                            nowait: flags & 1 != 0,
                            locked: flags & 6 == 6,
                        }
                    }
                    2 => Op::Read { sector: b.int(SECTORS + 8)?, sectors: 1 + b.int(40)? },
                    3 => Op::Discard { sector: b.int(SECTORS + 8)?, sectors: 1 + b.int(40)? },
                    4 => Op::Dax {
                        sector: b.int(SECTORS + 16)?,
                        size: b.int(3 * PAGE_SIZE as u64)? as i64 - 16,
                        locked: b.byte()? & 1 != 0,
                    },
                    5 => Op::UseMap { index: b.byte()? as usize },
                    6 => Op::Flush { busy: b.byte()? % 4 == 0 },
                    _ => Op::Arm { nth: 1 + b.int(6)? },
                })
            })();
            match op {
                Some(op) => ops.push(op),
                None => break,
            }
        }
        Case { driver, ops }
    }
}

/// What the shadow model knows.
struct Shadow {
    bytes: Vec<u8>,
    /// Per sector: contents known.
    known: Vec<bool>,
    /// Per page: `Some(present)` when known.
    present: Vec<Option<bool>>,
    /// Kept mappings: address, sector, bytes and flush epoch when taken.
    maps: Vec<(KAddr, u64, usize, u64)>,
    epoch: u64,
}

impl Shadow {
    fn new() -> Self {
        Shadow {
            bytes: vec![0; (SECTORS * 512) as usize],
            known: vec![true; SECTORS as usize],
            present: vec![Some(false); PAGES],
            maps: Vec::new(),
            epoch: 0,
        }
    }

    fn pages(sector: u64, sectors: u64) -> std::ops::Range<usize> {
        (sector / 8) as usize..(sector + sectors).div_ceil(8) as usize
    }

    /// Whether writing the range must allocate (`Some(true)`), must not (`Some(false)`), or
    /// the model does not know.
    fn must_allocate(&self, sector: u64, sectors: u64) -> Option<bool> {
        let mut any_absent = false;
        for p in Self::pages(sector, sectors) {
            match self.present[p] {
                None => return None,
                Some(false) => any_absent = true,
                Some(true) => {}
            }
        }
        Some(any_absent)
    }

    fn forget(&mut self, sector: u64, sectors: u64) {
        for s in sector..sector + sectors {
            self.known[s as usize] = false;
        }
        for p in Self::pages(sector, sectors) {
            self.present[p] = None;
        }
    }

    fn wrote(&mut self, sector: u64, data: &[u8]) {
        let at = (sector * 512) as usize;
        self.bytes[at..at + data.len()].copy_from_slice(data);
        for s in sector..sector + (data.len() as u64).div_ceil(512) {
            self.known[s as usize] = true;
        }
        for p in Self::pages(sector, (data.len() as u64).div_ceil(512)) {
            self.present[p] = Some(true);
        }
    }

    fn zero_page(&mut self, page: usize, freed: bool) {
        self.bytes[page * PAGE_SIZE..(page + 1) * PAGE_SIZE].fill(0);
        for s in page * 8..page * 8 + 8 {
            self.known[s] = true;
        }
        if freed {
            self.present[page] = Some(false);
        }
    }
}

std::thread_local! {
    /// Whether the last armed kernel call consumed its fail-nth (the harness runs on the std
    /// backend, one OS thread per task, so a plain thread-local is the task's).
    static FIRED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The driver under test, opened.
enum Dev {
    V40(brd_v4_0::Brd),
    V61(brd_v6_1::Brd),
    Current(brd_current::Brd),
    C(ksim_c::brd::Brd),
}

impl Dev {
    fn open(&self) -> Bdev {
        match self {
            Dev::V40(b) => b.open(0),
            Dev::V61(b) => b.open(0),
            Dev::Current(b) => b.open(0),
            Dev::C(b) => b.open(0),
        }
        .expect("open ram0")
    }

    fn exit(self) {
        match self {
            Dev::V40(b) => brd_v4_0::brd_exit(b),
            Dev::V61(b) => brd_v6_1::brd_exit(b),
            Dev::Current(b) => brd_current::brd_exit(b),
            Dev::C(b) => b.brd_exit(),
        }
    }
}

/// The report an operation may or must earn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Earns {
    Nothing,
    Maybe(Violation),
    Must(Violation),
}

/// What an operation under a spinlock earns, given whether it must allocate a page.
fn sleep_if_allocating(allocates: Option<bool>) -> Earns {
    match allocates {
        Some(true) => Earns::Must(Violation::SleepInAtomic),
        Some(false) => Earns::Nothing,
        None => Earns::Maybe(Violation::SleepInAtomic),
    }
}

/// The kernel's errnos for a failed allocation in each driver's write path.
fn alloc_errnos(driver: Driver) -> &'static [Errno] {
    match driver {
        Driver::V40Dax | Driver::V40 => &[Errno::ENOSPC],
        Driver::V61 | Driver::V61C | Driver::Current => &[Errno::ENOMEM, Errno::EIO, Errno::EAGAIN],
    }
}

/// Runs one operation. `arm` is the fail-nth to arm right before the kernel call (after the
/// harness's own bio pages are allocated, so only the driver's allocations count).
fn run_op(
    op: Op,
    driver: Driver,
    arm: Option<u64>,
    bdev: &Arc<Bdev>,
    sh: &mut Shadow,
    earns: &StdMutex<(usize, Earns)>,
    i: usize,
) {
    let v40 = matches!(driver, Driver::V40Dax | Driver::V40);
    let armed = arm.is_some();
    let fire = || {
        if let Some(n) = arm {
            set_fail_nth(n);
        }
    };
    // After the kernel call: the counter reached 0 only if the n-th allocation happened.
    let disarm = || {
        if arm.is_some() {
            FIRED.with(|c| c.set(ksim::fault_inject::fail_nth() == 0));
            set_fail_nth(0);
        }
    };
    let set = |e| *earns.lock().expect("earns") = (i, e);
    match op {
        Op::Write { sector, sectors, tag, nowait, locked } => {
            let data = pattern(tag, (sectors * 512) as usize);
            let in_range = sector + sectors <= SECTORS;
            // The bio's own pages are allocated first, outside the lock and before any fault.
            let mut bio = Prepared::write(sector, &data, nowait);
            // A REQ_NOWAIT write allocates with GFP_NOWAIT (6.1, current) or is refused by the
            // block layer before the driver (4.0): either way it cannot sleep.
            let sleeps = in_range && !nowait && locked;
            set(if sleeps { sleep_if_allocating(sh.must_allocate(sector, sectors)) } else { Earns::Nothing });
            let lock = SpinLock::new((), "fuzz.lock");
            let g = locked.then(|| spin_lock(&lock));
            fire();
            let r = bio.submit(bdev);
            disarm();
            drop(g);
            bio.free();
            match r {
                Ok(()) => {
                    expect(in_range, || format!("op {i}: a write past the end succeeded"));
                    sh.wrote(sector, &data);
                }
                Err(e) if !in_range => expect_eq_errno(e, &[Errno::EIO], i),
                Err(e) => {
                    let mut ok: Vec<Errno> = if armed { alloc_errnos(driver).to_vec() } else { Vec::new() };
                    if nowait && !v40 {
                        ok.push(Errno::EAGAIN);
                    }
                    if nowait && v40 {
                        ok.push(Errno::EOPNOTSUPP);
                    }
                    expect_eq_errno(e, &ok, i);
                    sh.forget(sector, sectors);
                }
            }
        }
        Op::Read { sector, sectors } => {
            set(Earns::Nothing);
            let r = read(bdev, sector, (sectors * 512) as usize);
            match r {
                Ok(got) => {
                    expect(sector + sectors <= SECTORS, || format!("op {i}: a read past the end succeeded"));
                    for s in 0..sectors as usize {
                        let abs = sector as usize + s;
                        if sh.known[abs] {
                            let want = &sh.bytes[abs * 512..abs * 512 + 512];
                            expect(&got[s * 512..s * 512 + 512] == want, || {
                                format!("op {i}: sector {abs} differs from the shadow model")
                            });
                        }
                    }
                }
                Err(e) => expect_eq_errno(e, if sector + sectors > SECTORS { &[Errno::EIO] } else { &[] }, i),
            }
        }
        Op::Discard { sector, sectors } => {
            set(Earns::Nothing);
            let r = discard(bdev, sector, sectors * 512);
            let in_range = sector + sectors <= SECTORS;
            match (driver, r) {
                (_, Err(e)) if !in_range => expect_eq_errno(e, &[Errno::EIO], i),
                (Driver::V61 | Driver::V61C, r) => {
                    expect(r == Err(Errno::EOPNOTSUPP), || format!("op {i}: 6.1 discard returned {r:?}"))
                }
                (Driver::V40Dax | Driver::V40, r) => {
                    expect(r.is_ok(), || format!("op {i}: discard returned {r:?}"));
                    // 4.0 zeroes the page of every PAGE_SIZE step from `sector`, whatever its alignment.
                    for step in 0..(sectors * 512) as usize / PAGE_SIZE {
                        sh.zero_page((sector / 8) as usize + step, false);
                    }
                }
                (Driver::Current, r) => {
                    expect(r.is_ok(), || format!("op {i}: discard returned {r:?}"));
                    let (start, end) = (sector.div_ceil(8), (sector + sectors) / 8);
                    for p in start..end.max(start) {
                        sh.zero_page(p as usize, true);
                    }
                }
            }
        }
        Op::Dax { sector, size, locked } => {
            let dax = driver == Driver::V40Dax;
            let in_range = size >= 0 && sector + (size as u64).div_ceil(512) <= SECTORS;
            let valid = dax && in_range && sector % 8 == 0;
            set(if valid && locked {
                sleep_if_allocating(sh.must_allocate(sector, 1))
            } else {
                Earns::Nothing
            });
            let lock = SpinLock::new((), "fuzz.lock");
            let g = locked.then(|| spin_lock(&lock));
            fire();
            let r = bdev_direct_access(bdev, sector, size);
            disarm();
            drop(g);
            match r {
                Ok(m) => {
                    expect(valid, || format!("op {i}: direct_access({sector}, {size}) succeeded"));
                    expect(m.len == size.min(PAGE_SIZE as i64), || {
                        format!("op {i}: direct_access length {}", m.len)
                    });
                    let data = pattern(sector as u8, m.len as usize);
                    memcpy_to(m.kaddr, &data);
                    sh.wrote(sector, &data);
                    // brd inserted the backing page even for a zero-length request.
                    sh.present[(sector / 8) as usize] = Some(true);
                    sh.maps.push((m.kaddr, sector, m.len as usize, sh.epoch));
                }
                Err(e) => {
                    // bdev_direct_access's checks, in its order.
                    let ok: Vec<i64> = if size < 0 {
                        vec![size]
                    } else if !dax {
                        vec![Errno::EOPNOTSUPP.neg()]
                    } else if !in_range {
                        vec![Errno::ERANGE.neg()]
                    } else if sector % 8 != 0 {
                        vec![Errno::EINVAL.neg()]
                    } else if armed {
                        vec![Errno::ENOSPC.neg()]
                    } else {
                        vec![]
                    };
                    expect(ok.contains(&e), || {
                        format!("op {i}: direct_access({sector}, {size}) returned {e}")
                    });
                    if armed && valid {
                        sh.forget(sector, 8);
                    }
                }
            }
        }
        Op::UseMap { index } => {
            let Some(&(kaddr, sector, len, epoch)) = sh.maps.get(index % sh.maps.len().max(1)) else {
                set(Earns::Nothing);
                return;
            };
            let stale = epoch < sh.epoch;
            set(if stale && len > 0 { Earns::Must(Violation::UseAfterFree) } else { Earns::Nothing });
            let data = vec![0x5a; len];
            memcpy_to(kaddr, &data);
            if !stale {
                sh.wrote(sector, &data);
            }
        }
        Op::Flush { busy } => {
            set(Earns::Nothing);
            let second = busy.then(|| Arc::new(Bdev::open(&bdev.disk, 0).expect("second open")));
            let r = blkdev_ioctl(bdev, BLKFLSBUF, 0, Caps { sys_admin: true });
            drop(second);
            match (v40, busy) {
                (true, true) => {
                    expect(r == Err(Errno::EBUSY), || format!("op {i}: BLKFLSBUF with two openers: {r:?}"))
                }
                (true, false) => {
                    expect(r == Ok(0), || format!("op {i}: BLKFLSBUF: {r:?}"));
                    for p in 0..PAGES {
                        sh.zero_page(p, true);
                    }
                    sh.epoch += 1;
                }
                (false, _) => expect(r == Ok(0), || format!("op {i}: generic BLKFLSBUF: {r:?}")),
            }
        }
        Op::Arm { .. } => set(Earns::Nothing),
    }
}

#[track_caller]
fn expect_eq_errno(e: Errno, allowed: &[Errno], i: usize) {
    expect(allowed.contains(&e), || format!("op {i}: errno {e} (allowed: {allowed:?})"));
}

/// Statistics of a case that behaved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Operations run.
    pub ops: usize,
    /// Whether the case ended with an earned report.
    pub earned_report: bool,
    /// Armed faults that fired (the n-th allocation existed and failed).
    pub faults_fired: usize,
}

/// Runs one case decoded from arbitrary bytes; `Err` says what went wrong, with the case.
pub fn run_case(data: &[u8]) -> Result<Stats, String> {
    run(Case::decode(data))
}

/// Runs an explicit case (the fault sweep builds them); `Err` says what went wrong.
pub fn run(case: Case) -> Result<Stats, String> {
    let driver = case.driver;
    let mut config = match driver {
        Driver::V40Dax | Driver::V40 => Config::v4_0(),
        _ => Config::modern(),
    };
    // Fault injection able to fail brd's allocations (the kernel's defaults never do).
    config.faults.page_alloc.min_order = 0;
    config.faults.page_alloc.ignore_gfp_wait = false;
    config.faults.page_alloc.ignore_gfp_highmem = false;
    config.faults.slab.ignore_gfp_wait = false;
    config = config.trace(false);
    let earns = Arc::new(StdMutex::new((0usize, Earns::Nothing)));
    let e = earns.clone();
    let fired = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let f = fired.clone();
    let ops = case.ops.clone();
    let module = match driver {
        Driver::V61C => match crate::brds::brd_c() {
            crate::brds::CDriver::Ready(img, v) => Some(ksim_c::brd::BrdModule::new(img, v)?),
            _ => return Err(crate::brds::c_unavailable().unwrap_or_default()),
        },
        _ => None,
    };
    let outcome = Runner::std().config(config).try_run(move || {
        let dev = match driver {
            Driver::V61C => Dev::C(
                module
                    .as_ref()
                    .expect("the module")
                    .brd_init(&ksim_c::brd::Params {
                        rd_nr: Some(1),
                        rd_size: Some(SECTORS / 2),
                        max_part: None,
                    })
                    .unwrap_or_else(|e| panic!("brd.c: {e}")),
            ),
            Driver::V40Dax | Driver::V40 => Dev::V40(
                brd_v4_0::brd_init(brd_v4_0::Params {
                    rd_nr: 1,
                    rd_size: SECTORS / 2,
                    dax: driver == Driver::V40Dax,
                    ..Default::default()
                })
                .expect("brd_init"),
            ),
            Driver::V61 => Dev::V61(
                brd_v6_1::brd_init(brd_v6_1::Params { rd_nr: 1, rd_size: SECTORS / 2, ..Default::default() })
                    .expect("brd_init"),
            ),
            Driver::Current => Dev::Current(
                brd_current::brd_init(brd_current::Params {
                    rd_nr: 1,
                    rd_size: SECTORS / 2,
                    ..Default::default()
                })
                .expect("brd_init"),
            ),
        };
        let bdev = Arc::new(dev.open());
        let mut sh = Shadow::new();
        let mut arm = None;
        for (i, &op) in ops.iter().enumerate() {
            if let Op::Arm { nth } = op {
                arm = Some(nth);
                continue;
            }
            let this = if matches!(op, Op::Write { .. } | Op::Dax { .. }) { arm.take() } else { None };
            arm = None;
            run_op(op, driver, this, &bdev, &mut sh, &e, i);
            if FIRED.with(|c| c.replace(false)) {
                f.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let must = e.lock().expect("earns").1;
            expect(!matches!(must, Earns::Must(_)), || {
                format!("op {i}: {op:?} earned {must:?} but nothing was reported")
            });
        }
        drop(bdev);
        dev.exit();
    })?;
    let (at, earned) = *earns.lock().expect("earns");
    let faults_fired = fired.load(std::sync::atomic::Ordering::Relaxed);
    let bad = |why: String| Err(format!("{why}\ncase: {case:?}"));
    match outcome.first_report() {
        None => Ok(Stats { ops: case.ops.len(), earned_report: false, faults_fired }),
        Some(r) => match earned {
            Earns::Must(v) | Earns::Maybe(v) if v == r.kind => {
                Ok(Stats { ops: at + 1, earned_report: true, faults_fired })
            }
            _ => bad(format!(
                "op {at} ({:?}) was reported but earned {earned:?}:\n{}",
                case.ops.get(at),
                r.text
            )),
        },
    }
}
