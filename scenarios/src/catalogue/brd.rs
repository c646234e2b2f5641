//! brd scenarios beyond DAX: the insert race, reclaim recursion, allocation failure at every
//! point, reads of unwritten sectors, REQ_NOWAIT, discard racing a reader, and an allocation
//! under RCU.

use std::sync::{Arc, Mutex as StdMutex};

use ksim::check::{expect, expect_eq};
use ksim::fault_inject::{fail_nth, set_fail_nth};
use ksim::gfp::{Gfp, GFP_KERNEL};
use ksim::mm::{__free_page, alloc_page, nr_allocated_pages, register_shrinker, Page, PAGE_SIZE};
use ksim::prelude::*;
use ksim::xarray::{xa_erase, xa_store, XArray};
use ksim::Config;
use ksim_drivers::{brd_current, brd_v4_0};

use super::dax::brd;
use crate::brds::{Driver, Generation};
use crate::io::{discard, expect_read, pattern, read, write, Prepared};
use crate::scenario::{Body, Expect, Scenario};
use crate::settings::Settings;

fn insert_race(s: &Settings) -> Body {
    let s = s.clone();
    let driver = Driver::of(&s);
    Arc::new(move || {
        let brd = driver.load(&s, 16);
        let bdev = Arc::new(brd.open(0).expect("open ram0"));
        let writer = |name: &'static str, sector: u64, tag: u8| {
            let b = bdev.clone();
            kthread_run(name, move || write(&b, sector, &pattern(tag, 512)).expect("write"))
        };
        let (a, b) = (writer("writer-a", 0, 1), writer("writer-b", 1, 2));
        a.join();
        b.join();
        let mut want = pattern(1, 512);
        want.extend(pattern(2, 512));
        expect_read(&bdev, 0, &want, "both racing writers' sectors");
        expect_eq(brd.nr_pages(0), 1, "brd pages after two first touches of one page");
        drop(bdev);
        brd.exit();
    })
}

/// A clean cache of `n` pages that reclaim may shrink (it needs no I/O to drop them).
fn page_cache(n: usize) -> Arc<StdMutex<Vec<Page>>> {
    let cache: Vec<Page> = (0..n).map(|_| alloc_page(GFP_KERNEL).expect("cache page")).collect();
    let cache = Arc::new(StdMutex::new(cache));
    let c = cache.clone();
    register_shrinker("clean_pagecache", Gfp::EMPTY, move |nr| {
        let mut freed = 0;
        while freed < nr {
            let Some(p) = c.lock().expect("cache").pop() else { break };
            __free_page(p);
            freed += 1;
        }
        freed
    });
    cache
}

fn reclaim_recursion(s: &Settings) -> Body {
    let s = s.clone();
    Arc::new(move || {
        let brd = brd(&s, 64);
        let bdev = brd.open(0).expect("open ram0");
        let cache = page_cache(32);
        let data = pattern(3, 64 * 1024);
        let r = write(&bdev, 0, &data);
        expect(r.is_ok(), || format!("a write under memory pressure failed: {r:?}"));
        expect_read(&bdev, 0, &data, "data written under memory pressure");
        for p in cache.lock().expect("cache").drain(..) {
            __free_page(p);
        }
        drop(bdev);
        brd_v4_0::brd_exit(brd);
    })
}

/// Fails the n-th eligible allocation of a straddling write, for every n until one round
/// injects nothing; checks errnos, the data written before, and (at brd_exit) leaks.
fn alloc_fail_sweep(s: &Settings) -> Body {
    let s = s.clone();
    let driver = Driver::of(&s);
    let errno = driver.generation().bio_error();
    Arc::new(move || {
        for n in 1..=64 {
            let brd = driver.load(&s, 64);
            let bdev = brd.open(0).expect("open ram0");
            let before = pattern(7, 2 * PAGE_SIZE);
            write(&bdev, 0, &before).expect("unarmed write");
            // Three 4 KiB segments from sector 20 (2 KiB into page 2): each straddles two pages.
            let data = pattern(8, 3 * PAGE_SIZE);
            let mut bio = Prepared::write(20, &data, false);
            set_fail_nth(n);
            let r = bio.submit(&bdev);
            let fired = fail_nth() == 0;
            set_fail_nth(0);
            bio.free();
            expect_eq(r, if fired { Err(errno) } else { Ok(()) }, "write result with fail-nth");
            expect_read(&bdev, 0, &before, "data written before the failure");
            let got = read(&bdev, 20, data.len()).expect("read back");
            let mut zero_seen = false;
            for (i, (g, w)) in got.chunks(PAGE_SIZE).zip(data.chunks(PAGE_SIZE)).enumerate() {
                let written = g == w;
                let absent = g.iter().all(|&b| b == 0);
                expect(written || absent, || {
                    format!("fail-nth {n}: segment {i} is neither written nor untouched")
                });
                expect(!(written && zero_seen), || {
                    format!("fail-nth {n}: segment {i} written after a failed one")
                });
                zero_seen |= absent && !written;
            }
            drop(bdev);
            brd.exit();
            if !fired {
                break;
            }
        }
    })
}

fn read_unwritten(s: &Settings) -> Body {
    let s = s.clone();
    let driver = Driver::of(&s);
    Arc::new(move || {
        let brd = driver.load(&s, 64);
        let bdev = brd.open(0).expect("open ram0");
        let before = nr_allocated_pages();
        let got = read(&bdev, 3, 32 * 1024).expect("read");
        expect(got.iter().all(|&b| b == 0), || "a never-written sector did not read as zeros".to_string());
        expect_eq(brd.nr_pages(0), 0, "brd pages after reading unwritten sectors");
        expect_eq(nr_allocated_pages(), before, "pages allocated by reads of unwritten sectors");
        drop(bdev);
        brd.exit();
    })
}

fn nowait_write(s: &Settings) -> Body {
    let s = s.clone();
    let driver = Driver::of(&s);
    Arc::new(move || {
        let brd = driver.load(&s, 64);
        let bdev = brd.open(0).expect("open ram0");
        let mut bio = Prepared::write(0, &pattern(9, PAGE_SIZE), true);
        let ballast: Vec<Page> =
            std::iter::from_fn(|| alloc_page(ksim::gfp::GFP_NOWAIT)).take(NOWAIT_LIMIT as usize).collect();
        non_block_start();
        let r = bio.submit(&bdev);
        non_block_end();
        expect_eq(r, Err(Errno::EAGAIN), "REQ_NOWAIT write with no free memory");
        for p in ballast {
            __free_page(p);
        }
        let r = bio.submit(&bdev);
        expect_eq(r, Ok(()), "REQ_NOWAIT write with memory free");
        bio.free();
        expect_read(&bdev, 0, &pattern(9, PAGE_SIZE), "the REQ_NOWAIT write");
        drop(bdev);
        brd.exit();
    })
}

/// The memory limit of nowait-write: the bio's page, then ballast up to the limit.
const NOWAIT_LIMIT: u64 = 64;

fn discard_vs_read(_: &Settings) -> Body {
    Arc::new(|| {
        let params = brd_current::Params { rd_nr: 1, rd_size: 16, ..brd_current::Params::default() };
        let brd = brd_current::brd_init(params).expect("brd_init");
        let bdev = Arc::new(brd.open(0).expect("open ram0"));
        let data = pattern(10, PAGE_SIZE);
        write(&bdev, 0, &data).expect("write");
        let (b1, b2) = (bdev.clone(), bdev.clone());
        let reader = kthread_run("reader", move || {
            let got = read(&b1, 0, PAGE_SIZE).expect("read");
            expect(got == data || got.iter().all(|&b| b == 0), || {
                "a read racing discard saw torn data".to_string()
            });
        });
        let discarder = kthread_run("discard", move || discard(&b2, 0, PAGE_SIZE as u64).expect("discard"));
        reader.join();
        discarder.join();
        expect_eq(brd.nr_pages(0), 0, "brd pages after discarding the only page");
        drop(bdev);
        brd_current::brd_exit(brd);
    })
}

fn rcu_sleep(s: &Settings) -> Body {
    let fixed = s.on("fixed");
    Arc::new(move || {
        let t = kthread_run("xa-user", move || {
            kfn!("xa_user_publish");
            let xa: XArray<Page> = XArray::new("&xa->xa_lock");
            let page = alloc_page(GFP_KERNEL).expect("page");
            if !fixed {
                rcu_read_lock();
            }
            let r = xa_store(&xa, 4096, page, GFP_KERNEL);
            if !fixed {
                rcu_read_unlock();
            }
            expect(r.is_ok(), || format!("xa_store returned {r:?}"));
            xa_erase(&xa, 4096);
            __free_page(page);
        });
        t.join();
    })
}

/// The brd scenarios.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "insert-race",
            summary: "two writers first-touch the same brd page: both allocate, one frees, no report",
            description: "Two kthreads write different sectors of the same, still absent, page of a brd v4.0. Both \
                          miss in brd_lookup_page and allocate; under brd_lock one radix_tree_insert wins, the \
                          other gets -EEXIST, frees its page under the lock and uses the winner's. Clean in every \
                          interleaving; the trace of the racing interleavings shows two allocations and one free, \
                          and both sectors read back.",
            base: &[],
            body: insert_race,
            expect: |_| Expect::Clean,
            interleaving_dependent: false,
            max_tasks: 3,
            tune: None,
            keys: &["dax", "gfp"],
            drivers: &[Generation::V4_0, Generation::V6_1, Generation::V6_1C],
        },
        Scenario {
            name: "reclaim-recursion",
            summary: "brd's insert path allocating with GFP_KERNEL under memory pressure recurses into reclaim",
            description: "A 48-page machine with a 32-page clean page cache; a 64 KiB write to brd v4.0 must reclaim \
                          from inside brd_make_request. With gfp=kernel (a mutant: GFP_KERNEL instead of GFP_NOIO in \
                          brd_insert_page) direct reclaim may issue I/O from inside the block I/O path: reclaim \
                          recursion, the reason brd uses GFP_NOIO. With the kernel's GFP_NOIO, reclaim drops clean \
                          cache pages, the write succeeds and reads back: clean.",
            base: &[("profile", "4.0")],
            body: reclaim_recursion,
            expect: |s| {
                if s.insert_gfp().is_some() {
                    Expect::finds(Violation::ReclaimRecursion)
                } else {
                    Expect::Clean
                }
            },
            interleaving_dependent: false,
            max_tasks: 1,
            tune: Some(|_, c: &mut Config| c.mem.limit_pages = Some(48)),
            keys: &["dax", "gfp"],
            drivers: &[],
        },
        Scenario {
            name: "alloc-fail-sweep",
            summary: "fail the N-th allocation of a straddling write, for every N: errnos, no leak, no corruption",
            description: "brd v4.0 with fault injection made able to fail brd's allocations (min-order 0, \
                          ignore-gfp-wait and ignore-gfp-highmem off; the kernel's defaults never fail them). For \
                          each N the task writes N to its fail-nth and submits a bio of three 4 KiB segments that \
                          each straddle two brd pages. The bio must end with -ENOSPC when an allocation failed, \
                          segments before the failure are written and the rest untouched, data written before \
                          stays intact, and brd_exit leaves no page behind (the first page of a failed straddling \
                          insert stays allocated until then, as in 4.0). Clean.",
            base: &[],
            body: alloc_fail_sweep,
            expect: |_| Expect::Clean,
            interleaving_dependent: false,
            max_tasks: 1,
            tune: Some(|_, c: &mut Config| {
                c.faults.page_alloc.min_order = 0;
                c.faults.page_alloc.ignore_gfp_wait = false;
                c.faults.page_alloc.ignore_gfp_highmem = false;
                c.faults.slab.ignore_gfp_wait = false;
            }),
            keys: &["dax", "gfp"],
            drivers: &[Generation::V4_0, Generation::V6_1, Generation::V6_1C],
        },
        Scenario {
            name: "read-unwritten",
            summary: "reads of never-written sectors: zeros, and brd allocates nothing",
            description: "A 64 KiB brd v4.0 is read (32 KiB from sector 3) before anything is written. \
                          copy_from_brd finds no page and returns zeros without allocating: the reads read \
                          zeros, brd holds no page and the allocator's count is unchanged. Clean.",
            base: &[],
            body: read_unwritten,
            expect: |_| Expect::Clean,
            interleaving_dependent: false,
            max_tasks: 1,
            tune: None,
            keys: &["dax", "gfp"],
            drivers: &[Generation::V4_0, Generation::V6_1, Generation::V6_1C],
        },
        Scenario {
            name: "nowait-write",
            summary: "brd v6.1 REQ_NOWAIT write with no free memory: -EAGAIN, never sleeps",
            description: "brd v6.1 (the version user-mode-linux 6.1 ships) on a machine whose memory is used up. A \
                          REQ_NOWAIT write is submitted inside non_block_start()/non_block_end(), so any sleep would \
                          be reported: brd allocates with GFP_NOWAIT, skips the radix-tree preload, fails and ends \
                          the bio with -EAGAIN (bio_wouldblock_error). After memory is freed the same bio succeeds \
                          and reads back. Clean.",
            base: &[],
            body: nowait_write,
            expect: |_| Expect::Clean,
            interleaving_dependent: false,
            max_tasks: 1,
            tune: Some(|_, c: &mut Config| c.mem.limit_pages = Some(NOWAIT_LIMIT + 1)),
            keys: &[],
            drivers: &[Generation::V6_1, Generation::V6_1C],
        },
        Scenario {
            name: "discard-vs-read",
            summary: "current brd: a discard frees a page while a reader reads it — page references keep it safe",
            description: "Current brd (xarray, discard frees pages). One kthread reads the only written page while \
                          another discards it. The reader's lookup takes a page reference under RCU \
                          (get_page_unless_zero, then re-checks the slot), so the discard's put_page never frees a \
                          page under it: no use after free in any interleaving, the reader sees the data or zeros, \
                          and the page is gone afterwards. Clean.",
            base: &[],
            body: discard_vs_read,
            expect: |_| Expect::Clean,
            interleaving_dependent: false,
            max_tasks: 3,
            tune: None,
            keys: &[],
            drivers: &[],
        },
        Scenario {
            name: "rcu-sleep",
            summary: "xa_store(GFP_KERNEL) inside rcu_read_lock on PREEMPT_RCU: RCU nest depth 1",
            description: "A kthread publishes a page in an xarray with xa_store(GFP_KERNEL) while holding \
                          rcu_read_lock(). The xarray drops its own xa_lock around the node allocation, but not \
                          the caller's RCU read lock: on a PREEMPT_RCU kernel the allocation reports \
                          \"preempt_count: 0, expected: 0\" and \"RCU nest depth: 1, expected: 0\". With fixed=yes \
                          the store happens outside the read-side section: clean.",
            base: &[("rcu", "preempt")],
            body: rcu_sleep,
            expect: |s| if s.on("fixed") { Expect::Clean } else { Expect::finds(Violation::SleepInAtomic) },
            interleaving_dependent: false,
            max_tasks: 2,
            tune: None,
            keys: &["fixed"],
            drivers: &[],
        },
    ]
}
