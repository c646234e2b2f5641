//! ksim's panic hook. A violation is a panic inside the model so that loom and shuttle record the
//! failing schedule; the report itself is already stored, so the hook keeps those quiet and
//! remembers the message of any other panic (a driver or harness bug) for its report.
//!
//! shuttle installs its own hook once per process, wrapping whatever hook was there, and it then
//! prints for every panic in the process (the prototype's pitfall 4). So ksim lets shuttle install
//! its hook around a no-op first, then replaces it: shuttle's `Once` never installs it again.

use std::cell::{Cell, RefCell};
use std::panic;
use std::sync::Once;

use super::report::Reported;

std::thread_local! {
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub(crate) fn in_run() -> bool {
    IN_RUN.with(|c| c.get())
}

pub(crate) fn set_in_run(on: bool) -> bool {
    IN_RUN.with(|c| c.replace(on))
}

/// The message and location of the last non-violation panic on this OS thread.
pub(crate) fn take_last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow_mut().take())
}

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(|_| {}));
        // Let shuttle install (and so use up) its once-per-process hook now.
        shuttle::Runner::new(shuttle::scheduler::RoundRobinScheduler::new(1), shuttle::Config::new())
            .run(|| {});
        drop(panic::take_hook());
        panic::set_hook(Box::new(move |info| {
            if !in_run() {
                return previous(info);
            }
            if info.payload().downcast_ref::<Reported>().is_some() {
                return;
            }
            let msg = payload_text(info.payload());
            let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
        }));
    });
}

/// The text of a panic payload.
pub(crate) fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(r) = p.downcast_ref::<Reported>() {
        format!("ksim report: {}", r.0)
    } else {
        "panic with a non-string payload".to_string()
    }
}
