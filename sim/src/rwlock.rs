//! `include/linux/rwlock.h`: `rwlock_t`, a spinning reader-writer lock. Readers share it and
//! may nest (the kernel's recursive read: an interrupt may read_lock a lock its CPU holds for
//! reading); a writer excludes everyone. Every form counts as `spin_lock` does — `_irq`,
//! `_irqsave` and `_bh` disable as `spin_lock_irq`, `spin_lock_irqsave`, `spin_lock_bh` and
//! restore exactly at unlock — and lockdep tracks read and write usage apart
//! (`{HARDIRQ-ON-R}`, `{IN-HARDIRQ-W}`...). Built on `locking::KernelLock`.

use crate::defs::loc::Loc;
use crate::locking::{Flavour, Guard, LockKind, Locked};

/// `rwlock_t` protecting a `T`; the name is its lockdep class.
pub type RwLock<T> = Locked<T>;

/// A held `rwlock_t` (read or write).
pub type RwLockGuard<'a, T> = Guard<'a, T>;

/// `rwlock_init()` / `DEFINE_RWLOCK()`.
#[track_caller]
pub fn rwlock_init<T>(value: T, name: &'static str) -> RwLock<T> {
    Locked::new(LockKind::RwLock, value, name)
}

fn saved() -> Flavour {
    Flavour::IrqSave(crate::irqflags::irqs_disabled())
}

macro_rules! rw_forms {
    ($($(#[$doc:meta])* $fn:ident => $op:literal, $flavour:expr, $read:expr;)*) => {
        $(
            $(#[$doc])*
            ///
            /// # Context
            /// Any but NMI; spins, never sleeps; the holder is atomic until the unlock.
            #[track_caller]
            pub fn $fn<T>(l: &RwLock<T>) -> RwLockGuard<'_, T> {
                l.guard_at(Loc::caller(), $op, $flavour, $read)
            }
        )*
    };
}

rw_forms! {
    /// `read_lock(&lock)`.
    read_lock => "read_lock", Flavour::Plain, true;
    /// `read_lock_irq(&lock)`.
    read_lock_irq => "read_lock_irq", Flavour::Irq, true;
    /// `read_lock_irqsave(&lock, flags)`.
    read_lock_irqsave => "read_lock_irqsave", saved(), true;
    /// `read_lock_bh(&lock)`.
    read_lock_bh => "read_lock_bh", Flavour::Bh, true;
    /// `write_lock(&lock)`.
    write_lock => "write_lock", Flavour::Plain, false;
    /// `write_lock_irq(&lock)`.
    write_lock_irq => "write_lock_irq", Flavour::Irq, false;
    /// `write_lock_irqsave(&lock, flags)`.
    write_lock_irqsave => "write_lock_irqsave", saved(), false;
    /// `write_lock_bh(&lock)`.
    write_lock_bh => "write_lock_bh", Flavour::Bh, false;
}

/// `read_trylock(&lock)`.
#[track_caller]
pub fn read_trylock<T>(l: &RwLock<T>) -> Option<RwLockGuard<'_, T>> {
    l.try_guard_at(Loc::caller(), "read_trylock", Flavour::Plain, true)
}

/// `write_trylock(&lock)`.
#[track_caller]
pub fn write_trylock<T>(l: &RwLock<T>) -> Option<RwLockGuard<'_, T>> {
    l.try_guard_at(Loc::caller(), "write_trylock", Flavour::Plain, false)
}

/// `read_unlock*` / `write_unlock*` (the guard knows which form it was taken with).
#[track_caller]
pub fn rw_unlock<T>(g: RwLockGuard<'_, T>) {
    let mut g = g;
    g.release(Loc::caller());
}
