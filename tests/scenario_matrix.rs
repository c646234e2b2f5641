//! The scheduler test matrix: every catalogue scenario × both checking modes × every scheduler of
//! `ksim check` (std, random, PCT, bounded DFS, bounded loom where the scenario fits loom's
//! thread limit), plus the corrected and mutant variants a scenario defines (`fixed=yes`,
//! `dax=off`, `gfp=kernel`). Each run must give the catalogue's verdict, and every first report
//! must carry the key lines of the kernel's report for that scenario and mode (the table below),
//! its kind's headline, and the exact replay line of its token.
//!
//! Budgets are `ksim check`'s own ([`default_schedulers`] with no `--iterations`), so this file
//! asserts what `ksim check` runs:
//! - std: one real-thread execution (the only one there is);
//! - random and PCT (depth 3): at most 200 executions each — the demonstration races are found
//!   within the first few, and a clean multi-task scenario costs about 30 ms at this budget;
//! - DFS: preemption bound 2, at most 5000 executions — every scenario's bounded tree is
//!   exhausted well below the cap (insert-race: 24 executions, dax-atomic-vs-flush: 69);
//! - loom: preemption bound 2, no cap (insert-race, the largest space: 83 executions).
//!
//! Measured: the whole file runs in 0.8-1.4 s on two cores (debug profile of this workspace).

#![forbid(unsafe_code)]

use ksim::{CheckMode, Outcome, Scheduler, Violation};
use ksim_scenarios::{catalogue, default_schedulers, Expect, Scenario, Settings};

/// The seed of the random and PCT runs (`ksim check`'s default).
const SEED: u64 = 1;

const SIA: Violation = Violation::SleepInAtomic;
const UAF: Violation = Violation::UseAfterFree;

/// What one (scenario, settings, mode) must give.
struct Row {
    scenario: &'static str,
    /// Extra settings (`""`: the defaults).
    config: &'static str,
    mode: CheckMode,
    /// The kinds it may report; empty: clean.
    kinds: &'static [Violation],
    /// Substrings every first report must contain.
    lines: &'static [&'static str],
    /// Substrings no report may contain.
    absent: &'static [&'static str],
}

use CheckMode::{Contract as C, Observed as O};

/// The 4.0 profile's two-line header: no `preempt_count:`/`RCU nest depth:` lines and no
/// `non_block:` field (they came with later kernels).
const V4_0_HEADER_ABSENT: &[&str] = &["preempt_count:", "RCU nest depth:", "non_block:"];

const fn clean(scenario: &'static str, config: &'static str, mode: CheckMode) -> Row {
    Row { scenario, config, mode, kinds: &[], lines: &[], absent: &[] }
}

const fn finds(
    scenario: &'static str,
    config: &'static str,
    mode: CheckMode,
    kinds: &'static [Violation],
    lines: &'static [&'static str],
    absent: &'static [&'static str],
) -> Row {
    Row { scenario, config, mode, kinds, lines, absent }
}

/// The contract-mode report of the 2015 DAX user under its spinlock (dax_map_range_atomic).
const ATOMIC_USER_CONTRACT: &[&str] = &[
    "BUG: sleeping function called from invalid context at driver/src/dax_user.rs:",
    "in_atomic(): 1, irqs_disabled(): 0, pid: 2, name: dax-user\n",
    "1 lock held by dax-user/2:",
    "(dax_user.lock){+.+.}, at: driver/src/dax_user.rs:",
    "ksim: contract: bdev_direct_access() may sleep",
    "Call trace (simulated):\n bdev_direct_access() <- dax_map_range_atomic\n",
];

const TABLE: &[Row] = &[
    finds(
        "dax-atomic-unpopulated",
        "",
        O,
        &[SIA],
        &[
            "BUG: sleeping function called from invalid context at driver/src/brd_v4_0.rs:",
            "in_atomic(): 1, irqs_disabled(): 0, pid: 2, name: dax-user\n",
            "1 lock held by dax-user/2:",
            "Preemption disabled at:",
            "alloc_page(GFP_NOIO|__GFP_ZERO) <- brd_insert_page <- brd_direct_access <- bdev_direct_access \
             <- dax_map_range_atomic",
        ],
        V4_0_HEADER_ABSENT,
    ),
    finds("dax-atomic-unpopulated", "", C, &[SIA], ATOMIC_USER_CONTRACT, V4_0_HEADER_ABSENT),
    clean("dax-atomic-unpopulated", "dax=off", O),
    finds("dax-atomic-unpopulated", "dax=off", C, &[SIA], ATOMIC_USER_CONTRACT, V4_0_HEADER_ABSENT),
    clean("dax-atomic-prepopulated", "", O),
    finds("dax-atomic-prepopulated", "", C, &[SIA], ATOMIC_USER_CONTRACT, V4_0_HEADER_ABSENT),
    // Either outcome of the race: the lines common to both reports (the per-kind lines are in
    // `dax_atomic_vs_flush_observed_is_found_by_pct_dfs_and_loom`).
    finds(
        "dax-atomic-vs-flush",
        "",
        O,
        &[SIA, UAF],
        &["dax-user", "dax_user_keep_address\n"],
        V4_0_HEADER_ABSENT,
    ),
    finds(
        "dax-atomic-vs-flush",
        "",
        C,
        &[SIA],
        &[
            "BUG: sleeping function called from invalid context at scenarios/src/catalogue/dax.rs:",
            "in_atomic(): 1, irqs_disabled(): 0, pid: 2, name: dax-user\n",
            "ksim: contract: bdev_direct_access() may sleep",
            "bdev_direct_access() <- dax_user_keep_address\n",
        ],
        V4_0_HEADER_ABSENT,
    ),
    clean("dax-workqueue", "", O),
    clean("dax-workqueue", "", C),
    finds(
        "dax-irq",
        "",
        O,
        &[SIA],
        &[
            "BUG: sleeping function called from invalid context at driver/src/brd_v4_0.rs:",
            "in_atomic(): 1, irqs_disabled(): 1, pid: 2, name: irq/9-dax-user\n",
            "no locks held by irq/9-dax-user/2.",
            "irq event stamp: 1",
            "hardirqs last disabled at (1): driver/src/dax_user.rs:138 handle_irq_event\n",
            "alloc_page(GFP_NOIO|__GFP_ZERO) <- brd_insert_page <- brd_direct_access <- bdev_direct_access \
             <- dax_map_range <- dax-user\n",
        ],
        V4_0_HEADER_ABSENT,
    ),
    finds(
        "dax-irq",
        "",
        C,
        &[SIA],
        &[
            "BUG: sleeping function called from invalid context at driver/src/dax_user.rs:",
            "in_atomic(): 1, irqs_disabled(): 1, pid: 2, name: irq/9-dax-user\n",
            "bdev_direct_access() <- dax_map_range <- dax-user\n",
        ],
        V4_0_HEADER_ABSENT,
    ),
    clean("dax-irq", "fixed=yes", O),
    clean("dax-irq", "fixed=yes", C),
    clean("pmem-atomic", "", O),
    finds(
        "pmem-atomic",
        "",
        C,
        &[SIA],
        &[
            "BUG: sleeping function called from invalid context at driver/src/dax_user.rs:",
            "in_atomic(): 1, irqs_disabled(): 0, pid: 1, name: main\n",
            "1 lock held by main/1:",
            "bdev_direct_access() <- dax_map_range_atomic\n",
        ],
        V4_0_HEADER_ABSENT,
    ),
    finds("dax-size-over-page", "", O, &[Violation::OutOfBounds], SIZE_OVER_PAGE, &[]),
    finds("dax-size-over-page", "", C, &[Violation::OutOfBounds], SIZE_OVER_PAGE, &[]),
    clean("dax-size-over-page", "fixed=yes", O),
    clean("dax-size-over-page", "fixed=yes", C),
    finds("dax-highmem", "", O, &[Violation::NonAddressable], HIGHMEM, &[]),
    finds("dax-highmem", "", C, &[Violation::NonAddressable], HIGHMEM, &[]),
    clean("dax-highmem", "fixed=yes", O),
    clean("dax-highmem", "fixed=yes", C),
    clean("insert-race", "", O),
    clean("insert-race", "", C),
    clean("reclaim-recursion", "", O),
    clean("reclaim-recursion", "", C),
    finds("reclaim-recursion", "gfp=kernel", O, &[Violation::ReclaimRecursion], RECLAIM, &[]),
    finds("reclaim-recursion", "gfp=kernel", C, &[Violation::ReclaimRecursion], RECLAIM, &[]),
    clean("alloc-fail-sweep", "", O),
    clean("alloc-fail-sweep", "", C),
    clean("read-unwritten", "", O),
    clean("read-unwritten", "", C),
    clean("nowait-write", "", O),
    clean("nowait-write", "", C),
    clean("discard-vs-read", "", O),
    clean("discard-vs-read", "", C),
    finds("rcu-sleep", "", O, &[SIA], RCU_SLEEP, &[]),
    finds("rcu-sleep", "", C, &[SIA], RCU_SLEEP, &[]),
    clean("rcu-sleep", "fixed=yes", O),
    clean("rcu-sleep", "fixed=yes", C),
    finds("demo-race", "", O, &[SIA], DEMO_RACE, &[]),
    finds("demo-race", "", C, &[SIA], DEMO_RACE, &[]),
    clean("demo-race", "fixed=yes", O),
    clean("demo-race", "fixed=yes", C),
    finds("demo-irq-sleep", "", O, &[SIA], DEMO_IRQ, &[]),
    finds("demo-irq-sleep", "", C, &[SIA], DEMO_IRQ, &[]),
    clean("demo-irq-sleep", "fixed=yes", O),
    clean("demo-irq-sleep", "fixed=yes", C),
    finds("demo-abba", "", O, &[Violation::LockOrderInversion], ABBA, &[]),
    finds("demo-abba", "", C, &[Violation::LockOrderInversion], ABBA, &[]),
    clean("demo-abba", "fixed=yes", O),
    clean("demo-abba", "fixed=yes", C),
    finds("irq-inconsistent-lock", "", O, &[Violation::InconsistentLockState], IRQ_INCONSISTENT, &[]),
    finds("irq-inconsistent-lock", "", C, &[Violation::InconsistentLockState], IRQ_INCONSISTENT, &[]),
    clean("irq-inconsistent-lock", "fixed=yes", O),
    clean("irq-inconsistent-lock", "fixed=yes", C),
    finds("irq-cpu-deadlock", "", O, &[Violation::Deadlock], IRQ_CPU_DEADLOCK, &[]),
    finds("irq-cpu-deadlock", "", C, &[Violation::Deadlock], IRQ_CPU_DEADLOCK, &[]),
    clean("irq-cpu-deadlock", "fixed=yes", O),
    clean("irq-cpu-deadlock", "fixed=yes", C),
    finds("timer-del-sync-lock", "", O, &[Violation::LockOrderInversion], TIMER_SYNC, &[]),
    finds("timer-del-sync-lock", "", C, &[Violation::LockOrderInversion], TIMER_SYNC, &[]),
    clean("timer-del-sync-lock", "fixed=yes", O),
    clean("timer-del-sync-lock", "fixed=yes", C),
    finds("completion-lost", "", O, &[Violation::Deadlock], COMPLETION_LOST, &[]),
    finds("completion-lost", "", C, &[Violation::Deadlock], COMPLETION_LOST, &[]),
    clean("completion-lost", "fixed=yes", O),
    clean("completion-lost", "fixed=yes", C),
    finds("copy-to-user-atomic", "", O, &[SIA], COPY_TO_USER, &[]),
    finds("copy-to-user-atomic", "", C, &[SIA], COPY_TO_USER, &[]),
    clean("copy-to-user-atomic", "fixed=yes", O),
    clean("copy-to-user-atomic", "fixed=yes", C),
    finds("refcount-double-put", "", O, &[Violation::Refcount], REFCOUNT, &[]),
    finds("refcount-double-put", "", C, &[Violation::Refcount], REFCOUNT, &[]),
    clean("refcount-double-put", "fixed=yes", O),
    clean("refcount-double-put", "fixed=yes", C),
    finds("rcu-suspicious", "", O, &[Violation::SuspiciousRcu], RCU_SUSPICIOUS, &[]),
    finds("rcu-suspicious", "", C, &[Violation::SuspiciousRcu], RCU_SUSPICIOUS, &[]),
    clean("rcu-suspicious", "fixed=yes", O),
    clean("rcu-suspicious", "fixed=yes", C),
    finds("rcu-late-use", "", O, &[UAF], RCU_LATE_USE, &[]),
    finds("rcu-late-use", "", C, &[UAF], RCU_LATE_USE, &[]),
    clean("rcu-late-use", "fixed=yes", O),
    clean("rcu-late-use", "fixed=yes", C),
    clean("wait-context-nesting", "", O),
    clean("wait-context-nesting", "", C),
    finds("wait-context-nesting", "wait_context=on", O, &[Violation::InvalidWaitContext], WAIT_CONTEXT, &[]),
    finds("wait-context-nesting", "wait_context=on", C, &[Violation::InvalidWaitContext], WAIT_CONTEXT, &[]),
    clean("wait-context-nesting", "fixed=yes,wait_context=on", O),
    clean("wait-context-nesting", "fixed=yes,wait_context=on", C),
];

const IRQ_INCONSISTENT: &[&str] = &[
    "inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage.",
    "irq/11-dev/2 [HC1[1]:SC0[0]:HE0:SE1] takes:",
    " (dev.lock){?.+.}, at: scenarios/src/catalogue/checks.rs:",
    "{HARDIRQ-ON-W} state was registered at:\n  spin_lock at scenarios/src/catalogue/checks.rs:",
    " <- dev_read_count\n",
    "  lock(dev.lock);\n  <Interrupt>\n    lock(dev.lock);\n",
    "spin_lock <- dev_interrupt <- dev\n",
];

const IRQ_CPU_DEADLOCK: &[&str] = &[
    "BUG: spinlock recursion on CPU#0, main/1\n",
    " lock: dev.lock, .magic: dead4ead, .owner: main/1, .owner_cpu: 0\n",
    "ksim: irq/11-dev/2 interrupted main/1 on its CPU and spins at scenarios/src/catalogue/checks.rs:",
];

const TIMER_SYNC: &[&str] = &[
    "WARNING: possible circular locking dependency detected",
    "(&dev->watchdog)",
    "(dev.lock)",
    " *** DEADLOCK ***",
];

const COMPLETION_LOST: &[&str] = &[
    "ksim: deadlock: every task is blocked\n",
    "dev-wait/2 sleeps in wait_for_completion()(dev->done) at scenarios/src/catalogue/checks.rs:",
];

const COPY_TO_USER: &[&str] = &[
    "BUG: sleeping function called from invalid context at scenarios/src/catalogue/checks.rs:",
    "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main\n",
    "1 lock held by main/1:",
    "copy_to_user() <- dev_read\n",
];

const REFCOUNT: &[&str] = &[
    "------------[ cut here ]------------\nrefcount_t: underflow; use-after-free.\n",
    "WARNING: CPU: 0 PID: 1 at scenarios/src/catalogue/checks.rs:",
    "refcount_warn_saturate <- dev_remove\n",
];

const RCU_SUSPICIOUS: &[&str] = &[
    "=============================\nWARNING: suspicious RCU usage\n-----------------------------\n",
    " suspicious rcu_dereference_check() usage!\n",
    "rcu_scheduler_active = 2, debug_locks = 1\nno locks held by main/1.\n",
];

const RCU_LATE_USE: &[&str] = &[
    "BUG: KASAN: use-after-free in memcpy at scenarios/src/catalogue/checks.rs:",
    "by task dev-reader/2",
    "Freed by task rcu_callback/3:",
    "memcpy <- dev_reader\n",
];

const WAIT_CONTEXT: &[&str] = &[
    "=============================\n[ BUG: Invalid wait context ]\n-----------------------------\n",
    "main/1 is trying to lock:\n (dev.stats_lock){+.+.}-{3:3}, at: scenarios/src/catalogue/checks.rs:",
    "context-{5:5}\n1 lock held by main/1:\n #0: (dev.raw_lock){+.+.}-{2:2}, at: ",
];

const SIZE_OVER_PAGE: &[&str] = &[
    "BUG: KASAN: page-out-of-bounds in memcpy at driver/src/dax_user.rs:",
    "Write of size 1048576 at addr 0xffff888001000000 by task main/1",
    "the access ends 1044480 bytes past its end",
    "Allocated by task main/1 (GFP_NOIO|__GFP_ZERO):",
    "memcpy <- dax_write_assuming_size\n",
];

const HIGHMEM: &[&str] = &[
    "BUG: kernel NULL pointer dereference, address: 0000000000000000",
    "#PF: supervisor write access in kernel mode",
    "through a NULL kernel address",
    "memcpy <- dax_map_range\n",
];

const RECLAIM: &[&str] = &[
    "WARNING: reclaim recursion: GFP_KERNEL|__GFP_ZERO allocation inside the block I/O path",
    "main/1 allocates at driver/src/brd_v4_0.rs:",
    "(I/O submission entered at scenarios/src/io.rs:",
    "allocate with GFP_NOIO, or inside memalloc_noio_save()/memalloc_noio_restore().",
    "direct_reclaim <- brd_insert_page <- copy_to_brd_setup <- brd_do_bvec <- brd_make_request",
];

const RCU_SLEEP: &[&str] = &[
    "BUG: sleeping function called from invalid context at scenarios/src/catalogue/brd.rs:",
    "in_atomic(): 0, irqs_disabled(): 0, non_block: 0, pid: 2, name: xa-user\n",
    "preempt_count: 0, expected: 0\n",
    "RCU nest depth: 1, expected: 0\n",
    "no locks held by xa-user/2.",
    "kmem_cache_alloc(radix_tree_node, GFP_KERNEL) <- xa_user_publish\n",
];

const DEMO_RACE: &[&str] = &[
    "BUG: sleeping function called from invalid context at scenarios/src/catalogue/demo.rs:",
    "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 2, name: cache-user\n",
    "preempt_count: 1, expected: 0\n",
    "1 lock held by cache-user/2:",
    "might_sleep() <- cache_refill <- cache_user\n",
];

const DEMO_IRQ: &[&str] = &[
    "in_atomic(): 1, irqs_disabled(): 1, non_block: 0, pid: 2, name: irq/7-demo-dev\n",
    "preempt_count: 10000, expected: 0\n",
    "msleep() <- demo-dev\n",
];

const ABBA: &[&str] = &[
    "WARNING: possible circular locking dependency detected",
    "ba/3 is trying to acquire lock:",
    " (demo_a){+.+.}, at: scenarios/src/catalogue/demo.rs:",
    "but task is already holding lock:",
    " *** DEADLOCK ***",
];

/// The headlines a report of a kind may start with.
fn headline(kind: Violation) -> &'static [&'static str] {
    match kind {
        Violation::SleepInAtomic => &["BUG: sleeping function called from invalid context at "],
        Violation::UseAfterFree => &["BUG: KASAN: use-after-free in "],
        Violation::OutOfBounds => &["BUG: KASAN: page-out-of-bounds in "],
        Violation::NonAddressable => &["BUG: kernel NULL pointer dereference"],
        Violation::ReclaimRecursion => &["WARNING: reclaim recursion"],
        Violation::LockOrderInversion => &["WARNING: possible circular locking dependency detected"],
        Violation::InconsistentLockState => &["WARNING: inconsistent lock state"],
        Violation::Deadlock => &["BUG: spinlock recursion on CPU#", "ksim: deadlock: every task is blocked"],
        Violation::Refcount => &["refcount_t: "],
        Violation::SuspiciousRcu => &["WARNING: suspicious RCU usage"],
        Violation::InvalidWaitContext => &["[ BUG: Invalid wait context ]"],
        other => panic!("no row expects {other}"),
    }
}

fn settings(row: &Row) -> Settings {
    let user = Settings::parse(row.config.split(',')).expect("table settings are valid");
    Scenario::with_mode(&user, row.mode)
}

fn describe(row: &Row, sched: &Scheduler) -> String {
    format!("{} [{}] mode={} under {sched}", row.scenario, row.config, row.mode)
}

/// Checks one run of a row: verdict, report lines, replay line.
fn check_outcome(row: &Row, s: &Scenario, user: &Settings, sched: &Scheduler, o: &Outcome) {
    let what = describe(row, sched);
    // The catalogue's verdict, as `ksim check` applies it (`None`: one real-thread run of an
    // interleaving-dependent scenario, which may or may not hit the race).
    if let Some(expect) = s.expected_under(user, sched) {
        assert!(expect.matches(o), "{what}: expected {expect}, got {:?}\n{:#?}", o.kinds(), o.reports);
    }
    // The row may be stricter than the catalogue (contract mode reports the flush race's map at
    // entry, before any use after free can happen): every report is one of the row's kinds.
    assert!(
        o.reports.iter().all(|r| row.kinds.contains(&r.kind)),
        "{what}: unexpected {:?}\n{:#?}",
        o.kinds(),
        o.reports
    );
    let Some(r) = o.first_report() else { return };
    assert!(headline(r.kind).iter().any(|h| r.headline().starts_with(h)), "{what}:\n{}", r.text);
    for line in row.lines {
        assert!(r.text.contains(line), "{what}: report lacks {line:?}:\n{}", r.text);
    }
    for line in row.absent {
        assert!(!r.text.contains(line), "{what}: report has {line:?}:\n{}", r.text);
    }
    // The token names the scenario, the scheduler spec, the failing execution and the settings.
    let mut token = format!("{}/{sched}/e{}", row.scenario, r.execution);
    if !user.label().is_empty() {
        token = format!("{token}/{}", user.label());
    }
    assert_eq!(r.token, token, "{what}");
    if matches!(sched, Scheduler::Std) && o.tasks > 1 {
        // Real threads: the interleaving cannot be replayed, and the report says so.
        assert!(!r.replayable, "{what}");
        let none = format!("replay: none: std ran these {} tasks on real threads", o.tasks);
        assert!(r.text.lines().any(|l| l.starts_with(&none)), "{what}:\n{}", r.text);
    } else {
        assert!(r.replayable, "{what}");
        assert!(r.text.ends_with(&format!("replay: ksim replay {token}\n")), "{what}:\n{}", r.text);
    }
    assert_eq!(o.token(), Some(token.as_str()));
}

/// Runs every row of `scenario` under every scheduler it supports.
fn check_scenario(scenario: &str) {
    let s = catalogue::find(scenario).expect("a catalogue scenario");
    let rows: Vec<&Row> = TABLE.iter().filter(|r| r.scenario == scenario).collect();
    assert!(!rows.is_empty(), "{scenario} has no rows in the table");
    for row in rows {
        let user = settings(row);
        // The table agrees with the catalogue: clean rows are clean there, and a row's kinds are
        // among the ones the catalogue accepts.
        match s.expected(&user) {
            Expect::Clean => assert!(
                row.kinds.is_empty(),
                "{scenario} [{}] mode={}: clean in the catalogue",
                row.config,
                row.mode
            ),
            Expect::Finds(kinds) => assert!(
                !row.kinds.is_empty() && row.kinds.iter().all(|k| kinds.contains(k)),
                "{scenario} [{}] mode={}: the catalogue expects {kinds:?}",
                row.config,
                row.mode
            ),
        }
        let mut ran = 0;
        for sched in default_schedulers(SEED, None) {
            if !s.supports(&sched) {
                assert!(
                    matches!(sched, Scheduler::Loom { .. }) && s.max_tasks > 5,
                    "{scenario}: only loom may be skipped"
                );
                continue;
            }
            let o = s.run(&user, sched.clone());
            check_outcome(row, &s, &user, &sched, &o);
            ran += 1;
        }
        assert_eq!(ran, 5, "{scenario}: every scheduler runs it");
    }
}

macro_rules! scenario_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_scenario($name);
            }
        )*

        /// The scenarios that have a test above.
        const TESTED: &[&str] = &[$($name),*];
    };
}

scenario_tests! {
    dax_atomic_unpopulated_matches_its_rows => "dax-atomic-unpopulated",
    dax_atomic_prepopulated_matches_its_rows => "dax-atomic-prepopulated",
    dax_atomic_vs_flush_matches_its_rows => "dax-atomic-vs-flush",
    dax_workqueue_matches_its_rows => "dax-workqueue",
    dax_irq_matches_its_rows => "dax-irq",
    pmem_atomic_matches_its_rows => "pmem-atomic",
    dax_size_over_page_matches_its_rows => "dax-size-over-page",
    dax_highmem_matches_its_rows => "dax-highmem",
    insert_race_matches_its_rows => "insert-race",
    reclaim_recursion_matches_its_rows => "reclaim-recursion",
    alloc_fail_sweep_matches_its_rows => "alloc-fail-sweep",
    read_unwritten_matches_its_rows => "read-unwritten",
    nowait_write_matches_its_rows => "nowait-write",
    discard_vs_read_matches_its_rows => "discard-vs-read",
    rcu_sleep_matches_its_rows => "rcu-sleep",
    demo_race_matches_its_rows => "demo-race",
    demo_irq_sleep_matches_its_rows => "demo-irq-sleep",
    demo_abba_matches_its_rows => "demo-abba",
    irq_inconsistent_lock_matches_its_rows => "irq-inconsistent-lock",
    irq_cpu_deadlock_matches_its_rows => "irq-cpu-deadlock",
    timer_del_sync_lock_matches_its_rows => "timer-del-sync-lock",
    completion_lost_matches_its_rows => "completion-lost",
    copy_to_user_atomic_matches_its_rows => "copy-to-user-atomic",
    refcount_double_put_matches_its_rows => "refcount-double-put",
    rcu_suspicious_matches_its_rows => "rcu-suspicious",
    rcu_late_use_matches_its_rows => "rcu-late-use",
    wait_context_nesting_matches_its_rows => "wait-context-nesting",
}

#[test]
fn matrix_table_covers_every_scenario_in_both_modes() {
    let names: Vec<&str> = catalogue::all().iter().map(|s| s.name).collect();
    assert_eq!(TESTED, names.as_slice(), "one test per catalogue scenario, in catalogue order");
    for name in &names {
        for mode in [O, C] {
            assert!(
                TABLE.iter().any(|r| r.scenario == *name && r.config.is_empty() && r.mode == mode),
                "{name} mode={mode} has no row with the default settings"
            );
        }
    }
    for row in TABLE {
        assert!(names.contains(&row.scenario), "row for unknown scenario {}", row.scenario);
        assert_eq!(
            TABLE
                .iter()
                .filter(|r| r.scenario == row.scenario && r.config == row.config && r.mode == row.mode)
                .count(),
            1,
            "duplicate row {} [{}] {}",
            row.scenario,
            row.config,
            row.mode
        );
    }
}

/// The flush race's two outcomes, by kind: a map after the flush allocates under the spinlock;
/// a write after the flush goes to a freed page.
fn check_flush_race_report(r: &ksim::Report, sched: &Scheduler) {
    let lines: &[&str] = match r.kind {
        Violation::SleepInAtomic => &[
            "BUG: sleeping function called from invalid context at driver/src/brd_v4_0.rs:",
            "in_atomic(): 1, irqs_disabled(): 0, pid: 2, name: dax-user\n",
            "(dax_user.lock){+.+.}, at: scenarios/src/catalogue/dax.rs:",
            "alloc_page(GFP_NOIO|__GFP_ZERO) <- brd_insert_page <- brd_direct_access <- bdev_direct_access \
             <- dax_user_keep_address\n",
        ],
        Violation::UseAfterFree => &[
            "BUG: KASAN: use-after-free in memcpy at scenarios/src/catalogue/dax.rs:",
            "Write of size 4096 at addr ",
            "by task dax-user/2",
            "Allocated by task main/1 (GFP_NOIO|__GFP_ZERO):",
            "Freed by task blkflsbuf/3:",
            "brd_free_pages <- brd_ioctl <- blkdev_ioctl",
            "memcpy <- dax_user_keep_address\n",
        ],
        other => panic!("{sched}: the flush race reported {other}:\n{}", r.text),
    };
    for line in lines {
        assert!(r.text.contains(line), "{sched}: {} report lacks {line:?}:\n{}", r.kind, r.text);
    }
}

#[test]
fn dax_atomic_vs_flush_observed_is_found_by_pct_dfs_and_loom() {
    let s = catalogue::find("dax-atomic-vs-flush").expect("in the catalogue");
    let user = Settings::default();
    let mut kinds = Vec::new();
    for sched in default_schedulers(SEED, None) {
        if matches!(sched, Scheduler::Std) {
            continue;
        }
        let o = s.run(&user, sched.clone());
        let r = o.first_report().unwrap_or_else(|| panic!("{sched} must find the flush race"));
        check_flush_race_report(r, &sched);
        kinds.push(r.kind);
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, vec![SIA, UAF], "between them the model checkers find both outcomes of the race");
}

/// The allocation view's lines that contain every one of `parts`.
fn count(view: &str, parts: &[&str]) -> usize {
    view.lines().filter(|l| parts.iter().all(|p| l.contains(p))).count()
}

#[test]
fn insert_race_dfs_and_loom_see_two_allocations_and_one_free() {
    let s = catalogue::find("insert-race").expect("in the catalogue");
    for sched in [
        Scheduler::Dfs { preemption_bound: Some(2), max_executions: Some(5000) },
        Scheduler::Loom { preemption_bound: Some(2) },
    ] {
        let o = s.run(&Settings::default(), sched.clone());
        assert!(o.is_clean(), "{sched}: {:#?}", o.reports);
        let brd_allocs = |v: &str| count(v, &["alloc_page: GFP_NOIO|__GFP_ZERO ", " in brd_insert_page<-"]);
        let brd_frees = |v: &str| count(v, &["__free_page: ", " in brd_insert_page<-"]);
        let exit_frees = |v: &str| count(v, &["__free_page: ", " in brd_free_pages<-"]);
        let views: Vec<String> = o.traces.iter().map(|t| t.allocations()).collect();
        let raced: Vec<&String> = views.iter().filter(|v| brd_allocs(v) == 2).collect();
        assert!(!raced.is_empty(), "{sched}: no interleaving where both writers allocate");
        for v in &raced {
            assert_eq!(brd_frees(v), 1, "{sched}: the loser frees its page under brd_lock:\n{v}");
            assert_eq!(exit_frees(v), 1, "{sched}: brd_exit frees the winner's page:\n{v}");
        }
        let serial = views.iter().filter(|v| brd_allocs(v) == 1).count();
        assert!(serial > 0, "{sched}: the serial interleavings allocate once");
        assert!(views.iter().all(|v| matches!(brd_allocs(v), 1 | 2)), "{sched}");
        assert!(
            views.iter().all(|v| brd_frees(v) + 1 == brd_allocs(v)),
            "{sched}: only the loser's page is freed early"
        );
    }
}
