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
    let h = spawn_task(&format!("kworker/{wq_name}"), TaskKind::Worker, Some(work.0.name), move || {
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
    might_sleep_at(Loc::caller(), "flush_work()", None);
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
