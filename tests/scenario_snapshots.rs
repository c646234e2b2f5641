//! insta snapshots of every catalogue scenario's allocation view (page allocator, frees,
//! preloads, kmaps: `Trace::allocations()`), so a driver or model change shows up as a
//! reviewable diff (`cargo insta review`, or `INSTA_UPDATE=always cargo test --test
//! scenario_snapshots` and `git diff`).
//!
//! One snapshot per distinct allocation view, never one per permutation (ARCHITECTURE §6):
//! - a single-task scenario is deterministic on real threads, so its view is the std run's;
//! - a multi-task scenario's view depends on the interleaving, so it is the de-duplicated,
//!   sorted set of views over the distinct behaviours a bounded DFS saw (`Outcome::traces`,
//!   plus the failing execution's trace when the run stops at a report), joined by a separator
//!   line naming the count.
//!
//! Snapshot names are the scenario names, with `-observed` / `-contract` appended only where the
//! two checking modes give different views. Views hold task names, pids, preempt flags, GFP
//! names, zones, pfns and function names — nothing machine-specific.
//!
//! And a dedicated pair: brd v4.0 writing one page with DAX on and with DAX off, which must
//! differ exactly in `__GFP_HIGHMEM` on brd's page allocation.

#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::sync::Arc;

use ksim::{CheckMode, Outcome, Runner, Scheduler};
use ksim_drivers::brd_v4_0;
use ksim_scenarios::io::{expect_read, pattern, write};
use ksim_scenarios::{catalogue, Scenario, Settings};

/// The DFS of the multi-task snapshots: `ksim check`'s bound, and a cap no scenario reaches.
const DFS: Scheduler = Scheduler::Dfs { preemption_bound: Some(2), max_executions: Some(5000) };

/// The distinct allocation views of a run, sorted.
fn views(o: &Outcome) -> BTreeSet<String> {
    let mut v: BTreeSet<String> = o.traces.iter().map(|t| t.allocations()).collect();
    if !o.is_clean() || v.is_empty() {
        v.insert(o.trace.allocations());
    }
    v
}

/// The snapshot text of one scenario under one checking mode.
fn allocation_snapshot(s: &Scenario, mode: CheckMode) -> String {
    let user = Scenario::with_mode(&Settings::default(), mode);
    if s.max_tasks == 1 {
        let o = s.run(&user, Scheduler::Std);
        let again = s.run(&user, Scheduler::Std);
        assert_eq!(
            o.trace.allocations(),
            again.trace.allocations(),
            "{}: the std view is deterministic",
            s.name
        );
        return o.trace.allocations();
    }
    let views = views(&s.run(&user, DFS));
    let n = views.len();
    let mut text = String::new();
    for (i, v) in views.iter().enumerate() {
        text.push_str(&format!("=== allocation view {} of {n} ===\n", i + 1));
        text.push_str(v);
    }
    text
}

/// Snapshots a scenario: one snapshot if both modes give the same views, else one per mode.
fn snapshot_scenario(name: &str) {
    let s = catalogue::find(name).expect("a catalogue scenario");
    let observed = allocation_snapshot(&s, CheckMode::Observed);
    let contract = allocation_snapshot(&s, CheckMode::Contract);
    if observed == contract {
        insta::assert_snapshot!(name, observed);
    } else {
        insta::assert_snapshot!(format!("{name}-observed"), observed);
        insta::assert_snapshot!(format!("{name}-contract"), contract);
    }
}

macro_rules! snapshot_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                snapshot_scenario($name);
            }
        )*

        /// The scenarios that have a snapshot test above.
        const SNAPSHOTTED: &[&str] = &[$($name),*];
    };
}

snapshot_tests! {
    dax_atomic_unpopulated_allocation_view_is_stable => "dax-atomic-unpopulated",
    dax_atomic_prepopulated_allocation_view_is_stable => "dax-atomic-prepopulated",
    dax_atomic_vs_flush_allocation_view_is_stable => "dax-atomic-vs-flush",
    dax_workqueue_allocation_view_is_stable => "dax-workqueue",
    dax_irq_allocation_view_is_stable => "dax-irq",
    pmem_atomic_allocation_view_is_stable => "pmem-atomic",
    dax_size_over_page_allocation_view_is_stable => "dax-size-over-page",
    dax_highmem_allocation_view_is_stable => "dax-highmem",
    insert_race_allocation_view_is_stable => "insert-race",
    reclaim_recursion_allocation_view_is_stable => "reclaim-recursion",
    alloc_fail_sweep_allocation_view_is_stable => "alloc-fail-sweep",
    read_unwritten_allocation_view_is_stable => "read-unwritten",
    nowait_write_allocation_view_is_stable => "nowait-write",
    discard_vs_read_allocation_view_is_stable => "discard-vs-read",
    rcu_sleep_allocation_view_is_stable => "rcu-sleep",
    demo_race_allocation_view_is_stable => "demo-race",
    demo_irq_sleep_allocation_view_is_stable => "demo-irq-sleep",
    demo_abba_allocation_view_is_stable => "demo-abba",
    irq_inconsistent_lock_allocation_view_is_stable => "irq-inconsistent-lock",
    irq_cpu_deadlock_allocation_view_is_stable => "irq-cpu-deadlock",
    timer_del_sync_lock_allocation_view_is_stable => "timer-del-sync-lock",
    completion_lost_allocation_view_is_stable => "completion-lost",
    copy_to_user_atomic_allocation_view_is_stable => "copy-to-user-atomic",
    refcount_double_put_allocation_view_is_stable => "refcount-double-put",
    rcu_suspicious_allocation_view_is_stable => "rcu-suspicious",
    rcu_late_use_allocation_view_is_stable => "rcu-late-use",
    wait_context_nesting_allocation_view_is_stable => "wait-context-nesting",
}

#[test]
fn snapshot_tests_cover_the_whole_catalogue() {
    let names: Vec<&str> = catalogue::all().iter().map(|s| s.name).collect();
    assert_eq!(SNAPSHOTTED, names.as_slice(), "one snapshot test per catalogue scenario, in catalogue order");
}

#[test]
fn multi_task_views_do_not_depend_on_the_run() {
    let s = catalogue::find("insert-race").expect("in the catalogue");
    let a = allocation_snapshot(&s, CheckMode::Observed);
    let b = allocation_snapshot(&s, CheckMode::Observed);
    assert_eq!(a, b);
    assert!(a.starts_with("=== allocation view 1 of "), "{a}");
}

/// brd v4.0 with the `dax` setting given, one 16 KiB disk: write one page at sector 0, read it
/// back, unload. Single-task, so the std run's view is the view.
fn one_page_write(dax: &str) -> String {
    let settings = Settings::parse([dax, "profile=4.0"]).expect("valid settings");
    let on = settings.on("dax");
    let body = move || {
        let params = brd_v4_0::Params { rd_nr: 1, rd_size: 16, dax: on, ..brd_v4_0::Params::default() };
        let brd = brd_v4_0::brd_init(params).expect("brd_init");
        let bdev = Arc::new(brd.open(0).expect("open ram0"));
        let data = pattern(11, 4096);
        write(&bdev, 0, &data).expect("write one page");
        expect_read(&bdev, 0, &data, "the page written");
        drop(bdev);
        brd_v4_0::brd_exit(brd);
    };
    let o = Runner::std().config(settings.kernel_config()).run(body);
    assert!(o.is_clean(), "{dax}: {:#?}", o.reports);
    o.trace.allocations()
}

#[test]
fn brd_v4_0_dax_on_and_off_differ_only_in_gfp_highmem() {
    let on = one_page_write("dax=on");
    let off = one_page_write("dax=off");
    insta::assert_snapshot!("brd-v4.0-one-page-write-dax-on", on);
    insta::assert_snapshot!("brd-v4.0-one-page-write-dax-off", off);
    assert_eq!(on.lines().count(), off.lines().count(), "the same events in the same order");
    let differing: Vec<(&str, &str)> = on.lines().zip(off.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(differing.len(), 1, "only brd's page allocation differs:\n{differing:#?}");
    let (a, b) = differing[0];
    assert!(
        a.contains("alloc_page: GFP_NOIO|__GFP_ZERO order=0 ") && a.contains(" in brd_insert_page<-"),
        "{a}"
    );
    assert_eq!(
        b,
        a.replace("GFP_NOIO|__GFP_ZERO", "GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM"),
        "DAX off adds __GFP_HIGHMEM"
    );
}
