//! `ksim list`, `trace`, `diff` and `bench`: what they print parses and names what it should.

#![forbid(unsafe_code)]

mod common;

use common::{code, ksim, stdout};

#[test]
fn list_names_every_scenario_with_its_summary() {
    let o = ksim(&["list"]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    let all = ksim_scenarios::catalogue::all();
    assert_eq!(text.lines().count(), all.len());
    for (line, s) in text.lines().zip(&all) {
        assert!(line.starts_with(s.name) && line.ends_with(s.summary), "{line}");
    }
}

#[test]
fn list_configs_names_every_key_its_values_and_default() {
    let o = ksim(&["list", "--configs"]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert_eq!(text.lines().count(), ksim_scenarios::KEYS.len());
    for (line, k) in text.lines().zip(ksim_scenarios::KEYS) {
        assert!(line.starts_with(k.name), "{line}");
        assert!(line.contains(&k.values.join("|")) && line.contains(&format!("default {}", k.default)));
    }
}

#[test]
fn trace_jsonl_lines_are_objects_with_the_event_fields() {
    let o = ksim(&["trace", "demo-race", "--format", "jsonl"]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.lines().count() > 5);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        let obj = v.as_object().expect("each line is an object");
        for field in ["seq", "pid", "task", "cat", "event"] {
            assert!(obj.contains_key(field), "{field} missing in {line}");
        }
    }
    assert!(text.contains("\"cat\":\"report\""), "the failing execution's trace");
}

#[test]
fn trace_perfetto_is_trace_event_json() {
    let o = ksim(&["trace", "demo-race", "--format", "perfetto", "--scheduler", "dfs"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON document");
    let events = v["traceEvents"].as_array().expect("traceEvents");
    assert!(events.iter().any(|e| e["ph"] == "M" && e["args"]["name"] == "cache-user-2"));
}

#[test]
fn trace_alloc_view_keeps_only_memory_events() {
    let all = stdout(&ksim(&["trace", "demo-race"]));
    let alloc = ksim(&["trace", "demo-race", "--view", "alloc", "--format", "jsonl"]);
    assert_eq!(code(&alloc), 0);
    for line in stdout(&alloc).lines() {
        assert!(line.contains("\"cat\":\"mem\""), "{line}");
    }
    assert!(all.contains(": spin_lock: "), "the text format, every category");
}

#[test]
fn diff_prints_a_unified_diff_and_exits_like_diff() {
    let o = ksim(&[
        "diff",
        "demo-race",
        "--config",
        "",
        "--vs",
        "fixed=yes",
        "--view",
        "all",
        "--scheduler",
        "pct",
    ]);
    assert_eq!(code(&o), 1, "the traces differ");
    let text = stdout(&o);
    assert!(text.starts_with("--- demo-race (defaults)\n+++ demo-race fixed=yes\n@@ "), "{text}");
    assert!(text.lines().any(|l| l.starts_with('-') && l.contains("report: sleep-in-atomic")));
    let same = ksim(&["diff", "demo-race", "--config", "mode=observed", "--vs", "profile=modern"]);
    assert_eq!(code(&same), 0);
    assert!(same.stdout.is_empty());
}

#[test]
fn bench_core_json_has_the_overhead_ratios() {
    let o = ksim(&["bench", "core", "--json", "--quick"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    for key in
        ["shuttle_overhead_ratio", "loom_overhead_ratio", "ksim_random_exec_per_sec", "loom_executions"]
    {
        let x = v[key].as_f64().unwrap_or_else(|| panic!("{key} is a number"));
        assert!(x.is_finite() && x > 0.0, "{key} = {x}");
    }
}

#[test]
fn bench_all_prints_a_table_of_every_group() {
    let o = ksim(&["bench", "all", "--quick"]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(text.starts_with("core ("));
    assert!(text.lines().any(|l| l.trim_start().starts_with("shuttle_overhead_ratio ")));
}
