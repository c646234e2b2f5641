//! The XArray current brd indexes its pages with (facts §2.5, checklist 19): store, load, erase,
//! cmpxchg, and `__xas_nomem`'s lock dropping — the xarray drops its own lock around a blocking
//! node allocation, but not the caller's spinlock or RCU read lock.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use common::{assert_lines_in_order, only_report, run_lines as run, run_std};
use ksim::gfp::*;
use ksim::prelude::*;
use ksim::xarray::*;
use ksim::Cat;

const FILE: &str = file!();

/// The node allocations of a trace with the preempt_count they ran at.
fn node_allocs(o: &Outcome) -> Vec<(u32, String)> {
    o.trace
        .of(Cat::Mem)
        .filter(|e| e.name == "kmem_cache_alloc")
        .map(|e| (e.preempt_count, e.detail.clone()))
        .collect()
}

#[test]
fn xarray_store_load_erase() {
    let (o, v) = run_std(Config::modern(), |p| {
        let xa = XArray::new("brd.xa");
        p.push(format!("{:?}", xa_store(&xa, 1, 'a', GFP_KERNEL)));
        p.push(format!("{:?}", xa_store(&xa, 1, 'b', GFP_KERNEL)));
        p.push(format!("{:?}", xa_store(&xa, 300, 'c', GFP_KERNEL)));
        p.push(format!("{:?} {:?} {}", xa_load(&xa, 1), xa_load(&xa, 2), xa.len()));
        p.push(format!("{:?}", xa_find_from(&xa, 0, 10)));
        p.push(format!("{:?} {:?}", xa_erase(&xa, 1), xa_erase(&xa, 1)));
        p.push(format!("{:?} {} {}", xa_load(&xa, 1), xa.len(), xa.is_empty()));
        p.push(format!("{:?}", xa_find_from(&xa, 2, 10)));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(
        v,
        [
            "Ok(None)",
            "Ok(Some('a'))",
            "Ok(None)",
            "Some('b') None 2",
            "[(1, 'b'), (300, 'c')]",
            "Some('b') None",
            "None 1 false",
            "[(300, 'c')]",
        ]
    );
}

#[test]
fn xarray_cmpxchg_stores_only_if_old_matches_and_returns_current() {
    let (o, v) = run_std(Config::modern(), |p| {
        let xa = XArray::new("brd.xa");
        let mut g = xa_lock(&xa);
        // Empty slot, expected empty: stored.
        p.push(format!("{:?}", __xa_cmpxchg(&mut g, 7, None, Some(1u32), GFP_NOWAIT)));
        // Expected 2, holds 1: not stored.
        p.push(format!("{:?}", __xa_cmpxchg(&mut g, 7, Some(2), Some(3), GFP_NOWAIT)));
        // Expected empty, holds 1: not stored (brd's "someone else inserted first").
        p.push(format!("{:?}", __xa_cmpxchg(&mut g, 7, None, Some(4), GFP_NOWAIT)));
        // Expected 1, holds 1: replaced.
        p.push(format!("{:?}", __xa_cmpxchg(&mut g, 7, Some(1), Some(5), GFP_NOWAIT)));
        // Expected 5, new entry none: erased.
        p.push(format!("{:?}", __xa_cmpxchg(&mut g, 7, Some(5), None, GFP_NOWAIT)));
        p.push(format!("{:?}", __xa_erase(&mut g, 7)));
        p.push(format!("{:?}", __xa_store(&mut g, 8, 9, GFP_NOWAIT)));
        xa_unlock(g);
        p.push(format!("{:?} {:?}", xa_load(&xa, 7), xa_load(&xa, 8)));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(
        v,
        [
            "Ok(None)",
            "Ok(Some(1))",
            "Ok(Some(1))",
            "Ok(Some(1))",
            "Ok(Some(5))",
            "None",
            "Ok(None)",
            "None Some(9)"
        ]
    );
}

#[test]
fn xarray_cmpxchg_mismatch_allocates_nothing() {
    let (o, v) = run_std(Config::modern(), |p| {
        let xa = XArray::new("brd.xa");
        let outer = SpinLock::new((), "demo.outer");
        let o = spin_lock(&outer);
        let mut g = xa_lock(&xa);
        // The slot is empty, not 1: nothing to store, so no node and no might_sleep.
        p.push(format!("{:?}", __xa_cmpxchg(&mut g, 4096, Some(1u32), Some(2), GFP_NOIO)));
        xa_unlock(g);
        spin_unlock(o);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Ok(None)"]);
    assert_eq!(node_allocs(&o), []);
}

#[test]
fn xarray_blocking_store_under_xa_lock_drops_the_lock_for_the_allocation() {
    let (o, v) = run_std(Config::modern(), |p| {
        let xa = XArray::new("brd.xa");
        let mut g = xa_lock(&xa);
        p.push(preempt_count());
        __xa_store(&mut g, 64, 1u8, GFP_NOIO).unwrap();
        // The lock is held again afterwards.
        p.push(preempt_count());
        // Same leaf as 64: no node needed, so nothing is allocated and the lock is not dropped.
        __xa_store(&mut g, 65, 2u8, GFP_NOIO).unwrap();
        xa_unlock(g);
        p.push(preempt_count());
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [1, 1, 0]);
    // Index 64 in an empty array: a leaf and the level-2 node above it, both allocated with
    // xa_lock dropped (preempt_count 0).
    assert_eq!(
        node_allocs(&o),
        [(0, "radix_tree_node GFP_NOIO".to_string()), (0, "radix_tree_node GFP_NOIO".to_string())]
    );
    let checks: Vec<&str> = o.trace.of(Cat::Sleep).map(|e| e.detail.as_str()).collect();
    assert_eq!(checks.len(), 2);
    assert!(checks
        .iter()
        .all(|c| c.starts_with("kmem_cache_alloc(radix_tree_node, GFP_NOIO) at ") && c.ends_with(" ok")));
}

#[test]
fn xarray_blocking_store_under_a_caller_spinlock_reports() {
    let (o, lines) = run(Config::modern(), |lines| {
        kfn!("demo_insert");
        let xa = XArray::new("brd.xa");
        let outer = SpinLock::new((), "demo.outer");
        let _o = at!(lines, "outer", spin_lock(&outer));
        let mut g = xa_lock(&xa);
        at!(lines, "store", __xa_store(&mut g, 3, 'p', GFP_NOIO)).ok();
        xa_unlock(g);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "store")),
            // Only the caller's lock remains: the xarray dropped its own.
            "preempt_count: 1, expected: 0",
            "1 lock held by main/1:",
            &format!(" #0: (demo.outer){{+.+.}}, at: {}", lines.site(FILE, "outer")),
            " kmem_cache_alloc(radix_tree_node, GFP_NOIO) <- demo_insert",
        ],
    );
    assert!(!r.text.contains("brd.xa"), "the xa_lock is not held during the allocation:\n{}", r.text);
}

#[test]
fn xarray_blocking_store_under_preemptible_rcu_reports_the_nest_depth() {
    let (o, lines) = run(Config::modern().rcu(RcuFlavour::Preemptible), |lines| {
        let xa = XArray::new("brd.xa");
        rcu_read_lock();
        at!(lines, "store", xa_store(&xa, 3, 'p', GFP_NOIO)).ok();
        rcu_read_unlock();
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "store")),
            "in_atomic(): 0, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
            "preempt_count: 0, expected: 0",
            "RCU nest depth: 1, expected: 0",
            "no locks held by main/1.",
            " kmem_cache_alloc(radix_tree_node, GFP_NOIO)",
        ],
    );
}

#[test]
fn xarray_blocking_store_under_classic_rcu_reports_the_preempt_count() {
    let (o, _) = run(Config::modern(), |_| {
        let xa = XArray::new("brd.xa");
        rcu_read_lock();
        xa_store(&xa, 3, 'p', GFP_NOIO).ok();
        rcu_read_unlock();
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(&r.text, &["preempt_count: 1, expected: 0"]);
    assert!(!r.text.contains("RCU nest depth"), "{}", r.text);
}

#[test]
fn xarray_nowait_store_allocates_under_the_lock_without_report() {
    let (o, v) = run_std(Config::modern(), |p| {
        let xa = XArray::new("brd.xa");
        let outer = SpinLock::new((), "demo.outer");
        let o = spin_lock(&outer);
        let mut g = xa_lock(&xa);
        p.push(format!("{:?}", __xa_store(&mut g, 3, 'p', GFP_NOWAIT)));
        xa_unlock(g);
        spin_unlock(o);
        p.push(format!("{:?}", xa_load(&xa, 3)));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Ok(None)", "Some('p')"]);
    // Allocated with both locks held: preempt_count 2, and no might_sleep check at all.
    assert_eq!(node_allocs(&o), [(2, "radix_tree_node GFP_NOWAIT".to_string())]);
    assert_eq!(o.trace.of(Cat::Sleep).count(), 0);
}
