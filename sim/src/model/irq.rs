//! Interrupt lines' state (`struct irq_desc`'s action): the handler registered on each line
//! and the handler runs not yet waited for. The API (`interrupt`) registers and raises them.

use std::sync::Mutex;

use super::TaskHandle;
use crate::defs::loc::Loc;

/// `irqreturn_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqReturn {
    /// `IRQ_NONE`: not our interrupt.
    None,
    /// `IRQ_HANDLED`.
    Handled,
}

pub(crate) type Handler = dyn Fn(u32) -> IrqReturn + Send + Sync + 'static;

/// `struct irqaction`.
pub(crate) struct IrqAction {
    /// The `name` given to `request_irq()` (the handler task is `irq/<n>-<name>`).
    pub(crate) name: &'static str,
    /// Where `request_irq()` installed it.
    pub(crate) at: Loc,
    pub(crate) handler: Box<Handler>,
    /// Handlers raised and not yet waited for by `synchronize_irq()`.
    pub(crate) running: Mutex<Vec<TaskHandle<IrqReturn>>>,
}
