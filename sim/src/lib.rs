//! ksim: a simulated Linux kernel API for testing driver logic without a kernel.
//!
//! Driver code calls kernel-named functions (`spin_lock`, `might_sleep`, `alloc_page`, ...); the
//! model behind them keeps per-task context exactly as the kernel counts it and checks the
//! kernel's contracts, and a [`Runner`] executes the code under real threads, shuttle (random,
//! PCT, bounded DFS, replay) or loom — chosen at run time, in one build.
//!
//! ```
//! use ksim::prelude::*;
//!
//! let outcome = Runner::pct(1, 2, 50).run(|| {
//!     let lock = std::sync::Arc::new(SpinLock::new((), "demo.lock"));
//!     let l = lock.clone();
//!     let t = kthread_run("worker", move || {
//!         let _g = spin_lock(&l);
//!         might_sleep();
//!     });
//!     t.join();
//! });
//! let bug = outcome.first_report().expect("sleep in atomic is found");
//! assert_eq!(bug.kind, Violation::SleepInAtomic);
//! assert!(bug.text.contains("preempt_count: 1, expected: 0"));
//! ```

mod defs;

pub use defs::loc::Loc;
pub use defs::{errno, gfp};

pub mod atomic;
pub mod blk;
pub mod bottom_half;
pub mod check;
pub mod completion;
pub mod dax;
pub mod fault_inject;
pub mod ffi;
pub mod highmem;
pub mod hrtimer;
pub mod interrupt;
pub mod irqflags;
pub mod kref;
pub mod kthread;
pub mod locking;
pub mod mm;
pub mod model;
pub mod mutex;
pub mod preempt;
pub mod printk;
pub mod radix_tree;
pub mod raw_spinlock;
pub mod rcu_pointer;
pub mod rcupdate;
pub mod refcount;
pub mod rwlock;
pub mod rwsem;
pub mod sched;
pub mod sched_mm;
pub mod spinlock;
pub mod timer;
pub mod uaccess;
pub mod wait;
pub mod workqueue;
pub mod xarray;

pub use defs::config::{CheckMode, Config, MemConfig, Profile, RcuFlavour};
pub use errno::{Errno, KResult};
pub use model::report::{Report, Violation};
pub use model::runner::{Outcome, RunSpec, Runner, Scheduler, Token};
pub use model::trace::{Cat, Event, Trace};

/// Everything a driver or scenario usually needs.
pub mod prelude {
    pub use crate::atomic::Atomic;
    pub use crate::bottom_half::{local_bh_disable, local_bh_enable};
    pub use crate::errno::{Errno, KResult};
    pub use crate::interrupt::{
        free_irq, generate_irq, request_irq, synchronize_irq, tasklet_kill, tasklet_schedule, IrqReturn,
        Tasklet,
    };
    pub use crate::irqflags::{
        irqs_disabled, local_irq_disable, local_irq_enable, local_irq_restore, local_irq_save,
    };
    pub use crate::kthread::{kthread_run, kthread_stop, TaskHandle};
    pub use crate::mutex::{mutex_lock, mutex_lock_interruptible, mutex_trylock, mutex_unlock, Mutex};
    pub use crate::preempt::{
        in_atomic, in_interrupt, in_irq, in_softirq, preempt_count, preempt_disable, preempt_enable,
    };
    pub use crate::rcupdate::{rcu_read_lock, rcu_read_unlock, synchronize_rcu};
    pub use crate::sched::{
        cond_resched, might_sleep, might_sleep_contract, might_sleep_if, msleep, non_block_end,
        non_block_start, schedule,
    };
    pub use crate::spinlock::{
        spin_lock, spin_lock_bh, spin_lock_irq, spin_lock_irqsave, spin_trylock, spin_unlock,
        spin_unlock_irqrestore, SpinLock,
    };
    pub use crate::workqueue::{
        alloc_workqueue, destroy_workqueue, flush_work, flush_workqueue, queue_work, schedule_work,
        WorkStruct,
    };
    pub use crate::{bug_on, kfn};
    pub use crate::{
        CheckMode, Config, Outcome, Profile, RcuFlavour, Report, Runner, Scheduler, Trace, Violation,
    };
}
