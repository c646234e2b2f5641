//! The units of work of `ksim check` and how a shard runs them.
//!
//! A *unit* is one scenario × mode × scheduler × seed; a *cell* is one (test, scheduler) pair —
//! one KTAP subtest — and gathers the tallies of its seeds. Units are numbered in catalogue
//! order (test, then scheduler, then seed index) and shard K of N runs every unit whose number
//! is K-1 modulo N. A unit's shard therefore depends on the command line alone, never on the
//! machine, the thread count or timing; and neighbouring seeds of one cell, which cost about
//! the same, are dealt out evenly, so N shards of a seed sweep take about the same time.
//!
//! Tallies combine by sums and minima (the lowest failing seed wins), so the result does not
//! depend on the order in which threads or shards finished: `ksim merge` of N shards and one
//! unsharded run fold the same units into the same tallies.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

/// One slice of the units: `index` counts from 0 here, and is shown 1-based (`K/N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Every unit.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// What a cell is, decided before anything runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// Not run; the reason for `# SKIP`.
    Skip(String),
    /// Run, any verdict accepted: an interleaving-dependent scenario under one real-thread run.
    Unchecked,
    /// Run, and every seed's verdict held to this expectation (in `# expected ...` words).
    Checked(String),
}

/// The seed indices of one cell that a shard runs: `first`, `first + step`, ... (`count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    pub first: u64,
    pub step: u64,
    pub count: u64,
}

/// The cells of a run and how many seeds each has.
pub struct Plan {
    pub cells: Vec<Cell>,
    /// Seeds per cell: `--seeds` for random and pct, one for the others and for skips.
    pub seeds: Vec<u64>,
    /// The number of each cell's first unit.
    start: Vec<u64>,
}

impl Plan {
    pub fn new(cells: Vec<Cell>, seeds: Vec<u64>) -> Plan {
        let start = seeds
            .iter()
            .scan(0u64, |next, &n| {
                let s = *next;
                *next += n;
                Some(s)
            })
            .collect();
        Plan { cells, seeds, start }
    }

    pub fn units(&self) -> u64 {
        self.seeds.iter().sum()
    }

    /// The seeds of cell `c` that `shard` runs, if any.
    pub fn span(&self, c: usize, shard: Shard) -> Option<Span> {
        let n = shard.count;
        let first = (shard.index + n - self.start[c] % n) % n;
        (first < self.seeds[c]).then(|| Span { first, step: n, count: (self.seeds[c] - 1 - first) / n + 1 })
    }
}

/// Seed 0's run, shown as the subtest's diagnostics (as an unsharded one-seed check shows it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct First {
    pub executions: u64,
    pub headline: Option<String>,
    /// The `replay:` line's command (`ksim replay TOKEN`, or what reproduces a std run).
    pub replay: Option<String>,
}

/// The lowest seed whose verdict did not match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mismatch {
    pub seed: u64,
    /// The scheduler spec with that seed.
    pub scheduler: String,
    pub found: String,
    pub headline: Option<String>,
    /// The `replay:` line's command (`ksim replay TOKEN`, or what reproduces a std run).
    pub replay: Option<String>,
    /// The command that reruns it.
    pub rerun: String,
}

/// The lowest seed whose two runs differed (`--verify-determinism`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    pub seed: u64,
    pub scheduler: String,
}

/// What some seeds of one cell found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tally {
    /// Seeds run.
    pub seeds: u64,
    /// Executions of the verdict runs (the second run of a determinism pair not counted).
    pub executions: u64,
    pub first: Option<First>,
    pub mismatches: u64,
    pub mismatch: Option<Mismatch>,
    /// Determinism run pairs compared.
    pub pairs: u64,
    pub nondeterministic: Option<Divergence>,
    /// A line for stderr: what an unchecked run found. It varies from run to run, so it stays
    /// out of a shard's records (stdout); each shard prints its own.
    #[serde(skip)]
    pub note: Option<String>,
}

impl Tally {
    /// Folds `other` in; the order of folding does not change the result.
    pub fn absorb(&mut self, other: Tally) {
        self.seeds += other.seeds;
        self.executions += other.executions;
        self.first = self.first.take().or(other.first);
        self.mismatches += other.mismatches;
        self.mismatch = lowest(self.mismatch.take(), other.mismatch, |m| m.seed);
        self.pairs += other.pairs;
        self.nondeterministic = lowest(self.nondeterministic.take(), other.nondeterministic, |d| d.seed);
        self.note = self.note.take().or(other.note);
    }
}

fn lowest<T>(a: Option<T>, b: Option<T>, seed: impl Fn(&T) -> u64) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if seed(&b) < seed(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// What a shard's run cost, for the closing line on stderr.
pub struct Stats {
    pub units: u64,
    /// Every execution, the second runs of determinism pairs included.
    pub executions: u64,
    pub seconds: f64,
}

impl Stats {
    /// `shard`: the `--shard` given, if any.
    pub fn line(&self, shard: Option<Shard>) -> String {
        let what = shard.map(|s| format!("shard {s}: ")).unwrap_or_default();
        format!(
            "ksim: {what}{} units, {} executions in {:.2} s: {:.0} executions/s",
            self.units,
            self.executions,
            self.seconds,
            self.executions as f64 / self.seconds.max(1e-9)
        )
    }
}

/// Runs `shard`'s units of `plan` on `jobs` threads. `unit(cell, seed)` runs one unit and
/// returns its tally and every execution it ran; `label(cell)` names the cell on the progress
/// bar. Returns one tally per cell (`None` for a cell of which the shard runs nothing).
pub fn run<U, L>(plan: &Plan, shard: Shard, jobs: usize, label: L, unit: U) -> (Vec<Option<Tally>>, Stats)
where
    U: Fn(usize, u64) -> (Tally, u64) + Sync,
    L: Fn(usize) -> String + Sync,
{
    let spans: Vec<(usize, Span)> =
        (0..plan.cells.len()).filter_map(|c| plan.span(c, shard).map(|s| (c, s))).collect();
    // The number of the first unit of each span within this shard, to map a unit number back
    // to (cell, seed) without listing millions of units.
    let offsets: Vec<u64> = spans
        .iter()
        .scan(0u64, |next, (_, s)| {
            let o = *next;
            *next += s.count;
            Some(o)
        })
        .collect();
    let total: u64 = spans.iter().map(|(_, s)| s.count).sum();
    let tallies: Vec<Mutex<Option<Tally>>> = plan.cells.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicU64::new(0);
    let executions = AtomicU64::new(0);
    let bar = progress(total);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..(jobs as u64).min(total) {
            let work = || loop {
                let u = next.fetch_add(1, Ordering::Relaxed);
                if u >= total {
                    break;
                }
                let k = offsets.partition_point(|&o| o <= u) - 1;
                let (c, span) = spans[k];
                if !bar.is_hidden() {
                    bar.set_message(label(c));
                }
                let (t, n) = unit(c, span.first + (u - offsets[k]) * span.step);
                executions.fetch_add(n, Ordering::Relaxed);
                let mut slot = tallies[c].lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert_with(Tally::default).absorb(t);
                drop(slot);
                bar.inc(1);
            };
            // The model checkers recurse through the scenario on this thread's stack.
            std::thread::Builder::new()
                .stack_size(16 << 20)
                .spawn_scoped(scope, work)
                .expect("spawn a check worker thread");
        }
    });
    bar.finish_and_clear();
    let stats =
        Stats { units: total, executions: executions.into_inner(), seconds: start.elapsed().as_secs_f64() };
    (tallies.into_iter().map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner())).collect(), stats)
}

/// Whether a person is watching stderr (the progress bar and the closing rate are for them).
pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A progress bar on stderr, only for a person watching a terminal.
fn progress(len: u64) -> ProgressBar {
    if !on_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{bar:30} {pos}/{len} units {elapsed} (eta {eta}) {wide_msg}")
        .expect("valid progress template");
    ProgressBar::new(len).with_style(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(seeds: &[u64]) -> Plan {
        Plan::new(seeds.iter().map(|_| Cell::Unchecked).collect(), seeds.to_vec())
    }

    #[test]
    fn shards_partition_every_cells_seeds() {
        let p = plan(&[1, 7, 1, 1, 10, 3]);
        for n in 1..=12 {
            for c in 0..p.cells.len() {
                let mut seen = vec![0; p.seeds[c] as usize];
                for k in 0..n {
                    if let Some(s) = p.span(c, Shard { index: k, count: n }) {
                        for seed in (0..s.count).map(|i| s.first + i * s.step) {
                            // The unit's number is K-1 modulo N.
                            assert_eq!((p.start[c] + seed) % n, k);
                            seen[seed as usize] += 1;
                        }
                    }
                }
                assert!(seen.iter().all(|&x| x == 1), "n={n} cell {c}: {seen:?}");
            }
        }
    }

    #[test]
    fn absorbing_in_any_order_gives_one_tally() {
        let part = |seed: u64, bad: bool| Tally {
            seeds: 1,
            executions: seed + 1,
            first: (seed == 0).then_some(First { executions: 1, headline: None, replay: None }),
            mismatches: bad as u64,
            mismatch: bad.then(|| Mismatch {
                seed,
                scheduler: format!("pct:seed={seed}"),
                found: "clean".into(),
                headline: None,
                replay: None,
                rerun: String::new(),
            }),
            pairs: 1,
            nondeterministic: None,
            note: None,
        };
        let parts: Vec<Tally> = (0..6).map(|s| part(s, s % 2 == 1)).collect();
        let fold = |order: &[usize]| {
            let mut t = Tally::default();
            for &i in order {
                t.absorb(parts[i].clone());
            }
            t
        };
        let a = fold(&[0, 1, 2, 3, 4, 5]);
        assert_eq!(a, fold(&[5, 3, 1, 0, 4, 2]));
        assert_eq!((a.seeds, a.executions, a.mismatches, a.pairs), (6, 21, 3, 6));
        assert_eq!(a.mismatch.map(|m| m.seed), Some(1));
    }
}
