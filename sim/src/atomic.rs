//! `include/linux/atomic.h`: `atomic_t` / `atomic_long_t`. Each operation is a scheduling point
//! under shuttle and loom (drivers race on these), sequentially consistent.

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
