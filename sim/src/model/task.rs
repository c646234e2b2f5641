//! Per-task kernel state: the `task_struct` fields the checks read (preempt_count, irq flag, RCU
//! nesting, non_block count, memalloc scope, held locks, where preemption was disabled) and a
//! simulated call stack for reports.

use std::panic::Location;
use std::sync::{Arc, Mutex, MutexGuard};

use super::exec::Exec;

/// What kind of kernel thread of control a task is; decides its initial context and the wording
/// of its exit checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// The run's main task (process context).
    Main,
    /// A kthread (process context).
    Kthread,
    /// A workqueue worker running one work item (process context).
    Worker,
    /// A hardirq handler for this irq line (`HARDIRQ_OFFSET`, irqs disabled).
    HardIrq(u32),
    /// A softirq / tasklet (`SOFTIRQ_OFFSET`).
    SoftIrq,
}

/// A place in the source and the operation done there, e.g. `spin_lock` at `x.rs:31`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Site {
    /// Caller location (`#[track_caller]`).
    pub at: &'static Location<'static>,
    /// The API that was called there.
    pub op: &'static str,
}

impl Site {
    /// `file:line`.
    pub fn file_line(&self) -> String {
        format!("{}:{}", self.at.file(), self.at.line())
    }
}

/// How a held lock was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// `spinlock_t`.
    Spin,
    /// `struct mutex`.
    Mutex,
}

/// One entry of the task's held-lock stack (lockdep's `held_lock`).
#[derive(Clone, Debug)]
pub struct HeldLock {
    /// Lock class (lockdep key): the name given at creation.
    pub class: &'static str,
    /// The lock instance, to tell a true self-deadlock from same-class nesting.
    pub instance: usize,
    /// Spin or mutex.
    pub kind: LockKind,
    /// Where it was taken.
    pub site: Site,
}

/// A stamp and site of the last irq/softirq state change (lockdep's irqtrace fields).
#[derive(Clone, Copy, Debug, Default)]
pub struct IrqTraceStamp {
    /// Event number (per task).
    pub stamp: u64,
    /// Where.
    pub site: Option<Site>,
}

/// The task's irq-trace record, printed by reports when irqs are disabled.
#[derive(Clone, Copy, Debug, Default)]
pub struct IrqTrace {
    /// Counter of irq state events.
    pub events: u64,
    /// hardirqs last enabled.
    pub hardirq_on: IrqTraceStamp,
    /// hardirqs last disabled.
    pub hardirq_off: IrqTraceStamp,
    /// softirqs last enabled.
    pub softirq_on: IrqTraceStamp,
    /// softirqs last disabled.
    pub softirq_off: IrqTraceStamp,
}

/// The mutable part of a task.
#[derive(Debug)]
pub struct TaskState {
    /// `preempt_count()` as the profile lays it out.
    pub preempt_count: u32,
    /// `irqs_disabled()`.
    pub irqs_disabled: bool,
    /// `rcu_preempt_depth()` (PREEMPT_RCU only; classic RCU counts in preempt_count).
    pub rcu_depth: u32,
    /// RCU read-side nesting in either flavour, for grace periods.
    pub rcu_readers: u32,
    /// Incremented at each outermost `rcu_read_lock()`, so a grace period can tell a reader that
    /// left and came back from one that never left.
    pub rcu_section: u64,
    /// `current->non_block_count`.
    pub non_block: u32,
    /// `PF_MEMALLOC_NOIO`.
    pub memalloc_noio: bool,
    /// `PF_MEMALLOC_NOFS`.
    pub memalloc_nofs: bool,
    /// Held locks, outermost first.
    pub held: Vec<HeldLock>,
    /// Where preempt_count last went from 0 to non-zero.
    pub preempt_disabled_at: Option<Site>,
    /// Last irq state changes.
    pub irqtrace: IrqTrace,
    /// Simulated call stack (outermost first), pushed by `kfn!`.
    pub frames: Vec<&'static str>,
    /// Where the task entered the block I/O submission path (`current->bio_list` set), if it
    /// is inside it: a reclaim from here must not do I/O.
    pub io_path: Option<Site>,
    /// Live `kmap_atomic()` / `kmap_local_page()` mappings, innermost last (they nest strictly).
    pub kmaps: Vec<KmapSlot>,
    /// `radix_tree_preload()`'s per-CPU node pool (per task here: a task is a CPU while it has
    /// preemption disabled, which is when the pool is used).
    pub radix_preload: u32,
    /// `current->fail_nth` (`/proc/<pid>/fail-nth`).
    pub fail_nth: u64,
}

/// One `kmap_atomic()` / `kmap_local_page()` mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmapSlot {
    /// Mapping id (in the `KAddr`s it produced).
    pub id: u32,
    /// The page's frame.
    pub pfn: u64,
    /// `kmap_atomic` (true) or `kmap_local_page` (false).
    pub atomic: bool,
    /// Where it was mapped.
    pub site: Site,
}

impl TaskState {
    fn new(kind: TaskKind) -> Self {
        let (preempt_count, irqs_disabled) = match kind {
            TaskKind::HardIrq(_) => (crate::preempt::HARDIRQ_OFFSET, true),
            TaskKind::SoftIrq => (crate::preempt::SOFTIRQ_OFFSET, false),
            _ => (0, false),
        };
        TaskState {
            preempt_count,
            irqs_disabled,
            rcu_depth: 0,
            rcu_readers: 0,
            rcu_section: 0,
            non_block: 0,
            memalloc_noio: false,
            memalloc_nofs: false,
            held: Vec::new(),
            preempt_disabled_at: None,
            irqtrace: IrqTrace::default(),
            frames: Vec::new(),
            io_path: None,
            kmaps: Vec::new(),
            radix_preload: 0,
            fail_nth: 0,
        }
    }

    /// The context a task of `kind` starts and must end with.
    pub fn initial(kind: TaskKind) -> (u32, bool) {
        let s = TaskState::new(kind);
        (s.preempt_count, s.irqs_disabled)
    }
}

/// A simulated task: identity plus its state.
#[derive(Debug)]
pub struct TaskCell {
    /// Deterministic pid (the main task is 1; spawned tasks count up in spawn order).
    pub pid: u32,
    /// `comm`.
    pub name: Arc<str>,
    /// What kind of task.
    pub kind: TaskKind,
    /// The execution it belongs to.
    pub exec: Arc<Exec>,
    state: Mutex<TaskState>,
}

impl TaskCell {
    pub(crate) fn new(pid: u32, name: Arc<str>, kind: TaskKind, exec: Arc<Exec>) -> Self {
        TaskCell { pid, name, kind, exec, state: Mutex::new(TaskState::new(kind)) }
    }

    /// Locks the task's state. Model bookkeeping only: never held across a scheduling point.
    pub fn state(&self) -> MutexGuard<'_, TaskState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
