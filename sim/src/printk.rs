//! `include/linux/printk.h`: driver messages. They go to the execution's trace (category
//! `printk`), in order with everything else, so they show up in `ksim trace`.

use crate::model::current;
use crate::model::trace::Cat;

/// `printk(KERN_INFO ...)`: records `msg()` in the trace (built only when the trace is on).
///
/// # Context
/// Any.
pub fn printk(msg: impl FnOnce() -> String) {
    let t = current();
    t.exec.emit(&t, Cat::Printk, "printk", msg);
}
