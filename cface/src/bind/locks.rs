//! `raw_spinlock_t`, `rwlock_t` (`<linux/spinlock.h>`, `<linux/rwlock.h>`), `struct
//! rw_semaphore` (`<linux/rwsem.h>`), `mutex_lock_interruptible()` and `lockdep_is_held()`.
//! The first three are one C layout (`struct ksim_lock`: a handle and the lockdep class name)
//! over the guard-less [`KernelLock`]: C's lock and unlock are separate calls, as the model's
//! are. The header passes the API's own name (`"read_lock_irqsave"`), so lockdep's reports
//! name it, and the irq flavour; an irqsave unlock passes C's saved flags back.

use std::ffi::{c_char, c_int, c_ulong, c_void};

use ksim::irqflags;
use ksim::locking::{lockdep_is_held as held, Flavour, KernelLock, LockKind};
use ksim::sched;

use super::sync::{mutex_obj, spin_obj, CMutex, CSpinlock, Held};
use super::{loc, static_str};
use crate::state::{state, CHandle};

/// `struct ksim_lock` (spinlock_types.h): `raw_spinlock_t`, `rwlock_t`, `struct rw_semaphore`.
#[repr(C)]
pub(crate) struct CLock {
    h: CHandle,
    name: *const c_char,
}

/// The kinds the header passes (`KSIM_LOCK_*` in spinlock_types.h).
fn kind(k: c_int) -> LockKind {
    match k {
        1 => LockKind::RwLock,
        2 => LockKind::RwSem,
        _ => LockKind::RawSpin,
    }
}

fn klock(l: *mut CLock, k: c_int) -> &'static KernelLock {
    // SAFETY: a C `struct ksim_lock`; its handle only ever holds KernelLocks.
    unsafe {
        let name = static_str((*l).name);
        crate::state::object(&mut (*l).h, || KernelLock::new(kind(k), name))
    }
}

/// The flavours the header passes (`KSIM_SPIN_*` in spinlock.h); an irqsave lock saves the
/// state it finds, an irqsave unlock restores C's `flags`.
fn flavour(f: c_int, saved: bool) -> Flavour {
    match f {
        1 => Flavour::Irq,
        2 => Flavour::IrqSave(saved),
        3 => Flavour::Bh,
        _ => Flavour::Plain,
    }
}

unsafe extern "C-unwind" fn klock_init(
    l: *mut CLock,
    k: c_int,
    name: *const c_char,
    _f: *const c_char,
    _line: c_int,
) {
    // SAFETY: a C `struct ksim_lock` and its init's name literal.
    unsafe {
        (*l).name = name;
        let lock = std::sync::Arc::new(KernelLock::new(kind(k), static_str(name)));
        state().install(&mut (*l).h, lock);
    }
}

unsafe extern "C-unwind" fn klock_lock(
    l: *mut CLock,
    k: c_int,
    op: *const c_char,
    fl: c_int,
    read: c_int,
    f: *const c_char,
    line: c_int,
) -> c_ulong {
    // SAFETY: C's __FILE__ and the API's name (a literal).
    let (at, op) = unsafe { (loc(f, line), static_str(op)) };
    let was = irqflags::irqs_disabled();
    klock(l, k).lock_at(at, op, flavour(fl, was), read != 0);
    was as c_ulong
}

unsafe extern "C-unwind" fn klock_trylock(
    l: *mut CLock,
    k: c_int,
    op: *const c_char,
    fl: c_int,
    read: c_int,
    f: *const c_char,
    line: c_int,
) -> c_int {
    // SAFETY: C's __FILE__ and the API's name (a literal).
    let (at, op) = unsafe { (loc(f, line), static_str(op)) };
    let was = irqflags::irqs_disabled();
    klock(l, k).try_lock_at(at, op, flavour(fl, was), read != 0) as c_int
}

#[allow(clippy::too_many_arguments)] // the C call's own arguments, one per C macro argument
unsafe extern "C-unwind" fn klock_unlock(
    l: *mut CLock,
    k: c_int,
    op: *const c_char,
    fl: c_int,
    read: c_int,
    flags: c_ulong,
    f: *const c_char,
    line: c_int,
) {
    // SAFETY: C's __FILE__ and the API's name (a literal).
    let (at, op) = unsafe { (loc(f, line), static_str(op)) };
    klock(l, k).unlock_at(at, op, flavour(fl, flags != 0), read != 0);
}

unsafe extern "C-unwind" fn mutex_lock_interruptible(m: *mut CMutex, f: *const c_char, line: c_int) -> c_int {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, line) };
    let obj = mutex_obj(m);
    match ksim::mutex::mutex_lock_interruptible_at(&obj.lock, at) {
        Ok(g) => {
            // SAFETY: as in `sync::mutex_lock`: the guard borrows the never-moved lock it is
            // kept beside.
            let guard: ksim::mutex::MutexGuard<'static, ()> = unsafe { std::mem::transmute(g) };
            *obj.held.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Held { guard, pid: sched::current_pid() });
            0
        }
        Err(e) => -e.code(),
    }
}

/// `lockdep_is_held(lock)`: the header's `_Generic` says which kind of C lock `lock` is
/// (`KSIM_HELD_*` in lockdep.h).
unsafe extern "C-unwind" fn lockdep_is_held(lock: *mut c_void, k: c_int) -> c_int {
    let r = match k {
        0 => held(&spin_obj(lock as *mut CSpinlock).lock),
        1 => held(&mutex_obj(lock as *mut CMutex).lock),
        // raw_spinlock_t, rwlock_t, rw_semaphore: the kind only matters to a lock made here on
        // first use, and a lock never taken is not held, whatever its kind.
        _ => held(klock(lock as *mut CLock, k - 2)),
    };
    r as c_int
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("klock_init", klock_init as *const c_void),
    ("klock_lock", klock_lock as *const c_void),
    ("klock_trylock", klock_trylock as *const c_void),
    ("klock_unlock", klock_unlock as *const c_void),
    ("mutex_lock_interruptible", mutex_lock_interruptible as *const c_void),
    ("lockdep_is_held", lockdep_is_held as *const c_void),
];
