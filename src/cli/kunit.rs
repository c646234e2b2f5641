//! `ksim kunit TEST.c [SOURCE.c ...]`: KUnit suites in userspace. The test and the sources it
//! tests are built into one module against ksim's headers; every case of every suite (or those
//! `--filter` selects) runs as a ksim scenario under each scheduler, and the result is KTAP in
//! KUnit's layout: a test per suite, a subtest per case, and the case's schedulers (and
//! parameters) as its parameterised results.
//!
//! Each case runs in a process of its own (this program, `--worker`), so a case that crashes in
//! C, or runs past its time budget, fails alone and the others still run. Workers run in
//! parallel; the report is assembled in suite and case order and holds nothing that depends on
//! timing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use ksim::{CheckMode, Runner, Scheduler};
use ksim_c::kunit::{self, Suite};
use ksim_c::ModuleSpec;
use ksim_scenarios::scenario::KERNEL_KEYS;
use ksim_scenarios::{default_schedulers, Settings};

use super::kunit_worker::{self, RowResult};
use super::{out, parse_count, parse_seed, scheduler, settings, status, CliResult};

#[derive(Args, Clone)]
pub struct KunitArgs {
    /// The KUnit test file, then the C sources it tests.
    #[arg(required = true, value_name = "FILE.c")]
    pub files: Vec<PathBuf>,
    /// List the suites' cases (`suite.case`, one a line) instead of running them.
    #[arg(long)]
    pub list: bool,
    /// Run only the cases matching GLOB: `suite.case`, or `suite` for all its cases (`*` and `?`
    /// wildcards, as KUnit's filter_glob); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub filter: Vec<String>,
    /// A module parameter of the sources, NAME=VALUE, set as modprobe sets it (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub param: Vec<String>,
    /// std|random|pct|dfs|loom|all, or one full spec such as pct:seed=7:depth=3:iters=500.
    #[arg(long, default_value = "all", value_name = "NAME|SPEC|all")]
    pub scheduler: String,
    /// Seed for random and pct.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = parse_seed, allow_hyphen_values = true)]
    pub seed: u64,
    /// Executions for random and pct (and the DFS cap).
    #[arg(long, value_name = "N", value_parser = parse_count, allow_hyphen_values = true)]
    pub iterations: Option<usize>,
    /// Checking modes to run [default: observed, the kernel's own check].
    #[arg(long, value_enum)]
    pub mode: Option<Modes>,
    /// A kernel setting KEY=VALUE (mode, profile, rcu, preempt_count; repeatable, or comma-joined).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Cases run at once [default: available parallelism]; the output does not depend on it.
    #[arg(long, value_name = "N", value_parser = parse_count, allow_hyphen_values = true)]
    pub jobs: Option<usize>,
    /// Seconds one case may run (all its schedulers) before it fails as past its budget.
    #[arg(long, default_value_t = 120, value_name = "SECONDS", value_parser = parse_secs)]
    pub timeout: u64,
    /// Internal: run one case (SUITE:CASE) and print its rows as JSON lines.
    #[arg(long, hide = true, value_name = "SUITE:CASE")]
    pub worker: Option<String>,
}

fn parse_secs(s: &str) -> Result<u64, String> {
    s.parse().ok().filter(|n| *n > 0).ok_or_else(|| "must be a whole number of seconds, at least 1".into())
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Modes {
    Observed,
    Contract,
    Both,
}

/// Everything a run needs, validated before anything runs.
pub struct Plan {
    pub module: String,
    pub image: Arc<ksim_c::Image>,
    pub suites: Vec<Suite>,
    pub params: Vec<(String, String)>,
    pub schedulers: Vec<Scheduler>,
    pub modes: Vec<CheckMode>,
    pub settings: Settings,
    /// The options to repeat in a replay command (files, settings).
    pub replay_base: String,
}

impl Plan {
    /// The rows of case `c` of suite `s`: (parameter index, mode, scheduler, name).
    pub fn rows(&self, s: usize, c: usize) -> Vec<(usize, CheckMode, Scheduler, String)> {
        let case = &self.suites[s].cases[c];
        let params: Vec<Option<&str>> = match &case.params {
            Some(p) => p.iter().map(|d| Some(d.as_str())).collect(),
            None => vec![None],
        };
        let mut rows = Vec::new();
        for (p, desc) in params.iter().enumerate() {
            for &mode in &self.modes {
                for sched in &self.schedulers {
                    let mut name = desc.map_or_else(String::new, |d| format!("{d} "));
                    name.push_str(sched.name());
                    if self.modes.len() > 1 {
                        name.push_str(&format!(" mode={mode}"));
                    }
                    rows.push((p, mode, sched.clone(), name));
                }
            }
        }
        rows
    }
}

/// The module a test file and its sources build into, named after the test file.
fn module_name(test: &Path) -> String {
    let stem = test.file_stem().map_or("kunit".into(), |s| s.to_string_lossy().into_owned());
    stem.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

pub fn plan(a: &KunitArgs) -> Result<Plan, String> {
    for f in &a.files {
        if f.extension().is_none_or(|e| e != "c") {
            return Err(format!("{}: not a C file (ksim kunit TEST.c [SOURCE.c ...])", f.display()));
        }
        if !f.is_file() {
            return Err(format!("{}: no such file", f.display()));
        }
    }
    let settings = settings(&a.config)?;
    if let Some((k, _)) = settings.given().find(|(k, _)| !KERNEL_KEYS.contains(k)) {
        return Err(format!("ksim kunit takes no setting '{k}' (valid: {})", KERNEL_KEYS.join(", ")));
    }
    let schedulers = match a.scheduler.as_str() {
        "all" => default_schedulers(a.seed, a.iterations),
        spec => vec![scheduler(spec, a.seed, a.iterations)?],
    };
    for s in &schedulers {
        Runner::new(s.clone()).check_environment()?;
    }
    let modes = match a.mode {
        Some(Modes::Observed) => vec![CheckMode::Observed],
        Some(Modes::Contract) => vec![CheckMode::Contract],
        Some(Modes::Both) => vec![CheckMode::Observed, CheckMode::Contract],
        None => vec![settings.mode()],
    };
    let params = a
        .param
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("--param '{p}': expected NAME=VALUE"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let module = module_name(&a.files[0]);
    let image = build(&module, &a.files)?;
    let mut lease = image.lease()?;
    let suites = kunit::suites(&lease)?;
    if suites.is_empty() {
        return Err(format!(
            "{} declares no KUnit suite (kunit_test_suite() or kunit_test_suites())",
            a.files[0].display()
        ));
    }
    kunit::check_params(&mut lease, &module, &params)?;
    let mut replay_base: Vec<String> = a.files.iter().map(|f| f.display().to_string()).collect();
    for p in &a.param {
        replay_base.push(format!("--param {p}"));
    }
    if !settings.label().is_empty() {
        replay_base.push(format!("--config {}", settings.label()));
    }
    Ok(Plan {
        module,
        image,
        suites,
        params,
        schedulers,
        modes,
        settings,
        replay_base: replay_base.join(" "),
    })
}

/// Builds the module: sources under the working directory are compiled by their relative path
/// (reports name `tests/my_test.c:12`); `KSIM_LINUX_SRC`'s `include/` is searched after ksim's
/// own headers, for the kernel headers ksim does not replace. A compile error prints the
/// compiler's lines on stderr, then fails with the one-line summary.
fn build(module: &str, files: &[PathBuf]) -> Result<Arc<ksim_c::Image>, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?;
    let sources = files.iter().map(|f| if f.is_absolute() { f.clone() } else { cwd.join(f) });
    let mut spec = ModuleSpec::new(module, sources).root(&cwd);
    if let Some(tree) = std::env::var_os("KSIM_LINUX_SRC").filter(|v| v != "skip") {
        let inc = PathBuf::from(tree).join("include");
        if inc.is_dir() {
            spec.include_dirs.push(inc);
        }
    }
    spec.build().map_err(|e| {
        if let Some(d) = e.details() {
            eprint!("{d}");
        }
        e.to_string()
    })
}

/// KUnit's glob: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            (pi, ti) = (pi + 1, ti + 1);
        } else if pi < p.len() && p[pi] == '*' {
            (star, mark, pi) = (Some(pi), ti, pi + 1);
        } else if let Some(s) = star {
            (pi, mark) = (s + 1, mark + 1);
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `--filter` selects `suite.case` (every case without a filter).
fn selected(filters: &[String], suite: &str, case: &str) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| match f.split_once('.') {
            Some((s, c)) => glob(s, suite) && glob(c, case),
            None => glob(f, suite),
        })
}

pub fn run(a: KunitArgs) -> CliResult {
    let plan = plan(&a)?;
    if let Some(w) = &a.worker {
        return kunit_worker::run(&plan, w);
    }
    let cases: Vec<Vec<usize>> = plan
        .suites
        .iter()
        .map(|s| (0..s.cases.len()).filter(|&c| selected(&a.filter, &s.name, &s.cases[c].name)).collect())
        .collect();
    if cases.iter().all(Vec::is_empty) {
        let all: Vec<String> = plan
            .suites
            .iter()
            .flat_map(|s| s.cases.iter().map(move |c| format!("{}.{}", s.name, c.name)))
            .collect();
        return Err(format!("--filter matches no case (cases: {})", all.join(", ")));
    }
    if a.list {
        let mut text = String::new();
        for (s, sel) in cases.iter().enumerate() {
            for &c in sel {
                text.push_str(&format!("{}.{}\n", plan.suites[s].name, plan.suites[s].cases[c].name));
            }
        }
        out(&text);
        return Ok(status(true));
    }
    let units: Vec<(usize, usize)> =
        cases.iter().enumerate().flat_map(|(s, sel)| sel.iter().map(move |&c| (s, c))).collect();
    let jobs = a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let results = kunit_worker::spawn_all(&plan, &units, jobs, a.timeout)?;
    let (text, ok) = render(&plan, &cases, &units, &results);
    out(&text);
    Ok(status(ok))
}

/// One case's rows, as the worker reported them (missing rows filled in by the parent).
pub type CaseRows = Vec<RowResult>;

/// KTAP in KUnit's layout; whether no case failed.
fn render(
    plan: &Plan,
    cases: &[Vec<usize>],
    units: &[(usize, usize)],
    results: &[CaseRows],
) -> (String, bool) {
    let suites: Vec<usize> = (0..cases.len()).filter(|&s| !cases[s].is_empty()).collect();
    let mut t = format!("KTAP version 1\n1..{}\n", suites.len());
    let mut all_ok = true;
    for (n, &s) in suites.iter().enumerate() {
        let suite = &plan.suites[s];
        t.push_str(&format!(
            "    KTAP version 1\n    # Subtest: {}\n    1..{}\n",
            suite.name,
            cases[s].len()
        ));
        let (mut cp, mut cf, mut ck) = (0, 0, 0);
        let (mut lp, mut lf, mut lk) = (0, 0, 0);
        for (k, &c) in cases[s].iter().enumerate() {
            let case = &suite.cases[c];
            let rows = &results[units.iter().position(|&u| u == (s, c)).expect("a unit per case")];
            t.push_str(&format!(
                "        KTAP version 1\n        # Subtest: {}\n        1..{}\n",
                case.name,
                rows.len()
            ));
            for (j, r) in rows.iter().enumerate() {
                for d in &r.diags {
                    t.push_str(&format!("        # {d}\n").replace("#  \n", "#\n"));
                }
                let ok = if r.status == "fail" { "not ok" } else { "ok" };
                t.push_str(&format!("        {ok} {} {}{}\n", j + 1, r.name, r.directive));
            }
            let p = rows.iter().filter(|r| r.status == "ok").count();
            let f = rows.iter().filter(|r| r.status == "fail").count();
            let sk = rows.len() - p - f;
            (lp, lf, lk) = (lp + p, lf + f, lk + sk);
            t.push_str(&format!("    # {}: pass:{p} fail:{f} skip:{sk} total:{}\n", case.name, rows.len()));
            let (ok, directive) = if f > 0 {
                cf += 1;
                ("not ok", String::new())
            } else if p == 0 {
                ck += 1;
                let why = rows.iter().find_map(|r| r.directive.strip_prefix(" # SKIP ")).unwrap_or("");
                ("ok", format!(" # SKIP {why}"))
            } else {
                cp += 1;
                ("ok", String::new())
            };
            t.push_str(&format!("    {ok} {} {}{directive}\n", k + 1, case.name));
        }
        let total = cases[s].len();
        t.push_str(&format!("# {}: pass:{cp} fail:{cf} skip:{ck} total:{total}\n", suite.name));
        t.push_str(&format!("# Totals: pass:{lp} fail:{lf} skip:{lk} total:{}\n", lp + lf + lk));
        let (ok, skip) = match (cf, cp) {
            (0, 0) => ("ok", " # SKIP"),
            (0, _) => ("ok", ""),
            _ => ("not ok", ""),
        };
        all_ok &= cf == 0;
        t.push_str(&format!("{ok} {} {}{skip}\n", n + 1, suite.name));
    }
    (t, all_ok)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_as_kunit_filter_globs() {
        assert!(glob("example", "example"));
        assert!(glob("ex*", "example"));
        assert!(glob("*_test", "example_simple_test"));
        assert!(glob("ex?mple", "example"));
        assert!(glob("*", ""));
        assert!(!glob("ex", "example"));
        assert!(!glob("*x", "example"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXbY"));
    }
}
