//! ksim's own final checks (no kernel counterpart): a scenario compares what it reads back with
//! its shadow model, and the errnos it gets with the ones the kernel returns. A failed check is
//! a report like any other, with the task, the simulated call trace and the replay line.

use crate::defs::loc::Loc;

use crate::model::current;
use crate::model::report::Violation;

/// Reports `what` as a failed integrity check unless `ok`.
///
/// # Context
/// Any.
#[track_caller]
pub fn expect(ok: bool, what: impl FnOnce() -> String) {
    if ok {
        return;
    }
    let at = Loc::caller();
    let t = current();
    let body = format!("ksim: integrity check failed at {}:{}: {}\n", at.file(), at.line(), what());
    t.exec.report(&t, Violation::Integrity, body, "ksim::check::expect");
}

/// Reports unless `got == want`, showing both.
#[track_caller]
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(got: T, want: T, what: &str) {
    let ok = got == want;
    expect(ok, || format!("{what}: got {got:?}, expected {want:?}"));
}

/// Reports a test of a foreign face (a C KUnit case) as failed, with the test's own text (its
/// failed expectations, in KUnit's words): an integrity report like [`expect`]'s, so the
/// schedulers stop at the failing execution and name its replay.
///
/// # Context
/// Any, inside a run.
pub fn test_failed(body: String) {
    let t = current();
    t.exec.report(&t, Violation::Integrity, body, "kunit");
}
