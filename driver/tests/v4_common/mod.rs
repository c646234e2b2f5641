//! Helpers shared by the brd v4.0, pmem v4.1 and DAX-user tests: running a body and carrying
//! its result out, bio I/O with buffer pages, patterns, and trace/report queries.
//!
//! Each test file is its own crate and uses only part of this module.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use ksim::blk::{submit_bio, Bdev, Bio, ReqOp, Sector, SECTOR_SHIFT};
use ksim::errno::Errno;
use ksim::gfp::{__GFP_ZERO, GFP_KERNEL};
use ksim::highmem::page_address;
use ksim::mm::{__free_page, alloc_page, memcpy_from, memcpy_to, Page, PAGE_SIZE};
use ksim::{Config, Outcome, Runner, Trace};

/// Runs `body` once on real threads and returns the outcome with the body's result (`None` if
/// the body did not finish, e.g. after a report).
pub fn run_std<T, F>(config: Config, body: F) -> (Outcome, Option<T>)
where
    T: Send + 'static,
    F: Fn() -> T + Send + Sync + 'static,
{
    let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
    let s = slot.clone();
    let outcome = Runner::std().config(config).run(move || {
        let v = body();
        *s.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
    });
    let v = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    (outcome, v)
}

/// Runs `body` once and asserts the run is clean; returns the body's result.
#[track_caller]
pub fn run_clean<T, F>(config: Config, body: F) -> (Outcome, T)
where
    T: Send + 'static,
    F: Fn() -> T + Send + Sync + 'static,
{
    let (o, v) = run_std(config, body);
    assert!(o.is_clean(), "expected a clean run, got: {:#?}", o.reports);
    (o, v.expect("the body finished"))
}

/// `len` bytes of a recognisable pattern (never all zero).
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1).collect()
}

/// A zeroed lowmem buffer page for a bio.
pub fn buf_page() -> Page {
    alloc_page(GFP_KERNEL | __GFP_ZERO).expect("buffer page")
}

/// A bio of `op` at `sector` carrying `segs` as (len, bv_offset) segments, each on a fresh
/// buffer page; `data` (if any) is copied into the segments in order. Returns the bio and the
/// buffer pages.
pub fn make_bio(op: ReqOp, sector: Sector, segs: &[(u32, u32)], data: Option<&[u8]>) -> (Bio, Vec<Page>) {
    let mut bio = Bio::new(op, sector);
    let mut pages = Vec::new();
    let mut done = 0usize;
    for &(len, off) in segs {
        let page = buf_page();
        if let Some(d) = data {
            let a = page_address(page).expect("lowmem buffer");
            memcpy_to(a.add(off as usize), &d[done..done + len as usize]);
        }
        bio.add_page(page, len, off);
        pages.push(page);
        done += len as usize;
    }
    (bio, pages)
}

/// The bytes the segments of `bio` hold, in order.
pub fn bio_bytes(bio: &Bio) -> Vec<u8> {
    let mut out = Vec::new();
    for v in bio.segments() {
        let mut b = vec![0u8; v.len as usize];
        memcpy_from(&mut b, page_address(v.page).expect("lowmem buffer").add(v.offset as usize));
        out.extend_from_slice(&b);
    }
    out
}

/// Frees the buffer pages of a bio.
pub fn free_pages(pages: Vec<Page>) {
    for p in pages {
        __free_page(p);
    }
}

/// Segments of at most a page each, at buffer offset 0, covering `len` bytes.
pub fn page_segs(len: usize) -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    let mut left = len;
    while left > 0 {
        let n = left.min(PAGE_SIZE);
        v.push((n as u32, 0));
        left -= n;
    }
    v
}

/// Writes `data` at `sector` with one bio (segments of at most a page).
pub fn write_bytes(bdev: &Bdev, sector: Sector, data: &[u8]) -> Result<(), Errno> {
    let (mut bio, pages) = make_bio(ReqOp::Write, sector, &page_segs(data.len()), Some(data));
    let r = submit_bio(bdev, &mut bio);
    free_pages(pages);
    r
}

/// Reads `len` bytes at `sector` with one bio of `op` (Read or ReadAhead).
pub fn read_bytes_op(bdev: &Bdev, op: ReqOp, sector: Sector, len: usize) -> Result<Vec<u8>, Errno> {
    let (mut bio, pages) = make_bio(op, sector, &page_segs(len), None);
    let r = submit_bio(bdev, &mut bio).map(|()| bio_bytes(&bio));
    free_pages(pages);
    r
}

/// Reads `len` bytes at `sector` with one READ bio.
pub fn read_bytes(bdev: &Bdev, sector: Sector, len: usize) -> Result<Vec<u8>, Errno> {
    read_bytes_op(bdev, ReqOp::Read, sector, len)
}

/// Pre-populates a device the way Dave Chinner suggested: writes zeros to all of it, 64 KiB per
/// bio.
pub fn fill_zeros(bdev: &Bdev) {
    let total = (bdev.nr_sects() << SECTOR_SHIFT) as usize;
    let chunk = 16 * PAGE_SIZE;
    let zeros = vec![0u8; chunk];
    let mut at = 0;
    while at < total {
        let n = chunk.min(total - at);
        write_bytes(bdev, (at >> SECTOR_SHIFT) as u64, &zeros[..n]).expect("zero-fill");
        at += n;
    }
}

/// Trace lines of page allocations made by `brd_insert_page`.
pub fn brd_allocs(trace: &Trace) -> Vec<String> {
    trace
        .allocations()
        .lines()
        .filter(|l| l.contains(": alloc_page: ") && l.contains("brd_insert_page"))
        .map(str::to_string)
        .collect()
}

/// Trace lines of page frees made by `brd_insert_page` (the insert race's loser).
pub fn brd_insert_frees(trace: &Trace) -> Vec<String> {
    trace
        .allocations()
        .lines()
        .filter(|l| l.contains(": __free_page: ") && l.contains("in brd_insert_page"))
        .map(str::to_string)
        .collect()
}

/// Trace lines of every page allocation (any caller).
pub fn all_page_allocs(trace: &Trace) -> Vec<String> {
    trace.allocations().lines().filter(|l| l.contains(": alloc_page: ")).map(str::to_string).collect()
}

/// Asserts that `text` contains each of `expected` as a whole line, in this order.
#[track_caller]
pub fn assert_lines_in_order(text: &str, expected: &[&str]) {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    for want in expected {
        match lines[from..].iter().position(|l| l == want) {
            Some(i) => from += i + 1,
            None => panic!("line {want:?} not found (in order) in report:\n{text}"),
        }
    }
}
