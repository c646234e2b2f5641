//! `include/linux/kthread.h`: kernel threads, in process context (they may sleep).

use crate::defs::loc::Loc;
pub use crate::model::TaskHandle;
use crate::model::{spawn_task, task::TaskKind};

/// `kthread_run(fn, data, namefmt)`: creates and wakes a kernel thread named `name`. It runs
/// whenever the scheduler lets it; its pid is assigned now, in spawn order.
///
/// # Context
/// Process context. The thread starts with preempt_count 0 and irqs enabled, and is checked
/// to end that way (`do_exit`'s "exited with preempt_count" note, lockdep's "still has locks
/// held").
pub fn kthread_run<T, F>(name: &str, f: F) -> TaskHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_task(name, TaskKind::Kthread, None, f)
}

/// `kthread_stop(k)`: waits for the thread to exit and returns its result.
///
/// # Context
/// May sleep.
#[track_caller]
pub fn kthread_stop<T>(k: TaskHandle<T>) -> T {
    kthread_stop_at(k, Loc::caller())
}

/// [`kthread_stop`] called at `at` (a foreign caller's location).
pub fn kthread_stop_at<T>(k: TaskHandle<T>, at: Loc) -> T {
    crate::model::sleep::might_sleep_at(at, "kthread_stop()", None);
    k.join()
}
