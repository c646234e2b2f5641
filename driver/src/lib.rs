//! Kernel drivers re-expressed against ksim's simulated kernel API — written fresh, function by
//! function in the kernel's order and with the kernel's names, each with a `/// C:` line naming
//! the function it re-expresses.
//!
//! - [`brd_v4_0`]: `drivers/block/brd.c` as of v4.0/v4.1 (2015, the DAX era of the thread);
//! - [`brd_v6_1`]: brd as Debian's user-mode-linux 6.1 ships it (radix tree, REQ_NOWAIT);
//! - [`brd_current`]: today's brd (xarray, discard frees pages, page references);
//! - [`pmem_v4_1`]: `drivers/block/pmem.c` v4.1 (direct_access is offset arithmetic);
//! - [`dax_user`]: the consumer of the 2015 thread, mapping a range through `bdev_direct_access`.

#![forbid(unsafe_code)]

pub mod brd_current;
pub mod brd_v4_0;
pub mod brd_v6_1;
pub mod dax_user;
pub mod pmem_v4_1;
