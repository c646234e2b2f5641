//! brd v4.0 allocation failures (facts §1.3, §1.6, §1.7, §5.2; checklist 11, 17, 18): the
//! two-page split without rollback, partial bios, a failed preload freeing its page, and the
//! reclaim-recursion mutation (`GFP_KERNEL` instead of `GFP_NOIO`).
//!
//! Which allocation to fail is computed, not guessed: a fault-free run of the same body lists
//! every call that reaches `should_fail()` (with `FaultPlan::fail_nth` every page and slab
//! allocation does), and the test picks the one it wants from that list.
#![forbid(unsafe_code)]

mod v4_common;

use ksim::blk::{submit_bio, ReqOp};
use ksim::errno::Errno;
use ksim::fault_inject::FaultPlan;
use ksim::gfp::GFP_KERNEL;
use ksim::mm::{nr_allocated_pages, PAGE_SIZE};
use ksim::{Config, Outcome, Trace, Violation};
use ksim_drivers::brd_v4_0::{brd_exit, brd_init, Params};
use v4_common::*;

fn small() -> Params {
    Params { rd_nr: 1, rd_size: 64, dax: true, ..Params::default() }
}

/// The calls that reach `should_fail()` under a fail-nth plan, in order (1-based index = n).
fn fault_calls(trace: &Trace) -> Vec<String> {
    trace
        .events
        .iter()
        .filter(|e| ["alloc_page", "alloc_pages", "kmem_cache_alloc"].contains(&e.name))
        .map(|e| format!("{}: {}", e.name, e.detail))
        .collect()
}

/// n of the `k`-th (0-based) call matching `pred`.
fn nth_matching(trace: &Trace, k: usize, pred: impl Fn(&str) -> bool) -> u64 {
    let calls = fault_calls(trace);
    let i = calls.iter().enumerate().filter(|(_, c)| pred(c)).nth(k).map(|(i, _)| i);
    i.unwrap_or_else(|| panic!("no such call in {calls:#?}")) as u64 + 1
}

fn failed_lines(o: &Outcome) -> Vec<String> {
    o.trace()
        .allocations()
        .lines()
        .filter(|l| l.contains("FAILED (fault injection)"))
        .map(str::to_string)
        .collect()
}

/// One bvec of 1 KiB at sector 7: brd pages 0 and 1.
fn straddling_write() -> (Result<(), Errno>, usize, Vec<u8>, u64) {
    let brd = brd_init(small()).unwrap();
    let bdev = brd.open(0).unwrap();
    let (mut bio, pages) = make_bio(ReqOp::Write, 7, &[(1024, 0)], Some(&pattern(1024, 1)));
    let r = submit_bio(&bdev, &mut bio);
    free_pages(pages);
    let nr = brd.nr_pages(0);
    let back = read_bytes(&bdev, 0, 2 * PAGE_SIZE).unwrap();
    drop(bdev);
    brd_exit(brd);
    (r, nr, back, nr_allocated_pages())
}

#[test]
fn brd_v4_0_failed_second_page_insert_keeps_the_first_page_and_copies_nothing() {
    let (clean, (r, nr, back, _)) = run_clean(Config::v4_0(), straddling_write);
    assert_eq!((r, nr), (Ok(()), 2));
    assert_eq!(&back[7 * 512..9 * 512], &pattern(1024, 1)[..]);
    // The second brd_insert_page allocation of the bio is brd page 1.
    let n = nth_matching(clean.trace(), 1, |c| c.starts_with("alloc_page") && c.contains("brd_insert_page"));

    let (o, (r, nr, back, left)) = run_clean(Config::v4_0().faults(FaultPlan::fail_nth(n)), straddling_write);
    assert_eq!(r, Err(Errno::ENOSPC));
    // No rollback: page 0 stays allocated (zeroed, nothing copied); page 1 is absent.
    assert_eq!(nr, 1);
    assert_eq!(back, vec![0u8; 2 * PAGE_SIZE]);
    assert_eq!(left, 0, "brd_exit freed the orphaned first page");
    let failed = failed_lines(&o);
    assert_eq!(failed.len(), 1, "{}", o.trace().allocations());
    assert!(failed[0].contains("alloc_page: GFP_NOIO|__GFP_ZERO order=0 FAILED (fault injection)"));
    assert!(failed[0]
        .ends_with("in brd_insert_page<-copy_to_brd_setup<-brd_do_bvec<-brd_make_request<-submit_bio"));
    assert!(o.trace().text().contains("bio_endio: \"-ENOSPC\""));
}

/// A bio of two bvecs from sector 2: 1 KiB (sectors 2-3, page 0), then 4 KiB (sectors 4-11,
/// straddling pages 0 and 1).
fn partial_bio() -> (Result<(), Errno>, usize, Vec<u8>) {
    let brd = brd_init(small()).unwrap();
    let bdev = brd.open(0).unwrap();
    let (mut bio, pages) = make_bio(ReqOp::Write, 2, &[(1024, 0), (4096, 0)], Some(&pattern(5120, 2)));
    let r = submit_bio(&bdev, &mut bio);
    free_pages(pages);
    let nr = brd.nr_pages(0);
    let back = read_bytes(&bdev, 0, 2 * PAGE_SIZE).unwrap();
    drop(bdev);
    brd_exit(brd);
    (r, nr, back)
}

#[test]
fn brd_v4_0_partial_bio_keeps_earlier_segments_and_ends_enospc() {
    let (clean, (r, nr, _)) = run_clean(Config::v4_0(), partial_bio);
    assert_eq!((r, nr), (Ok(()), 2));
    let n = nth_matching(clean.trace(), 1, |c| c.starts_with("alloc_page") && c.contains("brd_insert_page"));

    let (_, (r, nr, back)) = run_clean(Config::v4_0().faults(FaultPlan::fail_nth(n)), partial_bio);
    assert_eq!(r, Err(Errno::ENOSPC));
    assert_eq!(nr, 1);
    let data = pattern(5120, 2);
    // The first bvec was written...
    assert_eq!(&back[2 * 512..4 * 512], &data[..1024]);
    // ...the failing one copied nothing, not even its part that fits in the present page 0.
    assert_eq!(&back[..2 * 512], &[0u8; 1024][..]);
    assert_eq!(&back[4 * 512..], &vec![0u8; 2 * PAGE_SIZE - 4 * 512][..]);
}

#[test]
fn brd_v4_0_failed_preload_frees_the_new_page() {
    let body = || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        let r = write_bytes(&bdev, 0, &pattern(512, 3));
        let nr = brd.nr_pages(0);
        let live = nr_allocated_pages();
        drop(bdev);
        brd_exit(brd);
        (r, nr, live)
    };
    let (clean, (r, nr, _)) = run_clean(Config::v4_0(), body);
    assert_eq!((r, nr), (Ok(()), 1));
    // The first radix-tree node allocation of radix_tree_preload(GFP_NOIO).
    let n = nth_matching(clean.trace(), 0, |c| c.starts_with("kmem_cache_alloc: radix_tree_node"));

    let (o, (r, nr, live)) = run_clean(Config::v4_0().faults(FaultPlan::fail_nth(n)), body);
    assert_eq!(r, Err(Errno::ENOSPC));
    assert_eq!(nr, 0);
    assert_eq!(live, 0, "the page allocated before the preload was freed");
    let mem = o.trace().allocations();
    let lines: Vec<&str> = mem.lines().filter(|l| l.contains("brd_insert_page")).collect();
    assert_eq!(lines.len(), 2, "{mem}");
    assert!(lines[0].contains("alloc_page: GFP_NOIO|__GFP_ZERO order=0"));
    assert!(lines[1].contains("__free_page:"));
    // Freed with preemption enabled again (preload failure returns with preemption on).
    assert!(lines[1].contains(" ....: __free_page"), "{}", lines[1]);
    assert!(mem.contains("kmem_cache_alloc: radix_tree_node GFP_NOIO FAILED (fault injection)"));
}

#[test]
fn brd_v4_0_gfp_noio_at_the_memory_limit_fails_without_reclaim_recursion() {
    // One page of memory: the bio's buffer takes it, so brd's allocation enters direct reclaim
    // from inside the block I/O path. GFP_NOIO forbids I/O there: no recursion, the write
    // fails with -ENOSPC.
    let (o, (r, nr)) = run_clean(Config::v4_0().mem_limit(1), || {
        let brd = brd_init(small()).unwrap();
        let bdev = brd.open(0).unwrap();
        let r = write_bytes(&bdev, 0, &pattern(512, 4));
        let nr = brd.nr_pages(0);
        drop(bdev);
        brd_exit(brd);
        (r, nr)
    });
    assert_eq!((r, nr), (Err(Errno::ENOSPC), 0));
    assert!(o.trace().allocations().contains("direct_reclaim: GFP_NOIO|__GFP_ZERO"));
}

#[test]
fn brd_v4_0_gfp_kernel_mutation_is_reported_as_reclaim_recursion() {
    let params = Params { insert_gfp: Some(GFP_KERNEL), ..small() };
    let (o, _) = run_std(Config::v4_0().mem_limit(1), move || {
        let brd = brd_init(params).unwrap();
        let bdev = brd.open(0).unwrap();
        let _ = write_bytes(&bdev, 0, &pattern(512, 4));
        drop(bdev);
        brd_exit(brd);
    });
    assert_eq!(o.kinds(), vec![Violation::ReclaimRecursion]);
    let r = o.first_report().unwrap();
    assert_eq!(
        r.headline(),
        "WARNING: reclaim recursion: GFP_KERNEL|__GFP_ZERO allocation inside the block I/O path"
    );
    assert!(r.text.contains("(I/O submission entered at "), "{}", r.text);
    assert!(
        r.text.contains(
            " direct_reclaim <- brd_insert_page <- copy_to_brd_setup <- brd_do_bvec <- brd_make_request <- submit_bio"
        ),
        "{}",
        r.text
    );
}
