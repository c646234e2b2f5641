//! The page allocator (ARCHITECTURE §5): deterministic pfns, `__GFP_ZERO`, references,
//! higher orders, the memory limit with reclaim through a shrinker.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};

use common::{assert_lines_in_order, only_report, run_std, Lines};
use ksim::gfp::*;
use ksim::highmem::page_address;
use ksim::mm::*;
use ksim::prelude::*;
use ksim::Cat;

const FILE: &str = file!();

/// Allocates three pages, frees the first two, allocates two more: the pfns in order.
fn pfn_sequence(p: &common::Probe<u64>) {
    let a = alloc_page(GFP_KERNEL).unwrap();
    let b = alloc_page(GFP_NOIO).unwrap();
    let c = alloc_page(GFP_ATOMIC).unwrap();
    for x in [a, b, c] {
        p.push(x.pfn());
    }
    __free_page(a);
    __free_page(b);
    // Last freed first: b's frame, then a's.
    let d = alloc_page(GFP_KERNEL).unwrap();
    let e = alloc_page(GFP_KERNEL).unwrap();
    let f = alloc_page(GFP_KERNEL).unwrap();
    for x in [d, e, f] {
        p.push(page_to_pfn(x));
        __free_page(x);
    }
    __free_page(c);
}

#[test]
fn page_alloc_pfns_are_deterministic_and_reused_last_freed_first() {
    let (o, pfns) = run_std(Config::modern(), pfn_sequence);
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(pfns, [0x1000, 0x1001, 0x1002, 0x1001, 0x1000, 0x1003]);
    let (o2, pfns2) = run_std(Config::v4_0(), pfn_sequence);
    assert!(o2.is_clean());
    assert_eq!(pfns2, pfns, "a second run (and the other profile) hands out the same pfns");
}

#[test]
fn page_alloc_gfp_zero_page_reads_zeros() {
    let (o, v) = run_std(Config::modern(), |p| {
        let page = alloc_page(GFP_NOIO | __GFP_ZERO).unwrap();
        let mut buf = vec![0xffu8; PAGE_SIZE];
        memcpy_from(&mut buf, page_address(page).unwrap());
        p.push(buf.iter().filter(|&&b| b == 0).count());
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [PAGE_SIZE]);
}

#[test]
fn page_alloc_refcount_follows_get_and_put() {
    let (o, v) = run_std(Config::modern(), |p| {
        let page = alloc_page(GFP_KERNEL).unwrap();
        p.push(page_count(page));
        get_page(page);
        p.push(page_count(page));
        p.push(get_page_unless_zero(page) as i64);
        p.push(page_count(page));
        put_page(page);
        put_page(page);
        p.push(page_count(page));
        p.push(nr_allocated_pages() as i64);
        __free_page(page); // the last reference
        p.push(page_count(page));
        p.push(get_page_unless_zero(page) as i64);
        p.push(nr_allocated_pages() as i64);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [1, 2, 1, 3, 1, 1, 0, 0, 0]);
}

#[test]
fn page_alloc_pfn_to_page_names_the_current_allocation() {
    let (o, v) = run_std(Config::modern(), |p| {
        let a = alloc_page(GFP_KERNEL).unwrap();
        p.push(pfn_to_page(page_to_pfn(a)) == a);
        __free_page(a);
        let b = alloc_page(GFP_KERNEL).unwrap();
        // Same frame, new allocation: the handle differs from the stale one.
        p.push(b.pfn() == a.pfn());
        p.push(pfn_to_page(0x1000) == b);
        p.push(pfn_to_page(0x1000) == a);
        __free_page(b);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [true, true, true, false]);
}

#[test]
fn page_alloc_order_2_spans_four_pages() {
    let (o, v) = run_std(Config::modern(), |p| {
        let page = alloc_pages(GFP_KERNEL | __GFP_ZERO, 2).unwrap();
        p.push(page.pfn());
        p.push(nr_allocated_pages());
        let next = alloc_page(GFP_KERNEL).unwrap();
        p.push(next.pfn());
        let addr = page_address(page).unwrap();
        let data: Vec<u8> = (0..4 * PAGE_SIZE).map(|i| (i % 251) as u8).collect();
        memcpy_to(addr, &data);
        let mut back = vec![0u8; 4 * PAGE_SIZE];
        memcpy_from(&mut back, addr);
        p.push((back == data) as u64);
        // The last page of the four, through its own pfn.
        let mut tail = [0u8; 2];
        memcpy_from(&mut tail, page_address(page).unwrap().add(3 * PAGE_SIZE + 10));
        p.push(u64::from(tail[0]) << 8 | u64::from(tail[1]));
        __free_pages(page, 2);
        __free_page(next);
        p.push(nr_allocated_pages());
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    let i = 3 * PAGE_SIZE + 10;
    let tail = ((i % 251) as u64) << 8 | ((i + 1) % 251) as u64;
    assert_eq!(v, [0x1000, 4, 0x1004, 1, tail, 0]);
}

#[test]
fn page_alloc_order_2_write_one_past_16k_is_out_of_bounds() {
    let lines = Lines::new();
    let l = lines.clone();
    let o = Runner::std().run(move || {
        let page = at!(l, "alloc", alloc_pages(GFP_KERNEL | __GFP_ZERO, 2)).unwrap();
        at!(l, "write", memcpy_to(page_address(page).unwrap(), &[7u8; 4 * PAGE_SIZE + 1]));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::OutOfBounds);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: KASAN: page-out-of-bounds in memcpy at {}", lines.site(FILE, "write")),
            "Write of size 16385 at addr 0xffff888001000000 by task main/1",
            "The buggy address is located 0 bytes inside of the 16384-byte region; the access ends 1 bytes past its end",
            "Allocated by task main/1 (GFP_KERNEL|__GFP_ZERO):",
            &format!(" alloc_pages at {}", lines.site(FILE, "alloc")),
        ],
    );
}

#[test]
fn page_alloc_non_blocking_fails_at_the_limit() {
    let (o, v) = run_std(Config::modern().mem_limit(2), |p| {
        let a = alloc_page(GFP_ATOMIC).unwrap();
        let b = alloc_page(GFP_NOWAIT).unwrap();
        p.push(nr_allocated_pages());
        p.push(alloc_page(GFP_ATOMIC).is_none() as u64);
        p.push(alloc_page(GFP_NOWAIT).is_none() as u64);
        p.push(alloc_pages(GFP_ATOMIC, 1).is_none() as u64);
        __free_page(a);
        // One page free again: order 0 fits, order 1 does not.
        p.push(alloc_pages(GFP_ATOMIC, 1).is_none() as u64);
        let c = alloc_page(GFP_ATOMIC).unwrap();
        p.push(c.pfn());
        __free_page(b);
        __free_page(c);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [2, 1, 1, 1, 1, 0x1000]);
    let failed = o.trace.of(Cat::Mem).filter(|e| e.detail.contains("FAILED (out of memory)")).count();
    assert_eq!(failed, 4);
    assert_eq!(
        o.trace.of(Cat::Mem).filter(|e| e.name == "direct_reclaim").count(),
        0,
        "no reclaim for GFP_ATOMIC"
    );
}

#[test]
fn page_alloc_blocking_at_the_limit_reclaims_through_a_shrinker() {
    let (o, v) = run_std(Config::modern().mem_limit(2), |p| {
        // A cache of pages the shrinker may give back.
        let cache: Arc<Mutex<Vec<Page>>> = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(Mutex::new(Vec::<u64>::new()));
        let (c, k) = (cache.clone(), calls.clone());
        register_shrinker("demo_cache", Gfp::EMPTY, move |nr| {
            k.lock().unwrap().push(nr);
            let page = c.lock().unwrap().pop();
            match page {
                Some(page) => {
                    __free_page(page);
                    1
                }
                None => 0,
            }
        });
        let kept = alloc_page(GFP_KERNEL).unwrap();
        let cached = alloc_page(GFP_KERNEL).unwrap();
        cache.lock().unwrap().push(cached);
        p.push(nr_allocated_pages());
        // At the limit: direct reclaim calls the shrinker, which frees `cached`.
        let fresh = alloc_page(GFP_KERNEL).expect("reclaim made room");
        p.push(fresh.pfn());
        p.push(nr_allocated_pages());
        p.push(calls.lock().unwrap().len() as u64);
        p.push(calls.lock().unwrap()[0]);
        // The cache is empty now: reclaim finds nothing and the allocation fails.
        p.push(alloc_page(GFP_KERNEL).is_none() as u64);
        p.push(calls.lock().unwrap().len() as u64);
        __free_page(kept);
        __free_page(fresh);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    // `fresh` reuses the frame the shrinker freed (0x1001); the shrinker was asked for a batch
    // of 128 (SHRINK_BATCH) each time.
    assert_eq!(v, [2, 0x1001, 2, 1, 128, 1, 2]);
    let mem = o.trace.allocations();
    assert_lines_in_order(
        &mem,
        &[
            "          main-1 ....: direct_reclaim: GFP_KERNEL (effective GFP_KERNEL) 1 shrinker(s)",
            "          main-1 ....: __free_page: pfn=0x1001 order=0 in main",
            "          main-1 ....: shrink: demo_cache freed 1",
            "          main-1 ....: alloc_page: GFP_KERNEL order=0 zone=Normal pfn=0x1001 in main",
            "          main-1 ....: shrink: demo_cache freed 0",
            "          main-1 ....: alloc_page: GFP_KERNEL order=0 FAILED (out of memory) in main",
        ],
    );
}

#[test]
fn page_alloc_reclaim_skips_shrinkers_the_gfp_does_not_allow() {
    let (o, v) = run_std(Config::modern().mem_limit(1), |p| {
        let held = Arc::new(Mutex::new(None::<Page>));
        let h = held.clone();
        // Block-device writeback needs __GFP_IO; a GFP_NOIO reclaim must not call it.
        register_shrinker("bdev_writeback", __GFP_IO, move |_| match h.lock().unwrap().take() {
            Some(page) => {
                __free_page(page);
                1
            }
            None => 0,
        });
        *held.lock().unwrap() = alloc_page(GFP_KERNEL);
        p.push(alloc_page(GFP_NOIO).is_none());
        p.push(held.lock().unwrap().is_some());
        let page = alloc_page(GFP_NOFS).expect("GFP_NOFS allows __GFP_IO: writeback frees the page");
        p.push(held.lock().unwrap().is_none());
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [true, true, true]);
    let reclaims: Vec<&str> =
        o.trace.of(Cat::Mem).filter(|e| e.name == "direct_reclaim").map(|e| e.detail.as_str()).collect();
    assert_eq!(
        reclaims,
        ["GFP_NOIO (effective GFP_NOIO) 0 shrinker(s)", "GFP_NOFS (effective GFP_NOFS) 1 shrinker(s)"]
    );
}
