//! Per-task kernel state: the `task_struct` fields the checks read (preempt_count, irq flag, RCU
//! nesting, non_block count, memalloc scope, held locks, where preemption was disabled) and a
//! simulated call stack for reports.
//!
//! Like `current->preempt_count`, the state is written only by its own task, on every context
//! change of every simulated API call, so it must cost what a field update costs: no lock, no
//! atomic read-modify-write. It lives in a [`ThreadBound`] `RefCell` that only the OS thread
//! running the task can reach. The one field other tasks read, the RCU reader state that
//! `synchronize_rcu()` waits on, is mirrored in [`TaskCell::rcu`] atomics.

use crate::defs::loc::Loc;
use std::cell::{RefCell, RefMut};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

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
    pub at: Loc,
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
    /// `raw_spinlock_t`.
    RawSpin,
    /// `rwlock_t`.
    RwLock,
    /// `struct rw_semaphore`.
    RwSem,
    /// A lockdep map that is no lock (a timer's or work item's `lockdep_map`): it orders
    /// dependencies but waits for nothing itself.
    Map,
}

impl LockKind {
    /// lockdep's wait type (`{n:n}`): `LD_WAIT_SPIN` 2, `LD_WAIT_CONFIG` 3 with
    /// `PROVE_RAW_LOCK_NESTING` (else the same as SPIN), `LD_WAIT_SLEEP` (4, or 3 without
    /// nesting), and 0 (`LD_WAIT_INV`, not checked) for maps.
    pub fn wait_type(self, nesting: bool) -> u8 {
        let config = if nesting { 3 } else { 2 };
        match self {
            LockKind::RawSpin => 2,
            LockKind::Spin | LockKind::RwLock => config,
            LockKind::Mutex | LockKind::RwSem => config + 1,
            LockKind::Map => 0,
        }
    }
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
    /// Taken for reading (`read_lock`, `down_read`): readers share it.
    pub read: bool,
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
    /// Mappings made so far (for their ids).
    pub kmaps_made: u32,
    /// `current->pagefault_disabled` (`pagefault_disable()` nesting).
    pub pagefault_disabled: u32,
}

/// One `kmap_atomic()` / `kmap_local_page()` mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmapSlot {
    /// Mapping id (in the `KAddr`s it produced): the task's pid above its own count, unique in
    /// the execution without a shared counter.
    pub id: u64,
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
            TaskKind::HardIrq(_) => (crate::defs::preempt_mask::HARDIRQ_OFFSET, true),
            TaskKind::SoftIrq => (crate::defs::preempt_mask::SOFTIRQ_OFFSET, false),
            _ => (0, false),
        };
        TaskState {
            preempt_count,
            irqs_disabled,
            rcu_depth: 0,
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
            kmaps_made: 0,
            pagefault_disabled: 0,
        }
    }

    /// The context a task of `kind` starts and must end with.
    pub fn initial(kind: TaskKind) -> (u32, bool) {
        let s = TaskState::new(kind);
        (s.preempt_count, s.irqs_disabled)
    }
}

std::thread_local! {
    /// One byte per OS thread: its address names the thread (cheaper than `thread::current()`,
    /// which clones an `Arc`).
    static THREAD_KEY: u8 = const { 0 };
}

/// The calling OS thread's [`THREAD_KEY`] address (never 0).
#[inline]
fn thread_key() -> usize {
    THREAD_KEY.with(|k| k as *const u8 as usize)
}

/// A value only the OS thread it is bound to may reach; no thread may before it is bound.
///
/// Under std each task runs on its own OS thread; shuttle and loom run all tasks of an execution
/// as coroutines on one OS thread, switching only at scheduling points, and no borrow of the
/// value spans one (the `RefCell` would refuse a second borrow).
pub struct ThreadBound<T> {
    /// [`thread_key`] of the owner; 0 until bound.
    owner: AtomicUsize,
    value: T,
}

// SAFETY: `&T` is handed out only on the owner thread (checked in `get`), so sharing a
// `ThreadBound` between threads never shares the `T`; moving it moves the `T` (`T: Send`). The
// owner is set once, before any access. After the owner thread exits a new thread may get the
// same key; the old owner's accesses all happened before its exit.
unsafe impl<T: Send> Sync for ThreadBound<T> {}

impl<T> ThreadBound<T> {
    fn new(value: T) -> Self {
        ThreadBound { owner: AtomicUsize::new(0), value }
    }

    /// Binds the value to the calling thread (again: a no-op). Binding from a second thread
    /// while the first may still run is a ksim bug.
    fn bind(&self) {
        let me = thread_key();
        if let Err(other) = self.owner.compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed) {
            assert_eq!(other, me, "ksim: a task was installed on a second OS thread");
        }
    }

    /// The value, if the calling thread owns it.
    #[inline]
    fn try_get(&self) -> Option<&T> {
        (self.owner.load(Ordering::Relaxed) == thread_key()).then_some(&self.value)
    }

    #[inline]
    #[track_caller]
    fn get(&self) -> &T {
        self.try_get().expect("ksim: a task's state was accessed from another OS thread")
    }
}

impl<T> std::fmt::Debug for ThreadBound<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThreadBound(..)")
    }
}

/// The task's RCU reader state, which other tasks' grace periods read. Only the task writes it,
/// so a write is a load and a release store (a plain store on x86), never a locked operation.
#[derive(Debug, Default)]
pub struct RcuReader {
    /// Read-side nesting in either flavour.
    readers: AtomicU32,
    /// Incremented at each outermost `rcu_read_lock()`, so a grace period can tell a reader that
    /// left and came back from one that never left.
    section: AtomicU64,
}

impl RcuReader {
    /// `rcu_read_lock()`'s part, by the task itself.
    pub(crate) fn enter(&self) {
        let n = self.readers.load(Ordering::Relaxed);
        if n == 0 {
            self.section.store(self.section.load(Ordering::Relaxed) + 1, Ordering::Release);
        }
        self.readers.store(n + 1, Ordering::Release);
    }

    /// `rcu_read_unlock()`'s part, by the task itself.
    pub(crate) fn exit(&self) {
        let n = self.readers.load(Ordering::Relaxed);
        self.readers.store(n.saturating_sub(1), Ordering::Release);
    }

    /// Read-side nesting.
    pub fn depth(&self) -> u32 {
        self.readers.load(Ordering::Acquire)
    }

    /// The section the task is in, if it is in one.
    pub fn section(&self) -> Option<u64> {
        let s = self.section.load(Ordering::Acquire);
        (self.depth() > 0).then_some(s)
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
    /// The RCU reader state, for other tasks' grace periods.
    pub rcu: RcuReader,
    /// `signal_pending()`: set by `send_sig()` from any task.
    pub(crate) signal: std::sync::atomic::AtomicBool,
    state: ThreadBound<RefCell<TaskState>>,
}

impl TaskCell {
    pub(crate) fn new(pid: u32, name: Arc<str>, kind: TaskKind, exec: Arc<Exec>) -> Self {
        let state = ThreadBound::new(RefCell::new(TaskState::new(kind)));
        TaskCell { pid, name, kind, exec, rcu: RcuReader::default(), signal: Default::default(), state }
    }

    /// Binds the task to the OS thread that runs it (when it is installed as current).
    pub(crate) fn bind(&self) {
        self.state.bind();
    }

    /// The task's state, from the task itself. Model bookkeeping only: never held across a
    /// scheduling point or another API call.
    #[inline]
    #[track_caller]
    pub fn state(&self) -> RefMut<'_, TaskState> {
        self.state.get().borrow_mut()
    }

    /// [`TaskCell::state`] without the owner check.
    ///
    /// # Safety
    /// The calling OS thread must be the one the task is bound to: the caller holds the
    /// thread's `CurrentTask` for this task.
    #[inline]
    pub(crate) unsafe fn state_unchecked(&self) -> RefMut<'_, TaskState> {
        self.state.value.borrow_mut()
    }

    /// The task's state if the calling OS thread runs it and it is not borrowed (reports about
    /// every task, made when all are blocked).
    pub fn try_state(&self) -> Option<RefMut<'_, TaskState>> {
        self.state.try_get()?.try_borrow_mut().ok()
    }
}
