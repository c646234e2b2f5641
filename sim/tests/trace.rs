//! The event trace (ARCHITECTURE §6): one text line per event with ftrace-like columns, views by
//! category, and the JSON Lines and Chrome/Perfetto forms (checked by parsing them).
#![forbid(unsafe_code)]

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::Lines;
use ksim::interrupt::Tasklet;
use ksim::prelude::*;
use ksim::Cat;
use serde_json::Value;

const FILE: &str = file!();

/// A clean body touching every event category the core emits.
fn busy(lines: Lines) -> impl Fn() + Send + Sync + 'static {
    move || {
        let lock = SpinLock::new((), "trace.lock");
        let g = at!(lines, "lock", spin_lock(&lock));
        at!(lines, "unlock", spin_unlock(g));
        at!(lines, "irq_off", local_irq_disable());
        local_irq_enable();
        rcu_read_lock();
        rcu_read_unlock();
        local_bh_disable();
        local_bh_enable();
        msleep(3);
        request_irq(4, "tr-dev", |_| {
            let l = SpinLock::new((), "trace.irq_lock");
            drop(spin_lock(&l));
            IrqReturn::Handled
        })
        .expect("free");
        generate_irq(4);
        free_irq(4);
        let t = Tasklet::new("tr_tasklet", || ());
        tasklet_schedule(&t);
        tasklet_kill(&t);
        kthread_run("tr-k", might_sleep).join();
    }
}

fn busy_outcome() -> (Outcome, Lines) {
    let lines = Lines::new();
    // One DFS execution without preemptions: deterministic, unlike real threads, where a
    // handler's events and the main task's next events may interleave differently each run.
    let o = Runner::dfs(Some(0), Some(1)).config(Config::modern().trace(true)).run(busy(lines.clone()));
    assert!(o.is_clean(), "{:#?}", o.reports);
    (o, lines)
}

#[test]
fn trace_text_has_one_line_per_event() {
    let (o, lines) = busy_outcome();
    let t = o.trace();
    let text = t.text();
    assert!(t.events.len() > 20, "{text}");
    assert_eq!(text.lines().count(), t.events.len());
    for (i, (line, e)) in text.lines().zip(&t.events).enumerate() {
        assert_eq!(e.seq, i as u64, "sequence numbers count up from 0");
        assert_eq!(line, e.line());
    }
    let lock = lines.site(FILE, "lock");
    // The lock is the second and third event: context change, then the lock itself.
    let text_lines: Vec<&str> = text.lines().collect();
    assert_eq!(text_lines[0], "          main-1 ....      0: start");
    assert_eq!(text_lines[1], format!("          main-1 ...1      1: spin_lock: +0x1 at {lock}"));
    assert_eq!(text_lines[2], format!("          main-1 ...1      2: spin_lock: trace.lock at {lock}"));
    let unlock = lines.site(FILE, "unlock");
    assert_eq!(text_lines[3], format!("          main-1 ...1      3: spin_unlock: trace.lock at {unlock}"));
    assert_eq!(text_lines[4], format!("          main-1 ....      4: spin_unlock: -0x1 at {unlock}"));
    assert_eq!(
        text_lines[5],
        format!("          main-1 d...      5: local_irq_disable: at {}", lines.site(FILE, "irq_off"))
    );
    // The last event is the main task's exit.
    assert_eq!(
        text_lines.last().copied(),
        Some(format!("          main-1 .... {:>6}: exit", t.events.len() - 1).as_str())
    );
}

#[test]
fn trace_flags_show_irq_and_softirq_context() {
    let (o, _) = busy_outcome();
    let flags_of = |task: &str, name: &str| -> Vec<String> {
        o.trace().events.iter().filter(|e| &*e.task == task && e.name == name).map(|e| e.flags()).collect()
    };
    // Hardirq handler: irqs off, hardirq, and the spinlock inside it at depth 1.
    assert_eq!(flags_of("irq/4-tr-dev", "start"), ["d.h."]);
    assert_eq!(flags_of("irq/4-tr-dev", "spin_lock"), ["d.h1", "d.h1"]);
    // Tasklet: serving softirq.
    assert_eq!(flags_of("ksoftirqd/tr_tasklet", "start"), ["..s."]);
    // bh disabled without serving a softirq: preempt depth field unchanged, no 's'.
    assert_eq!(flags_of("main", "local_bh_disable"), ["...."]);
    assert_eq!(flags_of("main", "rcu_read_lock"), ["...1"]);
}

#[test]
fn trace_views_select_categories() {
    let (o, _) = busy_outcome();
    let t = o.trace();
    let locks = t.view(&[Cat::Lock]);
    // Views leave out sequence numbers, so an unrelated event does not renumber them.
    let want: Vec<String> = t.events.iter().filter(|e| e.cat == Cat::Lock).map(|e| e.stable_line()).collect();
    assert_eq!(locks.lines().collect::<Vec<_>>(), want);
    // spin_lock + spin_unlock in main and in the irq handler.
    assert_eq!(t.of(Cat::Lock).count(), 4);
    let sleeps: Vec<&str> = t.of(Cat::Sleep).map(|e| e.name).collect();
    assert!(sleeps.contains(&"msleep") && sleeps.contains(&"might_sleep"), "{sleeps:?}");
    assert!(t.of(Cat::Sleep).filter(|e| e.name == "might_sleep").all(|e| e.detail.ends_with(" ok")));
    // No memory events in the core-only body.
    assert_eq!(t.allocations(), "");
    let spawns: Vec<&str> =
        t.of(Cat::Task).filter(|e| e.name == "spawn").map(|e| e.detail.as_str()).collect();
    assert_eq!(spawns, ["irq/4-tr-dev-2", "ksoftirqd/tr_tasklet-3", "tr-k-4"]);
}

#[test]
fn trace_off_records_nothing() {
    let o = Runner::dfs(Some(0), Some(1)).config(Config::modern().trace(false)).run(busy(Lines::new()));
    assert!(o.is_clean());
    assert!(o.trace().events.is_empty());
    assert_eq!(o.trace().text(), "");
    assert!(o.traces.is_empty());
}

#[test]
fn trace_of_a_failing_run_ends_at_the_report() {
    let o = Runner::std().run(|| {
        preempt_disable();
        might_sleep();
    });
    let t = o.trace();
    let last = t.events.last().expect("events");
    assert_eq!((last.cat, last.name, last.detail.as_str()), (Cat::Report, "report", "sleep-in-atomic"));
    let check = &t.events[t.events.len() - 2];
    assert_eq!((check.cat, check.name), (Cat::Sleep, "might_sleep"));
    assert!(check.detail.ends_with(" INVALID"), "{}", check.detail);
}

#[test]
fn trace_jsonl_parses_and_matches_the_events() {
    let (o, _) = busy_outcome();
    let t = o.trace();
    let jsonl = t.jsonl(None);
    assert_eq!(jsonl.lines().count(), t.events.len());
    for (line, e) in jsonl.lines().zip(&t.events) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}"));
        assert_eq!(v["seq"], e.seq);
        assert_eq!(v["pid"], e.pid);
        assert_eq!(v["task"], &*e.task);
        assert_eq!(v["flags"], e.flags());
        assert_eq!(v["preempt_count"], e.preempt_count);
        assert_eq!(v["irqs_off"], e.irqs_off);
        assert_eq!(v["cat"], e.cat.name());
        assert_eq!(v["event"], e.name);
        assert_eq!(v["detail"], e.detail.as_str());
        assert_eq!(v.as_object().map(|m| m.len()), Some(9), "{line}");
    }
    let only_locks = t.jsonl(Some(&[Cat::Lock]));
    assert_eq!(only_locks.lines().count(), 4);
    assert!(only_locks.lines().all(|l| l.contains("\"cat\":\"lock\"")));
}

#[test]
fn trace_json_escapes_awkward_names() {
    let name = "we\"ird\\task\tname\u{1}é";
    let o = Runner::std().run(move || kthread_run(name, || ()).join());
    let t = o.trace();
    for line in t.jsonl(None).lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|err| panic!("{err}: {line}"));
    }
    let tasks: Vec<Value> = t
        .jsonl(None)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json")["task"].clone())
        .collect();
    assert!(tasks.contains(&Value::from(name)), "{tasks:?}");
    let p: Value = serde_json::from_str(&t.perfetto()).expect("perfetto json");
    let names: Vec<&Value> = p["traceEvents"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["ph"] == "M")
        .map(|e| &e["args"]["name"])
        .collect();
    assert!(names.contains(&&Value::from(format!("{name}-2"))), "{names:?}");
}

#[test]
fn trace_perfetto_parses_with_balanced_atomic_slices() {
    let (o, _) = busy_outcome();
    let t = o.trace();
    let p: Value = serde_json::from_str(&t.perfetto()).expect("perfetto output is JSON");
    assert_eq!(p["displayTimeUnit"], "ns");
    let events = p["traceEvents"].as_array().expect("traceEvents array");
    let mut instants = 0;
    let mut open: BTreeMap<u64, bool> = BTreeMap::new();
    let mut slices = 0;
    let mut thread_names = BTreeMap::new();
    let mut last_ts: BTreeMap<u64, u64> = BTreeMap::new();
    for e in events {
        let tid = e["tid"].as_u64().expect("tid");
        assert_eq!(e["pid"], 1);
        match e["ph"].as_str().expect("ph") {
            "i" => {
                instants += 1;
                assert_eq!(e["s"], "t");
                assert!(e["args"]["detail"].is_string() && e["args"]["flags"].is_string());
            }
            "B" => {
                assert_eq!(e["name"], "atomic");
                assert!(!open.get(&tid).copied().unwrap_or(false), "nested B on {tid}");
                open.insert(tid, true);
                slices += 1;
            }
            "E" => {
                assert_eq!(open.insert(tid, false), Some(true), "E without B on {tid}");
            }
            "M" => {
                assert_eq!(e["name"], "thread_name");
                thread_names.insert(tid, e["args"]["name"].as_str().expect("name").to_string());
            }
            other => panic!("unexpected phase {other}"),
        }
        if let Some(ts) = e["ts"].as_u64() {
            let prev = last_ts.insert(tid, ts).unwrap_or(0);
            assert!(ts >= prev, "time goes forward on each track");
        }
    }
    assert_eq!(instants, t.events.len());
    assert!(open.values().all(|o| !o), "every atomic slice is closed");
    // main: spin_lock, irqs off, rcu, bh; the hardirq handler and the tasklet are atomic
    // throughout.
    assert_eq!(slices, 6);
    let want: BTreeMap<u64, String> =
        [(1, "main-1"), (2, "irq/4-tr-dev-2"), (3, "ksoftirqd/tr_tasklet-3"), (4, "tr-k-4")]
            .into_iter()
            .map(|(t, n)| (t, n.to_string()))
            .collect();
    assert_eq!(thread_names, want);
}

#[test]
fn trace_is_identical_across_runs_and_fingerprints_distinguish_behaviours() {
    let (a, _) = busy_outcome();
    let (b, _) = busy_outcome();
    assert_eq!(a.trace().text(), b.trace().text());
    assert_eq!(a.trace().fingerprint(), b.trace().fingerprint());
    let other = Runner::std().run(|| preempt_disable());
    assert_ne!(other.trace().fingerprint(), a.trace().fingerprint());
}
