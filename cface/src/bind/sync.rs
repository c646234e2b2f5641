//! `<linux/sched.h>`, `<linux/preempt.h>`, `<linux/irqflags.h>`, `<linux/bottom_half.h>`,
//! `<linux/rcupdate.h>`, `<linux/spinlock.h>`, `<linux/mutex.h>`, `<linux/radix-tree.h>`: the
//! context, locks and the radix tree. A C lock or tree is a handle (`struct ksim_handle`) to a
//! model object of this execution, made by its init function or on first use.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use std::sync::Mutex as StdMutex;

use ksim::irqflags::{self, IrqFlags};
use ksim::mutex::{Mutex, MutexGuard};
use ksim::radix_tree::{self as rt, RadixTreeRoot};
use ksim::spinlock::{SpinFlavour, SpinLock, SpinLockGuard};
use ksim::{bottom_half, preempt, rcupdate, sched, Loc};

use super::{gfp, loc, static_str};
use crate::state::{state, CHandle};

/// `spinlock_t` (spinlock_types.h).
#[repr(C)]
pub(crate) struct CSpinlock {
    h: CHandle,
    name: *const c_char,
}

/// `struct mutex` (mutex.h).
#[repr(C)]
pub(crate) struct CMutex {
    h: CHandle,
    name: *const c_char,
}

/// `struct radix_tree_root` (radix-tree.h).
#[repr(C)]
pub(crate) struct CRadixRoot {
    gfp_mask: c_uint,
    h: CHandle,
}

/// A guard kept between C's lock and unlock calls, with the task that took it.
pub(super) struct Held<G> {
    pub(super) guard: G,
    pub(super) pid: u32,
}
// SAFETY: a held guard is released only by the task that took it (checked: `pid`), on the OS
// thread that runs that task.
unsafe impl<G> Send for Held<G> {}

/// A C spinlock's model: the lock, and its guard while C holds it. The guard borrows the lock:
/// both live in one `Arc` that is never moved, and the guard goes first.
pub(super) struct SpinObj {
    held: StdMutex<Option<Held<SpinLockGuard<'static, ()>>>>,
    pub(super) lock: SpinLock<()>,
}

impl Drop for SpinObj {
    fn drop(&mut self) {
        // A lock C still holds when its execution ends: the execution is over, nothing to undo.
        if let Some(h) = self.held.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            std::mem::forget(h);
        }
    }
}

pub(super) struct MutexObj {
    pub(super) held: StdMutex<Option<Held<MutexGuard<'static, ()>>>>,
    pub(super) lock: Mutex<()>,
}

impl Drop for MutexObj {
    fn drop(&mut self) {
        if let Some(h) = self.held.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            std::mem::forget(h);
        }
    }
}

pub(super) fn spin_obj(l: *mut CSpinlock) -> &'static SpinObj {
    // SAFETY: a C spinlock_t; its handle only ever holds SpinObjs.
    unsafe {
        // The name is read only when the object is made (not on every lock).
        let name = (*l).name;
        crate::state::object(&mut (*l).h, || SpinObj {
            held: StdMutex::new(None),
            lock: SpinLock::new((), static_str(name)),
        })
    }
}

pub(super) fn mutex_obj(m: *mut CMutex) -> &'static MutexObj {
    // SAFETY: a C struct mutex; its handle only ever holds MutexObjs.
    unsafe {
        let name = (*m).name;
        crate::state::object(&mut (*m).h, || MutexObj {
            held: StdMutex::new(None),
            lock: Mutex::new((), static_str(name)),
        })
    }
}

fn radix(r: *mut CRadixRoot) -> &'static RadixTreeRoot<usize> {
    // SAFETY: a C radix_tree_root; its handle only ever holds trees of item pointers.
    unsafe {
        let mask = (*r).gfp_mask;
        crate::state::object(&mut (*r).h, || RadixTreeRoot::new(gfp(mask)))
    }
}

fn lock_held<G>(slot: &StdMutex<Option<Held<G>>>) -> std::sync::MutexGuard<'_, Option<Held<G>>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

unsafe extern "C-unwind" fn spin_lock_init(
    l: *mut CSpinlock,
    name: *const c_char,
    _file: *const c_char,
    _line: c_int,
) {
    // SAFETY: a C spinlock_t and its init's name literal.
    unsafe {
        (*l).name = name;
        let name = static_str(name);
        let obj = std::sync::Arc::new(SpinObj { held: StdMutex::new(None), lock: SpinLock::new((), name) });
        state().install(&mut (*l).h, obj);
    }
}

fn flavour(f: c_int) -> SpinFlavour {
    match f {
        1 => SpinFlavour::Irq,
        2 => SpinFlavour::IrqSave,
        3 => SpinFlavour::Bh,
        _ => SpinFlavour::Plain,
    }
}

unsafe extern "C-unwind" fn spin_lock(
    l: *mut CSpinlock,
    fl: c_int,
    f: *const c_char,
    line: c_int,
) -> c_ulong {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, line) };
    let obj = spin_obj(l);
    let was = irqflags::irqs_disabled();
    let g = obj.lock.lock_flavour_at(flavour(fl), at);
    // SAFETY: the guard borrows `obj.lock`, which lives in the same never-moved `Arc` as the slot
    // that keeps the guard, and is dropped after it.
    let guard: SpinLockGuard<'static, ()> = unsafe { std::mem::transmute(g) };
    *lock_held(&obj.held) = Some(Held { guard, pid: sched::current_pid() });
    was as c_ulong
}

/// Takes C's held guard for an unlock by the current task; another task unlocking is the bug
/// lockdep calls a bad unlock (reported as one through the model when the guard is not ours).
fn release<G>(slot: &StdMutex<Option<Held<G>>>, at: Loc, what: &str) -> Option<G> {
    let mut s = lock_held(slot);
    match s.as_ref() {
        Some(h) if h.pid == sched::current_pid() => s.take().map(|h| h.guard),
        Some(_) => {
            drop(s);
            sched::warn_at(at, &format!("{what} by a task that does not hold the lock"));
            None
        }
        None => {
            drop(s);
            sched::warn_at(at, &format!("{what} of a lock that is not held"));
            None
        }
    }
}

unsafe extern "C-unwind" fn spin_unlock(l: *mut CSpinlock, _fl: c_int, f: *const c_char, line: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, line) };
    if let Some(g) = release(&spin_obj(l).held, at, "spin_unlock") {
        g.unlock_at(at);
    }
}

unsafe extern "C-unwind" fn spin_trylock(l: *mut CSpinlock, f: *const c_char, line: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, line) };
    let obj = spin_obj(l);
    match obj.lock.try_lock_flavour_at(SpinFlavour::Plain, at) {
        Some(g) => {
            // SAFETY: as in `spin_lock`.
            let guard: SpinLockGuard<'static, ()> = unsafe { std::mem::transmute(g) };
            *lock_held(&obj.held) = Some(Held { guard, pid: sched::current_pid() });
            1
        }
        None => 0,
    }
}

unsafe extern "C-unwind" fn mutex_init(
    m: *mut CMutex,
    name: *const c_char,
    _file: *const c_char,
    _line: c_int,
) {
    // SAFETY: a C struct mutex and its init's name literal.
    unsafe {
        (*m).name = name;
        let name = static_str(name);
        let obj = std::sync::Arc::new(MutexObj { held: StdMutex::new(None), lock: Mutex::new((), name) });
        state().install(&mut (*m).h, obj);
    }
}

unsafe extern "C-unwind" fn mutex_lock(m: *mut CMutex, f: *const c_char, line: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, line) };
    let obj = mutex_obj(m);
    let g = obj.lock.lock_at(at);
    // SAFETY: as in `spin_lock`.
    let guard: MutexGuard<'static, ()> = unsafe { std::mem::transmute(g) };
    *lock_held(&obj.held) = Some(Held { guard, pid: sched::current_pid() });
}

unsafe extern "C-unwind" fn mutex_trylock(m: *mut CMutex, f: *const c_char, line: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, line) };
    let obj = mutex_obj(m);
    match obj.lock.try_lock_at(at) {
        Some(g) => {
            // SAFETY: as in `spin_lock`.
            let guard: MutexGuard<'static, ()> = unsafe { std::mem::transmute(g) };
            *lock_held(&obj.held) = Some(Held { guard, pid: sched::current_pid() });
            1
        }
        None => 0,
    }
}

unsafe extern "C-unwind" fn mutex_unlock(m: *mut CMutex, f: *const c_char, line: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, line) };
    if let Some(g) = release(&mutex_obj(m).held, at, "mutex_unlock") {
        g.unlock_at(at);
    }
}

unsafe extern "C-unwind" fn mutex_is_locked(m: *mut CMutex) -> c_int {
    lock_held(&mutex_obj(m).held).is_some() as c_int
}

unsafe extern "C-unwind" fn radix_tree_init(r: *mut CRadixRoot, mask: c_uint) {
    // SAFETY: a C radix_tree_root.
    unsafe {
        (*r).gfp_mask = mask;
        state().install(&mut (*r).h, std::sync::Arc::new(RadixTreeRoot::<usize>::new(gfp(mask))));
    }
}

unsafe extern "C-unwind" fn radix_tree_insert(
    r: *mut CRadixRoot,
    idx: c_ulong,
    item: *mut c_void,
    f: *const c_char,
    l: c_int,
) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    match radix(r).insert_at(at, idx, item as usize) {
        Ok(()) => 0,
        Err(e) => -e.code(),
    }
}

unsafe extern "C-unwind" fn radix_tree_lookup(r: *mut CRadixRoot, idx: c_ulong) -> *mut c_void {
    radix(r).lookup(idx).unwrap_or(0) as *mut c_void
}

unsafe extern "C-unwind" fn radix_tree_delete(r: *mut CRadixRoot, idx: c_ulong) -> *mut c_void {
    radix(r).delete(idx).unwrap_or(0) as *mut c_void
}

unsafe extern "C-unwind" fn radix_tree_gang_lookup(
    r: *mut CRadixRoot,
    out: *mut *mut c_void,
    first: c_ulong,
    max: c_uint,
) -> c_uint {
    let found = radix(r).gang_lookup(first, max as usize);
    for (i, (_, item)) in found.iter().enumerate() {
        // SAFETY: C's results array holds `max` pointers.
        unsafe { *out.add(i) = *item as *mut c_void };
    }
    found.len() as c_uint
}

unsafe extern "C-unwind" fn radix_tree_preload(g: c_uint, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    rt::radix_tree_preload_at(at, gfp(g)).map_or_else(|e| -e.code(), |()| 0)
}

unsafe extern "C-unwind" fn radix_tree_maybe_preload(g: c_uint, f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    rt::radix_tree_maybe_preload_at(at, gfp(g)).map_or_else(|e| -e.code(), |()| 0)
}

/// `extern "C-unwind"` wrappers of API functions that take only the caller's location.
macro_rules! at_only {
    ($($name:ident => $api:path;)*) => {
        $(unsafe extern "C-unwind" fn $name(f: *const c_char, l: c_int) {
            // SAFETY: C's __FILE__.
            $api(unsafe { loc(f, l) });
        })*
    };
}

at_only! {
    might_sleep => sched::might_sleep_at;
    schedule => sched::schedule_at;
    preempt_disable => preempt::preempt_disable_at;
    preempt_enable => preempt::preempt_enable_at;
    local_irq_disable => irqflags::local_irq_disable_at;
    local_irq_enable => irqflags::local_irq_enable_at;
    local_bh_disable => bottom_half::local_bh_disable_at;
    local_bh_enable => bottom_half::local_bh_enable_at;
    rcu_read_lock => rcupdate::rcu_read_lock_at;
    rcu_read_unlock => rcupdate::rcu_read_unlock_at;
    synchronize_rcu => rcupdate::synchronize_rcu_at;
    radix_tree_preload_end => rt::radix_tree_preload_end_at;
}

unsafe extern "C-unwind" fn cond_resched(f: *const c_char, l: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    sched::cond_resched_at(unsafe { loc(f, l) });
    0
}

unsafe extern "C-unwind" fn msleep(ms: c_uint, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    sched::msleep_at(unsafe { loc(f, l) }, u64::from(ms));
}

unsafe extern "C-unwind" fn preempt_count() -> c_uint {
    preempt::preempt_count()
}

unsafe extern "C-unwind" fn irqs_disabled() -> c_int {
    irqflags::irqs_disabled() as c_int
}

unsafe extern "C-unwind" fn local_irq_save(f: *const c_char, l: c_int) -> c_ulong {
    // SAFETY: C's __FILE__.
    irqflags::local_irq_save_at(unsafe { loc(f, l) }).disabled() as c_ulong
}

unsafe extern "C-unwind" fn local_irq_restore(flags: c_ulong, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    irqflags::local_irq_restore_at(unsafe { loc(f, l) }, IrqFlags::saved(flags != 0));
}

unsafe extern "C-unwind" fn current_pid() -> c_int {
    sched::current_pid() as c_int
}

unsafe extern "C-unwind" fn current_comm() -> *const c_char {
    state().comm(sched::current_pid(), sched::current_comm())
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("might_sleep", might_sleep as *const c_void),
    ("cond_resched", cond_resched as *const c_void),
    ("schedule", schedule as *const c_void),
    ("msleep", msleep as *const c_void),
    ("preempt_disable", preempt_disable as *const c_void),
    ("preempt_enable", preempt_enable as *const c_void),
    ("preempt_count", preempt_count as *const c_void),
    ("irqs_disabled", irqs_disabled as *const c_void),
    ("local_irq_disable", local_irq_disable as *const c_void),
    ("local_irq_enable", local_irq_enable as *const c_void),
    ("local_irq_save", local_irq_save as *const c_void),
    ("local_irq_restore", local_irq_restore as *const c_void),
    ("local_bh_disable", local_bh_disable as *const c_void),
    ("local_bh_enable", local_bh_enable as *const c_void),
    ("rcu_read_lock", rcu_read_lock as *const c_void),
    ("rcu_read_unlock", rcu_read_unlock as *const c_void),
    ("synchronize_rcu", synchronize_rcu as *const c_void),
    ("current_pid", current_pid as *const c_void),
    ("current_comm", current_comm as *const c_void),
    ("spin_lock_init", spin_lock_init as *const c_void),
    ("spin_lock", spin_lock as *const c_void),
    ("spin_unlock", spin_unlock as *const c_void),
    ("spin_trylock", spin_trylock as *const c_void),
    ("mutex_init", mutex_init as *const c_void),
    ("mutex_lock", mutex_lock as *const c_void),
    ("mutex_trylock", mutex_trylock as *const c_void),
    ("mutex_unlock", mutex_unlock as *const c_void),
    ("mutex_is_locked", mutex_is_locked as *const c_void),
    ("radix_tree_init", radix_tree_init as *const c_void),
    ("radix_tree_insert", radix_tree_insert as *const c_void),
    ("radix_tree_lookup", radix_tree_lookup as *const c_void),
    ("radix_tree_delete", radix_tree_delete as *const c_void),
    ("radix_tree_gang_lookup", radix_tree_gang_lookup as *const c_void),
    ("radix_tree_preload", radix_tree_preload as *const c_void),
    ("radix_tree_maybe_preload", radix_tree_maybe_preload as *const c_void),
    ("radix_tree_preload_end", radix_tree_preload_end as *const c_void),
];
