//! Plain definitions the model and the API share: GFP bits, the preempt_count layout, the
//! kernel profiles and the run configuration, fault plans, errnos, and the page and address
//! handles. A leaf: nothing here imports the model or the API.

pub mod config;
pub mod errno;
pub mod fault;
pub mod gfp;
pub mod loc;
pub mod mm_types;
pub mod preempt_mask;
