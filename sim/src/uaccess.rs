//! `include/linux/uaccess.h` / `arch/x86/include/asm/uaccess.h`: copies between kernel buffers
//! and a simulated user address space (`model::uaccess`). Every copy starts with
//! `might_fault()`: since 4.2 (modern profile) that is `might_sleep()` unless page faults are
//! disabled — so `copy_to_user()` under a spinlock is the kernel's "sleeping function called
//! from invalid context" in every interleaving; 4.0's `might_fault()` returned early when
//! `in_atomic()`, and the bug showed only when a page was not present and the copy failed.
//! A fault on a present mapping may sleep (it is a scheduling point); one that cannot be
//! handled (atomic context, page faults disabled) or a bad address stops the copy, which
//! returns the bytes it did not copy (`get_user`/`put_user`: `-EFAULT`). Never a crash.
//! Facts and sources: `docs/kernel-api-facts.md` §5.

use crate::defs::config::Profile;
use crate::defs::loc::Loc;
use crate::defs::preempt_mask::atomic_count;
use crate::errno::Errno;
use crate::model::current_in;
use crate::model::sleep::might_sleep_at;
use crate::model::task::TaskCell;
use crate::model::uaccess::{Access, TASK_SIZE};

/// A `void __user *`: an address in the user address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserPtr(pub u64);

impl UserPtr {
    /// `ptr + n`.
    #[allow(clippy::should_implement_trait)] // reads as the C pointer arithmetic, like KAddr::add
    pub fn add(self, n: u64) -> UserPtr {
        UserPtr(self.0.wrapping_add(n))
    }
}

/// The process maps `len` bytes (anonymous, zeroed). With `present` false no page is in
/// memory yet: the first access to each faults (and may sleep). Test set-up, not a kernel API.
#[track_caller]
pub fn user_mmap(len: u64, present: bool) -> UserPtr {
    UserPtr(current_in("user_mmap()").exec.user.lock().unwrap_or_else(|e| e.into_inner()).map(len, present))
}

/// The process unmaps the mapping that starts at `p` (later accesses are bad addresses).
#[track_caller]
pub fn user_munmap(p: UserPtr) -> bool {
    current_in("user_munmap()").exec.user.lock().unwrap_or_else(|e| e.into_inner()).unmap(p.0)
}

/// The process reads its own memory (faulting pages in; no kernel checks). Test helper.
#[track_caller]
pub fn user_peek(p: UserPtr, len: usize) -> Option<Vec<u8>> {
    let t = current_in("user_peek()");
    let mut mm = t.exec.user.lock().unwrap_or_else(|e| e.into_inner());
    (0..len as u64)
        .map(|i| {
            mm.fault_in(p.0 + i);
            match mm.byte(p.0 + i) {
                Access::Byte(b) => Some(*b),
                _ => None,
            }
        })
        .collect()
}

/// `access_ok(addr, size)`: the range lies below `TASK_SIZE`.
pub fn access_ok(p: UserPtr, len: u64) -> bool {
    p.0.checked_add(len).is_some_and(|end| end <= TASK_SIZE)
}

/// `pagefault_disable()`: user accesses no longer fault pages in (they fail instead) and
/// `might_fault()` does not check. 4.0 counts it in preempt_count.
#[track_caller]
pub fn pagefault_disable() {
    let t = current_in("pagefault_disable()");
    if t.exec.config().profile == Profile::V4_0 {
        drop(t);
        crate::preempt::preempt_disable();
    } else {
        t.state().pagefault_disabled += 1;
    }
}

/// `pagefault_enable()`.
#[track_caller]
pub fn pagefault_enable() {
    let t = current_in("pagefault_enable()");
    if t.exec.config().profile == Profile::V4_0 {
        drop(t);
        crate::preempt::preempt_enable();
    } else {
        let mut st = t.state();
        st.pagefault_disabled = st.pagefault_disabled.saturating_sub(1);
    }
}

/// `faulthandler_disabled()` (4.0: `in_atomic()`; modern: `pagefault_disabled() || in_atomic()`).
fn faults_disabled(t: &TaskCell) -> bool {
    let profile = t.exec.config().profile;
    let st = t.state();
    st.pagefault_disabled > 0 || atomic_count(profile, st.preempt_count) != 0 || st.irqs_disabled
}

/// `might_fault()` at `at` for the API `api`.
fn might_fault(t: &TaskCell, at: Loc, api: &str) {
    let skip = match t.exec.config().profile {
        Profile::V4_0 => atomic_count(Profile::V4_0, t.state().preempt_count) != 0,
        Profile::Modern => t.state().pagefault_disabled > 0,
    };
    if !skip {
        might_sleep_at(at, api, None);
    }
}

/// One byte access at `addr`, faulting the page in when it can: `None` stops the copy.
fn byte_op(t: &TaskCell, addr: u64, op: &mut dyn FnMut(&mut u8)) -> Option<()> {
    for _ in 0..2 {
        let not_present = {
            let mut mm = t.exec.user.lock().unwrap_or_else(|e| e.into_inner());
            match mm.byte(addr) {
                Access::Byte(b) => {
                    op(b);
                    return Some(());
                }
                Access::Bad => return None,
                Access::NotPresent => true,
            }
        };
        if not_present {
            if faults_disabled(t) {
                return None;
            }
            // handle_mm_fault(): the page comes in, and the task may sleep meanwhile.
            t.exec.emit(t, crate::model::trace::Cat::Mem, "page_fault", || format!("user address {addr:#x}"));
            t.exec.user.lock().unwrap_or_else(|e| e.into_inner()).fault_in(addr);
            crate::model::backend::yield_now();
        }
    }
    None
}

/// Copies `len` bytes to (`write`) or from user memory at `p`; the bytes not copied.
fn copy(t: &TaskCell, p: UserPtr, len: usize, write: bool, buf: &mut dyn FnMut(usize, &mut u8)) -> usize {
    if !access_ok(p, len as u64) {
        return len;
    }
    for i in 0..len {
        let mut f = |b: &mut u8| buf(i, b);
        if byte_op(t, p.0 + i as u64, &mut f).is_none() {
            let _ = write;
            return len - i;
        }
    }
    0
}

/// `copy_to_user(to, from, n)`: the number of bytes that could not be copied (0 on success).
///
/// # Context
/// Process context: `might_fault()` (modern: `might_sleep()` unless page faults are
/// disabled; 4.0: skipped when atomic); a fault may sleep.
#[track_caller]
pub fn copy_to_user(to: UserPtr, from: &[u8]) -> usize {
    let at = Loc::caller();
    let t = current_in("copy_to_user()");
    might_fault(&t, at, "copy_to_user()");
    copy(&t, to, from.len(), true, &mut |i, b| *b = from[i])
}

/// `copy_from_user(to, from, n)`: the bytes not copied; the kernel zeroes the rest of `to`.
///
/// # Context
/// As `copy_to_user`.
#[track_caller]
pub fn copy_from_user(to: &mut [u8], from: UserPtr) -> usize {
    let at = Loc::caller();
    let t = current_in("copy_from_user()");
    might_fault(&t, at, "copy_from_user()");
    let n = to.len();
    let left = copy(&t, from, n, false, &mut |i, b| to[i] = *b);
    to[n - left..].fill(0);
    left
}

/// `clear_user(to, n)`: zeroes user memory; the bytes not cleared.
///
/// # Context
/// As `copy_to_user`.
#[track_caller]
pub fn clear_user(to: UserPtr, n: usize) -> usize {
    let at = Loc::caller();
    let t = current_in("clear_user()");
    might_fault(&t, at, "clear_user()");
    copy(&t, to, n, true, &mut |_, b| *b = 0)
}

/// `get_user(x, ptr)` for a `u64`-sized or smaller value of `size` bytes (1, 2, 4, 8),
/// little-endian: the value, or `-EFAULT`.
///
/// # Context
/// As `copy_from_user`.
#[track_caller]
pub fn get_user(ptr: UserPtr, size: usize) -> Result<u64, Errno> {
    assert!(matches!(size, 1 | 2 | 4 | 8), "ksim: get_user() of size {size} (valid: 1, 2, 4, 8)");
    let at = Loc::caller();
    let t = current_in("get_user()");
    might_fault(&t, at, "get_user()");
    let mut bytes = [0u8; 8];
    match copy(&t, ptr, size, false, &mut |i, b| bytes[i] = *b) {
        0 => Ok(u64::from_le_bytes(bytes)),
        _ => Err(Errno::EFAULT),
    }
}

/// `put_user(x, ptr)` of the low `size` bytes of `v`: `Ok`, or `-EFAULT`.
///
/// # Context
/// As `copy_to_user`.
#[track_caller]
pub fn put_user(v: u64, ptr: UserPtr, size: usize) -> Result<(), Errno> {
    assert!(matches!(size, 1 | 2 | 4 | 8), "ksim: put_user() of size {size} (valid: 1, 2, 4, 8)");
    let at = Loc::caller();
    let t = current_in("put_user()");
    might_fault(&t, at, "put_user()");
    let bytes = v.to_le_bytes();
    match copy(&t, ptr, size, true, &mut |i, b| *b = bytes[i]) {
        0 => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}
