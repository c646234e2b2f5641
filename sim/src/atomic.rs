//! `include/linux/atomic.h`: `atomic_t` (32 bits, wrapping), `atomic64_t` / `atomic_long_t`
//! (64 bits). Each operation is a scheduling point under shuttle and loom (drivers race on
//! these), sequentially consistent.

use crate::model::backend::RawAtomic;

/// `atomic_long_t`.
pub struct Atomic(RawAtomic);

impl Atomic {
    /// `ATOMIC_INIT(v)`.
    pub fn new(v: i64) -> Self {
        Atomic(RawAtomic::new(v))
    }

    /// `atomic_read()`.
    pub fn read(&self) -> i64 {
        self.0.load()
    }

    /// `atomic_set()`.
    pub fn set(&self, v: i64) {
        self.0.store(v)
    }

    /// `atomic_add_return()`.
    pub fn add_return(&self, v: i64) -> i64 {
        self.0.fetch_add(v) + v
    }

    /// `atomic_inc()`.
    pub fn inc(&self) {
        self.0.fetch_add(1);
    }

    /// `atomic_dec()`.
    pub fn dec(&self) {
        self.0.fetch_add(-1);
    }

    /// `atomic_dec_and_test()`: true when the new value is 0.
    pub fn dec_and_test(&self) -> bool {
        self.0.fetch_add(-1) == 1
    }

    /// `atomic_cmpxchg()`: returns the old value.
    pub fn cmpxchg(&self, old: i64, new: i64) -> i64 {
        match self.0.compare_exchange(old, new) {
            Ok(v) | Err(v) => v,
        }
    }

    /// `atomic_inc_not_zero()`: increments unless 0; true if it did.
    pub fn inc_not_zero(&self) -> bool {
        let mut v = self.read();
        while v != 0 {
            match self.0.compare_exchange(v, v + 1) {
                Ok(_) => return true,
                Err(cur) => v = cur,
            }
        }
        false
    }
}

/// `atomic64_t`: the same operations as `atomic_long_t` on x86-64.
pub type Atomic64 = Atomic;

/// `atomic_t`: 32 bits, wrapping on overflow as the kernel's does.
pub struct AtomicT(RawAtomic);

fn wrap(v: i64) -> i32 {
    v as i32
}

impl AtomicT {
    /// `ATOMIC_INIT(v)`.
    pub fn new(v: i32) -> Self {
        AtomicT(RawAtomic::new(v as i64))
    }

    /// `atomic_read()`.
    pub fn read(&self) -> i32 {
        wrap(self.0.load())
    }

    /// `atomic_set()`.
    pub fn set(&self, v: i32) {
        self.0.store(v as i64)
    }

    /// `atomic_add_return()`.
    pub fn add_return(&self, v: i32) -> i32 {
        let mut old = self.0.load();
        loop {
            let new = wrap(old).wrapping_add(v) as i64;
            match self.0.compare_exchange(old, new) {
                Ok(_) => return new as i32,
                Err(cur) => old = cur,
            }
        }
    }

    /// `atomic_inc()`.
    pub fn inc(&self) {
        self.add_return(1);
    }

    /// `atomic_dec()`.
    pub fn dec(&self) {
        self.add_return(-1);
    }

    /// `atomic_dec_and_test()`.
    pub fn dec_and_test(&self) -> bool {
        self.add_return(-1) == 0
    }

    /// `atomic_cmpxchg()`: the old value.
    pub fn cmpxchg(&self, old: i32, new: i32) -> i32 {
        match self.0.compare_exchange(old as i64, new as i64) {
            Ok(v) | Err(v) => wrap(v),
        }
    }
}
