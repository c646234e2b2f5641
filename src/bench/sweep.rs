//! The sweep group: what a seed sweep costs on one machine, and what sharding it adds. Not part
//! of `all` (about seven minutes on two cores): `ksim bench sweep`.
//!
//! - `sweep_execs_per_s`: executions per second of `ksim check dax-atomic-vs-flush --scheduler
//!   pct --mode observed --seeds 100000` (the flush race under PCT at `ksim check`'s budget),
//!   one process with a worker per core, from the rate it prints itself on stderr.
//! - `sweep_direct_execs_per_s`, `sweep_vs_direct_ratio`: the baseline, in the same run: the
//!   same scenario runs as plain calls on as many threads, nothing of `ksim check` around them
//!   (plan, tallies, verdicts, KTAP, process), ÷ the `ksim check` rate measured right after
//!   (20,000 seeds each; median of five rounds).
//! - `shard_overhead_ratio`: the wall times of the four processes `--shard 1/4` .. `--shard 4/4`
//!   added up, ÷ the wall time of the one unsharded process (20,000 seeds; median of the same
//!   five rounds, each measuring both back to back; `_min`, `_max`: the rounds' range). 1.0
//!   means sharding costs nothing beyond the machines; the goal is at most 1.05.
//!   `shard_overhead_cpu_ratio`: the same with the processes' CPU time (user + system), which
//!   other load on the machine disturbs less than wall time (Linux; NaN elsewhere).

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

/// What one ksim process cost.
struct Cost {
    wall: f64,
    /// User + system CPU seconds, when the system says (Linux).
    cpu: Option<f64>,
    stderr: String,
}

/// CPU seconds of this process's waited-for children: `cutime` + `cstime` of /proc/self/stat,
/// in clock ticks of 1/100 s (USER_HZ, fixed at 100 in Linux's user ABI).
fn children_cpu() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, `state`.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |field: usize| rest.get(field - 3)?.parse::<f64>().ok();
    Some((ticks(16)? + ticks(17)?) / 100.0)
}

/// This ksim binary, `check` of the flush race under PCT over `seeds` seeds plus `extra`.
fn check(seeds: u64, extra: &[&str]) -> Result<Cost, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("sweep bench: cannot find the ksim binary: {e}"))?;
    let seeds = seeds.to_string();
    let mut args = vec!["check", SCENARIO, "--scheduler", "pct", "--mode", "observed", "--seeds", &seeds];
    args.extend(extra);
    let (start, cpu) = (Instant::now(), children_cpu());
    let o =
        Command::new(exe).args(&args).output().map_err(|e| format!("sweep bench: cannot run ksim: {e}"))?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu.zip(children_cpu()).map(|(a, b)| b - a);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.code() != Some(0) {
        return Err(format!("sweep bench: `ksim {}` exited {}: {}", args.join(" "), o.status, stderr.trim()));
    }
    Ok(Cost { wall, cpu, stderr })
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
    let (seeds, shard_seeds, rounds) = if b.quick { (40, 40, 1) } else { (100_000, 20_000, 5) };
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());

    // --shard 1/1 is the whole run, and prints its rate.
    let (execs, secs) = rate(&check(seeds, &["--shard", "1/1"])?.stderr)?;
    let sweep = execs / secs;

    // The ratios pair measurements taken back to back: this machine's speed drifts by more
    // than the differences measured (±15% between minutes).
    let (mut directs, mut vs_direct, mut overheads, mut cpu_overheads) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (d_execs, d_secs) = direct(shard_seeds, jobs)?;
        let (c_execs, c_secs) = rate(&check(shard_seeds, &["--shard", "1/1"])?.stderr)?;
        directs.push(d_execs / d_secs);
        vs_direct.push((c_execs / c_secs) / (d_execs / d_secs));
        let whole = check(shard_seeds, &[])?;
        let (mut wall, mut cpu) = (0.0, Some(0.0));
        for k in 1..=SHARDS {
            let c = check(shard_seeds, &["--shard", &format!("{k}/{SHARDS}")])?;
            wall += c.wall;
            cpu = cpu.zip(c.cpu).map(|(a, b)| a + b);
        }
        overheads.push(wall / whole.wall);
        if let Some(r) = cpu.zip(whole.cpu).map(|(s, w)| s / w) {
            cpu_overheads.push(r);
        }
    }

    let fig = |name, value, unit| Figure { name, value, unit };
    let about = format!(
        "{SCENARIO} under pct:depth={DEPTH}:iters={ITERATIONS}, {seeds} seeds, {jobs} worker(s); shards: {SHARDS} \
         processes of {shard_seeds} seeds vs one, median of {rounds} round(s)"
    );
    Ok((
        about,
        vec![
            fig("sweep_execs_per_s", sweep, Unit::PerSec),
            fig("sweep_executions", execs, Unit::Count),
            fig("sweep_direct_execs_per_s", median(directs), Unit::PerSec),
            fig("sweep_vs_direct_ratio", median(vs_direct), Unit::Ratio),
            fig("shard_overhead_ratio", median(overheads.clone()), Unit::Ratio),
            fig(
                "shard_overhead_ratio_min",
                overheads.iter().copied().fold(f64::INFINITY, f64::min),
                Unit::Ratio,
            ),
            fig("shard_overhead_ratio_max", overheads.iter().copied().fold(0.0, f64::max), Unit::Ratio),
            fig("shard_overhead_cpu_ratio", median(cpu_overheads), Unit::Ratio),
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
