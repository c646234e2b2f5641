//! The kmalloc family and object caches (`include/linux/slab.h`): GFP rules and might_sleep,
//! failslab, KASAN-style checks of accesses through object addresses (bounds of the requested
//! size, after free), the frees' checks (double, invalid, wrong cache) and kmemleak reports that
//! name the allocation site.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use common::{assert_lines_in_order, only_report, run_lines as run};
use ksim::fault_inject::FaultPlan;
use ksim::gfp::*;
use ksim::mm::slab::*;
use ksim::mm::*;
use ksim::prelude::*;

const FILE: &str = file!();

#[test]
fn slab_kzalloc_is_zeroed_and_kmalloc_is_poisoned_until_written() {
    let (o, _) = run(Config::modern(), |_| {
        let z = kzalloc(40, GFP_KERNEL).expect("kzalloc");
        let mut b = [0xffu8; 40];
        memcpy_from(&mut b, z);
        assert_eq!(b, [0; 40]);
        let p = kmalloc(40, GFP_KERNEL).expect("kmalloc");
        memcpy_from(&mut b, p);
        assert_eq!(b, [0x5a; 40], "POISON_INUSE until written");
        memcpy_to(p.add(4), b"data");
        memcpy_from(&mut b[..8], p);
        assert_eq!(&b[..8], b"\x5a\x5a\x5a\x5adata");
        assert_eq!(ksize(p), 64, "kmalloc-64");
        kfree(p);
        kfree(z);
        assert_eq!(kmalloc(0, GFP_KERNEL), Some(ZERO_SIZE_PTR));
        kfree(ZERO_SIZE_PTR);
        kfree(KAddr::NULL);
        assert_eq!(kcalloc(usize::MAX / 2, 4, GFP_KERNEL), None, "n * size overflows");
        assert_eq!(kmalloc(KMALLOC_MAX_SIZE + 1, GFP_KERNEL | __GFP_NOWARN), None);
    });
    assert!(o.is_clean(), "{:?}", o.reports);
    let mem = o.trace().allocations();
    assert!(
        mem.contains("kzalloc: size=40 kmalloc-64 GFP_KERNEL|__GFP_ZERO obj=0xffff888100000000 in main"),
        "{mem}"
    );
    assert!(mem.contains("kfree: obj=0xffff888100800000 in main"), "{mem}");
}

#[test]
fn slab_blocking_kmalloc_under_a_spinlock_sleeps_in_atomic() {
    let (o, lines) = run(Config::modern(), |lines| {
        let lock = SpinLock::new((), "cache.lock");
        let _g = at!(lines, "lock", spin_lock(&lock));
        at!(lines, "alloc", kzalloc(128, GFP_KERNEL));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "alloc")),
            "preempt_count: 1, expected: 0",
            &format!(" #0: (cache.lock){{+.+.}}, at: {}", lines.site(FILE, "lock")),
            " kzalloc(128, GFP_KERNEL|__GFP_ZERO)",
        ],
    );
    // GFP_ATOMIC under the same lock is fine.
    let (o, _) = run(Config::modern(), |_| {
        let lock = SpinLock::new((), "cache.lock");
        let _g = spin_lock(&lock);
        let p = kmalloc(128, GFP_ATOMIC).expect("atomic kmalloc");
        kfree(p);
    });
    assert!(o.is_clean(), "{:?}", o.reports);
}

#[test]
fn slab_access_past_the_requested_size_is_slab_out_of_bounds() {
    let (o, lines) = run(Config::modern(), |lines| {
        kfn!("fill_header");
        let p = at!(lines, "alloc", kmalloc(40, GFP_KERNEL)).expect("kmalloc");
        // Inside kmalloc-64's object but past the 40 bytes asked for: KASAN reports it.
        at!(lines, "use", memset(p.add(32), 0, 16));
        kfree(p);
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::OutOfBounds);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: KASAN: slab-out-of-bounds in memset at {}", lines.site(FILE, "use")),
            "The buggy address belongs to an object of the cache kmalloc-64",
            "Write of size 16 at addr 0xffff888100000020 by task main/1",
            "The buggy address is located 32 bytes inside of the 40-byte region; the access ends 8 bytes past its end",
            &format!(" kmalloc at {} <- fill_header", lines.site(FILE, "alloc")),
        ],
    );
}

#[test]
fn slab_use_after_free_and_double_free_name_both_sites() {
    let (o, lines) = run(Config::modern().panic_on_report(false), |lines| {
        let p = at!(lines, "alloc", kmalloc(16, GFP_KERNEL)).expect("kmalloc");
        at!(lines, "free", kfree(p));
        let mut b = [0u8; 4];
        at!(lines, "use", memcpy_from(&mut b, p));
        at!(lines, "again", kfree(p));
    });
    assert_eq!(o.kinds(), vec![Violation::UseAfterFree, Violation::DoubleFree]);
    assert_lines_in_order(
        &o.reports[0].text,
        &[
            &format!("BUG: KASAN: use-after-free in memcpy at {}", lines.site(FILE, "use")),
            &format!(" kmalloc at {}", lines.site(FILE, "alloc")),
            &format!(" kfree at {}", lines.site(FILE, "free")),
        ],
    );
    assert_lines_in_order(
        &o.report_of(Violation::DoubleFree).expect("double free").text,
        &[
            &format!("BUG: KASAN: double-free in kfree at {}", lines.site(FILE, "again")),
            "Free of addr 0xffff888100000000 by task main/1",
            "Allocated by task main/1 (GFP_KERNEL):",
            "Freed by task main/1:",
        ],
    );
}

#[test]
fn slab_invalid_frees_and_the_wrong_cache_are_reported() {
    let (o, lines) = run(Config::modern().panic_on_report(false), |lines| {
        let p = kmalloc(64, GFP_KERNEL).expect("kmalloc");
        at!(lines, "mid", kfree(p.add(8)));
        let page = alloc_page(GFP_KERNEL).expect("page");
        at!(lines, "page", kfree(ksim::highmem::page_address(page).expect("lowmem")));
        let a = kmem_cache_create("a_cache", 32, 0, SlabFlags::default()).expect("cache a");
        let b = kmem_cache_create("b_cache", 32, 0, SlabFlags::HWCACHE_ALIGN).expect("cache b");
        let x = kmem_cache_alloc(&a, GFP_KERNEL).expect("object");
        at!(lines, "wrong", kmem_cache_free(&b, x));
        kmem_cache_free(&a, x);
        kfree(p);
        __free_page(page);
        kmem_cache_destroy(a);
        kmem_cache_destroy(b);
    });
    assert_eq!(o.reports.len(), 3, "{:?}", o.reports);
    assert!(o.reports.iter().all(|r| r.kind == Violation::InvalidFree));
    assert_lines_in_order(
        &o.reports[0].text,
        &[
            &format!("BUG: KASAN: invalid-free in kfree at {}", lines.site(FILE, "mid")),
            "Free of addr 0xffff888100000008 by task main/1: the address is not the start of its object",
            "The buggy address is located 8 bytes inside of the 64-byte region",
        ],
    );
    assert!(o.reports[1].text.contains("the address is not a slab object"), "{}", o.reports[1].text);
    assert_eq!(
        o.reports[2].headline(),
        format!(
            "WARNING: kmem_cache_free at {}: Wrong slab cache. b_cache but object is from a_cache",
            lines.site(FILE, "wrong")
        )
    );
}

#[test]
fn slab_leaks_name_the_allocation_site_and_destroy_reports_remaining_objects() {
    let (o, lines) = run(Config::modern(), |lines| {
        kfn!("probe");
        let c = kmem_cache_create("dev_cache", 100, 0, SlabFlags::default()).expect("cache");
        let _kept = at!(lines, "obj", kmem_cache_zalloc(&c, GFP_KERNEL));
        at!(lines, "destroy", kmem_cache_destroy(c));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::Leak);
    assert_lines_in_order(
        &r.text,
        &[
            &format!(
                "WARNING: kmem_cache_destroy dev_cache: Slab cache still has objects when called from {}",
                lines.site(FILE, "destroy")
            ),
            &format!(
                "object 0xffff888100000000 (size 100) allocated by kmem_cache_alloc at {} <- probe",
                lines.site(FILE, "obj")
            ),
        ],
    );
    let (o, lines) = run(Config::modern(), |lines| {
        kfn!("probe");
        at!(lines, "leak", kzalloc(24, GFP_KERNEL));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::Leak);
    assert_lines_in_order(
        &r.text,
        &[
            "kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
            "unreferenced object 0xffff888100000000 (size 24):",
            "  comm \"main\", pid 1",
            &format!("    kzalloc at {} <- probe", lines.site(FILE, "leak")),
        ],
    );
}

#[test]
fn slab_failslab_fails_eligible_allocations_and_large_kmalloc_follows_fail_page_alloc() {
    // The kernel's defaults exempt sleepable allocations from failslab: nothing fails.
    let (o, _) = run(Config::modern(), |_| {
        let p = kmalloc(32, GFP_KERNEL).expect("default plan never fails a GFP_KERNEL kmalloc");
        kfree(p);
    });
    assert!(o.is_clean());
    let mut plan = FaultPlan::fail_nth(2);
    plan.page_alloc.min_order = 1;
    let (o, _) = run(Config::modern().faults(plan), |_| {
        let a = kmalloc(32, GFP_NOWAIT).expect("first");
        assert_eq!(kmalloc(32, GFP_NOWAIT), None, "the second eligible call fails");
        let c = kmalloc(32, GFP_NOWAIT).expect("third");
        kfree(a);
        kfree(c);
    });
    assert!(o.is_clean(), "{:?}", o.reports);
    assert!(o
        .trace()
        .allocations()
        .contains("kmalloc: size=32 kmalloc-32 GFP_NOWAIT FAILED (fault injection)"));
    // Above 8 KiB the page allocator decides: fail_page_alloc's filters apply.
    let mut plan = FaultPlan::default();
    plan.page_alloc.attr.probability = 100;
    plan.page_alloc.attr.times = -1;
    plan.page_alloc.ignore_gfp_wait = false;
    let (o, _) = run(Config::modern().faults(plan), |_| {
        assert_eq!(kmalloc(64 * 1024, GFP_KERNEL), None, "kmalloc-large is an order-4 page allocation");
        let small = kmalloc(64, GFP_KERNEL).expect("failslab is not armed");
        kfree(small);
    });
    assert!(o.is_clean(), "{:?}", o.reports);
}

#[test]
fn slab_krealloc_keeps_the_bytes_and_frees_the_old_object() {
    let (o, _) = run(Config::modern(), |_| {
        let p = kmalloc(20, GFP_KERNEL).expect("kmalloc");
        memcpy_to(p, b"0123456789abcdefghij");
        let same = krealloc(p, 30, GFP_KERNEL).expect("grow within kmalloc-32");
        assert_eq!(same, p);
        let q = krealloc(p, 100, GFP_KERNEL | __GFP_ZERO).expect("grow to kmalloc-128");
        assert_ne!(q, p);
        let mut b = [0xffu8; 40];
        memcpy_from(&mut b, q);
        assert_eq!(&b[..20], b"0123456789abcdefghij");
        assert_eq!(&b[30..], &[0; 10], "zeroed beyond the old size");
        assert_eq!(krealloc(q, 0, GFP_KERNEL), Some(ZERO_SIZE_PTR));
    });
    assert!(o.is_clean(), "{:?}", o.reports);
}
