//! What names a run: the scheduler and its parameters ([`Scheduler`], in the spec form tokens
//! and the command line use, e.g. `pct:seed=7:depth=3:iters=500`), the [`RunSpec`] and the
//! replay [`Token`] of a failure.

use std::fmt;
use std::panic::catch_unwind;
use std::str::FromStr;

use crate::model::backend::BackendKind;
use crate::model::panic;

/// A scheduler and its parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scheduler {
    /// One execution on real OS threads.
    Std,
    /// shuttle's random scheduler.
    Random {
        /// Seed of the run.
        seed: u64,
        /// Executions to try.
        iterations: usize,
    },
    /// shuttle's PCT scheduler (probabilistic concurrency testing).
    Pct {
        /// Seed of the run.
        seed: u64,
        /// Bug depth (number of priority change points + 1), at least 1.
        depth: usize,
        /// Executions to try.
        iterations: usize,
    },
    /// Exhaustive depth-first search with a preemption bound.
    Dfs {
        /// Most preemptions per execution (`None`: unbounded).
        preemption_bound: Option<usize>,
        /// Most executions (`None`: until the tree is exhausted).
        max_executions: Option<usize>,
    },
    /// Replay one shuttle schedule (as printed in an `Outcome`).
    Replay {
        /// shuttle's encoded schedule.
        schedule: String,
    },
    /// loom: exhaustive, with a preemption bound.
    Loom {
        /// Most preemptions per execution (`None`: unbounded).
        preemption_bound: Option<usize>,
    },
}

impl Scheduler {
    /// The backend that runs this scheduler.
    pub fn backend(&self) -> BackendKind {
        match self {
            Scheduler::Std => BackendKind::Std,
            Scheduler::Loom { .. } => BackendKind::Loom,
            _ => BackendKind::Shuttle,
        }
    }

    /// Short name: std, random, pct, dfs, replay, loom.
    pub fn name(&self) -> &'static str {
        match self {
            Scheduler::Std => "std",
            Scheduler::Random { .. } => "random",
            Scheduler::Pct { .. } => "pct",
            Scheduler::Dfs { .. } => "dfs",
            Scheduler::Replay { .. } => "replay",
            Scheduler::Loom { .. } => "loom",
        }
    }
}

fn opt(v: Option<usize>) -> String {
    v.map_or_else(|| "none".to_string(), |n| n.to_string())
}

impl fmt::Display for Scheduler {
    /// The spec form used in tokens and on the command line, e.g. `pct:seed=7:depth=3:iters=500`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheduler::Std => write!(f, "std"),
            Scheduler::Random { seed, iterations } => write!(f, "random:seed={seed}:iters={iterations}"),
            Scheduler::Pct { seed, depth, iterations } => {
                write!(f, "pct:seed={seed}:depth={depth}:iters={iterations}")
            }
            Scheduler::Dfs { preemption_bound, max_executions } => {
                write!(f, "dfs:bound={}:max={}", opt(*preemption_bound), opt(*max_executions))
            }
            Scheduler::Replay { schedule } => write!(f, "replay:{schedule}"),
            Scheduler::Loom { preemption_bound } => write!(f, "loom:bound={}", opt(*preemption_bound)),
        }
    }
}

impl FromStr for Scheduler {
    type Err = String;

    /// Parses the spec form of [`Scheduler`]'s `Display`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split(':');
        let name = parts.next().unwrap_or("");
        if name == "replay" {
            let schedule = s.strip_prefix("replay:").unwrap_or("").to_string();
            if !valid_schedule(&schedule) {
                return Err(format!("malformed shuttle schedule in '{s}'"));
            }
            return Ok(Scheduler::Replay { schedule });
        }
        let mut kv = std::collections::BTreeMap::new();
        for p in parts {
            let (k, v) =
                p.split_once('=').ok_or_else(|| format!("scheduler parameter '{p}' is not key=value"))?;
            kv.insert(k, v);
        }
        let num = |k: &str| -> Result<Option<u64>, String> {
            match kv.get(k) {
                None | Some(&"none") => Ok(None),
                Some(v) => {
                    v.parse().map(Some).map_err(|_| format!("scheduler parameter {k}='{v}' is not a number"))
                }
            }
        };
        let need = |k: &str| -> Result<u64, String> {
            num(k)?.ok_or_else(|| format!("scheduler '{name}' needs {k}=N"))
        };
        let allowed: &[&str] = match name {
            "std" => &[],
            "random" => &["seed", "iters"],
            "pct" => &["seed", "depth", "iters"],
            "dfs" => &["bound", "max"],
            "loom" => &["bound"],
            _ => {
                return Err(format!(
                    "unknown scheduler '{name}' (valid: std, random, pct, dfs, loom, replay)"
                ))
            }
        };
        if let Some(k) = kv.keys().find(|k| !allowed.contains(k)) {
            return Err(format!("scheduler '{name}' has no parameter '{k}' (valid: {})", allowed.join(", ")));
        }
        Ok(match name {
            "std" => Scheduler::Std,
            "random" => Scheduler::Random { seed: need("seed")?, iterations: need("iters")? as usize },
            "pct" => {
                let depth = need("depth")? as usize;
                if depth == 0 {
                    return Err("pct depth must be at least 1".to_string());
                }
                Scheduler::Pct { seed: need("seed")?, depth, iterations: need("iters")? as usize }
            }
            "dfs" => Scheduler::Dfs {
                preemption_bound: num("bound")?.map(|v| v as usize),
                max_executions: num("max")?.map(|v| v as usize),
            },
            _ => Scheduler::Loom { preemption_bound: num("bound")?.map(|v| v as usize) },
        })
    }
}

/// Whether shuttle can decode `schedule`. Its decoder indexes without checking (it panics on an
/// empty or truncated string), so the check runs behind `catch_unwind` with ksim's panic hook
/// keeping it quiet.
fn valid_schedule(schedule: &str) -> bool {
    if schedule.is_empty() || !schedule.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    panic::install();
    let prev = panic::set_in_run(true);
    let ok =
        catch_unwind(|| shuttle_engine::scheduler::serialization::deserialize_schedule(schedule).is_some());
    panic::set_in_run(prev);
    let _ = panic::take_last_panic();
    ok.unwrap_or(false)
}

/// What identifies a run for replay: scenario (if from the catalogue), its configuration label,
/// and the scheduler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    /// Catalogue scenario name, if any.
    pub scenario: Option<String>,
    /// The scenario's configuration overrides (`key=value,...`), empty for defaults.
    pub config_label: String,
    /// The scheduler.
    pub scheduler: Scheduler,
}

impl RunSpec {
    /// The run's seed (0 for schedulers without one), from which each execution's RNG is seeded.
    pub fn seed(&self) -> u64 {
        match self.scheduler {
            Scheduler::Random { seed, .. } | Scheduler::Pct { seed, .. } => seed,
            _ => 0,
        }
    }

    /// The replay token for a failure in execution `index`:
    /// `SCENARIO/SCHEDULER/eINDEX[/CONFIG]` (`adhoc` for a body that is not in the catalogue).
    pub fn token(&self, index: u64) -> String {
        let mut t = format!("{}/{}/e{index}", self.scenario.as_deref().unwrap_or("adhoc"), self.scheduler);
        if !self.config_label.is_empty() {
            t.push('/');
            t.push_str(&self.config_label);
        }
        t
    }
}

/// A parsed replay token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Scenario name (`adhoc` for a body outside the catalogue).
    pub scenario: String,
    /// The scheduler of the original run.
    pub scheduler: Scheduler,
    /// The execution that failed.
    pub execution: u64,
    /// Configuration overrides.
    pub config_label: String,
}

impl FromStr for Token {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("malformed replay token '{s}' (expected SCENARIO/SCHEDULER/eN[/CONFIG])");
        let mut it = s.splitn(4, '/');
        let scenario = it.next().filter(|x| !x.is_empty()).ok_or_else(bad)?.to_string();
        let scheduler = it.next().ok_or_else(bad)?.parse::<Scheduler>()?;
        let execution =
            it.next().and_then(|e| e.strip_prefix('e')).and_then(|e| e.parse().ok()).ok_or_else(bad)?;
        let config_label = it.next().unwrap_or("").to_string();
        Ok(Token { scenario, scheduler, execution, config_label })
    }
}
