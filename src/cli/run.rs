//! `ksim run` and `ksim replay`: one run, every report in full, then a summary.
//!
//! A replay prints exactly what the original run printed: the summary shows the scheduler as a
//! spec (`pct:seed=1:depth=3:iters=200`, as in the token), never the way it was typed.

use clap::Args;
use ksim::{Outcome, Scheduler, Token};
use ksim_scenarios::{catalogue, Expect, Scenario, Settings};

use super::{
    expected, matches, out, outcome, reproduce, reproduce_line, status, verdict, CliResult, RunOpts,
};

#[derive(Args)]
pub struct RunArgs {
    /// Scenario name (see `ksim list`).
    scenario: String,
    #[command(flatten)]
    opts: RunOpts,
}

/// The scheduler `run` and `trace` use unless told: PCT is deterministic and finds shallow races.
pub const DEFAULT_SCHEDULER: &str = "pct";

pub fn run(a: RunArgs) -> CliResult {
    let s = catalogue::find(&a.scenario)?;
    let user = a.opts.settings()?;
    let sched = a.opts.sched.scheduler(DEFAULT_SCHEDULER)?;
    let o = outcome(&s, &user, &sched)?;
    let (text, ok) = render(&s, &user, &sched, &o);
    out(&text);
    Ok(status(ok))
}

pub fn replay(token: &str) -> CliResult {
    let t: Token = token.parse().map_err(|e: String| {
        if e.starts_with("malformed replay token") {
            e
        } else {
            format!("malformed replay token '{token}': {e}")
        }
    })?;
    let s = catalogue::find(&t.scenario)?;
    let user = Settings::from_label(&t.config_label)?;
    let o = outcome(&s, &user, &t.scheduler)?;
    if t.scheduler == Scheduler::Std && o.tasks > 1 {
        // Real threads: nothing recorded the interleaving, so a rerun would only pretend.
        let mut kinds = o.kinds();
        if let Expect::Finds(k) = s.expected(&user) {
            kinds.extend(k);
        }
        let how = reproduce(&s, &user, &kinds).map_or_else(
            || "no deterministic scheduler reproduces it at check's default budgets".to_string(),
            |cmd| format!("reproduce it with: {cmd}"),
        );
        return Err(format!(
            "replay token '{token}' names a std run of {} tasks on real threads, which no run can repeat; {how}",
            o.tasks
        ));
    }
    let (text, ok) = render(&s, &user, &t.scheduler, &o);
    out(&text);
    // Only a std run of a multi-task scenario can diverge; say so, off stdout.
    match o.first_report() {
        Some(r) if r.token == token => {}
        Some(r) => eprintln!("ksim: note: the replay failed differently (token {})", r.token),
        None => eprintln!("ksim: note: the replay did not reproduce a failure"),
    }
    Ok(status(ok))
}

/// Reports in full, then the summary; and whether the verdict met the expectation.
fn render(s: &Scenario, user: &Settings, sched: &Scheduler, o: &Outcome) -> (String, bool) {
    let mut t = String::new();
    let reproduce = reproduce_line(s, user, o);
    for r in &o.reports {
        if let (false, Some(line)) = (r.replayable, &reproduce) {
            // The model's line says only that std cannot replay it; name a command that can.
            for l in r.text.lines() {
                t.push_str(if l.starts_with("replay: ") { line } else { l });
                t.push('\n');
            }
            t.push('\n');
            continue;
        }
        t.push_str(&r.text);
        if !r.text.ends_with('\n') {
            t.push('\n');
        }
        t.push('\n');
    }
    let expect = s.expected_under(user, sched);
    let ok = matches(expect.as_ref(), o);
    let label = user.label();
    let rows = [
        ("scenario", s.name.to_string()),
        ("config", if label.is_empty() { "(defaults)".to_string() } else { label }),
        ("scheduler", sched.to_string()),
        ("executions", o.executions.to_string()),
        ("verdict", verdict(o)),
        (
            "expected",
            expect.map_or_else(|| "any (interleaving-dependent, std)".to_string(), |e| expected(&e)),
        ),
        ("result", if ok { "ok" } else { "MISMATCH" }.to_string()),
    ];
    for (k, v) in rows {
        t.push_str(&format!("{:<11} {v}\n", format!("{k}:")));
    }
    (t, ok)
}
