//! Snapshots of the allocation view of the trace (ARCHITECTURE §6) for two small scripted
//! programs: the view is stable across runs and names GFP flags by profile.
#![forbid(unsafe_code)]

use ksim::gfp::*;
use ksim::highmem::{kmap, kmap_atomic, kunmap, kunmap_atomic};
use ksim::mm::*;
use ksim::prelude::*;
use ksim::radix_tree::*;

/// Pages with different GFP flags on a highmem machine: allocate, map the highmem one, free one
/// and reuse its frame, free the rest. The last two flag sets are named differently by the two
/// profiles (4.0's `__GFP_REPEAT`; a lone direct-reclaim bit is 4.0's GFP_NOIO).
fn alloc_free_program() {
    kfn!("demo_pages");
    let a = alloc_page(GFP_KERNEL).unwrap();
    let b = alloc_page(GFP_NOIO | __GFP_ZERO).unwrap();
    let c = alloc_page(GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM).unwrap();
    let d = alloc_pages(GFP_ATOMIC | __GFP_NOWARN, 1).unwrap();
    let e = alloc_page(GFP_NOWAIT).unwrap();
    let m = kmap_atomic(c);
    kunmap_atomic(m);
    kmap(c);
    kunmap(c);
    __free_page(b);
    let f = alloc_page(GFP_NOFS).unwrap();
    let g = alloc_page(GFP_KERNEL | __GFP_RETRY_MAYFAIL).unwrap();
    let h = alloc_page(__GFP_DIRECT_RECLAIM).unwrap();
    __free_pages(d, 1);
    for p in [a, c, e, f, g, h] {
        __free_page(p);
    }
}

/// brd 4.0's insert path in miniature: allocate a page, preload, insert under a lock, delete.
fn radix_program() {
    kfn!("demo_insert_page");
    let root = RadixTreeRoot::new(GFP_ATOMIC);
    let lock = SpinLock::new((), "demo_lock");
    let page = alloc_page(GFP_NOIO | __GFP_ZERO).unwrap();
    radix_tree_preload(GFP_NOIO).unwrap();
    {
        let _g = spin_lock(&lock);
        root.insert(64, page).unwrap();
    }
    radix_tree_preload_end();
    // The pool is refilled with the two nodes the insert used.
    radix_tree_preload(GFP_NOIO).unwrap();
    radix_tree_preload_end();
    let removed = root.delete(64).unwrap();
    __free_page(removed);
}

fn allocations(config: Config, body: fn()) -> String {
    let config = config.highmem(16);
    let o = Runner::std().config(config.clone()).run(body);
    assert!(o.is_clean(), "{:#?}", o.reports);
    let again = Runner::std().config(config).run(body);
    assert_eq!(again.trace.allocations(), o.trace.allocations(), "the view is stable across runs");
    o.trace.allocations()
}

#[test]
fn trace_snapshot_alloc_free_v4_0() {
    insta::assert_snapshot!(allocations(Config::v4_0(), alloc_free_program));
}

#[test]
fn trace_snapshot_alloc_free_modern() {
    insta::assert_snapshot!(allocations(Config::modern(), alloc_free_program));
}

#[test]
fn trace_snapshot_radix_preload_insert_delete() {
    insta::assert_snapshot!(allocations(Config::v4_0(), radix_program));
}
