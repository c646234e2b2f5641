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

    pub(crate) fn id(&self) -> usize {
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

/// `mutex_trylock(&m)`: the mutex if it is free now.
///
/// # Context
/// Never sleeps (no `might_sleep()`); lockdep records the acquisition.
#[track_caller]
pub fn mutex_trylock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    m.try_lock()
}

/// `mutex_lock_interruptible(&m)`: as `mutex_lock`, but a task with a signal pending
/// (`send_sig()`) that would have to wait returns `-EINTR` instead (the kernel's fast path
/// takes a free mutex even then).
///
/// # Context
/// Process context; may sleep (`might_sleep()` at entry, every call).
#[track_caller]
pub fn mutex_lock_interruptible<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, crate::errno::Errno> {
    let at = Loc::caller();
    might_sleep_at(at, "mutex_lock_interruptible()", None);
    let t = current();
    let site = Site { at, op: "mutex_lock_interruptible" };
    if let Some(g) = m.raw.try_lock() {
        lock_acquire(&t, m.name, m.id(), LockKind::Mutex, site);
        return Ok(MutexGuard { guard: Some(g), lock: m, task: t.arc(), taken_at: at });
    }
    if t.signal.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(crate::errno::Errno::EINTR);
    }
    lock_acquire(&t, m.name, m.id(), LockKind::Mutex, site);
    schedule_debug(&t, at, "mutex_lock_interruptible()");
    let g = m.raw.lock();
    Ok(MutexGuard { guard: Some(g), lock: m, task: t.arc(), taken_at: at })
}

/// `mutex_unlock(&m)`.
#[track_caller]
pub fn mutex_unlock<T>(g: MutexGuard<'_, T>) {
    let mut g = g;
    g.release(Loc::caller());
}
