//! The sweep group: what a seed sweep costs on one machine, and what sharding it adds. Not part
//! of `all` (about three minutes on two cores): `ksim bench sweep`.
//!
//! - `sweep_execs_per_s`: executions per second of `ksim check dax-atomic-vs-flush --scheduler
//!   pct --mode observed --seeds 100000` (the flush race under PCT at `ksim check`'s budget),
//!   one process with a worker per core, from the rate it prints itself on stderr.
//! - `sweep_direct_execs_per_s`, `sweep_vs_direct_ratio`: the baseline, in the same run: the
//!   same 100,000 scenario runs as plain calls on as many threads, nothing of `ksim check`
//!   around them (plan, tallies, verdicts, KTAP, process).
//! - `shard_overhead_ratio`: the wall times of the four processes `--shard 1/4` .. `--shard 4/4`
//!   added up, ÷ the wall time of the one unsharded process (20,000 seeds; median of three
//!   rounds, each round measuring both back to back). 1.0 means sharding costs nothing beyond
//!   the machines; the goal is at most 1.05.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ksim::{CheckMode, Scheduler};
use ksim_scenarios::{catalogue, Scenario, Settings};

use super::{median, Budget, Figure, GroupResult, Unit};

const SCENARIO: &str = "dax-atomic-vs-flush";
/// `ksim check`'s PCT depth and budget.
const DEPTH: usize = 3;
const ITERATIONS: usize = 200;
const SHARDS: u64 = 4;

/// This ksim binary, `check` of the flush race under PCT over `seeds` seeds plus `extra`.
fn check(seeds: u64, extra: &[&str]) -> Result<(f64, String), String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("sweep bench: cannot find the ksim binary: {e}"))?;
    let seeds = seeds.to_string();
    let mut args = vec!["check", SCENARIO, "--scheduler", "pct", "--mode", "observed", "--seeds", &seeds];
    args.extend(extra);
    let start = Instant::now();
    let o =
        Command::new(exe).args(&args).output().map_err(|e| format!("sweep bench: cannot run ksim: {e}"))?;
    let wall = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.code() != Some(0) {
        return Err(format!("sweep bench: `ksim {}` exited {}: {}", args.join(" "), o.status, err.trim()));
    }
    Ok((wall, err))
}

/// (executions, seconds) from the closing line `... N executions in T s: R executions/s`.
fn rate(stderr: &str) -> Result<(f64, f64), String> {
    let line = stderr.lines().find(|l| l.ends_with(" executions/s")).ok_or("sweep bench: no rate line")?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let at =
        |w: &str| words.iter().position(|x| *x == w).ok_or(format!("sweep bench: odd rate line {line:?}"));
    let execs: f64 = words[at("executions")? - 1].parse().map_err(|_| format!("sweep bench: {line:?}"))?;
    let secs: f64 = words[at("in")? + 1].parse().map_err(|_| format!("sweep bench: {line:?}"))?;
    Ok((execs, secs))
}

/// The same runs as plain calls: seeds 1..=seeds on `jobs` threads. Returns (executions, s).
fn direct(seeds: u64, jobs: usize) -> Result<(f64, f64), String> {
    let s = catalogue::find(SCENARIO)?;
    let settings = Scenario::with_mode(&Settings::default(), CheckMode::Observed);
    let (next, execs) = (AtomicU64::new(1), AtomicU64::new(0));
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let work = || loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed > seeds {
                    break;
                }
                let o = s.run(&settings, Scheduler::Pct { seed, depth: DEPTH, iterations: ITERATIONS });
                execs.fetch_add(o.executions, Ordering::Relaxed);
            };
            // As ksim check's workers.
            std::thread::Builder::new().stack_size(16 << 20).spawn_scoped(scope, work).expect("spawn");
        }
    });
    Ok((execs.into_inner() as f64, start.elapsed().as_secs_f64()))
}

pub fn run(b: &Budget) -> GroupResult {
    let (seeds, shard_seeds, rounds) = if b.quick { (40, 40, 1) } else { (100_000, 20_000, 3) };
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());

    // --shard 1/1 is the whole run, and prints its rate.
    let (_, err) = check(seeds, &["--shard", "1/1"])?;
    let (execs, secs) = rate(&err)?;
    let sweep = execs / secs;
    let (d_execs, d_secs) = direct(seeds, jobs)?;
    let direct = d_execs / d_secs;

    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let (whole, _) = check(shard_seeds, &[])?;
        let mut sum = 0.0;
        for k in 1..=SHARDS {
            sum += check(shard_seeds, &["--shard", &format!("{k}/{SHARDS}")])?.0;
        }
        ratios.push(sum / whole);
    }

    let fig = |name, value, unit| Figure { name, value, unit };
    let about = format!(
        "{SCENARIO} under pct:depth={DEPTH}:iters={ITERATIONS}, {seeds} seeds, {jobs} worker(s); shards: {SHARDS} \
         processes of {shard_seeds} seeds vs one, {rounds} round(s)"
    );
    Ok((
        about,
        vec![
            fig("sweep_execs_per_s", sweep, Unit::PerSec),
            fig("sweep_executions", execs, Unit::Count),
            fig("sweep_direct_execs_per_s", direct, Unit::PerSec),
            fig("sweep_vs_direct_ratio", sweep / direct, Unit::Ratio),
            fig("shard_overhead_ratio", median(ratios), Unit::Ratio),
        ],
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_rate_line_parses() {
        let l = "ksim: shard 1/1: 100000 units, 100000 executions in 59.92 s: 1669 executions/s\n";
        assert_eq!(super::rate(l), Ok((100000.0, 59.92)));
    }
}
