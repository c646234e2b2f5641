//! The C face group: `drivers/block/brd.c` of the kernel tree at hand (Linux 6.1 from Debian's
//! `linux-source-6.1`, or `KSIM_LINUX_SRC`) compiled against ksim's headers, against the Rust
//! v6.1 port, in the same run.
//!
//! - `brdc_write_vs_port`: the time of sequential 4 KiB writes to present pages (trace off, a
//!   16 MiB device, the median of `STEADY` passes each) on brd.c ÷ the same on the Rust port,
//!   the two measured alternately (goal ≤ 1.2). `brdc_write_gbps` / `brd61_write_gbps`: the
//!   rates themselves.
//! - `cface_build_s`: building brd.c into a module from nothing (a fresh cache: the headers
//!   written out, brd.c and the runtime compiled, linked).
//! - `edit_to_verdict_s`: a user's loop — brd.c edited (a comment appended, so it must be rebuilt)
//!   in a copy of the tree, then `ksim run nowait-write --config driver=brd-6.1-c` on it as a
//!   process of its own: compile, load, run, verdict (median of three edits; goal ≤ 3 s).

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ksim::blk::{submit_bio, Bdev, Bio, ReqOp, Sector, PAGE_SECTORS};
use ksim::gfp::{__GFP_ZERO, GFP_KERNEL};
use ksim::highmem::page_address;
use ksim::mm::{__free_page, alloc_page, memcpy_to, Page, PAGE_SIZE};
use ksim::{Config, Runner};
use ksim_c::brd::{BrdModule, Params};
use ksim_drivers::brd_v6_1;

use super::{median, Budget, Figure, GroupResult, Unit};

/// Device pages (16 MiB).
const PAGES: usize = 4096;
/// Steady-state passes per measurement (the median counts).
const STEADY: usize = 5;

fn pass(bdev: &Bdev, page: Page) -> Duration {
    let start = Instant::now();
    for i in 0..PAGES {
        let mut bio = Bio::new(ReqOp::Write, i as Sector * PAGE_SECTORS);
        bio.add_page(page, PAGE_SIZE as u32, 0);
        submit_bio(bdev, &mut bio).expect("brd I/O succeeds");
    }
    start.elapsed()
}

/// The median steady-state write pass on a brd loaded by `load` (and unloaded by `exit`).
fn writes(c: Option<Arc<BrdModule>>) -> Result<Duration, String> {
    let out = Arc::new(Mutex::new(Duration::ZERO));
    let o = out.clone();
    let outcome = Runner::std().config(Config::modern().trace(false)).try_run(move || {
        let rd_size = (PAGES * PAGE_SIZE / 1024) as u64;
        let data = alloc_page(GFP_KERNEL | __GFP_ZERO).expect("no memory limit");
        memcpy_to(page_address(data).expect("lowmem"), &vec![0x5a; PAGE_SIZE]);
        let measure = |bdev: &Bdev| {
            pass(bdev, data);
            let mut d: Vec<Duration> = (0..STEADY).map(|_| pass(bdev, data)).collect();
            d.sort();
            d[STEADY / 2]
        };
        let d = match &c {
            Some(m) => {
                let brd = m
                    .brd_init(&Params { rd_nr: Some(1), rd_size: Some(rd_size), max_part: None })
                    .expect("brd.c loads");
                let bdev = brd.open(0).expect("ram0");
                let d = measure(&bdev);
                drop(bdev);
                brd.brd_exit();
                d
            }
            None => {
                let brd = brd_v6_1::brd_init(brd_v6_1::Params { rd_nr: 1, rd_size, ..Default::default() })
                    .expect("brd v6.1 loads");
                let bdev = brd.open(0).expect("ram0");
                let d = measure(&bdev);
                drop(bdev);
                brd_v6_1::brd_exit(brd);
                d
            }
        };
        __free_page(data);
        *o.lock().expect("not poisoned") = d;
    })?;
    if let Some(r) = outcome.first_report() {
        return Err(format!("the cface benchmark reported '{}'", r.headline()));
    }
    let d = *out.lock().expect("not poisoned");
    Ok(d)
}

/// A fresh cache's build of brd.c: the time.
fn cold_build(tree: &ksim_c::source::KernelTree) -> Result<f64, String> {
    let dir = std::env::temp_dir().join(format!("ksim-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // In a process of its own: the cache directory is read once per process.
    let start = Instant::now();
    let out = Command::new(exe)
        .args(["run", "read-unwritten", "--config", "driver=brd-6.1-c", "--scheduler", "std"])
        .env("KSIM_CACHE_DIR", &dir)
        .env("KSIM_LINUX_SRC", &tree.root)
        .output()
        .map_err(|e| e.to_string())?;
    let s = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(format!("a cold build run failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(s)
}

/// Edits brd.c in a copy of the tree and runs one scenario on it with the ksim binary.
fn edit_to_verdict(tree: &ksim_c::source::KernelTree, edits: usize) -> Result<Vec<f64>, String> {
    let root = std::env::temp_dir().join(format!("ksim-bench-tree-{}", std::process::id()));
    std::fs::create_dir_all(root.join("drivers/block")).map_err(|e| e.to_string())?;
    let src = std::fs::read_to_string(tree.file("drivers/block/brd.c").ok_or("no brd.c")?)
        .map_err(|e| e.to_string())?;
    std::fs::copy(tree.root.join("Makefile"), root.join("Makefile")).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for i in 0..edits {
        // The process id makes each edit new to the build cache across bench runs too.
        let edit = format!("{src}\n/* edit {i} of bench process {} */\n", std::process::id());
        std::fs::write(root.join("drivers/block/brd.c"), edit).map_err(|e| e.to_string())?;
        let start = Instant::now();
        let out = Command::new(&exe)
            .args(["run", "nowait-write", "--config", "driver=brd-6.1-c"])
            .env("KSIM_LINUX_SRC", &root)
            .output()
            .map_err(|e| e.to_string())?;
        times.push(start.elapsed().as_secs_f64());
        if !out.status.success() {
            return Err(format!(
                "ksim run on the edited brd.c failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    Ok(times)
}

pub fn run(b: &Budget) -> GroupResult {
    let tree = ksim_c::source::tree_installing()?;
    let img = ksim_c::brd::image(&tree)?;
    let rounds = if b.quick { 1 } else { 5 };
    let (mut c, mut rust) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        c.push(writes(Some(BrdModule::new(&img, &tree.version)?))?.as_secs_f64());
        rust.push(writes(None)?.as_secs_f64());
    }
    let ratios: Vec<f64> = c.iter().zip(&rust).map(|(a, b)| a / b).collect();
    let bytes = (PAGES * PAGE_SIZE) as f64;
    let gbps = |s: f64| bytes / s / 1e9;
    let mut figs = vec![
        Figure { name: "brdc_write_gbps", value: gbps(median(c.clone())), unit: Unit::Gbps },
        Figure { name: "brd61_write_gbps", value: gbps(median(rust.clone())), unit: Unit::Gbps },
        Figure { name: "brdc_write_vs_port", value: median(ratios), unit: Unit::Ratio },
    ];
    if !b.quick {
        figs.push(Figure { name: "cface_build_s", value: cold_build(&tree)?, unit: Unit::Seconds });
        figs.push(Figure {
            name: "edit_to_verdict_s",
            value: median(edit_to_verdict(&tree, 3)?),
            unit: Unit::Seconds,
        });
    }
    let about = format!(
        "brd.c of Linux {} ({}) against the Rust v6.1 port: 4 KiB writes to present pages of a 16 MiB device, trace off \
         (median of {STEADY} passes, {rounds} alternating rounds); a cold build; an edit of brd.c to the verdict of \
         `ksim run nowait-write --config driver=brd-6.1-c` (median of 3)",
        tree.version, tree.origin
    );
    Ok((about, figs))
}
