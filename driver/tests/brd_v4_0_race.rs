//! brd v4.0 insert race (facts §1.3 step 6; checklist 9): two kthreads writing into the same
//! absent page both allocate; exactly one `radix_tree_insert` wins; the loser frees its page
//! *under `brd_lock`* and uses the winner's, so both writes land in one page. Explored
//! exhaustively with loom and with shuttle's bounded DFS.
#![forbid(unsafe_code)]

mod v4_common;

use std::sync::{Arc, Mutex};

use ksim::kthread::kthread_run;
use ksim::{Config, Outcome, Runner, Trace};
use ksim_drivers::brd_v4_0::{brd_exit, brd_init, Params};
use v4_common::*;

/// What one execution saw: the two sectors read back after both writers finished, and the
/// number of backing pages.
type Seen = (Vec<u8>, usize);

fn racers(seen: Arc<Mutex<Vec<Seen>>>) -> impl Fn() + Send + Sync + 'static {
    move || {
        let brd = brd_init(Params { rd_nr: 1, rd_size: 64, ..Params::default() }).unwrap();
        let writers: Vec<_> = (0..2u64)
            .map(|i| {
                let brd = brd.clone();
                kthread_run(&format!("writer{i}"), move || {
                    let bdev = brd.open(0).unwrap();
                    // Sector i of page 0: both need page 0.
                    write_bytes(&bdev, i, &pattern(512, i as u8 + 1)).unwrap();
                })
            })
            .collect();
        for w in writers {
            w.join();
        }
        let bdev = brd.open(0).unwrap();
        let back = read_bytes(&bdev, 0, 1024).unwrap();
        let nr = brd.nr_pages(0);
        drop(bdev);
        brd_exit(brd);
        seen.lock().unwrap_or_else(|e| e.into_inner()).push((back, nr));
    }
}

/// Whether a trace shows the race: two allocations by brd_insert_page and one free by it, done
/// with brd_lock held (preempt depth 2: the preload and the spinlock).
fn shows_race(t: &Trace) -> bool {
    let frees = brd_insert_frees(t);
    brd_allocs(t).len() == 2 && frees.len() == 1 && frees[0].contains(" ...2: __free_page")
}

fn check(o: &Outcome, seen: &[Seen]) {
    assert!(o.is_clean(), "{:#?}", o.reports);
    assert!(o.executions > 1);
    assert_eq!(seen.len() as u64, o.executions);
    let mut want = pattern(512, 1);
    want.extend(pattern(512, 2));
    for (back, nr) in seen {
        assert_eq!(back, &want, "both writes must land in the one page");
        assert_eq!(*nr, 1);
    }
    let raced: Vec<&Trace> = o.traces.iter().filter(|t| shows_race(t)).collect();
    assert!(!raced.is_empty(), "no execution showed two allocations and one free");
    // And some execution had no race at all: one allocation, no free.
    assert!(o.traces.iter().any(|t| brd_allocs(t).len() == 1 && brd_insert_frees(t).is_empty()));
    let t = raced[0].allocations();
    let free = brd_insert_frees(raced[0]).remove(0);
    assert!(
        free.ends_with("in brd_insert_page<-copy_to_brd_setup<-brd_do_bvec<-brd_make_request<-submit_bio"),
        "{t}"
    );
}

#[test]
fn brd_v4_0_insert_race_under_loom_frees_the_losers_page_under_brd_lock() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let o = Runner::loom(None).config(Config::v4_0()).run(racers(seen.clone()));
    let seen = seen.lock().unwrap().clone();
    check(&o, &seen);
}

#[test]
fn brd_v4_0_insert_race_under_dfs_frees_the_losers_page_under_brd_lock() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let o = Runner::dfs(Some(2), None).config(Config::v4_0()).run(racers(seen.clone()));
    let seen = seen.lock().unwrap().clone();
    check(&o, &seen);
}
