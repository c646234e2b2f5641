//! `refcount_t`, `kref` and `atomic64_t` from C (`tests/c/refs.c`): a put too many is the
//! kernel's "refcount_t: underflow; use-after-free." at the C line, a get after the release
//! "addition on 0", a kref_put() with a NULL release the NULL-call report; balanced use is
//! clean and the release runs once.

mod common;

use common::{assert_lines_in_order, only_report, run_c, site, Module};
use ksim::check::expect_eq;
use ksim::prelude::*;

const M: &str = "refs";

fn cfg() -> Config {
    // Each report is followed to the end of the C function, to see what the count became.
    Config::modern().panic_on_report(false)
}

#[test]
fn c_kref_double_put_is_refcount_underflow_at_the_c_line_and_saturates() {
    let m = Module::new(M);
    let o = run_c(cfg(), &m, |m| {
        expect_eq(m.call("refs_double_put"), 0, "the count stays saturated");
        expect_eq(m.call("refs_released"), 1, "the release ran once");
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::Refcount);
    assert_lines_in_order(
        &r.text,
        &[
            "------------[ cut here ]------------",
            "refcount_t: underflow; use-after-free.",
            &format!("WARNING: CPU: 0 PID: 1 at {} refcount_warn_saturate", site(M, "third_put")),
        ],
    );
    assert!(r.text.contains("refs_double_put"), "the C caller's frame:\n{}", r.text);
}

#[test]
fn c_kref_get_after_release_is_addition_on_zero() {
    let m = Module::new(M);
    let o = run_c(cfg(), &m, |m| {
        expect_eq(m.call("refs_get_after_release"), 0, "refs_get_after_release");
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::Refcount);
    assert_lines_in_order(
        &r.text,
        &[
            "refcount_t: addition on 0; use-after-free.",
            &format!("WARNING: CPU: 0 PID: 1 at {} refcount_warn_saturate", site(M, "late_get")),
        ],
    );
}

#[test]
fn c_kref_put_without_release_is_reported_not_called() {
    let m = Module::new(M);
    let o = run_c(cfg(), &m, |m| {
        expect_eq(m.call("refs_put_without_release"), 0, "refs_put_without_release");
    });
    let r = only_report(&o);
    assert_eq!(r.kind, Violation::NonAddressable);
    assert_lines_in_order(
        &r.text,
        &[
            "BUG: kernel NULL pointer dereference, address: 0000000000000000",
            &format!(
                "ksim: kref_put() at {} dropped the last reference and called its NULL release",
                site(M, "null_release")
            ),
        ],
    );
}

#[test]
fn c_balanced_krefs_refcounts_and_atomic64_are_clean() {
    let m = Module::new(M);
    for runner in [Runner::std(), Runner::pct(1, 1, 5)] {
        let mm = m.clone();
        let o = runner.run(move || {
            mm.reset();
            expect_eq(mm.call("refs_balanced"), 0, "refs_balanced");
        });
        assert!(o.is_clean(), "{:#?}", o.reports);
    }
}
