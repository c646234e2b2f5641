//! The lock of the model's shared bookkeeping (the page ledger, radix-tree and xarray slots):
//! held for a few instructions, never across a scheduling point, so it spins briefly instead of
//! parking.
//!
//! Why not `std::sync::Mutex`: its unlock is a locked exchange (it must learn whether a waiter
//! sleeps), and a locked instruction waits for every earlier store to reach the cache. The
//! ledger's lock is released right after `memcpy` stores a page, so on the brd write path that
//! wait exposed the whole copy's cache misses instead of overlapping them with the work that
//! follows. Here the unlock is a release store, a plain `mov` on x86.
//!
//! Contention exists only under the std backend (shuttle and loom run every task on one OS
//! thread and switch only at scheduling points): a waiter spins a little, then yields its CPU
//! to the holder, which may have been preempted by the host.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct BookLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and at most one guard exists at a time
// (`locked` is taken with acquire ordering and released with release ordering), as for a mutex.
unsafe impl<T: Send> Sync for BookLock<T> {}

pub(crate) struct BookGuard<'a, T> {
    lock: &'a BookLock<T>,
}

impl<T> BookLock<T> {
    pub(crate) fn new(value: T) -> Self {
        BookLock { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    #[inline]
    pub(crate) fn lock(&self) -> BookGuard<'_, T> {
        if self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_contended();
        }
        BookGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if spins < 100 {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                return;
            }
        }
    }
}

impl<T> std::ops::Deref for BookGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> std::ops::DerefMut for BookGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the lock, and `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for BookGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn threads_never_lose_an_update() {
        let l = Arc::new(BookLock::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        *l.lock() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().expect("no panic");
        }
        assert_eq!(*l.lock(), 80_000);
    }
}
