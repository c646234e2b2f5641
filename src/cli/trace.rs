//! `ksim trace`: the event trace of one run (the failing execution's, else the first one's) as
//! ftrace-like text, JSON Lines, or Chrome/Perfetto trace-event JSON.

use clap::{Args, ValueEnum};
use ksim::{Cat, Trace};
use ksim_scenarios::catalogue;

use super::run::DEFAULT_SCHEDULER;
use super::{out, outcome, CliResult, RunOpts};

#[derive(Args)]
pub struct TraceArgs {
    /// Scenario name (see `ksim list`).
    scenario: String,
    #[command(flatten)]
    opts: RunOpts,
    /// Which events: the allocation view (what snapshots use) or all of them.
    #[arg(long, value_enum, default_value_t = View::All)]
    view: View,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum View {
    /// Page allocator, free, preload and kmap events.
    Alloc,
    /// Every event.
    All,
}

impl View {
    /// The view as text: the allocation view without sequence numbers (as snapshots and diffs
    /// use it, so an unrelated event does not renumber every line), all events with them.
    pub fn text(self, t: &Trace) -> String {
        match self {
            View::All => t.text(),
            View::Alloc => t.allocations(),
        }
    }

    /// The trace restricted to this view.
    pub fn apply(self, t: &Trace) -> Trace {
        match self {
            View::All => t.clone(),
            View::Alloc => Trace { events: t.of(Cat::Mem).cloned().collect() },
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Jsonl,
    Perfetto,
}

pub fn run(a: TraceArgs) -> CliResult {
    let s = catalogue::find(&a.scenario)?;
    let user = a.opts.settings()?;
    let sched = a.opts.sched.scheduler(DEFAULT_SCHEDULER)?;
    let o = outcome(&s, &user, &sched)?;
    let t = a.view.apply(o.trace());
    out(&match a.format {
        Format::Text => a.view.text(o.trace()),
        Format::Jsonl => t.jsonl(None),
        Format::Perfetto => t.perfetto(),
    });
    Ok(std::process::ExitCode::SUCCESS)
}
