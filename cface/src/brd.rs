//! `drivers/block/brd.c` of a kernel tree, compiled unmodified against ksim's headers, as one
//! more brd generation (`brd-6.1-c`): the same interface as the Rust ports (`brd_init` with the
//! module parameters, `open(i)` of `ram{i}`, `nr_pages(i)` from its debugfs file, `brd_exit`).
//!
//! A [`BrdModule`] leases one loaded copy of the module for a run; every `brd_init` (one per
//! execution) restores the copy to its state at load, sets the parameters as modprobe does and
//! calls `module_init` in the current task.

use std::ffi::c_int;
use std::sync::{Arc, Mutex};

use ksim::blk::{Bdev, Gendisk};
use ksim::errno::Errno;

use crate::build::ModuleSpec;
use crate::module::{Image, Lease};
use crate::source::KernelTree;

/// brd's module parameters (`modprobe brd rd_nr=... rd_size=... max_part=...`); `None` leaves
/// the module's default (`CONFIG_BLK_DEV_RAM_COUNT`, `CONFIG_BLK_DEV_RAM_SIZE`, 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    /// `rd_nr`.
    pub rd_nr: Option<i32>,
    /// `rd_size` in KiB.
    pub rd_size: Option<u64>,
    /// `max_part`.
    pub max_part: Option<i32>,
}

impl Params {
    /// As modprobe arguments.
    pub fn args(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        if let Some(n) = self.rd_nr {
            v.push(("rd_nr".into(), n.to_string()));
        }
        if let Some(n) = self.rd_size {
            v.push(("rd_size".into(), n.to_string()));
        }
        if let Some(n) = self.max_part {
            v.push(("max_part".into(), n.to_string()));
        }
        v
    }
}

/// brd.c built from `tree` (cached).
pub fn image(tree: &KernelTree) -> Result<Arc<Image>, String> {
    let src = tree
        .file("drivers/block/brd.c")
        .ok_or_else(|| format!("{} has no drivers/block/brd.c", tree.origin))?;
    ModuleSpec::new("brd", [src]).root(&tree.root).build().map_err(|e| e.to_string())
}

/// brd.c of the kernel tree at hand, built (see [`crate::source::tree`]).
pub fn image_at_hand() -> Result<Arc<Image>, String> {
    image(&crate::source::tree()?)
}

/// A run's copy of the brd module.
pub struct BrdModule {
    lease: Mutex<Lease>,
    version: String,
}

impl BrdModule {
    /// A copy of `image` for one run.
    pub fn new(image: &Arc<Image>, version: &str) -> Result<Arc<BrdModule>, String> {
        Ok(Arc::new(BrdModule { lease: Mutex::new(image.lease()?), version: version.to_string() }))
    }

    /// The kernel version the module's source came from.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `modprobe brd PARAMS`: a fresh module (globals as at load), the parameters set, then
    /// `brd_init()`. A parameter brd does not take is an error (the kernel would warn and
    /// ignore it; ksim refuses it, so a user's setting is never silently dropped).
    ///
    /// # Context
    /// Process context, inside a run (module_init runs in the current task).
    pub fn brd_init(self: &Arc<Self>, params: &Params) -> Result<Brd, BrdError> {
        let init = {
            let mut l = self.lease.lock().unwrap_or_else(|e| e.into_inner());
            l.reset();
            l.set_params("brd", &params.args()).map_err(|e| BrdError::Param(e.0))?;
            l.init_fn()
        };
        // SAFETY: brd's init function, called as insmod calls it.
        let r: c_int = match init {
            Some(f) => unsafe { f() },
            None => return Err(BrdError::Param("brd has no module_init".into())),
        };
        if r < 0 {
            return Err(BrdError::Init(Errno::from_neg(i64::from(r)).unwrap_or(Errno::EIO)));
        }
        let disks = crate::disk::disks();
        Ok(Brd { module: self.clone(), disks })
    }
}

/// Why `brd_init` failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrdError {
    /// A parameter brd does not take, or a value it cannot hold.
    Param(String),
    /// `brd_init()` returned an error.
    Init(Errno),
}

impl std::fmt::Display for BrdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BrdError::Param(s) => f.write_str(s),
            BrdError::Init(e) => write!(f, "brd_init failed: {e}"),
        }
    }
}

/// The loaded module: its disks `ram0..`.
pub struct Brd {
    module: Arc<BrdModule>,
    disks: Vec<Arc<Gendisk>>,
}

impl Brd {
    /// Opens `ram{i}` (the whole disk): `-ENXIO` if brd did not create it.
    pub fn open(&self, i: usize) -> Result<Bdev, Errno> {
        let name = format!("ram{i}");
        let disk = self.disks.iter().find(|d| d.name == name).ok_or(Errno::ENXIO)?;
        Bdev::open(disk, 0)
    }

    /// `brd_nr_pages` of `ram{i}`, read from the debugfs file brd created
    /// (`ramdisk_pages/ram{i}`). Panics if there is no such device.
    pub fn nr_pages(&self, i: usize) -> u64 {
        crate::bind::debugfs_u64(&format!("ramdisk_pages/ram{i}"))
            .unwrap_or_else(|| panic!("brd.c: no device ram{i}"))
    }

    /// How many devices brd created.
    pub fn nr_devices(&self) -> usize {
        self.disks.len()
    }

    /// The gendisk of `ram{i}`.
    pub fn disk(&self, i: usize) -> Option<Arc<Gendisk>> {
        let name = format!("ram{i}");
        self.disks.iter().find(|d| d.name == name).cloned()
    }

    /// `rmmod brd`: `brd_exit()` frees every device and page.
    ///
    /// # Context
    /// Process context; no device may be open.
    pub fn brd_exit(self) {
        let exit = self.module.lease.lock().unwrap_or_else(|e| e.into_inner()).exit_fn();
        drop(self.disks);
        if let Some(f) = exit {
            // SAFETY: brd's exit function.
            unsafe { f() }
        }
    }
}
