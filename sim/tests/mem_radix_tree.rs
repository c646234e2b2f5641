//! The 4.0 radix tree brd indexes its pages with (facts §1.4, checklist 1): preload semantics
//! (preemption off until `radix_tree_preload_end`, no allocation and no `might_sleep` when the
//! pool is full), inserts drawing on the pool for a non-blocking root, lookups, and the node
//! accounting of a 64-way tree.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use common::{assert_lines_in_order, only_report, profiles, run_std, Lines};
use ksim::gfp::*;
use ksim::prelude::*;
use ksim::radix_tree::*;
use ksim::Cat;

const FILE: &str = file!();

/// `kmem_cache_alloc` events in a trace (one per node allocated).
fn node_allocs(o: &Outcome) -> usize {
    o.trace.of(Cat::Mem).filter(|e| e.name == "kmem_cache_alloc").count()
}

#[test]
fn radix_tree_preload_disables_preemption_until_preload_end() {
    for config in profiles() {
        let (o, v) = run_std(config, |p| {
            p.push(format!("{:?}", radix_tree_preload(GFP_NOIO)));
            p.push(preempt_count().to_string());
            radix_tree_preload_end();
            p.push(preempt_count().to_string());
        });
        assert!(o.is_clean(), "{:#?}", o.reports);
        assert_eq!(v, ["Ok(())", "1", "0"]);
        assert_eq!(node_allocs(&o), RADIX_TREE_PRELOAD_SIZE as usize);
        assert!(o.trace.allocations().contains("radix_tree_preload: GFP_NOIO pool 0 -> 21"));
    }
}

#[test]
fn radix_tree_preload_with_a_full_pool_neither_allocates_nor_sleeps() {
    let (o, v) = run_std(Config::modern(), |p| {
        radix_tree_preload(GFP_NOIO).unwrap();
        radix_tree_preload_end();
        let lock = SpinLock::new((), "brd_lock");
        let g = spin_lock(&lock);
        // The pool is full: no allocation, so no might_sleep under the spinlock.
        p.push(format!("{:?}", radix_tree_preload(GFP_NOIO)));
        p.push(preempt_count().to_string());
        radix_tree_preload_end();
        spin_unlock(g);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Ok(())", "2"]);
    assert_eq!(node_allocs(&o), 21, "only the first preload allocated");
    let checks: Vec<&str> = o.trace.of(Cat::Sleep).map(|e| e.detail.as_str()).collect();
    assert_eq!(checks.len(), 21);
    assert!(checks.iter().all(|c| c.ends_with(" ok")));
    assert!(o.trace.allocations().contains("radix_tree_preload: GFP_NOIO pool 21 -> 21"));
}

#[test]
fn radix_tree_first_preload_under_a_spinlock_reports() {
    let lines = Lines::new();
    let l = lines.clone();
    let o = Runner::std().run(move || {
        kfn!("brd_insert_page");
        let lock = SpinLock::new((), "brd_lock");
        let _g = spin_lock(&lock);
        at!(l, "preload", radix_tree_preload(GFP_NOIO)).ok();
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "preload")),
            // The preload re-enables preemption around each node allocation: only the lock counts.
            "preempt_count: 1, expected: 0",
            "Call trace (simulated):",
            " kmem_cache_alloc(radix_tree_node, GFP_NOIO) <- brd_insert_page",
        ],
    );
}

#[test]
fn radix_tree_insert_into_an_occupied_slot_is_eexist() {
    let (o, v) = run_std(Config::modern(), |p| {
        let root = RadixTreeRoot::new(GFP_ATOMIC);
        radix_tree_preload(GFP_NOIO).unwrap();
        p.push(format!("{:?}", root.insert(3, 'a')));
        p.push(format!("{:?}", root.insert(3, 'b')));
        radix_tree_preload_end();
        p.push(format!("{:?}", root.lookup(3)));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Ok(())", "Err(EEXIST)", "Some('a')"]);
}

#[test]
fn radix_tree_atomic_root_insert_consumes_preloaded_nodes() {
    let (o, v) = run_std(Config::modern(), |p| {
        let root = RadixTreeRoot::new(GFP_ATOMIC);
        radix_tree_preload(GFP_NOIO).unwrap();
        // Index 0: one leaf node. Index 64: a second leaf and the level-2 node above both.
        root.insert(0, 'x').unwrap();
        root.insert(64, 'y').unwrap();
        radix_tree_preload_end();
        p.push(root.nodes());
        // Refilling takes exactly the three nodes the inserts consumed.
        radix_tree_preload(GFP_NOIO).unwrap();
        radix_tree_preload_end();
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [3]);
    assert_eq!(node_allocs(&o), 21 + 3, "the inserts themselves allocated nothing");
    assert!(o.trace.allocations().contains("radix_tree_preload: GFP_NOIO pool 18 -> 21"));
}

#[test]
fn radix_tree_blocking_root_insert_allocates_with_the_root_gfp() {
    let (o, v) = run_std(Config::modern(), |p| {
        let root = RadixTreeRoot::new(GFP_KERNEL);
        p.push(format!("{:?}", root.insert(64, 1u8)));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Ok(())"]);
    let allocs: Vec<&str> =
        o.trace.of(Cat::Mem).filter(|e| e.name == "kmem_cache_alloc").map(|e| e.detail.as_str()).collect();
    assert_eq!(allocs, ["radix_tree_node GFP_KERNEL", "radix_tree_node GFP_KERNEL"]);
}

#[test]
fn radix_tree_lookup_delete_and_gang_lookup() {
    let (o, v) = run_std(Config::modern(), |p| {
        let root = RadixTreeRoot::new(GFP_KERNEL);
        for i in [5u64, 1, 200, 64, 7] {
            root.insert(i, i * 10).unwrap();
        }
        p.push(format!("{:?}", root.lookup(200)));
        p.push(format!("{:?}", root.lookup(6)));
        p.push(format!("{:?}", root.gang_lookup(0, 10)));
        p.push(format!("{:?}", root.gang_lookup(6, 2)));
        p.push(format!("{:?}", root.gang_lookup(201, 4)));
        p.push(format!("{:?}", root.delete(64)));
        p.push(format!("{:?}", root.delete(64)));
        p.push(format!("{:?} {} {}", root.lookup(64), root.len(), root.is_empty()));
        p.push(format!("{:?}", root.gang_lookup(2, 10)));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(
        v,
        [
            "Some(2000)",
            "None",
            "[(1, 10), (5, 50), (7, 70), (64, 640), (200, 2000)]",
            "[(7, 70), (64, 640)]",
            "[]",
            "Some(640)",
            "None",
            "None 4 false",
            "[(5, 50), (7, 70), (200, 2000)]",
        ]
    );
}

/// Interior nodes after inserting `insert` into an empty tree and then deleting `delete`.
fn nodes_after(insert: &'static [u64], delete: &'static [u64]) -> usize {
    let (o, v) = run_std(Config::modern(), move |p| {
        let root = RadixTreeRoot::new(GFP_KERNEL);
        for &i in insert {
            root.insert(i, ()).unwrap();
        }
        for &i in delete {
            root.delete(i).unwrap();
        }
        p.push(root.nodes());
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    v[0]
}

#[test]
fn radix_tree_node_accounting_of_a_64_way_tree() {
    // 64 slots per node: a leaf (level 1) covers indices i >> 6, a level-2 node i >> 12, a
    // level-3 node i >> 18; the tree is as tall as the largest index needs (64^h > index).
    // (ksim gives a lone index 0 a leaf node; the kernel would keep it in the root slot.)
    //
    // {0}: one leaf.
    assert_eq!(nodes_after(&[0], &[]), 1);
    // {0, 63}: the same leaf.
    assert_eq!(nodes_after(&[0, 63], &[]), 1);
    // {0, 64}: height 2 — leaves 0 and 1 (64 >> 6) plus one level-2 node above both = 3.
    assert_eq!(nodes_after(&[0, 64], &[]), 3);
    // {64}: height 2 — leaf 1 and the level-2 node = 2.
    assert_eq!(nodes_after(&[64], &[]), 2);
    // {0..128}: leaves 0 and 1, one level-2 node = 3.
    const ZERO_TO_127: [u64; 128] = {
        let mut a = [0u64; 128];
        let mut i = 0;
        while i < 128 {
            a[i] = i as u64;
            i += 1;
        }
        a
    };
    assert_eq!(nodes_after(&ZERO_TO_127, &[]), 3);
    // {0, 4096}: height 3 (4096 = 64^2) — leaves 0 and 64 (4096 >> 6), level-2 nodes 0 and 1
    // (4096 >> 12), one level-3 node = 5.
    assert_eq!(nodes_after(&[0, 4096], &[]), 5);
    // {0, 4096, 4097, 8191}: leaves 0, 64, 127; level-2 nodes 0, 1; level-3 node = 6.
    assert_eq!(nodes_after(&[0, 4096, 4097, 8191], &[]), 6);
}

#[test]
fn radix_tree_node_accounting_after_deletes() {
    // {0, 64} - {0}: leaf 0 goes; the top node still has a child in slot 1, so the tree keeps
    // height 2: leaf 1 + level-2 node = 2.
    assert_eq!(nodes_after(&[0, 64], &[0]), 2);
    // {63, 64} - {64}: leaf 1 goes; the top node's only child is in slot 0, so
    // radix_tree_shrink() drops a level: leaf 0 alone = 1.
    assert_eq!(nodes_after(&[63, 64], &[64]), 1);
    // {0, 4096} - {4096}: leaves 64, level-2 node 1 go, then two levels shrink: leaf 0 = 1.
    assert_eq!(nodes_after(&[0, 4096], &[4096]), 1);
    // Everything deleted: no nodes.
    assert_eq!(nodes_after(&[0, 64, 4096], &[4096, 0, 64]), 0);
}

#[test]
fn radix_tree_regrows_after_a_shrink() {
    let (o, v) = run_std(Config::modern(), |p| {
        let root = RadixTreeRoot::new(GFP_ATOMIC);
        radix_tree_preload(GFP_NOIO).unwrap();
        root.insert(63, ()).unwrap();
        root.insert(64, ()).unwrap();
        root.delete(64).unwrap();
        p.push(root.nodes());
        // Height 1 again: 64 needs a new leaf and a new level-2 node.
        root.insert(64, ()).unwrap();
        p.push(root.nodes());
        radix_tree_preload_end();
        radix_tree_preload(GFP_NOIO).unwrap();
        radix_tree_preload_end();
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [1, 3]);
    // 1 + 2 nodes for the first inserts, 2 again after the shrink: 5 to refill.
    assert!(o.trace.allocations().contains("radix_tree_preload: GFP_NOIO pool 16 -> 21"));
}

#[test]
fn radix_tree_maybe_preload_nowait_only_disables_preemption() {
    let (o, v) = run_std(Config::modern(), |p| {
        let lock = SpinLock::new((), "brd_lock");
        let g = spin_lock(&lock);
        p.push(format!("{:?}", radix_tree_maybe_preload(GFP_NOWAIT)));
        p.push(preempt_count().to_string());
        radix_tree_preload_end();
        p.push(preempt_count().to_string());
        spin_unlock(g);
        // A blocking GFP preloads for real.
        p.push(format!("{:?}", radix_tree_maybe_preload(GFP_NOIO)));
        radix_tree_preload_end();
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Ok(())", "2", "1", "Ok(())"]);
    assert_eq!(node_allocs(&o), 21, "only the blocking maybe_preload allocated");
}
