//! `include/linux/rwsem.h` / `kernel/locking/rwsem.c`: `struct rw_semaphore`, a sleeping
//! reader-writer lock. `down_read()` / `down_write()` start with `might_sleep()` (reported in
//! atomic context even when the semaphore is free) and really block when contended (then
//! `schedule_debug()` reports "scheduling while atomic"); readers do not nest (lockdep reports
//! a second `down_read()` of a class as recursive locking: a writer queued between them
//! deadlocks both). Built on `locking::KernelLock`.

use crate::defs::loc::Loc;
use crate::locking::{Flavour, Guard, LockKind, Locked};

/// `struct rw_semaphore` protecting a `T`; the name is its lockdep class.
pub type RwSemaphore<T> = Locked<T>;

/// A held rw_semaphore (read or write).
pub type RwSemGuard<'a, T> = Guard<'a, T>;

/// `init_rwsem()` / `DECLARE_RWSEM()`.
#[track_caller]
pub fn init_rwsem<T>(value: T, name: &'static str) -> RwSemaphore<T> {
    Locked::new(LockKind::RwSem, value, name)
}

/// `down_read(&sem)`.
///
/// # Context
/// Process context; may sleep (`might_sleep()` on every call).
#[track_caller]
pub fn down_read<T>(s: &RwSemaphore<T>) -> RwSemGuard<'_, T> {
    s.guard_at(Loc::caller(), "down_read", Flavour::Plain, true)
}

/// `down_write(&sem)`.
///
/// # Context
/// Process context; may sleep.
#[track_caller]
pub fn down_write<T>(s: &RwSemaphore<T>) -> RwSemGuard<'_, T> {
    s.guard_at(Loc::caller(), "down_write", Flavour::Plain, false)
}

/// `down_read_trylock(&sem)`: never sleeps.
#[track_caller]
pub fn down_read_trylock<T>(s: &RwSemaphore<T>) -> Option<RwSemGuard<'_, T>> {
    s.try_guard_at(Loc::caller(), "down_read_trylock", Flavour::Plain, true)
}

/// `down_write_trylock(&sem)`: never sleeps.
#[track_caller]
pub fn down_write_trylock<T>(s: &RwSemaphore<T>) -> Option<RwSemGuard<'_, T>> {
    s.try_guard_at(Loc::caller(), "down_write_trylock", Flavour::Plain, false)
}

/// `up_read(&sem)` / `up_write(&sem)` (the guard knows which).
#[track_caller]
pub fn up<T>(g: RwSemGuard<'_, T>) {
    let mut g = g;
    g.release(Loc::caller());
}

/// `downgrade_write(&sem)`: the writer keeps the semaphore for reading.
#[track_caller]
pub fn downgrade_write<T>(g: &mut RwSemGuard<'_, T>) {
    g.downgrade();
}
