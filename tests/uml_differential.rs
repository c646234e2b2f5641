//! Differential test of ksim's brd v6.1 model against the real `brd.ko` of Debian's
//! user-mode-linux package (6.1), run in UML with the host's root as a hostfs root.
//!
//! Seeded workloads (`ksim_scenarios::differential`) run twice: through brd v6.1 in ksim, and in
//! one UML boot whose init script (written here) loads `brd.ko` for each workload, runs the
//! workload with a small helper (`tests/uml/ksim_uml_io.c`, compiled here with the host's `cc`:
//! O_DIRECT `pread`/`pwrite`, `pwritev2(RWF_NOWAIT)` for `REQ_NOWAIT` writes, `finit_module` /
//! `delete_module`) and unloads it. Compared per workload: every operation's result, every byte
//! read back (ranges in between and the whole device at the end), and the number of backing
//! pages — ksim's `Brd::nr_pages(0)` against the real kernel's page accounting before and after
//! the workload (free pages plus the per-cpu lists of `/proc/zoneinfo`, less the slab pages
//! that appeared meanwhile: radix-tree nodes), which must agree within [`PAGE_TOLERANCE`].
//! ksim is also checked against a plain shadow model of the device.
//!
//! When UML cannot run (package missing, no `cc`, UML fails to boot, timeout) the test fails
//! with a one-line reason, unless `KSIM_UML=skip` is set: then it says why on stderr and passes
//! (the ksim-against-shadow checks still run).
#![forbid(unsafe_code)]

use std::cell::Cell;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ksim_scenarios::differential::{run_ksim, KsimRun, Observed, Op, OpResult, Workload};

/// Workloads per run.
const WORKLOADS: u64 = 16;
/// Seed of the first workload (the others follow).
const FIRST_SEED: u64 = 0x6b73_696d_0000_0001;
/// Most pages the real count may differ from ksim's ledger (slab/per-cpu noise).
const PAGE_TOLERANCE: u64 = 2;
/// Limit for the UML boot plus all workloads; UML is killed after it.
const UML_TIMEOUT: Duration = Duration::from_secs(50);
/// The guest helper's source.
const HELPER_SRC: &str = include_str!("uml/ksim_uml_io.c");

/// What the real kernel did with one workload.
struct RealRun {
    observed: Observed,
    /// Pages that left the free lists (free + per-cpu) during the workload.
    raw_pages: i64,
    /// Slab pages that appeared during the workload.
    slab_pages: i64,
}

/// Why the real side could not run.
struct Unavailable(String);

#[test]
fn brd_v6_1_matches_real_brd_in_uml() {
    let started = Instant::now();
    let workloads: Vec<Workload> = (0..WORKLOADS).map(|i| Workload::generate(FIRST_SEED + i)).collect();

    let ksim_side = {
        let workloads = workloads.clone();
        std::thread::spawn(move || workloads.iter().map(run_ksim).collect::<Vec<_>>())
    };
    let real = run_in_uml(&workloads);
    let real_time = started.elapsed();
    let ksim: Vec<Result<KsimRun, String>> = ksim_side.join().expect("the ksim side panicked");

    let mut mismatches = Vec::new();
    let mut ksim_runs = Vec::new();
    for (w, k) in workloads.iter().zip(ksim) {
        match &k {
            Ok(k) => {
                compare(w, "shadow", &w.shadow(), &k.observed, None, &mut mismatches);
                if k.allocated_pages != k.observed.pages {
                    mismatches.push(format!(
                        "seed {:#x}: Brd::nr_pages(0) = {} but the allocator holds {} pages",
                        w.seed, k.observed.pages, k.allocated_pages
                    ));
                }
            }
            Err(e) => mismatches.push(format!("seed {:#x}: ksim run failed: {e}", w.seed)),
        }
        ksim_runs.push(k.ok());
    }

    let real = match real {
        Ok(real) => real,
        Err(Unavailable(reason)) => {
            assert!(
                mismatches.is_empty(),
                "ksim disagrees with the shadow model:\n{}",
                mismatches.join("\n")
            );
            if std::env::var("KSIM_UML").as_deref() == Ok("skip") {
                // Straight to the process's stderr: libtest captures eprintln! of passing tests.
                let _ = writeln!(std::io::stderr(), "uml_differential: SKIPPED (KSIM_UML=skip): {reason}");
                return;
            }
            panic!("UML differential test cannot run: {reason} (set KSIM_UML=skip to skip it explicitly)");
        }
    };

    let (mut bytes, mut ops, mut max_dev, mut exact) = (0u64, 0usize, 0u64, 0usize);
    let all_ops = || workloads.iter().flat_map(|w| &w.ops);
    let writes = all_ops().filter(|o| matches!(o, Op::Write { .. })).count();
    let nowait = all_ops().filter(|o| matches!(o, Op::Write { nowait: true, .. })).count();
    for ((w, k), r) in workloads.iter().zip(&ksim_runs).zip(&real) {
        let Some(k) = k else { continue };
        let real_pages = r.raw_pages - r.slab_pages;
        compare(w, "real brd.ko", &r.observed, &k.observed, Some(real_pages), &mut mismatches);
        bytes += r.observed.reads.iter().map(|v| v.len() as u64).sum::<u64>();
        ops += w.ops.len();
        max_dev = max_dev.max(real_pages.abs_diff(k.observed.pages as i64));
        exact += usize::from(real_pages == k.observed.pages as i64);
        eprintln!(
            "uml_differential: seed {:#x}: {} KiB, {} ops, {} bytes read; pages ksim {} real {} \
             (free lists -{}, slab +{})",
            w.seed,
            w.rd_size_kib,
            w.ops.len(),
            w.read_bytes(),
            k.observed.pages,
            real_pages,
            r.raw_pages,
            r.slab_pages
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "uml_differential: {} workloads, {ops} ops ({writes} writes, {nowait} of them REQ_NOWAIT), \
         {bytes} bytes compared, {} page counts compared \
         ({exact} exact, largest difference {max_dev} pages, tolerance {PAGE_TOLERANCE}), {} mismatches; \
         real side (helper build, UML boot, workloads) {:.1} s, test {:.1} s",
        real.len(),
        ksim_runs.iter().flatten().count(),
        mismatches.len(),
        real_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// Compares `got` (ksim) with `want` (`what`: the shadow model or the real driver). With
/// `real_pages`, the page count must be within [`PAGE_TOLERANCE`] of it; without, exact.
fn compare(
    w: &Workload,
    what: &str,
    want: &Observed,
    got: &Observed,
    real_pages: Option<i64>,
    out: &mut Vec<String>,
) {
    let seed = w.seed;
    for (i, (a, b)) in want.results.iter().zip(&got.results).enumerate() {
        if a != b {
            out.push(format!("seed {seed:#x} op {i} {:?}: {what} {a:?}, ksim {b:?}", w.ops[i]));
        }
    }
    if want.results.len() != got.results.len() {
        out.push(format!(
            "seed {seed:#x}: {what} has {} results, ksim {}",
            want.results.len(),
            got.results.len()
        ));
    }
    let reads: Vec<&Op> = w.ops.iter().filter(|o| matches!(o, Op::Read { .. })).collect();
    for (n, (a, b)) in want.reads.iter().zip(&got.reads).enumerate() {
        if a == b {
            continue;
        }
        let (offset, _) = reads[n].range();
        let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        let differing = a.iter().zip(b).filter(|(x, y)| x != y).count();
        out.push(format!(
            "seed {seed:#x} read {n} {:?}: {differing} bytes differ, first at device byte {} \
             ({what} {:?}, ksim {:?}; lengths {} / {})",
            reads[n],
            offset + at as u64,
            a.get(at),
            b.get(at),
            a.len(),
            b.len()
        ));
    }
    if want.reads.len() != got.reads.len() {
        out.push(format!("seed {seed:#x}: {what} has {} reads, ksim {}", want.reads.len(), got.reads.len()));
    }
    let pages_ok = match real_pages {
        Some(real) => real.abs_diff(got.pages as i64) <= PAGE_TOLERANCE,
        None => want.pages == got.pages,
    };
    if !pages_ok {
        out.push(format!(
            "seed {seed:#x}: backing pages: {what} {}, ksim {} (tolerance {})",
            real_pages.unwrap_or(want.pages as i64),
            got.pages,
            if real_pages.is_some() { PAGE_TOLERANCE } else { 0 }
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Driving UML

/// Runs every workload in one UML boot and collects what the real brd did.
fn run_in_uml(workloads: &[Workload]) -> Result<Vec<RealRun>, Unavailable> {
    let uml = find_uml()?;
    let version = uml_version(&uml)?;
    let module = PathBuf::from(format!("/usr/lib/uml/modules/{version}/kernel/drivers/block/brd.ko"));
    if !module.is_file() {
        return Err(Unavailable(format!("{} not found (UML reports version {version})", module.display())));
    }
    let dir = WorkDir::create()?;
    let helper = build_helper(&dir.0)?;
    let script = write_guest(&dir.0, &helper, &module, workloads)?;

    let console = dir.0.join("console.log");
    let status = boot(&uml, &dir.0, &script, &console)
        .map_err(|Unavailable(e)| Unavailable(format!("{e} [kept {}]", dir.keep().display())))?;
    if !dir.0.join("finished").exists() {
        let started = dir.0.join("started").exists();
        let log = if started { read_lossy(&dir.0.join("guest.log")) } else { read_lossy(&console) };
        let detail = last_lines(&log, 3);
        return Err(Unavailable(format!(
            "UML exited ({status}) {} the workloads; {} says: {detail} [kept {}]",
            if started { "without finishing" } else { "before its init script ran" },
            if started { "the guest log" } else { "the console" },
            dir.keep().display()
        )));
    }
    let mut runs = Vec::new();
    for (i, w) in workloads.iter().enumerate() {
        match read_run(&dir.0.join(format!("w{i}.out")), w) {
            Ok(r) => runs.push(r),
            Err(e) => {
                let guest = fs::read_to_string(dir.0.join("guest.log")).unwrap_or_default();
                return Err(Unavailable(format!(
                    "workload {i} left no usable results ({e}); guest log: {} [kept {}]",
                    last_lines(&guest, 3),
                    dir.keep().display()
                )));
            }
        }
    }
    Ok(runs)
}

/// `linux.uml` on `PATH`, else Debian's `/usr/bin/linux.uml`.
fn locate_uml() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("linux.uml")).find(|f| f.is_file()));
    on_path.flatten().or_else(|| Some(PathBuf::from("/usr/bin/linux.uml")).filter(|f| f.is_file()))
}

/// Finds `linux.uml`, installing Debian's `user-mode-linux` package first when it is missing, so
/// that `cargo test --workspace` needs no set-up step of its own (this project's machines are
/// Debian and tests run as root; elsewhere the install fails and the test says why).
fn find_uml() -> Result<PathBuf, Unavailable> {
    if let Some(p) = locate_uml() {
        return Ok(p);
    }
    if std::env::var("KSIM_UML").as_deref() != Ok("skip") {
        let installed = Command::new("sh")
            .args([
                "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq user-mode-linux",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if installed {
            if let Some(p) = locate_uml() {
                return Ok(p);
            }
        }
    }
    Err(Unavailable(
        "linux.uml not found and Debian's user-mode-linux package could not be installed \
         (apt-get install user-mode-linux)"
            .into(),
    ))
}

/// `linux.uml --version` (e.g. `6.1.176`), which names the module directory.
fn uml_version(uml: &Path) -> Result<String, Unavailable> {
    let mut cmd = Command::new(uml);
    cmd.arg("--version").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let out = cmd.output().map_err(|e| Unavailable(format!("cannot run {}: {e}", uml.display())))?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || v.is_empty() || v.contains(char::is_whitespace) {
        return Err(Unavailable(format!("{} --version said {v:?} ({})", uml.display(), out.status)));
    }
    Ok(v)
}

/// A fresh directory under the temporary directory, removed on drop unless kept.
struct WorkDir(PathBuf, Cell<bool>);

impl WorkDir {
    fn create() -> Result<WorkDir, Unavailable> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("ksim-uml-{}-{nanos}", std::process::id()));
        let text = dir.to_string_lossy();
        // The path goes into a shell script in single quotes and onto UML's command line.
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c)) {
            return Err(Unavailable(format!(
                "temporary directory {text:?} has characters the guest script cannot use"
            )));
        }
        fs::create_dir_all(dir.join("uml"))
            .map_err(|e| Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        Ok(WorkDir(dir, Cell::new(false)))
    }

    /// Keeps the directory (a failure's evidence, less the write payloads, which the seeds
    /// regenerate) and returns its path.
    fn keep(&self) -> &Path {
        if !self.1.replace(true) {
            for i in 0..WORKLOADS {
                let _ = fs::remove_file(self.0.join(format!("w{i}.data")));
            }
        }
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.1.get() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Compiles the guest helper with the host's C compiler (the one cargo links with).
fn build_helper(dir: &Path) -> Result<PathBuf, Unavailable> {
    let src = dir.join("ksim_uml_io.c");
    let bin = dir.join("ksim-uml-io");
    fs::write(&src, HELPER_SRC).map_err(|e| Unavailable(format!("cannot write {}: {e}", src.display())))?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-O2", "-Wall", "-o"])
        .arg(&bin)
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Unavailable(format!("cannot run the C compiler {cc:?} for the guest helper: {e}")))?;
    if !out.status.success() {
        return Err(Unavailable(format!(
            "{cc} could not build the guest helper: {}",
            last_lines(&String::from_utf8_lossy(&out.stderr), 2)
        )));
    }
    Ok(bin)
}

/// Writes every workload's ops and data and the init script that runs them; returns the
/// script's path.
fn write_guest(
    dir: &Path,
    helper: &Path,
    module: &Path,
    workloads: &[Workload],
) -> Result<PathBuf, Unavailable> {
    let io =
        |e: std::io::Error| Unavailable(format!("cannot write the guest files in {}: {e}", dir.display()));
    let d = dir.display();
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/sh");
    let _ = writeln!(s, "# init of a ksim UML differential run (tests/uml_differential.rs)");
    let _ = writeln!(s, "PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH");
    let _ = writeln!(s, "D='{d}'; H='{}'; M='{}'", helper.display(), module.display());
    let _ = writeln!(s, "exec >\"$D/guest.log\" 2>&1");
    let _ = writeln!(s, ": > \"$D/started\"");
    let _ = writeln!(s, "mount -t proc proc /proc || echo 'mount /proc failed'");
    let _ = writeln!(s, "[ -b /dev/ram0 ] || mount -t devtmpfs devtmpfs /dev 2>/dev/null");
    for (i, w) in workloads.iter().enumerate() {
        let (ops, data) = w.guest_ops();
        fs::write(dir.join(format!("w{i}.ops")), ops).map_err(io)?;
        fs::write(dir.join(format!("w{i}.data")), data).map_err(io)?;
        let _ = writeln!(s, "echo 'workload {i} seed {:#x}'", w.seed);
        let _ = writeln!(
            s,
            "\"$H\" insmod \"$M\" '{}' && \"$H\" run /dev/ram0 \"$D/w{i}.ops\" \"$D/w{i}.data\" \"$D/w{i}.out\"; \
             echo \"run: $?\"; \"$H\" rmmod brd; echo \"rmmod: $?\"",
            w.module_params()
        );
    }
    let _ = writeln!(s, ": > \"$D/finished\"");
    let _ = writeln!(s, "sync");
    let _ = writeln!(s, "poweroff -f");
    let _ = writeln!(s, "echo o > /proc/sysrq-trigger");
    let _ = writeln!(s, "sleep 60");
    let script = dir.join("init.sh");
    fs::write(&script, s).map_err(io)?;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).map_err(io)?;
    Ok(script)
}

/// Boots UML with `script` as init and waits for it to power off, killing its process group
/// after [`UML_TIMEOUT`].
fn boot(uml: &Path, dir: &Path, script: &Path, console: &Path) -> Result<ExitStatus, Unavailable> {
    let log = fs::File::create(console)
        .map_err(|e| Unavailable(format!("cannot create {}: {e}", console.display())))?;
    let log2 = log.try_clone().map_err(|e| Unavailable(format!("cannot dup the console log: {e}")))?;
    let mut cmd = Command::new(uml);
    cmd.args(["mem=512M", "rootfstype=hostfs", "rootflags=/", "rw"])
        .arg(format!("init={}", script.display()))
        .arg(format!("uml_dir={}/", dir.join("uml").display()))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0);
    // UML keeps its memory in a file under $TMPDIR, else /dev/shm, else /tmp, which must allow
    // PROT_EXEC mappings; with an unusable TMPDIR it exits silently. Prefer /dev/shm (tmpfs).
    if Path::new("/dev/shm").is_dir() {
        cmd.env("TMPDIR", "/dev/shm");
    }
    let mut child = cmd.spawn().map_err(|e| Unavailable(format!("cannot start {}: {e}", uml.display())))?;
    let deadline = Instant::now() + UML_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                kill_group(&mut child);
                return Err(Unavailable(format!(
                    "UML did not power off within {} s and was killed; console: {}",
                    UML_TIMEOUT.as_secs(),
                    last_lines(&read_lossy(console), 2)
                )));
            }
            Err(e) => {
                kill_group(&mut child);
                return Err(Unavailable(format!("waiting for UML failed: {e}")));
            }
        }
    }
}

/// Kills UML's process group (its kernel threads and guest processes are host processes too)
/// while the leader is still unreaped, so the group id cannot have been reused, then reaps it.
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

/// The last `n` non-empty lines of `text`, joined with " | ".
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(n)..].join(" | ");
    if tail.is_empty() {
        "(nothing)".into()
    } else {
        tail
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the guest's results

/// Parses one workload's output directory.
fn read_run(out: &Path, w: &Workload) -> Result<RealRun, String> {
    let read = |name: &str| fs::read(out.join(name)).map_err(|e| format!("{name}: {e}"));
    let text = |name: &str| read(name).map(|b| String::from_utf8_lossy(&b).into_owned());
    if !out.join("done").exists() {
        return Err("no done marker".into());
    }
    let mut results = Vec::new();
    for (line, op) in text("results.txt")?.lines().zip(&w.ops) {
        let f: Vec<i64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        let [_, ret, err] = f[..] else { return Err(format!("bad results line {line:?}")) };
        let (_, len) = op.range();
        results.push(if ret == len as i64 {
            OpResult::Done
        } else if ret < 0 {
            OpResult::Failed(errno_name(err))
        } else {
            OpResult::Failed(format!("short transfer of {ret} bytes"))
        });
    }
    if results.len() != w.ops.len() {
        return Err(format!("{} results for {} ops", results.len(), w.ops.len()));
    }
    let blob = read("reads.bin")?;
    let mut reads = Vec::new();
    let mut at = 0usize;
    for op in &w.ops {
        if let Op::Read { len, .. } = *op {
            let end = at + len as usize;
            reads.push(blob.get(at..end).ok_or("reads.bin is short")?.to_vec());
            at = end;
        }
    }
    let before = PageAccounting::parse(&text("before.zoneinfo")?)?;
    let after = PageAccounting::parse(&text("after.zoneinfo")?)?;
    let raw_pages = before.free - after.free;
    let slab_pages = after.slab - before.slab;
    let pages = u64::try_from(raw_pages - slab_pages).unwrap_or(0);
    Ok(RealRun { observed: Observed { results, reads, pages }, raw_pages, slab_pages })
}

/// The counts of one `/proc/zoneinfo` snapshot that matter here.
struct PageAccounting {
    /// Free pages: every zone's `pages free` plus every per-cpu list's `count:`.
    free: i64,
    /// Slab pages: `nr_slab_reclaimable` + `nr_slab_unreclaimable` of every node.
    slab: i64,
}

impl PageAccounting {
    fn parse(zoneinfo: &str) -> Result<PageAccounting, String> {
        let (mut free, mut pcp, mut slab, mut zones) = (0i64, 0i64, 0i64, 0);
        for line in zoneinfo.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let num =
                |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok()).ok_or(format!("bad line {line:?}"));
            match f.as_slice() {
                ["pages", "free", ..] => {
                    free += num(2)?;
                    zones += 1;
                }
                ["count:", ..] => pcp += num(1)?,
                ["nr_slab_reclaimable" | "nr_slab_unreclaimable", ..] => slab += num(1)?,
                _ => {}
            }
        }
        if zones == 0 {
            return Err("no 'pages free' line in /proc/zoneinfo".into());
        }
        Ok(PageAccounting { free: free + pcp, slab })
    }
}

fn errno_name(err: i64) -> String {
    let name = match err {
        5 => "EIO",
        11 => "EAGAIN",
        12 => "ENOMEM",
        22 => "EINVAL",
        28 => "ENOSPC",
        95 => "EOPNOTSUPP",
        _ => return format!("errno {err}"),
    };
    name.to_string()
}
