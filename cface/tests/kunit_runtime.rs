//! The KUnit runtime under one scheduler, without the command line: the kernel's own example
//! suite compiles unmodified, lists its suite and cases, and each case ends as KUnit ends it
//! (passes, skips with the reason, the log in order).

use std::sync::{Arc, Mutex};

use ksim::prelude::*;
use ksim_c::kunit::{self, Execution, Status};
use ksim_c::ModuleSpec;

fn run_all(
    src: std::path::PathBuf,
    root: &std::path::Path,
) -> (Vec<kunit::Suite>, Vec<(String, Execution, bool)>) {
    let img = ModuleSpec::new("kunit_example", [src])
        .root(root)
        .build()
        .unwrap_or_else(|e| panic!("{}\n{e}", e.details().unwrap_or("")));
    let lease = Arc::new(Mutex::new(img.lease().expect("an instance")));
    let suites = kunit::suites(&lease.lock().unwrap()).expect("suites");
    let mut out = Vec::new();
    for (s, suite) in suites.iter().enumerate() {
        for (c, case) in suite.cases.iter().enumerate() {
            let found = Arc::new(Mutex::new(None));
            let (l, f) = (lease.clone(), found.clone());
            let o = Runner::std().run(move || {
                kunit::run_case(&l, "kunit_example", &[], (s, c, 0), &|e| *f.lock().unwrap() = Some(e));
            });
            let e = found.lock().unwrap().take().expect("a result");
            out.push((format!("{}.{}", suite.name, case.name), e, o.is_clean()));
        }
    }
    (suites, out)
}

#[test]
fn kernel_example_suite_passes_and_skips_as_in_a_kernel() {
    let tree = ksim_c::source::tree_installing().unwrap_or_else(|e| panic!("{e}"));
    let src = tree.file("lib/kunit/kunit-example-test.c").expect("the example suite");
    let (suites, results) = run_all(src, &tree.root);
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].name, "example");
    let names: Vec<&str> = suites[0].cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "example_simple_test",
            "example_skip_test",
            "example_mark_skipped_test",
            "example_all_expect_macros_test"
        ]
    );
    for (name, e, clean) in &results {
        eprintln!("{name}: {e:?} clean={clean}");
    }
    let st: Vec<Status> = results.iter().map(|r| r.1.status).collect();
    assert_eq!(st, [Status::Pass, Status::Skip, Status::Skip, Status::Pass]);
    assert!(results.iter().all(|r| r.2));
    assert_eq!(results[1].1.comment, "this test should be skipped");
    assert_eq!(
        results[1].1.log,
        [
            "example: initializing suite",
            "example_skip_test: initializing",
            "example_skip_test: You should not see a line below."
        ]
    );
    assert_eq!(
        results[2].1.log,
        [
            "example: initializing suite",
            "example_mark_skipped_test: initializing",
            "example_mark_skipped_test: You should see a line below.",
            "example_mark_skipped_test: You should see this line."
        ]
    );
}

fn checks() -> (Vec<kunit::Suite>, Vec<(String, Execution, ksim::Outcome)>) {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let img = ModuleSpec::new("kunit_checks", [dir.join("tests/c/kunit_checks.c")])
        .root(&dir)
        .build()
        .unwrap_or_else(|e| panic!("{}\n{e}", e.details().unwrap_or("")));
    let lease = Arc::new(Mutex::new(img.lease().expect("an instance")));
    let suites = kunit::suites(&lease.lock().unwrap()).expect("suites");
    let mut out = Vec::new();
    for (c, case) in suites[0].cases.iter().enumerate() {
        for p in 0..case.params.as_ref().map_or(1, Vec::len) {
            let found = Arc::new(Mutex::new(None));
            let (l, f) = (lease.clone(), found.clone());
            let o = Runner::std().run(move || {
                kunit::run_case(&l, "kunit_checks", &[], (0, c, p), &|e| *f.lock().unwrap() = Some(e));
            });
            let e = found.lock().unwrap().take();
            let e = e.unwrap_or(Execution { status: Status::Fail, comment: String::new(), log: vec![] });
            out.push((format!("{}.{p}", case.name), e, o));
        }
    }
    (suites, out)
}

#[test]
fn failures_are_worded_as_kunit_words_them_and_fail_the_run() {
    let (suites, r) = checks();
    assert_eq!(
        suites[0].cases[3].params.as_deref(),
        Some(&["value 1".to_string(), "value 2".into(), "value 3".into()][..])
    );
    // EXPECT: every failure recorded, the case runs on, the run fails with the text.
    let (_, e, o) = &r[0];
    assert_eq!(e.status, Status::Fail);
    assert_eq!(
        e.log,
        [
            "checks_eq_fails: EXPECTATION FAILED at tests/c/kunit_checks.c:18",
            "    Expected 1 + 1 == three, but",
            "        1 + 1 == 2",
            "        three == 3",
            "checks_eq_fails: EXPECTATION FAILED at tests/c/kunit_checks.c:19",
            "    Expected checks_greeting == \"bye\", but",
            "        checks_greeting == \"hi\"",
            "checks_eq_fails: EXPECTATION FAILED at tests/c/kunit_checks.c:20",
            "    Expected three == 4 to be true, but is false",
            "three is 3",
            "checks_eq_fails: still running",
            "checks_eq_fails: exit 1",
        ]
    );
    assert_eq!(o.kinds(), [Violation::Integrity]);
    assert!(
        o.reports[0].text.starts_with("KUnit: the case failed\nchecks_eq_fails: EXPECTATION FAILED"),
        "{}",
        o.reports[0].text
    );
    // ASSERT: the case ends there; exit and the kunit_kzalloc'd buffer are still released.
    let (_, e, o) = &r[1];
    assert_eq!(e.status, Status::Fail);
    assert_eq!(
        e.log,
        [
            "checks_assert_ends: ASSERTION FAILED at tests/c/kunit_checks.c:28",
            "    Expected buf[0] == 1, but",
            "        buf[0] == 0",
            "checks_assert_ends: exit 1",
        ]
    );
    assert_eq!(o.kinds(), [Violation::Integrity], "{:?}", o.reports);
    // Every expectation holds, but the case slept in atomic context: ksim fails it.
    let (_, _, o) = &r[2];
    assert_eq!(o.kinds(), [Violation::SleepInAtomic]);
    let text = &o.reports[0].text;
    assert!(
        text.starts_with("BUG: sleeping function called from invalid context at tests/c/kunit_checks.c:35\n"),
        "{text}"
    );
    assert!(text.contains("checks_sleep_in_atomic"), "the C frame in the trace: {text}");
    // The parameterised case fails on its second value only.
    let st: Vec<Status> = r[3..6].iter().map(|x| x.1.status).collect();
    assert_eq!(st, [Status::Pass, Status::Fail, Status::Pass]);
    // Pointers print as kernel addresses (a slab object's), the same in every run; a pointer
    // to static data has no kernel address.
    let (_, e, _) = &r[6];
    let ptr_line = e.log.iter().find(|l| l.starts_with("        buf == ")).expect("the buf line");
    assert_eq!(ptr_line.len(), "        buf == ".len() + 16, "{ptr_line}");
    assert!(e.log.contains(&"        &exits == (not a kernel address)".to_string()), "{:?}", e.log);
    // NULL is expanded before it is stringified, as in the kernel.
    assert!(e.log.contains(&"        ((void *)0) == 0000000000000000".to_string()), "{:?}", e.log);
    let (_, again) = (checks().0, checks().1);
    assert_eq!(again[6].1.log, e.log, "the same text in every run");
}

#[test]
fn kernel_list_suites_pass() {
    let tree = ksim_c::source::tree_installing().unwrap_or_else(|e| panic!("{e}"));
    let src = tree.file("lib/list-test.c").expect("lib/list-test.c");
    let (suites, results) = run_all(src, &tree.root);
    let names: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["list-kunit-test", "hlist"]);
    let failed: Vec<_> = results.iter().filter(|r| r.1.status != Status::Pass || !r.2).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    // Every KUNIT_CASE of the file (its two suites).
    assert_eq!(results.len(), 57);
}
