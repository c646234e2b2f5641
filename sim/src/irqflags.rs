//! `include/linux/irqflags.h`: local interrupt disabling. In ksim an interrupt is delivered to
//! another simulated CPU (its handler is a task), so disabling irqs here changes what the checks
//! see — `irqs_disabled()` makes `might_sleep()` fire — not which handlers may run.

use crate::defs::loc::Loc;

use crate::model::context::set_irqs;
use crate::model::current;
use crate::model::task::Site;

/// Saved irq state, as returned by `local_irq_save()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "pass the flags to local_irq_restore()"]
pub struct IrqFlags {
    pub(crate) disabled: bool,
}

impl IrqFlags {
    /// The flags of a state saved elsewhere (a foreign caller's `unsigned long flags`).
    pub fn saved(disabled: bool) -> IrqFlags {
        IrqFlags { disabled }
    }

    /// Whether irqs were disabled when the flags were saved (what `irqs_disabled_flags()` answers).
    pub fn disabled(self) -> bool {
        self.disabled
    }
}

/// `local_irq_disable()`.
///
/// # Context
/// Any. Leaves preempt_count alone but makes `irqs_disabled()` true, which `might_sleep()` checks.
#[track_caller]
pub fn local_irq_disable() {
    local_irq_disable_at(Loc::caller())
}

/// [`local_irq_disable`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn local_irq_disable_at(at: Loc) {
    set_irqs(&current(), true, Site { at, op: "local_irq_disable" });
}

/// `local_irq_enable()`.
///
/// # Context
/// Must not be called from a hardirq handler (the irq core warns that the handler "enabled
/// interrupts" when it returns).
#[track_caller]
pub fn local_irq_enable() {
    local_irq_enable_at(Loc::caller())
}

/// [`local_irq_enable`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn local_irq_enable_at(at: Loc) {
    set_irqs(&current(), false, Site { at, op: "local_irq_enable" });
}

/// `local_irq_save(flags)`: disables irqs and returns the previous state.
#[track_caller]
pub fn local_irq_save() -> IrqFlags {
    local_irq_save_at(Loc::caller())
}

/// [`local_irq_save`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn local_irq_save_at(at: Loc) -> IrqFlags {
    let t = current();
    let disabled = t.state().irqs_disabled;
    set_irqs(&t, true, Site { at, op: "local_irq_save" });
    IrqFlags { disabled }
}

/// `local_irq_restore(flags)`.
#[track_caller]
pub fn local_irq_restore(flags: IrqFlags) {
    local_irq_restore_at(Loc::caller(), flags)
}

/// [`local_irq_restore`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn local_irq_restore_at(at: Loc, flags: IrqFlags) {
    set_irqs(&current(), flags.disabled, Site { at, op: "local_irq_restore" });
}

/// `local_save_flags(flags)`: the current irq state, without changing it.
pub fn local_save_flags() -> IrqFlags {
    IrqFlags { disabled: irqs_disabled() }
}

/// `irqs_disabled()`.
pub fn irqs_disabled() -> bool {
    current().state().irqs_disabled
}
