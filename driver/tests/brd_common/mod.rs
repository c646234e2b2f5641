//! Helpers shared by the brd v6.1 and current brd driver tests: bios built from test pages,
//! patterns, trace filters and a probe for values computed inside a simulated run.

#![allow(dead_code)] // each test file uses a different part

use std::sync::{Arc, Mutex};

use ksim::blk::{submit_bio, Bdev, Bio, ReqOp, Sector};
use ksim::gfp::{__GFP_ZERO, GFP_KERNEL};
use ksim::highmem::{memcpy_from_page, memcpy_to_page};
use ksim::mm::{__free_page, alloc_page, Page, PAGE_SIZE};
use ksim::prelude::*;
use ksim::{Cat, Event};

/// Values computed inside the simulation, carried out to the test (a std mutex held for one
/// push: model-external bookkeeping, never across a scheduling point).
pub struct Probe<T>(Arc<Mutex<Vec<T>>>);

impl<T: Clone> Probe<T> {
    pub fn new() -> Self {
        Probe(Arc::new(Mutex::new(Vec::new())))
    }
    pub fn push(&self, v: T) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(v);
    }
    pub fn values(&self) -> Vec<T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl<T> Clone for Probe<T> {
    fn clone(&self) -> Self {
        Probe(self.0.clone())
    }
}

/// A recognisable, never-zero byte pattern.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32).map(|i| ((i.wrapping_mul(7).wrapping_add(seed)) % 251 + 1) as u8).collect()
}

/// One bio whose segment `i` is `segs[i] = (offset, len)` in its own fresh page: `data` is
/// copied into the segments before a write and out of them after a read. The buffer pages are
/// freed before returning.
pub fn bio_io(
    bdev: &Bdev,
    op: ReqOp,
    sector: Sector,
    segs: &[(u32, u32)],
    data: &mut [u8],
    nowait: bool,
) -> Result<(), Errno> {
    let mut bio = Bio::new(op, sector);
    bio.nowait = nowait;
    let mut pages = Vec::new();
    let mut at = 0;
    for &(off, len) in segs {
        let page = alloc_page(GFP_KERNEL | __GFP_ZERO).expect("test buffer page");
        if op == ReqOp::Write {
            memcpy_to_page(page, off as usize, &data[at..at + len as usize]);
        }
        bio.add_page(page, len, off);
        pages.push(page);
        at += len as usize;
    }
    let r = submit_bio(bdev, &mut bio);
    let mut at = 0;
    for (&(off, len), &page) in segs.iter().zip(&pages) {
        if op == ReqOp::Read && r.is_ok() {
            memcpy_from_page(&mut data[at..at + len as usize], page, off as usize);
        }
        at += len as usize;
        __free_page(page);
    }
    r
}

pub fn whole_segments(len: usize) -> Vec<(u32, u32)> {
    (0..len).step_by(PAGE_SIZE).map(|at| (0, (len - at).min(PAGE_SIZE) as u32)).collect()
}

/// Writes `data` at `sector` in page-sized segments at offset 0.
pub fn write(bdev: &Bdev, sector: Sector, data: &[u8]) -> Result<(), Errno> {
    let segs = whole_segments(data.len());
    bio_io(bdev, ReqOp::Write, sector, &segs, &mut data.to_vec(), false)
}

/// Reads `len` bytes at `sector` in page-sized segments at offset 0.
pub fn read(bdev: &Bdev, sector: Sector, len: usize) -> Result<Vec<u8>, Errno> {
    let mut data = vec![0u8; len];
    bio_io(bdev, ReqOp::Read, sector, &whole_segments(len), &mut data, false)?;
    Ok(data)
}

/// A single-segment bio from a caller-owned buffer page (no allocation by the helper, for
/// memory-pressure and atomic-context tests).
pub fn bio_with(
    bdev: &Bdev,
    op: ReqOp,
    page: Page,
    sector: Sector,
    len: u32,
    nowait: bool,
) -> Result<(), Errno> {
    let mut bio = Bio::new(op, sector);
    bio.nowait = nowait;
    bio.add_page(page, len, 0);
    submit_bio(bdev, &mut bio)
}

/// A buffer page filled with `pattern(PAGE_SIZE, seed)`.
pub fn filled_page(seed: u32) -> Page {
    let page = alloc_page(GFP_KERNEL | __GFP_ZERO).expect("test buffer page");
    memcpy_to_page(page, 0, &pattern(PAGE_SIZE, seed));
    page
}

/// Asserts that each of `expected` is a whole line of `text`, in this order.
#[track_caller]
pub fn assert_lines_in_order(text: &str, expected: &[&str]) {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    for want in expected {
        match lines[from..].iter().position(|l| l == want) {
            Some(i) => from += i + 1,
            None => panic!("line {want:?} not found (in order) in:\n{text}"),
        }
    }
}

/// Page-allocator events made by brd itself (not the test's buffer pages).
pub fn brd_allocs(events: &[Event]) -> Vec<&Event> {
    events.iter().filter(|e| e.name == "alloc_page" && e.detail.contains("in brd_insert_page")).collect()
}

/// Events between the `submit_bio` whose detail contains `marker` and the next `bio_endio`.
pub fn during_bio<'a>(events: &'a [Event], marker: &str) -> &'a [Event] {
    let start = events
        .iter()
        .position(|e| e.cat == Cat::Block && e.name == "submit_bio" && e.detail.contains(marker))
        .unwrap_or_else(|| panic!("no submit_bio with {marker:?}"));
    let end = start + events[start..].iter().position(|e| e.name == "bio_endio").expect("the bio was ended");
    &events[start..=end]
}

/// Asserts that the run reported nothing, showing every report otherwise.
#[track_caller]
pub fn assert_clean(o: &Outcome) {
    assert!(o.is_clean(), "{}", o.reports.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join("\n"));
}
