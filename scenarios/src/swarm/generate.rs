//! Generation: a [`Case`] is a pure function of its seed, drawn from one seeded `rand` generator.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Case, Driver, Faults, Op, PAGE_SECTORS};
use ksim::Scheduler;

/// The draws generation makes, over `rand`'s uniform ranges.
trait Pick {
    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64;
    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64;
    /// True with probability `percent`%.
    fn chance(&mut self, percent: u64) -> bool;
}

impl Pick for SmallRng {
    fn below(&mut self, n: u64) -> u64 {
        self.gen_range(0..n)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        self.gen_range(lo..=hi)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.gen_range(0..100) < percent
    }
}

/// Maximal runs of sectors owned by `w`, as (first, end) pairs.
fn owned_runs(owners: &[usize], w: usize) -> Vec<(u64, u64)> {
    let mut runs = Vec::new();
    let mut s = 0;
    while s < owners.len() {
        if owners[s] != w {
            s += 1;
            continue;
        }
        let start = s;
        while s < owners.len() && owners[s] == w {
            s += 1;
        }
        runs.push((start as u64, s as u64));
    }
    runs
}

/// Pages owned entirely by `w`.
fn private_pages(owners: &[usize], w: usize) -> Vec<u64> {
    owners
        .chunks(PAGE_SECTORS as usize)
        .enumerate()
        .filter(|(_, c)| c.iter().all(|&o| o == w))
        .map(|(p, _)| p as u64)
        .collect()
}

/// A random sub-run of `w`'s sectors: starts at a random owned sector (or, for overwrites, at
/// one `w` already wrote) and extends up to `max` sectors while `w` owns them.
fn pick_run(r: &mut SmallRng, owners: &[usize], w: usize, written: &[u64], max: u64) -> (u64, u64) {
    let owned: Vec<u64> = (0..owners.len() as u64).filter(|&s| owners[s as usize] == w).collect();
    let start = if !written.is_empty() && r.chance(40) {
        written[r.below(written.len() as u64) as usize]
    } else {
        owned[r.below(owned.len() as u64) as usize]
    };
    let want = r.range(1, max);
    let mut len = 1;
    while len < want && ((start + len) as usize) < owners.len() && owners[(start + len) as usize] == w {
        len += 1;
    }
    (start, len)
}

/// Consecutive pages of a sorted list, as (first, end) pairs.
fn runs_of_pages(pages: &[u64]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &p in pages {
        match runs.last_mut() {
            Some((_, end)) if *end == p => *end = p + 1,
            _ => runs.push((p, p + 1)),
        }
    }
    runs
}

impl Case {
    /// The case of `seed`.
    pub fn generate(seed: u64) -> Case {
        let mut r = SmallRng::seed_from_u64(seed ^ 0x6b73_696d_7377_726d);
        let driver = match r.below(6) {
            0 => Driver::BrdV4_0 { dax: true },
            1 => Driver::BrdV4_0 { dax: false },
            2 => Driver::BrdV6_1,
            3 => Driver::BrdCurrent,
            4 => Driver::BrdV6_1C,
            _ => Driver::PmemV4_1,
        };
        let pages = r.range(2, 12);
        let sectors = (pages * PAGE_SECTORS) as usize;
        let highmem = r.chance(25);
        let nworkers = r.range(1, 3) as usize;
        // Ownership: a page is one kthread's, or split between all of them in order.
        let mut owners = vec![0usize; sectors];
        for p in 0..pages as usize {
            let shared = nworkers > 1 && r.chance(30);
            let o = r.below(nworkers as u64) as usize;
            for j in 0..PAGE_SECTORS as usize {
                owners[p * PAGE_SECTORS as usize + j] =
                    if shared { j * nworkers / PAGE_SECTORS as usize } else { o };
            }
        }
        // A kthread left without sectors gets a share of a random page (which then gives every
        // kthread some).
        for w in 0..nworkers {
            if !owners.contains(&w) {
                let p = r.below(pages) as usize;
                for j in 0..PAGE_SECTORS as usize {
                    owners[p * PAGE_SECTORS as usize + j] = j * nworkers / PAGE_SECTORS as usize;
                }
            }
        }
        let faults = match r.below(4) {
            0 | 1 => Faults::None,
            2 => Faults::Probability { percent: [5, 10, 25, 50][r.below(4) as usize], slab: r.chance(50) },
            _ => Faults::FailNth,
        };
        let mut tag = 0u32;
        let mut workers = Vec::new();
        for w in 0..nworkers {
            let mut written: Vec<u64> = Vec::new();
            let mut ops = Vec::new();
            let private = private_pages(&owners, w);
            for _ in 0..r.range(1, 6) {
                tag += 1;
                let nth =
                    |r: &mut SmallRng| (faults == Faults::FailNth && r.chance(60)).then(|| r.range(1, 8));
                let kind = r.below(100);
                let op = if kind < 15 && driver.has_rw_page() && !private.is_empty() {
                    let sector = private[r.below(private.len() as u64) as usize] * PAGE_SECTORS;
                    if r.chance(60) {
                        written.extend(sector..sector + PAGE_SECTORS);
                        Op::WritePage { sector, tag, fail_nth: nth(&mut r) }
                    } else {
                        Op::ReadPage { sector }
                    }
                } else if kind < 35 {
                    // On drivers without discard, any owned run (it must be refused); with
                    // discard, whole pages this kthread owns alone.
                    let runs = owned_runs(&owners, w);
                    let priv_runs: Vec<(u64, u64)> = runs_of_pages(&private);
                    if !driver.supports_discard() {
                        let (s, e) = runs[r.below(runs.len() as u64) as usize];
                        Op::Discard { sector: s, sectors: r.range(1, e - s) }
                    } else if !priv_runs.is_empty() {
                        // Mostly from a page this kthread wrote, so 4.0's zeroing of the whole
                        // containing page destroys data the shadow must account for.
                        let dirty: Vec<u64> = private
                            .iter()
                            .copied()
                            .filter(|p| written.iter().any(|s| s / PAGE_SECTORS == *p))
                            .collect();
                        let first = if !dirty.is_empty() && r.chance(70) {
                            dirty[r.below(dirty.len() as u64) as usize]
                        } else {
                            let (p0, p1) = priv_runs[r.below(priv_runs.len() as u64) as usize];
                            r.range(p0, p1 - 1)
                        };
                        let (_, p1) =
                            *priv_runs.iter().find(|(a, b)| (*a..*b).contains(&first)).expect("a run");
                        let last = r.range(first, p1 - 1);
                        let start = first * PAGE_SECTORS + r.below(PAGE_SECTORS);
                        let end = (last * PAGE_SECTORS + r.range(1, PAGE_SECTORS)).max(start + 1);
                        Op::Discard { sector: start, sectors: end - start }
                    } else {
                        let (sector, sectors) = pick_run(&mut r, &owners, w, &written, 24);
                        Op::Read { sector, sectors }
                    }
                } else if kind < 55 {
                    let (sector, sectors) = pick_run(&mut r, &owners, w, &written, 24);
                    Op::Read { sector, sectors }
                } else {
                    let (sector, sectors) = pick_run(&mut r, &owners, w, &written, 24);
                    written.extend(sector..sector + sectors);
                    let nowait = driver.supports_nowait() && r.chance(25);
                    Op::Write { sector, sectors, tag, nowait, fail_nth: nth(&mut r) }
                };
                ops.push(op);
            }
            workers.push(ops);
        }
        let irqs = if r.chance(50) { 0 } else { r.range(1, 3) };
        for _ in 0..irqs {
            let w = r.below(nworkers as u64) as usize;
            let at = r.range(0, workers[w].len() as u64) as usize;
            workers[w].insert(at, Op::Irq);
        }
        let mut flush_after = false;
        if r.chance(30) {
            if nworkers == 1 {
                let at = r.range(0, workers[0].len() as u64) as usize;
                workers[0].insert(at, Op::Flush);
            } else {
                flush_after = true;
            }
        }
        let prepopulate = r.chance(30);
        let tasks = 1 + nworkers as u64 + 2 * irqs;
        let nops: usize = workers.iter().map(Vec::len).sum();
        let loom_ok = tasks <= 4 && nops <= 4;
        let scheduler = match r.below(if loom_ok { 4 } else { 3 }) {
            0 => Scheduler::Random { seed, iterations: r.range(2, 8) as usize },
            1 => Scheduler::Pct { seed, depth: r.range(2, 3) as usize, iterations: r.range(2, 8) as usize },
            2 => Scheduler::Dfs {
                preemption_bound: Some(r.range(1, 2) as usize),
                max_executions: Some(r.range(4, 16) as usize),
            },
            _ => Scheduler::Loom { preemption_bound: Some(r.range(0, 1) as usize) },
        };
        Case {
            seed,
            driver,
            pages,
            highmem,
            owners,
            workers,
            prepopulate,
            faults,
            flush_after,
            scheduler,
            tamper: false,
        }
    }
}
