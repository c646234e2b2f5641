//! `<linux/timer.h>`, `<linux/jiffies.h>`, `<linux/hrtimer.h>` and delayed work: a C
//! `struct timer_list` / `struct hrtimer` / `struct delayed_work` is a handle to ksim's model
//! object. The C callback is read from the C struct when the timer fires (as the kernel's
//! `call_timer_fn()` reads `timer->function`), so the model calls back into C with the C
//! struct's own address; when a timer fires is the scheduler's choice, as in the Rust API.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

use ksim::hrtimer::{self as hr, Hrtimer, HrtimerMode, HrtimerRestart};
use ksim::timer::{self as tm, TimerList};
use ksim::workqueue::{self as wq, DelayedWork};

use super::{loc, static_str};
use crate::state::{state, CHandle};

/// `struct timer_list` (timer.h).
#[repr(C)]
pub(crate) struct CTimer {
    h: CHandle,
    name: *const c_char,
    expires: c_ulong,
    function: Option<unsafe extern "C-unwind" fn(*mut CTimer)>,
    flags: c_uint,
}

fn timer(t: *mut CTimer) -> &'static TimerList {
    // SAFETY: a C timer_list; its handle only ever holds TimerLists.
    unsafe {
        let name = static_str((*t).name);
        crate::state::object(&mut (*t).h, || TimerList::new(name))
    }
}

unsafe extern "C-unwind" fn timer_setup(
    t: *mut CTimer,
    name: *const c_char,
    fn_name: *const c_char,
    f: *const c_char,
    l: c_int,
) {
    // SAFETY: C's __FILE__, the timer and the macro's literals.
    let (at, fn_name) = unsafe {
        if (*t).name.is_null() || (*t).h.exec != ksim::ffi::exec_id() as c_ulong {
            (*t).name = name;
        }
        (loc(f, l), static_str(fn_name))
    };
    setup(t, at, fn_name);
}

/// A static `DEFINE_TIMER()` has its function without a `timer_setup()` call: set up at its
/// first arming in an execution, as the kernel's static initialiser set it up at build time.
fn set_up_static(t: *mut CTimer, at: ksim::Loc) {
    // SAFETY: a C timer_list.
    let (fresh, has_fn) =
        unsafe { ((*t).h.exec != ksim::ffi::exec_id() as c_ulong, (*t).function.is_some()) };
    if fresh && has_fn {
        setup(t, at, "timer_list.function");
    }
}

fn setup(t: *mut CTimer, at: ksim::Loc, fn_name: &'static str) {
    let addr = t as usize;
    tm::timer_setup_at(at, timer(t), fn_name, move || {
        let p = addr as *mut CTimer;
        // SAFETY: the C timer the callback was set up on (the driver keeps it while it may
        // fire, as the kernel requires); its function as C left it.
        unsafe {
            if let Some(func) = (*p).function {
                func(p);
            }
        }
    });
}

unsafe extern "C-unwind" fn mod_timer(t: *mut CTimer, expires: c_ulong, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__ and timer.
    let at = unsafe {
        (*t).expires = expires;
        loc(f, l)
    };
    set_up_static(t, at);
    tm::mod_timer_at(at, timer(t), expires) as c_int
}

unsafe extern "C-unwind" fn add_timer(t: *mut CTimer, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__ and timer.
    let (at, expires) = unsafe { (loc(f, l), (*t).expires) };
    set_up_static(t, at);
    let tl = timer(t);
    tm::set_expires(tl, expires);
    tm::add_timer_at(at, tl);
}

unsafe extern "C-unwind" fn del_timer(t: *mut CTimer) -> c_int {
    tm::del_timer(timer(t)) as c_int
}

unsafe extern "C-unwind" fn del_timer_sync(t: *mut CTimer, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    tm::del_timer_sync_at(unsafe { loc(f, l) }, timer(t)) as c_int
}

unsafe extern "C-unwind" fn timer_pending(t: *mut CTimer) -> c_int {
    tm::timer_pending(timer(t)) as c_int
}

unsafe extern "C-unwind" fn jiffies() -> c_ulong {
    tm::jiffies() as c_ulong
}

unsafe extern "C-unwind" fn msecs_to_jiffies(ms: c_uint) -> c_ulong {
    tm::msecs_to_jiffies(u64::from(ms)) as c_ulong
}

/// `struct hrtimer` (hrtimer.h).
#[repr(C)]
pub(crate) struct CHrtimer {
    h: CHandle,
    name: *const c_char,
    function: Option<unsafe extern "C-unwind" fn(*mut CHrtimer) -> c_int>,
    mode: c_int,
    init_file: *const c_char,
    init_line: c_int,
}

/// The model hrtimer of a C one, made at its first start (C sets `function` after
/// `hrtimer_init()`, so the callback is read when it fires).
fn hrtimer(t: *mut CHrtimer) -> &'static Hrtimer {
    // SAFETY: a C hrtimer, with hrtimer_init()'s literals and site.
    let (name, soft, at) = unsafe {
        (static_str((*t).name), (*t).mode & HRTIMER_MODE_SOFT != 0, loc((*t).init_file, (*t).init_line))
    };
    let addr = t as usize;
    let make = move || {
        let mode = if soft { HrtimerMode::Soft } else { HrtimerMode::Hard };
        hr::hrtimer_init_at(at, name, mode, move || {
            let p = addr as *mut CHrtimer;
            // SAFETY: the C hrtimer, kept by the driver while it may fire.
            match unsafe { (*p).function.map(|f| f(p)) } {
                Some(HRTIMER_RESTART) => HrtimerRestart::Restart,
                _ => HrtimerRestart::NoRestart,
            }
        })
    };
    // SAFETY: its handle only ever holds Hrtimers.
    unsafe { crate::state::object(&mut (*t).h, make) }
}

/// `HRTIMER_MODE_SOFT` and `HRTIMER_RESTART` (hrtimer.h).
const HRTIMER_MODE_SOFT: c_int = 0x04;
const HRTIMER_RESTART: c_int = 1;

unsafe extern "C-unwind" fn hrtimer_init(
    t: *mut CHrtimer,
    _clock: c_int,
    mode: c_int,
    name: *const c_char,
    f: *const c_char,
    l: c_int,
) {
    // SAFETY: a C hrtimer: its mode, class name and init site for the model object its first
    // start makes (a re-init makes a new one).
    unsafe {
        (*t).name = name;
        (*t).mode = mode;
        (*t).init_file = f;
        (*t).init_line = l;
        (*t).h.exec = 0;
        (*t).h.obj = std::ptr::null();
    }
}

unsafe extern "C-unwind" fn hrtimer_start(t: *mut CHrtimer, _ns: i64, _mode: c_int) {
    hr::hrtimer_start(hrtimer(t), 0);
}

unsafe extern "C-unwind" fn hrtimer_cancel(t: *mut CHrtimer, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    hr::hrtimer_cancel_at(unsafe { loc(f, l) }, hrtimer(t)) as c_int
}

unsafe extern "C-unwind" fn hrtimer_try_to_cancel(t: *mut CHrtimer) -> c_int {
    hr::hrtimer_try_to_cancel(hrtimer(t))
}

unsafe extern "C-unwind" fn hrtimer_active(t: *mut CHrtimer) -> c_int {
    hr::hrtimer_active(hrtimer(t)) as c_int
}

/// `struct delayed_work` (ksim/delayed_work.h): the C work item it embeds first, then the
/// handle of ksim's DelayedWork.
#[repr(C)]
pub(crate) struct CDelayedWork {
    work: CWork,
    h: CHandle,
}

/// The parts of `struct work_struct` delayed work reads: its function and name.
#[repr(C)]
struct CWork {
    h: CHandle,
    func: Option<unsafe extern "C-unwind" fn(*mut CWork)>,
    name: *const c_char,
}

/// The model's delayed work for a C one: made by `INIT_DELAYED_WORK()` (`fresh`) or, for a
/// static `DECLARE_DELAYED_WORK()`, on first use, from the function and name in the C struct.
fn delayed(dw: *mut CDelayedWork, at: ksim::Loc, fresh: bool) -> &'static DelayedWork {
    // SAFETY: a C delayed_work (its function and name set by the header's macros).
    let name = unsafe { static_str((*dw).work.name) };
    let addr = dw as usize;
    let make = move || {
        DelayedWork::new_at(at, name, move || {
            let p = addr as *mut CDelayedWork;
            // SAFETY: the C work item, kept by the driver while it may run; called with the
            // work_struct's address, as the kernel's worker calls it.
            unsafe {
                if let Some(func) = (*p).work.func {
                    func(std::ptr::addr_of_mut!((*p).work));
                }
            }
        })
    };
    // SAFETY: its handle only ever holds DelayedWorks.
    unsafe {
        if fresh {
            state().install(&mut (*dw).h, std::sync::Arc::new(make()))
        } else {
            crate::state::object(&mut (*dw).h, make)
        }
    }
}

unsafe extern "C-unwind" fn init_delayed_work(dw: *mut CDelayedWork, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    delayed(dw, unsafe { loc(f, l) }, true);
}

unsafe extern "C-unwind" fn schedule_delayed_work(
    dw: *mut CDelayedWork,
    delay: c_ulong,
    f: *const c_char,
    l: c_int,
) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    wq::schedule_delayed_work_at(at, delayed(dw, at, false), delay) as c_int
}

unsafe extern "C-unwind" fn cancel_delayed_work(dw: *mut CDelayedWork, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    wq::cancel_delayed_work(delayed(dw, at, false)) as c_int
}

unsafe extern "C-unwind" fn cancel_delayed_work_sync(
    dw: *mut CDelayedWork,
    f: *const c_char,
    l: c_int,
) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    wq::cancel_delayed_work_sync_at(at, delayed(dw, at, false)) as c_int
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("timer_setup", timer_setup as *const c_void),
    ("mod_timer", mod_timer as *const c_void),
    ("add_timer", add_timer as *const c_void),
    ("del_timer", del_timer as *const c_void),
    ("del_timer_sync", del_timer_sync as *const c_void),
    ("timer_pending", timer_pending as *const c_void),
    ("jiffies", jiffies as *const c_void),
    ("msecs_to_jiffies", msecs_to_jiffies as *const c_void),
    ("hrtimer_init", hrtimer_init as *const c_void),
    ("hrtimer_start", hrtimer_start as *const c_void),
    ("hrtimer_cancel", hrtimer_cancel as *const c_void),
    ("hrtimer_try_to_cancel", hrtimer_try_to_cancel as *const c_void),
    ("hrtimer_active", hrtimer_active as *const c_void),
    ("init_delayed_work", init_delayed_work as *const c_void),
    ("schedule_delayed_work", schedule_delayed_work as *const c_void),
    ("cancel_delayed_work", cancel_delayed_work as *const c_void),
    ("cancel_delayed_work_sync", cancel_delayed_work_sync as *const c_void),
];
