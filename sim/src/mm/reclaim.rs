//! Reclaim-related hooks (`mm/vmscan.c`): shrinkers, and the marker of the block I/O
//! submission path that makes an I/O-capable reclaim from inside it a reported recursion.

use crate::defs::loc::Loc;

use crate::model::current;
use crate::model::task::Site;

pub use super::page_alloc::register_shrinker;

/// Marks the current task as inside the block I/O submission path until dropped — what
/// `generic_make_request()` / `submit_bio_noacct()` do by setting `current->bio_list`.
pub struct IoPathGuard {
    prev: Option<Site>,
}

/// Enters the block I/O submission path (nested entries keep the outermost site).
#[track_caller]
pub fn io_path_enter(op: &'static str) -> IoPathGuard {
    let t = current();
    let mut st = t.state();
    let prev = st.io_path;
    if prev.is_none() {
        st.io_path = Some(Site { at: Loc::caller(), op });
    }
    IoPathGuard { prev }
}

impl Drop for IoPathGuard {
    fn drop(&mut self) {
        if let Some(t) = crate::model::backend::current_task() {
            t.state().io_path = self.prev;
        }
    }
}
