//! The 2015 thread's scenarios: a DAX user calling `direct_access` from the wrong context, on
//! brd v4.0 (which may allocate, and so sleep) and on pmem v4.1 (pure offset arithmetic).

use std::sync::Arc;

use ksim::blk::{blkdev_ioctl, Bdev, Caps, BLKFLSBUF};
use ksim::check::expect;
use ksim::dax::bdev_direct_access;
use ksim::mm::memcpy_to;
use ksim::prelude::*;
use ksim_drivers::{brd_v4_0, dax_user, pmem_v4_1};

use crate::io::{pattern, zero_fill};
use crate::scenario::{Body, Expect, Scenario};
use crate::settings::Settings;

/// A small brd v4.0 (one 64 KiB disk) with the scenario's DAX and GFP settings.
pub(crate) fn brd(s: &Settings, size_kib: u64) -> brd_v4_0::Brd {
    let params = brd_v4_0::Params {
        rd_nr: 1,
        rd_size: size_kib,
        dax: s.on("dax"),
        insert_gfp: s.insert_gfp(),
        ..brd_v4_0::Params::default()
    };
    brd_v4_0::brd_init(params).expect("brd_init")
}

/// Whether a DAX user's result is right: success, or with DAX off (`->direct_access` is NULL)
/// the wrapper's `-EOPNOTSUPP`.
fn dax_result_ok(s: &Settings, r: &Result<usize, i64>) -> bool {
    r.is_ok() || (!s.on("dax") && *r == Err(Errno::EOPNOTSUPP.neg()))
}

/// The DAX user of the 2015 thread, under a spinlock, writing `len` bytes at sector 0.
fn map_under_lock(bdev: &Bdev, len: usize) {
    let lock = SpinLock::new((), "dax_user.lock");
    let r = dax_user::dax_map_range_atomic(bdev, &lock, 0, &pattern(1, len));
    expect(r.is_ok() || r == Err(Errno::EOPNOTSUPP.neg()), || format!("dax_map_range_atomic returned {r:?}"));
}

fn unpopulated(s: &Settings) -> Body {
    let s = s.clone();
    Arc::new(move || {
        let brd = brd(&s, 64);
        let bdev = Arc::new(brd.open(0).expect("open ram0"));
        let b = bdev.clone();
        kthread_run("dax-user", move || map_under_lock(&b, 8192)).join();
        drop(bdev);
        brd_v4_0::brd_exit(brd);
    })
}

fn prepopulated(s: &Settings) -> Body {
    let s = s.clone();
    Arc::new(move || {
        let brd = brd(&s, 64);
        let bdev = Arc::new(brd.open(0).expect("open ram0"));
        zero_fill(&bdev).expect("zero fill");
        let b = bdev.clone();
        kthread_run("dax-user", move || map_under_lock(&b, 8192)).join();
        drop(bdev);
        brd_v4_0::brd_exit(brd);
    })
}

/// The user maps page 0 under its spinlock, keeps the address, and writes through it after a
/// scheduling point; meanwhile another task flushes the backing store with BLKFLSBUF.
fn vs_flush(s: &Settings) -> Body {
    let s = s.clone();
    Arc::new(move || {
        let brd = brd(&s, 16);
        let bdev = Arc::new(brd.open(0).expect("open ram0"));
        zero_fill(&bdev).expect("zero fill");
        let (b1, b2) = (bdev.clone(), bdev.clone());
        let user = kthread_run("dax-user", move || {
            kfn!("dax_user_keep_address");
            let lock = SpinLock::new((), "dax_user.lock");
            let m = {
                let _g = spin_lock(&lock);
                bdev_direct_access(&b1, 0, 4096)
            };
            cond_resched();
            if let Ok(m) = m {
                memcpy_to(m.kaddr, &pattern(2, 4096));
            }
        });
        let flusher = kthread_run("blkflsbuf", move || {
            let r = blkdev_ioctl(&b2, BLKFLSBUF, 0, Caps { sys_admin: true });
            expect(r == Ok(0), || format!("BLKFLSBUF with one opener returned {r:?}"));
        });
        user.join();
        flusher.join();
        drop(bdev);
        brd_v4_0::brd_exit(brd);
    })
}

fn workqueue(s: &Settings) -> Body {
    let s = s.clone();
    Arc::new(move || {
        let brd = brd(&s, 64);
        let bdev = Arc::new(brd.open(0).expect("open ram0"));
        let lock = SpinLock::new((), "dax_user.lock");
        let r = dax_user::dax_map_range_wq(bdev.clone(), &lock, 0, Arc::new(pattern(3, 8192)));
        expect(dax_result_ok(&s, &r), || format!("dax_map_range_wq returned {r:?}"));
        drop(bdev);
        brd_v4_0::brd_exit(brd);
    })
}

fn irq(s: &Settings) -> Body {
    let s = s.clone();
    Arc::new(move || {
        let brd = brd(&s, 64);
        let bdev = Arc::new(brd.open(0).expect("open ram0"));
        let r = if s.on("fixed") {
            dax_user::dax_map_range_irq_wq(bdev.clone(), 9, 0, Arc::new(pattern(4, 4096)))
        } else {
            dax_user::dax_map_range_irq(bdev.clone(), 9, 0, Arc::new(pattern(4, 4096)))
        };
        expect(dax_result_ok(&s, &r), || format!("the irq-driven DAX user returned {r:?}"));
        drop(bdev);
        brd_v4_0::brd_exit(brd);
    })
}

fn pmem_atomic(_: &Settings) -> Body {
    Arc::new(|| {
        let pmem = pmem_v4_1::pmem_probe(64 * 1024).expect("pmem probe");
        let bdev = pmem.open().expect("open pmem0");
        map_under_lock(&bdev, 8192);
        drop(bdev);
        pmem_v4_1::pmem_remove(pmem);
    })
}

fn size_over_page(s: &Settings) -> Body {
    let s = s.clone();
    Arc::new(move || {
        let brd = brd(&s, 2048);
        let bdev = brd.open(0).expect("open ram0");
        let data = pattern(5, 1 << 20);
        let r = if s.on("fixed") {
            dax_user::dax_map_range(&bdev, 0, &data)
        } else {
            dax_user::dax_write_assuming_size(&bdev, 0, &data)
        };
        expect(dax_result_ok(&s, &r), || format!("the DAX user returned {r:?}"));
        if s.on("fixed") && s.on("dax") {
            crate::io::expect_read(&bdev, 0, &data, "1 MiB written through direct_access");
        }
        drop(bdev);
        brd_v4_0::brd_exit(brd);
    })
}

fn highmem(s: &Settings) -> Body {
    let s = s.clone();
    Arc::new(move || {
        let params = brd_v4_0::Params {
            rd_nr: 1,
            rd_size: 64,
            dax: true,
            force_highmem: !s.on("fixed"),
            ..brd_v4_0::Params::default()
        };
        let brd = brd_v4_0::brd_init(params).expect("brd_init");
        let bdev = brd.open(0).expect("open ram0");
        let r = dax_user::dax_map_range(&bdev, 0, &pattern(6, 8192));
        expect(r.is_ok(), || format!("dax_map_range returned {r:?}"));
        drop(bdev);
        brd_v4_0::brd_exit(brd);
    })
}

fn by_mode(s: &Settings, observed: Expect, contract: Expect) -> Expect {
    match s.mode() {
        CheckMode::Observed => observed,
        CheckMode::Contract => contract,
    }
}

const SIA: Violation = Violation::SleepInAtomic;

/// The DAX scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "dax-atomic-unpopulated",
            summary: "a DAX user calls direct_access under a spinlock on a fresh brd v4.0",
            description: "brd v4.0 with CONFIG_BLK_DEV_RAM_DAX, one 64 KiB disk, nothing written. The DAX user of the \
                          2015 thread maps two pages through bdev_direct_access while holding a spinlock. \
                          brd_direct_access must allocate the backing page (alloc_page(GFP_NOIO|__GFP_ZERO), then \
                          radix_tree_preload(GFP_NOIO)), so it sleeps in atomic context: found in observed mode and \
                          in contract mode. With dax=off, direct_access is NULL (-EOPNOTSUPP): clean when observed, \
                          still a contract violation.",
            base: &[("profile", "4.0")],
            body: unpopulated,
            expect: |s| if s.on("dax") { Expect::finds(SIA) } else { by_mode(s, Expect::Clean, Expect::finds(SIA)) },
            interleaving_dependent: false,
            max_tasks: 2,
            tune: None,
            keys: &["dax", "gfp"],
            drivers: &[],
        },
        Scenario {
            name: "dax-atomic-prepopulated",
            summary: "the same after writing zeros to the whole device: hidden when observed, found by contract",
            description: "As dax-atomic-unpopulated, but the device is first filled with zeros (Dave Chinner's advice: \
                          then \".direct_access will never do allocation until you flush the backing store\"). Every \
                          page exists, brd_insert_page returns after an RCU lookup, nothing sleeps: clean in observed \
                          mode — the kernel's own DEBUG_ATOMIC_SLEEP would never see it. Contract mode checks that \
                          direct_access may sleep and reports the caller in every run.",
            base: &[("profile", "4.0")],
            body: prepopulated,
            expect: |s| by_mode(s, Expect::Clean, Expect::finds(SIA)),
            interleaving_dependent: false,
            max_tasks: 2,
            tune: None,
            keys: &["dax", "gfp"],
            drivers: &[],
        },
        Scenario {
            name: "dax-atomic-vs-flush",
            summary: "a pre-populated DAX user races BLKFLSBUF: sleep in atomic or use after free, by interleaving",
            description: "A pre-populated 16 KiB brd v4.0. The DAX user maps page 0 under a spinlock, keeps the kernel \
                          address, reschedules, then writes through it; a second task issues BLKFLSBUF through the \
                          same open (bd_openers is 1, so brd frees every page). If the flush lands first, the map \
                          allocates under the spinlock: sleep in atomic context. If it lands between the map and \
                          the write, the write goes to a freed page: use after free. Only some interleavings show \
                          either; PCT, DFS and loom find them. Contract mode reports the map in every run.",
            base: &[("profile", "4.0")],
            body: vs_flush,
            expect: |s| {
                let found = Expect::Finds(vec![SIA, Violation::UseAfterFree]);
                if s.on("dax") {
                    found
                } else {
                    by_mode(s, Expect::Clean, found)
                }
            },
            interleaving_dependent: true,
            max_tasks: 3,
            tune: None,
            keys: &["dax", "gfp"],
            drivers: &[],
        },
        Scenario {
            name: "dax-workqueue",
            summary: "the spinlock holder punts each direct_access to a workqueue: clean",
            description: "The DAX user holds its spinlock only to queue a work item; the worker, in process context, \
                          maps the pages through bdev_direct_access and may sleep. Clean in both modes: this is the \
                          fix the 2015 answer implies.",
            base: &[("profile", "4.0")],
            body: workqueue,
            expect: |_| Expect::Clean,
            interleaving_dependent: false,
            max_tasks: 3,
            tune: None,
            keys: &["dax", "gfp"],
            drivers: &[],
        },
        Scenario {
            name: "dax-irq",
            summary: "direct_access from a hardirq handler on an unpopulated page",
            description: "A device interrupt's handler maps a page of a fresh brd v4.0 through bdev_direct_access. \
                          The handler runs in hardirq context (preempt_count 0x10000, irqs disabled) and brd \
                          allocates: sleep in atomic context in both modes. With fixed=yes the handler queues a \
                          work item instead: clean.",
            base: &[("profile", "4.0")],
            body: irq,
            expect: |s| match (s.on("fixed"), s.on("dax")) {
                (true, _) => Expect::Clean,
                (false, true) => Expect::finds(SIA),
                (false, false) => by_mode(s, Expect::Clean, Expect::finds(SIA)),
            },
            interleaving_dependent: false,
            max_tasks: 3,
            tune: None,
            keys: &["dax", "gfp", "fixed"],
            drivers: &[],
        },
        Scenario {
            name: "pmem-atomic",
            summary: "pmem v4.1's direct_access under a spinlock: offset arithmetic, found only by contract",
            description: "The same atomic DAX user on a 64 KiB pmem v4.1 device. pmem_direct_access is pure \
                          arithmetic over memory reserved at probe (\"an NV-DIMM simply offsets the pfn\"): nothing \
                          sleeps, clean in observed mode. The contract says direct_access may sleep, so contract \
                          mode reports the caller: the code is only correct for this one driver.",
            base: &[("profile", "4.0")],
            body: pmem_atomic,
            expect: |s| by_mode(s, Expect::Clean, Expect::finds(SIA)),
            interleaving_dependent: false,
            max_tasks: 1,
            tune: None,
            keys: &[],
            drivers: &[],
        },
        Scenario {
            name: "dax-size-over-page",
            summary: "a caller asks direct_access for 1 MiB and assumes it got it: out of bounds on brd",
            description: "A 2 MiB brd v4.0. The caller asks bdev_direct_access for 1 MiB at sector 0 and copies 1 MiB \
                          through the returned address. brd returns PAGE_SIZE (it ignores size: \"we could look to \
                          see if the next page ... happens to be mapped to the next page of physical RAM\"), so the \
                          copy runs past the page: out of bounds. With fixed=yes the caller loops, trusting only the \
                          returned length: clean, and the 1 MiB reads back.",
            base: &[("profile", "4.0")],
            body: size_over_page,
            expect: |s| {
                if s.on("fixed") || !s.on("dax") {
                    Expect::Clean
                } else {
                    Expect::finds(Violation::OutOfBounds)
                }
            },
            interleaving_dependent: false,
            max_tasks: 1,
            tune: None,
            keys: &["dax", "gfp", "fixed"],
            drivers: &[],
        },
        Scenario {
            name: "dax-highmem",
            summary: "brd v4.0 with DAX on a 32-bit highmem machine and __GFP_HIGHMEM forced: NULL kaddr",
            description: "A highmem machine (256 lowmem pages) and brd v4.0 with DAX, mutated to allocate with \
                          __GFP_HIGHMEM anyway (what the 4.0 comment warns against: direct_access \"must return \
                          memory that is always addressable\"). The page comes from ZONE_HIGHMEM, page_address() is \
                          NULL, and the DAX user's copy dereferences it: non-addressable memory. With fixed=yes (the \
                          real flags, no __GFP_HIGHMEM with DAX) the pages are lowmem: clean.",
            base: &[("profile", "4.0"), ("highmem", "on")],
            body: highmem,
            expect: |s| if s.on("fixed") { Expect::Clean } else { Expect::finds(Violation::NonAddressable) },
            interleaving_dependent: false,
            max_tasks: 1,
            tune: None,
            keys: &["fixed", "highmem"],
            drivers: &[],
        },
    ]
}
