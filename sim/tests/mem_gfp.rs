//! GFP flags in both profiles (facts §4, checklist 16): numeric values, the kernel's display
//! names, `gfpflags_allow_blocking`, and `gfp::parse` reading back every displayed name.
#![forbid(unsafe_code)]

use ksim::gfp::*;
use ksim::Profile::{Modern, V4_0};

/// Every single flag and the usual combinations.
fn samples() -> Vec<Gfp> {
    vec![
        Gfp::EMPTY,
        GFP_NOWAIT,
        GFP_ATOMIC,
        GFP_NOIO,
        GFP_NOFS,
        GFP_KERNEL,
        GFP_USER,
        GFP_HIGHUSER,
        GFP_NOIO | __GFP_ZERO,
        GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM,
        GFP_KERNEL | __GFP_NOWARN | __GFP_COMP,
        GFP_ATOMIC | __GFP_NOWARN,
        __GFP_ZERO,
        __GFP_HIGHMEM,
        __GFP_DMA,
        __GFP_DMA32,
        __GFP_HIGH,
        __GFP_IO,
        __GFP_FS,
        __GFP_NOWARN,
        __GFP_RETRY_MAYFAIL,
        __GFP_NOFAIL,
        __GFP_NORETRY,
        __GFP_COMP,
        __GFP_MEMALLOC,
        __GFP_NOMEMALLOC,
        __GFP_HARDWALL,
        __GFP_THISNODE,
        __GFP_RECLAIMABLE,
        __GFP_MOVABLE,
        __GFP_WRITE,
        __GFP_DIRECT_RECLAIM,
        __GFP_KSWAPD_RECLAIM,
    ]
}

#[test]
fn gfp_v4_0_values_match_the_2015_header() {
    // 4.0 include/linux/gfp.h: GFP_NOIO = __GFP_WAIT (0x10), GFP_NOFS = WAIT|IO,
    // GFP_KERNEL = WAIT|IO|FS, GFP_ATOMIC = __GFP_HIGH, GFP_NOWAIT = 0.
    assert_eq!(GFP_NOIO.value(V4_0), 0x10);
    assert_eq!(__GFP_WAIT.value(V4_0), 0x10);
    assert_eq!(GFP_NOFS.value(V4_0), 0x50);
    assert_eq!(GFP_KERNEL.value(V4_0), 0xd0);
    assert_eq!(GFP_ATOMIC.value(V4_0), 0x20);
    assert_eq!(GFP_NOWAIT.value(V4_0), 0);
    assert_eq!(GFP_USER.value(V4_0), 0x200d0);
    assert_eq!(GFP_HIGHUSER.value(V4_0), 0x200d2);
    assert_eq!(__GFP_ZERO.value(V4_0), 0x8000);
    // brd 4.0's allocation: __GFP_WAIT | __GFP_ZERO | __GFP_HIGHMEM.
    assert_eq!((GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM).value(V4_0), 0x8012);
}

#[test]
fn gfp_modern_values_match_gfp_types_h() {
    // __GFP_RECLAIM = DIRECT (0x400) | KSWAPD (0x800); IO 0x40, FS 0x80, HIGH 0x20.
    assert_eq!(__GFP_RECLAIM.value(Modern), 0xc00);
    assert_eq!(GFP_NOIO.value(Modern), 0xc00);
    assert_eq!(GFP_NOFS.value(Modern), 0xc40);
    assert_eq!(GFP_KERNEL.value(Modern), 0xcc0);
    assert_eq!(GFP_ATOMIC.value(Modern), 0x820);
    assert_eq!(GFP_NOWAIT.value(Modern), 0x800);
    assert_eq!(GFP_USER.value(Modern), 0x100cc0);
    assert_eq!(__GFP_ZERO.value(Modern), 0x100);
    assert_eq!((GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM).value(Modern), 0xd02);
}

#[test]
fn gfp_display_composites_in_both_profiles() {
    for p in [V4_0, Modern] {
        assert_eq!((GFP_NOIO | __GFP_ZERO | __GFP_HIGHMEM).display(p), "GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM");
        assert_eq!(GFP_KERNEL.display(p), "GFP_KERNEL");
        assert_eq!((GFP_KERNEL | __GFP_ZERO).display(p), "GFP_KERNEL|__GFP_ZERO");
        assert_eq!(GFP_NOFS.display(p), "GFP_NOFS");
        assert_eq!(GFP_ATOMIC.display(p), "GFP_ATOMIC");
        assert_eq!(GFP_NOWAIT.display(p), "GFP_NOWAIT");
        assert_eq!(GFP_HIGHUSER.display(p), "GFP_HIGHUSER");
    }
    // `Display` is the modern name.
    assert_eq!(format!("{}", GFP_NOIO | __GFP_ZERO), "GFP_NOIO|__GFP_ZERO");
}

#[test]
fn gfp_display_of_no_flags_differs_by_profile() {
    // 4.0 gfpflags.h: `(flags) ? __print_flags(...) : "GFP_NOWAIT"` (GFP_NOWAIT is 0 there);
    // modern mmflags.h: `... : "none"`.
    assert_eq!(Gfp::EMPTY.display(V4_0), "GFP_NOWAIT");
    assert_eq!(Gfp::EMPTY.display(Modern), "none");
    // 4.0 has no kswapd bit: GFP_NOWAIT is 0 there, and a lone kswapd bit is no flag at all.
    assert_eq!(__GFP_KSWAPD_RECLAIM.display(V4_0), "GFP_NOWAIT");
    assert_eq!(__GFP_KSWAPD_RECLAIM.display(Modern), "GFP_NOWAIT");
}

#[test]
fn gfp_display_of_a_lone_direct_reclaim_bit() {
    // 4.0: the one "may block" bit is __GFP_WAIT = 0x10 = GFP_NOIO, and show_gfp_flags lists
    // GFP_NOIO before GFP_WAIT, so the kernel prints it as "GFP_NOIO".
    assert_eq!(__GFP_DIRECT_RECLAIM.value(V4_0), 0x10);
    assert_eq!(__GFP_DIRECT_RECLAIM.display(V4_0), "GFP_NOIO");
    assert_eq!((__GFP_DIRECT_RECLAIM | __GFP_FS).display(V4_0), "GFP_NOIO|__GFP_FS");
    // Modern: GFP_NOIO needs both reclaim bits, so the lone bit shows by itself.
    assert_eq!(__GFP_DIRECT_RECLAIM.value(Modern), 0x400);
    assert_eq!(__GFP_DIRECT_RECLAIM.display(Modern), "__GFP_DIRECT_RECLAIM");
    // The 4.0 name of __GFP_RETRY_MAYFAIL's bit.
    assert_eq!(__GFP_RETRY_MAYFAIL.display(V4_0), "__GFP_REPEAT");
    assert_eq!(__GFP_RETRY_MAYFAIL.display(Modern), "__GFP_RETRY_MAYFAIL");
    // Consumed in order like __print_flags: GFP_ATOMIC (4.0: __GFP_HIGH) before GFP_NOIO.
    assert_eq!((__GFP_HIGH | __GFP_DIRECT_RECLAIM).display(V4_0), "GFP_ATOMIC|GFP_NOIO");
    assert_eq!((GFP_KERNEL | __GFP_HIGH).display(Modern), "GFP_KERNEL|__GFP_HIGH");
}

#[test]
fn gfpflags_allow_blocking_is_the_direct_reclaim_bit() {
    let blocking: Vec<bool> =
        [GFP_NOIO, GFP_NOFS, GFP_KERNEL, __GFP_DIRECT_RECLAIM, GFP_NOIO | __GFP_HIGHMEM]
            .into_iter()
            .map(gfpflags_allow_blocking)
            .collect();
    assert_eq!(blocking, [true; 5]);
    let non_blocking: Vec<bool> =
        [GFP_ATOMIC, GFP_NOWAIT, __GFP_KSWAPD_RECLAIM, Gfp::EMPTY, __GFP_ZERO | __GFP_HIGH]
            .into_iter()
            .map(gfpflags_allow_blocking)
            .collect();
    assert_eq!(non_blocking, [false; 5]);
}

#[test]
fn gfp_parse_round_trips_every_displayed_name() {
    for g in samples() {
        let modern = g.display(Modern);
        assert_eq!(parse(&modern), Ok(g), "modern {modern}");
        // 4.0 cannot tell the two reclaim bits apart, so its names read back to the same value.
        let old = g.display(V4_0);
        let back = parse(&old).unwrap_or_else(|e| panic!("4.0 {old}: {e}"));
        assert_eq!(back.value(V4_0), g.value(V4_0), "4.0 {old}");
    }
}

#[test]
fn gfp_parse_reads_names_and_rejects_unknown_ones() {
    assert_eq!(parse(" GFP_NOIO | __GFP_ZERO "), Ok(GFP_NOIO | __GFP_ZERO));
    assert_eq!(parse("__GFP_WAIT"), Ok(GFP_NOIO));
    assert_eq!(parse("__GFP_RECLAIM|__GFP_IO|__GFP_FS"), Ok(GFP_KERNEL));
    assert_eq!(parse("GFP_KERNEL|__GFP_HIGHMEM|__GFP_HARDWALL"), Ok(GFP_HIGHUSER));
    assert_eq!(parse("GFP_BOGUS"), Err("unknown GFP flag 'GFP_BOGUS'".to_string()));
    assert_eq!(parse("GFP_NOIO|"), Err("unknown GFP flag ''".to_string()));
}
