//! A kmemleak-style check at the end of each execution: every page still allocated is reported
//! with the task and simulated call trace that allocated it.

use std::fmt::Write as _;

use crate::model::report::Violation;
use crate::model::task::TaskCell;

/// How many leaked objects a report lists.
const SHOWN: usize = 8;

/// Reports the pages still allocated when the main task ends (none if the execution already
/// failed, or with the check off).
pub(crate) fn check(main: &TaskCell) {
    if main.exec.failed() || !main.exec.config().mem.leak_check {
        return;
    }
    let live = main.exec.mm().live_heads();
    if live.is_empty() {
        return;
    }
    let mut s = String::new();
    let _ =
        writeln!(s, "kmemleak: {} new suspected memory leaks (see /sys/kernel/debug/kmemleak)", live.len());
    for (head, order, who) in live.iter().take(SHOWN) {
        let addr = crate::defs::mm_types::KAddr::direct(*head, 0);
        let _ =
            writeln!(s, "unreferenced object {addr} (size {}):", crate::defs::mm_types::PAGE_SIZE << order);
        let _ = writeln!(s, "  comm \"{}\", pid {}", who.task, who.pid);
        let _ = writeln!(s, "  backtrace (simulated):\n    {}", who.trace());
    }
    if live.len() > SHOWN {
        let _ = writeln!(s, "... and {} more", live.len() - SHOWN);
    }
    main.exec.report(main, Violation::Leak, s, "kmemleak_scan");
}
