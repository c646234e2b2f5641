//! brd v4.0 module parameters, init and teardown (facts §1.13): the kernel's defaults, the
//! `max_part == 0` reset, disk names, minors and capacity, queue limits, and `brd_exit` freeing
//! every page — without it the leak check names brd's allocation site.
#![forbid(unsafe_code)]

mod v4_common;

use ksim::errno::Errno;
use ksim::gfp::GFP_KERNEL;
use ksim::mm::{nr_allocated_pages, PAGE_SIZE};
use ksim::{Config, Violation};
use ksim_drivers::brd_v4_0::{brd_exit, brd_init, Params, QueueLimits, RAMDISK_MAJOR};
use v4_common::*;

#[test]
fn brd_v4_0_params_default_to_the_kernel_defaults() {
    let p = Params::default();
    assert_eq!((p.rd_nr, p.rd_size, p.max_part), (16, 4096, 1));
    assert!(!p.dax, "CONFIG_BLK_DEV_RAM_DAX defaults to n");
    assert_eq!(p.insert_gfp, None);
    assert!(!p.force_highmem);
    // The mutation switches are plain data.
    let m = Params { insert_gfp: Some(GFP_KERNEL), force_highmem: true, ..p };
    assert_eq!(m.insert_gfp, Some(GFP_KERNEL));
}

#[test]
fn brd_v4_0_init_creates_rd_nr_disks_with_kernel_numbering() {
    let (_, disks) = run_clean(Config::v4_0(), || {
        let brd = brd_init(Params::default()).unwrap();
        let disks: Vec<(String, u32, u32, u64, bool)> = (0..brd.nr_devices())
            .map(|i| {
                let d = brd.disk(i);
                (d.name.clone(), d.major, d.first_minor, d.capacity, d.driver.has_direct_access())
            })
            .collect();
        brd_exit(brd);
        disks
    });
    assert_eq!(disks.len(), 16);
    for (i, (name, major, minor, capacity, dax)) in disks.iter().enumerate() {
        assert_eq!(name, &format!("ram{i}"));
        assert_eq!(*major, RAMDISK_MAJOR);
        assert_eq!(*minor, i as u32);
        assert_eq!(*capacity, 4096 * 2, "rd_size KiB * 2 sectors");
        assert!(!*dax, "->direct_access is NULL without CONFIG_BLK_DEV_RAM_DAX");
    }
}

#[test]
fn brd_v4_0_init_resets_max_part_zero_and_spaces_minors_by_max_part() {
    let (_, (reset, minors0, minors4, none, open_missing)) = run_clean(Config::v4_0(), || {
        let a = brd_init(Params { rd_nr: 3, rd_size: 8, max_part: 0, ..Params::default() }).unwrap();
        let b = brd_init(Params { rd_nr: 3, rd_size: 8, max_part: 4, ..Params::default() }).unwrap();
        let c = brd_init(Params { rd_nr: 0, ..Params::default() }).unwrap();
        let reset = a.params().max_part;
        let m0: Vec<u32> = (0..3).map(|i| a.disk(i).first_minor).collect();
        let m4: Vec<u32> = (0..3).map(|i| b.disk(i).first_minor).collect();
        let none = c.nr_devices();
        let missing = a.open(3).err();
        brd_exit(a);
        brd_exit(b);
        brd_exit(c);
        (reset, m0, m4, none, missing)
    });
    assert_eq!(reset, 1);
    assert_eq!(minors0, vec![0, 1, 2]);
    assert_eq!(minors4, vec![0, 4, 8]);
    assert_eq!(none, 0);
    assert_eq!(open_missing, Some(Errno::ENXIO));
}

#[test]
fn brd_v4_0_alloc_sets_the_2015_queue_limits() {
    let (_, q) = run_clean(Config::v4_0(), || {
        let brd = brd_init(Params { rd_nr: 1, ..Params::default() }).unwrap();
        let q = brd.device(0).queue;
        brd_exit(brd);
        q
    });
    assert_eq!(
        q,
        QueueLimits {
            max_hw_sectors: 1024,
            bounce_any: true,
            physical_block_size: 4096,
            discard_granularity: 4096,
            max_discard_sectors: u32::MAX,
            discard_zeroes_data: true,
        }
    );
}

#[test]
fn brd_v4_0_exit_frees_every_page_of_every_device() {
    let (o, (before, after)) = run_clean(Config::v4_0(), || {
        let brd = brd_init(Params { rd_nr: 3, rd_size: 64, ..Params::default() }).unwrap();
        for i in 0..3 {
            let bdev = brd.open(i).unwrap();
            write_bytes(&bdev, 0, &pattern((i + 1) * PAGE_SIZE, i as u8)).unwrap();
        }
        let before = nr_allocated_pages();
        brd_exit(brd);
        (before, nr_allocated_pages())
    });
    assert_eq!((before, after), (6, 0));
    let frees = o
        .trace()
        .allocations()
        .lines()
        .filter(|l| l.ends_with("in brd_free_pages<-brd_free<-brd_del_one<-brd_exit"))
        .count();
    assert_eq!(frees, 6);
}

#[test]
fn brd_v4_0_without_exit_the_pages_are_reported_as_leaked() {
    let (o, _) = run_std(Config::v4_0(), || {
        let brd = brd_init(Params { rd_nr: 1, rd_size: 64, ..Params::default() }).unwrap();
        let bdev = brd.open(0).unwrap();
        write_bytes(&bdev, 0, &pattern(2 * PAGE_SIZE, 1)).unwrap();
    });
    assert_eq!(o.kinds(), vec![Violation::Leak]);
    let r = o.first_report().unwrap();
    assert_eq!(r.headline(), "kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)");
    assert!(r.text.contains("  comm \"main\", pid 1"), "{}", r.text);
    assert!(r.text.contains("alloc_page at driver/src/brd_v4_0.rs:"), "{}", r.text);
    assert!(
        r.text.contains("<- brd_insert_page <- copy_to_brd_setup <- brd_do_bvec <- brd_make_request"),
        "{}",
        r.text
    );
}
