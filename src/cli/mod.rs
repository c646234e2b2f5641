//! The command line: argument parsing, the exit-status convention, and what the commands share
//! (settings, scheduler choice, running one scenario).
//!
//! Exit status: 0 when every verdict matches its expectation, 1 when one does not (or, for
//! `diff`, when the traces differ), 2 for bad input. Bad input is one line on stderr naming the
//! problem and the valid choices — never a panic: everything is validated before anything runs.

mod check;
mod diff;
mod ktap;
mod kunit;
mod kunit_worker;
mod list;
mod merge;
mod run;
mod shard;
mod sweep;
mod trace;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use ksim::{CheckMode, Outcome, Runner, Scheduler, Violation};
use ksim_scenarios::{default_schedulers, Expect, Scenario, Settings};

/// What a command returns: its exit status, or the one-line message of a usage error (status 2).
pub type CliResult = Result<ExitCode, String>;

#[derive(Parser)]
#[command(
    name = "ksim",
    version,
    about = "Kernel-in-userspace test harness: check driver scenarios under every scheduler",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the scenario catalogue, or with --configs every configuration key.
    List {
        /// List configuration keys, their values and defaults instead.
        #[arg(long)]
        configs: bool,
    },
    /// Run scenarios under every scheduler and print a KTAP report (the main job).
    Check(check::CheckArgs),
    /// Combine the outputs of every shard of one `ksim check --shard K/N` run into the report
    /// and exit status of the same run without --shard.
    Merge {
        /// The shard outputs, in any order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
    },
    /// Run one scenario once and print its reports in full and a summary.
    Run(run::RunArgs),
    /// Repeat the run named by a replay token (printed on every report's `replay:` line).
    Replay {
        /// SCENARIO/SCHEDULER/eN[/CONFIG]
        token: String,
    },
    /// Print the event trace of one run (the failing execution's, else the first).
    Trace(trace::TraceArgs),
    /// Unified diff of a scenario's allocation trace under two configurations.
    Diff(diff::DiffArgs),
    /// Run the KUnit suites of a C test file (and the C sources it tests) under every
    /// scheduler, KTAP out in KUnit's layout.
    Kunit(kunit::KunitArgs),
    /// Measure ksim's cost against raw shuttle and loom.
    Bench(BenchArgs),
}

#[derive(Args)]
struct BenchArgs {
    /// Benchmark group: core, memory, drivers, catalogue, sweep, or all (every one but sweep,
    /// which takes about seven minutes).
    group: String,
    /// Print one JSON object of named numbers instead of a table.
    #[arg(long)]
    json: bool,
    /// Tiny budget, for tests only: the numbers are noise.
    #[arg(long, hide = true)]
    quick: bool,
}

/// Parses the arguments, runs the command, and maps the result to the exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let result = match cli.command {
        Command::List { configs } => list::run(configs),
        Command::Check(a) => check::run(a),
        Command::Merge { files } => merge::run(&files),
        Command::Run(a) => run::run(a),
        Command::Replay { token } => run::replay(&token),
        Command::Trace(a) => trace::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Kunit(a) => kunit::run(a),
        Command::Bench(a) => crate::bench::run(&a.group, a.json, a.quick),
    };
    result.unwrap_or_else(|msg| usage_error(&msg))
}

/// One line on stderr, status 2.
fn usage_error(msg: &str) -> ExitCode {
    eprintln!("ksim: {msg}");
    ExitCode::from(2)
}

/// clap's errors squeezed onto one line (its multi-line usage and tips would bury the problem);
/// help and version still print in full.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            return usage_error(&format!("missing command (valid: {})", subcommands().join(", ")));
        }
        _ => {}
    }
    let text = e.render().to_string();
    let mut parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .collect();
    if let Some(first) = parts.first_mut() {
        *first = first.strip_prefix("error: ").unwrap_or(first);
    }
    let mut line = parts.join(" ");
    if e.kind() == ErrorKind::InvalidSubcommand {
        line.push_str(&format!(" (valid: {})", subcommands().join(", ")));
    }
    usage_error(&line)
}

fn subcommands() -> Vec<String> {
    Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect()
}

/// Writes to stdout, ignoring a closed pipe (`ksim check | head` must not panic).
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|()| o.flush());
}

/// Exit status for "every verdict matched".
pub fn status(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--seed`: any u64, named so in the error.
pub fn parse_seed(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("seed must be an integer in 0..={}", u64::MAX))
}

/// `--iterations`, `--jobs`: a positive count.
pub fn parse_count(s: &str) -> Result<usize, String> {
    s.parse().ok().filter(|n| *n > 0).ok_or_else(|| "must be a whole number of at least 1".to_string())
}

/// The scheduler options shared by run, trace and diff.
#[derive(Args, Clone)]
pub struct SchedArgs {
    /// std|random|pct|dfs|loom (default budgets from --seed/--iterations), or a full spec such
    /// as pct:seed=7:depth=3:iters=500.
    #[arg(long, value_name = "NAME|SPEC")]
    pub scheduler: Option<String>,
    /// Seed for random and pct.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = parse_seed, allow_hyphen_values = true)]
    pub seed: u64,
    /// Executions for random and pct (and the DFS cap).
    #[arg(long, value_name = "N", value_parser = parse_count, allow_hyphen_values = true)]
    pub iterations: Option<usize>,
}

impl SchedArgs {
    /// The chosen scheduler, `default` (a bare name) when none was given.
    pub fn scheduler(&self, default: &str) -> Result<Scheduler, String> {
        scheduler(self.scheduler.as_deref().unwrap_or(default), self.seed, self.iterations)
    }
}

/// A bare name takes the `ksim check` budgets (so `--scheduler pct` means what check ran);
/// anything else is a spec string.
pub fn scheduler(spec: &str, seed: u64, iterations: Option<usize>) -> Result<Scheduler, String> {
    if let Some(s) = default_schedulers(seed, iterations).into_iter().find(|s| s.name() == spec) {
        return Ok(s);
    }
    spec.parse()
}

/// One checking mode (run, trace).
#[derive(Clone, Copy, ValueEnum)]
pub enum Mode {
    /// The kernel's DEBUG_ATOMIC_SLEEP: report when a sleeping path actually runs.
    Observed,
    /// May-sleep contracts checked at API entry.
    Contract,
}

impl Mode {
    pub fn check_mode(self) -> CheckMode {
        match self {
            Mode::Observed => CheckMode::Observed,
            Mode::Contract => CheckMode::Contract,
        }
    }
}

/// The options of one run: settings, mode and scheduler.
#[derive(Args, Clone)]
pub struct RunOpts {
    /// A setting KEY=VALUE (repeatable, or comma-joined); see `ksim list --configs`.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Checking mode (a shorthand for --config mode=...).
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    #[command(flatten)]
    pub sched: SchedArgs,
}

impl RunOpts {
    /// The user's settings with the mode applied.
    pub fn settings(&self) -> Result<Settings, String> {
        let s = settings(&self.config)?;
        Ok(match self.mode {
            Some(m) => Scenario::with_mode(&s, m.check_mode()),
            None => s,
        })
    }
}

/// `--config` values: each `k=v`, or several comma-joined.
pub fn settings(configs: &[String]) -> Result<Settings, String> {
    Settings::parse(configs.iter().flat_map(|c| c.split(',')))
}

/// Runs a scenario, first refusing an environment that would silently change the run.
pub fn outcome(s: &Scenario, user: &Settings, sched: &Scheduler) -> Result<Outcome, String> {
    s.check_keys(user)?;
    c_driver_ready(s, user)?;
    Runner::new(sched.clone()).check_environment()?;
    Ok(s.run(user, sched.clone()))
}

/// Refuses a run on brd.c (`driver=brd-6.1-c`) when there is no kernel tree, the tree is
/// unusable or its brd.c does not build (the compiler's lines on stderr first).
fn c_driver_ready(s: &Scenario, user: &Settings) -> Result<(), String> {
    if s.generation(user) != Some(ksim_scenarios::brds::Generation::V6_1C) {
        return Ok(());
    }
    match ksim_scenarios::brds::brd_c() {
        ksim_scenarios::brds::CDriver::Broken(e) => {
            if let Some(d) = e.details() {
                eprint!("{d}");
            }
            Err(e.to_string())
        }
        _ => s.unavailable(user).map_or(Ok(()), Err),
    }
}

/// For a failure a std run found but cannot replay (several tasks on real threads): the replay
/// command of the same scenario under the first deterministic scheduler, at `check`'s default
/// budgets, that finds a failure of one of `kinds`.
pub fn reproduce(s: &Scenario, user: &Settings, kinds: &[Violation]) -> Option<String> {
    default_schedulers(1, None).into_iter().filter(|x| *x != Scheduler::Std && s.supports(x)).find_map(
        |sched| {
            let o = s.run(user, sched);
            o.reports.iter().find(|r| kinds.contains(&r.kind)).map(|r| format!("ksim replay {}", r.token))
        },
    )
}

/// The line that replaces a non-replayable report's `replay:` line in the command's output.
pub fn reproduce_line(s: &Scenario, user: &Settings, o: &Outcome) -> Option<String> {
    let r = o.reports.iter().find(|r| !r.replayable)?;
    Some(match reproduce(s, user, &[r.kind]) {
        Some(cmd) => format!("replay: none (std, {} tasks on real threads); reproduce with: {cmd}", o.tasks),
        None => format!(
            "replay: none (std, {} tasks on real threads); no deterministic scheduler found it at check's default budgets",
            o.tasks
        ),
    })
}

/// `clean`, or the kinds found.
pub fn verdict(o: &Outcome) -> String {
    if o.is_clean() {
        "clean".to_string()
    } else {
        o.kinds().iter().map(|k| k.name()).collect::<Vec<_>>().join(",")
    }
}

/// What must be found, in the same words as [`verdict`].
pub fn expected(e: &Expect) -> String {
    match e {
        Expect::Clean => "clean".to_string(),
        Expect::Finds(k) => k.iter().map(|v| v.name()).collect::<Vec<_>>().join("|"),
    }
}

/// Whether an outcome meets the expectation (`None`: any verdict).
pub fn matches(e: Option<&Expect>, o: &Outcome) -> bool {
    e.is_none_or(|e| e.matches(o))
}
