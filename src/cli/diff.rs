//! `ksim diff`: how a scenario's allocation trace changes between two configurations (for
//! example DAX on vs off), as a unified diff. Exit status as diff(1): 0 same, 1 different.

use clap::Args;
use ksim_scenarios::catalogue;
use similar::TextDiff;

use super::trace::View;
use super::{out, outcome, settings, status, CliResult, SchedArgs};

#[derive(Args)]
pub struct DiffArgs {
    /// Scenario name (see `ksim list`).
    scenario: String,
    /// The first side's settings, comma-joined KEY=VALUE (empty for the defaults).
    #[arg(long = "config", value_name = "A", default_value = "")]
    a: String,
    /// The second side's settings, comma-joined KEY=VALUE.
    #[arg(long, value_name = "B")]
    vs: String,
    /// Which events to compare.
    #[arg(long, value_enum, default_value_t = View::Alloc)]
    view: View,
    /// One real-thread run per side unless told otherwise.
    #[command(flatten)]
    sched: SchedArgs,
}

/// One execution with no preemption: deterministic for every scenario, single- or multi-task
/// (a real-thread run is not, once a scenario has two tasks).
const DIFF_SCHEDULER: &str = "dfs:bound=0:max=1";

pub fn run(a: DiffArgs) -> CliResult {
    let s = catalogue::find(&a.scenario)?;
    let (left, right) = (settings(&[a.a])?, settings(&[a.vs])?);
    let sched = a.sched.scheduler(DIFF_SCHEDULER)?;
    let side = |user| -> Result<(String, String), String> {
        let o = outcome(&s, user, &sched)?;
        let label = match user.label() {
            l if l.is_empty() => "(defaults)".to_string(),
            l => l,
        };
        Ok((format!("{} {label}", s.name), a.view.text(o.trace())))
    };
    let ((lname, ltext), (rname, rtext)) = (side(&left)?, side(&right)?);
    let diff = TextDiff::from_lines(&ltext, &rtext);
    let same = ltext == rtext;
    if !same {
        out(&diff.unified_diff().context_radius(3).header(&lname, &rname).to_string());
    }
    Ok(status(same))
}
