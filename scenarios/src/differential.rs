//! Differential workloads for brd v6.1: seeded I/O on `/dev/ram0` that runs through ksim's
//! re-expressed driver ([`run_ksim`]) and, by `tests/real_brd`, through the real `brd.ko`
//! inside Debian's user-mode Linux or Debian's amd64 kernel under QEMU ([`Workload::guest_ops`]),
//! so that the bytes read back and the number of backing pages can be compared.
//!
//! A workload is a device size plus a list of operations on it, every offset and length a
//! multiple of 512 bytes (brd's logical block size, and what `O_DIRECT` on a block device
//! needs): writes (fresh ranges, overwrites of earlier ones, unaligned to brd's pages, small and
//! up to 1 MiB, some with all-zero data, some with `REQ_NOWAIT`), reads of selected ranges in
//! between, and a final read of the whole device.
//!
//! Both sides submit the same bios a direct-I/O `pwrite`/`pread` from a user buffer does: the
//! buffer starts `buf_offset` bytes into a page, so the first segment is
//! `(buf_offset, min(len, PAGE_SIZE - buf_offset))` and the others follow page by page, at most
//! `BIO_MAX_VECS` (256) segments per bio. A `REQ_NOWAIT` write is what `pwritev2(RWF_NOWAIT)` on
//! an `O_DIRECT` descriptor of the device submits; those writes are kept to at most 64 KiB so that
//! the real block layer builds a single bio for them (it refuses a nowait direct write that would
//! need a second bio with `-EAGAIN` before brd sees it, which ksim does not model).

use std::sync::{Arc, Mutex};

use ksim::blk::{submit_bio, Bdev, Bio, ReqOp, SECTOR_SIZE};
use ksim::gfp::GFP_KERNEL;
use ksim::highmem::{memcpy_from_page, memcpy_to_page};
use ksim::mm::{__free_page, alloc_page, nr_allocated_pages, PAGE_SIZE};
use ksim::{Config, Errno, Runner};
use ksim_drivers::brd_v6_1::{brd_init, Params};

use crate::brds::Loaded;

/// `BIO_MAX_VECS`: pages the block layer's direct I/O puts into one bio.
pub const BIO_MAX_VECS: usize = 256;
/// The largest `REQ_NOWAIT` write a workload contains (one bio on the real side, see the module
/// documentation).
pub const NOWAIT_MAX_BYTES: u64 = 64 * 1024;
/// Device sizes (`rd_size`, KiB) a workload picks from.
pub const RD_SIZES_KIB: [u64; 5] = [256, 512, 1024, 2048, 4096];

const SECTOR: u64 = SECTOR_SIZE;
const PAGE: u64 = PAGE_SIZE as u64;

/// One operation on `/dev/ram0`. Offsets and lengths are bytes, multiples of 512.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Write `len` bytes of [`pattern_bytes`]`(pattern, len)` at `offset`, from a buffer starting
    /// `buf_offset` bytes into a page; `nowait` sets `REQ_NOWAIT` (`pwritev2(RWF_NOWAIT)`).
    Write {
        /// Device offset.
        offset: u64,
        /// Bytes.
        len: u64,
        /// Pattern seed (0: all zeros).
        pattern: u64,
        /// Offset of the user buffer inside its first page.
        buf_offset: u64,
        /// `REQ_NOWAIT`.
        nowait: bool,
    },
    /// Read `len` bytes at `offset` into a buffer starting `buf_offset` bytes into a page.
    Read {
        /// Device offset.
        offset: u64,
        /// Bytes.
        len: u64,
        /// Offset of the user buffer inside its first page.
        buf_offset: u64,
    },
}

impl Op {
    /// `(offset, len)` of the operation.
    pub fn range(&self) -> (u64, u64) {
        match *self {
            Op::Write { offset, len, .. } | Op::Read { offset, len, .. } => (offset, len),
        }
    }
}

/// A seeded workload on one brd device of `rd_size_kib` KiB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The seed it was generated from.
    pub seed: u64,
    /// `rd_size` (KiB).
    pub rd_size_kib: u64,
    /// The operations, in order; the last reads the whole device.
    pub ops: Vec<Op>,
}

/// How one operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpResult {
    /// Every byte transferred.
    Done,
    /// Failed: an errno name (`EAGAIN`, ...) or a description of a short transfer.
    Failed(String),
}

/// What one side observed running a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// One result per operation.
    pub results: Vec<OpResult>,
    /// The bytes of every read, in operation order.
    pub reads: Vec<Vec<u8>>,
    /// Backing pages the driver holds at the end (ksim: `Brd::nr_pages(0)`).
    pub pages: u64,
}

/// ksim's run of a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KsimRun {
    /// What brd v6.1 in ksim returned.
    pub observed: Observed,
    /// Pages the simulated allocator had handed out and not got back at the end of the
    /// workload (all I/O buffers freed): the global ledger's view of brd's pages.
    pub allocated_pages: u64,
}

/// splitmix64: small, seedable, identical everywhere.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

/// The data of a write with pattern seed `pattern`: a splitmix64 byte stream, or zeros for 0.
pub fn pattern_bytes(pattern: u64, len: u64) -> Vec<u8> {
    if pattern == 0 {
        return vec![0; len as usize];
    }
    let mut rng = Rng(pattern);
    let mut v = Vec::with_capacity(len as usize + 8);
    while (v.len() as u64) < len {
        v.extend_from_slice(&rng.next().to_le_bytes());
    }
    v.truncate(len as usize);
    v
}

/// A range of `cap` sectors' device, in sectors: `(start, len)`.
fn pick_range(rng: &mut Rng, cap: u64) -> (u64, u64) {
    let len = match rng.below(100) {
        0..=44 => rng.between(1, 16),   // small: one sector to two pages
        45..=79 => rng.between(1, 256), // medium: up to 128 KiB
        _ => rng.between(256, 2048),    // large: up to 1 MiB
    }
    .min(cap);
    let start = match rng.below(100) {
        0..=14 => rng.below((cap - len) / 8 + 1) * 8, // page aligned
        15..=24 => (cap - len).saturating_sub(rng.below(9)), // at or near the end
        _ => rng.below(cap - len + 1),                // any sector
    };
    (start, len)
}

/// Where an operation's user buffer starts inside its page.
fn pick_buf_offset(rng: &mut Rng) -> u64 {
    if rng.chance(60) {
        0
    } else {
        rng.below(PAGE / SECTOR) * SECTOR
    }
}

impl Workload {
    /// The workload of `seed`: a device of 256 KiB to 4 MiB and 12 to 40 operations, then a
    /// read of the whole device.
    pub fn generate(seed: u64) -> Workload {
        let mut rng = Rng(seed ^ 0x6272_645f_7636_5f31);
        let rd_size_kib = RD_SIZES_KIB[rng.below(RD_SIZES_KIB.len() as u64) as usize];
        let cap = rd_size_kib * 2;
        let n = rng.between(12, 40);
        let mut written: Vec<(u64, u64)> = Vec::new();
        let mut ops = Vec::new();
        for _ in 0..n {
            let kind = rng.below(100);
            let (start, len) = if (50..65).contains(&kind) && !written.is_empty() {
                // An overwrite: an earlier written range, shifted and resized a little.
                let (s, l) = written[rng.below(written.len() as u64) as usize];
                let start = (s + rng.below(9)).saturating_sub(4).min(cap - 1);
                let len = (l + rng.below(9)).saturating_sub(4).clamp(1, cap - start);
                (start, len)
            } else if kind >= 65 && !written.is_empty() && rng.chance(50) {
                written[rng.below(written.len() as u64) as usize]
            } else {
                pick_range(&mut rng, cap)
            };
            let (offset, len) = (start * SECTOR, len * SECTOR);
            let buf_offset = pick_buf_offset(&mut rng);
            if kind < 65 {
                let pattern = if rng.chance(8) { 0 } else { rng.next() | 1 };
                let nowait = len <= NOWAIT_MAX_BYTES && rng.chance(25);
                ops.push(Op::Write { offset, len, pattern, buf_offset, nowait });
                written.push((start, len / SECTOR));
            } else {
                ops.push(Op::Read { offset, len, buf_offset });
            }
        }
        ops.push(Op::Read { offset: 0, len: cap * SECTOR, buf_offset: 0 });
        Workload { seed, rd_size_kib, ops }
    }

    /// The device's size in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.rd_size_kib * 1024
    }

    /// brd's module parameters for this workload (one device).
    pub fn params(&self) -> Params {
        Params { rd_nr: 1, rd_size: self.rd_size_kib, max_part: 1, ..Params::default() }
    }

    /// The same parameters as `insmod brd.ko` takes them.
    pub fn module_params(&self) -> String {
        format!("rd_nr=1 rd_size={} max_part=1", self.rd_size_kib)
    }

    /// Bytes all the reads return.
    pub fn read_bytes(&self) -> u64 {
        self.ops.iter().filter(|o| matches!(o, Op::Read { .. })).map(|o| o.range().1).sum()
    }

    /// The workload as the guest helper (`tests/real_brd/ksim_brd_io.c`) runs it: the ops file (one
    /// `W dev_offset len data_offset buf_offset nowait` or `R dev_offset len buf_offset` a line)
    /// and the data file the writes take their bytes from.
    pub fn guest_ops(&self) -> (String, Vec<u8>) {
        let mut text = format!("# ksim brd differential workload, seed {:#x}\n", self.seed);
        let mut data = Vec::new();
        for op in &self.ops {
            match *op {
                Op::Write { offset, len, pattern, buf_offset, nowait } => {
                    text += &format!("W {offset} {len} {} {buf_offset} {}\n", data.len(), u8::from(nowait));
                    data.extend_from_slice(&pattern_bytes(pattern, len));
                }
                Op::Read { offset, len, buf_offset } => text += &format!("R {offset} {len} {buf_offset}\n"),
            }
        }
        (text, data)
    }

    /// What any correct brd gives: the reads of a plain byte array the writes were applied to,
    /// every op `Done`, and one backing page per 4 KiB page any write touched.
    pub fn shadow(&self) -> Observed {
        let mut dev = vec![0u8; self.capacity_bytes() as usize];
        let mut touched = std::collections::BTreeSet::new();
        let mut reads = Vec::new();
        for op in &self.ops {
            let (offset, len) = op.range();
            let range = offset as usize..(offset + len) as usize;
            match *op {
                Op::Write { pattern, .. } => {
                    dev[range].copy_from_slice(&pattern_bytes(pattern, len));
                    touched.extend(offset / PAGE..(offset + len).div_ceil(PAGE));
                }
                Op::Read { .. } => reads.push(dev[range].to_vec()),
            }
        }
        Observed { results: vec![OpResult::Done; self.ops.len()], reads, pages: touched.len() as u64 }
    }
}

/// The segments `(offset in page, len)` of a `len`-byte user buffer starting `buf_offset` bytes
/// into its first page.
fn user_segments(len: u64, buf_offset: u64) -> Vec<(u32, u32)> {
    let mut segs = Vec::new();
    let (mut off, mut left) = (buf_offset, len);
    while left > 0 {
        let n = left.min(PAGE - off);
        segs.push((off as u32, n as u32));
        left -= n;
        off = 0;
    }
    segs
}

/// Direct I/O of `data` at byte `offset` from a user buffer at `buf_offset`: bios of at most
/// `BIO_MAX_VECS` segments, each segment in its own buffer page, submitted in order; stops at
/// the first failing bio.
fn direct_io(
    bdev: &Bdev,
    op: ReqOp,
    offset: u64,
    data: &mut [u8],
    buf_offset: u64,
    nowait: bool,
) -> Result<(), Errno> {
    let segs = user_segments(data.len() as u64, buf_offset);
    let mut at = 0usize;
    for chunk in segs.chunks(BIO_MAX_VECS) {
        let mut bio = Bio::new(op, (offset + at as u64) / SECTOR);
        bio.nowait = nowait;
        let mut pages = Vec::with_capacity(chunk.len());
        let mut pos = at;
        for &(off, len) in chunk {
            let page = alloc_page(GFP_KERNEL).expect("I/O buffer page");
            if op == ReqOp::Write {
                memcpy_to_page(page, off as usize, &data[pos..pos + len as usize]);
            }
            bio.add_page(page, len, off);
            pages.push(page);
            pos += len as usize;
        }
        let r = submit_bio(bdev, &mut bio);
        for (&(off, len), &page) in chunk.iter().zip(&pages) {
            if op == ReqOp::Read && r.is_ok() {
                memcpy_from_page(&mut data[at..at + len as usize], page, off as usize);
            }
            at += len as usize;
            __free_page(page);
        }
        r?;
    }
    Ok(())
}

/// Runs `w` through brd v6.1 in ksim (std scheduler, modern kernel configuration): `brd_init`,
/// the ops on `ram0`, `Brd::nr_pages(0)` and the allocator's ledger, `brd_exit`. An error if
/// ksim reported anything (a sleep in atomic context, a leak, a poisoned read, a BUG) or the
/// body did not finish.
pub fn run_ksim(w: &Workload) -> Result<KsimRun, String> {
    run_on(w, None)
}

/// [`run_ksim`] on `drivers/block/brd.c` compiled against ksim's headers (a copy of the module
/// for this workload's run), with the same module parameters.
pub fn run_ksim_c(w: &Workload, module: Arc<ksim_c::brd::BrdModule>) -> Result<KsimRun, String> {
    run_on(w, Some(module))
}

fn run_on(w: &Workload, c: Option<Arc<ksim_c::brd::BrdModule>>) -> Result<KsimRun, String> {
    let out: Arc<Mutex<Option<KsimRun>>> = Arc::new(Mutex::new(None));
    let (w2, out2) = (w.clone(), out.clone());
    let outcome = Runner::std().config(Config::modern()).try_run(move || {
        let brd = match &c {
            None => Loaded::V6_1(brd_init(w2.params()).expect("brd_init")),
            Some(m) => {
                let p = w2.params();
                let params = ksim_c::brd::Params {
                    rd_nr: Some(p.rd_nr),
                    rd_size: Some(p.rd_size),
                    max_part: Some(p.max_part),
                };
                Loaded::C(m.brd_init(&params).unwrap_or_else(|e| panic!("brd.c: {e}")))
            }
        };
        let bdev = brd.open(0).expect("open ram0");
        let before = nr_allocated_pages();
        let mut results = Vec::new();
        let mut reads = Vec::new();
        for op in &w2.ops {
            let r = match *op {
                Op::Write { offset, len, pattern, buf_offset, nowait } => {
                    let mut data = pattern_bytes(pattern, len);
                    direct_io(&bdev, ReqOp::Write, offset, &mut data, buf_offset, nowait)
                }
                Op::Read { offset, len, buf_offset } => {
                    let mut data = vec![0u8; len as usize];
                    let r = direct_io(&bdev, ReqOp::Read, offset, &mut data, buf_offset, false);
                    reads.push(data);
                    r
                }
            };
            results.push(match r {
                Ok(()) => OpResult::Done,
                Err(e) => OpResult::Failed(e.name().to_string()),
            });
        }
        let pages = brd.nr_pages(0);
        let allocated_pages = nr_allocated_pages() - before;
        drop(bdev);
        brd.exit();
        let run = KsimRun { observed: Observed { results, reads, pages }, allocated_pages };
        *out2.lock().unwrap_or_else(|e| e.into_inner()) = Some(run);
    })?;
    if let Some(report) = outcome.first_report() {
        return Err(format!("ksim reported {:?}: {}", report.kind, report.text));
    }
    let run = out.lock().unwrap_or_else(|e| e.into_inner()).take();
    run.ok_or_else(|| "the ksim body did not finish".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_are_deterministic_and_in_range() {
        for seed in 0..200 {
            let w = Workload::generate(seed);
            assert_eq!(w, Workload::generate(seed));
            assert!(w.ops.len() >= 13);
            for op in &w.ops {
                let (offset, len) = op.range();
                assert!(len > 0 && offset % SECTOR == 0 && len % SECTOR == 0, "{op:?}");
                assert!(offset + len <= w.capacity_bytes(), "{op:?} beyond {}", w.capacity_bytes());
                if let Op::Write { nowait: true, len, .. } = *op {
                    assert!(len <= NOWAIT_MAX_BYTES);
                }
            }
            assert_eq!(w.ops.last(), Some(&Op::Read { offset: 0, len: w.capacity_bytes(), buf_offset: 0 }));
        }
    }

    #[test]
    fn user_segments_follow_the_buffer_pages() {
        assert_eq!(user_segments(512, 0), vec![(0, 512)]);
        assert_eq!(user_segments(4096, 512), vec![(512, 3584), (0, 512)]);
        assert_eq!(user_segments(9216, 0), vec![(0, 4096), (0, 4096), (0, 1024)]);
    }

    #[test]
    fn guest_ops_carry_every_write_byte() {
        let w = Workload::generate(7);
        let (text, data) = w.guest_ops();
        let writes: u64 = w.ops.iter().filter(|o| matches!(o, Op::Write { .. })).map(|o| o.range().1).sum();
        assert_eq!(data.len() as u64, writes);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), w.ops.len());
    }

    #[test]
    fn ksim_matches_the_shadow_model() {
        for seed in 0..3 {
            let w = Workload::generate(seed);
            let run = run_ksim(&w).expect("ksim run");
            assert_eq!(run.observed, w.shadow(), "seed {seed}");
            assert_eq!(run.allocated_pages, run.observed.pages, "seed {seed}");
        }
    }
}
