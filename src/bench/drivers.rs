//! The drivers group: the RAM disks' I/O path on the std backend, against plain memcpy, in the
//! same run. For brd v4.0 (DAX on, the 2015 thread's configuration, under the 4.0 profile), brd
//! v6.1 and current brd (modern profile), with the trace off and on: sequential and random
//! 4 KiB bios — one page each, from one data page allocated once and reused, as a page-cache
//! page would be — over a 64 MiB device. Each device is written, written again, then read:
//! `*_first_write` is the first pass (every bio allocates its backing page), `*_write` the next
//! passes (the pages are present: the steady state; median of three), `*_read` the last ones
//! (median of three). Random order is a
//! seeded permutation of the device's pages, on a second device so that its first pass is
//! random too. `brd_seq_write_gbps` is brd v4.0's sequential `*_write`, trace off.
//!
//! Baselines: `memcpy_gbps`, `copy_from_slice` of a page-aligned 4 KiB page into each page of an
//! already faulted-in, page-aligned buffer of the device's size, in order (what `*_write` and
//! `*_read` compare with; kernel pages are page-aligned, and so are ksim's frames). The random
//! passes compare with it too: their backing pages were allocated in the order the first random
//! pass touched them, so they visit host memory in order, as the baseline does; what is random
//! is the index order in the driver's tree. `memcpy_first_touch_gbps`: the copies into freshly
//! allocated 4 KiB heap buffers (what `*_first_write` compares with).
//! Then the time to pre-populate a 1 GiB brd v4.0 device with 1 MiB bios (`dd bs=1M`) of zeros,
//! and of a non-zero pattern (ksim keeps no host buffer for a page that has only been written
//! with zeros, so the pattern shows the cost with real data).
//!
//! Only the I/O loops are timed (module load, data-page set-up, unload and the leak check are
//! not). GB/s are 10^9 bytes per second.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ksim::blk::{submit_bio, Bdev, Bio, ReqOp, Sector, PAGE_SECTORS};
use ksim::gfp::{__GFP_ZERO, GFP_KERNEL};
use ksim::highmem::page_address;
use ksim::mm::{__free_page, alloc_page, memcpy_from, memcpy_to, memset, Page, PAGE_SIZE};
use ksim::{Config, Runner};
use ksim_drivers::{brd_current, brd_v4_0, brd_v6_1};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::{median, AlignedPage, Budget, Figure, GroupResult, Unit};

/// Seed of the random orders.
const SEED: u64 = 0x6b73_696d_6272_6421;

/// The driver under measurement.
#[derive(Clone, Copy)]
enum Driver {
    V4_0,
    V6_1,
    Current,
}

impl Driver {
    fn config(self) -> Config {
        match self {
            Driver::V4_0 => Config::v4_0(),
            Driver::V6_1 | Driver::Current => Config::modern(),
        }
    }
}

/// A loaded module's two devices (sequential, random) and its unload.
struct Loaded {
    seq: Bdev,
    rand: Bdev,
    exit: Box<dyn FnOnce()>,
}

/// `modprobe brd rd_nr=2 rd_size=<pages * 4>` (v4.0 with `CONFIG_BLK_DEV_RAM_DAX`), both opened.
fn load(d: Driver, pages: usize) -> Loaded {
    let rd_size = (pages * PAGE_SIZE / 1024) as u64;
    match d {
        Driver::V4_0 => {
            let p = brd_v4_0::Params { rd_nr: 2, rd_size, dax: true, ..Default::default() };
            let brd = brd_v4_0::brd_init(p).expect("brd v4.0 loads");
            let (seq, rand) = (brd.open(0).expect("ram0"), brd.open(1).expect("ram1"));
            Loaded { seq, rand, exit: Box::new(move || brd_v4_0::brd_exit(brd)) }
        }
        Driver::V6_1 => {
            let p = brd_v6_1::Params { rd_nr: 2, rd_size, ..Default::default() };
            let brd = brd_v6_1::brd_init(p).expect("brd v6.1 loads");
            let (seq, rand) = (brd.open(0).expect("ram0"), brd.open(1).expect("ram1"));
            Loaded { seq, rand, exit: Box::new(move || brd_v6_1::brd_exit(brd)) }
        }
        Driver::Current => {
            let p = brd_current::Params { rd_nr: 2, rd_size, ..Default::default() };
            let brd = brd_current::brd_init(p).expect("brd current loads");
            let (seq, rand) = (brd.open(0).expect("ram0"), brd.open(1).expect("ram1"));
            Loaded { seq, rand, exit: Box::new(move || brd_current::brd_exit(brd)) }
        }
    }
}

/// A seeded permutation of `0..n`.
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    v.shuffle(&mut SmallRng::seed_from_u64(seed));
    v
}

/// One 4 KiB bio per page of `order`, from `page`: the elapsed time of the loop.
fn pass(bdev: &Bdev, op: ReqOp, page: Page, order: &[usize]) -> Duration {
    let start = Instant::now();
    for &i in order {
        let mut bio = Bio::new(op, i as Sector * PAGE_SECTORS);
        bio.add_page(page, PAGE_SIZE as u32, 0);
        submit_bio(bdev, &mut bio).expect("brd I/O succeeds");
    }
    start.elapsed()
}

/// The six passes of one driver, in the order they run.
#[derive(Clone, Copy, Default)]
struct Passes {
    seq_first_write: Duration,
    seq_write: Duration,
    seq_read: Duration,
    rand_first_write: Duration,
    rand_write: Duration,
    rand_read: Duration,
}

/// Runs `body` on the std backend under `config` and returns what it measured.
fn in_ksim<T: Copy + Default + Send + 'static>(
    config: Config,
    body: impl Fn() -> T + Send + Sync + 'static,
) -> Result<T, String> {
    let out = Arc::new(Mutex::new(T::default()));
    let o = out.clone();
    let outcome = Runner::std().config(config).try_run(move || *o.lock().expect("not poisoned") = body())?;
    if let Some(r) = outcome.first_report() {
        return Err(format!("the drivers benchmark reported '{}'", r.headline()));
    }
    let v = *out.lock().expect("not poisoned");
    Ok(v)
}

/// Steady-state passes per figure (writes and reads of present pages, and memcpy), of which the
/// median counts: one 64 MiB pass takes a few milliseconds, short enough for one timer tick or
/// a neighbour on the shared machine to move it.
const STEADY: usize = 3;

/// The median of `STEADY` runs of `f`.
fn steady(mut f: impl FnMut() -> Duration) -> Duration {
    let mut d: Vec<Duration> = (0..STEADY).map(|_| f()).collect();
    d.sort();
    d[STEADY / 2]
}

/// One load of `d`, the passes over `pages` pages of each device, unload.
fn brd_passes(d: Driver, pages: usize, trace: bool) -> Result<Passes, String> {
    in_ksim(d.config().trace(trace), move || {
        let dev = load(d, pages);
        let data = alloc_page(GFP_KERNEL | __GFP_ZERO).expect("no memory limit");
        let pattern: Vec<u8> = (0..PAGE_SIZE).map(|i| (i % 251) as u8 | 1).collect();
        memcpy_to(page_address(data).expect("lowmem"), &pattern);
        let seq: Vec<usize> = (0..pages).collect();
        let rand = permutation(pages, SEED);
        // Before each read pass the data page is cleared, and after it it must hold the pattern
        // again: the loops moved real bytes.
        let read = |bdev: &Bdev, order: &[usize]| {
            memset(page_address(data).expect("lowmem"), 0, PAGE_SIZE);
            let d = steady(|| pass(bdev, ReqOp::Read, data, order));
            let mut back = vec![0u8; PAGE_SIZE];
            memcpy_from(&mut back, page_address(data).expect("lowmem"));
            assert!(back == pattern, "brd read back what was written");
            d
        };
        let p = Passes {
            seq_first_write: pass(&dev.seq, ReqOp::Write, data, &seq),
            seq_write: steady(|| pass(&dev.seq, ReqOp::Write, data, &seq)),
            seq_read: read(&dev.seq, &seq),
            rand_first_write: pass(&dev.rand, ReqOp::Write, data, &rand),
            rand_write: steady(|| pass(&dev.rand, ReqOp::Write, data, &rand)),
            rand_read: read(&dev.rand, &rand),
        };
        __free_page(data);
        drop((dev.seq, dev.rand));
        (dev.exit)();
        p
    })
}

/// `copy_from_slice` of one page-aligned 4 KiB page into each page of a `pages`-page,
/// page-aligned buffer (already faulted in), in order: the median elapsed time of `STEADY`
/// passes.
fn memcpy_pass(pages: usize) -> Duration {
    let mut buf = vec![AlignedPage([0xff; PAGE_SIZE]); pages];
    let mut src = Box::new(AlignedPage([0; PAGE_SIZE]));
    for (i, b) in src.0.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let d = steady(|| {
        let start = Instant::now();
        for dst in buf.iter_mut() {
            dst.0.copy_from_slice(black_box(&src.0));
            black_box(&dst);
        }
        start.elapsed()
    });
    black_box(&buf);
    d
}

/// The host's cost of first touch: `pages` fresh 4 KiB heap buffers, each allocated and filled
/// with a copy of one page (what ksim pays, at least, for a backing page's first non-zero
/// write): the elapsed time, buffers freed outside it.
fn memcpy_first_touch_pass(pages: usize) -> Duration {
    let src: Vec<u8> = (0..PAGE_SIZE).map(|i| (i % 251) as u8).collect();
    let mut v: Vec<Box<[u8]>> = Vec::with_capacity(pages);
    let start = Instant::now();
    for _ in 0..pages {
        v.push(Box::<[u8]>::from(black_box(&src[..])));
    }
    let elapsed = start.elapsed();
    black_box(&v);
    elapsed
}

/// Loads a `pages`-page brd v4.0 (DAX on), trace off, and writes zeros (or, with `pattern`, a
/// non-zero pattern) over all of it with bios of `bio_pages` pages: the elapsed time of the
/// writes.
fn prepopulate(pages: usize, bio_pages: usize, pattern: bool) -> Result<Duration, String> {
    in_ksim(Config::v4_0().trace(false), move || {
        let p = brd_v4_0::Params {
            rd_nr: 1,
            rd_size: (pages * PAGE_SIZE / 1024) as u64,
            dax: true,
            ..Default::default()
        };
        let brd = brd_v4_0::brd_init(p).expect("brd v4.0 loads");
        let bdev = brd.open(0).expect("ram0");
        let zeros: Vec<Page> =
            (0..bio_pages).map(|_| alloc_page(GFP_KERNEL | __GFP_ZERO).expect("no memory limit")).collect();
        if pattern {
            let bytes: Vec<u8> = (0..PAGE_SIZE).map(|i| (i % 251) as u8 | 1).collect();
            for &z in &zeros {
                memcpy_to(page_address(z).expect("lowmem"), &bytes);
            }
        }
        let start = Instant::now();
        for first in (0..pages).step_by(bio_pages) {
            let mut bio = Bio::new(ReqOp::Write, first as Sector * PAGE_SECTORS);
            for &z in &zeros[..bio_pages.min(pages - first)] {
                bio.add_page(z, PAGE_SIZE as u32, 0);
            }
            submit_bio(&bdev, &mut bio).expect("brd I/O succeeds");
        }
        let elapsed = start.elapsed();
        assert_eq!(brd.nr_pages(0), pages, "every page of the device was populated");
        for z in zeros {
            __free_page(z);
        }
        drop(bdev);
        brd_v4_0::brd_exit(brd);
        elapsed
    })
}

pub fn run(b: &Budget) -> GroupResult {
    // 64 MiB devices; 1 GiB for the pre-population (fewer repeats: it is the slow one).
    let (pages, big_pages, big_repeats) =
        if b.quick { (16, 256, 1) } else { (16_384, 262_144, b.repeats.min(3)) };
    let bio_pages = 256;
    let bytes = (pages * PAGE_SIZE) as f64;
    let gbps = |d: Duration| bytes / d.as_secs_f64() / 1e9;
    let drivers = [(Driver::V4_0, "v4_0"), (Driver::V6_1, "v6_1"), (Driver::Current, "current")];
    // samples[driver][trace] = the passes of each repeat; after[driver][trace] = the baselines
    // (memcpy, first touch) measured right after each of those runs.
    let mut samples: Vec<[Vec<Passes>; 2]> = drivers.iter().map(|_| Default::default()).collect();
    let mut after: Vec<[Vec<(f64, f64)>; 2]> = drivers.iter().map(|_| Default::default()).collect();
    let (mut memcpy, mut first_touch) = (Vec::new(), Vec::new());
    // Warm-up (not measured): the panic hook, the allocator's pools.
    brd_passes(Driver::V4_0, pages.min(256), false)?;
    memcpy_pass(pages);
    // Interleaved, so that drift in the machine's speed touches every figure alike.
    for _ in 0..b.repeats {
        for (i, (d, _)) in drivers.iter().enumerate() {
            for (t, trace) in [false, true].into_iter().enumerate() {
                samples[i][t].push(brd_passes(*d, pages, trace)?);
                // The baselines are short: one sample after each driver run.
                let (m, f) = (gbps(memcpy_pass(pages)), gbps(memcpy_first_touch_pass(pages)));
                after[i][t].push((m, f));
                memcpy.push(m);
                first_touch.push(f);
            }
        }
    }
    let (mut zeros, mut pattern) = (Vec::new(), Vec::new());
    for _ in 0..big_repeats {
        zeros.push(prepopulate(big_pages, bio_pages, false)?.as_secs_f64());
        pattern.push(prepopulate(big_pages, bio_pages, true)?.as_secs_f64());
    }
    let (memcpy, first_touch) = (median(memcpy), median(first_touch));

    let mut figs = Vec::new();
    // brd v4.0's sequential steady-state writes, trace off: the headline.
    let mut sw = 0.0;
    for (i, (_, name)) in drivers.iter().enumerate() {
        for (t, traced) in [(0, ""), (1, "_traced")] {
            let s = &samples[i][t];
            let m = |f: fn(&Passes) -> Duration| median(s.iter().map(|p| gbps(f(p))).collect());
            let values = [
                ("seq_first_write", m(|p| p.seq_first_write)),
                ("seq_write", m(|p| p.seq_write)),
                ("seq_read", m(|p| p.seq_read)),
                ("rand_first_write", m(|p| p.rand_first_write)),
                ("rand_write", m(|p| p.rand_write)),
                ("rand_read", m(|p| p.rand_read)),
            ];
            for (k, (what, v)) in values.into_iter().enumerate() {
                // Figure names are &'static: a few dozen strings leaked once per process.
                let name: &'static str = format!("brd_{name}_{what}{traced}_gbps").leak();
                figs.push(Figure { name, value: v, unit: Unit::Gbps });
                if (i, t, k) == (0, 0, 1) {
                    sw = v;
                }
            }
        }
    }
    // A ratio is the median, over the repeats, of a run's figure over the baseline measured
    // right after it (trace off): drift in the shared machine's speed, which moved memcpy alone
    // between 17 and 25 GB/s within minutes, cancels within each pair.
    let ratio = |i: usize, f: fn(&Passes) -> Duration, first_touch: bool| {
        let base = |a: &(f64, f64)| if first_touch { a.1 } else { a.0 };
        median(samples[i][0].iter().zip(&after[i][0]).map(|(p, a)| gbps(f(p)) / base(a)).collect())
    };
    let fig = |name, value, unit| Figure { name, value, unit };
    figs.extend([
        fig("memcpy_gbps", memcpy, Unit::Gbps),
        fig("memcpy_first_touch_gbps", first_touch, Unit::Gbps),
        fig("brd_seq_write_gbps", sw, Unit::Gbps),
        fig("brd_seq_write_vs_memcpy", ratio(0, |p| p.seq_write, false), Unit::Ratio),
        fig("brd_seq_read_vs_memcpy", ratio(0, |p| p.seq_read, false), Unit::Ratio),
        fig("brd_v6_1_seq_write_vs_memcpy", ratio(1, |p| p.seq_write, false), Unit::Ratio),
        fig("brd_current_seq_write_vs_memcpy", ratio(2, |p| p.seq_write, false), Unit::Ratio),
        fig("brd_rand_write_vs_memcpy", ratio(0, |p| p.rand_write, false), Unit::Ratio),
        fig("brd_rand_read_vs_memcpy", ratio(0, |p| p.rand_read, false), Unit::Ratio),
        fig("brd_seq_first_write_vs_first_touch", ratio(0, |p| p.seq_first_write, true), Unit::Ratio),
        fig("brd_rand_first_write_vs_first_touch", ratio(0, |p| p.rand_first_write, true), Unit::Ratio),
        fig("prepopulate_1gib_s", median(zeros), Unit::Seconds),
        fig("prepopulate_1gib_pattern_s", median(pattern), Unit::Seconds),
    ]);
    let about = format!(
        "std backend; {} KiB devices of 4 KiB bios: first_write allocates every backing page, \
         write/read find them present; memcpy: page-aligned 4 KiB copy_from_slice into a faulted-in \
         buffer of the same size, first_touch: into fresh 4 KiB heap buffers, median of {} samples; \
         brd_seq_write and unnamed ratios: v4.0 (DAX), trace off; prepopulate: {} MiB of zeros (pattern: \
         non-zero) in {} KiB bios, median of {big_repeats}",
        (pages * PAGE_SIZE) >> 10,
        6 * b.repeats,
        (big_pages * PAGE_SIZE) >> 20,
        (bio_pages * PAGE_SIZE) >> 10,
    );
    Ok((about, figs))
}
