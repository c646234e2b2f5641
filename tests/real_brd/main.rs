//! Differential test of ksim's brd v6.1 against the real `brd.ko` of Linux 6.1.
//!
//! Seeded workloads (`ksim_scenarios::differential`) run through brd v6.1 in ksim and through
//! the real driver in every oracle that can run on this host:
//!
//! - `uml` ([`uml`]): Debian's user-mode-linux 6.1 on the host's root; fast, but on some hosts
//!   UML cannot run user space at all, which a short probe boot finds out first;
//! - `qemu` ([`qemu`]): Debian's amd64 6.1 kernel under QEMU's TCG, from an initramfs built
//!   here; slower, but it runs on any x86-64 host.
//!
//! In each, an init script loads `brd.ko` for each workload, runs it with a small helper
//! (`ksim_brd_io.c` beside this file: O_DIRECT `pread`/`pwrite`, `pwritev2(RWF_NOWAIT)` for
//! `REQ_NOWAIT` writes, `finit_module` / `delete_module`) and unloads it. Compared per workload
//! ([`compare`]): every operation's result, every byte read back, and the number of backing pages
//! — ksim's `Brd::nr_pages(0)` against the real kernel's page accounting before and after the
//! workload (free pages plus the per-cpu lists of `/proc/zoneinfo`, less the slab pages that
//! appeared meanwhile: xarray nodes), within [`compare::PAGE_TOLERANCE`]. ksim is also checked
//! against a plain shadow model of the device.
//!
//! An oracle that cannot run here is reported with its reason, not failed; the test fails when
//! no oracle could run (unless opted out: see [`oracle`] for the environment variables) and on
//! any disagreement.
#![forbid(unsafe_code)]

mod compare;
mod debian;
mod guest;
mod host;
mod initramfs;
mod oracle;
mod qemu;
mod uml;

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use ksim_scenarios::differential::{run_ksim, run_ksim_c, Op, Workload};

use compare::{against_real, against_shadow, KsimSide, PAGE_TOLERANCE};
use oracle::{RealSide, Settings, Setup, Unavailable};

/// Seed of the first workload (the others follow).
const FIRST_SEED: u64 = 0x6b73_696d_0000_0001;

/// A line on the process's stderr: libtest captures `eprintln!` of passing tests.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "real_brd: {line}");
}

#[test]
fn brd_v6_1_matches_the_real_brd_ko() {
    let started = Instant::now();
    let settings = Settings::from_env().unwrap_or_else(|e| panic!("{e}"));
    let workloads: Vec<Workload> =
        (0..settings.workloads).map(|i| Workload::generate(FIRST_SEED + i)).collect();

    // Two ksim sides: the Rust port, and drivers/block/brd.c of Linux 6.1 compiled against
    // ksim's headers (Debian's linux-source-6.1, installed when missing, or KSIM_LINUX_SRC).
    let c_module = ksim_c::source::tree_installing()
        .and_then(|tree| Ok((ksim_c::brd::image(&tree)?, tree.version)))
        .unwrap_or_else(|e| panic!("brd.c for the three-way comparison: {e}"));
    let ksim_side = {
        let workloads = workloads.clone();
        std::thread::spawn(move || {
            let (img, version) = c_module;
            let module = ksim_c::brd::BrdModule::new(&img, &version).expect("a brd.c instance");
            let name: &'static str =
                Box::leak(format!("ksim brd.c (Linux {version} source)").into_boxed_str());
            vec![
                KsimSide { name: "ksim brd v6.1", runs: workloads.iter().map(run_ksim).collect() },
                KsimSide { name, runs: workloads.iter().map(|w| run_ksim_c(w, module.clone())).collect() },
            ]
        })
    };
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-brd-cache");
    let real_threads: Vec<_> = settings
        .oracles
        .iter()
        .map(|&name| {
            let setup = Setup {
                may_fetch: settings.skip.is_none(),
                broken: settings.broken.contains(&name),
                cache: cache.clone(),
            };
            let workloads = workloads.clone();
            std::thread::spawn(move || {
                let mut o = oracle::make(name);
                let side = o.probe(&setup).and_then(|probe| Ok((probe, o.run(&setup, &workloads)?)));
                (o.name(), side)
            })
        })
        .collect();
    let mut real = Vec::new();
    let mut unavailable = Vec::new();
    for (thread, &asked) in real_threads.into_iter().zip(&settings.oracles) {
        let (name, side) = thread.join().unwrap_or((asked, Err(Unavailable("its thread panicked".into()))));
        match side {
            Ok((probe, side)) => {
                say(&format!("{name}: probe: {probe}"));
                report_side(&side);
                real.push(side);
            }
            Err(Unavailable(why)) => {
                say(&format!("{name}: could not run: {why}"));
                unavailable.push(format!("{name}: {why}"));
            }
        }
    }
    let ksim = ksim_side.join().expect("the ksim side panicked");

    let mut mismatches = Vec::new();
    for side in &ksim {
        against_shadow(&workloads, side, &mut mismatches);
    }
    if real.is_empty() {
        assert!(mismatches.is_empty(), "ksim disagrees with the shadow model:\n{}", mismatches.join("\n"));
        let tried = settings.oracles.join(", ");
        if let Some(var) = settings.skip {
            say(&format!(
                "SKIPPED ({var}=skip): no oracle could run (tried {tried}): {}",
                unavailable.join("; ")
            ));
            return;
        }
        panic!(
            "no oracle of the real brd.ko could run on this host (tried {tried}):\n{}\n\
             (set KSIM_REAL_BRD=skip to skip it explicitly)",
            unavailable.join("\n")
        );
    }

    let all_ops = || workloads.iter().flat_map(|w| &w.ops);
    let writes = all_ops().filter(|o| matches!(o, Op::Write { .. })).count();
    let nowait = all_ops().filter(|o| matches!(o, Op::Write { nowait: true, .. })).count();
    let mut covered = Vec::new();
    for r in &real {
        for side in &ksim {
            let c = against_real(&workloads, r, side, &mut mismatches);
            covered.push(format!(
                "{} vs {}: {} bytes, {} page counts ({} exact, largest difference {} pages)",
                side.name, r.oracle, c.bytes, c.page_counts, c.exact, c.max_dev
            ));
        }
    }
    for (i, w) in workloads.iter().enumerate() {
        let ksim_pages: Vec<String> = ksim
            .iter()
            .map(|s| s.runs[i].as_ref().map_or("-".into(), |k| k.observed.pages.to_string()))
            .collect();
        let real_pages: Vec<String> = real
            .iter()
            .map(|r| {
                let run = &r.runs[i];
                format!(
                    "{} {} (free lists -{}, slab +{}, {:.2} s)",
                    r.oracle,
                    run.pages(),
                    run.raw_pages,
                    run.slab_pages,
                    run.seconds
                )
            })
            .collect();
        eprintln!(
            "real_brd: seed {:#x}: {} KiB, {} ops, {} bytes read; pages ksim {}; {}",
            w.seed,
            w.rd_size_kib,
            w.ops.len(),
            w.read_bytes(),
            ksim_pages.join("/"),
            real_pages.join("; ")
        );
    }
    let ops: usize = workloads.iter().map(|w| w.ops.len()).sum();
    say(&format!(
        "{} workloads, {ops} ops ({writes} writes, {nowait} of them REQ_NOWAIT) against {}; {}; tolerance {PAGE_TOLERANCE} \
         pages; {} mismatches; test {:.1} s",
        workloads.len(),
        real.iter().map(|r| r.oracle).collect::<Vec<_>>().join(" and "),
        covered.join("; "),
        mismatches.len(),
        started.elapsed().as_secs_f64()
    ));
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// Says which kernel an oracle compared against and how long it took.
fn report_side(side: &RealSide) {
    let f = &side.facts;
    let mut secs: Vec<f64> = side.runs.iter().map(|r| r.seconds).collect();
    let list: Vec<String> = secs.iter().map(|s| format!("{s:.2}")).collect();
    let total: f64 = secs.iter().sum();
    secs.sort_by(f64::total_cmp);
    let pick = |q: usize| secs.get(q).copied().unwrap_or(f64::NAN);
    say(&format!(
        "{}: compared against Linux {} ({}){}",
        side.oracle,
        f.kernel,
        side.build,
        f.preempt.as_ref().map(|p| format!("; preempt modes: {p}")).unwrap_or_default()
    ));
    say(&format!("{}: config: {}", side.oracle, side.config.join(", ")));
    say(&format!(
        "{}: wall {:.1} s: guest booted to init in {:.1} s (guest clock), {} workloads in {total:.1} s \
         (load, run, unload: min {:.2} s, median {:.2} s, max {:.2} s); per workload: {}",
        side.oracle,
        side.wall.as_secs_f64(),
        f.boot_s,
        secs.len(),
        pick(0),
        pick(secs.len() / 2),
        pick(secs.len().saturating_sub(1)),
        list.join(" ")
    ));
}
