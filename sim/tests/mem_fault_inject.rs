//! Fault injection faithful to `should_fail()` and the fail_page_alloc / failslab filters
//! (facts §5.1-5.3, checklist 17), plus the deterministic fail-nth mode.
#![forbid(unsafe_code)]

mod common;

use common::run_std;
use ksim::fault_inject::FaultPlan;
use ksim::gfp::*;
use ksim::mm::slab::{kmem_cache_alloc, kmem_cache_create, kmem_cache_destroy, kmem_cache_free, SlabFlags};
use ksim::mm::*;
use ksim::prelude::*;
use ksim::radix_tree::{radix_tree_preload, radix_tree_preload_end, RadixTreeRoot};
use ksim::Cat;

/// Kernel defaults (ignore-gfp-wait=Y, ignore-gfp-highmem=Y, min-order=1) with injection
/// switched on: probability 100, unlimited times.
fn defaults_always() -> FaultPlan {
    let mut plan = FaultPlan::default();
    plan.page_alloc.attr.probability = 100;
    plan.page_alloc.attr.times = -1;
    plan
}

/// Every order-0 sleepable page allocation eligible (min-order=0, ignore-gfp-wait=N), with
/// probability 100 and unlimited times; callers then set interval / times / space.
fn eligible_always() -> FaultPlan {
    let mut plan = defaults_always();
    plan.page_alloc.min_order = 0;
    plan.page_alloc.ignore_gfp_wait = false;
    plan
}

/// Runs `n` allocations of `(gfp, order)` and returns which succeeded (freeing each).
fn outcomes(plan: FaultPlan, calls: Vec<(Gfp, u32)>) -> Vec<bool> {
    let (o, v) = run_std(Config::modern().faults(plan), move |p| {
        for &(gfp, order) in &calls {
            let page = alloc_pages(gfp, order);
            p.push(page.is_some());
            if let Some(page) = page {
                __free_pages(page, order);
            }
        }
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    v
}

#[test]
fn fault_inject_kernel_defaults_never_fail_brd_allocations() {
    let got = outcomes(
        defaults_always(),
        vec![
            (GFP_NOIO, 0),
            (GFP_NOIO | __GFP_ZERO, 0),
            (GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM, 0),
            (GFP_NOIO, 1),                   // sleepable: ignore-gfp-wait
            (GFP_ATOMIC, 0),                 // order 0 < min-order 1
            (GFP_ATOMIC | __GFP_HIGHMEM, 1), // ignore-gfp-highmem
            (GFP_ATOMIC | __GFP_NOFAIL, 1),  // never __GFP_NOFAIL
            (GFP_ATOMIC, 1),                 // eligible: fails
        ],
    );
    assert_eq!(got, [true, true, true, true, true, true, true, false]);
}

#[test]
fn fault_inject_min_order_0_without_ignore_gfp_wait_fails_noio() {
    let got = outcomes(eligible_always(), vec![(GFP_NOIO, 0), (GFP_NOIO | __GFP_ZERO, 0), (GFP_KERNEL, 0)]);
    assert_eq!(got, [false, false, false]);
}

#[test]
fn fault_inject_interval_fails_every_nth_eligible_call() {
    let mut plan = eligible_always();
    plan.page_alloc.attr.interval = 3;
    let got = outcomes(plan, vec![(GFP_NOIO, 0); 9]);
    assert_eq!(got, [true, true, false, true, true, false, true, true, false]);
}

#[test]
fn fault_inject_times_limits_the_failures() {
    let mut plan = eligible_always();
    plan.page_alloc.attr.times = 2;
    let got = outcomes(plan, vec![(GFP_NOIO, 0); 5]);
    assert_eq!(got, [false, false, true, true, true]);
}

#[test]
fn fault_inject_space_suppresses_until_the_budget_is_used() {
    // `if (space > size) { space -= size; return false; }` with size = 1 << order:
    // space 3: 3 > 1 -> 2 (ok), 2 > 1 -> 1 (ok), 1 > 1 is false -> fail from then on.
    let mut plan = eligible_always();
    plan.page_alloc.attr.space = 3;
    assert_eq!(outcomes(plan.clone(), vec![(GFP_NOIO, 0); 4]), [true, true, false, false]);
    // Order-1 requests count 2 each: 5 > 2 -> 3 (ok), 3 > 2 -> 1 (ok), 1 > 2 false -> fail.
    plan.page_alloc.attr.space = 5;
    assert_eq!(outcomes(plan, vec![(GFP_NOIO, 1); 3]), [true, true, false]);
}

#[test]
fn fault_inject_fail_nth_fails_exactly_the_nth_eligible_call() {
    let got = outcomes(
        FaultPlan::fail_nth(3),
        vec![
            (GFP_NOIO, 0),
            (GFP_NOIO | __GFP_NOFAIL, 0), // not eligible: not counted
            (GFP_ATOMIC, 0),
            (GFP_NOIO | __GFP_HIGHMEM, 0), // the 3rd eligible call
            (GFP_NOIO, 0),
            (GFP_KERNEL, 2),
        ],
    );
    assert_eq!(got, [true, true, true, false, true, true]);
    // Every n gives exactly one failure, at the n-th call.
    for n in 1..=4 {
        let got = outcomes(FaultPlan::fail_nth(n), vec![(GFP_NOIO, 0); 4]);
        let want: Vec<bool> = (1..=4).map(|i| i != n).collect();
        assert_eq!(got, want, "fail_nth({n})");
    }
}

#[test]
fn fault_inject_fail_nth_counts_slab_and_page_calls_together() {
    let (o, v) = run_std(Config::modern().faults(FaultPlan::fail_nth(2)), |p| {
        let cache = kmem_cache_create("radix_tree_node", 576, 0, SlabFlags::default()).expect("cache");
        let a = kmem_cache_alloc(&cache, GFP_NOIO);
        p.push(a.is_some());
        let page = alloc_page(GFP_NOIO);
        p.push(page.is_some());
        let b = kmem_cache_alloc(&cache, GFP_NOIO);
        p.push(b.is_some());
        for obj in a.into_iter().chain(b) {
            kmem_cache_free(&cache, obj);
        }
        kmem_cache_destroy(cache);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [true, false, true]);
    let mem = o.trace.allocations();
    assert!(mem.contains("alloc_page: GFP_NOIO order=0 FAILED (fault injection) in main"), "{mem}");
    assert!(mem.contains("fault_inject: FAULT_INJECTION: forcing a failure."), "{mem}");
}

#[test]
fn fault_inject_ignore_gfp_highmem_default_skips_highmem_allocations() {
    let calls = vec![(GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM, 0), (GFP_NOIO | __GFP_ZERO, 0)];
    assert_eq!(outcomes(eligible_always(), calls.clone()), [true, false]);
    let mut plan = eligible_always();
    plan.page_alloc.ignore_gfp_highmem = false;
    assert_eq!(outcomes(plan, calls), [false, false]);
}

#[test]
fn fault_inject_probability_is_deterministic_per_run() {
    let mut plan = eligible_always();
    plan.page_alloc.attr.probability = 50;
    let first = outcomes(plan.clone(), vec![(GFP_NOIO, 0); 64]);
    let second = outcomes(plan, vec![(GFP_NOIO, 0); 64]);
    assert_eq!(first, second, "the same seed rolls the same failures");
    let failures = first.iter().filter(|ok| !**ok).count();
    assert!((8..=56).contains(&failures), "about half of 64 fail, got {failures}");
}

#[test]
fn fault_inject_verbose_0_injects_silently() {
    let mut plan = eligible_always();
    plan.page_alloc.attr.verbose = 0;
    let (o, v) = run_std(Config::modern().faults(plan), |p| p.push(alloc_page(GFP_NOIO).is_none()));
    assert_eq!(v, [true]);
    let names: Vec<&str> = o.trace.of(Cat::Mem).map(|e| e.name).collect();
    assert_eq!(names, ["alloc_page"], "no FAULT_INJECTION line with verbose=0");
}

/// A cache like the radix tree's node cache, for direct allocations.
fn node_cache() -> ksim::mm::slab::KmemCache {
    kmem_cache_create("radix_tree_node", 576, 0, SlabFlags::default()).expect("cache")
}

#[test]
fn failslab_fails_radix_tree_preload_with_preemption_enabled() {
    let mut plan = FaultPlan::default();
    plan.slab.attr.probability = 100;
    plan.slab.attr.times = -1;
    plan.slab.ignore_gfp_wait = false;
    let (o, v) = run_std(Config::modern().faults(plan), |p| {
        p.push(format!("{:?}", radix_tree_preload(GFP_NOIO)));
        p.push(preempt_count().to_string());
        p.push(format!("{:?}", kmem_cache_alloc(&node_cache(), GFP_NOIO)));
        // Page allocations are a different capability: unaffected.
        let page = alloc_page(GFP_NOIO).unwrap();
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Err(ENOMEM)", "0", "None"]);
    let mem = o.trace.allocations();
    assert!(mem.contains("kmem_cache_alloc: radix_tree_node GFP_NOIO FAILED (fault injection)"), "{mem}");
    assert!(mem.contains("radix_tree_preload: pool 0 -> 0: -ENOMEM"), "{mem}");
}

#[test]
fn failslab_default_ignores_sleepable_but_fails_atomic_node_allocations() {
    let mut plan = FaultPlan::default();
    plan.slab.attr.probability = 100;
    plan.slab.attr.times = -1;
    let (o, v) = run_std(Config::modern().faults(plan), |p| {
        // Sleepable preload: ignore-gfp-wait=Y, the pool fills.
        p.push(format!("{:?}", radix_tree_preload(GFP_NOIO)));
        radix_tree_preload_end();
        // A GFP_ATOMIC root outside a preload section still draws on the task's full pool...
        let root = RadixTreeRoot::new(GFP_ATOMIC);
        p.push(format!("{:?}", root.insert(0, 1u32)));
        // ...while a direct GFP_ATOMIC slab allocation is eligible and fails.
        p.push(format!("{:?}", kmem_cache_alloc(&node_cache(), GFP_ATOMIC)));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Ok(())", "Ok(())", "None"]);
}

#[test]
fn failslab_atomic_root_insert_without_preload_returns_enomem() {
    let mut plan = FaultPlan::default();
    plan.slab.attr.probability = 100;
    plan.slab.attr.times = -1;
    let (o, v) = run_std(Config::modern().faults(plan), |p| {
        let root = RadixTreeRoot::new(GFP_ATOMIC);
        p.push(format!("{:?}", root.insert(5, 1u32)));
        p.push(format!("{}", root.len()));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Err(ENOMEM)", "0"]);
}
