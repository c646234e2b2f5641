//! Highmem and kmap (facts §5.4, checklist 14): `page_address()` of a highmem page is NULL
//! unless `kmap()`ed, `kmap` may sleep, `kmap_atomic` is atomic and strictly nested.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use common::{assert_lines_in_order, only_report, profiles, run_lines as run, run_std};
use ksim::gfp::*;
use ksim::highmem::*;
use ksim::mm::*;
use ksim::prelude::*;

const FILE: &str = file!();

/// A 32-bit highmem machine with 4 lowmem pages: ZONE_NORMAL is pfns 0x1000-0x1003, ZONE_HIGHMEM
/// starts at 0x1004.
fn highmem() -> Config {
    Config::modern().highmem(4)
}

#[test]
fn highmem_gfp_highmem_page_comes_from_zone_highmem() {
    let (o, v) = run_std(highmem(), |p| {
        let high = alloc_page(GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM).unwrap();
        let low = alloc_page(GFP_NOIO | __GFP_ZERO).unwrap();
        p.push(format!(
            "{:#x} {:?} {} {}",
            high.pfn(),
            page_zone(high),
            PageHighMem(high),
            page_address(high).is_some()
        ));
        p.push(format!(
            "{:#x} {:?} {} {}",
            low.pfn(),
            page_zone(low),
            PageHighMem(low),
            page_address(low).is_some()
        ));
        __free_page(high);
        __free_page(low);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["0x1004 HighMem true false", "0x1000 Normal false true"]);
    assert!(o
        .trace
        .allocations()
        .contains("GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM order=0 zone=HighMem pfn=0x1004"));
}

#[test]
fn highmem_without_a_highmem_config_gfp_highmem_is_lowmem() {
    let (o, v) = run_std(Config::modern(), |p| {
        let page = alloc_page(GFP_NOIO | __GFP_HIGHMEM).unwrap();
        p.push(format!("{:?} {} {}", page_zone(page), PageHighMem(page), page_address(page).is_some()));
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["Normal false true"]);
}

#[test]
fn highmem_lowmem_exhaustion_leaves_highmem_usable() {
    let (o, v) = run_std(Config::modern().highmem(2), |p| {
        let a = alloc_page(GFP_ATOMIC).unwrap();
        let b = alloc_page(GFP_ATOMIC).unwrap();
        p.push(alloc_page(GFP_ATOMIC).is_none().to_string());
        let h = alloc_page(GFP_ATOMIC | __GFP_HIGHMEM).unwrap();
        p.push(format!("{:#x} {:?}", h.pfn(), page_zone(h)));
        for x in [a, b, h] {
            __free_page(x);
        }
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, ["true", "0x1002 HighMem"]);
}

#[test]
fn highmem_page_address_is_none_until_kmap() {
    let (o, v) = run_std(highmem(), |p| {
        let page = alloc_page(GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO).unwrap();
        p.push(page_address(page).is_some());
        let addr = kmap(page);
        p.push(page_address(page) == Some(addr));
        let again = kmap(page);
        kunmap(page);
        p.push(page_address(page) == Some(again));
        kunmap(page);
        p.push(page_address(page).is_some());
        // A lowmem page: kmap is its permanent address.
        let low = alloc_page(GFP_KERNEL).unwrap();
        p.push(kmap(low) == page_address(low).unwrap());
        kunmap(low);
        p.push(page_address(low).is_some());
        __free_page(page);
        __free_page(low);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [false, true, true, false, true, true]);
}

#[test]
fn highmem_kmap_under_spinlock_reports_sleep_in_atomic() {
    let (o, lines) = run(highmem(), |lines| {
        kfn!("demo_copy");
        let page = alloc_page(GFP_KERNEL | __GFP_HIGHMEM).unwrap();
        let lock = SpinLock::new((), "copy.lock");
        let _g = at!(lines, "lock", spin_lock(&lock));
        at!(lines, "kmap", kmap(page));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "kmap")),
            "preempt_count: 1, expected: 0",
            &format!(" #0: (copy.lock){{+.+.}}, at: {}", lines.site(FILE, "lock")),
            " kmap() <- demo_copy",
        ],
    );
}

#[test]
fn highmem_kmap_atomic_adds_one_to_preempt_count() {
    for config in profiles() {
        let (o, v) = run_std(config.highmem(4), |p| {
            let a = alloc_page(GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO).unwrap();
            let b = alloc_page(GFP_KERNEL).unwrap();
            p.push(preempt_count());
            let x = kmap_atomic(a);
            p.push(preempt_count());
            let y = kmap_atomic(b);
            p.push(preempt_count());
            kunmap_atomic(y);
            p.push(preempt_count());
            kunmap_atomic(x);
            p.push(preempt_count());
            // kmap_local_page nests strictly but is not atomic.
            let l = kmap_local_page(a);
            p.push(preempt_count());
            kunmap_local(l);
            __free_page(a);
            __free_page(b);
        });
        assert!(o.is_clean(), "{:#?}", o.reports);
        assert_eq!(v, [0, 1, 2, 1, 0, 0]);
    }
}

#[test]
fn highmem_kmap_atomic_released_out_of_order_reports_nesting() {
    let (o, lines) = run(highmem(), |lines| {
        let a = alloc_page(GFP_KERNEL | __GFP_HIGHMEM).unwrap();
        let b = alloc_page(GFP_KERNEL | __GFP_HIGHMEM).unwrap();
        let x = kmap_atomic(a);
        let _y = at!(lines, "second", kmap_atomic(b));
        at!(lines, "unmap", kunmap_atomic(x));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::KmapNesting);
    assert_lines_in_order(
        &r.text,
        &[
            &format!(
                "WARNING: kunmap_atomic() at {} does not unmap the most recent mapping",
                lines.site(FILE, "unmap")
            ),
            &format!("most recent: pfn 0x1005 mapped at {} kmap_atomic", lines.site(FILE, "second")),
            "kmap_atomic()/kmap_local_page() mappings must be released in reverse order",
            "Call trace (simulated):",
            " kunmap_atomic",
        ],
    );
}

#[test]
fn highmem_write_through_null_page_address_is_non_addressable() {
    let (o, lines) = run(highmem(), |lines| {
        let page = alloc_page(GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM).unwrap();
        let kaddr = page_address(page).unwrap_or(KAddr::NULL);
        at!(lines, "write", memcpy_to(kaddr, b"hello"));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::NonAddressable);
    assert_lines_in_order(
        &r.text,
        &[
            "BUG: kernel NULL pointer dereference, address: 0000000000000000",
            "#PF: supervisor write access in kernel mode",
            &format!("ksim: memcpy at {} through a NULL kernel address", lines.site(FILE, "write")),
        ],
    );
}

#[test]
fn highmem_clear_highpage_zeroes() {
    let (o, v) = run_std(highmem(), |p| {
        let page = alloc_page(GFP_KERNEL | __GFP_HIGHMEM).unwrap();
        memcpy_to_page(page, 0, &[0xab; PAGE_SIZE]);
        clear_highpage(page);
        let mut buf = vec![0xffu8; PAGE_SIZE];
        memcpy_from_page(&mut buf, page, 0);
        p.push(buf.iter().all(|&b| b == 0));
        // clear_highpage maps atomically and unmaps: preemption is back on.
        p.push(preempt_count() == 0);
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [true, true]);
}

#[test]
fn highmem_memcpy_to_page_and_from_page_round_trip() {
    let (o, v) = run_std(highmem(), |p| {
        let page = alloc_page(GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO).unwrap();
        memcpy_to_page(page, 4000, b"across the tail");
        let mut buf = [0u8; 15];
        memcpy_from_page(&mut buf, page, 4000);
        p.push(buf.to_vec());
        // The same bytes through a kmap_atomic mapping.
        let a = kmap_atomic(page);
        let mut head = [0u8; 6];
        memcpy_from(&mut head, a.add(4000));
        kunmap_atomic(a);
        p.push(head.to_vec());
        __free_page(page);
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert_eq!(v, [b"across the tail".to_vec(), b"across".to_vec()]);
}

#[test]
fn highmem_kmap_atomic_address_after_kunmap_atomic_is_non_addressable() {
    let (o, lines) = run(highmem(), |lines| {
        let page = alloc_page(GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO).unwrap();
        let a = kmap_atomic(page);
        memcpy_to(a, b"ok");
        kunmap_atomic(a);
        at!(lines, "stale", memcpy_to(a, b"late"));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::NonAddressable);
    assert!(
        r.headline().starts_with("BUG: unable to handle page fault for address: ffffc00001004000"),
        "{}",
        r.text
    );
    assert_lines_in_order(
        &r.text,
        &[&format!(
            "ksim: memcpy at {} through a kmap address that is no longer mapped",
            lines.site(FILE, "stale")
        )],
    );
}

#[test]
fn highmem_kmap_address_after_kunmap_is_non_addressable() {
    let (o, lines) = run(highmem(), |lines| {
        let page = alloc_page(GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO).unwrap();
        let a = kmap(page);
        kunmap(page);
        let mut b = [0u8; 4];
        at!(lines, "stale", memcpy_from(&mut b, a));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::NonAddressable);
    assert_lines_in_order(
        &r.text,
        &[&format!(
            "ksim: memcpy at {} through a kmap address that is no longer mapped",
            lines.site(FILE, "stale")
        )],
    );
}
