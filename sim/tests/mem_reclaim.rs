//! Reclaim recursion (ARCHITECTURE §5, facts §4.4-4.5, checklist 16 and 18): an allocation that
//! may do I/O from inside the block I/O path reclaims into the block layer again — why brd
//! allocates with GFP_NOIO. Scopes (`memalloc_noio_save`) clear IO|FS but keep the allocation
//! blocking.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use common::{assert_lines_in_order, only_report, run_std, Lines};
use ksim::gfp::*;
use ksim::mm::reclaim::io_path_enter;
use ksim::mm::*;
use ksim::prelude::*;
use ksim::sched_mm::{
    current_gfp_context_of, memalloc_nofs_restore, memalloc_nofs_save, memalloc_noio_restore,
    memalloc_noio_save,
};
use ksim::Cat;

const FILE: &str = file!();

/// The memory limit is reached by one page the body keeps until it returns.
fn at_limit() -> Config {
    Config::modern().mem_limit(1)
}

#[test]
fn reclaim_gfp_kernel_inside_the_io_path_reports_recursion() {
    let lines = Lines::new();
    let l = lines.clone();
    let o = Runner::std().config(at_limit()).run(move || {
        kfn!("demo_make_request");
        let _full = alloc_page(GFP_KERNEL).unwrap();
        let _io = at!(l, "io", io_path_enter("submit_bio"));
        at!(l, "alloc", alloc_page(GFP_KERNEL));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::ReclaimRecursion);
    let (io, alloc) = (lines.site(FILE, "io"), lines.site(FILE, "alloc"));
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: reclaim recursion: GFP_KERNEL allocation inside the block I/O path",
            &format!(
                "main/1 allocates at {alloc} with GFP_KERNEL (effective GFP_KERNEL) while submitting I/O"
            ),
            &format!("(I/O submission entered at {io} submit_bio)"),
            "allocate with GFP_NOIO, or inside memalloc_noio_save()/memalloc_noio_restore().",
            "Call trace (simulated):",
            " direct_reclaim <- demo_make_request",
        ],
    );
}

#[test]
fn reclaim_gfp_kernel_inside_the_io_path_reports_in_v4_0_too() {
    let o = Runner::std().config(Config::v4_0().mem_limit(1)).run(|| {
        let _full = alloc_page(GFP_KERNEL).unwrap();
        let _io = io_path_enter("generic_make_request");
        alloc_page(GFP_NOFS | __GFP_ZERO);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::ReclaimRecursion);
    assert_eq!(
        r.headline(),
        "WARNING: reclaim recursion: GFP_NOFS|__GFP_ZERO allocation inside the block I/O path"
    );
}

#[test]
fn reclaim_gfp_noio_inside_the_io_path_does_not_report() {
    let (o, v) = run_std(at_limit(), |p| {
        let full = alloc_page(GFP_KERNEL).unwrap();
        {
            let _io = io_path_enter("submit_bio");
            // Reclaim runs (and finds nothing to free), but cannot recurse into I/O.
            p.push(alloc_page(GFP_NOIO | __GFP_ZERO).is_none());
        }
        __free_page(full);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [true]);
    let reclaims: Vec<&str> =
        o.trace.of(Cat::Mem).filter(|e| e.name == "direct_reclaim").map(|e| e.detail.as_str()).collect();
    assert_eq!(reclaims, ["GFP_NOIO|__GFP_ZERO (effective GFP_NOIO|__GFP_ZERO) 0 shrinker(s)"]);
}

#[test]
fn reclaim_gfp_kernel_in_a_noio_scope_inside_the_io_path_does_not_report() {
    let (o, v) = run_std(at_limit(), |p| {
        let full = alloc_page(GFP_KERNEL).unwrap();
        {
            let _io = io_path_enter("submit_bio");
            let flags = memalloc_noio_save();
            p.push(current_gfp_context_of(GFP_KERNEL).display(Profile::Modern));
            p.push(format!("{:#x}", current_gfp_context_of(GFP_KERNEL | __GFP_ZERO).value(Profile::Modern)));
            p.push(alloc_page(GFP_KERNEL).is_none().to_string());
            memalloc_noio_restore(flags);
            p.push(current_gfp_context_of(GFP_KERNEL).display(Profile::Modern));
        }
        __free_page(full);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    // GFP_KERNEL 0xcc0 without __GFP_IO (0x40) and __GFP_FS (0x80) is GFP_NOIO 0xc00.
    assert_eq!(v, ["GFP_NOIO", "0xd00", "true", "GFP_KERNEL"]);
    let reclaims: Vec<&str> =
        o.trace.of(Cat::Mem).filter(|e| e.name == "direct_reclaim").map(|e| e.detail.as_str()).collect();
    assert_eq!(reclaims, ["GFP_KERNEL (effective GFP_NOIO) 0 shrinker(s)"]);
}

#[test]
fn reclaim_nofs_scope_clears_only_fs_and_scopes_nest() {
    let (o, v) = run_std(Config::modern(), |p| {
        let nofs = memalloc_nofs_save();
        p.push(current_gfp_context_of(GFP_KERNEL));
        let noio = memalloc_noio_save();
        p.push(current_gfp_context_of(GFP_KERNEL));
        memalloc_noio_restore(noio);
        p.push(current_gfp_context_of(GFP_KERNEL));
        memalloc_nofs_restore(nofs);
        p.push(current_gfp_context_of(GFP_KERNEL));
        // A nested save returns "already set", so its restore leaves the scope on.
        let outer = memalloc_noio_save();
        let inner = memalloc_noio_save();
        memalloc_noio_restore(inner);
        p.push(current_gfp_context_of(GFP_KERNEL));
        memalloc_noio_restore(outer);
        p.push(current_gfp_context_of(GFP_ATOMIC));
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [GFP_NOFS, GFP_NOIO, GFP_NOFS, GFP_KERNEL, GFP_NOIO, GFP_ATOMIC]);
}

#[test]
fn reclaim_noio_scope_does_not_make_an_allocation_non_blocking() {
    let lines = Lines::new();
    let l = lines.clone();
    let o = Runner::std().run(move || {
        let _flags = memalloc_noio_save();
        let lock = SpinLock::new((), "scope.lock");
        let _g = spin_lock(&lock);
        at!(l, "alloc", alloc_page(GFP_KERNEL));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "alloc")),
            "preempt_count: 1, expected: 0",
            " alloc_page(GFP_KERNEL)",
        ],
    );
}

#[test]
fn reclaim_gfp_kernel_outside_the_io_path_does_not_report() {
    let (o, v) = run_std(at_limit(), |p| {
        let full = alloc_page(GFP_KERNEL).unwrap();
        p.push(alloc_page(GFP_KERNEL).is_none());
        {
            // The I/O path guard restores the outside state when dropped.
            let _io = io_path_enter("submit_bio");
        }
        p.push(alloc_page(GFP_KERNEL | __GFP_ZERO).is_none());
        __free_page(full);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [true, true]);
    assert_eq!(o.trace.of(Cat::Mem).filter(|e| e.name == "direct_reclaim").count(), 2);
}

#[test]
fn reclaim_gfp_kernel_in_the_io_path_with_memory_free_does_not_report() {
    // No pressure, no reclaim: the recursion is only possible when reclaim runs.
    let (o, v) = run_std(Config::modern(), |p| {
        let _io = io_path_enter("submit_bio");
        let page = alloc_page(GFP_KERNEL).unwrap();
        p.push(page.pfn());
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [0x1000]);
}
