//! `ksim bench GROUP`: performance figures, in the same process and run, so the ratios compare
//! like with like. Each group is one function returning named figures; `all` runs every group
//! but the long ones (`sweep`), which run only by name.

mod catalogue;
mod cface;
mod core;
mod drivers;
mod kunit;
mod memory;
mod sweep;

use std::process::ExitCode;

use crate::cli::{out, CliResult};

/// How much work a group may do.
pub struct Budget {
    /// `--quick`: every path runs once, the numbers mean nothing.
    pub quick: bool,
    /// Executions per measured random-scheduler run.
    pub iterations: usize,
    /// Measurements per figure; the median is reported.
    pub repeats: usize,
    /// Exhaustive (loom) runs per measurement: one explores only a handful of executions,
    /// too short to time alone.
    pub rounds: usize,
}

impl Budget {
    const FULL: Budget = Budget { quick: false, iterations: 5000, repeats: 7, rounds: 100 };
    /// For the CLI's own tests (`--quick`): exercises every path, measures nothing.
    const QUICK: Budget = Budget { quick: true, iterations: 10, repeats: 1, rounds: 1 };
}

/// What a figure counts, for the table.
#[derive(Clone, Copy)]
pub enum Unit {
    /// Executions per second.
    PerSec,
    /// Operations per second.
    OpsPerSec,
    /// Gigabytes (10^9 bytes) per second.
    Gbps,
    /// Seconds.
    Seconds,
    Ratio,
    Count,
    /// Scenario runs (one scenario under one scheduler).
    Runs,
    /// A count out of a total (the total is the payload).
    OutOf(u64),
}

/// One named number. Names are unique across groups: they are the JSON keys.
pub struct Figure {
    pub name: &'static str,
    pub value: f64,
    pub unit: Unit,
}

/// One page of host memory, page-aligned as the kernel's pages are and as ksim's frames are. The
/// host's copy runs at up to twice the speed between buffers that share their alignment within a
/// cache line, so every buffer a copy benchmark touches is one of these: ksim and its baseline
/// then copy under the same conditions.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
pub struct AlignedPage(pub [u8; ksim::mm::PAGE_SIZE]);

/// A group's one-line description of what it measured, and its figures.
pub type GroupResult = Result<(String, Vec<Figure>), String>;

type Group = fn(&Budget) -> GroupResult;

/// A group, and whether `all` runs it.
struct Entry {
    name: &'static str,
    run: Group,
    in_all: bool,
}

const fn entry(name: &'static str, run: Group, in_all: bool) -> Entry {
    Entry { name, run, in_all }
}

/// Every group, in the order `all` runs them. `sweep` takes about seven minutes (100,000 seeds, and the
/// shards as separate processes): only by name.
const GROUPS: &[Entry] = &[
    entry("core", core::run, true),
    entry("memory", memory::run, true),
    entry("drivers", drivers::run, true),
    entry("catalogue", catalogue::run, true),
    entry("cface", cface::run, true),
    entry("kunit", kunit::run, true),
    entry("sweep", sweep::run, false),
];

/// The median of `v` (NaN for none).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(group: &str, json: bool, quick: bool) -> CliResult {
    let chosen: Vec<&Entry> =
        GROUPS.iter().filter(|g| if group == "all" { g.in_all } else { g.name == group }).collect();
    if chosen.is_empty() {
        let names: Vec<&str> = GROUPS.iter().map(|g| g.name).collect();
        return Err(format!("unknown bench group '{group}' (valid: {}, all)", names.join(", ")));
    }
    let budget = if quick { Budget::QUICK } else { Budget::FULL };
    let mut results = Vec::new();
    for g in chosen {
        let (about, figs) = (g.run)(&budget)?;
        results.push((g.name, about, figs));
    }
    out(&if json { to_json(&budget, &results) } else { table(&budget, &results) });
    Ok(ExitCode::SUCCESS)
}

fn to_json(b: &Budget, results: &[(&str, String, Vec<Figure>)]) -> String {
    let mut m = serde_json::Map::new();
    m.insert("iterations".into(), b.iterations.into());
    m.insert("repeats".into(), b.repeats.into());
    m.insert("rounds".into(), b.rounds.into());
    for f in results.iter().flat_map(|(_, _, figs)| figs) {
        let v = match f.unit {
            Unit::Count | Unit::Runs | Unit::OutOf(_) => serde_json::Value::from(f.value as u64),
            _ => serde_json::Value::from(f.value),
        };
        m.insert(f.name.into(), v);
    }
    format!("{}\n", serde_json::Value::Object(m))
}

fn table(b: &Budget, results: &[(&str, String, Vec<Figure>)]) -> String {
    let w = results.iter().flat_map(|(_, _, f)| f).map(|f| f.name.len()).max().unwrap_or(0);
    let mut t = String::new();
    for (group, about, figs) in results {
        // The sweep group states its own rounds.
        let median = if matches!(*group, "sweep" | "kunit") {
            String::new()
        } else {
            format!("; median of {}", b.repeats)
        };
        t.push_str(&format!("{group} ({about}{median})\n"));
        for f in figs {
            let (v, unit) = match f.unit {
                Unit::PerSec => (format!("{:.0}", f.value), "exec/s"),
                Unit::OpsPerSec => (format!("{:.0}", f.value), "ops/s"),
                Unit::Gbps => (format!("{:.2}", f.value), "GB/s"),
                Unit::Seconds => (format!("{:.3}", f.value), "s"),
                Unit::Ratio => (format!("{:.3}", f.value), "x"),
                Unit::Count => (format!("{}", f.value as u64), "executions"),
                Unit::Runs => (format!("{}", f.value as u64), "runs"),
                Unit::OutOf(n) => (format!("{}/{n}", f.value as u64), "found"),
            };
            t.push_str(&format!("  {:<w$}  {v:>12} {unit}\n", f.name));
        }
    }
    t
}
