//! `<linux/printk.h>`, `<linux/bug.h>`, `<linux/debugfs.h>` and the frame hooks of
//! `-finstrument-functions` (every C function entered is a simulated call frame, named from the
//! module's symbol table).

use std::ffi::{c_char, c_int, c_ushort, c_void};

use super::{loc, static_str};
use crate::state::state;

unsafe extern "C-unwind" fn printk(text: *const c_char) {
    // SAFETY: the runtime's formatted buffer (copied here).
    let s = unsafe { std::ffi::CStr::from_ptr(text) }.to_string_lossy().into_owned();
    // KERN_<LEVEL> is "\001" and a digit (or 'c'): the trace keeps the message.
    let msg = match s.as_bytes() {
        [1, _, ..] => s[2..].to_string(),
        _ => s,
    };
    if ksim::ffi::in_task() {
        ksim::printk::printk(|| msg.trim_end_matches('\n').to_string());
    }
}

unsafe extern "C-unwind" fn bug(f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    ksim::sched::bug_at(unsafe { loc(f, l) })
}

unsafe extern "C-unwind" fn warn(cond: *const c_char, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__ and the condition's text (a literal).
    let (at, cond) = unsafe { (loc(f, l), static_str(cond)) };
    ksim::sched::warn_at(at, cond);
}

unsafe extern "C-unwind" fn func_enter(instance: c_int, f: *mut c_void) {
    ksim::ffi::frame_push(crate::module::function_name(instance, f as usize));
}

unsafe extern "C-unwind" fn func_exit(_instance: c_int, _f: *mut c_void) {
    ksim::ffi::frame_pop();
}

/// A debugfs dentry handed to C: an opaque, never-dereferenced token (1-based directory index).
fn dentry_token(i: usize) -> *mut c_void {
    (0x2000 + i * 16) as *mut c_void
}

fn dentry_index(d: *mut c_void) -> Option<usize> {
    (d as usize).checked_sub(0x2000).map(|x| x / 16).filter(|&i| i > 0)
}

unsafe extern "C-unwind" fn debugfs_create_dir(name: *const c_char, parent: *mut c_void) -> *mut c_void {
    let st = state();
    let mut d = st.debugfs.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: C's name string (copied).
    let mut path = unsafe { static_str(name) }.to_string();
    if let Some(p) = dentry_index(parent).and_then(|i| d.dirs.get(i - 1).cloned().flatten()) {
        path = format!("{p}/{path}");
    }
    d.dirs.push(Some(path));
    dentry_token(d.dirs.len())
}

unsafe extern "C-unwind" fn debugfs_create_u64(
    name: *const c_char,
    _mode: c_ushort,
    parent: *mut c_void,
    value: *mut u64,
) {
    let st = state();
    let mut d = st.debugfs.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: C's name string (copied).
    let name = unsafe { static_str(name) };
    let path = match dentry_index(parent).and_then(|i| d.dirs.get(i - 1).cloned().flatten()) {
        Some(p) => format!("{p}/{name}"),
        None => name.to_string(),
    };
    d.files.insert(path, value as usize);
}

unsafe extern "C-unwind" fn debugfs_remove(dentry: *mut c_void) {
    let st = state();
    let mut d = st.debugfs.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = dentry_index(dentry) {
        if let Some(Some(p)) = d.dirs.get(i - 1).cloned() {
            let prefix = format!("{p}/");
            d.files.retain(|k, _| !k.starts_with(&prefix));
            d.dirs[i - 1] = None;
        }
    }
}

/// The value of debugfs file `path` (`ramdisk_pages/ram0`) in the current execution, if a C
/// module created it.
pub fn debugfs_u64(path: &str) -> Option<u64> {
    let st = state();
    let d = st.debugfs.lock().unwrap_or_else(|e| e.into_inner());
    let p = *d.files.get(path)?;
    // SAFETY: the u64 a module registered; module memory outlives the execution.
    Some(unsafe { std::ptr::read_volatile(p as *const u64) })
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("printk", printk as *const c_void),
    ("bug", bug as *const c_void),
    ("warn", warn as *const c_void),
    ("func_enter", func_enter as *const c_void),
    ("kunit_abort", crate::kunit::kunit_abort as *const c_void),
    ("kunit_ptr_text", crate::kunit::kunit_ptr_text as *const c_void),
    ("func_exit", func_exit as *const c_void),
    ("debugfs_create_dir", debugfs_create_dir as *const c_void),
    ("debugfs_create_u64", debugfs_create_u64 as *const c_void),
    ("debugfs_remove", debugfs_remove as *const c_void),
];
