//! Allocation paths call `might_sleep()` on the GFP flag, not on actual blocking, and before
//! fault injection (facts §3.4, checklist 1-2): a blocking allocation under a spinlock is
//! reported even with memory free; GFP_ATOMIC / GFP_NOWAIT are not.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::{assert_lines_in_order, only_report, run_lines as run, Lines, Probe};
use ksim::fault_inject::FaultPlan;
use ksim::gfp::*;
use ksim::mm::slab::{kmem_cache_alloc, kmem_cache_create, kmem_cache_free, SlabFlags};
use ksim::mm::*;
use ksim::prelude::*;
use ksim::Cat;

const FILE: &str = file!();

/// A plan under which every page allocation is eligible and fails.
fn fail_every_page_allocation() -> FaultPlan {
    let mut plan = FaultPlan::default();
    plan.page_alloc.min_order = 0;
    plan.page_alloc.ignore_gfp_wait = false;
    plan.page_alloc.ignore_gfp_highmem = false;
    plan.page_alloc.attr.probability = 100;
    plan.page_alloc.attr.times = -1;
    plan
}

/// `demo_fill` takes a spinlock and allocates with `gfp` while holding it.
fn alloc_under_spinlock(lines: &Lines, gfp: Gfp) -> Option<Page> {
    kfn!("demo_fill");
    let lock = SpinLock::new((), "demo.lock");
    let g = at!(lines, "lock", spin_lock(&lock));
    let page = at!(lines, "alloc", alloc_page(gfp));
    spin_unlock(g);
    page
}

#[test]
fn alloc_page_gfp_noio_under_spinlock_reports_with_memory_free() {
    let free_before = Probe::new();
    let p = free_before.clone();
    let (o, lines) = run(Config::modern(), move |lines| {
        p.push(nr_allocated_pages());
        alloc_under_spinlock(lines, GFP_NOIO);
    });
    assert_eq!(free_before.values(), [0], "nothing was allocated: memory is plentiful");
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    let (lock, alloc) = (lines.site(FILE, "lock"), lines.site(FILE, "alloc"));
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {alloc}"),
            "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
            "preempt_count: 1, expected: 0",
            "1 lock held by main/1:",
            &format!(" #0: (demo.lock){{+.+.}}, at: {lock}"),
            "Call trace (simulated):",
            " alloc_page(GFP_NOIO) <- demo_fill",
        ],
    );
}

#[test]
fn alloc_page_under_spinlock_report_in_v4_0_format() {
    let (o, lines) = run(Config::v4_0(), |lines| {
        alloc_under_spinlock(lines, GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "alloc")),
            "in_atomic(): 1, irqs_disabled(): 0, pid: 1, name: main",
            " alloc_page(GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM) <- demo_fill",
        ],
    );
    assert!(!r.text.contains("preempt_count:"), "4.0 has no preempt_count line:\n{}", r.text);
}

#[test]
fn alloc_pages_higher_order_names_the_order_in_the_call_trace() {
    let (o, lines) = run(Config::modern(), |lines| {
        let lock = SpinLock::new((), "demo.lock");
        let _g = spin_lock(&lock);
        at!(lines, "alloc", alloc_pages(GFP_KERNEL, 2));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "alloc")),
            "preempt_count: 1, expected: 0",
            " alloc_pages(GFP_KERNEL, 2)",
        ],
    );
}

#[test]
fn alloc_page_atomic_and_nowait_under_spinlock_do_not_report() {
    let got = Probe::new();
    let p = got.clone();
    let (o, _) = run(Config::modern(), move |lines| {
        for gfp in [GFP_ATOMIC, GFP_NOWAIT, GFP_ATOMIC | __GFP_ZERO] {
            let page = alloc_under_spinlock(lines, gfp).expect("memory is free");
            p.push(page.pfn());
            __free_page(page);
        }
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    // Each page is freed before the next allocation, which reuses it.
    assert_eq!(got.values(), [0x1000, 0x1000, 0x1000]);
    assert_eq!(o.trace.of(Cat::Sleep).count(), 0, "no might_sleep check for non-blocking GFP");
}

#[test]
fn alloc_page_blocking_outside_atomic_is_checked_and_passes() {
    let (o, lines) = run(Config::modern(), |lines| {
        let page = at!(lines, "alloc", alloc_page(GFP_NOIO)).expect("memory is free");
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    let sleeps: Vec<String> = o.trace.of(Cat::Sleep).map(|e| e.detail.clone()).collect();
    assert_eq!(sleeps, [format!("alloc_page(GFP_NOIO) at {} ok", lines.site(FILE, "alloc"))]);
}

#[test]
fn alloc_page_might_sleep_check_runs_before_fault_injection() {
    let got = Probe::new();
    let p = got.clone();
    let config = Config::modern().faults(fail_every_page_allocation()).panic_on_report(false);
    let (o, lines) = run(config, move |lines| {
        // Outside the lock the plan fails the allocation...
        p.push(alloc_page(GFP_NOIO).is_some());
        // ...and under it the might_sleep check still comes first.
        p.push(alloc_under_spinlock(lines, GFP_NOIO).is_some());
    });
    assert_eq!(got.values(), [false, false], "the plan fails every allocation");
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "alloc")),
            "preempt_count: 1, expected: 0",
            " alloc_page(GFP_NOIO) <- demo_fill",
        ],
    );
    // The outcome's trace is the failing execution's up to its first report: the first call's
    // injected failure, then, under the lock, the INVALID check and its report — and nothing of
    // the second allocation's fault injection yet.
    let mem_and_sleep: Vec<String> = o
        .trace
        .events
        .iter()
        .filter(|e| matches!(e.cat, Cat::Sleep | Cat::Mem | Cat::Report))
        .map(|e| format!("{} {}: {}", e.preempt_count, e.name, e.detail))
        .collect();
    let alloc = lines.site(FILE, "alloc");
    assert_eq!(mem_and_sleep.len(), 5, "{mem_and_sleep:#?}");
    assert!(mem_and_sleep[0].starts_with("0 might_sleep: alloc_page(GFP_NOIO) at "), "{mem_and_sleep:#?}");
    assert_eq!(mem_and_sleep[1], "0 alloc_page: GFP_NOIO order=0 FAILED (fault injection) in main");
    assert_eq!(mem_and_sleep[2], "0 fault_inject: FAULT_INJECTION: forcing a failure.");
    assert_eq!(mem_and_sleep[3], format!("1 might_sleep: alloc_page(GFP_NOIO) at {alloc} INVALID"));
    assert_eq!(mem_and_sleep[4], "1 report: sleep-in-atomic");
}

#[test]
fn kmem_cache_alloc_blocking_under_spinlock_reports_and_atomic_does_not() {
    let results = Probe::new();
    let p = results.clone();
    let (o, lines) = run(Config::modern(), move |lines| {
        let cache = kmem_cache_create("radix_tree_node", 576, 0, SlabFlags::default()).expect("cache");
        let lock = Arc::new(SpinLock::new((), "cache.lock"));
        let g = spin_lock(&lock);
        for gfp in [GFP_ATOMIC, GFP_NOWAIT] {
            let obj = kmem_cache_alloc(&cache, gfp);
            p.push(obj.is_some());
            obj.into_iter().for_each(|o| kmem_cache_free(&cache, o));
        }
        at!(lines, "alloc", kmem_cache_alloc(&cache, GFP_NOIO));
        spin_unlock(g);
    });
    assert_eq!(results.values(), [true, true]);
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "alloc")),
            "preempt_count: 1, expected: 0",
            " kmem_cache_alloc(radix_tree_node, GFP_NOIO)",
        ],
    );
}
