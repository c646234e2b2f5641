//! The KUnit group: `examples/kunit/brd_test.c` against the real `drivers/block/brd.c` (Linux 6.1
//! of the tree at hand), through `ksim kunit` as a user runs it (a process of its own).
//!
//! - `kunit_edit_to_verdict_s`: the test file edited (a comment appended, so the module must be
//!   rebuilt) in a copy, then `ksim kunit` on it: compile, load, every case under every scheduler,
//!   the KTAP verdict (median of three edits; goal ≤ 2 s). `kunit_rerun_s`: the same command with
//!   nothing edited (the module cached), and `kunit_edit_vs_rerun` the ratio of the two: what an
//!   edit costs over a rerun, both measured in this run.
//! - `kunit_brd_<scheduler>_s`: the suite under that scheduler alone (cached module).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::{median, Budget, Figure, GroupResult, Unit};

const SCHEDULERS: &[(&str, &str)] = &[
    ("std", "kunit_brd_std_s"),
    ("random", "kunit_brd_random_s"),
    ("pct", "kunit_brd_pct_s"),
    ("dfs", "kunit_brd_dfs_s"),
    ("loom", "kunit_brd_loom_s"),
];

/// One `ksim kunit` of `test` on brd.c (rd_nr=1, rd_size=64) with `extra` arguments: seconds.
fn kunit(test: &Path, brd: &Path, extra: &[&str]) -> Result<f64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let out = Command::new(exe)
        .arg("kunit")
        .arg(test)
        .arg(brd)
        .args(["--param", "rd_nr=1", "--param", "rd_size=64"])
        .args(extra)
        .output()
        .map_err(|e| e.to_string())?;
    let s = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "ksim kunit on the brd suite failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(s)
}

pub fn run(b: &Budget) -> GroupResult {
    let tree = ksim_c::source::tree_installing()?;
    let brd = tree.file("drivers/block/brd.c").ok_or_else(|| format!("{} has no brd.c", tree.origin))?;
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/kunit/brd_test.c");
    let text = std::fs::read_to_string(&src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
    let dir = std::env::temp_dir().join(format!("ksim-bench-kunit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let test = dir.join("brd_test.c");
    let quick: &[&str] = if b.quick { &["--scheduler", "std"] } else { &[] };
    let (edits, reruns) = (if b.quick { 1 } else { 3 }, if b.quick { 1 } else { 3 });
    let mut edit = Vec::new();
    for i in 0..edits {
        // The process id makes each edit new to the build cache across bench runs too.
        let t = format!("{text}\n/* edit {i} of bench process {} */\n", std::process::id());
        std::fs::write(&test, t).map_err(|e| e.to_string())?;
        edit.push(kunit(&test, &brd, quick)?);
    }
    let rerun: Vec<f64> = (0..reruns).map(|_| kunit(&test, &brd, quick)).collect::<Result<_, _>>()?;
    let (edit, rerun) = (median(edit), median(rerun));
    let mut figs = vec![
        Figure { name: "kunit_edit_to_verdict_s", value: edit, unit: Unit::Seconds },
        Figure { name: "kunit_rerun_s", value: rerun, unit: Unit::Seconds },
        Figure { name: "kunit_edit_vs_rerun", value: edit / rerun, unit: Unit::Ratio },
    ];
    let scheds = if b.quick { &SCHEDULERS[..1] } else { SCHEDULERS };
    for (sched, name) in scheds {
        let v: Vec<f64> =
            (0..reruns).map(|_| kunit(&test, &brd, &["--scheduler", sched])).collect::<Result<_, _>>()?;
        figs.push(Figure { name, value: median(v), unit: Unit::Seconds });
    }
    let _ = std::fs::remove_dir_all(&dir);
    let about = format!(
        "examples/kunit/brd_test.c on brd.c of Linux {} ({}) through `ksim kunit` (rd_nr=1 rd_size=64): an edit of the \
         test to the verdict under every scheduler, a rerun, and each scheduler alone (median of {reruns})",
        tree.version, tree.origin
    );
    Ok((about, figs))
}
