//! `include/linux/sched/mm.h` (4.0: `include/linux/sched.h`): the allocation scope API.
//! `memalloc_noio_save()` makes every allocation of the task behave as GFP_NOIO (clears
//! `__GFP_IO | __GFP_FS` before reclaim decisions); `memalloc_nofs_save()` clears `__GFP_FS`.
//! Scopes do not make an allocation non-blocking (facts checklist 16).

use crate::gfp::Gfp;
use crate::model::current;

/// Saved scope state, returned by the `_save` functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "pass the flags to the matching _restore()"]
pub struct MemallocFlags(bool);

/// `memalloc_noio_save()`: sets `PF_MEMALLOC_NOIO`, returns the previous state.
///
/// # Context
/// Any ("safe to be used from any context").
pub fn memalloc_noio_save() -> MemallocFlags {
    let t = current();
    let mut st = t.state();
    MemallocFlags(std::mem::replace(&mut st.memalloc_noio, true))
}

/// `memalloc_noio_restore(flags)`.
pub fn memalloc_noio_restore(flags: MemallocFlags) {
    current().state().memalloc_noio = flags.0;
}

/// `memalloc_nofs_save()`: sets `PF_MEMALLOC_NOFS`.
pub fn memalloc_nofs_save() -> MemallocFlags {
    let t = current();
    let mut st = t.state();
    MemallocFlags(std::mem::replace(&mut st.memalloc_nofs, true))
}

/// `memalloc_nofs_restore(flags)`.
pub fn memalloc_nofs_restore(flags: MemallocFlags) {
    current().state().memalloc_nofs = flags.0;
}

/// `current_gfp_context(gfp)`: the GFP the current task's scopes make of `gfp`.
pub fn current_gfp_context_of(gfp: Gfp) -> Gfp {
    crate::model::mem::alloc::gfp_context(&current(), gfp)
}
