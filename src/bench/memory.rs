//! The memory group: what the page ledger costs over plain Rust, measured in the same run.
//! Allocation+free of a zeroed 4 KiB page (`alloc_page(GFP_KERNEL|__GFP_ZERO)` + `__free_page`
//! against `vec![0u8; 4096]` + drop) and 4 KiB copies into and out of pages (`memcpy_to` /
//! `memcpy_from` through the model against `copy_from_slice`, every host buffer page-aligned),
//! on the std backend, with the trace off and on.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ksim::gfp::{__GFP_ZERO, GFP_KERNEL};
use ksim::highmem::page_address;
use ksim::mm::{__free_page, alloc_page, memcpy_from, memcpy_to, PAGE_SIZE};
use ksim::{Config, Runner};

use super::{median, AlignedPage, Budget, Figure, GroupResult, Unit};

/// Runs `body` on the std backend and returns the time it measured itself (set-up excluded).
fn in_ksim(trace: bool, body: impl Fn() -> Duration + Send + Sync + 'static) -> Result<Duration, String> {
    let out = Arc::new(Mutex::new(Duration::ZERO));
    let o = out.clone();
    let outcome = Runner::std()
        .config(Config::default().trace(trace))
        .try_run(move || *o.lock().expect("not poisoned") = body())?;
    if let Some(r) = outcome.first_report() {
        return Err(format!("the memory benchmark reported '{}'", r.headline()));
    }
    let d = *out.lock().expect("not poisoned");
    Ok(d)
}

fn ksim_alloc_free(n: usize, trace: bool) -> Result<Duration, String> {
    in_ksim(trace, move || {
        let start = Instant::now();
        for _ in 0..n {
            let p = alloc_page(GFP_KERNEL | __GFP_ZERO).expect("no memory limit");
            __free_page(black_box(p));
        }
        start.elapsed()
    })
}

fn plain_alloc_free(n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        drop(black_box(vec![0u8; PAGE_SIZE]));
    }
    start.elapsed()
}

/// (write, read) times for `rounds` passes over `pages` pages.
fn ksim_copy(pages: usize, rounds: usize, trace: bool) -> Result<(Duration, Duration), String> {
    let out = Arc::new(Mutex::new((Duration::ZERO, Duration::ZERO)));
    let o = out.clone();
    let outcome = Runner::std().config(Config::default().trace(trace)).try_run(move || {
        let v: Vec<_> = (0..pages).map(|_| alloc_page(GFP_KERNEL | __GFP_ZERO).expect("no limit")).collect();
        let addrs: Vec<_> = v.iter().map(|p| page_address(*p).expect("lowmem")).collect();
        let src = Box::new(AlignedPage([0xa5; PAGE_SIZE]));
        let mut dst = Box::new(AlignedPage([0; PAGE_SIZE]));
        let start = Instant::now();
        for _ in 0..rounds {
            for a in &addrs {
                memcpy_to(*a, &src.0);
            }
        }
        let write = start.elapsed();
        let start = Instant::now();
        for _ in 0..rounds {
            for a in &addrs {
                memcpy_from(&mut dst.0, *a);
                black_box(&dst);
            }
        }
        let read = start.elapsed();
        for p in v {
            __free_page(p);
        }
        *o.lock().expect("not poisoned") = (write, read);
    })?;
    if let Some(r) = outcome.first_report() {
        return Err(format!("the memory benchmark reported '{}'", r.headline()));
    }
    let d = *out.lock().expect("not poisoned");
    Ok(d)
}

fn plain_copy(pages: usize, rounds: usize) -> (Duration, Duration) {
    let mut v = vec![AlignedPage([0; PAGE_SIZE]); pages];
    let src = Box::new(AlignedPage([0xa5; PAGE_SIZE]));
    let mut dst = Box::new(AlignedPage([0; PAGE_SIZE]));
    let start = Instant::now();
    for _ in 0..rounds {
        for p in v.iter_mut() {
            p.0.copy_from_slice(black_box(&src.0));
            black_box(&p);
        }
    }
    let write = start.elapsed();
    let start = Instant::now();
    for _ in 0..rounds {
        for p in &v {
            dst.0.copy_from_slice(black_box(&p.0));
            black_box(&dst);
        }
    }
    (write, start.elapsed())
}

pub fn run(b: &Budget) -> GroupResult {
    // 1 MiB of pages, copied 256 times each way: 256 MiB per measurement, out of cache on
    // purpose no more than a real driver's working set would be.
    let (n, pages, rounds) = if b.quick { (16, 4, 1) } else { (200_000, 256, 256) };
    let bytes = (pages * rounds * PAGE_SIZE) as f64;
    let (mut ka, mut kat, mut pa) = (Vec::new(), Vec::new(), Vec::new());
    let (mut kw, mut kr, mut kwt, mut pw, mut pr) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    ksim_alloc_free(16, false)?;
    for _ in 0..b.repeats {
        ka.push(n as f64 / ksim_alloc_free(n, false)?.as_secs_f64());
        kat.push(n as f64 / ksim_alloc_free(n, true)?.as_secs_f64());
        pa.push(n as f64 / plain_alloc_free(n).as_secs_f64());
        let (w, r) = ksim_copy(pages, rounds, false)?;
        kw.push(bytes / w.as_secs_f64() / 1e9);
        kr.push(bytes / r.as_secs_f64() / 1e9);
        kwt.push(bytes / ksim_copy(pages, rounds, true)?.0.as_secs_f64() / 1e9);
        let (w, r) = plain_copy(pages, rounds);
        pw.push(bytes / w.as_secs_f64() / 1e9);
        pr.push(bytes / r.as_secs_f64() / 1e9);
    }
    let (ka, kat, pa) = (median(ka), median(kat), median(pa));
    let (kw, kr, kwt, pw, pr) = (median(kw), median(kr), median(kwt), median(pw), median(pr));
    let fig = |name, value, unit| Figure { name, value, unit };
    let about = format!("{n} alloc+free; {pages} pages x {rounds} rounds of 4 KiB copies; std backend");
    Ok((
        about,
        vec![
            fig("ksim_alloc_free_per_sec", ka, Unit::OpsPerSec),
            fig("ksim_alloc_free_traced_per_sec", kat, Unit::OpsPerSec),
            fig("plain_alloc_free_per_sec", pa, Unit::OpsPerSec),
            fig("alloc_free_ratio", ka / pa, Unit::Ratio),
            fig("alloc_free_ratio_traced", kat / pa, Unit::Ratio),
            fig("ksim_page_write_gbps", kw, Unit::Gbps),
            fig("ksim_page_write_traced_gbps", kwt, Unit::Gbps),
            fig("ksim_page_read_gbps", kr, Unit::Gbps),
            fig("plain_page_write_gbps", pw, Unit::Gbps),
            fig("plain_page_read_gbps", pr, Unit::Gbps),
            fig("page_write_ratio", kw / pw, Unit::Ratio),
            fig("page_read_ratio", kr / pr, Unit::Ratio),
        ],
    ))
}
