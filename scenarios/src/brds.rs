//! The brd generations a scenario can run (`driver=`): the Rust ports of Linux 4.0's and 6.1's
//! brd, and `drivers/block/brd.c` of the kernel tree at hand compiled unmodified against ksim's
//! headers (`brd-6.1-c`), behind one interface.

use std::sync::{Arc, OnceLock};

use ksim::blk::Bdev;
use ksim::errno::Errno;
use ksim::Profile;
use ksim_c::brd::{BrdModule, Params as CParams};
use ksim_c::BuildError;
use ksim_drivers::{brd_v4_0, brd_v6_1};

use crate::settings::Settings;

/// A brd generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// The Rust port of Linux 4.0's brd.
    V4_0,
    /// The Rust port of Linux 6.1's brd.
    V6_1,
    /// brd.c of the kernel tree at hand (Linux 6.1 from Debian's package, or `KSIM_LINUX_SRC`).
    V6_1C,
}

impl Generation {
    /// The `driver=` value.
    pub fn name(self) -> &'static str {
        match self {
            Generation::V4_0 => "brd-4.0",
            Generation::V6_1 => "brd-6.1",
            Generation::V6_1C => "brd-6.1-c",
        }
    }

    /// The generation of a `driver=` value.
    pub fn from_name(s: &str) -> Option<Generation> {
        [Generation::V4_0, Generation::V6_1, Generation::V6_1C].into_iter().find(|g| g.name() == s)
    }

    /// The kernel whose report text and GFP numbers it reproduces.
    pub fn profile(self) -> Profile {
        match self {
            Generation::V4_0 => Profile::V4_0,
            Generation::V6_1 | Generation::V6_1C => Profile::Modern,
        }
    }

    /// Whether the generation honours a brd setting: `dax` exists only in 4.0, the GFP mutant
    /// (`gfp=kernel`) only in the Rust ports (the C is the kernel's own).
    pub fn takes(self, key: &str) -> bool {
        match key {
            "dax" => self == Generation::V4_0,
            "gfp" => self != Generation::V6_1C,
            _ => true,
        }
    }

    /// What a bio write ends with when brd cannot allocate.
    pub fn bio_error(self) -> Errno {
        match self {
            Generation::V4_0 => Errno::ENOSPC,
            Generation::V6_1 | Generation::V6_1C => Errno::EIO,
        }
    }
}

/// Why brd.c cannot run here, or its built image.
pub enum CDriver {
    /// Built: the image and the tree's kernel version.
    Ready(Arc<ksim_c::Image>, String),
    /// No kernel tree at hand (the reason, and how to get one).
    NoTree(String),
    /// `KSIM_LINUX_SRC` names something that is not a usable kernel tree.
    BadTree(String),
    /// The tree's brd.c does not build against ksim's headers.
    Broken(BuildError),
}

/// brd.c of the kernel tree at hand, built once per process. Installs Debian's `linux-source-6.1`
/// when there is no tree (`KSIM_LINUX_SRC=skip` does without), so a fresh machine's `ksim check`
/// runs brd.c too.
pub fn brd_c() -> &'static CDriver {
    static C: OnceLock<CDriver> = OnceLock::new();
    let user_tree = std::env::var("KSIM_LINUX_SRC").is_ok_and(|v| v != "skip");
    C.get_or_init(|| match ksim_c::source::tree_installing() {
        Err(why) if user_tree => CDriver::BadTree(why),
        Err(why) => CDriver::NoTree(why),
        Ok(tree) => match tree.file("drivers/block/brd.c") {
            None if user_tree => CDriver::BadTree(format!("{} has no drivers/block/brd.c", tree.origin)),
            None => CDriver::NoTree(format!("{} has no drivers/block/brd.c", tree.origin)),
            Some(src) => match ksim_c::ModuleSpec::new("brd", [src]).root(&tree.root).build() {
                Ok(img) => CDriver::Ready(img, tree.version.clone()),
                Err(e) => CDriver::Broken(e),
            },
        },
    })
}

/// Why a scenario on `driver=brd-6.1-c` cannot run here (`None`: it can).
pub fn c_unavailable() -> Option<String> {
    match brd_c() {
        CDriver::Ready(..) => None,
        CDriver::NoTree(why) | CDriver::BadTree(why) => Some(format!("brd-6.1-c needs a kernel tree: {why}")),
        CDriver::Broken(e) => Some(format!("brd-6.1-c: {e}")),
    }
}

/// A generation chosen for a body: the C module is leased when the body is built (one copy per
/// run), so each execution only restores and initialises it.
#[derive(Clone)]
pub enum Driver {
    /// A Rust port.
    Rust(Generation),
    /// brd.c, with this run's module copy.
    C(Arc<BrdModule>),
}

impl Driver {
    /// The driver a scenario's effective settings select (`driver=`; `Scenario::settings` puts
    /// the scenario's default there when the user chose none).
    pub fn of(s: &Settings) -> Driver {
        match Generation::from_name(s.get("driver")).unwrap_or(Generation::V4_0) {
            Generation::V6_1C => match brd_c() {
                CDriver::Ready(img, version) => {
                    Driver::C(BrdModule::new(img, version).unwrap_or_else(|e| panic!("brd.c: {e}")))
                }
                _ => panic!("brd-6.1-c is not available: {}", c_unavailable().unwrap_or_default()),
            },
            g => Driver::Rust(g),
        }
    }

    /// Its generation.
    pub fn generation(&self) -> Generation {
        match self {
            Driver::Rust(g) => *g,
            Driver::C(_) => Generation::V6_1C,
        }
    }

    /// `modprobe brd rd_nr=1 rd_size=SIZE` (with the scenario's DAX and GFP settings on the Rust
    /// ports).
    pub fn load(&self, s: &Settings, size_kib: u64) -> Loaded {
        match self {
            Driver::Rust(Generation::V4_0) => Loaded::V4_0(
                brd_v4_0::brd_init(brd_v4_0::Params {
                    rd_nr: 1,
                    rd_size: size_kib,
                    dax: s.on("dax"),
                    insert_gfp: s.insert_gfp(),
                    ..brd_v4_0::Params::default()
                })
                .expect("brd_init"),
            ),
            Driver::Rust(_) => Loaded::V6_1(
                brd_v6_1::brd_init(brd_v6_1::Params {
                    rd_nr: 1,
                    rd_size: size_kib,
                    insert_gfp: s.insert_gfp(),
                    ..brd_v6_1::Params::default()
                })
                .expect("brd_init"),
            ),
            Driver::C(m) => Loaded::C(
                m.brd_init(&CParams { rd_nr: Some(1), rd_size: Some(size_kib), max_part: None })
                    .unwrap_or_else(|e| panic!("brd.c: {e}")),
            ),
        }
    }
}

/// A loaded brd of any generation.
pub enum Loaded {
    /// brd v4.0 (Rust).
    V4_0(brd_v4_0::Brd),
    /// brd v6.1 (Rust).
    V6_1(brd_v6_1::Brd),
    /// brd.c.
    C(ksim_c::brd::Brd),
}

impl Loaded {
    /// Opens `ram{i}`.
    pub fn open(&self, i: usize) -> Result<Bdev, Errno> {
        match self {
            Loaded::V4_0(b) => b.open(i),
            Loaded::V6_1(b) => b.open(i),
            Loaded::C(b) => b.open(i),
        }
    }

    /// Backing pages of `ram{i}`.
    pub fn nr_pages(&self, i: usize) -> u64 {
        match self {
            Loaded::V4_0(b) => b.nr_pages(i) as u64,
            Loaded::V6_1(b) => b.nr_pages(i),
            Loaded::C(b) => b.nr_pages(i),
        }
    }

    /// `rmmod brd`.
    pub fn exit(self) {
        match self {
            Loaded::V4_0(b) => brd_v4_0::brd_exit(b),
            Loaded::V6_1(b) => brd_v6_1::brd_exit(b),
            Loaded::C(b) => b.brd_exit(),
        }
    }
}
