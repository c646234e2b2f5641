//! `<linux/kthread.h>`, `<linux/completion.h>`, `<linux/workqueue.h>`: kernel threads,
//! completions and work items of C code, as ksim's own (`ksim::kthread`, `ksim::completion`,
//! `ksim::workqueue`): each thread or work execution is a simulated task the scheduler
//! interleaves. A C completion or work item is a handle to its model object, made by its init
//! function or, for a static `DECLARE_*`, on first use; a `struct task_struct *` from
//! `kthread_run()` is a pointer to this execution's record of the thread.

use std::ffi::{c_char, c_int, c_ulong, c_void};
use std::sync::{Arc, Mutex};

use ksim::atomic::Atomic;
use ksim::completion::{self as comp, Completion};
use ksim::kthread::TaskHandle;
use ksim::workqueue::{self as wq, WorkStruct};

use super::{loc, static_str};
use crate::state::{state, CHandle};

/// A thread C started: its pid, whether `kthread_stop()` was called, its handle until joined.
struct Kthread {
    pid: u32,
    stop: Atomic,
    handle: Mutex<Option<TaskHandle<c_int>>>,
}

/// This execution's C kthreads.
#[derive(Default)]
struct Kthreads(Mutex<Vec<Arc<Kthread>>>);

fn kthreads() -> Arc<Kthreads> {
    ksim::ffi::exec_local::<Kthreads>()
}

type ThreadFn = unsafe extern "C-unwind" fn(*mut c_void) -> c_int;

unsafe extern "C-unwind" fn kthread_run(
    f: ThreadFn,
    data: *mut c_void,
    name: *const c_char,
    _file: *const c_char,
    _line: c_int,
) -> *mut c_void {
    // SAFETY: the name kthread_run() formatted (copied here).
    let name = unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned();
    let data = data as usize;
    // SAFETY: the C thread function with the data C passed, as kthread() calls it.
    let h = ksim::kthread::kthread_run(&name, move || unsafe { f(data as *mut c_void) });
    let k = Arc::new(Kthread { pid: h.pid, stop: Atomic::new(0), handle: Mutex::new(Some(h)) });
    let p = Arc::as_ptr(&k) as *mut c_void;
    kthreads().0.lock().unwrap_or_else(|e| e.into_inner()).push(k);
    p
}

fn find(p: *mut c_void) -> Option<Arc<Kthread>> {
    let ks = kthreads();
    let ks = ks.0.lock().unwrap_or_else(|e| e.into_inner());
    ks.iter().find(|k| Arc::as_ptr(k) as *mut c_void == p).cloned()
}

unsafe extern "C-unwind" fn kthread_stop(k: *mut c_void, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    let Some(k) = find(k) else {
        ksim::sched::warn_at(at, "kthread_stop() of a task kthread_run() did not return");
        return -libc::EINVAL;
    };
    k.stop.set(1);
    let h = k.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
    match h {
        Some(h) => ksim::kthread::kthread_stop_at(h, at),
        None => {
            ksim::sched::warn_at(at, "kthread_stop() of a thread already stopped");
            -libc::EINVAL
        }
    }
}

/// `kthread_should_stop()`: a read of the flag, and a scheduling point (so a thread that polls
/// it lets the others run under the model checkers).
unsafe extern "C-unwind" fn kthread_should_stop() -> c_int {
    let pid = ksim::sched::current_pid();
    let ks = kthreads();
    let k = ks.0.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|k| k.pid == pid).cloned();
    k.is_some_and(|k| k.stop.read() != 0) as c_int
}

/// `struct completion` (completion.h).
#[repr(C)]
pub(crate) struct CCompletion {
    h: CHandle,
    name: *const c_char,
}

fn completion(x: *mut CCompletion) -> &'static Completion {
    // SAFETY: a C struct completion; its handle only ever holds Completions.
    unsafe {
        let name = static_str((*x).name);
        crate::state::object(&mut (*x).h, || Completion::new(name))
    }
}

unsafe extern "C-unwind" fn init_completion(
    x: *mut CCompletion,
    name: *const c_char,
    _f: *const c_char,
    _l: c_int,
) {
    let exec = ksim::ffi::exec_id() as c_ulong;
    // SAFETY: a C struct completion and its init's name literal.
    unsafe {
        if (*x).h.exec == exec && !(*x).h.obj.is_null() {
            comp::init_completion(completion(x));
            return;
        }
        (*x).name = name;
        state().install(&mut (*x).h, Arc::new(Completion::new(static_str(name))));
    }
}

unsafe extern "C-unwind" fn complete(x: *mut CCompletion, all: c_int) {
    if all != 0 {
        comp::complete_all(completion(x));
    } else {
        comp::complete(completion(x));
    }
}

unsafe extern "C-unwind" fn wait_for_completion(x: *mut CCompletion, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    comp::wait_for_completion_at(completion(x), unsafe { loc(f, l) });
}

unsafe extern "C-unwind" fn wait_for_completion_timeout(
    x: *mut CCompletion,
    j: u64,
    f: *const c_char,
    l: c_int,
) -> u64 {
    // SAFETY: C's __FILE__ (`unsigned long` is 64 bits on the LP64 hosts ksim runs on).
    comp::wait_for_completion_timeout_at(completion(x), j, unsafe { loc(f, l) })
}

unsafe extern "C-unwind" fn try_wait_for_completion(x: *mut CCompletion) -> c_int {
    comp::try_wait_for_completion(completion(x)) as c_int
}

unsafe extern "C-unwind" fn completion_done(x: *mut CCompletion) -> c_int {
    comp::completion_done(completion(x)) as c_int
}

/// `struct work_struct` (workqueue.h).
#[repr(C)]
pub(crate) struct CWork {
    h: CHandle,
    func: Option<unsafe extern "C-unwind" fn(*mut CWork)>,
    name: *const c_char,
}

fn new_work(w: *mut CWork) -> WorkStruct {
    // SAFETY: a C work_struct: its function and name as INIT_WORK/DECLARE_WORK set them.
    let (func, name) = unsafe { ((*w).func, static_str((*w).name)) };
    let p = w as usize;
    WorkStruct::new(name, move || {
        if let Some(f) = func {
            // SAFETY: the work function with its own work_struct, as a kworker calls it.
            unsafe { f(p as *mut CWork) }
        }
    })
}

fn work(w: *mut CWork) -> &'static WorkStruct {
    // SAFETY: a C work_struct; its handle only ever holds WorkStructs.
    unsafe { crate::state::object(&mut (*w).h, || new_work(w)) }
}

unsafe extern "C-unwind" fn init_work(w: *mut CWork) {
    let obj = Arc::new(new_work(w));
    // SAFETY: a C work_struct.
    unsafe { state().install(&mut (*w).h, obj) };
}

unsafe extern "C-unwind" fn schedule_work(w: *mut CWork) -> c_int {
    wq::schedule_work(work(w)) as c_int
}

unsafe extern "C-unwind" fn flush_work(w: *mut CWork, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    wq::flush_work_at(work(w), unsafe { loc(f, l) }) as c_int
}

unsafe extern "C-unwind" fn work_pending(w: *mut CWork) -> c_int {
    work(w).pending() as c_int
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("kthread_run", kthread_run as *const c_void),
    ("kthread_stop", kthread_stop as *const c_void),
    ("kthread_should_stop", kthread_should_stop as *const c_void),
    ("init_completion", init_completion as *const c_void),
    ("complete", complete as *const c_void),
    ("wait_for_completion", wait_for_completion as *const c_void),
    ("wait_for_completion_timeout", wait_for_completion_timeout as *const c_void),
    ("try_wait_for_completion", try_wait_for_completion as *const c_void),
    ("completion_done", completion_done as *const c_void),
    ("init_work", init_work as *const c_void),
    ("schedule_work", schedule_work as *const c_void),
    ("flush_work", flush_work as *const c_void),
    ("work_pending", work_pending as *const c_void),
];
