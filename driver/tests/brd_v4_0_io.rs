//! brd v4.0 block I/O fidelity (facts §1.2, §1.3, §1.6, §1.7, §1.9; checklist 1, 10-12, 14):
//! zero-filled reads that allocate nothing, one `GFP_NOIO|__GFP_ZERO[|__GFP_HIGHMEM]` page per
//! touched page, the order of work in `brd_insert_page`, data round trips across sector and page
//! boundaries, READA, `->rw_page`, and out-of-capacity bios.
#![forbid(unsafe_code)]

mod v4_common;

use ksim::blk::{bdev_read_page, bdev_write_page, submit_bio, Bio, ReqOp, SECTOR_SHIFT};
use ksim::errno::Errno;
use ksim::highmem::page_address;
use ksim::mm::{__free_page, memcpy_from, memcpy_to, nr_allocated_pages, page_zone, Zone, PAGE_SIZE};
use ksim::model::trace::Cat;
use ksim::Config;
use ksim_drivers::brd_v4_0::{brd_exit, brd_init, brd_lookup_page, brd_make_request, Params};
use v4_common::*;

fn small(dax: bool) -> Params {
    Params { rd_nr: 1, rd_size: 64, dax, ..Params::default() }
}

#[test]
fn brd_v4_0_read_of_unwritten_sectors_returns_zeros_and_allocates_nothing() {
    for dax in [true, false] {
        let (o, (got, allocated_during, nr_pages, allocated_after)) = run_clean(Config::v4_0(), move || {
            let brd = brd_init(small(dax)).unwrap();
            let bdev = brd.open(0).unwrap();
            // Two buffer segments pre-filled with a pattern: the read must overwrite them with
            // zeros. The second straddles brd pages 0 and 1 (sectors 7..15).
            let (mut bio, pages) = make_bio(ReqOp::Read, 3, &[(2048, 0), (4096, 0)], Some(&pattern(6144, 9)));
            let before = nr_allocated_pages();
            submit_bio(&bdev, &mut bio).unwrap();
            let during = nr_allocated_pages() - before;
            let got = bio_bytes(&bio);
            free_pages(pages);
            let nr = brd.nr_pages(0);
            drop(bdev);
            brd_exit(brd);
            (got, during, nr, nr_allocated_pages())
        });
        assert_eq!(got, vec![0u8; 6144]);
        assert_eq!(allocated_during, 0);
        assert_eq!(nr_pages, 0);
        assert_eq!(allocated_after, 0);
        assert!(brd_allocs(o.trace()).is_empty(), "{}", o.trace().allocations());
        // The only page allocations are the two buffers.
        assert_eq!(all_page_allocs(o.trace()).len(), 2, "{}", o.trace().allocations());
        assert!(!o.trace().allocations().contains("radix_tree_preload"));
    }
}

#[test]
fn brd_v4_0_write_allocates_one_page_per_touched_page_with_the_2015_gfp() {
    for (dax, gfp) in [(true, "GFP_NOIO|__GFP_ZERO"), (false, "GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM")] {
        let (o, (nr_first, nr_again)) = run_clean(Config::v4_0(), move || {
            let brd = brd_init(small(dax)).unwrap();
            let bdev = brd.open(0).unwrap();
            // 12 KiB from sector 4: sectors 4..28 touch pages 0, 1, 2 and 3.
            write_bytes(&bdev, 4, &pattern(3 * PAGE_SIZE, 1)).unwrap();
            let first = brd.nr_pages(0);
            // Rewriting the same range finds every page present.
            write_bytes(&bdev, 4, &pattern(3 * PAGE_SIZE, 2)).unwrap();
            let again = brd.nr_pages(0);
            drop(bdev);
            brd_exit(brd);
            (first, again)
        });
        assert_eq!((nr_first, nr_again), (4, 4));
        let allocs = brd_allocs(o.trace());
        assert_eq!(allocs.len(), 4, "{}", o.trace().allocations());
        for l in &allocs {
            assert!(l.contains(&format!("alloc_page: {gfp} order=0 zone=Normal")), "{l}");
            assert!(
                l.ends_with(
                    "in brd_insert_page<-copy_to_brd_setup<-brd_do_bvec<-brd_make_request<-submit_bio"
                ),
                "{l}"
            );
            // Allocated outside any atomic section: preempt depth '.' in the flags column.
            assert!(l.contains(" ....: alloc_page"), "{l}");
        }
    }
}

#[test]
fn brd_v4_0_insert_page_allocates_then_preloads_then_locks() {
    // Facts §1.3: alloc_page outside any lock, radix_tree_preload (returns with preemption
    // off: 1), spin_lock (2), spin_unlock (1), radix_tree_preload_end (0).
    let (o, ()) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small(true)).unwrap();
        let bdev = brd.open(0).unwrap();
        write_bytes(&bdev, 0, &pattern(512, 3)).unwrap();
        drop(bdev);
        brd_exit(brd);
    });
    let ev = &o.trace().events;
    let brd_alloc = ev
        .iter()
        .position(|e| e.name == "alloc_page" && e.detail.contains("brd_insert_page"))
        .expect("alloc");
    assert_eq!(ev[brd_alloc].preempt_count, 0);
    let after: Vec<(&str, u32)> = ev[brd_alloc..]
        .iter()
        .filter(|e| e.cat == Cat::Context)
        .filter(|e| {
            ["radix_tree_preload", "spin_lock", "spin_unlock", "radix_tree_preload_end"].contains(&e.name)
        })
        .map(|e| (e.name, e.preempt_count))
        .collect();
    let last_preload = after.iter().rposition(|(n, _)| *n == "radix_tree_preload").unwrap();
    assert_eq!(
        after[last_preload..],
        [("radix_tree_preload", 1), ("spin_lock", 2), ("spin_unlock", 1), ("radix_tree_preload_end", 0)]
    );
}

#[test]
fn brd_v4_0_data_round_trips_across_sectors_and_pages() {
    let (_, (got, shadow)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small(true)).unwrap();
        let bdev = brd.open(0).unwrap();
        let size = (bdev.nr_sects() << SECTOR_SHIFT) as usize;
        let mut shadow = vec![0u8; size];
        let mut put = |sector: u64, segs: &[(u32, u32)], seed: u8| {
            let len: usize = segs.iter().map(|s| s.0 as usize).sum();
            let data = pattern(len, seed);
            let (mut bio, pages) = make_bio(ReqOp::Write, sector, segs, Some(&data));
            submit_bio(&bdev, &mut bio).unwrap();
            free_pages(pages);
            let at = (sector << SECTOR_SHIFT) as usize;
            shadow[at..at + len].copy_from_slice(&data);
        };
        // One unaligned 512-byte sector.
        put(3, &[(512, 0)], 10);
        // A bvec straddling pages 0 and 1 (sectors 7..9).
        put(7, &[(1024, 0)], 11);
        // A bvec at a non-zero offset of its page, straddling pages 1 and 2.
        put(13, &[(2048, 1024)], 12);
        // Several bvecs of different sizes and offsets in one bio, straddling pages 4..7.
        put(37, &[(1536, 512), (4096, 0), (512, 3584), (3072, 0)], 13);
        // The last sector of the device.
        put(bdev.nr_sects() - 1, &[(512, 0)], 14);
        // Read everything back with a different segmentation: 3 KiB segments at offset 1 KiB.
        let segs: Vec<(u32, u32)> = (0..size / 3072).map(|_| (3072, 1024)).collect();
        let tail = size - segs.len() * 3072;
        let mut segs = segs;
        if tail > 0 {
            segs.push((tail as u32, 0));
        }
        let (mut bio, pages) = make_bio(ReqOp::Read, 0, &segs, None);
        submit_bio(&bdev, &mut bio).unwrap();
        let got = bio_bytes(&bio);
        free_pages(pages);
        drop(bdev);
        brd_exit(brd);
        (got, shadow)
    });
    assert_eq!(got.len(), 64 * 1024);
    assert!(got == shadow, "device contents differ from the shadow model");
    assert_ne!(got[3 * 512], 0);
}

#[test]
fn brd_v4_0_reada_is_treated_as_read() {
    let (_, (reada, read)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small(true)).unwrap();
        let bdev = brd.open(0).unwrap();
        write_bytes(&bdev, 5, &pattern(2048, 4)).unwrap();
        let a = read_bytes_op(&bdev, ReqOp::ReadAhead, 5, 2048).unwrap();
        let b = read_bytes(&bdev, 5, 2048).unwrap();
        drop(bdev);
        brd_exit(brd);
        (a, b)
    });
    assert_eq!(reada, pattern(2048, 4));
    assert_eq!(read, reada);
}

#[test]
fn brd_v4_0_rw_page_round_trips_one_page() {
    let (o, (got, nr, neighbour)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small(true)).unwrap();
        let bdev = brd.open(0).unwrap();
        let src = buf_page();
        memcpy_to(page_address(src).unwrap(), &pattern(PAGE_SIZE, 5));
        // An unaligned rw_page: the page-sized bvec straddles brd pages 2 and 3.
        bdev_write_page(&bdev, 20, src).unwrap();
        let dst = buf_page();
        bdev_read_page(&bdev, 20, dst).unwrap();
        let mut got = vec![0u8; PAGE_SIZE];
        memcpy_from(&mut got, page_address(dst).unwrap());
        let neighbour = read_bytes(&bdev, 16, 2048).unwrap();
        __free_page(src);
        __free_page(dst);
        let nr = brd.nr_pages(0);
        drop(bdev);
        brd_exit(brd);
        (got, nr, neighbour)
    });
    assert_eq!(got, pattern(PAGE_SIZE, 5));
    assert_eq!(nr, 2);
    assert_eq!(neighbour, vec![0u8; 2048]);
    let allocs = brd_allocs(o.trace());
    assert_eq!(allocs.len(), 2);
    assert!(allocs[0]
        .ends_with("in brd_insert_page<-copy_to_brd_setup<-brd_do_bvec<-brd_rw_page<-bdev_write_page"));
}

#[test]
fn brd_v4_0_bio_beyond_capacity_ends_with_eio() {
    let (_, (generic, driver, status, nr)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(small(true)).unwrap();
        let bdev = brd.open(0).unwrap();
        let last = bdev.nr_sects();
        // Through submit_bio the generic end-of-device check answers first.
        let generic = write_bytes(&bdev, last - 4, &pattern(4096, 6));
        // brd's own check in brd_make_request: bio_end_sector(bio) > get_capacity(disk).
        let (mut bio, pages) = make_bio(ReqOp::Write, last - 1, &[(1024, 0)], Some(&pattern(1024, 6)));
        brd_make_request(brd.device(0), &mut bio);
        let status = bio.status;
        let mut read = Bio::new(ReqOp::Read, last);
        read.add_page(pages[0], 512, 0);
        brd_make_request(brd.device(0), &mut read);
        free_pages(pages);
        let nr = brd.nr_pages(0);
        drop(bdev);
        brd_exit(brd);
        (generic, status, read.status, nr)
    });
    assert_eq!(generic, Err(Errno::EIO));
    assert_eq!(driver, Some(Err(Errno::EIO)));
    assert_eq!(status, Some(Err(Errno::EIO)));
    assert_eq!(nr, 0);
}

#[test]
fn brd_v4_0_without_dax_uses_highmem_pages_through_kmap_atomic() {
    // A 32-bit highmem machine: DAX off adds __GFP_HIGHMEM, so backing pages come from
    // ZONE_HIGHMEM and are only ever touched through kmap_atomic; DAX on keeps them in lowmem.
    for (dax, zone) in [(false, Zone::HighMem), (true, Zone::Normal)] {
        let (_, (got, z)) = run_clean(Config::v4_0().highmem(64), move || {
            let brd = brd_init(small(dax)).unwrap();
            let bdev = brd.open(0).unwrap();
            write_bytes(&bdev, 6, &pattern(4096, 7)).unwrap();
            let got = read_bytes(&bdev, 6, 4096).unwrap();
            let z = page_zone(brd_lookup_page(brd.device(0), 6).unwrap());
            drop(bdev);
            brd_exit(brd);
            (got, z)
        });
        assert_eq!(got, pattern(4096, 7));
        assert_eq!(z, zone);
    }
}
