//! `memcpy()` / `memset()` through kernel addresses (`lib/string.c`, checked as KASAN and KMSAN
//! check them: the checks are the model's, `model::mem::access`), and `virt_to_phys()`.

use crate::defs::loc::Loc;

pub use crate::defs::mm_types::PAGE_OFFSET;

use super::{KAddr, PAGE_SIZE};
use crate::model::mem::access::{access, copy_direct};

/// Copies `src` to kernel address `dst` (`memcpy(dst, src, n)` with a kernel destination).
///
/// # Context
/// Any; checked like KASAN.
#[track_caller]
pub fn memcpy_to(dst: KAddr, src: &[u8]) {
    memcpy_to_at(Loc::caller(), dst, src)
}

/// [`memcpy_to`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn memcpy_to_at(at: Loc, dst: KAddr, src: &[u8]) {
    access(dst, src.len(), None, Some(src), None, "memcpy", at);
}

/// Copies from kernel address `src` into `dst` (`memcpy(dst, src, n)` with a kernel source).
///
/// # Context
/// Any; checked like KASAN and KMSAN.
#[track_caller]
pub fn memcpy_from(dst: &mut [u8], src: KAddr) {
    memcpy_from_at(Loc::caller(), dst, src)
}

/// [`memcpy_from`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn memcpy_from_at(at: Loc, dst: &mut [u8], src: KAddr) {
    let n = dst.len();
    access(src, n, Some(dst), None, None, "memcpy", at);
}

/// `memset(dst, c, n)`.
///
/// # Context
/// Any.
#[track_caller]
pub fn memset(dst: KAddr, c: u8, n: usize) {
    memset_at(Loc::caller(), dst, c, n)
}

/// [`memset`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn memset_at(at: Loc, dst: KAddr, c: u8, n: usize) {
    access(dst, n, None, None, Some(c), "memset", at);
}

/// `memcpy(dst, src, n)` between two kernel addresses: both are checked (the source as a read,
/// the destination as a write).
///
/// # Context
/// Any.
#[track_caller]
pub fn memcpy(dst: KAddr, src: KAddr, n: usize) {
    memcpy_at(Loc::caller(), dst, src, n)
}

/// [`memcpy`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn memcpy_at(at: Loc, dst: KAddr, src: KAddr, n: usize) {
    if copy_direct(dst, src, n) {
        return;
    }
    let mut buf = vec![0u8; n];
    access(src, n, Some(&mut buf), None, None, "memcpy", at);
    access(dst, n, None, Some(&buf), None, "memcpy", at);
}

/// `virt_to_phys(addr)` (`__pa`): the physical address behind a direct-map or region address.
pub fn virt_to_phys(addr: KAddr) -> u64 {
    addr.pfn * PAGE_SIZE as u64 + addr.off
}
