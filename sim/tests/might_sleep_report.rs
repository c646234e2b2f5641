//! The text of `might_sleep()` reports, line by line, in both kernel formats (facts §3.3 and
//! checklist items 3, 6, 7, 8), the sleeping APIs that carry the annotation, contract mode, the
//! "scheduling while atomic" backstop, the one-per-HZ rate limit and report accumulation.
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::sync::Arc;

use common::{assert_lines_in_order, only_report, run_lines as run, Lines};
use ksim::prelude::*;

const FILE: &str = file!();

/// A kthread `sleeper` (pid 2) that takes a spinlock and calls `might_sleep()` two frames deep.
fn sleeper_under_spinlock(lines: &Lines) {
    let lock = Arc::new(SpinLock::new((), "sleeper.lock"));
    let lines = lines.clone();
    let k = kthread_run("sleeper", move || {
        kfn!("sleeper_outer");
        let _g = at!(lines, "lock", spin_lock(&lock));
        kfn!("sleeper_inner");
        at!(lines, "sleep", might_sleep());
    });
    k.join();
}

#[test]
fn might_sleep_report_modern_exact_text() {
    let (o, lines) = run(Config::modern(), sleeper_under_spinlock);
    let r = only_report(&o);
    let (lock, sleep) = (lines.site(FILE, "lock"), lines.site(FILE, "sleep"));
    let expected = format!(
        "BUG: sleeping function called from invalid context at {sleep}\n\
         in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 2, name: sleeper\n\
         preempt_count: 1, expected: 0\n\
         1 lock held by sleeper/2:\n \
         #0: (sleeper.lock){{+.+.}}, at: {lock}\n\
         Preemption disabled at:\n \
         {lock} spin_lock\n\
         Call trace (simulated):\n \
         might_sleep() <- sleeper_inner <- sleeper_outer\n\
         replay: none: std ran these 2 tasks on real threads, in an interleaving no run can repeat; \
         run it under a deterministic scheduler (pct, random, dfs or loom) for a replay\n"
    );
    assert_eq!(r.text, expected);
    // Two tasks on real threads: the token names the run but cannot replay it.
    assert!(!r.replayable);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_eq!((r.pid, r.task.as_str(), r.execution), (2, "sleeper", 0));
    assert_eq!(r.token, "adhoc/std/e0");
    assert_eq!(r.headline(), format!("BUG: sleeping function called from invalid context at {sleep}"));
    assert_eq!(o.token(), Some("adhoc/std/e0"));
}

#[test]
fn might_sleep_report_of_a_single_task_std_run_replays() {
    let o = Runner::std().run(|| {
        let lock = SpinLock::new((), "solo.lock");
        let _g = spin_lock(&lock);
        might_sleep();
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert!(r.replayable);
    assert!(r.text.ends_with("replay: ksim::Runner::replay(\"adhoc/std/e0\")\n"), "{}", r.text);
    assert_eq!(o.tasks, 1);
}

#[test]
fn might_sleep_report_v4_0_has_two_line_header() {
    let (o, lines) = run(Config::v4_0(), sleeper_under_spinlock);
    let r = only_report(&o);
    let (lock, sleep) = (lines.site(FILE, "lock"), lines.site(FILE, "sleep"));
    let text: Vec<&str> = r.text.lines().collect();
    assert_eq!(text[0], format!("BUG: sleeping function called from invalid context at {sleep}"));
    assert_eq!(text[1], "in_atomic(): 1, irqs_disabled(): 0, pid: 2, name: sleeper");
    // No preempt_count / non_block line in 4.0: the held locks follow the header directly.
    assert_eq!(text[2], "1 lock held by sleeper/2:");
    assert_eq!(text[3], format!(" #0: (sleeper.lock){{+.+.}}, at: {lock}"));
    assert!(!r.text.contains("preempt_count:") && !r.text.contains("non_block"), "{}", r.text);
    assert_lines_in_order(&r.text, &["Preemption disabled at:", &format!(" {lock} spin_lock")]);
}

#[test]
fn might_sleep_report_preempt_rcu_shows_nest_depth() {
    let cfg = Config::modern().rcu(RcuFlavour::Preemptible);
    let (o, lines) = run(cfg, |l| {
        rcu_read_lock();
        at!(l, "sleep", might_sleep());
    });
    let r = only_report(&o);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "sleep")),
            "in_atomic(): 0, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
            "preempt_count: 0, expected: 0",
            "RCU nest depth: 1, expected: 0",
            "no locks held by main/1.",
            "Call trace (simulated):",
            " might_sleep()",
        ],
    );
    // preempt_count is what was expected, so no "Preemption disabled at:".
    assert!(!r.text.contains("Preemption disabled at:"), "{}", r.text);
}

#[test]
fn might_sleep_report_classic_rcu_counts_as_preempt_disabled() {
    let (o, lines) = run(Config::modern().rcu(RcuFlavour::Classic), |l| {
        at!(l, "rcu", rcu_read_lock());
        at!(l, "sleep", might_sleep());
    });
    let r = only_report(&o);
    assert_lines_in_order(
        &r.text,
        &[
            "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
            "preempt_count: 1, expected: 0",
            "Preemption disabled at:",
            &format!(" {} rcu_read_lock", lines.site(FILE, "rcu")),
        ],
    );
    assert!(!r.text.contains("RCU nest depth"), "classic RCU has no nest depth line:\n{}", r.text);
}

#[test]
fn might_sleep_report_irqs_disabled_shows_irq_event_stamps() {
    for cfg in common::profiles() {
        let modern = cfg.profile == Profile::Modern;
        let (o, lines) = run(cfg, |l| {
            local_irq_disable();
            at!(l, "on", local_irq_enable());
            at!(l, "off", local_irq_disable());
            at!(l, "sleep", might_sleep());
        });
        let r = only_report(&o);
        let header = if modern {
            "in_atomic(): 0, irqs_disabled(): 1, non_block: 0, pid: 1, name: main"
        } else {
            "in_atomic(): 0, irqs_disabled(): 1, pid: 1, name: main"
        };
        assert_lines_in_order(
            &r.text,
            &[
                &format!(
                    "BUG: sleeping function called from invalid context at {}",
                    lines.site(FILE, "sleep")
                ),
                header,
                "no locks held by main/1.",
                "irq event stamp: 3",
                &format!("hardirqs last  enabled at (2): {} local_irq_enable", lines.site(FILE, "on")),
                &format!("hardirqs last disabled at (3): {} local_irq_disable", lines.site(FILE, "off")),
                "softirqs last  enabled at (0): (none)",
                "softirqs last disabled at (0): (none)",
                "Call trace (simulated):",
            ],
        );
        assert!(!r.text.contains("Preemption disabled at:"), "{}", r.text);
    }
}

#[test]
fn might_sleep_report_irq_block_absent_with_irqs_enabled() {
    let (o, _) = run(Config::modern(), sleeper_under_spinlock);
    assert!(!only_report(&o).text.contains("irq event stamp"));
}

#[test]
fn might_sleep_report_non_block_shows_count() {
    let (o, lines) = run(Config::modern(), |l| {
        non_block_start();
        non_block_start();
        at!(l, "sleep", might_sleep());
    });
    let r = only_report(&o);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "sleep")),
            "in_atomic(): 0, irqs_disabled(): 0, non_block: 2, pid: 1, name: main",
            "preempt_count: 0, expected: 0",
        ],
    );
    // After non_block_end() the task may sleep again.
    let (o, _) = run(Config::modern(), |_| {
        non_block_start();
        non_block_end();
        might_sleep();
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn might_sleep_report_non_block_is_modern_only() {
    // 4.0 predates non_block_count (2019): its predicate ignores it.
    let (o, _) = run(Config::v4_0(), |_| {
        non_block_start();
        might_sleep();
        non_block_end();
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn might_sleep_report_spin_lock_bh_shows_softirq_lock_offset() {
    let (o, lines) = run(Config::modern(), |l| {
        let lock = SpinLock::new((), "bh.lock");
        let _g = at!(l, "lock", spin_lock_bh(&lock));
        at!(l, "sleep", might_sleep());
    });
    let r = only_report(&o);
    let lock = lines.site(FILE, "lock");
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "sleep")),
            "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 1, name: main",
            "preempt_count: 201, expected: 0",
            "1 lock held by main/1:",
            // Taken with softirqs disabled: lockdep does not mark it softirq-on.
            &format!(" #0: (bh.lock){{+...}}, at: {lock}"),
            "Preemption disabled at:",
            &format!(" {lock} spin_lock_bh"),
        ],
    );
}

#[test]
fn might_sleep_report_lists_every_held_lock() {
    let (o, lines) = run(Config::modern(), |l| {
        let a = Mutex::new((), "outer_mutex");
        let b = SpinLock::new((), "inner.lock");
        let _ga = at!(l, "a", mutex_lock(&a));
        let _gb = at!(l, "b", spin_lock(&b));
        might_sleep();
    });
    let r = only_report(&o);
    assert_lines_in_order(
        &r.text,
        &[
            "2 locks held by main/1:",
            &format!(" #0: (outer_mutex){{+.+.}}, at: {}", lines.site(FILE, "a")),
            &format!(" #1: (inner.lock){{+.+.}}, at: {}", lines.site(FILE, "b")),
            "Preemption disabled at:",
            // The mutex does not disable preemption; the spinlock does.
            &format!(" {} spin_lock", lines.site(FILE, "b")),
        ],
    );
}

#[test]
fn might_sleep_report_debug_options_gate_the_check_and_the_preempt_site() {
    let quiet = Config { debug_atomic_sleep: false, ..Config::modern() };
    let (o, _) = run(quiet, sleeper_under_spinlock);
    assert!(o.is_clean(), "no DEBUG_ATOMIC_SLEEP, no check: {:#?}", o.reports);
    let no_site = Config { debug_preempt: false, ..Config::modern() };
    let (o, _) = run(no_site, sleeper_under_spinlock);
    let r = only_report(&o);
    assert!(r.text.contains("preempt_count: 1, expected: 0\n"));
    assert!(!r.text.contains("Preemption disabled at:"), "{}", r.text);
}

#[test]
fn might_sleep_if_checks_only_when_true() {
    let (o, _) = run(Config::modern(), |_| {
        preempt_disable();
        might_sleep_if(false);
        preempt_enable();
    });
    assert!(o.is_clean());
    let (o, lines) = run(Config::modern(), |l| {
        preempt_disable();
        at!(l, "sleep", might_sleep_if(true));
    });
    let r = only_report(&o);
    assert_eq!(
        r.headline(),
        format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "sleep"))
    );
}

#[test]
fn might_sleep_in_process_context_is_clean_in_both_profiles() {
    for cfg in common::profiles() {
        let (o, _) = run(cfg.mode(CheckMode::Contract), |_| {
            might_sleep();
            cond_resched();
            msleep(1);
            schedule();
            synchronize_rcu();
            might_sleep_contract("direct_access", "may allocate");
            let m = Mutex::new(0u32, "clean_mutex");
            *mutex_lock(&m) += 1;
            let k = kthread_run("idle", || ());
            kthread_stop(k);
        });
        assert!(o.is_clean(), "{:#?}", o.reports);
        assert_eq!(o.executions, 1);
    }
}

#[test]
fn mutex_lock_under_spinlock_is_reported() {
    let (o, lines) = run(Config::modern(), |l| {
        let s = SpinLock::new((), "outer.lock");
        let m = Mutex::new((), "inner_mutex");
        let _g = at!(l, "spin", spin_lock(&s));
        let _m = at!(l, "mutex", mutex_lock(&m));
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    let spin = lines.site(FILE, "spin");
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "mutex")),
            "preempt_count: 1, expected: 0",
            "1 lock held by main/1:",
            &format!(" #0: (outer.lock){{+.+.}}, at: {spin}"),
            "Preemption disabled at:",
            &format!(" {spin} spin_lock"),
            "Call trace (simulated):",
            " mutex_lock()",
        ],
    );
}

/// Each sleeping API, called under a spinlock, is reported at its call site with its name as the
/// innermost frame of the call trace.
#[test]
fn sleeping_apis_report_when_called_atomically() {
    type Case = (&'static str, fn(&Lines));
    let cases: [Case; 9] = [
        ("msleep()", |l| {
            let s = SpinLock::new((), "c.lock");
            let _g = spin_lock(&s);
            at!(l, "call", msleep(10));
        }),
        ("cond_resched()", |l| {
            let s = SpinLock::new((), "c.lock");
            let _g = spin_lock(&s);
            at!(l, "call", cond_resched());
        }),
        ("synchronize_rcu()", |l| {
            let s = SpinLock::new((), "c.lock");
            let _g = spin_lock(&s);
            at!(l, "call", synchronize_rcu());
        }),
        ("kthread_stop()", |l| {
            let k = kthread_run("stopped", || ());
            let s = SpinLock::new((), "c.lock");
            let _g = spin_lock(&s);
            at!(l, "call", kthread_stop(k));
        }),
        ("flush_work()", |l| {
            let w = WorkStruct::new("c_work_fn", || ());
            schedule_work(&w);
            let s = SpinLock::new((), "c.lock");
            let _g = spin_lock(&s);
            at!(l, "call", flush_work(&w));
        }),
        ("flush_workqueue()", |l| {
            let wq = alloc_workqueue("c_wq");
            let s = SpinLock::new((), "c.lock");
            let _g = spin_lock(&s);
            at!(l, "call", flush_workqueue(&wq));
        }),
        ("request_irq()", |l| {
            let s = SpinLock::new((), "c.lock");
            let _g = spin_lock(&s);
            let _ = at!(l, "call", request_irq(3, "c-dev", |_| IrqReturn::Handled));
        }),
        ("synchronize_irq()", |l| {
            let s = SpinLock::new((), "c.lock");
            let _g = spin_lock(&s);
            at!(l, "call", synchronize_irq(3));
        }),
        ("tasklet_kill()", |l| {
            let t = ksim::interrupt::Tasklet::new("c_tasklet", || ());
            let s = SpinLock::new((), "c.lock");
            let _g = spin_lock(&s);
            at!(l, "call", tasklet_kill(&t));
        }),
    ];
    for (api, body) in cases {
        for cfg in common::profiles() {
            let (o, lines) = run(cfg, body);
            let r = only_report(&o);
            assert_eq!(r.kind, Violation::SleepInAtomic, "{api}");
            assert_eq!(
                r.headline(),
                format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "call")),
                "{api}"
            );
            assert!(r.text.contains("in_atomic(): 1, irqs_disabled(): 0, "), "{api}: {}", r.text);
            assert_lines_in_order(&r.text, &["Call trace (simulated):", &format!(" {api}")]);
        }
    }
}

#[test]
fn synchronize_rcu_inside_read_side_section_is_reported() {
    // PROVE_RCU (on with lockdep) reports it first, as the kernel's RCU_LOCKDEP_WARN does;
    // without it the wait's might_sleep() does.
    let (o, lines) = run(Config::modern(), |l| {
        at!(l, "lock", rcu_read_lock());
        at!(l, "sync", synchronize_rcu());
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SuspiciousRcu);
    assert_lines_in_order(
        &r.text,
        &[
            "WARNING: suspicious RCU usage",
            &format!(
                "{} Illegal synchronize_rcu() in RCU read-side critical section!",
                lines.site(FILE, "sync")
            ),
        ],
    );
    let (o, lines) = run(Config::modern().prove_rcu(false), |l| {
        at!(l, "lock", rcu_read_lock());
        at!(l, "sync", synchronize_rcu());
    });
    let r = only_report(&o);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "sync")),
            "preempt_count: 1, expected: 0",
            "Preemption disabled at:",
            &format!(" {} rcu_read_lock", lines.site(FILE, "lock")),
            " synchronize_rcu()",
        ],
    );
}

/// A may-sleep API whose fast path does not sleep: only contract mode checks it.
fn contract_body(l: &Lines) {
    let s = SpinLock::new((), "mapper.lock");
    let _g = spin_lock(&s);
    at!(l, "call", might_sleep_contract("direct_access", "it may allocate backing store"));
}

#[test]
fn contract_mode_reports_may_sleep_api_in_atomic_context() {
    let (o, lines) = run(Config::modern().mode(CheckMode::Contract), contract_body);
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::SleepInAtomic);
    assert_lines_in_order(
        &r.text,
        &[
            &format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "call")),
            "preempt_count: 1, expected: 0",
            "ksim: contract: direct_access may sleep (it may allocate backing store)",
            "Call trace (simulated):",
            " direct_access",
        ],
    );
}

#[test]
fn contract_mode_off_observed_mode_is_clean() {
    for cfg in common::profiles() {
        let (o, _) = run(cfg.mode(CheckMode::Observed), contract_body);
        assert!(o.is_clean(), "observed mode does not check contracts: {:#?}", o.reports);
    }
}

#[test]
fn schedule_under_spinlock_is_scheduling_while_atomic() {
    for cfg in common::profiles() {
        let (o, lines) = run(cfg, |l| {
            let lock = Arc::new(SpinLock::new((), "sched.lock"));
            let l = l.clone();
            kthread_run("scheduler", move || {
                let _g = at!(l, "lock", spin_lock(&lock));
                at!(l, "call", schedule());
            })
            .join();
        });
        let r = only_report(&o);
        assert_eq!(r.kind, Violation::SchedulingWhileAtomic);
        let lock = lines.site(FILE, "lock");
        assert_lines_in_order(
            &r.text,
            &[
                "BUG: scheduling while atomic: scheduler/2/0x00000001",
                "1 lock held by scheduler/2:",
                &format!(" #0: (sched.lock){{+.+.}}, at: {lock}"),
                "Preemption disabled at:",
                &format!(" {lock} spin_lock"),
                &format!("ksim: schedule() blocked at {}", lines.site(FILE, "call")),
                "Call trace (simulated):",
                " schedule()",
            ],
        );
    }
}

#[test]
fn schedule_with_only_irqs_disabled_is_not_scheduling_while_atomic() {
    // __schedule_bug looks at preempt_count only.
    let (o, _) = run(Config::modern(), |_| {
        local_irq_disable();
        schedule();
        local_irq_enable();
    });
    assert!(o.is_clean(), "{:#?}", o.reports);
}

#[test]
fn rate_limit_keeps_one_report_per_hz() {
    let cfg = Config::modern().rate_limit(true).panic_on_report(false);
    let (o, lines) = run(cfg, |l| {
        preempt_disable();
        at!(l, "first", might_sleep());
        might_sleep(); // same jiffy: dropped
        preempt_enable();
        msleep(500); // half a second of simulated time, in process context
        preempt_disable();
        might_sleep(); // still within HZ of the first report: dropped
        preempt_enable();
        msleep(500);
        preempt_disable();
        at!(l, "second", might_sleep());
        preempt_enable();
    });
    let heads: Vec<&str> = o.reports.iter().map(|r| r.headline()).collect();
    assert_eq!(
        heads,
        [
            format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "first")),
            format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, "second")),
        ]
    );
    assert!(o.reports.iter().all(|r| r.kind == Violation::SleepInAtomic && r.execution == 0));
}

#[test]
fn rate_limit_off_reports_every_violation() {
    let (o, _) = run(Config::modern().panic_on_report(false), |_| {
        preempt_disable();
        might_sleep();
        might_sleep();
        might_sleep();
        preempt_enable();
    });
    assert_eq!(o.reports.len(), 3);
    assert_eq!(o.kinds(), [Violation::SleepInAtomic]);
}

#[test]
fn panic_on_report_off_accumulates_reports_in_one_execution() {
    let (o, lines) = run(Config::modern().panic_on_report(false), |l| {
        let s = SpinLock::new((), "acc.lock");
        let g = spin_lock(&s);
        at!(l, "sleep", might_sleep());
        // msleep in atomic context: the might_sleep check and the real schedule both report.
        at!(l, "msleep", msleep(1));
        drop(g);
        local_irq_disable();
        at!(l, "cond", cond_resched());
        local_irq_enable();
        // The task goes on after its reports, as the kernel does.
        might_sleep();
    });
    let got: Vec<(Violation, &str)> = o.reports.iter().map(|r| (r.kind, r.headline())).collect();
    let bug =
        |label| format!("BUG: sleeping function called from invalid context at {}", lines.site(FILE, label));
    assert_eq!(
        got,
        [
            (Violation::SleepInAtomic, bug("sleep").as_str()),
            (Violation::SleepInAtomic, bug("msleep").as_str()),
            (Violation::SchedulingWhileAtomic, "BUG: scheduling while atomic: main/1/0x00000001"),
            (Violation::SleepInAtomic, bug("cond").as_str()),
        ]
    );
    assert!(o.reports.iter().all(|r| r.execution == 0 && r.pid == 1));
    assert_eq!(o.kinds(), [Violation::SleepInAtomic, Violation::SchedulingWhileAtomic]);
    assert_eq!(o.report_of(Violation::SchedulingWhileAtomic).map(|r| r.task.as_str()), Some("main"));
}

#[test]
fn panic_on_report_stops_at_the_first_report() {
    let (o, _) = run(Config::modern(), |_| {
        preempt_disable();
        might_sleep();
        might_sleep();
    });
    assert_eq!(o.reports.len(), 1);
}
