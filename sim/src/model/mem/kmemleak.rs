//! A kmemleak-style check at the end of each execution: every page and slab object still
//! allocated is reported with the task and simulated call trace that allocated it.

use std::fmt::Write as _;

use std::sync::Arc;

use super::slab::Slabs;
use super::state::Who;
use crate::defs::mm_types::{KAddr, PAGE_SIZE};
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
    let live: Vec<(KAddr, usize, Arc<Who>)> = {
        let mm = main.exec.mm();
        let pages = mm
            .live_heads()
            .into_iter()
            .map(|(head, order, who)| (KAddr::direct(head, 0), PAGE_SIZE << order, who));
        let objs: Vec<_> =
            mm.slabs.live().map(|(id, o)| (Slabs::addr(id), o.size, o.alloc.clone())).collect();
        pages.chain(objs).collect()
    };
    if live.is_empty() {
        return;
    }
    let mut s = String::new();
    let _ =
        writeln!(s, "kmemleak: {} new suspected memory leaks (see /sys/kernel/debug/kmemleak)", live.len());
    for (addr, size, who) in live.iter().take(SHOWN) {
        let _ = writeln!(s, "unreferenced object {addr} (size {size}):");
        let _ = writeln!(s, "  comm \"{}\", pid {}", who.task, who.pid);
        let _ = writeln!(s, "  backtrace (simulated):\n    {}", who.trace());
    }
    if live.len() > SHOWN {
        let _ = writeln!(s, "... and {} more", live.len() - SHOWN);
    }
    main.exec.report(main, Violation::Leak, s, "kmemleak_scan");
}
