//! brd v6.1 (radix tree, REQ_NOWAIT backports, no discard/DAX/BLKFLSBUF): data path, allocation
//! context, memory pressure, the block layer's generic paths, the insert race, teardown.
//!
//! Every body runs in a simulated kernel (`ksim::Runner`); data is checked against a shadow
//! copy of the device, allocation behaviour against the run's trace.
#![forbid(unsafe_code)]

use ksim::blk::{
    bdev_read_page, bdev_write_page, blkdev_ioctl, submit_bio, Bio, Caps, ReqOp, Sector, BLKFLSBUF,
};
use ksim::errno::Errno;
use ksim::gfp::GFP_KERNEL;
use ksim::highmem::memcpy_from_page;
use ksim::mm::{__free_page, alloc_page, nr_allocated_pages, PAGE_SIZE};
use ksim::prelude::*;
use ksim::Cat;
use ksim_drivers::brd_v6_1::{brd_exit, brd_init, Params, RAMDISK_MAJOR};

mod brd_common;
use brd_common::*;

const DRIVER_SRC: &str = include_str!("../src/brd_v6_1.rs");
const DRIVER_FILE: &str = "driver/src/brd_v6_1.rs";
const TEST_FILE: &str = file!();

// ---------------------------------------------------------------------------------------------
// Helpers

/// One 64 KiB device (16 brd pages).
fn small() -> Params {
    Params { rd_nr: 1, rd_size: 64, ..Params::default() }
}

/// 1-based line of the first line of the driver containing `needle`.
fn driver_line(needle: &str) -> usize {
    DRIVER_SRC.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not in driver"))
        + 1
}

// ---------------------------------------------------------------------------------------------
// Module load and the device geometry
#[test]
fn brd_init_creates_default_devices_with_kernel_geometry() {
    let probe = Probe::new();
    let p = probe.clone();
    let o = Runner::std().run(move || {
        let brd = brd_init(Params::default()).expect("load");
        for i in 0..brd.nr_devices() {
            let d = brd.disk(i).expect("disk");
            p.push((d.name.clone(), d.major, d.first_minor, d.capacity, brd.nr_pages(i)));
        }
        assert_eq!(brd.open(16).err(), Some(Errno::ENXIO), "no ram16 by default");
        brd_exit(brd);
    });
    assert_clean(&o);
    let want: Vec<_> = (0..16u32).map(|i| (format!("ram{i}"), RAMDISK_MAJOR, i, 4096 * 2, 0)).collect();
    assert_eq!(probe.values(), want);
}

#[test]
fn brd_init_normalises_max_part_like_brd_check_and_reset_par() {
    let probe = Probe::new();
    let p = probe.clone();
    let o = Runner::std().run(move || {
        for max_part in [0, 1, 3, 16, 1000] {
            let brd = brd_init(Params { rd_nr: 2, rd_size: 8, max_part, ..Params::default() }).expect("load");
            p.push((max_part, brd.params().max_part, brd.disk(1).expect("ram1").first_minor));
            brd_exit(brd);
        }
    });
    assert_clean(&o);
    // 0 -> 1; 3 does not divide 1 << 20 -> 1 << fls(3) = 4; 1000 -> 1024 -> clamped to 256.
    assert_eq!(probe.values(), [(0, 1, 1), (1, 1, 1), (3, 4, 4), (16, 16, 16), (1000, 256, 256)]);
}

// ---------------------------------------------------------------------------------------------
// Data path

#[test]
fn brd_write_read_round_trips_aligned_unaligned_and_straddling_segments() {
    let probe = Probe::new();
    let p = probe.clone();
    let o = Runner::std().run(move || {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        let mut shadow = vec![0u8; 64 * 1024];
        let mut touched = std::collections::BTreeSet::new();
        // (sector, segments): aligned page; sub-page at an odd sector; a 4 KiB segment that
        // straddles brd pages 1/2; a multi-segment bio with segments at odd buffer offsets
        // straddling pages 3/4 and 4/5.
        let writes: [(Sector, Vec<(u32, u32)>); 4] = [
            (0, vec![(0, 4096)]),
            (9, vec![(512, 1024)]),
            (13, vec![(0, 4096)]),
            (31, vec![(1536, 1024), (0, 4096), (3584, 512)]),
        ];
        for (n, (sector, segs)) in writes.iter().enumerate() {
            let len: u32 = segs.iter().map(|s| s.1).sum();
            let mut data = pattern(len as usize, n as u32 + 1);
            bio_io(&bdev, ReqOp::Write, *sector, segs, &mut data, false).expect("write");
            let at = (*sector * 512) as usize;
            shadow[at..at + data.len()].copy_from_slice(&data);
            for b in (at..at + data.len()).step_by(512) {
                touched.insert(b / PAGE_SIZE);
            }
        }
        // Read the first 43 sectors back in one bio of unaligned, straddling segments.
        let segs = [
            (512u32, 3584u32),
            (0, 4096),
            (1024, 2048),
            (0, 2560),
            (2048, 512),
            (0, 4096),
            (1024, 3072),
            (0, 2048),
        ];
        let total: u32 = segs.iter().map(|s| s.1).sum();
        let mut back = vec![0u8; total as usize];
        bio_io(&bdev, ReqOp::Read, 0, &segs, &mut back, false).expect("read");
        assert_eq!(back, shadow[..total as usize], "read back what was written");
        p.push((brd.nr_pages(0), touched.len() as u64));
        drop(bdev);
        brd_exit(brd);
        assert_eq!(nr_allocated_pages(), 0, "brd_exit freed every page");
    });
    assert_clean(&o);
    let [(nr_pages, touched)] = probe.values()[..] else { panic!("one probe") };
    assert_eq!(nr_pages, touched, "one brd page per distinct page written");
    assert_eq!(touched, 6);
}

#[test]
fn brd_read_of_unwritten_sectors_is_zeros_and_allocates_nothing() {
    let o = Runner::std().run(|| {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        let before = nr_allocated_pages();
        let segs = [(512u32, 3584u32), (0, 4096), (0, 4096)];
        // Pre-fill the destination with non-zero bytes: the driver must clear them.
        let mut data = pattern(11776, 9);
        let mut bio = Bio::new(ReqOp::Read, 3);
        let mut pages = Vec::new();
        for &(off, len) in &segs {
            let page = filled_page(5);
            bio.add_page(page, len, off);
            pages.push(page);
        }
        submit_bio(&bdev, &mut bio).expect("read");
        let mut at = 0;
        for (&(off, len), &page) in segs.iter().zip(&pages) {
            memcpy_from_page(&mut data[at..at + len as usize], page, off as usize);
            at += len as usize;
            __free_page(page);
        }
        assert!(data.iter().all(|&b| b == 0), "unwritten sectors read as zeros");
        assert_eq!(nr_allocated_pages(), before, "a read never allocates");
        assert_eq!(brd.nr_pages(0), 0);
        drop(bdev);
        brd_exit(brd);
    });
    assert_clean(&o);
    assert!(brd_allocs(&o.trace.events).is_empty(), "{}", o.trace.allocations());
}

#[test]
fn brd_first_write_allocates_gfp_noio_zero_highmem_outside_any_lock() {
    let o = Runner::std().config(Config::modern()).run(|| {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        // Straddles brd pages 0 and 1: copy_to_brd_setup inserts both before the copy.
        write(&bdev, 4, &pattern(4096, 1)).expect("first write");
        // Same pages again: present, nothing allocated.
        write(&bdev, 4, &pattern(4096, 2)).expect("second write");
        assert_eq!(brd.nr_pages(0), 2);
        drop(bdev);
        brd_exit(brd);
    });
    assert_clean(&o);
    let allocs = brd_allocs(&o.trace.events);
    assert_eq!(allocs.len(), 2, "{}", o.trace.allocations());
    for e in &allocs {
        assert!(
            e.detail.starts_with("GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM order=0 zone=Normal pfn="),
            "{}",
            e.detail
        );
        assert!(
            e.detail
                .ends_with(" in brd_insert_page<-copy_to_brd_setup<-brd_do_bvec<-brd_submit_bio<-submit_bio"),
            "{}",
            e.detail
        );
        // Allocation happens before brd_lock, the preload and the kmap_atomic section.
        assert_eq!(e.preempt_count, 0, "{}", e.stable_line());
    }
    let view = o.trace.allocations();
    assert!(view.contains("radix_tree_preload: GFP_NOIO pool 0 -> 21"), "{view}");
}

#[test]
fn brd_rw_page_round_trips_a_whole_page() {
    let o = Runner::std().run(|| {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        let src = filled_page(3);
        bdev_write_page(&bdev, 8, src).expect("rw_page write");
        let dst = alloc_page(GFP_KERNEL).expect("buffer");
        bdev_read_page(&bdev, 8, dst).expect("rw_page read");
        let (mut a, mut b) = (vec![0u8; PAGE_SIZE], vec![0u8; PAGE_SIZE]);
        memcpy_from_page(&mut a, src, 0);
        memcpy_from_page(&mut b, dst, 0);
        assert_eq!(a, b);
        assert_eq!(read(&bdev, 8, PAGE_SIZE).expect("bio read"), a, "rw_page and bios see one store");
        assert_eq!(brd.nr_pages(0), 1);
        __free_page(src);
        __free_page(dst);
        drop(bdev);
        brd_exit(brd);
    });
    assert_clean(&o);
}

// ---------------------------------------------------------------------------------------------
// REQ_NOWAIT, memory pressure, atomic callers

/// Memory for the device's `held` pages plus one buffer page: the device is then at the limit.
fn at_limit(held: u64) -> Config {
    Config::modern().mem_limit(held + 1)
}

#[test]
fn brd_nowait_write_under_memory_pressure_ends_with_eagain_and_never_sleeps() {
    let held = 2;
    let probe = Probe::new();
    let p = probe.clone();
    let o = Runner::std().config(at_limit(held)).run(move || {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        let buf = filled_page(1);
        for i in 0..held {
            bio_with(&bdev, ReqOp::Write, buf, i * 8, 4096, false).expect("fill");
        }
        // Issued under a spinlock, as an atomic submitter may: GFP_NOWAIT must not sleep.
        let lock = SpinLock::new((), "submitter.lock");
        let g = spin_lock(&lock);
        let r = bio_with(&bdev, ReqOp::Write, buf, held * 8, 4096, true);
        spin_unlock(g);
        p.push((r, brd.nr_pages(0), nr_allocated_pages()));
        __free_page(buf);
        drop(bdev);
        brd_exit(brd);
    });
    assert_clean(&o);
    assert_eq!(probe.values(), [(Err(Errno::EAGAIN), held, held + 1)]);
    let bio = during_bio(&o.trace.events, "NOWAIT");
    assert!(bio.iter().all(|e| e.cat != Cat::Sleep), "no might_sleep, no reclaim, no schedule");
    let failed: Vec<_> = bio.iter().filter(|e| e.name == "alloc_page").collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].detail.starts_with("GFP_NOWAIT|__GFP_ZERO|__GFP_HIGHMEM order=0 FAILED (out of memory)"),
        "{}",
        failed[0].detail
    );
    assert!(
        !bio.iter().any(|e| e.name == "direct_reclaim"),
        "a non-blocking allocation fails, it does not reclaim"
    );
}

#[test]
fn brd_nowait_write_under_spinlock_allocates_without_sleeping_when_memory_is_free() {
    let o = Runner::std().run(|| {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        let buf = filled_page(4);
        let lock = SpinLock::new((), "submitter.lock");
        let g = spin_lock(&lock);
        // Straddles two absent pages: two GFP_NOWAIT allocations, radix_tree_maybe_preload
        // without preloading, nodes from GFP_ATOMIC under brd_lock.
        let r = bio_with(&bdev, ReqOp::Write, buf, 4, 4096, true);
        spin_unlock(g);
        assert_eq!(r, Ok(()));
        assert_eq!(brd.nr_pages(0), 2);
        let mut back = vec![0u8; PAGE_SIZE];
        bio_with(&bdev, ReqOp::Read, buf, 4, 4096, false).expect("read");
        memcpy_from_page(&mut back, buf, 0);
        assert_eq!(back, pattern(PAGE_SIZE, 4));
        __free_page(buf);
        drop(bdev);
        brd_exit(brd);
    });
    assert_clean(&o);
    let bio = during_bio(&o.trace.events, "NOWAIT");
    assert!(bio.iter().all(|e| e.cat != Cat::Sleep), "GFP_NOWAIT never reaches might_sleep");
    assert!(
        !bio.iter().any(|e| e.name == "radix_tree_preload"),
        "maybe_preload does not preload for GFP_NOWAIT"
    );
    let allocs: Vec<_> = bio.iter().filter(|e| e.name == "alloc_page").collect();
    assert_eq!(allocs.len(), 2);
    assert!(allocs.iter().all(|e| e.detail.starts_with("GFP_NOWAIT|__GFP_ZERO|__GFP_HIGHMEM order=0 zone=")));
    // The radix tree's nodes come from its own GFP_ATOMIC mask, inside brd_lock (+ the
    // submitter's lock + maybe_preload's preempt_disable).
    let nodes: Vec<_> = bio.iter().filter(|e| e.name == "kmem_cache_alloc").collect();
    assert!(!nodes.is_empty());
    for e in nodes {
        assert_eq!(e.detail, "radix_tree_node GFP_ATOMIC");
        assert_eq!(e.preempt_count, 3, "{}", e.stable_line());
    }
}

#[test]
fn brd_blocking_write_under_memory_pressure_reclaims_then_fails_with_eio_keeping_earlier_segments() {
    let held = 2;
    let probe = Probe::new();
    let p = probe.clone();
    // Two buffer pages, `held` device pages, and room for exactly one more.
    let o = Runner::std().config(Config::modern().mem_limit(2 + held + 1)).run(move || {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        let (a, b) = (filled_page(1), filled_page(2));
        for i in 0..held {
            bio_with(&bdev, ReqOp::Write, a, i * 8, 4096, false).expect("fill");
        }
        // Two segments: the first takes the last free page, the second finds none.
        let mut bio = Bio::new(ReqOp::Write, held * 8);
        bio.add_page(a, 4096, 0).add_page(b, 4096, 0);
        let r = submit_bio(&bdev, &mut bio);
        let mut back = vec![0u8; PAGE_SIZE];
        bio_with(&bdev, ReqOp::Read, b, held * 8, 4096, false).expect("read the first segment back");
        memcpy_from_page(&mut back, b, 0);
        p.push((r, brd.nr_pages(0), back == pattern(PAGE_SIZE, 1)));
        // ->rw_page under the same pressure returns the setup's -ENOMEM as is.
        p.push((bdev_write_page(&bdev, (held + 2) * 8, a), brd.nr_pages(0), true));
        __free_page(a);
        __free_page(b);
        drop(bdev);
        brd_exit(brd);
    });
    assert_clean(&o);
    assert_eq!(
        probe.values(),
        [(Err(Errno::EIO), held + 1, true), (Err(Errno::ENOMEM), held + 1, true)],
        "bio_io_error for the bio, and its first segment stayed written"
    );
    let view = o.trace.allocations();
    let reclaim = "direct_reclaim: GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM (effective GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM) 0 shrinker(s)";
    assert_eq!(view.matches(reclaim).count(), 2, "{view}");
    let failed = "GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM order=0 FAILED (out of memory) in brd_insert_page";
    assert_eq!(view.matches(failed).count(), 2, "{view}");
}

#[test]
fn brd_blocking_write_under_a_spinlock_is_sleep_in_atomic() {
    let line = Probe::new();
    let l = line.clone();
    let o = Runner::std().config(Config::modern()).run(move || {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        let buf = filled_page(1);
        let lock = SpinLock::new((), "submitter.lock");
        l.push(line!() + 1);
        let g = spin_lock(&lock);
        let _ = bio_with(&bdev, ReqOp::Write, buf, 0, 4096, false);
        spin_unlock(g);
    });
    let r = o.first_report().expect("sleep in atomic");
    assert_eq!(o.kinds(), [Violation::SleepInAtomic]);
    let alloc = driver_line("alloc_page(gfp | __GFP_ZERO | __GFP_HIGHMEM)");
    let lock_line = line.values()[0];
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {DRIVER_FILE}:{alloc}"),
            "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
            "preempt_count: 1, expected: 0",
            "1 lock held by main/1:",
            &format!(" #0: (submitter.lock){{+.+.}}, at: {TEST_FILE}:{lock_line}"),
            "Call trace (simulated):",
            " alloc_page(GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM) <- brd_insert_page <- copy_to_brd_setup <- brd_do_bvec <- brd_submit_bio <- submit_bio",
        ],
    );
}

#[test]
fn brd_insert_gfp_kernel_mutant_under_pressure_is_reclaim_recursion() {
    let o = Runner::std().config(at_limit(1)).run(|| {
        let brd = brd_init(Params { insert_gfp: Some(GFP_KERNEL), ..small() }).expect("load");
        let bdev = brd.open(0).expect("open");
        let buf = filled_page(1);
        bio_with(&bdev, ReqOp::Write, buf, 0, 4096, false).expect("fits");
        let _ = bio_with(&bdev, ReqOp::Write, buf, 8, 4096, false);
    });
    let r = o.first_report().expect("reclaim recursion");
    assert_eq!(o.kinds(), [Violation::ReclaimRecursion]);
    let alloc = driver_line("alloc_page(gfp | __GFP_ZERO | __GFP_HIGHMEM)");
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: reclaim recursion: GFP_KERNEL|__GFP_ZERO|__GFP_HIGHMEM allocation inside the block I/O path",
            &format!(
                "main/1 allocates at {DRIVER_FILE}:{alloc} with GFP_KERNEL|__GFP_ZERO|__GFP_HIGHMEM (effective GFP_KERNEL|__GFP_ZERO|__GFP_HIGHMEM) while submitting I/O"
            ),
            "Call trace (simulated):",
        ],
    );
    assert!(
        r.text.contains(
            " <- brd_insert_page <- copy_to_brd_setup <- brd_do_bvec <- brd_submit_bio <- submit_bio"
        ),
        "{}",
        r.text
    );
}

// ---------------------------------------------------------------------------------------------
// What 6.1 does not have: discard, BLKFLSBUF

#[test]
fn brd_discard_is_rejected_with_eopnotsupp_and_changes_nothing() {
    let probe = Probe::new();
    let p = probe.clone();
    let o = Runner::std().run(move || {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        let data = pattern(2 * PAGE_SIZE, 6);
        write(&bdev, 0, &data).expect("write");
        let mut bio = Bio::discard(0, 2 * PAGE_SIZE as u64);
        let r = submit_bio(&bdev, &mut bio);
        p.push((r, brd.nr_pages(0), read(&bdev, 0, data.len()).expect("read") == data));
        drop(bdev);
        brd_exit(brd);
    });
    assert_clean(&o);
    assert_eq!(probe.values(), [(Err(Errno::EOPNOTSUPP), 2, true)]);
}

#[test]
fn brd_blkflsbuf_takes_the_generic_fallback_and_frees_nothing() {
    let probe = Probe::new();
    let p = probe.clone();
    let o = Runner::std().run(move || {
        let brd = brd_init(small()).expect("load");
        let bdev = brd.open(0).expect("open");
        let data = pattern(3 * PAGE_SIZE, 8);
        write(&bdev, 0, &data).expect("write");
        let before = nr_allocated_pages();
        let denied = blkdev_ioctl(&bdev, BLKFLSBUF, 0, Caps { sys_admin: false });
        let r = blkdev_ioctl(&bdev, BLKFLSBUF, 0, Caps { sys_admin: true });
        let kept = read(&bdev, 0, data.len()).expect("read") == data;
        p.push((denied, r, brd.nr_pages(0), nr_allocated_pages() == before, kept));
        drop(bdev);
        brd_exit(brd);
    });
    assert_clean(&o);
    assert_eq!(probe.values(), [(Err(Errno::EACCES), Ok(0), 3, true, true)]);
    let block = o.trace.view(&[Cat::Block]);
    assert!(block.contains("invalidate_bdev: ram0"), "{block}");
    assert!(block.contains(&format!("ioctl: ram0 cmd={BLKFLSBUF:#x} -> Ok(0)")), "{block}");
}

// ---------------------------------------------------------------------------------------------
// The insert race and teardown

/// Two writers first-touch the same brd page (different sectors of it); afterwards the page
/// holds both writes.
fn insert_race_body() {
    let brd = brd_init(small()).expect("load");
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let bdev = brd.open(0).expect("open");
            kthread_run(&format!("writer{w}"), move || {
                write(&bdev, w, &pattern(512, w as u32 + 1)).expect("write");
            })
        })
        .collect();
    for t in writers {
        t.join();
    }
    let bdev = brd.open(0).expect("open");
    let back = read(&bdev, 0, 1024).expect("read");
    assert_eq!(back[..512], pattern(512, 1)[..]);
    assert_eq!(back[512..], pattern(512, 2)[..]);
    assert_eq!(brd.nr_pages(0), 1, "exactly one insert won");
    drop(bdev);
    brd_exit(brd);
    assert_eq!(nr_allocated_pages(), 0);
}

/// Whether some trace shows both writers allocating and the loser freeing its page under
/// `brd_lock` (the -EEXIST path).
fn some_trace_shows_the_lost_race(o: &Outcome) -> bool {
    o.traces.iter().any(|t| {
        let allocs = brd_allocs(&t.events).len();
        let frees: Vec<_> = t
            .events
            .iter()
            .filter(|e| e.name == "__free_page" && e.detail.contains("in brd_insert_page"))
            .collect();
        allocs == 2 && frees.len() == 1 && frees[0].preempt_count >= 2
    })
}

#[test]
fn brd_insert_race_is_clean_and_the_loser_frees_its_page_under_dfs() {
    let o = Runner::dfs(Some(2), None).run(insert_race_body);
    assert_clean(&o);
    assert!(o.executions > 1, "{} executions", o.executions);
    assert!(some_trace_shows_the_lost_race(&o), "no execution lost the insert race");
}

#[test]
fn brd_insert_race_is_clean_and_the_loser_frees_its_page_under_loom() {
    let o = Runner::loom(Some(2)).run(insert_race_body);
    assert_clean(&o);
    assert!(o.executions > 1, "{} executions", o.executions);
    assert!(some_trace_shows_the_lost_race(&o), "no execution lost the insert race");
}

#[test]
fn brd_exit_frees_every_page_and_the_leak_check_is_clean() {
    let probe = Probe::new();
    let p = probe.clone();
    let o = Runner::std().run(move || {
        let brd = brd_init(Params { rd_nr: 2, rd_size: 256, ..Params::default() }).expect("load");
        let (d0, d1) = (brd.open(0).expect("ram0"), brd.open(1).expect("ram1"));
        // 40 pages on ram0 (more than two FREE_BATCHes), 3 on ram1.
        write(&d0, 0, &pattern(40 * PAGE_SIZE, 1)).expect("ram0");
        write(&d1, 8 * 50, &pattern(3 * PAGE_SIZE, 2)).expect("ram1");
        p.push((brd.nr_pages(0), brd.nr_pages(1), nr_allocated_pages()));
        drop((d0, d1));
        brd_exit(brd);
        p.push((0, 0, nr_allocated_pages()));
    });
    assert_clean(&o);
    assert_eq!(probe.values(), [(40, 3, 43), (0, 0, 0)]);
    let frees = o
        .trace
        .events
        .iter()
        .filter(|e| e.name == "__free_page" && e.detail.contains("brd_free_pages"))
        .count();
    assert_eq!(frees, 43);
    // cond_resched between batches: 3 batches on ram0 (16+16+8), 1 on ram1.
    let resched = o
        .trace
        .events
        .iter()
        .filter(|e| e.cat == Cat::Sleep && e.detail.starts_with("cond_resched()"))
        .count();
    assert_eq!(resched, 4);
}
