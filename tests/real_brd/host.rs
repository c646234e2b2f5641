//! What both oracles need from the host: a scratch directory, Debian's package tools, and a
//! child process that is killed with everything it started when it overruns its time.

use std::cell::{Cell, RefCell};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::oracle::Unavailable;

/// A fresh directory under the temporary directory, removed on drop unless kept.
pub struct WorkDir {
    pub path: PathBuf,
    kept: Cell<bool>,
    /// Large inputs a kept directory drops (the seeds regenerate them).
    bulky: RefCell<Vec<PathBuf>>,
}

impl WorkDir {
    pub fn create(what: &str) -> Result<WorkDir, Unavailable> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("ksim-{what}-{}-{nanos}", std::process::id()));
        let text = dir.to_string_lossy();
        // The path goes into a shell script in single quotes and onto a guest's command line.
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c)) {
            return Err(Unavailable(format!(
                "temporary directory {text:?} has characters the guest script cannot use"
            )));
        }
        fs::create_dir_all(&dir).map_err(|e| Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        Ok(WorkDir { path: dir, kept: Cell::new(false), bulky: RefCell::new(Vec::new()) })
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Marks `path` as an input to delete when the directory is kept.
    pub fn bulky(&self, path: PathBuf) {
        self.bulky.borrow_mut().push(path);
    }

    /// Keeps the directory (a failure's evidence, less the bulky inputs) and returns its path.
    pub fn keep(&self) -> &Path {
        if !self.kept.replace(true) {
            for p in self.bulky.borrow().iter() {
                let _ = fs::remove_file(p);
            }
        }
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.kept.get() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs `cmd` (stdout and stderr to `log`) in its own process group and waits until it exits,
/// `done()` says it may be stopped (then it is killed: `Ok(None)`), or `limit` passes (killed:
/// an error naming `what`).
pub fn run_until(
    mut cmd: Command,
    what: &str,
    log: &Path,
    limit: Duration,
    done: &dyn Fn() -> bool,
) -> Result<Option<ExitStatus>, Unavailable> {
    let out =
        fs::File::create(log).map_err(|e| Unavailable(format!("cannot create {}: {e}", log.display())))?;
    let err = out.try_clone().map_err(|e| Unavailable(format!("cannot dup {}: {e}", log.display())))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
    let mut child = cmd.spawn().map_err(|e| Unavailable(format!("cannot start {what}: {e}")))?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) if done() => {
                kill_group(&mut child);
                return Ok(None);
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                kill_group(&mut child);
                return Err(Unavailable(format!(
                    "{what} did not finish within {:.1} s and was killed; its console: {}",
                    limit.as_secs_f64(),
                    last_lines(&read_lossy(log), 2)
                )));
            }
            Err(e) => {
                kill_group(&mut child);
                return Err(Unavailable(format!("waiting for {what} failed: {e}")));
            }
        }
    }
}

/// Kills the child's process group (UML's kernel threads and guest processes are host
/// processes too) while the leader is still unreaped, so the group id cannot have been reused,
/// then reaps it.
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs a shell command line to completion; its stdout, or a one-line reason.
pub fn sh(line: &str) -> Result<String, String> {
    let out = Command::new("sh")
        .args(["-c", line])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{line}` failed ({}): {}",
            out.status,
            last_lines(&String::from_utf8_lossy(&out.stderr), 2)
        ))
    }
}

/// Installs Debian packages (this project's machines are Debian and tests run as root; elsewhere
/// this fails and the caller says why). `apt-get update` first: a fresh machine has no lists.
pub fn apt_install(packages: &str) -> Result<(), String> {
    sh(&format!(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
         --no-install-recommends {packages}"
    ))
    .map(drop)
}

/// `PROGRAM` on `PATH`, else in `/usr/bin`.
pub fn which(program: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join(program)).find(|f| f.is_file()));
    on_path.or_else(|| Some(Path::new("/usr/bin").join(program)).filter(|f| f.is_file()))
}

/// `program` on the host, installing `package` first when it is missing and `may_install`.
pub fn find_or_install(program: &str, package: &str, may_install: bool) -> Result<PathBuf, Unavailable> {
    if let Some(p) = which(program) {
        return Ok(p);
    }
    if !may_install {
        return Err(Unavailable(format!(
            "{program} not found (Debian package {package}; not installed: opted out)"
        )));
    }
    match apt_install(package) {
        Ok(()) => which(program).ok_or_else(|| {
            Unavailable(format!("{program} still not found after installing Debian's {package}"))
        }),
        Err(e) => Err(Unavailable(format!(
            "{program} not found and Debian's {package} could not be installed: {e}"
        ))),
    }
}

pub fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

/// The last `n` non-empty lines of `text`, joined with " | ".
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(n)..].join(" | ");
    if tail.is_empty() {
        "(nothing)".into()
    } else {
        tail
    }
}

/// What a guest console says about why it stopped: its lines naming a panic or a failed host
/// call (UML's "ptrace set fp regs failed, errno = 14", "Kernel panic - not syncing: ..."), else
/// its last lines (a panic's backtrace comes after the line that explains it).
pub fn console_reason(console: &str) -> String {
    let telling: Vec<&str> = console
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("Kernel panic") || l.contains("errno =") || l.contains("not syncing"))
        .collect();
    if telling.is_empty() {
        last_lines(console, 3)
    } else {
        telling[telling.len().saturating_sub(3)..].join(" | ")
    }
}
