//! `<linux/wait.h>`: wait queues. A C `wait_queue_head_t` is a handle to ksim's
//! [`WaitQueueHead`]. The condition of `wait_event*()` is C code the macro re-evaluates, so
//! the wait is the Rust API's in steps ([`WaitSteps`]): begin (`might_sleep()`), then while C's
//! condition is false sleep until a wake-up, then end with the condition's last value. A
//! task's wait in progress is kept here between the steps (a task waits in one place at once).

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_long, c_void};
use std::sync::Mutex;

use ksim::sched;
use ksim::wait::{self as w, WaitQueueHead, WaitSteps};

use super::{loc, static_str};
use crate::state::{state, CHandle};

/// `struct wait_queue_head` (wait.h).
#[repr(C)]
pub(crate) struct CWaitQueue {
    h: CHandle,
    name: *const c_char,
}

/// The waits in progress of this execution's tasks, by pid.
#[derive(Default)]
struct Waits(Mutex<BTreeMap<u32, WaitSteps>>);

fn waits() -> std::sync::Arc<Waits> {
    ksim::ffi::exec_local::<Waits>()
}

fn queue(q: *mut CWaitQueue) -> &'static WaitQueueHead {
    // SAFETY: a C wait_queue_head; its handle only ever holds WaitQueueHeads.
    unsafe {
        let name = static_str((*q).name);
        crate::state::object(&mut (*q).h, || w::init_waitqueue_head(name))
    }
}

unsafe extern "C-unwind" fn init_waitqueue_head(
    q: *mut CWaitQueue,
    name: *const c_char,
    _f: *const c_char,
    _l: c_int,
) {
    // SAFETY: a C wait_queue_head and its init's name literal.
    unsafe {
        (*q).name = name;
        state().install(&mut (*q).h, std::sync::Arc::new(w::init_waitqueue_head(static_str(name))));
    }
}

unsafe extern "C-unwind" fn wait_begin(
    q: *mut CWaitQueue,
    api: *const c_char,
    interruptible: c_int,
    timeout: c_long,
    f: *const c_char,
    l: c_int,
) {
    // SAFETY: C's __FILE__ and the API's name (a literal).
    let (at, api) = unsafe { (loc(f, l), static_str(api)) };
    let timeout = u64::try_from(timeout).ok();
    let steps = w::wait_begin_at(queue(q), at, api, interruptible != 0, timeout);
    waits().0.lock().unwrap_or_else(|e| e.into_inner()).insert(sched::current_pid(), steps);
}

/// Runs `f` on the current task's wait in progress (taken out while it sleeps, so the map's
/// lock is not held across the sleep).
fn with_wait<R>(f: impl FnOnce(&mut WaitSteps) -> R) -> R {
    let pid = sched::current_pid();
    let ws = waits();
    let mut steps =
        ws.0.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&pid)
            .unwrap_or_else(|| panic!("ksim: wait_event*() step without its start in task {pid}"));
    let r = f(&mut steps);
    ws.0.lock().unwrap_or_else(|e| e.into_inner()).insert(pid, steps);
    r
}

unsafe extern "C-unwind" fn wait_sleep(q: *mut CWaitQueue) -> c_int {
    let wq = queue(q);
    with_wait(|s| s.sleep(wq)) as c_int
}

unsafe extern "C-unwind" fn wait_end(_q: *mut CWaitQueue, cond: c_int) -> c_long {
    let pid = sched::current_pid();
    let steps = waits().0.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
    steps.map_or(0, |s| s.end(cond != 0)) as c_long
}

unsafe extern "C-unwind" fn wake_up(q: *mut CWaitQueue) {
    w::wake_up(queue(q));
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("init_waitqueue_head", init_waitqueue_head as *const c_void),
    ("wait_begin", wait_begin as *const c_void),
    ("wait_sleep", wait_sleep as *const c_void),
    ("wait_end", wait_end as *const c_void),
    ("wake_up", wake_up as *const c_void),
];
