//! `include/linux/preempt_mask.h` (4.0) and the layout part of `include/linux/preempt.h`
//! (modern): the preempt_count fields (facts §3.1). Bits 0-7 PREEMPT, 8-15 SOFTIRQ, 16-19
//! HARDIRQ, then NMI — one bit at 20 in 4.0 (`NMI_MASK 0x00100000`, with `PREEMPT_ACTIVE
//! 0x00200000` above it), four bits 20-23 in modern kernels (`NMI_MASK 0x00f00000`).

use super::config::Profile;

/// `PREEMPT_OFFSET`.
pub const PREEMPT_OFFSET: u32 = 1;
/// `PREEMPT_MASK`.
pub const PREEMPT_MASK: u32 = 0x0000_00ff;
/// `SOFTIRQ_OFFSET`: added while a softirq is being served.
pub const SOFTIRQ_OFFSET: u32 = 0x100;
/// `SOFTIRQ_MASK`.
pub const SOFTIRQ_MASK: u32 = 0x0000_ff00;
/// `SOFTIRQ_DISABLE_OFFSET = 2 * SOFTIRQ_OFFSET`: added by `local_bh_disable()`.
pub const SOFTIRQ_DISABLE_OFFSET: u32 = 0x200;
/// `SOFTIRQ_LOCK_OFFSET = SOFTIRQ_DISABLE_OFFSET + PREEMPT_OFFSET`: added by `spin_lock_bh()`.
pub const SOFTIRQ_LOCK_OFFSET: u32 = SOFTIRQ_DISABLE_OFFSET + PREEMPT_OFFSET;
/// `HARDIRQ_OFFSET`.
pub const HARDIRQ_OFFSET: u32 = 0x1_0000;
/// `HARDIRQ_MASK`.
pub const HARDIRQ_MASK: u32 = 0x000f_0000;
/// `NMI_OFFSET`.
pub const NMI_OFFSET: u32 = 0x10_0000;
/// `NMI_MASK` in 4.0 (`NMI_BITS = 1`).
pub const NMI_MASK_4_0: u32 = 0x0010_0000;
/// `NMI_MASK` in modern kernels (`NMI_BITS = 4`).
pub const NMI_MASK_MODERN: u32 = 0x00f0_0000;
/// `PREEMPT_ACTIVE` (4.0 only).
pub const PREEMPT_ACTIVE: u32 = 0x0020_0000;

/// `NMI_MASK` for a profile.
pub fn nmi_mask(profile: Profile) -> u32 {
    match profile {
        Profile::V4_0 => NMI_MASK_4_0,
        Profile::Modern => NMI_MASK_MODERN,
    }
}

/// The part of a preempt_count that makes a task atomic: in 4.0 everything but
/// `PREEMPT_ACTIVE`; in modern kernels all of it (bit 21 belongs to the NMI field there).
pub fn atomic_count(profile: Profile, pc: u32) -> u32 {
    match profile {
        Profile::V4_0 => pc & !PREEMPT_ACTIVE,
        Profile::Modern => pc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_count_masks_preempt_active_only_in_4_0() {
        // Bit 21 is PREEMPT_ACTIVE in 4.0 (not atomic) and part of NMI_MASK in modern kernels.
        assert_eq!(atomic_count(Profile::V4_0, PREEMPT_ACTIVE), 0);
        assert_eq!(atomic_count(Profile::V4_0, PREEMPT_ACTIVE | 1), 1);
        assert_eq!(atomic_count(Profile::Modern, 0x0020_0000), 0x0020_0000);
        assert_ne!(0x0020_0000 & NMI_MASK_MODERN, 0);
    }
}
