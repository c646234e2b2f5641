//! The guest side, common to every oracle: the helper program, the shell lines that run the
//! workloads on the real `brd.ko`, and the reading of what they left behind.
//!
//! Inside the guest, `$D` is the directory holding each workload's ops and data, `$O` the one
//! the results go to, `$H` the helper and `$M` the module. The lines are POSIX sh: UML runs the
//! host's `/bin/sh`, QEMU busybox's.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ksim_scenarios::differential::{Observed, Op, OpResult, Workload};

use super::host::last_lines;
use super::oracle::{RealRun, Unavailable};

/// The helper's source.
const HELPER_SRC: &str = include_str!("ksim_brd_io.c");

/// Compiles the helper with the host's C compiler (the one cargo links with); `static_` for a
/// root without the host's shared libraries.
pub fn build_helper(dir: &Path, static_: bool) -> Result<PathBuf, Unavailable> {
    let src = dir.join("ksim_brd_io.c");
    let bin = dir.join("ksim-brd-io");
    fs::write(&src, HELPER_SRC).map_err(|e| Unavailable(format!("cannot write {}: {e}", src.display())))?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-O2", "-Wall"]);
    if static_ {
        cmd.arg("-static");
    }
    let out =
        cmd.arg("-o").arg(&bin).arg(&src).stdin(Stdio::null()).output().map_err(|e| {
            Unavailable(format!("cannot run the C compiler {cc:?} for the guest helper: {e}"))
        })?;
    if !out.status.success() {
        return Err(Unavailable(format!(
            "{cc}{} could not build the guest helper: {}",
            if static_ { " -static" } else { "" },
            last_lines(&String::from_utf8_lossy(&out.stderr), 2)
        )));
    }
    Ok(bin)
}

/// Writes workload `i`'s `w{i}.ops` and `w{i}.data` into `dir`; returns the data files (the
/// bulk, which a kept failure directory drops: the seeds regenerate it).
pub fn write_inputs(dir: &Path, workloads: &[Workload]) -> Result<Vec<PathBuf>, Unavailable> {
    let mut data_files = Vec::new();
    for (i, w) in workloads.iter().enumerate() {
        let (ops, data) = w.guest_ops();
        let io = |e: std::io::Error| {
            Unavailable(format!("cannot write the guest inputs in {}: {e}", dir.display()))
        };
        fs::write(dir.join(format!("w{i}.ops")), ops).map_err(io)?;
        let data_file = dir.join(format!("w{i}.data"));
        fs::write(&data_file, data).map_err(io)?;
        data_files.push(data_file);
    }
    Ok(data_files)
}

/// The lines that run every workload: for each, load `brd.ko` with its parameters, run it, unload,
/// and note the guest's uptime before and after in `$O/times`. First the guest notes that init
/// runs (`$O/started`), its uptime then (the boot time as the guest's clock saw it) and its kernel
/// (`uname -r -v`), and warms up; last, the kernel log and `$O/finished`.
pub fn workload_lines(workloads: &[Workload]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, ": > \"$O/started\"");
    let _ = writeln!(s, "cat /proc/uptime > \"$O/boot-uptime\"");
    let _ = writeln!(s, "uname -r -v > \"$O/kernel\"");
    // A first run of workload 0, not measured: the first I/O after boot grows slab caches (bios,
    // direct-I/O state, xarray nodes) by a few pages that the page count would otherwise blame
    // on brd (seen under QEMU: 5 pages).
    if let Some(w) = workloads.first() {
        let _ = writeln!(s, "echo 'warm-up: workload 0, not measured'");
        let _ = writeln!(
            s,
            "\"$H\" insmod \"$M\" '{}' && \"$H\" run /dev/ram0 \"$D/w0.ops\" \"$D/w0.data\" \"$D/warm-up.out\"; \
             \"$H\" rmmod brd; rm -rf \"$D/warm-up.out\"",
            w.module_params()
        );
    }
    for (i, w) in workloads.iter().enumerate() {
        let _ = writeln!(s, "echo 'workload {i} seed {:#x}'", w.seed);
        let _ = writeln!(s, "read t0 rest < /proc/uptime");
        let _ = writeln!(
            s,
            "\"$H\" insmod \"$M\" '{}' && \"$H\" run /dev/ram0 \"$D/w{i}.ops\" \"$D/w{i}.data\" \"$O/w{i}.out\"; \
             echo \"run: $?\"; \"$H\" rmmod brd; echo \"rmmod: $?\"",
            w.module_params()
        );
        let _ = writeln!(s, "read t1 rest < /proc/uptime");
        let _ = writeln!(s, "echo \"{i} $t0 $t1\" >> \"$O/times\"");
    }
    let _ = writeln!(s, "dmesg > \"$O/dmesg\" 2>&1");
    let _ = writeln!(s, ": > \"$O/finished\"");
    s
}

/// What the guest said about itself, read from `$O`.
pub struct GuestFacts {
    /// `uname -r -v`.
    pub kernel: String,
    /// Guest uptime when init started, seconds.
    pub boot_s: f64,
    /// `/sys/kernel/debug/sched/preempt` where the kernel has it (PREEMPT_DYNAMIC): the modes,
    /// the one in force in parentheses.
    pub preempt: Option<String>,
    /// Kernel log lines that report a bug or warning (`BUG:`, `WARNING:`, `Oops`).
    pub splats: Vec<String>,
}

pub fn read_facts(out: &Path) -> GuestFacts {
    let text =
        |name: &str| String::from_utf8_lossy(&fs::read(out.join(name)).unwrap_or_default()).into_owned();
    let splats = text("dmesg")
        .lines()
        .filter(|l| l.contains("BUG:") || l.contains("WARNING:") || l.contains("Oops"))
        .map(|l| l.trim().to_string())
        .collect();
    GuestFacts {
        kernel: text("kernel").trim().to_string(),
        preempt: Some(text("preempt").trim().to_string()).filter(|p| !p.is_empty()),
        boot_s: text("boot-uptime")
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN),
        splats,
    }
}

/// The options of a kernel config that say how the real runs could sleep and be preempted:
/// the preemption model, the RCU flavour, and the kernel's own might_sleep checking. An option
/// the build does not offer at all is noted as absent.
pub fn config_lines(config: &str) -> Vec<String> {
    const KEYS: [&str; 9] = [
        "PREEMPT_NONE",
        "PREEMPT_VOLUNTARY",
        "PREEMPT",
        "PREEMPT_DYNAMIC",
        "PREEMPT_COUNT",
        "TREE_RCU",
        "TINY_RCU",
        "PREEMPT_RCU",
        "DEBUG_ATOMIC_SLEEP",
    ];
    let mut out = Vec::new();
    for key in KEYS {
        let set = format!("CONFIG_{key}=");
        let unset = format!("# CONFIG_{key} is not set");
        match config.lines().find(|l| l.starts_with(&set) || *l == unset) {
            Some(line) => out.push(line.to_string()),
            None if key == "DEBUG_ATOMIC_SLEEP" => out.push(format!("(no CONFIG_{key} line: not offered)")),
            None => {}
        }
    }
    out
}

/// Reads every workload's results from `out` (`$O` as the host sees it); `log` is the guest's
/// output, quoted when a workload left nothing usable.
pub fn read_runs(out: &Path, workloads: &[Workload], log: &str) -> Result<Vec<RealRun>, String> {
    let times = fs::read_to_string(out.join("times")).unwrap_or_default();
    let mut runs = Vec::new();
    for (i, w) in workloads.iter().enumerate() {
        let mut run = read_run(&out.join(format!("w{i}.out")), w).map_err(|e| {
            // The helper's own complaints say more than the log's last lines.
            let helper: Vec<&str> = log.lines().filter(|l| l.starts_with("ksim-brd-io:")).take(2).collect();
            let said = if helper.is_empty() { last_lines(log, 3) } else { helper.join(" | ") };
            format!("workload {i} left no usable results ({e}); guest log: {said}")
        })?;
        let line = times.lines().find(|l| l.split_whitespace().next() == Some(&i.to_string()));
        let t: Vec<f64> =
            line.unwrap_or("").split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        if let [t0, t1] = t[..] {
            run.seconds = t1 - t0;
        }
        runs.push(run);
    }
    Ok(runs)
}

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
    Ok(RealRun { observed: Observed { results, reads, pages }, raw_pages, slab_pages, seconds: f64::NAN })
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
