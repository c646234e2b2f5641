//! `include/linux/spinlock.h` / `spinlock_api_smp.h`: `spinlock_t` and its variants, with the
//! kernel's preempt_count accounting (facts §3.2):
//!
//! | call                    | effect                                   |
//! |-------------------------|------------------------------------------|
//! | `spin_lock`             | `preempt_disable()` (+1)                 |
//! | `spin_lock_irq`         | `local_irq_disable()` + `preempt_disable()` |
//! | `spin_lock_irqsave`     | `local_irq_save()` + `preempt_disable()` |
//! | `spin_lock_bh`          | `SOFTIRQ_LOCK_OFFSET` (+0x201)           |
//!
//! then lockdep's acquire check, then the lock itself (a scheduling point). Unlocking runs the
//! same steps backwards. Guards unlock on drop; the kernel-named functions take and return them.

use crate::defs::loc::Loc;

use crate::defs::preempt_mask::{PREEMPT_OFFSET, SOFTIRQ_LOCK_OFFSET};
use crate::model::backend::{RawGuard, RawMutex};
use crate::model::context::{bh_disable, bh_enable, set_irqs};
use crate::model::context::{count_add, count_sub};
use crate::model::current;
use crate::model::lockdep::{lock_acquire, lock_release};
use crate::model::task::{LockKind, Site, TaskCell};

/// `spinlock_t` protecting a `T`. The name is its lockdep class.
pub struct SpinLock<T> {
    raw: RawMutex<T>,
    name: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    Plain,
    Irq,
    IrqSave(bool),
    Bh,
}

/// A held spinlock; unlocks (and restores the context) when dropped.
pub struct SpinLockGuard<'a, T> {
    guard: Option<RawGuard<'a, T>>,
    lock: &'a SpinLock<T>,
    flavour: Flavour,
    task: std::sync::Arc<TaskCell>,
    /// Where it was taken: an implicit unlock (end of scope) is traced at the taking site.
    taken_at: Loc,
}

impl<T> SpinLock<T> {
    /// `spin_lock_init()` / `DEFINE_SPINLOCK()`: a new unlocked spinlock of lockdep class `name`.
    pub fn new(value: T, name: &'static str) -> Self {
        SpinLock { raw: RawMutex::new(value), name }
    }

    /// The lockdep class name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub(crate) fn id(&self) -> usize {
        self as *const Self as usize
    }

    #[track_caller]
    fn acquire(&self, flavour: Flavour, op: &'static str) -> SpinLockGuard<'_, T> {
        self.acquire_at(flavour, op, Loc::caller())
    }

    /// `spin_lock()` on behalf of an API that takes the lock at its caller's location.
    pub(crate) fn lock_at(&self, at: Loc) -> SpinLockGuard<'_, T> {
        self.acquire_at(Flavour::Plain, "spin_lock", at)
    }

    fn acquire_at(&self, flavour: Flavour, op: &'static str, at: Loc) -> SpinLockGuard<'_, T> {
        let t = current();
        self.enter(&t, flavour, Site { at, op });
        // Spinning on a lock this CPU already holds (an interrupt taking its task's lock) never ends.
        crate::model::cpu::spin_deadlock_check(&t, self.name, self.id(), false, at);
        let guard = self.raw.lock();
        SpinLockGuard { guard: Some(guard), lock: self, flavour, task: t.arc(), taken_at: at }
    }

    /// The context change and lockdep's acquire of taking the lock with `flavour` at `site`.
    fn enter(&self, t: &TaskCell, flavour: Flavour, site: Site) {
        let cfg_count = t.exec.config().preempt_count;
        match flavour {
            Flavour::Bh => bh_disable(
                t,
                if cfg_count { SOFTIRQ_LOCK_OFFSET } else { SOFTIRQ_LOCK_OFFSET - PREEMPT_OFFSET },
                site,
            ),
            Flavour::Irq | Flavour::IrqSave(_) => {
                set_irqs(t, true, site);
                if cfg_count {
                    count_add(t, PREEMPT_OFFSET, site);
                }
            }
            Flavour::Plain => {
                if cfg_count {
                    count_add(t, PREEMPT_OFFSET, site);
                }
            }
        }
        lock_acquire(t, self.name, self.id(), LockKind::Spin, site);
    }

    /// `spin_lock(&lock)`.
    ///
    /// # Context
    /// Any but NMI; does not sleep; the holder is atomic (+1) until unlock.
    #[track_caller]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        self.acquire(Flavour::Plain, "spin_lock")
    }

    /// `spin_lock_irq(&lock)`: also disables irqs (re-enabled unconditionally at unlock).
    #[track_caller]
    pub fn lock_irq(&self) -> SpinLockGuard<'_, T> {
        self.acquire(Flavour::Irq, "spin_lock_irq")
    }

    /// `spin_lock_irqsave(&lock, flags)`: disables irqs, restores the saved state at unlock.
    #[track_caller]
    pub fn lock_irqsave(&self) -> SpinLockGuard<'_, T> {
        let was = current().state().irqs_disabled;
        self.acquire(Flavour::IrqSave(was), "spin_lock_irqsave")
    }

    /// `spin_lock_bh(&lock)`: disables bottom halves (+0x201).
    #[track_caller]
    pub fn lock_bh(&self) -> SpinLockGuard<'_, T> {
        self.acquire(Flavour::Bh, "spin_lock_bh")
    }

    /// `spin_trylock(&lock)` at `at`: `preempt_disable()`, then the lock if it is free (lockdep
    /// records a trylock), else `preempt_enable()` and `None`.
    pub(crate) fn try_lock_at(&self, at: Loc) -> Option<SpinLockGuard<'_, T>> {
        let t = crate::model::current_in("spin_trylock()");
        let site = Site { at, op: "spin_trylock" };
        let count = t.exec.config().preempt_count;
        if count {
            count_add(&t, PREEMPT_OFFSET, site);
        }
        let Some(guard) = self.raw.try_lock() else {
            if count {
                count_sub(&t, PREEMPT_OFFSET, site);
            }
            return None;
        };
        let how = crate::model::lockdep::Acquire { kind: LockKind::Spin, read: false, trylock: true };
        crate::model::lockdep::lock_acquire_as(&t, self.name, self.id(), how, site);
        Some(SpinLockGuard {
            guard: Some(guard),
            lock: self,
            flavour: Flavour::Plain,
            task: t.arc(),
            taken_at: at,
        })
    }
}

/// `spin_trylock(&lock)`: the lock if it is free now; never spins.
///
/// # Context
/// Any but NMI; on success the holder is atomic (+1), as after `spin_lock`.
#[track_caller]
pub fn spin_trylock<T>(lock: &SpinLock<T>) -> Option<SpinLockGuard<'_, T>> {
    lock.try_lock_at(Loc::caller())
}

impl<T> SpinLockGuard<'_, T> {
    /// Unlocks at the caller's location (dropping the guard unlocks too, located at the drop).
    #[track_caller]
    pub fn unlock(mut self) {
        self.release(Loc::caller());
    }

    fn release(&mut self, at: Loc) {
        let Some(g) = self.guard.take() else { return };
        let t = self.task.clone();
        if std::thread::panicking() {
            // Unwinding after a report: release quietly, no further checks.
            drop(g);
            return;
        }
        let op = match self.flavour {
            Flavour::Plain => "spin_unlock",
            Flavour::Irq => "spin_unlock_irq",
            Flavour::IrqSave(_) => "spin_unlock_irqrestore",
            Flavour::Bh => "spin_unlock_bh",
        };
        lock_release(&t, self.lock.name, self.lock.id(), at, op);
        drop(g);
        let site = Site { at, op };
        let cfg_count = t.exec.config().preempt_count;
        match self.flavour {
            Flavour::Bh => bh_enable(
                &t,
                if cfg_count { SOFTIRQ_LOCK_OFFSET } else { SOFTIRQ_LOCK_OFFSET - PREEMPT_OFFSET },
                site,
            ),
            Flavour::Irq | Flavour::IrqSave(_) => {
                if cfg_count {
                    count_sub(&t, PREEMPT_OFFSET, site);
                }
                let disabled = matches!(self.flavour, Flavour::IrqSave(true));
                set_irqs(&t, disabled, site);
            }
            Flavour::Plain => {
                if cfg_count {
                    count_sub(&t, PREEMPT_OFFSET, site);
                }
            }
        }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        self.release(self.taken_at);
    }
}

impl<T> std::ops::Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("spinlock guard used after unlock")
    }
}

impl<T> std::ops::DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("spinlock guard used after unlock")
    }
}

/// `spin_lock(&lock)`.
#[track_caller]
pub fn spin_lock<T>(lock: &SpinLock<T>) -> SpinLockGuard<'_, T> {
    lock.acquire(Flavour::Plain, "spin_lock")
}

/// `spin_unlock(&lock)`.
#[track_caller]
pub fn spin_unlock<T>(guard: SpinLockGuard<'_, T>) {
    guard.unlock_at(Loc::caller());
}

/// `spin_lock_irq(&lock)`.
#[track_caller]
pub fn spin_lock_irq<T>(lock: &SpinLock<T>) -> SpinLockGuard<'_, T> {
    lock.acquire(Flavour::Irq, "spin_lock_irq")
}

/// `spin_lock_irqsave(&lock, flags)`.
#[track_caller]
pub fn spin_lock_irqsave<T>(lock: &SpinLock<T>) -> SpinLockGuard<'_, T> {
    let was = current().state().irqs_disabled;
    lock.acquire(Flavour::IrqSave(was), "spin_lock_irqsave")
}

/// `spin_unlock_irqrestore(&lock, flags)`.
#[track_caller]
pub fn spin_unlock_irqrestore<T>(guard: SpinLockGuard<'_, T>) {
    guard.unlock_at(Loc::caller());
}

/// `spin_lock_bh(&lock)`.
#[track_caller]
pub fn spin_lock_bh<T>(lock: &SpinLock<T>) -> SpinLockGuard<'_, T> {
    lock.acquire(Flavour::Bh, "spin_lock_bh")
}

impl<T> SpinLockGuard<'_, T> {
    /// Unlocks at `at` (a foreign caller's location), restoring the context its flavour saved.
    pub fn unlock_at(mut self, at: Loc) {
        self.release(at);
    }
}

/// How a foreign caller takes a spinlock: `spin_lock`, `spin_lock_irq`, `spin_lock_irqsave`,
/// `spin_lock_bh` (each unlocks with its matching unlock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpinFlavour {
    /// `spin_lock()`.
    Plain,
    /// `spin_lock_irq()`.
    Irq,
    /// `spin_lock_irqsave()`.
    IrqSave,
    /// `spin_lock_bh()`.
    Bh,
}

impl<T> SpinLock<T> {
    /// `spin_lock*()` of `flavour`, called at `at` (a foreign caller's location).
    ///
    /// # Context
    /// As the flavour's function.
    pub fn lock_flavour_at(&self, flavour: SpinFlavour, at: Loc) -> SpinLockGuard<'_, T> {
        let (f, op) = match flavour {
            SpinFlavour::Plain => (Flavour::Plain, "spin_lock"),
            SpinFlavour::Irq => (Flavour::Irq, "spin_lock_irq"),
            SpinFlavour::IrqSave => (Flavour::IrqSave(current().state().irqs_disabled), "spin_lock_irqsave"),
            SpinFlavour::Bh => (Flavour::Bh, "spin_lock_bh"),
        };
        self.acquire_at(f, op, at)
    }

    /// `spin_trylock()` (plain flavour) at `at`: the lock if it was free, with the context and
    /// lockdep state of a `spin_lock()`; `None`, and nothing changed, if it was held.
    ///
    /// # Context
    /// Any; never spins.
    pub fn try_lock_flavour_at(&self, flavour: SpinFlavour, at: Loc) -> Option<SpinLockGuard<'_, T>> {
        if let SpinFlavour::Plain = flavour {
            return self.try_lock_at(at);
        }
        let guard = self.raw.try_lock()?;
        let t = current();
        let f = match flavour {
            SpinFlavour::Plain => Flavour::Plain,
            SpinFlavour::Irq => Flavour::Irq,
            SpinFlavour::IrqSave => Flavour::IrqSave(t.state().irqs_disabled),
            SpinFlavour::Bh => Flavour::Bh,
        };
        self.enter(&t, f, Site { at, op: "spin_trylock" });
        Some(SpinLockGuard { guard: Some(guard), lock: self, flavour: f, task: t.arc(), taken_at: at })
    }
}
