//! `include/linux/interrupt.h`: interrupt handlers and tasklets.
//!
//! A device raising its line is `generate_irq()`: the handler then runs as its own task in
//! hardirq context (`HARDIRQ_OFFSET`, irqs disabled) whenever the scheduler chooses — so arrival
//! is a scheduler choice. Under shuttle and loom it may arrive on the CPU of a task with
//! interrupts enabled, which then waits until the handler returns (`model::cpu`): a handler
//! spinning on a lock that task holds is a deadlock, as in the kernel; otherwise (and always
//! under std) it runs as on another CPU. A tasklet runs likewise in softirq context
//! (`SOFTIRQ_OFFSET`), arriving only on a CPU with bottom halves enabled. A handler that calls
//! a sleeping API is reported like any other caller.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::defs::loc::Loc;
use crate::errno::Errno;
use crate::model::context::interrupt_entry;
use crate::model::irq::IrqAction;
pub use crate::model::irq::IrqReturn;
use crate::model::sleep::might_sleep_at;
use crate::model::task::Site;
use crate::model::task::TaskKind;
use crate::model::{current, spawn_task, TaskHandle};

/// `request_irq(irq, handler, flags, name, dev)`: installs `handler` for `irq`.
///
/// # Context
/// Process context; may sleep. `-EBUSY` if the line already has a handler (no IRQF_SHARED).
#[track_caller]
pub fn request_irq(
    irq: u32,
    name: &'static str,
    handler: impl Fn(u32) -> IrqReturn + Send + Sync + 'static,
) -> Result<(), Errno> {
    let at = Loc::caller();
    might_sleep_at(at, "request_irq()", None);
    let t = current();
    let mut irqs = t.exec.irqs.lock().unwrap_or_else(|e| e.into_inner());
    if irqs.contains_key(&irq) {
        return Err(Errno::EBUSY);
    }
    irqs.insert(
        irq,
        Arc::new(IrqAction { name, at, handler: Box::new(handler), running: Mutex::new(Vec::new()) }),
    );
    Ok(())
}

/// The device raises `irq`: its handler will run in hardirq context as task `irq/<n>-<name>`.
/// Returns false for a line with no handler (a spurious interrupt, ignored).
///
/// # Context
/// Any (it models the hardware).
pub fn generate_irq(irq: u32) -> bool {
    let t = current();
    let action = t.exec.irqs.lock().unwrap_or_else(|e| e.into_inner()).get(&irq).cloned();
    let Some(action) = action else { return false };
    let a = action.clone();
    t.exec.cpus.raise();
    let h = spawn_task(&format!("irq/{irq}-{}", action.name), TaskKind::HardIrq(irq), None, move || {
        let _cpu = arrive(true);
        // The handler runs as the irq core enters it: hardirqs were disabled at its entry
        // (named after where the handler was installed).
        interrupt_entry(&current(), true, Site { at: a.at, op: "handle_irq_event" });
        crate::kfn!(a.name);
        (a.handler)(irq)
    });
    action.running.lock().unwrap_or_else(|e| e.into_inner()).push(h);
    true
}

/// An interrupt task's arrival (`model::cpu::arrive`): the returned guard is kept while the
/// handler runs, and the task it interrupted (if any) waits at its irq window until it drops.
pub(crate) fn arrive(hardirq: bool) -> Option<crate::model::cpu::Returned> {
    let t = current();
    let (pid, returned) = crate::model::cpu::arrive(&t, hardirq)?;
    t.exec.emit(&t, crate::model::trace::Cat::Task, "irq_arrive", || format!("on the CPU of pid {pid}"));
    Some(returned)
}

/// `synchronize_irq(irq)`: waits for running handlers of `irq` to finish.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn synchronize_irq(irq: u32) {
    might_sleep_at(Loc::caller(), "synchronize_irq()", None);
    let t = current();
    let action = t.exec.irqs.lock().unwrap_or_else(|e| e.into_inner()).get(&irq).cloned();
    if let Some(a) = action {
        let hs: Vec<_> = std::mem::take(&mut *a.running.lock().unwrap_or_else(|e| e.into_inner()));
        for h in hs {
            h.join();
        }
    }
}

/// `free_irq(irq, dev)`: waits for running handlers, then removes the handler.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn free_irq(irq: u32) {
    synchronize_irq(irq);
    current().exec.irqs.lock().unwrap_or_else(|e| e.into_inner()).remove(&irq);
}

type TaskletFn = dyn Fn() + Send + Sync + 'static;

struct TaskletInner {
    name: &'static str,
    /// Where it was initialised (the softirq entry stamp of its runs names it).
    at: Loc,
    func: Box<TaskletFn>,
    scheduled: AtomicBool,
    running: Mutex<Vec<TaskHandle<()>>>,
}

/// `struct tasklet_struct`: deferred work in softirq context.
#[derive(Clone)]
pub struct Tasklet(Arc<TaskletInner>);

impl Tasklet {
    /// `tasklet_init(t, func, data)`.
    #[track_caller]
    pub fn new(name: &'static str, func: impl Fn() + Send + Sync + 'static) -> Self {
        Tasklet(Arc::new(TaskletInner {
            name,
            at: Loc::caller(),
            func: Box::new(func),
            scheduled: AtomicBool::new(false),
            running: Mutex::new(Vec::new()),
        }))
    }
}

/// `tasklet_schedule(t)`: runs the tasklet once in softirq context unless already scheduled.
///
/// # Context
/// Any.
pub fn tasklet_schedule(t: &Tasklet) -> bool {
    if t.0.scheduled.swap(true, Ordering::SeqCst) {
        return false;
    }
    let inner = t.0.clone();
    current().exec.cpus.raise();
    let h = spawn_task(&format!("ksoftirqd/{}", t.0.name), TaskKind::SoftIrq, None, move || {
        let _cpu = arrive(false);
        inner.scheduled.store(false, Ordering::SeqCst);
        interrupt_entry(&current(), false, Site { at: inner.at, op: "tasklet_action" });
        crate::kfn!(inner.name);
        (inner.func)();
    });
    t.0.running.lock().unwrap_or_else(|e| e.into_inner()).push(h);
    true
}

/// `tasklet_kill(t)`: waits for the tasklet to finish.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn tasklet_kill(t: &Tasklet) {
    might_sleep_at(Loc::caller(), "tasklet_kill()", None);
    let hs: Vec<_> = std::mem::take(&mut *t.0.running.lock().unwrap_or_else(|e| e.into_inner()));
    for h in hs {
        h.join();
    }
}
