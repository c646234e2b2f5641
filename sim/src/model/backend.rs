//! The scheduler backend behind every simulated primitive: real OS threads (`std`), shuttle's
//! controlled scheduler, or loom's exhaustive one — chosen per run, in one build.
//!
//! Each primitive is an enum picked when it is created, from the backend of the run that creates
//! it. Per-task state is found through the backend's own notion of "current task" (three
//! thread-local keys, one per backend): loom and shuttle run every task of an execution as a
//! coroutine on one OS thread, so a plain `std::thread_local!` would be shared by all of them.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::task::TaskCell;

/// Which scheduler runs the tasks of the current run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// Real OS threads; not deterministic across runs with more than one task.
    Std,
    /// shuttle: random, PCT, bounded DFS or replay.
    Shuttle,
    /// loom: exhaustive exploration with a preemption bound.
    Loom,
}

std::thread_local! {
    /// The backend of the run this OS thread is executing, if any.
    static BACKEND: Cell<Option<BackendKind>> = const { Cell::new(None) };
    /// The std backend's current task (owned), and for the hot path a pointer to it and the
    /// number of live [`CurrentTask`] borrows: no destructors, so reading them is a plain load.
    static STD_TASK: StdSlot = const { StdSlot(RefCell::new(None)) };
    static STD_CURRENT: Cell<*const TaskCell> = const { Cell::new(std::ptr::null()) };
    static STD_BORROWS: Cell<usize> = const { Cell::new(0) };
    /// Interrupt tasks raised and not yet arrived in the shuttle or loom execution running on
    /// this OS thread (all its tasks share it): while 0 no scheduling point opens an irq
    /// window, and the hot path pays one load.
    static IRQS_PENDING: Cell<u32> = const { Cell::new(0) };
}

/// Counts an interrupt task raised (`+1`) or arrived (`-1`) on this OS thread; `None` resets
/// the count (a new execution).
pub(crate) fn irqs_pending(delta: Option<i32>) {
    IRQS_PENDING.set(match delta {
        Some(d) => IRQS_PENDING.get().saturating_add_signed(d),
        None => 0,
    });
}

/// Owns the std backend's current task.
struct StdSlot(RefCell<Option<Arc<TaskCell>>>);

impl Drop for StdSlot {
    fn drop(&mut self) {
        // At thread exit: no later lookup may find the task, and a borrow still alive (one kept
        // in another thread-local) must not dangle.
        STD_CURRENT.set(std::ptr::null());
        if STD_BORROWS.get() > 0 {
            std::mem::forget(self.0.take());
        }
    }
}

/// The current task, as `current()` returns it. Under std it borrows the OS thread's slot: an
/// `Arc` clone is two locked instructions, and the hot paths look the current task up several
/// times per simulated call (a 4 KiB brd write did some thirty). The slot cannot be replaced while
/// a borrow is alive ([`set_current_task`] checks), and a borrow cannot leave its thread (the
/// pointer makes it `!Send`). Under shuttle and loom, whose tasks share one OS thread and switch
/// at scheduling points, it is a counted reference.
pub(crate) struct CurrentTask {
    /// The task: `Arc::as_ptr` of the slot's `Arc` (std) or of `owned`.
    task: std::ptr::NonNull<TaskCell>,
    /// The counted reference under shuttle and loom; `None` for a borrow of the std slot.
    owned: Option<Arc<TaskCell>>,
}

impl CurrentTask {
    /// The task's state: [`TaskCell::state`] without its owner check, which a `CurrentTask`
    /// makes true by construction (it names the task installed on this OS thread, where
    /// `set_current_task` bound it, and cannot leave the thread).
    #[inline]
    pub(crate) fn state(&self) -> std::cell::RefMut<'_, super::task::TaskState> {
        // SAFETY: see above.
        unsafe { self.task.as_ref().state_unchecked() }
    }

    fn owned(task: Arc<TaskCell>) -> Self {
        CurrentTask { task: std::ptr::NonNull::from(&*task), owned: Some(task) }
    }

    /// A counted reference, to keep beyond the call.
    pub(crate) fn arc(&self) -> Arc<TaskCell> {
        match &self.owned {
            Some(a) => a.clone(),
            // SAFETY: the pointer came from `Arc::as_ptr` of the slot's `Arc`, which is alive
            // while this borrow is (see the type's comment); the count taken here is the new
            // `Arc`'s own.
            None => unsafe {
                Arc::increment_strong_count(self.task.as_ptr());
                Arc::from_raw(self.task.as_ptr())
            },
        }
    }
}

impl std::ops::Deref for CurrentTask {
    type Target = TaskCell;

    #[inline]
    fn deref(&self) -> &TaskCell {
        // SAFETY: the task is alive while `self` is: `owned` holds it, or the std slot does (as
        // in `arc`).
        unsafe { self.task.as_ref() }
    }
}

impl Drop for CurrentTask {
    #[inline]
    fn drop(&mut self) {
        if self.owned.is_none() {
            STD_BORROWS.set(STD_BORROWS.get() - 1);
        }
    }
}
shuttle::thread_local! {
    static SHUTTLE_TASK: RefCell<Option<Arc<TaskCell>>> = RefCell::new(None);
}
loom::thread_local! {
    static LOOM_TASK: RefCell<Option<Arc<TaskCell>>> = RefCell::new(None);
}

/// The backend of the current run. Code that runs outside a runner fails loudly here rather than
/// silently falling back to real threads (the prototype's pitfall 3).
pub(crate) fn backend() -> BackendKind {
    BACKEND.with(|b| b.get()).unwrap_or_else(|| {
        panic!("ksim: simulated kernel API used outside a Runner (call it inside Runner::run)")
    })
}

/// The backend if a run is active on this OS thread.
#[inline]
pub(crate) fn try_backend() -> Option<BackendKind> {
    BACKEND.with(|b| b.get())
}

pub(crate) fn set_backend(kind: Option<BackendKind>) -> Option<BackendKind> {
    BACKEND.with(|b| b.replace(kind))
}

/// The current simulated task, if one is installed on the current backend task.
#[inline(always)]
pub(crate) fn current_task() -> Option<CurrentTask> {
    // Set only while a std task runs on this thread, so it answers first, without the backend.
    if let Some(task) = std::ptr::NonNull::new(STD_CURRENT.get().cast_mut()) {
        STD_BORROWS.set(STD_BORROWS.get() + 1);
        return Some(CurrentTask { task, owned: None });
    }
    match try_backend()? {
        BackendKind::Std => None,
        BackendKind::Shuttle => SHUTTLE_TASK.with(|t| t.borrow().clone()).map(CurrentTask::owned),
        BackendKind::Loom => LOOM_TASK.with(|t| t.borrow().clone()).map(CurrentTask::owned),
    }
}

pub(crate) fn set_current_task(task: Option<Arc<TaskCell>>) {
    if let Some(t) = &task {
        t.bind();
    }
    match backend() {
        BackendKind::Std => STD_TASK.with(|s| {
            assert_eq!(STD_BORROWS.get(), 0, "ksim: the current task was replaced while borrowed");
            STD_CURRENT.set(task.as_ref().map_or(std::ptr::null(), Arc::as_ptr));
            *s.0.borrow_mut() = task;
        }),
        BackendKind::Shuttle => SHUTTLE_TASK.with(|t| *t.borrow_mut() = task),
        BackendKind::Loom => LOOM_TASK.with(|t| *t.borrow_mut() = task),
    }
}

/// Give other tasks a chance to run (a scheduling point).
pub(crate) fn yield_now() {
    match backend() {
        BackendKind::Std => std::thread::yield_now(),
        BackendKind::Shuttle => shuttle::thread::yield_now(),
        BackendKind::Loom => loom::thread::yield_now(),
    }
    after_point();
}

/// After every scheduling point of a task under shuttle or loom: the irq window, where a
/// pending interrupt may arrive on this task's CPU (`cpu`). Nothing under std (no task of a
/// std run waits anywhere an interrupt could find it) or outside a task.
#[inline]
pub(crate) fn after_point() {
    if IRQS_PENDING.get() == 0 || !STD_CURRENT.get().is_null() {
        return;
    }
    if matches!(try_backend(), None | Some(BackendKind::Std)) {
        return;
    }
    if let Some(t) = current_task() {
        super::cpu::window(&t);
    }
}

/// A blocking lock of the current backend. Simulated spinlocks use it too: shuttle's DFS does not
/// terminate on spin loops, and a blocked task is simply not schedulable, which explores the same
/// interleavings as spinning.
pub(crate) enum RawMutex<T> {
    Std(std::sync::Mutex<T>),
    Shuttle(shuttle::sync::Mutex<T>),
    Loom(loom::sync::Mutex<T>),
}

pub(crate) enum RawGuard<'a, T> {
    Std(std::sync::MutexGuard<'a, T>),
    Shuttle(shuttle::sync::MutexGuard<'a, T>),
    Loom(loom::sync::MutexGuard<'a, T>),
}

impl<T> RawMutex<T> {
    pub(crate) fn new(value: T) -> Self {
        match backend() {
            BackendKind::Std => RawMutex::Std(std::sync::Mutex::new(value)),
            BackendKind::Shuttle => RawMutex::Shuttle(shuttle::sync::Mutex::new(value)),
            BackendKind::Loom => RawMutex::Loom(loom::sync::Mutex::new(value)),
        }
    }

    /// Blocks until the lock is taken. A poisoned lock (its holder's task failed a check) is
    /// taken anyway: the failure is already reported.
    pub(crate) fn lock(&self) -> RawGuard<'_, T> {
        let g = self.lock_quiet();
        after_point();
        g
    }

    /// [`RawMutex::lock`] without the irq window after it (the interrupt model's own waits).
    pub(crate) fn lock_quiet(&self) -> RawGuard<'_, T> {
        match self {
            RawMutex::Std(m) => RawGuard::Std(m.lock().unwrap_or_else(|e| e.into_inner())),
            RawMutex::Shuttle(m) => RawGuard::Shuttle(m.lock().unwrap_or_else(|e| e.into_inner())),
            RawMutex::Loom(m) => {
                RawGuard::Loom(loom_blocking(|| m.lock()).unwrap_or_else(|e| e.into_inner()))
            }
        }
    }

    pub(crate) fn try_lock(&self) -> Option<RawGuard<'_, T>> {
        let g = self.try_lock_quiet();
        after_point();
        g
    }

    fn try_lock_quiet(&self) -> Option<RawGuard<'_, T>> {
        use std::sync::TryLockError as E;
        macro_rules! try_it {
            ($m:expr, $v:ident) => {
                match $m.try_lock() {
                    Ok(g) => Some(RawGuard::$v(g)),
                    Err(E::Poisoned(e)) => Some(RawGuard::$v(e.into_inner())),
                    Err(E::WouldBlock) => None,
                }
            };
        }
        match self {
            RawMutex::Std(m) => try_it!(m, Std),
            RawMutex::Shuttle(m) => try_it!(m, Shuttle),
            RawMutex::Loom(m) => try_it!(m, Loom),
        }
    }
}

impl<T> std::ops::Deref for RawGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            RawGuard::Std(g) => g,
            RawGuard::Shuttle(g) => g,
            RawGuard::Loom(g) => g,
        }
    }
}

impl<T> std::ops::DerefMut for RawGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match self {
            RawGuard::Std(g) => g,
            RawGuard::Shuttle(g) => g,
            RawGuard::Loom(g) => g,
        }
    }
}

/// A condition variable of the current backend, paired with a [`RawMutex`] of the same one.
pub(crate) enum RawCondvar {
    Std(std::sync::Condvar),
    Shuttle(shuttle::sync::Condvar),
    Loom(loom::sync::Condvar),
}

impl RawCondvar {
    pub(crate) fn new() -> Self {
        match backend() {
            BackendKind::Std => RawCondvar::Std(std::sync::Condvar::new()),
            BackendKind::Shuttle => RawCondvar::Shuttle(shuttle::sync::Condvar::new()),
            BackendKind::Loom => RawCondvar::Loom(loom::sync::Condvar::new()),
        }
    }

    /// Waits for a notification, releasing `g` meanwhile; under std it also returns after
    /// `poll` (the caller re-checks, and may find every task waiting). No irq window: the
    /// model's own waits hold bookkeeping mutexes here, and an interrupt must not find a
    /// task holding one.
    pub(crate) fn wait_quiet<'a, T>(&self, g: RawGuard<'a, T>, poll: std::time::Duration) -> RawGuard<'a, T> {
        match (self, g) {
            (RawCondvar::Std(c), RawGuard::Std(g)) => {
                RawGuard::Std(c.wait_timeout(g, poll).map(|(g, _)| g).unwrap_or_else(|e| e.into_inner().0))
            }
            (RawCondvar::Shuttle(c), RawGuard::Shuttle(g)) => {
                RawGuard::Shuttle(c.wait(g).unwrap_or_else(|e| e.into_inner()))
            }
            (RawCondvar::Loom(c), RawGuard::Loom(g)) => {
                RawGuard::Loom(loom_blocking(|| c.wait(g)).unwrap_or_else(|e| e.into_inner()))
            }
            _ => unreachable!("a condvar and a mutex of different backends"),
        }
    }

    pub(crate) fn notify_all(&self) {
        match self {
            RawCondvar::Std(c) => c.notify_all(),
            RawCondvar::Shuttle(c) => c.notify_all(),
            RawCondvar::Loom(c) => c.notify_all(),
        }
    }
}

/// A one-shot event: [`RawEvent::wait`] blocks until [`RawEvent::set`].
pub(crate) struct RawEvent {
    set: RawMutex<bool>,
    cv: RawCondvar,
}

impl RawEvent {
    pub(crate) fn new() -> Self {
        RawEvent { set: RawMutex::new(false), cv: RawCondvar::new() }
    }

    pub(crate) fn set(&self) {
        *self.set.lock_quiet() = true;
        self.cv.notify_all();
    }

    pub(crate) fn wait(&self) {
        let mut g = self.set.lock_quiet();
        while !*g {
            g = self.cv.wait_quiet(g, std::time::Duration::from_millis(10));
        }
    }
}

/// A counting semaphore of the current backend, with no guard: the lock word of every lock
/// type built on `model::lock` (a reader takes one permit, a writer all of them), so the C
/// face can lock and unlock in separate calls.
pub(crate) struct RawSem {
    avail: RawMutex<i64>,
    cv: RawCondvar,
}

impl RawSem {
    pub(crate) fn new(permits: i64) -> Self {
        RawSem { avail: RawMutex::new(permits), cv: RawCondvar::new() }
    }

    /// Takes `n` permits, blocking until they are free. The semaphore's own mutex is
    /// bookkeeping: the irq window comes after it is released.
    pub(crate) fn acquire(&self, n: i64) {
        {
            let mut g = self.avail.lock_quiet();
            while *g < n {
                g = self.cv.wait_quiet(g, std::time::Duration::from_millis(10));
            }
            *g -= n;
        }
        after_point();
    }

    /// Takes `n` permits if they are free.
    pub(crate) fn try_acquire(&self, n: i64) -> bool {
        let ok = {
            let mut g = self.avail.lock_quiet();
            let ok = *g >= n;
            if ok {
                *g -= n;
            }
            ok
        };
        after_point();
        ok
    }

    pub(crate) fn release(&self, n: i64) {
        *self.avail.lock_quiet() += n;
        self.cv.notify_all();
    }
}

/// A word of the current backend that drivers race on (atomic_t, page counters).
pub(crate) enum RawAtomic {
    Std(std::sync::atomic::AtomicI64),
    Shuttle(shuttle::sync::atomic::AtomicI64),
    Loom(loom::sync::atomic::AtomicI64),
}

impl RawAtomic {
    pub(crate) fn new(v: i64) -> Self {
        match backend() {
            BackendKind::Std => RawAtomic::Std(std::sync::atomic::AtomicI64::new(v)),
            BackendKind::Shuttle => RawAtomic::Shuttle(shuttle::sync::atomic::AtomicI64::new(v)),
            BackendKind::Loom => RawAtomic::Loom(loom::sync::atomic::AtomicI64::new(v)),
        }
    }

    pub(crate) fn load(&self) -> i64 {
        use std::sync::atomic::Ordering::SeqCst;
        let v = match self {
            RawAtomic::Std(a) => a.load(SeqCst),
            RawAtomic::Shuttle(a) => a.load(SeqCst),
            RawAtomic::Loom(a) => a.load(SeqCst),
        };
        after_point();
        v
    }

    pub(crate) fn store(&self, v: i64) {
        use std::sync::atomic::Ordering::SeqCst;
        match self {
            RawAtomic::Std(a) => a.store(v, SeqCst),
            RawAtomic::Shuttle(a) => a.store(v, SeqCst),
            RawAtomic::Loom(a) => a.store(v, SeqCst),
        }
        after_point();
    }

    pub(crate) fn fetch_add(&self, v: i64) -> i64 {
        let old = self.fetch_add_quiet(v);
        after_point();
        old
    }

    /// [`RawAtomic::fetch_add`] without the irq window after it (the interrupt model's own word).
    pub(crate) fn fetch_add_quiet(&self, v: i64) -> i64 {
        use std::sync::atomic::Ordering::SeqCst;
        match self {
            RawAtomic::Std(a) => a.fetch_add(v, SeqCst),
            RawAtomic::Shuttle(a) => a.fetch_add(v, SeqCst),
            RawAtomic::Loom(a) => a.fetch_add(v, SeqCst),
        }
    }

    pub(crate) fn compare_exchange(&self, old: i64, new: i64) -> Result<i64, i64> {
        use std::sync::atomic::Ordering::SeqCst;
        let r = match self {
            RawAtomic::Std(a) => a.compare_exchange(old, new, SeqCst, SeqCst),
            RawAtomic::Shuttle(a) => a.compare_exchange(old, new, SeqCst, SeqCst),
            RawAtomic::Loom(a) => a.compare_exchange(old, new, SeqCst, SeqCst),
        };
        after_point();
        r
    }
}

/// Makes model state that drivers race on without a lock (radix-tree slots read under RCU, page
/// ownership) visible to loom: loom reorders only operations on loom objects, so an unlocked read
/// and a write of such state must each touch a loom atomic or loom never explores their two
/// orders (the prototype's pitfall 1). Inert under std and shuttle.
pub struct Ghost(Option<loom::sync::atomic::AtomicUsize>);

impl Ghost {
    /// Whether this ghost is a loom atomic (the run is under loom).
    #[inline]
    pub(crate) fn is_loom(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn new() -> Self {
        match try_backend() {
            Some(BackendKind::Loom) => Ghost(Some(loom::sync::atomic::AtomicUsize::new(0))),
            _ => Ghost(None),
        }
    }

    /// An unlocked read of the guarded state.
    pub(crate) fn read(&self) {
        if let Some(a) = &self.0 {
            a.load(std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// A write of the guarded state.
    pub(crate) fn write(&self) {
        if let Some(a) = &self.0 {
            a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

impl std::fmt::Debug for Ghost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ghost")
    }
}

/// A spawned backend task.
pub(crate) enum RawJoin<T> {
    Std(std::thread::JoinHandle<T>),
    Shuttle(shuttle::thread::JoinHandle<T>),
    Loom(loom::thread::JoinHandle<T>),
}

pub(crate) type JoinResult<T> = Result<T, Box<dyn std::any::Any + Send + 'static>>;

impl<T> RawJoin<T> {
    pub(crate) fn join(self) -> JoinResult<T> {
        let r = match self {
            RawJoin::Std(h) => h.join(),
            RawJoin::Shuttle(h) => h.join(),
            RawJoin::Loom(h) => loom_blocking(|| h.join()),
        };
        after_point();
        r
    }
}

/// Runs a loom operation that may block. loom detects a deadlock inside the task that blocks
/// last and panics right there, so without this the panic would reach that task's own handler
/// and be reported as a plain panic of the task ("ksim: task X panicked: deadlock; threads =
/// ..."), not as a deadlock with the held locks (found by sim/tests/locking.rs). Record it as a
/// deadlock first; the task's handler then sees the failed execution and stays quiet. shuttle
/// detects deadlocks in its scheduler, outside every task, where the runner classifies them.
fn loom_blocking<R>(f: impl FnOnce() -> R) -> R {
    // Looked up before blocking: after a deadlock loom has no active thread, and its
    // thread-locals (where the current task is kept) can no longer be read.
    let task = current_task();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            let payload = super::panic::payload_text(&*p);
            if payload.starts_with("deadlock") {
                if let Some(t) = task.filter(|t| !t.exec.failed()) {
                    let msg = super::panic::take_last_panic().unwrap_or(payload);
                    t.exec.record_deadlock(&msg);
                }
            }
            std::panic::resume_unwind(p)
        }
    }
}

/// Spawns `f` as a new backend task. Under std the new OS thread inherits the run's backend.
pub(crate) fn spawn_raw<T, F>(name: String, f: F) -> RawJoin<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match backend() {
        BackendKind::Std => {
            let hook = super::panic::in_run();
            let h = std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    set_backend(Some(BackendKind::Std));
                    super::panic::set_in_run(hook);
                    f()
                })
                .expect("ksim: the host could not spawn a thread");
            RawJoin::Std(h)
        }
        BackendKind::Shuttle => {
            let h = shuttle::thread::Builder::new()
                .name(name)
                .stack_size(super::runner::TASK_STACK)
                .spawn(f)
                .expect("shuttle spawn");
            after_point();
            RawJoin::Shuttle(h)
        }
        BackendKind::Loom => {
            // loom hands the size to its coroutine library in words.
            let h = loom::thread::Builder::new()
                .stack_size(super::runner::TASK_STACK / std::mem::size_of::<usize>())
                .spawn(f)
                .expect("loom spawn");
            after_point();
            RawJoin::Loom(h)
        }
    }
}
