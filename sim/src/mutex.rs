//! `include/linux/mutex.h` / `kernel/locking/mutex.c`: a sleeping lock. `mutex_lock()` starts
//! with `might_sleep()` (so taking it in atomic context is reported even when it is free), runs
//! lockdep's acquire check, and if the mutex is contended the task really blocks — and
//! `schedule_debug()` reports "scheduling while atomic" if it is atomic then.

use crate::defs::loc::Loc;

use crate::model::backend::{RawGuard, RawMutex};
use crate::model::current;
use crate::model::lockdep::{lock_acquire, lock_release};
use crate::model::sleep::{might_sleep_at, schedule_debug};
use crate::model::task::{LockKind, Site, TaskCell};

/// `struct mutex` protecting a `T`. The name is its lockdep class.
pub struct Mutex<T> {
    raw: RawMutex<T>,
    name: &'static str,
}

/// A held mutex; unlocks when dropped.
pub struct MutexGuard<'a, T> {
    guard: Option<RawGuard<'a, T>>,
    lock: &'a Mutex<T>,
    task: std::sync::Arc<TaskCell>,
    taken_at: Loc,
}

impl<T> Mutex<T> {
    /// `mutex_init()` / `DEFINE_MUTEX()`.
    pub fn new(value: T, name: &'static str) -> Self {
        Mutex { raw: RawMutex::new(value), name }
    }

    fn id(&self) -> usize {
        self as *const Self as usize
    }

    /// `mutex_lock(&m)`.
    ///
    /// # Context
    /// Process context; may sleep (`might_sleep()` at entry, every call).
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.lock_at(Loc::caller())
    }

    /// [`Mutex::lock`] called at `at` (a foreign caller's location).
    pub fn lock_at(&self, at: Loc) -> MutexGuard<'_, T> {
        might_sleep_at(at, "mutex_lock()", None);
        let t = current();
        lock_acquire(&t, self.name, self.id(), LockKind::Mutex, Site { at, op: "mutex_lock" });
        let guard = match self.raw.try_lock() {
            Some(g) => g,
            None => {
                schedule_debug(&t, at, "mutex_lock()");
                self.raw.lock()
            }
        };
        MutexGuard { guard: Some(guard), lock: self, task: t.arc(), taken_at: at }
    }

    /// `mutex_trylock(&m)`: never sleeps.
    #[track_caller]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.try_lock_at(Loc::caller())
    }

    /// [`Mutex::try_lock`] called at `at` (a foreign caller's location).
    pub fn try_lock_at(&self, at: Loc) -> Option<MutexGuard<'_, T>> {
        let g = self.raw.try_lock()?;
        let t = current();
        lock_acquire(&t, self.name, self.id(), LockKind::Mutex, Site { at, op: "mutex_trylock" });
        Some(MutexGuard { guard: Some(g), lock: self, task: t.arc(), taken_at: at })
    }
}

impl<T> MutexGuard<'_, T> {
    /// `mutex_unlock(&m)` at the caller's location.
    #[track_caller]
    pub fn unlock(mut self) {
        self.release(Loc::caller());
    }

    /// `mutex_unlock(&m)` at `at` (a foreign caller's location).
    pub fn unlock_at(mut self, at: Loc) {
        self.release(at);
    }

    fn release(&mut self, at: Loc) {
        let Some(g) = self.guard.take() else { return };
        if !std::thread::panicking() {
            lock_release(&self.task, self.lock.name, self.lock.id(), at, "mutex_unlock");
        }
        drop(g);
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.release(self.taken_at);
    }
}

impl<T> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("mutex guard used after unlock")
    }
}

impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("mutex guard used after unlock")
    }
}

/// `mutex_lock(&m)`.
#[track_caller]
pub fn mutex_lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
}

/// `mutex_unlock(&m)`.
#[track_caller]
pub fn mutex_unlock<T>(g: MutexGuard<'_, T>) {
    let mut g = g;
    g.release(Loc::caller());
}
