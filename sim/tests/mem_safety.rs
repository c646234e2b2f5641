//! Memory safety checks with the sites that explain them (ARCHITECTURE §5): KASAN-style
//! use-after-free, double free and out-of-bounds, KMSAN-style uninitialised reads, the
//! kmemleak-style leak check, and reserved regions.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use common::{assert_lines_in_order, only_report, run_lines as run, run_std};
use ksim::gfp::*;
use ksim::highmem::page_address;
use ksim::mm::*;
use ksim::prelude::*;

const FILE: &str = file!();

#[test]
fn safety_use_after_free_through_a_stale_address_names_both_sites() {
    let (o, lines) = run(Config::modern(), |lines| {
        kfn!("demo_io");
        let page = at!(lines, "alloc", alloc_page(GFP_NOIO | __GFP_ZERO)).unwrap();
        let addr = page_address(page).unwrap();
        {
            kfn!("demo_discard");
            at!(lines, "free", __free_page(page));
        }
        at!(lines, "use", memcpy_to(addr.add(8), b"stale"));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UseAfterFree);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: KASAN: use-after-free in memcpy at {}", lines.site(FILE, "use")),
            "Write of size 5 at addr 0xffff888001000008 by task main/1",
            "Allocated by task main/1 (GFP_NOIO|__GFP_ZERO):",
            &format!(" alloc_page at {} <- demo_io", lines.site(FILE, "alloc")),
            "Freed by task main/1:",
            &format!(" __free_page at {} <- demo_discard <- demo_io", lines.site(FILE, "free")),
            "Call trace (simulated):",
            " memcpy <- demo_io",
        ],
    );
}

#[test]
fn safety_stale_address_of_a_reallocated_frame_is_not_silently_reused() {
    let (o, lines) = run(Config::modern(), |lines| {
        let old = alloc_page(GFP_KERNEL | __GFP_ZERO).unwrap();
        let addr = page_address(old).unwrap();
        __free_page(old);
        let new = at!(lines, "realloc", alloc_page(GFP_KERNEL | __GFP_ZERO)).unwrap();
        assert_eq!(new.pfn(), old.pfn(), "the frame is reused");
        let mut b = [0u8; 1];
        at!(lines, "use", memcpy_from(&mut b, addr));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UseAfterFree);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: KASAN: use-after-free in memcpy at {}", lines.site(FILE, "use")),
            "Read of size 1 at addr 0xffff888001000000 by task main/1",
            &format!(" alloc_page at {}", lines.site(FILE, "realloc")),
        ],
    );
}

#[test]
fn safety_get_page_on_a_freed_page_is_use_after_free() {
    let (o, lines) = run(Config::modern(), |lines| {
        let page = alloc_page(GFP_KERNEL).unwrap();
        at!(lines, "free", __free_page(page));
        at!(lines, "get", get_page(page));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UseAfterFree);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: KASAN: use-after-free in get_page at {}", lines.site(FILE, "get")),
            "get_page of page pfn:0x1000 by task main/1",
            "Freed by task main/1:",
            &format!(" __free_page at {}", lines.site(FILE, "free")),
        ],
    );
}

#[test]
fn safety_double_free_names_alloc_and_first_free() {
    let (o, lines) = run(Config::modern(), |lines| {
        let page = at!(lines, "alloc", alloc_page(GFP_KERNEL)).unwrap();
        at!(lines, "free", __free_page(page));
        at!(lines, "again", __free_page(page));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::DoubleFree);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: KASAN: double-free in __free_page at {}", lines.site(FILE, "again")),
            "__free_page of page pfn:0x1000 by task main/1",
            "Allocated by task main/1 (GFP_KERNEL):",
            &format!(" alloc_page at {}", lines.site(FILE, "alloc")),
            "Freed by task main/1:",
            &format!(" __free_page at {}", lines.site(FILE, "free")),
        ],
    );
}

#[test]
fn safety_write_past_an_order_0_page_is_out_of_bounds() {
    let (o, lines) = run(Config::modern(), |lines| {
        let page = at!(lines, "alloc", alloc_page(GFP_NOIO | __GFP_ZERO)).unwrap();
        let addr = page_address(page).unwrap();
        memcpy_to(addr, &[1u8; PAGE_SIZE]);
        at!(lines, "write", memcpy_to(addr, &[1u8; PAGE_SIZE + 1]));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::OutOfBounds);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: KASAN: page-out-of-bounds in memcpy at {}", lines.site(FILE, "write")),
            "Write of size 4097 at addr 0xffff888001000000 by task main/1",
            "The buggy address is located 0 bytes inside of the 4096-byte region; the access ends 1 bytes past its end",
            "Allocated by task main/1 (GFP_NOIO|__GFP_ZERO):",
            &format!(" alloc_page at {}", lines.site(FILE, "alloc")),
        ],
    );
}

#[test]
fn safety_memset_from_an_offset_past_the_end_is_out_of_bounds() {
    let (o, _) = run(Config::modern(), |_| {
        let page = alloc_page(GFP_KERNEL | __GFP_ZERO).unwrap();
        memset(page_address(page).unwrap().add(4000), 0, 200);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::OutOfBounds);
    assert_lines_in_order(
        &r.text,
        &[
            "Write of size 200 at addr 0xffff888001000fa0 by task main/1",
            "The buggy address is located 4000 bytes inside of the 4096-byte region; the access ends 104 bytes past its end",
        ],
    );
}

#[test]
fn safety_read_of_a_page_without_gfp_zero_is_uninit() {
    let (o, lines) = run(Config::modern(), |lines| {
        let page = at!(lines, "alloc", alloc_page(GFP_NOIO)).unwrap();
        let addr = page_address(page).unwrap();
        memcpy_to(addr, &[9u8; 16]);
        let mut buf = [0u8; 32];
        at!(lines, "read", memcpy_from(&mut buf, addr));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::UninitRead);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: KMSAN: uninit-value in memcpy at {}", lines.site(FILE, "read")),
            "Read of size 32 at addr 0xffff888001000000: byte 16 of the page was never written",
            "Uninit was created at:",
            &format!(" alloc_page at {} (no __GFP_ZERO)", lines.site(FILE, "alloc")),
        ],
    );
}

#[test]
fn safety_read_after_the_bytes_are_written_is_clean() {
    let (o, v) = run_std(Config::modern(), |p| {
        let page = alloc_page(GFP_NOIO).unwrap();
        let addr = page_address(page).unwrap();
        memcpy_to(addr.add(100), b"written");
        let mut buf = [0u8; 7];
        memcpy_from(&mut buf, addr.add(100));
        p.push(buf.to_vec());
        memset(addr, 0x11, PAGE_SIZE);
        let mut all = vec![0u8; PAGE_SIZE];
        memcpy_from(&mut all, addr);
        p.push(vec![all.iter().all(|&b| b == 0x11) as u8]);
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [b"written".to_vec(), vec![1]]);
}

#[test]
fn safety_uninit_read_is_silent_with_poison_check_off() {
    let mut config = Config::modern();
    config.mem.poison_check = false;
    let (o, v) = run_std(config, |p| {
        let page = alloc_page(GFP_NOIO).unwrap();
        let mut b = [0u8; 2];
        memcpy_from(&mut b, page_address(page).unwrap());
        // The poison pattern (POISON_INUSE).
        p.push(b);
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [[0x5a, 0x5a]]);
}

#[test]
fn safety_leak_at_the_end_of_the_body_names_the_allocation() {
    let (o, lines) = run(Config::modern(), |lines| {
        kfn!("demo_probe");
        let freed = alloc_page(GFP_KERNEL).unwrap();
        let _kept = at!(lines, "alloc", alloc_pages(GFP_NOIO | __GFP_ZERO, 1));
        __free_page(freed);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::Leak);
    assert_lines_in_order(
        &r.text,
        &[
            "kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
            "unreferenced object 0xffff888001001000 (size 8192):",
            "  comm \"main\", pid 1",
            "  backtrace (simulated):",
            &format!("    alloc_pages at {} <- demo_probe", lines.site(FILE, "alloc")),
            "Call trace (simulated):",
            " kmemleak_scan",
        ],
    );
}

#[test]
fn safety_leak_check_off_is_silent() {
    let mut config = Config::modern();
    config.mem.leak_check = false;
    let (o, v) = run_std(config, |p| {
        let _leaked = alloc_page(GFP_KERNEL).unwrap();
        p.push(nr_allocated_pages());
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [1]);
}

#[test]
fn safety_reserved_region_reads_zeros_and_round_trips() {
    let (o, v) = run_std(Config::modern(), |p| {
        let base = reserve_region(2, "pmem0");
        let mut buf = [0xffu8; 8];
        memcpy_from(&mut buf, base.add(PAGE_SIZE - 4));
        p.push(buf.to_vec());
        memcpy_to(base.add(PAGE_SIZE - 4), b"spanning");
        memcpy_from(&mut buf, base.add(PAGE_SIZE - 4));
        p.push(buf.to_vec());
        // The last byte is addressable.
        memset(base.add(2 * PAGE_SIZE - 1), 7, 1);
        let mut last = [0u8; 1];
        memcpy_from(&mut last, base.add(2 * PAGE_SIZE - 1));
        p.push(last.to_vec());
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [vec![0; 8], b"spanning".to_vec(), vec![7]]);
}

#[test]
fn safety_reserved_region_access_past_its_end_is_out_of_bounds() {
    let (o, lines) = run(Config::modern(), |lines| {
        let base = reserve_region(2, "pmem0");
        at!(lines, "write", memcpy_to(base.add(2 * PAGE_SIZE - 1), b"xy"));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::OutOfBounds);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: KASAN: page-out-of-bounds in memcpy at {}", lines.site(FILE, "write")),
            "The buggy address is located 8191 bytes inside of the 8192-byte region 'pmem0'; the access ends 1 bytes past its end",
        ],
    );
}
