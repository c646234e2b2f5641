//! `ksim bench ... --json --quick`: one JSON object with every group's figures, as numbers.

#![forbid(unsafe_code)]

mod common;

use common::{code, ksim, stdout};

/// Runs `ksim bench GROUP --json --quick` and returns the object.
fn bench_json(group: &str) -> serde_json::Map<String, serde_json::Value> {
    let o = ksim(&["bench", group, "--json", "--quick"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    v.as_object().expect("an object").clone()
}

/// Each key is present and a finite positive number.
fn assert_positive(m: &serde_json::Map<String, serde_json::Value>, keys: &[&str]) {
    for key in keys {
        let x = m.get(*key).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("{key} is a number"));
        assert!(x.is_finite() && x > 0.0, "{key} = {x}");
    }
}

#[test]
fn bench_drivers_json_has_the_issue_keys_and_every_driver() {
    let m = bench_json("drivers");
    assert_positive(&m, &["brd_seq_write_gbps", "memcpy_gbps", "prepopulate_1gib_s"]);
    assert_positive(
        &m,
        &["brd_seq_write_vs_memcpy", "memcpy_first_touch_gbps", "prepopulate_1gib_pattern_s"],
    );
    for driver in ["v4_0", "v6_1", "current"] {
        for pass in
            ["seq_first_write", "seq_write", "seq_read", "rand_first_write", "rand_write", "rand_read"]
        {
            for traced in ["", "_traced"] {
                assert_positive(&m, &[&format!("brd_{driver}_{pass}{traced}_gbps")]);
            }
        }
    }
    // The headline figure is brd v4.0's, trace off.
    assert_eq!(m["brd_seq_write_gbps"], m["brd_v4_0_seq_write_gbps"]);
}

#[test]
fn bench_all_json_has_every_groups_keys() {
    let m = bench_json("all");
    assert_positive(
        &m,
        &[
            "shuttle_overhead_ratio",
            "loom_overhead_ratio",
            "ksim_page_write_gbps",
            "brd_seq_write_gbps",
            "memcpy_gbps",
            "prepopulate_1gib_s",
            "check_wall_s",
            "kunit_edit_to_verdict_s",
            "kunit_edit_vs_rerun",
            "kunit_brd_std_s",
        ],
    );
}

#[test]
fn bench_sweep_json_has_the_throughput_and_the_shard_overhead() {
    let m = bench_json("sweep");
    assert_positive(
        &m,
        &["sweep_execs_per_s", "sweep_direct_execs_per_s", "sweep_vs_direct_ratio", "shard_overhead_ratio"],
    );
    // The flush race under PCT is found in the first execution of every seed (--quick: 40).
    assert_eq!(m["sweep_executions"], 40);
    // Not part of `all`: it takes minutes.
    assert!(!bench_json("all").contains_key("shard_overhead_ratio"));
}
