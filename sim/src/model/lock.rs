//! The guard-less lock every new lock type is built on (`raw_spinlock_t`, `rwlock_t`,
//! `struct rw_semaphore`, and the C face's `spinlock_t` / `struct mutex`): the kernel's steps
//! in the kernel's order — for a spinning lock `__raw_spin_lock()`'s irq/bh/preempt changes,
//! for a sleeping one `might_sleep()`; then lockdep's acquire (irq usage, wait context,
//! dependencies); then the lock word, a scheduling point — and on release the same backwards.
//! A lock and an unlock are separate calls, so C can make them; the Rust types wrap them in
//! guards.

use crate::defs::loc::Loc;
use crate::defs::preempt_mask::{PREEMPT_OFFSET, SOFTIRQ_LOCK_OFFSET};

use super::backend::RawSem;
use super::context::{bh_disable, bh_enable, count_add, count_sub, set_irqs};
use super::lockdep::{lock_acquire_as, lock_release, Acquire};
use super::sleep::{might_sleep_at, schedule_debug};
use super::task::{LockKind, Site, TaskCell};

/// The lock word's permits: a writer takes them all, a reader one.
const PERMITS: i64 = 1 << 30;

/// What a spinning lock does to the irq and bh state around itself (`spin_lock`,
/// `spin_lock_irq`, `spin_lock_irqsave`, `spin_lock_bh`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// Preemption only.
    Plain,
    /// Disables irqs; unlocking enables them unconditionally.
    Irq,
    /// Disables irqs; unlocking restores the state saved here (`true`: they were disabled).
    IrqSave(bool),
    /// Disables bottom halves (`SOFTIRQ_LOCK_OFFSET`).
    Bh,
}

/// A kernel lock of any kind, without a guard. Create it inside a run.
pub struct KernelLock {
    name: &'static str,
    kind: LockKind,
    word: RawSem,
}

impl std::fmt::Debug for KernelLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KernelLock({}, {:?})", self.name, self.kind)
    }
}

fn spins(kind: LockKind) -> bool {
    matches!(kind, LockKind::Spin | LockKind::RawSpin | LockKind::RwLock)
}

impl KernelLock {
    /// A new unlocked lock of `kind` whose lockdep class is `name` (`spin_lock_init`,
    /// `raw_spin_lock_init`, `rwlock_init`, `init_rwsem`, `mutex_init`).
    #[track_caller]
    pub fn new(kind: LockKind, name: &'static str) -> Self {
        let _ = super::current_in(kind_api(kind));
        KernelLock { name, kind, word: RawSem::new(PERMITS) }
    }

    /// The lockdep class name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The lock's kind.
    pub fn kind(&self) -> LockKind {
        self.kind
    }

    fn id(&self) -> usize {
        self as *const Self as usize
    }

    /// The instance lockdep knows it by (`lockdep_is_held`).
    pub fn instance(&self) -> usize {
        self.id()
    }

    fn enter(&self, t: &TaskCell, flavour: Flavour, site: Site) {
        let count = t.exec.config().preempt_count;
        let preempt = if count { PREEMPT_OFFSET } else { 0 };
        match flavour {
            Flavour::Bh => bh_disable(t, SOFTIRQ_LOCK_OFFSET - PREEMPT_OFFSET + preempt, site),
            Flavour::Irq | Flavour::IrqSave(_) => {
                set_irqs(t, true, site);
                if count {
                    count_add(t, PREEMPT_OFFSET, site);
                }
            }
            Flavour::Plain => {
                if count {
                    count_add(t, PREEMPT_OFFSET, site);
                }
            }
        }
    }

    fn leave(&self, t: &TaskCell, flavour: Flavour, site: Site) {
        let count = t.exec.config().preempt_count;
        let preempt = if count { PREEMPT_OFFSET } else { 0 };
        match flavour {
            Flavour::Bh => bh_enable(t, SOFTIRQ_LOCK_OFFSET - PREEMPT_OFFSET + preempt, site),
            Flavour::Irq | Flavour::IrqSave(_) => {
                if count {
                    count_sub(t, PREEMPT_OFFSET, site);
                }
                set_irqs(t, matches!(flavour, Flavour::IrqSave(true)), site);
            }
            Flavour::Plain => {
                if count {
                    count_sub(t, PREEMPT_OFFSET, site);
                }
            }
        }
    }

    /// Takes the lock at `at` as the API `op` (`"write_lock_irqsave"`...), for reading or
    /// writing. Sleeping kinds ignore `flavour` (they have no irq variants).
    ///
    /// # Context
    /// Spinning kinds: any context but NMI; the holder is atomic. Sleeping kinds: process
    /// context, `might_sleep()` on every call.
    pub fn lock_at(&self, at: Loc, op: &'static str, flavour: Flavour, read: bool) {
        let t = super::current_in(op);
        let site = Site { at, op };
        let n = if read { 1 } else { PERMITS };
        let how = Acquire { kind: self.kind, read, trylock: false };
        if spins(self.kind) {
            self.enter(&t, flavour, site);
            lock_acquire_as(&t, self.name, self.id(), how, site);
            super::cpu::spin_deadlock_check(&t, self.name, self.id(), read, at);
            self.word.acquire(n);
        } else {
            might_sleep_at(at, op, None);
            lock_acquire_as(&t, self.name, self.id(), how, site);
            if !self.word.try_acquire(n) {
                schedule_debug(&t, at, op);
                self.word.acquire(n);
            }
        }
    }

    /// The trylock form: takes the lock only if it is free now; never sleeps or spins.
    pub fn try_lock_at(&self, at: Loc, op: &'static str, flavour: Flavour, read: bool) -> bool {
        let t = super::current_in(op);
        let site = Site { at, op };
        let n = if read { 1 } else { PERMITS };
        let spinning = spins(self.kind);
        if spinning {
            self.enter(&t, flavour, site);
        }
        if !self.word.try_acquire(n) {
            if spinning {
                self.leave(&t, flavour, site);
            }
            return false;
        }
        lock_acquire_as(&t, self.name, self.id(), Acquire { kind: self.kind, read, trylock: true }, site);
        true
    }

    /// Releases the lock at `at` as the API `op`, undoing what `flavour` did.
    pub fn unlock_at(&self, at: Loc, op: &'static str, flavour: Flavour, read: bool) {
        let t = super::current_in(op);
        if std::thread::panicking() {
            self.word.release(if read { 1 } else { PERMITS });
            return;
        }
        let held = lock_release(&t, self.name, self.id(), at, op);
        if held {
            self.word.release(if read { 1 } else { PERMITS });
        }
        if spins(self.kind) {
            self.leave(&t, flavour, Site { at, op });
        }
    }

    /// `downgrade_write()`: a writer becomes a reader without letting another writer in.
    pub fn downgrade_at(&self, at: Loc) {
        let t = super::current_in("downgrade_write");
        {
            let mut st = t.state();
            if let Some(h) = st.held.iter_mut().rev().find(|h| h.instance == self.id()) {
                h.read = true;
            }
        }
        t.exec.emit(&t, super::trace::Cat::Lock, "downgrade_write", || format!("{} at {at}", self.name));
        self.word.release(PERMITS - 1);
    }
}

fn kind_api(kind: LockKind) -> &'static str {
    match kind {
        LockKind::Spin => "spin_lock_init()",
        LockKind::RawSpin => "raw_spin_lock_init()",
        LockKind::RwLock => "rwlock_init()",
        LockKind::RwSem => "init_rwsem()",
        LockKind::Mutex => "mutex_init()",
        LockKind::Map => "lockdep_init_map()",
    }
}
