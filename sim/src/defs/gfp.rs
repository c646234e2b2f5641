//! `include/linux/gfp.h` (4.0) and `include/linux/gfp_types.h` (modern): GFP flags.
//!
//! Flags are symbolic here and mapped to each profile's numbers (facts §4): in 4.0 the one
//! "may block" bit is `__GFP_WAIT` (0x10); since v4.4 it is split into `__GFP_DIRECT_RECLAIM`
//! and `__GFP_KSWAPD_RECLAIM`, and `__GFP_WAIT`'s successor is `__GFP_RECLAIM` (both). So
//! `GFP_NOIO` is `__GFP_WAIT` under the 4.0 profile and `__GFP_RECLAIM` under the modern one, and
//! both display as `GFP_NOIO`. Whether an allocation may block is
//! [`gfpflags_allow_blocking`]: the direct-reclaim bit (= `__GFP_WAIT` in 4.0).

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

use super::config::Profile;

/// A set of GFP flags (symbolic; see [`Gfp::value`] for a profile's numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gfp(u32);

macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident = $bit:expr, $label:expr, $v40:expr, $vmod:expr;)*) => {
        $($(#[$doc])* pub const $name: Gfp = Gfp(1 << $bit);)*
        /// (flag, display name, 4.0 value, modern value), in the kernel's display order
        /// (`show_gfp_flags`, with the zeroing and zone modifiers first).
        const TABLE: &[(Gfp, &str, u32, u32)] = &[$(($name, $label, $v40, $vmod)),*];
    };
}

flags! {
    /// `__GFP_ZERO`: return a zeroed page.
    __GFP_ZERO = 0, "__GFP_ZERO", 0x8000, 0x100;
    /// `__GFP_HIGHMEM`: may come from ZONE_HIGHMEM (no permanent kernel address).
    __GFP_HIGHMEM = 1, "__GFP_HIGHMEM", 0x02, 0x02;
    /// `__GFP_DMA`.
    __GFP_DMA = 2, "__GFP_DMA", 0x01, 0x01;
    /// `__GFP_DMA32`.
    __GFP_DMA32 = 3, "__GFP_DMA32", 0x04, 0x04;
    /// `__GFP_HIGH`: may use emergency pools.
    __GFP_HIGH = 4, "__GFP_HIGH", 0x20, 0x20;
    /// `__GFP_IO`: may start physical I/O.
    __GFP_IO = 5, "__GFP_IO", 0x40, 0x40;
    /// `__GFP_FS`: may call down into the filesystem.
    __GFP_FS = 6, "__GFP_FS", 0x80, 0x80;
    /// `__GFP_NOWARN`.
    __GFP_NOWARN = 7, "__GFP_NOWARN", 0x200, 0x2000;
    /// `__GFP_RETRY_MAYFAIL` (4.0: `__GFP_REPEAT`).
    __GFP_RETRY_MAYFAIL = 8, "__GFP_RETRY_MAYFAIL", 0x400, 0x4000;
    /// `__GFP_NOFAIL`.
    __GFP_NOFAIL = 9, "__GFP_NOFAIL", 0x800, 0x8000;
    /// `__GFP_NORETRY`.
    __GFP_NORETRY = 10, "__GFP_NORETRY", 0x1000, 0x10000;
    /// `__GFP_COMP`.
    __GFP_COMP = 11, "__GFP_COMP", 0x4000, 0x40000;
    /// `__GFP_MEMALLOC`.
    __GFP_MEMALLOC = 12, "__GFP_MEMALLOC", 0x2000, 0x20000;
    /// `__GFP_NOMEMALLOC`.
    __GFP_NOMEMALLOC = 13, "__GFP_NOMEMALLOC", 0x10000, 0x80000;
    /// `__GFP_HARDWALL`.
    __GFP_HARDWALL = 14, "__GFP_HARDWALL", 0x20000, 0x100000;
    /// `__GFP_THISNODE`.
    __GFP_THISNODE = 15, "__GFP_THISNODE", 0x40000, 0x200000;
    /// `__GFP_RECLAIMABLE`.
    __GFP_RECLAIMABLE = 16, "__GFP_RECLAIMABLE", 0x80000, 0x10;
    /// `__GFP_MOVABLE`.
    __GFP_MOVABLE = 17, "__GFP_MOVABLE", 0x08, 0x08;
    /// `__GFP_WRITE`.
    __GFP_WRITE = 18, "__GFP_WRITE", 0x1000000, 0x1000;
    /// `__GFP_DIRECT_RECLAIM` (v4.4+): the caller may sleep in direct reclaim. In 4.0 this is
    /// `__GFP_WAIT`.
    __GFP_DIRECT_RECLAIM = 19, "__GFP_DIRECT_RECLAIM", 0x10, 0x400;
    /// `__GFP_KSWAPD_RECLAIM` (v4.4+): wake kswapd. Implicit in 4.0 (no bit).
    __GFP_KSWAPD_RECLAIM = 20, "__GFP_KSWAPD_RECLAIM", 0, 0x800;
}

/// `__GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM` (modern).
pub const __GFP_RECLAIM: Gfp = Gfp(__GFP_DIRECT_RECLAIM.0 | __GFP_KSWAPD_RECLAIM.0);
/// `__GFP_WAIT` (4.0): "can wait and reschedule"; the same symbolic set as `__GFP_RECLAIM`.
pub const __GFP_WAIT: Gfp = __GFP_RECLAIM;
/// `GFP_ATOMIC`: 4.0 `__GFP_HIGH`; modern `__GFP_HIGH | __GFP_KSWAPD_RECLAIM`.
pub const GFP_ATOMIC: Gfp = Gfp(__GFP_HIGH.0 | __GFP_KSWAPD_RECLAIM.0);
/// `GFP_NOWAIT`: 4.0 `0`; v4.4-6.6 `__GFP_KSWAPD_RECLAIM` (later kernels add `__GFP_NOWARN`).
pub const GFP_NOWAIT: Gfp = __GFP_KSWAPD_RECLAIM;
/// `GFP_NOIO`: 4.0 `__GFP_WAIT`; modern `__GFP_RECLAIM`.
pub const GFP_NOIO: Gfp = __GFP_RECLAIM;
/// `GFP_NOFS`: `GFP_NOIO | __GFP_IO`.
pub const GFP_NOFS: Gfp = Gfp(__GFP_RECLAIM.0 | __GFP_IO.0);
/// `GFP_KERNEL`: `__GFP_RECLAIM | __GFP_IO | __GFP_FS`.
pub const GFP_KERNEL: Gfp = Gfp(__GFP_RECLAIM.0 | __GFP_IO.0 | __GFP_FS.0);
/// `GFP_USER`: `GFP_KERNEL | __GFP_HARDWALL`.
pub const GFP_USER: Gfp = Gfp(GFP_KERNEL.0 | __GFP_HARDWALL.0);
/// `GFP_HIGHUSER`: `GFP_USER | __GFP_HIGHMEM`.
pub const GFP_HIGHUSER: Gfp = Gfp(GFP_USER.0 | __GFP_HIGHMEM.0);

/// Composite names, largest first, as the kernel prints them.
const COMPOSITES: &[(Gfp, &str)] = &[
    (GFP_HIGHUSER, "GFP_HIGHUSER"),
    (GFP_USER, "GFP_USER"),
    (GFP_KERNEL, "GFP_KERNEL"),
    (GFP_NOFS, "GFP_NOFS"),
    (GFP_ATOMIC, "GFP_ATOMIC"),
    (GFP_NOIO, "GFP_NOIO"),
    (GFP_NOWAIT, "GFP_NOWAIT"),
];

impl Gfp {
    /// No flags (4.0's `GFP_NOWAIT`).
    pub const EMPTY: Gfp = Gfp(0);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: Gfp) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    pub fn intersects(self, other: Gfp) -> bool {
        self.0 & other.0 != 0
    }

    /// The profile's numeric value (`%#x` in the kernel's "mode:" output).
    pub fn value(self, profile: Profile) -> u32 {
        TABLE
            .iter()
            .filter(|(f, ..)| self.contains(*f))
            .map(|&(_, _, v40, vmod)| match profile {
                Profile::V4_0 => v40,
                Profile::Modern => vmod,
            })
            .fold(0, |a, b| a | b)
    }

    /// The flags a profile's numeric value stands for (the inverse of [`Gfp::value`]; bits the
    /// model does not name, such as 6.1's `__GFP_ATOMIC`, are dropped).
    pub fn from_value(profile: Profile, value: u32) -> Gfp {
        TABLE
            .iter()
            .filter(|&&(_, _, v40, vmod)| {
                let v = match profile {
                    Profile::V4_0 => v40,
                    Profile::Modern => vmod,
                };
                v != 0 && value & v == v
            })
            .fold(Gfp::EMPTY, |a, &(f, ..)| a | f)
    }

    /// Kernel-style name under a profile: composite names first, then the remaining flags,
    /// e.g. `GFP_NOIO|__GFP_ZERO|__GFP_HIGHMEM`.
    pub fn display(self, profile: Profile) -> String {
        let mut g = self;
        if profile == Profile::V4_0 {
            // 4.0 has no kswapd bit: waking kswapd is the default. Its lone blocking bit, __GFP_WAIT,
            // is GFP_NOIO, so it always prints as that composite (as 4.0's show_gfp_flags does).
            g = Gfp(g.0 & !__GFP_KSWAPD_RECLAIM.0);
        }
        let mut parts: Vec<&str> = Vec::new();
        for &(c, name) in COMPOSITES {
            let c = if profile == Profile::V4_0 { Gfp(c.0 & !__GFP_KSWAPD_RECLAIM.0) } else { c };
            if c.0 != 0 && g.contains(c) {
                parts.push(match (profile, name) {
                    (Profile::V4_0, "GFP_NOWAIT") => continue,
                    _ => name,
                });
                g = Gfp(g.0 & !c.0);
            }
        }
        for &(f, name, ..) in TABLE {
            if g.contains(f) && f.0 != 0 {
                let name = match (profile, name) {
                    (Profile::V4_0, "__GFP_RETRY_MAYFAIL") => "__GFP_REPEAT",
                    _ => name,
                };
                parts.push(name);
                g = Gfp(g.0 & !f.0);
            }
        }
        if parts.is_empty() {
            // `show_gfp_flags(0)`: 4.0's `gfpflags.h` prints "GFP_NOWAIT" (which is 0 there);
            // modern `mmflags.h` prints "none" (GFP_NOWAIT has a bit since v4.4).
            return match profile {
                Profile::V4_0 => "GFP_NOWAIT".to_string(),
                Profile::Modern => "none".to_string(),
            };
        }
        parts.join("|")
    }
}

impl BitOr for Gfp {
    type Output = Gfp;
    fn bitor(self, rhs: Gfp) -> Gfp {
        Gfp(self.0 | rhs.0)
    }
}

impl BitOrAssign for Gfp {
    fn bitor_assign(&mut self, rhs: Gfp) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Gfp {
    type Output = Gfp;
    fn bitand(self, rhs: Gfp) -> Gfp {
        Gfp(self.0 & rhs.0)
    }
}

impl Not for Gfp {
    type Output = Gfp;
    fn not(self) -> Gfp {
        Gfp(!self.0)
    }
}

impl fmt::Display for Gfp {
    /// The modern profile's name; use [`Gfp::display`] for 4.0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display(Profile::Modern))
    }
}

/// `gfpflags_allow_blocking(gfp)`: `__GFP_DIRECT_RECLAIM` (4.0: `__GFP_WAIT`) is set.
pub fn gfpflags_allow_blocking(gfp: Gfp) -> bool {
    gfp.contains(__GFP_DIRECT_RECLAIM)
}

/// Parses a `|`-separated GFP expression of the names above (for configs and the CLI).
pub fn parse(s: &str) -> Result<Gfp, String> {
    let mut g = Gfp::EMPTY;
    for part in s.split('|').map(str::trim) {
        let f = COMPOSITES
            .iter()
            .map(|&(f, n)| (f, n))
            .chain(TABLE.iter().map(|&(f, n, ..)| (f, n)))
            // The 4.0 names `display` prints ("__GFP_REPEAT") and the modern "none" (no flags),
            // so that every displayed name parses back.
            .chain([
                (__GFP_WAIT, "__GFP_WAIT"),
                (__GFP_RECLAIM, "__GFP_RECLAIM"),
                (__GFP_RETRY_MAYFAIL, "__GFP_REPEAT"),
                (Gfp::EMPTY, "none"),
            ])
            .find(|(_, n)| *n == part)
            .map(|(f, _)| f)
            .ok_or_else(|| format!("unknown GFP flag '{part}'"))?;
        g |= f;
    }
    Ok(g)
}
