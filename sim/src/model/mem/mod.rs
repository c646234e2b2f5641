//! The memory model behind `mm/`, `highmem` and `slab`: the page ledger (every frame with its
//! generation, zone, contents, allocation and free sites), the host memory behind frames, the
//! allocator's order of work and reclaim, page references, the KASAN/KMSAN-style checks of every
//! access, and the kmemleak check at the end of an execution.

pub(crate) mod access;
pub(crate) mod alloc;
pub(crate) mod frames;
pub(crate) mod kmalloc;
pub(crate) mod kmemleak;
pub(crate) mod pages;
pub(crate) mod slab;
pub(crate) mod state;
