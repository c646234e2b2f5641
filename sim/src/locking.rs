//! `kernel/locking/`: the lock implementations the typed locks share. [`KernelLock`] is the
//! guard-less lock (the C face's `spinlock_t`, `raw_spinlock_t`, `rwlock_t`, `struct mutex`,
//! `struct rw_semaphore` call its `lock_at` / `unlock_at` with their `__FILE__:__LINE__`);
//! [`Locked`] puts Rust data behind one with a guard that unlocks on drop, which
//! `raw_spinlock`, `rwlock` and `rwsem` build their kernel-named functions on.

use std::cell::UnsafeCell;

use crate::defs::loc::Loc;
pub use crate::model::lock::{Flavour, KernelLock};
pub use crate::model::task::LockKind;

/// `lockdep_is_held(&lock)`: whether the current task holds this lock (the condition
/// `rcu_dereference_check()` / `rcu_dereference_protected()` take).
pub trait LockdepIsHeld {
    /// The lock instance lockdep knows it by.
    fn lockdep_instance(&self) -> usize;
}

/// `lockdep_is_held(&lock)`.
#[track_caller]
pub fn lockdep_is_held(lock: &dyn LockdepIsHeld) -> bool {
    let t = crate::model::current_in("lockdep_is_held()");
    let id = lock.lockdep_instance();
    let held = t.state().held.iter().any(|h| h.instance == id);
    held
}

impl<T> LockdepIsHeld for crate::spinlock::SpinLock<T> {
    fn lockdep_instance(&self) -> usize {
        self.id()
    }
}

impl<T> LockdepIsHeld for crate::mutex::Mutex<T> {
    fn lockdep_instance(&self) -> usize {
        self.id()
    }
}

impl<T> LockdepIsHeld for Locked<T> {
    fn lockdep_instance(&self) -> usize {
        self.core.instance()
    }
}

impl LockdepIsHeld for KernelLock {
    fn lockdep_instance(&self) -> usize {
        self.instance()
    }
}

/// Data behind a [`KernelLock`].
pub struct Locked<T> {
    core: KernelLock,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a guard, and guards follow the lock's rules: one
// writer, or readers that get only `&T` (which needs `T: Sync`).
unsafe impl<T: Send + Sync> Sync for Locked<T> {}

impl<T> Locked<T> {
    /// A new unlocked lock of `kind` and class `name` holding `value`.
    #[track_caller]
    pub fn new(kind: LockKind, value: T, name: &'static str) -> Self {
        Locked { core: KernelLock::new(kind, name), data: UnsafeCell::new(value) }
    }

    /// The guard-less lock (for the C face, or code that locks and unlocks in different
    /// functions).
    pub fn core(&self) -> &KernelLock {
        &self.core
    }

    /// Takes the lock as `op` and returns its guard.
    pub fn guard_at(&self, at: Loc, op: &'static str, flavour: Flavour, read: bool) -> Guard<'_, T> {
        self.core.lock_at(at, op, flavour, read);
        Guard { lock: self, flavour, read, taken_at: at, unlock_op: unlock_op(op), held: true }
    }

    /// The trylock form.
    pub fn try_guard_at(
        &self,
        at: Loc,
        op: &'static str,
        flavour: Flavour,
        read: bool,
    ) -> Option<Guard<'_, T>> {
        self.core.try_lock_at(at, op, flavour, read).then(|| Guard {
            lock: self,
            flavour,
            read,
            taken_at: at,
            unlock_op: unlock_op(op),
            held: true,
        })
    }
}

/// The unlock API matching a lock API (`read_lock_irqsave` -> `read_unlock_irqrestore`).
fn unlock_op(op: &str) -> &'static str {
    match op {
        "raw_spin_lock" | "raw_spin_trylock" => "raw_spin_unlock",
        "raw_spin_lock_irq" => "raw_spin_unlock_irq",
        "raw_spin_lock_irqsave" => "raw_spin_unlock_irqrestore",
        "read_lock" | "read_trylock" => "read_unlock",
        "read_lock_irq" => "read_unlock_irq",
        "read_lock_irqsave" => "read_unlock_irqrestore",
        "read_lock_bh" => "read_unlock_bh",
        "write_lock" | "write_trylock" => "write_unlock",
        "write_lock_irq" => "write_unlock_irq",
        "write_lock_irqsave" => "write_unlock_irqrestore",
        "write_lock_bh" => "write_unlock_bh",
        "down_read" | "down_read_trylock" => "up_read",
        "down_write" | "down_write_trylock" => "up_write",
        _ => "unlock",
    }
}

/// A held [`Locked`]: `&T` for a reader, `&mut T` too for a writer; unlocks when dropped
/// (traced at the taking site) or by [`Guard::unlock`] (at the caller).
pub struct Guard<'a, T> {
    lock: &'a Locked<T>,
    flavour: Flavour,
    read: bool,
    taken_at: Loc,
    unlock_op: &'static str,
    held: bool,
}

impl<T> Guard<'_, T> {
    /// Unlocks at the caller's location.
    #[track_caller]
    pub fn unlock(mut self) {
        self.release(Loc::caller());
    }

    pub(crate) fn release(&mut self, at: Loc) {
        if std::mem::take(&mut self.held) {
            self.lock.core.unlock_at(at, self.unlock_op, self.flavour, self.read);
        }
    }

    /// `downgrade_write()` (rw_semaphore): keeps the lock for reading.
    #[track_caller]
    pub fn downgrade(&mut self) {
        self.lock.core.downgrade_at(Loc::caller());
        self.read = true;
        self.unlock_op = "up_read";
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.release(self.taken_at);
    }
}

impl<T> std::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a held guard: readers share, a writer is alone (the lock word).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> std::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        assert!(!self.read, "ksim: a read guard gives no mutable access");
        // SAFETY: a held write guard: the only one.
        unsafe { &mut *self.lock.data.get() }
    }
}
