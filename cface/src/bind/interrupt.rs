//! `<linux/interrupt.h>`: `request_irq()` / `free_irq()`. A C handler runs as ksim's handler
//! task for its line (hardirq context) whenever the scheduler lets the interrupt arrive after
//! the device (a test, through `ksim::interrupt::generate_irq`) raises it.

use std::ffi::{c_char, c_int, c_uint, c_void};

use ksim::interrupt::{self, IrqReturn};

use super::{loc, static_str};

/// `irq_handler_t`.
type CHandler = unsafe extern "C-unwind" fn(c_int, *mut c_void) -> c_int;

unsafe extern "C-unwind" fn request_irq(
    irq: c_uint,
    handler: CHandler,
    _flags: std::ffi::c_ulong,
    name: *const c_char,
    dev: *mut c_void,
    f: *const c_char,
    l: c_int,
) -> c_int {
    // SAFETY: C's __FILE__ and the handler's name (a literal, or a string the driver keeps
    // while the handler is installed).
    let (at, name) = unsafe { (loc(f, l), static_str(name)) };
    // The driver's `dev` cookie, handed back to its handler (the address only; C owns it).
    let dev = dev as usize;
    let r = interrupt::request_irq_at(at, irq, name, move |n| {
        // SAFETY: the module's handler, with the cookie it registered.
        match unsafe { handler(n as c_int, dev as *mut c_void) } {
            0 => IrqReturn::None,
            _ => IrqReturn::Handled,
        }
    });
    r.map_or_else(|e| -e.code(), |()| 0)
}

unsafe extern "C-unwind" fn free_irq(irq: c_uint, _dev: *mut c_void, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    interrupt::free_irq_at(unsafe { loc(f, l) }, irq);
}

unsafe extern "C-unwind" fn synchronize_irq(irq: c_uint, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    interrupt::synchronize_irq_at(unsafe { loc(f, l) }, irq);
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("request_irq", request_irq as *const c_void),
    ("free_irq", free_irq as *const c_void),
    ("synchronize_irq", synchronize_irq as *const c_void),
];
