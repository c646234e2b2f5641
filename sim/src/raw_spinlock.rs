//! `include/linux/spinlock.h`, the `raw_spinlock_t` half: a spinlock that stays a spinning
//! lock on PREEMPT_RT (where `spinlock_t` sleeps). Counting as `spin_lock` (facts §3.2); its
//! lockdep wait type is `LD_WAIT_SPIN`, so a `spinlock_t` taken inside one is what the
//! wait-context check (`Config::wait_context`) reports. Built on `locking::KernelLock`
//! (`RawSpinLock::core` for guard-less use).

use crate::defs::loc::Loc;
use crate::locking::{Flavour, Guard, LockKind, Locked};

/// `raw_spinlock_t` protecting a `T`; the name is its lockdep class.
pub type RawSpinLock<T> = Locked<T>;

/// A held `raw_spinlock_t`.
pub type RawSpinLockGuard<'a, T> = Guard<'a, T>;

/// `raw_spin_lock_init()` / `DEFINE_RAW_SPINLOCK()`.
#[track_caller]
pub fn raw_spin_lock_init<T>(value: T, name: &'static str) -> RawSpinLock<T> {
    Locked::new(LockKind::RawSpin, value, name)
}

/// `raw_spin_lock(&lock)`.
///
/// # Context
/// Any but NMI; does not sleep (not even on PREEMPT_RT); the holder is atomic (+1).
#[track_caller]
pub fn raw_spin_lock<T>(l: &RawSpinLock<T>) -> RawSpinLockGuard<'_, T> {
    l.guard_at(Loc::caller(), "raw_spin_lock", Flavour::Plain, false)
}

/// `raw_spin_lock_irq(&lock)`: also disables irqs (enabled again at unlock).
///
/// # Context
/// As `raw_spin_lock`.
#[track_caller]
pub fn raw_spin_lock_irq<T>(l: &RawSpinLock<T>) -> RawSpinLockGuard<'_, T> {
    l.guard_at(Loc::caller(), "raw_spin_lock_irq", Flavour::Irq, false)
}

/// `raw_spin_lock_irqsave(&lock, flags)`: disables irqs, restored at unlock.
///
/// # Context
/// As `raw_spin_lock`.
#[track_caller]
pub fn raw_spin_lock_irqsave<T>(l: &RawSpinLock<T>) -> RawSpinLockGuard<'_, T> {
    let saved = crate::irqflags::irqs_disabled();
    l.guard_at(Loc::caller(), "raw_spin_lock_irqsave", Flavour::IrqSave(saved), false)
}

/// `raw_spin_trylock(&lock)`.
///
/// # Context
/// Never spins; lockdep records it as a trylock.
#[track_caller]
pub fn raw_spin_trylock<T>(l: &RawSpinLock<T>) -> Option<RawSpinLockGuard<'_, T>> {
    l.try_guard_at(Loc::caller(), "raw_spin_trylock", Flavour::Plain, false)
}

/// `raw_spin_unlock(&lock)` (and the `_irq` / `_irqrestore` forms, which the guard knows).
#[track_caller]
pub fn raw_spin_unlock<T>(g: RawSpinLockGuard<'_, T>) {
    let mut g = g;
    g.release(Loc::caller());
}
