//! `ksim kunit`: the kernel's own KUnit suites (`lib/kunit/kunit-example-test.c`,
//! `lib/list-test.c` of Linux 6.1, installed when missing) compile unmodified against ksim's
//! headers and give KUnit's results under every scheduler; KUnit's own parser (`kunit.py parse`,
//! from the same tree) reads the output and counts what ksim counts; failures, crashes, timeouts
//! and bad input are reported as such.

#![forbid(unsafe_code)]

mod common;

use std::path::{Path, PathBuf};

use common::{code, command, stderr, stdout};

fn tree() -> ksim_c::source::KernelTree {
    ksim_c::source::tree_installing().unwrap_or_else(|e| panic!("{e}"))
}

fn kunit_in(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["kunit"];
    full.extend_from_slice(args);
    command(&full).current_dir(dir).output().expect("ksim runs")
}

fn cface() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cface")
}

/// The `# Totals:` counts of every suite, summed: (pass, fail, skip).
fn totals(ktap: &str) -> (u64, u64, u64) {
    let mut t = (0, 0, 0);
    for l in ktap.lines().filter_map(|l| l.strip_prefix("# Totals: ")) {
        let n = |k: &str| -> u64 {
            l.split(' ').find_map(|w| w.strip_prefix(k)).and_then(|v| v.parse().ok()).expect("a count")
        };
        t = (t.0 + n("pass:"), t.1 + n("fail:"), t.2 + n("skip:"));
    }
    t
}

/// `kunit.py parse` of `ktap`: its "Ran N tests: passed: P, failed: F, skipped: S" counts.
fn kunit_py(tree: &ksim_c::source::KernelTree, ktap: &str, label: &str) -> (u64, u64, u64) {
    let script = tree.root.join("tools/testing/kunit/kunit.py");
    assert!(script.is_file(), "{} has no kunit.py", tree.origin);
    let file = std::env::temp_dir().join(format!("ksim-kunit-{label}-{}.ktap", std::process::id()));
    std::fs::write(&file, ktap).expect("write the KTAP file");
    let o =
        std::process::Command::new("python3").arg(&script).arg("parse").arg(&file).output().expect("python3");
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = text
        .lines()
        .find_map(|l| l.split("Testing complete. ").nth(1))
        .unwrap_or_else(|| panic!("kunit.py did not finish: {text}\n{}", String::from_utf8_lossy(&o.stderr)));
    let n = |k: &str| -> u64 {
        line.split(", ")
            .flat_map(|p| p.split(": "))
            .collect::<Vec<_>>()
            .windows(2)
            .find(|w| w[0].ends_with(k))
            .and_then(|w| w[1].trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok())
            .unwrap_or(0)
    };
    (n("passed"), n("failed"), n("skipped"))
}

#[test]
fn kernel_example_suite_passes_and_skips_as_kunit_reports_and_kunit_py_agrees() {
    let tree = tree();
    let o = kunit_in(&tree.root, &["lib/kunit/kunit-example-test.c"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    // KUnit's verdicts in a kernel: two cases pass, two skip; here under each of 5 schedulers.
    for case in ["ok 1 example_simple_test\n", "ok 4 example_all_expect_macros_test\n"] {
        assert!(out.contains(&format!("    {case}")), "{out}");
    }
    assert!(out.contains("    ok 2 example_skip_test # SKIP this test should be skipped\n"), "{out}");
    assert!(out.contains("    ok 3 example_mark_skipped_test # SKIP this test should be skipped\n"), "{out}");
    assert!(out.contains("        ok 5 loom # SKIP this test should be skipped\n"), "{out}");
    assert!(out.contains("        # example_mark_skipped_test: You should see this line.\n"), "{out}");
    assert!(out.contains("# example: pass:2 fail:0 skip:2 total:4\n"), "{out}");
    assert_eq!(totals(&out), (10, 0, 10));
    assert_eq!(kunit_py(&tree, &out, "example"), (10, 0, 10));
    // Byte-identical on a second run.
    assert_eq!(stdout(&kunit_in(&tree.root, &["lib/kunit/kunit-example-test.c"])), out);
}

#[test]
fn kernel_list_suites_pass_under_every_scheduler_and_kunit_py_agrees() {
    let tree = tree();
    let o = kunit_in(&tree.root, &["lib/list-test.c"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    assert!(out.starts_with("KTAP version 1\n1..2\n"), "{out}");
    assert!(out.contains("ok 1 list-kunit-test\n") && out.contains("ok 2 hlist\n"), "{out}");
    assert_eq!(totals(&out), (57 * 5, 0, 0));
    assert_eq!(kunit_py(&tree, &out, "list"), (57 * 5, 0, 0));
}

#[test]
fn failures_and_ksim_reports_fail_the_case_with_text_and_replay() {
    let o = kunit_in(&cface(), &["tests/c/kunit_checks.c"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}{}", stderr(&o));
    assert!(out.contains(
        "        # checks_eq_fails: EXPECTATION FAILED at tests/c/kunit_checks.c:18\n        #     Expected 1 + 1 == three, but\n        #         1 + 1 == 2\n        #         three == 3\n"
    ), "{out}");
    assert!(out.contains("    not ok 1 checks_eq_fails\n"), "{out}");
    assert!(out.contains("    not ok 2 checks_assert_ends\n"), "{out}");
    // Every expectation of this case holds (KUnit passes it); it slept in atomic context.
    assert!(
        out.contains(
            "        # BUG: sleeping function called from invalid context at tests/c/kunit_checks.c:35\n"
        ),
        "{out}"
    );
    assert!(out.contains("        #  msleep() <- checks_sleep_in_atomic\n"), "{out}");
    assert!(out.contains(
        "        # replay: ksim kunit tests/c/kunit_checks.c --filter checks.checks_sleep_in_atomic --scheduler pct:seed=1:depth=3:iters=200\n"
    ), "{out}");
    assert!(out.contains("    not ok 3 checks_sleep_in_atomic\n"), "{out}");
    // The parameterised case: its second value fails under each scheduler.
    assert!(
        out.contains("        not ok 6 value 2 std\n") && out.contains("        ok 11 value 3 std\n"),
        "{out}"
    );
    assert!(out.contains("    # checks_param: pass:10 fail:5 skip:0 total:15\n"), "{out}");
    assert_eq!(totals(&out), (10, 25, 0));
    let tree = tree();
    assert_eq!(kunit_py(&tree, &out, "checks"), (10, 25, 0));
    // Failure text too is byte-identical from run to run (pointers print as kernel addresses).
    assert!(out.contains("        #         &exits == (not a kernel address)\n"), "{out}");
    assert_eq!(stdout(&kunit_in(&cface(), &["tests/c/kunit_checks.c"])), out);
    // The replay line's command repeats the failure.
    let again = kunit_in(
        &cface(),
        &[
            "tests/c/kunit_checks.c",
            "--filter",
            "checks.checks_sleep_in_atomic",
            "--scheduler",
            "pct:seed=1:depth=3:iters=200",
        ],
    );
    let again = stdout(&again);
    assert!(
        again.contains("# BUG: sleeping function called from invalid context at tests/c/kunit_checks.c:35\n"),
        "{again}"
    );
    assert!(again.contains("        not ok 1 pct\n"), "{again}");
}

#[test]
fn a_crash_and_a_hang_fail_their_cases_and_the_others_still_run() {
    let o = kunit_in(&cface(), &["tests/c/kunit_crash.c", "--timeout", "2", "--scheduler", "std"]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}{}", stderr(&o));
    assert!(out.contains("    ok 1 crash_before\n"), "{out}");
    assert!(
        out.contains("        # SIGSEGV: fault at address 0x0 in crash_open at tests/c/kunit_crash.c:25\n"),
        "{out}"
    );
    assert!(out.contains("        # crashed: SIGSEGV under std\n        not ok 1 std\n    "), "{out}");
    assert!(out.contains("    not ok 2 crash_null_deref\n"), "{out}");
    assert!(
        out.contains("        # timeout: the case ran past its budget of 2 s (--timeout) under std\n"),
        "{out}"
    );
    assert!(out.contains("    not ok 3 crash_spins\n"), "{out}");
    assert!(out.contains("    ok 4 crash_after\n"), "{out}");
}

#[test]
fn list_filter_and_params() {
    let o = kunit_in(
        &cface(),
        &["tests/c/kunit_checks.c", "--list", "--filter", "checks.*_ends", "--filter", "checks.checks_param"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "checks.checks_assert_ends\nchecks.checks_param\n");
    let o = kunit_in(&cface(), &["tests/c/kunit_checks.c", "--list", "--filter", "check?"]);
    assert_eq!(stdout(&o).lines().count(), 5);
}

fn assert_usage_error(o: &std::process::Output, names: &[&str]) {
    let err = stderr(o);
    assert_eq!(code(o), 2, "{err}");
    assert!(o.stdout.is_empty(), "{}", stdout(o));
    assert_eq!(err.lines().count(), 1, "{err}");
    for n in names {
        assert!(err.contains(n), "{err:?} should name {n:?}");
    }
}

#[test]
fn bad_input_is_one_line_and_status_two() {
    let dir = std::env::temp_dir().join(format!("ksim-kunit-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("nosuite.c"), "#include <kunit/test.h>\nstatic int unused;\n").unwrap();
    assert_usage_error(&kunit_in(&dir, &["nosuite.c"]), &["nosuite.c declares no KUnit suite"]);
    assert_usage_error(&kunit_in(&dir, &["missing.c"]), &["missing.c: no such file"]);
    assert_usage_error(&kunit_in(&dir, &["notes.txt"]), &["not a C file"]);
    let checks = cface().join("tests/c/kunit_checks.c");
    let checks = checks.to_str().unwrap();
    assert_usage_error(
        &kunit_in(&dir, &[checks, "--filter", "nope.*"]),
        &["matches no case", "checks.checks_param"],
    );
    assert_usage_error(&kunit_in(&dir, &[checks, "--param", "rd_nr=1"]), &["unknown parameter 'rd_nr'"]);
    assert_usage_error(&kunit_in(&dir, &[checks, "--param", "rd_nr"]), &["NAME=VALUE"]);
    assert_usage_error(
        &kunit_in(&dir, &[checks, "--config", "fixed=yes"]),
        &["takes no setting 'fixed'", "preempt_count"],
    );
    assert_usage_error(&kunit_in(&dir, &[checks, "--scheduler", "fifo"]), &["unknown scheduler 'fifo'"]);
    // A compile error: the compiler's lines, then one summary line.
    std::fs::write(
        dir.join("broken.c"),
        "#include <kunit/test.h>\nstatic void f(struct kunit *t) { int x = ; }\n",
    )
    .unwrap();
    let o = kunit_in(&dir, &["broken.c"]);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(err.contains("broken.c:2:"), "{err}");
    assert_eq!(
        err.lines().last(),
        Some("ksim: broken.c failed to compile against ksim's kernel headers"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn brd_test_c() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/kunit/brd_test.c").display().to_string()
}

const BRD_PARAMS: &[&str] = &["drivers/block/brd.c", "--param", "rd_nr=1", "--param", "rd_size=64"];

#[test]
fn brd_suite_passes_against_the_real_brd_c_under_every_scheduler() {
    let tree = tree();
    let test = brd_test_c();
    let mut args = vec![test.as_str()];
    args.extend_from_slice(BRD_PARAMS);
    let o = kunit_in(&tree.root, &args);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}{}", stderr(&o));
    for (i, case) in [
        "brd_test_read_unwritten",
        "brd_test_straddling_write",
        "brd_test_nowait_no_memory",
        "brd_test_first_touch_race",
        "brd_test_write_from_work",
    ]
    .iter()
    .enumerate()
    {
        assert!(out.contains(&format!("    ok {} {case}\n", i + 1)), "{case}: {out}");
    }
    assert_eq!(totals(&out), (25, 0, 0));
    // The race is explored: many interleavings under the model checkers, one page in each.
    let race = out.split("# Subtest: brd_test_first_touch_race").nth(1).expect("the race case");
    let dfs: u64 = race
        .lines()
        .take_while(|l| !l.contains("ok 4 dfs"))
        .filter_map(|l| l.trim().strip_prefix("# executions: "))
        .last()
        .and_then(|n| n.parse().ok())
        .expect("dfs executions");
    assert!(dfs > 10, "dfs explored {dfs} interleavings");
}

#[test]
fn the_nowait_case_catches_a_write_that_may_sleep() {
    // The same case with REQ_NOWAIT left out: brd.c allocates with GFP_NOIO, which may sleep,
    // inside the case's non_block section: reported at brd.c's allocation, with the C trace.
    let tree = tree();
    let dir = std::env::temp_dir().join(format!("ksim-kunit-brd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(brd_test_c()).unwrap();
    let patched = text.replacen("REQ_OP_WRITE | REQ_NOWAIT, GFP_KERNEL);", "REQ_OP_WRITE, GFP_KERNEL);", 1);
    assert_ne!(patched, text);
    let test = dir.join("brd_test_blocking.c");
    std::fs::write(&test, patched).unwrap();
    let test = test.display().to_string();
    let mut args = vec![test.as_str()];
    args.extend_from_slice(BRD_PARAMS);
    args.extend_from_slice(&["--filter", "brd.brd_test_nowait*", "--scheduler", "std"]);
    let o = kunit_in(&tree.root, &args);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}{}", stderr(&o));
    assert!(
        out.contains(
            "        # BUG: sleeping function called from invalid context at drivers/block/brd.c:93\n"
        ),
        "{out}"
    );
    assert!(out.contains("non_block: 1"), "{out}");
    assert!(out.contains("<- brd_submit_bio <- submit_bio <- brd_test_nowait_no_memory\n"), "{out}");
    assert!(out.contains("    not ok 1 brd_test_nowait_no_memory\n"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readmes_kunit_example_is_what_ksim_prints() {
    // A driver test every expectation of which holds (KUnit passes it) fails on the sleep in
    // atomic context; the README shows this output byte for byte.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cmd = "examples/kunit/my_test.c examples/kunit/my_driver.c --param nr_stats=2 --scheduler pct";
    let args: Vec<&str> = cmd.split(' ').collect();
    let o = kunit_in(&root, &args);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}{}", stderr(&o));
    assert!(out.contains("    ok 1 my_stats_starts_with_param\n"), "{out}");
    assert!(
        out.contains(
            "        # BUG: sleeping function called from invalid context at examples/kunit/my_driver.c:28\n"
        ),
        "{out}"
    );
    assert!(out.contains("    not ok 2 my_stats_grows\n"), "{out}");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let block = format!("$ ksim kunit {cmd}\n{out}```\n");
    assert!(readme.contains(&block), "README.md should show:\n{block}");
}

#[test]
fn ksim_linux_src_supplies_the_headers_ksim_does_not_replace() {
    // <linux/stringify.h> is not one of ksim's headers: without a tree the file does not build
    // (one line, status 2); with KSIM_LINUX_SRC it comes from the tree's include/.
    let tree = tree();
    let dir = std::env::temp_dir().join(format!("ksim-kunit-src-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("uses_tree_test.c"),
        "#include <kunit/test.h>\n#include <linux/stringify.h>\n\
         static void s(struct kunit *test) { KUNIT_EXPECT_STREQ(test, __stringify(RAMDISK), \"RAMDISK\"); }\n\
         static struct kunit_case c[] = { KUNIT_CASE(s), {} };\n\
         static struct kunit_suite u = { .name = \"uses_tree\", .test_cases = c };\nkunit_test_suite(u);\n",
    )
    .unwrap();
    let o = command(&["kunit", "uses_tree_test.c", "--scheduler", "std"])
        .current_dir(&dir)
        .env("KSIM_LINUX_SRC", "skip")
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("includes <linux/stringify.h>, which ksim's kernel headers do not provide"),
        "{}",
        stderr(&o)
    );
    let o = command(&["kunit", "uses_tree_test.c", "--scheduler", "std"])
        .current_dir(&dir)
        .env("KSIM_LINUX_SRC", &tree.root)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("    ok 1 s\n"), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
