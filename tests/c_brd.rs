//! brd.c of Linux 6.1 (Debian's `linux-source-6.1`, installed by the test when missing, or
//! `KSIM_LINUX_SRC`), compiled unmodified against ksim's headers:
//!
//! - its allocation view equals the Rust v6.1 port's on the catalogue's brd workloads, but for
//!   the slab objects of module setup the port keeps as Rust values (the device, the gendisk and
//!   its queue), which are checked to be exactly those;
//! - a copy patched at test time to allocate under `brd_lock` is caught at that brd.c line in
//!   both checking modes, with the C call trace and a replay line; the unpatched file is clean;
//! - every execution gets a fresh module (globals as at load), parallel runs never share one,
//!   and a parameter brd does not take is a one-line error.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use ksim::{CheckMode, Outcome, Runner, Scheduler, Violation};
use ksim_c::brd::{BrdModule, Params};
use ksim_c::source::KernelTree;
use ksim_c::ModuleSpec;
use ksim_scenarios::io::{expect_read, pattern, write};
use ksim_scenarios::{catalogue, Scenario, Settings};

fn tree() -> KernelTree {
    ksim_c::source::tree_installing().unwrap_or_else(|e| panic!("{e}"))
}

/// The distinct allocation views of a run (one for a single-task scenario on real threads).
fn views(s: &Scenario, user: &Settings) -> BTreeSet<String> {
    if s.max_tasks == 1 {
        return BTreeSet::from([s.run(user, Scheduler::Std).trace.allocations()]);
    }
    let o = s.run(user, Scheduler::Dfs { preemption_bound: Some(2), max_executions: Some(5000) });
    assert!(o.is_clean(), "{}: {:?}", s.name, o.reports);
    o.traces.iter().map(|t| t.allocations()).collect()
}

/// The slab events of module setup that brd.c has and the Rust port has not (it keeps the
/// device and ksim's block layer the gendisk as Rust values).
fn is_setup_slab(line: &str) -> bool {
    (line.contains(": kzalloc: ") && line.contains(" in brd_find_or_alloc_device<-brd_alloc<-brd_init"))
        || (line.contains(": blk_alloc_disk: ") && line.contains(" in brd_alloc<-brd_init"))
        || (line.contains(": kfree: ")
            && (line.contains(" in brd_cleanup<-brd_exit")
                || line.contains(" in brd_free_device<-brd_cleanup<-brd_exit")))
}

#[test]
fn c_brd_allocation_view_equals_the_rust_port_but_for_setup_slab_objects() {
    let _ = tree();
    for name in ["read-unwritten", "nowait-write", "alloc-fail-sweep", "insert-race"] {
        let s = catalogue::find(name).expect("a catalogue scenario");
        for mode in [CheckMode::Observed, CheckMode::Contract] {
            let on = |driver: &str| {
                let user = Settings::parse([format!("driver={driver}").as_str()]).expect("settings");
                views(&s, &Scenario::with_mode(&user, mode))
            };
            let (rust, c) = (on("brd-6.1"), on("brd-6.1-c"));
            let stripped: BTreeSet<String> = c
                .iter()
                .map(|v| v.lines().filter(|l| !is_setup_slab(l)).map(|l| format!("{l}\n")).collect())
                .collect();
            assert_eq!(stripped, rust, "{name} mode={mode}: brd.c's allocation view differs from the port's");
            for v in &c {
                let setup: Vec<&str> = v.lines().filter(|l| is_setup_slab(l)).collect();
                // Per brd_init/brd_exit pair: the device and the gendisk with its queue, then
                // their three frees.
                assert_eq!(setup.len() % 6, 0, "{name}: {setup:#?}");
                assert!(setup.iter().any(|l| l.contains("kzalloc: size=")), "{name}: {setup:#?}");
            }
        }
    }
}

/// A copy of the tree's brd.c with `brd_insert_page()`'s `spin_lock(&brd->brd_lock)` moved
/// above its `alloc_page()`: the allocation (which may sleep) then runs under the spinlock.
/// Returns the copy's root and the patched lines (alloc_page, spin_lock).
fn patched_brd(tree: &KernelTree) -> (PathBuf, u32, u32) {
    let src = std::fs::read_to_string(tree.file("drivers/block/brd.c").expect("brd.c")).expect("read brd.c");
    let alloc = "\tpage = alloc_page(gfp | __GFP_ZERO | __GFP_HIGHMEM);\n";
    let lock = "\tspin_lock(&brd->brd_lock);\n";
    assert_eq!(src.matches(alloc).count(), 1, "brd.c 6.1's brd_insert_page allocation");
    assert_eq!(src.matches(lock).count(), 1, "brd.c 6.1's brd_insert_page lock");
    let patched = src.replacen(lock, "", 1).replacen(alloc, &format!("{lock}{alloc}"), 1);
    let line_of = |needle: &str| {
        patched.lines().position(|l| format!("{l}\n") == needle).expect("patched line") as u32 + 1
    };
    let root = std::env::temp_dir().join(format!("ksim-patched-brd-{}", std::process::id()));
    std::fs::create_dir_all(root.join("drivers/block")).expect("dir");
    std::fs::write(root.join("drivers/block/brd.c"), &patched).expect("write the patched copy");
    let lines = (line_of(alloc), line_of(lock));
    (root, lines.0, lines.1)
}

/// Loads brd (one 64 KiB disk), writes one page, reads it back, unloads.
fn one_write(m: Arc<BrdModule>) -> impl Fn() + Send + Sync + 'static {
    move || {
        let brd =
            m.brd_init(&Params { rd_nr: Some(1), rd_size: Some(64), max_part: None }).expect("brd_init");
        let bdev = brd.open(0).expect("ram0");
        let data = pattern(5, 4096);
        write(&bdev, 0, &data).expect("write");
        expect_read(&bdev, 0, &data, "the page written");
        drop(bdev);
        brd.brd_exit();
    }
}

fn run(m: Arc<BrdModule>, mode: CheckMode) -> Outcome {
    Runner::pct(1, 2, 20).config(ksim::Config::modern().mode(mode)).run(one_write(m))
}

#[test]
fn c_brd_patched_to_allocate_under_brd_lock_sleeps_in_atomic_at_that_line() {
    let tree = tree();
    let clean = ksim_c::brd::image(&tree).expect("brd.c builds");
    for mode in [CheckMode::Observed, CheckMode::Contract] {
        let o = run(BrdModule::new(&clean, &tree.version).expect("instance"), mode);
        assert!(o.is_clean(), "unpatched brd.c mode={mode}: {:?}", o.reports);
    }
    let (root, alloc_line, lock_line) = patched_brd(&tree);
    let img = ModuleSpec::new("brd", [root.join("drivers/block/brd.c")])
        .root(&root)
        .build()
        .expect("the patched copy builds");
    for mode in [CheckMode::Observed, CheckMode::Contract] {
        let o = run(BrdModule::new(&img, &tree.version).expect("instance"), mode);
        let r = o.first_report().unwrap_or_else(|| panic!("mode={mode}: the patched brd.c must be caught"));
        if std::env::var_os("KSIM_SHOW").is_some() {
            eprintln!("{}", r.text);
        }
        assert_eq!(r.kind, Violation::SleepInAtomic, "{}", r.text);
        let want = [
            format!("BUG: sleeping function called from invalid context at drivers/block/brd.c:{alloc_line}"),
            "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main".to_string(),
            "preempt_count: 1, expected: 0".to_string(),
            "1 lock held by main/1:".to_string(),
            format!(" #0: (&brd->brd_lock){{+.+.}}, at: drivers/block/brd.c:{lock_line}"),
            "Preemption disabled at:".to_string(),
            format!(" drivers/block/brd.c:{lock_line} spin_lock"),
            "Call trace (simulated):".to_string(),
        ];
        let lines: Vec<&str> = r.text.lines().collect();
        let mut at = 0;
        for w in &want {
            at += lines[at..]
                .iter()
                .position(|l| l == w)
                .unwrap_or_else(|| panic!("mode={mode}: {w:?} not in\n{}", r.text))
                + 1;
        }
        let trace = lines[at];
        assert!(
            trace.starts_with(
                " alloc_page(GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM) <- brd_insert_page <- copy_to_brd_setup <- brd_do_bvec <- brd_submit_bio <- submit_bio"
            ),
            "mode={mode}: {trace}"
        );
        assert_eq!(lines[at + 1], "replay: ksim::Runner::replay(\"adhoc/pct:seed=1:depth=2:iters=20/e0\")");
    }
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn c_brd_module_is_fresh_in_every_execution_and_per_run() {
    let tree = tree();
    let img = ksim_c::brd::image(&tree).expect("brd.c builds");
    // Several executions of one run: brd_devices, the debugfs pointer and the parameters must
    // be as at load in each, or the second brd_init would find ram0 already listed (-EEXIST).
    let m = BrdModule::new(&img, &tree.version).expect("instance");
    let o = Runner::dfs(Some(1), Some(50)).run(move || {
        let brd =
            m.brd_init(&Params { rd_nr: Some(2), rd_size: Some(16), max_part: None }).expect("brd_init");
        ksim::check::expect_eq(brd.nr_devices(), 2, "devices after brd_init(rd_nr=2)");
        let bdev = Arc::new(brd.open(1).expect("ram1"));
        let b = bdev.clone();
        let k = ksim::kthread::kthread_run("writer", move || write(&b, 0, &pattern(1, 512)).expect("write"));
        write(&bdev, 8, &pattern(2, 512)).expect("write");
        k.join();
        ksim::check::expect_eq(brd.nr_pages(1), 2, "pages of ram1");
        drop(bdev);
        brd.brd_exit();
    });
    assert!(o.is_clean(), "{:?}", o.reports);
    assert!(o.executions > 1, "several executions: {}", o.executions);
    // Parallel runs: each leases its own copy; the default rd_nr (16) in one run and rd_nr=3
    // in the other never mix.
    let runs: Vec<_> = [None, Some(3)]
        .into_iter()
        .map(|rd_nr| {
            let m = BrdModule::new(&img, &tree.version).expect("instance");
            std::thread::spawn(move || {
                Runner::random(7, 30).run(move || {
                    let brd =
                        m.brd_init(&Params { rd_nr, rd_size: Some(16), max_part: None }).expect("brd_init");
                    ksim::check::expect_eq(brd.nr_devices(), rd_nr.unwrap_or(16) as usize, "devices");
                    brd.brd_exit();
                })
            })
        })
        .collect();
    for r in runs {
        let o = r.join().expect("the run's thread");
        assert!(o.is_clean(), "{:?}", o.reports);
    }
}

#[test]
fn c_brd_unknown_or_invalid_parameters_are_one_line_errors() {
    let tree = tree();
    let img = ksim_c::brd::image(&tree).expect("brd.c builds");
    let mut lease = img.lease().expect("instance");
    let names: Vec<&str> = lease.params().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["max_part", "rd_nr", "rd_size"]);
    let desc = lease.params().iter().find(|p| p.name == "rd_size").and_then(|p| p.desc.clone());
    assert_eq!(desc.as_deref(), Some("Size of each RAM disk in kbytes."));
    let e = lease.set_params("brd", &[("rd_count".into(), "1".into())]).unwrap_err();
    assert_eq!(e.0, "brd: unknown parameter 'rd_count' (it takes: max_part, rd_nr, rd_size)");
    let e = lease.set_params("brd", &[("rd_nr".into(), "many".into())]).unwrap_err();
    assert_eq!(e.0, "brd: invalid value 'many' for parameter 'rd_nr' (int): not a number");
    let e = lease.set_params("brd", &[("rd_size".into(), "-1".into())]).unwrap_err();
    assert_eq!(e.0, "brd: invalid value '-1' for parameter 'rd_size' (ulong): out of range");
}
