//! `include/linux/workqueue.h`: work items run by worker threads in process context. Each queued
//! execution of a work item is its own worker task (`kworker/<wq>`), so the scheduler decides
//! when it runs relative to everything else.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::defs::loc::Loc;
use crate::model::sleep::might_sleep_at;
use crate::model::task::TaskKind;
use crate::model::{spawn_task, TaskHandle};

type WorkFn = dyn Fn() + Send + Sync + 'static;

struct WorkInner {
    name: &'static str,
    func: Box<WorkFn>,
    pending: AtomicBool,
    /// Bumped by a cancel: a queued execution from before it does not run.
    gen: std::sync::atomic::AtomicU64,
    running: Mutex<Vec<TaskHandle<()>>>,
}

/// `struct work_struct`, initialised by `INIT_WORK(work, func)`; `name` is the function's name
/// (used in "last function:" of the leak check).
#[derive(Clone)]
pub struct WorkStruct(Arc<WorkInner>);

impl WorkStruct {
    /// `INIT_WORK(&work, func)`.
    pub fn new(name: &'static str, func: impl Fn() + Send + Sync + 'static) -> Self {
        WorkStruct(Arc::new(WorkInner {
            name,
            func: Box::new(func),
            pending: AtomicBool::new(false),
            gen: std::sync::atomic::AtomicU64::new(0),
            running: Mutex::new(Vec::new()),
        }))
    }

    /// `work_pending(&work)`.
    pub fn pending(&self) -> bool {
        self.0.pending.load(Ordering::SeqCst)
    }
}

/// `struct workqueue_struct`.
pub struct Workqueue {
    name: String,
    works: Mutex<Vec<WorkStruct>>,
}

/// `alloc_workqueue(name, flags, max_active)`.
pub fn alloc_workqueue(name: &str) -> Arc<Workqueue> {
    Arc::new(Workqueue { name: name.to_string(), works: Mutex::new(Vec::new()) })
}

/// `queue_work(wq, work)`: queues `work` unless it is already pending; returns whether it was
/// queued.
///
/// # Context
/// Any (it does not sleep: callable under spinlocks and from interrupt handlers, which is why
/// drivers punt sleeping work to it).
pub fn queue_work(wq: &Workqueue, work: &WorkStruct) -> bool {
    if !queue(&wq.name, work) {
        return false;
    }
    let mut works = wq.works.lock().unwrap_or_else(|e| e.into_inner());
    if !works.iter().any(|w| Arc::ptr_eq(&w.0, &work.0)) {
        works.push(work.clone());
    }
    true
}

/// Spawns a worker for one execution of `work` unless it is pending.
fn queue(wq_name: &str, work: &WorkStruct) -> bool {
    if work.0.pending.swap(true, Ordering::SeqCst) {
        return false;
    }
    let inner = work.0.clone();
    let gen = work.0.gen.load(Ordering::SeqCst);
    let h = spawn_task(&format!("kworker/{wq_name}"), TaskKind::Worker, Some(work.0.name), move || {
        if inner.gen.load(Ordering::SeqCst) != gen {
            return; // cancelled before it ran
        }
        // The kernel clears PENDING before calling the function, so it may be queued again.
        inner.pending.store(false, Ordering::SeqCst);
        crate::kfn!(inner.name);
        (inner.func)();
    });
    work.0.running.lock().unwrap_or_else(|e| e.into_inner()).push(h);
    true
}

/// `schedule_work(work)`: `queue_work(system_wq, work)` (the system workqueue, "events").
///
/// # Context
/// Any.
pub fn schedule_work(work: &WorkStruct) -> bool {
    queue("events", work)
}

/// `flush_work(work)`: waits until the last queued execution of `work` has finished; returns
/// whether it had to wait.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn flush_work(work: &WorkStruct) -> bool {
    flush_work_at(work, Loc::caller())
}

/// [`flush_work`] called at `at` (a foreign caller's location).
pub fn flush_work_at(work: &WorkStruct, at: Loc) -> bool {
    might_sleep_at(at, "flush_work()", None);
    let handles: Vec<TaskHandle<()>> =
        std::mem::take(&mut *work.0.running.lock().unwrap_or_else(|e| e.into_inner()));
    let waited = !handles.is_empty();
    for h in handles {
        h.join();
    }
    waited
}

/// `flush_workqueue(wq)`: flushes every work item queued on `wq`.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn flush_workqueue(wq: &Workqueue) {
    let at = Loc::caller();
    might_sleep_at(at, "flush_workqueue()", None);
    let works: Vec<WorkStruct> = wq.works.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for w in works {
        let handles: Vec<TaskHandle<()>> =
            std::mem::take(&mut *w.0.running.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            h.join();
        }
    }
}

/// `destroy_workqueue(wq)`: flushes, then frees.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn destroy_workqueue(wq: Arc<Workqueue>) {
    flush_workqueue(&wq);
}

/// `cancel_work_sync(work)`: a queued execution that has not started will not run; one that
/// is running is waited for. Whether it was pending.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn cancel_work_sync(work: &WorkStruct) -> bool {
    cancel_work_sync_from(Loc::caller(), work)
}

/// [`cancel_work_sync`] on behalf of a caller at `at`.
fn cancel_work_sync_from(at: Loc, work: &WorkStruct) -> bool {
    might_sleep_at(at, "cancel_work_sync()", None);
    cancel_and_wait(work)
}

/// Cancels `work` and waits for its running executions (the caller made the sleep check).
fn cancel_and_wait(work: &WorkStruct) -> bool {
    let was = work.0.pending.swap(false, Ordering::SeqCst);
    work.0.gen.fetch_add(1, Ordering::SeqCst);
    let handles: Vec<TaskHandle<()>> =
        std::mem::take(&mut *work.0.running.lock().unwrap_or_else(|e| e.into_inner()));
    for h in handles {
        h.join();
    }
    was
}

/// `struct delayed_work`: a work item and the timer that queues it (`INIT_DELAYED_WORK`).
#[derive(Clone)]
pub struct DelayedWork {
    /// The work item the timer queues.
    pub work: WorkStruct,
    timer: crate::timer::TimerList,
}

impl DelayedWork {
    /// `INIT_DELAYED_WORK(&dwork, func)`.
    #[track_caller]
    pub fn new(name: &'static str, func: impl Fn() + Send + Sync + 'static) -> Self {
        DelayedWork::new_at(Loc::caller(), name, func)
    }

    /// [`DelayedWork::new`] at a given location (the C face's `__FILE__:__LINE__`).
    pub fn new_at(at: Loc, name: &'static str, func: impl Fn() + Send + Sync + 'static) -> Self {
        let work = WorkStruct::new(name, func);
        let timer = crate::timer::TimerList::new(name);
        let w = work.clone();
        crate::timer::timer_setup_at(at, &timer, "delayed_work_timer_fn", move || {
            queue("events", &w);
        });
        DelayedWork { work, timer }
    }
}

/// `schedule_delayed_work(&dwork, delay)`: queues the work after `delay` jiffies (its timer
/// fires when the scheduler lets it); false if it is already pending.
///
/// # Context
/// Any; never sleeps.
#[track_caller]
pub fn schedule_delayed_work(dw: &DelayedWork, delay: u64) -> bool {
    schedule_delayed_work_at(Loc::caller(), dw, delay)
}

/// [`schedule_delayed_work`] at a given location (the C face's `__FILE__:__LINE__`).
pub fn schedule_delayed_work_at(at: Loc, dw: &DelayedWork, delay: u64) -> bool {
    if dw.work.pending() || crate::timer::timer_pending(&dw.timer) {
        return false;
    }
    if delay == 0 {
        return queue("events", &dw.work);
    }
    let now = crate::timer::jiffies();
    !crate::timer::mod_timer_at(at, &dw.timer, now + delay)
}

/// `cancel_delayed_work(&dwork)`: stops the timer if it has not fired; whether it was pending.
///
/// # Context
/// Any; never sleeps.
#[track_caller]
pub fn cancel_delayed_work(dw: &DelayedWork) -> bool {
    crate::timer::del_timer(&dw.timer)
}

/// `cancel_delayed_work_sync(&dwork)`: stops the timer, cancels the queued work and waits for
/// a running one; whether it was pending.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn cancel_delayed_work_sync(dw: &DelayedWork) -> bool {
    cancel_delayed_work_sync_at(Loc::caller(), dw)
}

/// [`cancel_delayed_work_sync`] at a given location (the C face's `__FILE__:__LINE__`).
pub fn cancel_delayed_work_sync_at(at: Loc, dw: &DelayedWork) -> bool {
    might_sleep_at(at, "cancel_delayed_work_sync()", None);
    let timer = crate::timer::del_timer_sync_at(at, &dw.timer);
    // One might_sleep() check, as the kernel's one __cancel_work_timer() makes.
    cancel_and_wait(&dw.work) || timer
}
