//! The processes behind `ksim kunit`: one per case, running its rows (parameter × mode ×
//! scheduler) and printing each as a JSON line; and the parent's side, which starts them, holds
//! each to its time budget, and turns a crash or a timeout into the failing row it is.

use std::io::{BufRead as _, Read, Write as _};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ksim::{CheckMode, Outcome, Runner, Scheduler};
use ksim_c::kunit::{self, Execution, Status};
use serde::{Deserialize, Serialize};

use super::kunit::{CaseRows, Plan};
use super::CliResult;

/// One row of a case: a KTAP result line and the diagnostics before it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RowResult {
    pub name: String,
    /// `ok`, `fail` or `skip`.
    pub status: String,
    /// After the name: ` # SKIP reason`, or empty.
    pub directive: String,
    pub diags: Vec<String>,
}

/// What the worker prints: a row starting (so a crash can be placed), or its result.
#[derive(Serialize, Deserialize)]
enum Line {
    Start(usize),
    Row(usize, RowResult),
}

/// What the executions of one row found.
#[derive(Default)]
struct Found {
    first: Option<Execution>,
    failed: Option<Execution>,
    all_skipped: bool,
}

/// `--worker SUITE:CASE`: runs the case's rows, one JSON line each.
pub fn run(plan: &Plan, which: &str) -> CliResult {
    let (s, c) = which
        .split_once(':')
        .and_then(|(s, c)| Some((s.parse::<usize>().ok()?, c.parse::<usize>().ok()?)))
        .filter(|&(s, c)| s < plan.suites.len() && c < plan.suites[s].cases.len())
        .ok_or_else(|| format!("--worker '{which}': no such case"))?;
    ksim_c::crash::install();
    let lease = Arc::new(Mutex::new(plan.image.lease()?));
    let rows = plan.rows(s, c);
    for (i, (p, mode, sched, name)) in rows.iter().enumerate() {
        emit(&Line::Start(i));
        let first_of_param = i == 0 || rows[i - 1].0 != *p;
        let r = run_row(plan, &lease, (s, c, *p), *mode, sched, name, first_of_param)?;
        emit(&Line::Row(i, r));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn emit(l: &Line) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{}", serde_json::to_string(l).expect("a row serialises")).and_then(|()| o.flush());
}

fn run_row(
    plan: &Plan,
    lease: &Arc<Mutex<ksim_c::Lease>>,
    (s, c, p): (usize, usize, usize),
    mode: CheckMode,
    sched: &Scheduler,
    name: &str,
    show_log: bool,
) -> Result<RowResult, String> {
    let mut settings = plan.settings.clone();
    settings.set("mode", &mode.to_string())?;
    let found = Arc::new(Mutex::new(Found { all_skipped: true, ..Found::default() }));
    let (l, f, module, params) = (lease.clone(), found.clone(), plan.module.clone(), plan.params.clone());
    let body = move || {
        let sink = |e: Execution| {
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            f.all_skipped &= e.status == Status::Skip;
            if e.status == Status::Fail && f.failed.is_none() {
                f.failed = Some(e.clone());
            }
            f.first.get_or_insert(e);
        };
        kunit::run_case(&l, &module, &params, (s, c, p), &sink);
    };
    let o =
        Runner::new(sched.clone()).config(settings.kernel_config()).scenario("kunit", "").try_run(body)?;
    let f = found.lock().unwrap_or_else(|e| e.into_inner());
    let case = format!("{}.{}", plan.suites[s].name, plan.suites[s].cases[c].name);
    Ok(row(plan, &case, mode, sched, name, &o, &f, show_log))
}

#[allow(clippy::too_many_arguments)]
fn row(
    plan: &Plan,
    case: &str,
    mode: CheckMode,
    sched: &Scheduler,
    name: &str,
    o: &Outcome,
    f: &Found,
    show_log: bool,
) -> RowResult {
    let mut r =
        RowResult { name: name.to_string(), status: "ok".into(), directive: String::new(), diags: vec![] };
    let mode_arg = if mode == CheckMode::Observed { String::new() } else { format!(" --mode {mode}") };
    let rerun =
        |s: &Scheduler| format!("ksim kunit {} --filter {case} --scheduler {s}{mode_arg}", plan.replay_base);
    if let Some(rep) = o.first_report() {
        r.status = "fail".into();
        r.diags.extend(rep.text.lines().filter(|l| !l.starts_with("replay:")).map(str::to_string));
        r.diags.push(if rep.replayable {
            format!("replay: {}", rerun(sched))
        } else {
            let pct = super::scheduler("pct", 1, None).expect("pct is a scheduler");
            format!(
                "replay: none (std, {} tasks on real threads); explore it deterministically with: {}",
                o.tasks,
                rerun(&pct)
            )
        });
    } else {
        if f.first.is_some() && f.all_skipped {
            r.status = "skip".into();
            let why = f.first.as_ref().map_or("", |e| e.comment.as_str());
            r.directive = format!(" # SKIP {why}");
        }
        // The case's log once per parameter (every scheduler's first execution logs the same).
        if show_log {
            r.diags.extend(f.first.iter().flat_map(|e| e.log.iter().cloned()));
        }
    }
    r.diags.push(format!("executions: {}", o.executions));
    r
}

/// Runs every unit's worker, `jobs` at a time; each unit's rows in order.
pub fn spawn_all(
    plan: &Plan,
    units: &[(usize, usize)],
    jobs: usize,
    timeout: u64,
) -> Result<Vec<CaseRows>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the ksim executable: {e}"))?;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<CaseRows>>> = Mutex::new(vec![None; units.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(units.len()) {
            scope.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap_or_else(|e| e.into_inner());
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(&(s, c)) = units.get(i) else { return };
                let rows = one(plan, &exe, &args, (s, c), timeout);
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(rows);
            });
        }
    });
    Ok(results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_default())
        .collect())
}

/// One case's worker: its rows, with a crash, a timeout or a worker failure as the failing row
/// where it happened and the rows it kept from running as skipped.
fn one(
    plan: &Plan,
    exe: &std::path::Path,
    args: &[std::ffi::OsString],
    (s, c): (usize, usize),
    timeout: u64,
) -> CaseRows {
    let names: Vec<String> = plan.rows(s, c).into_iter().map(|r| r.3).collect();
    let mut child = match Command::new(exe)
        .args(args)
        .arg("--worker")
        .arg(format!("{s}:{c}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return failed_rows(&names, 0, &[], &format!("cannot start a worker: {e}"), vec![]),
    };
    let (mut so, mut se) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let (status, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(st)) => break (Some(st), false),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                break (child.wait().ok(), true);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break (None, false),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    let mut done: Vec<RowResult> = Vec::new();
    let mut started = 0;
    for l in stdout.as_slice().lines().map_while(Result::ok) {
        match serde_json::from_str::<Line>(&l) {
            Ok(Line::Start(i)) => started = i,
            Ok(Line::Row(_, r)) => done.push(r),
            Err(_) => {}
        }
    }
    if done.len() == names.len() && status.is_some_and(|s| s.success()) {
        return done;
    }
    let at = names.get(started).map_or("", String::as_str);
    if timed_out {
        let why = format!("timeout: the case ran past its budget of {timeout} s (--timeout) under {at}");
        return failed_rows(&names, started, &done, &why, vec![]);
    }
    use std::os::unix::process::ExitStatusExt as _;
    if let Some(sig) = status.and_then(|s| s.signal()) {
        let (why, diags) = crash(sig, &stderr, at);
        return failed_rows(&names, started, &done, &why, diags);
    }
    let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string();
    failed_rows(&names, started, &done, &format!("the worker failed under {at}: {last}"), vec![])
}

/// The rows of a case whose worker stopped at row `at`: the rows before it as they ran, row `at`
/// failing with `why`, the rest skipped (they never ran).
fn failed_rows(
    names: &[String],
    at: usize,
    done: &[RowResult],
    why: &str,
    mut diags: Vec<String>,
) -> CaseRows {
    let mut rows: Vec<RowResult> = done.iter().take(at).cloned().collect();
    diags.push(why.to_string());
    rows.push(RowResult {
        name: names[at.min(names.len() - 1)].clone(),
        status: "fail".into(),
        directive: String::new(),
        diags,
    });
    for n in names.iter().skip(rows.len()) {
        rows.push(RowResult {
            name: n.clone(),
            status: "skip".into(),
            directive: format!(" # SKIP not run: the case stopped under {}", names[at.min(names.len() - 1)]),
            diags: vec![],
        });
    }
    rows
}

/// A crash's headline and location: the worker's `ksim-crash:` line, and the C `file:line` of
/// the faulting instruction from the module's debug information (binutils' addr2line).
fn crash(sig: i32, stderr: &str, at: &str) -> (String, Vec<String>) {
    let name = match sig {
        libc_sig::SEGV => "SIGSEGV",
        libc_sig::BUS => "SIGBUS",
        libc_sig::FPE => "SIGFPE",
        libc_sig::ILL => "SIGILL",
        libc_sig::ABRT => "SIGABRT",
        libc_sig::KILL => "SIGKILL",
        _ => "a signal",
    };
    let mut diags = Vec::new();
    let field = |line: &str, k: &str| line.split(' ').find_map(|w| w.strip_prefix(k).map(str::to_string));
    if let Some(line) = stderr.lines().find(|l| l.starts_with("ksim-crash: ")) {
        let addr = field(line, "address=").unwrap_or_default();
        match (field(line, "so="), field(line, "offset="), field(line, "function=")) {
            (Some(so), Some(off), Some(func)) => {
                let loc = addr2line(&so, &off).unwrap_or_else(|| format!("{so}+{off}"));
                diags.push(format!("{name}: fault at address {addr} in {func} at {loc}"));
            }
            _ => diags.push(format!("{name}: fault at address {addr}, outside the C module's code")),
        }
    }
    (format!("crashed: {name} under {at}"), diags)
}

/// Signal numbers (Linux), named here because this crate has no libc dependency of its own.
mod libc_sig {
    pub const ILL: i32 = 4;
    pub const ABRT: i32 = 6;
    pub const BUS: i32 = 7;
    pub const FPE: i32 = 8;
    pub const KILL: i32 = 9;
    pub const SEGV: i32 = 11;
}

/// `file:line` of `offset` in shared object `so`, if addr2line can say.
fn addr2line(so: &str, offset: &str) -> Option<String> {
    let out = Command::new("addr2line").args(["-e", so, offset]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let loc = text.lines().next()?.split(" (discriminator").next()?.trim();
    // The debug information names the file by its absolute path; reports name it as compiled.
    let cwd = std::env::current_dir().ok()?;
    let loc = loc.strip_prefix(&format!("{}/", cwd.display())).unwrap_or(loc).to_string();
    (out.status.success() && !loc.starts_with("??")).then_some(loc)
}
