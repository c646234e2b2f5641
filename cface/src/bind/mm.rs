//! `<linux/gfp.h>`, `<linux/mm.h>`, `<linux/highmem.h>`, `<linux/string.h>`, `<linux/slab.h>`:
//! pages are handed to C as `struct page` mirrors and mapped to real pointers into the model's
//! page memory; `memcpy`/`memset` through a pointer the model knows are the model's checked
//! copies; slab objects are real memory the model tracks.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

use ksim::ffi::{host_ptr, kaddr_of, page_from_parts};
use ksim::highmem as hm;
use ksim::mm::slab::{self, KmemCache, SlabFlags};
use ksim::mm::{memory, page_alloc, KAddr, Page};

use super::{gfp, loc, static_str};
use crate::state::{state, CPage};

/// The model's page a `struct page *` stands for (`None` for NULL).
///
/// # Safety
/// `p` is NULL or a struct page ksim made.
pub(crate) unsafe fn page_of(p: *const CPage) -> Option<Page> {
    // SAFETY: the caller's contract.
    unsafe { p.as_ref() }.map(|c| page_from_parts(c.ksim_pfn, c.ksim_gen))
}

/// The kernel address of a C pointer: one the model knows, else (a NULL or near-NULL pointer) a
/// NULL-based one the checks report; `None` for ordinary host memory (stack, static data).
pub(super) fn kaddr(p: *const c_void) -> Option<KAddr> {
    let a = p as usize;
    if a < 4096 {
        return Some(KAddr::NULL.add(a));
    }
    kaddr_of(a)
}

fn ptr(a: Option<KAddr>) -> *mut c_void {
    a.and_then(host_ptr).map_or(std::ptr::null_mut(), |p| p as *mut c_void)
}

unsafe extern "C-unwind" fn alloc_pages(g: c_uint, order: c_uint, f: *const c_char, l: c_int) -> *mut CPage {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    match page_alloc::alloc_pages_at(at, gfp(g), order) {
        Some(p) => state().cpage(p),
        None => std::ptr::null_mut(),
    }
}

/// A `struct page *` a C caller passed: NULL is the kernel's NULL-pointer oops.
///
/// # Safety
/// As [`page_of`].
unsafe fn page_arg(p: *const CPage, op: &str, at: ksim::Loc) -> Page {
    // SAFETY: the caller's contract.
    match unsafe { page_of(p) } {
        Some(p) => p,
        None => {
            ksim::sched::warn_at(at, &format!("{op}(NULL page)"));
            ksim::sched::bug_at(at)
        }
    }
}

unsafe extern "C-unwind" fn free_pages(p: *mut CPage, order: c_uint, f: *const c_char, l: c_int) {
    // SAFETY: C's arguments.
    let (at, page) = unsafe { (loc(f, l), page_of(p)) };
    if let Some(page) = page {
        page_alloc::__free_pages_at(at, page, order);
    }
}

unsafe extern "C-unwind" fn get_page(p: *mut CPage, f: *const c_char, l: c_int) {
    // SAFETY: C's arguments.
    let at = unsafe { loc(f, l) };
    page_alloc::get_page_at(at, unsafe { page_arg(p, "get_page", at) });
}

unsafe extern "C-unwind" fn put_page(p: *mut CPage, f: *const c_char, l: c_int) {
    // SAFETY: C's arguments.
    let at = unsafe { loc(f, l) };
    page_alloc::put_page_at(at, unsafe { page_arg(p, "put_page", at) });
}

unsafe extern "C-unwind" fn page_count(p: *mut CPage) -> c_int {
    // SAFETY: C's argument.
    unsafe { page_of(p) }.map_or(0, |p| page_alloc::page_count(p) as c_int)
}

unsafe extern "C-unwind" fn page_address(p: *mut CPage) -> *mut c_void {
    // SAFETY: C's argument.
    ptr(unsafe { page_of(p) }.and_then(hm::page_address))
}

unsafe extern "C-unwind" fn kmap(p: *mut CPage, f: *const c_char, l: c_int) -> *mut c_void {
    // SAFETY: C's arguments.
    let at = unsafe { loc(f, l) };
    ptr(Some(hm::kmap_at(at, unsafe { page_arg(p, "kmap", at) })))
}

unsafe extern "C-unwind" fn kunmap(p: *mut CPage, f: *const c_char, l: c_int) {
    // SAFETY: C's arguments.
    let at = unsafe { loc(f, l) };
    hm::kunmap_at(at, unsafe { page_arg(p, "kunmap", at) });
}

unsafe extern "C-unwind" fn kmap_atomic(p: *mut CPage, f: *const c_char, l: c_int) -> *mut c_void {
    // SAFETY: C's arguments.
    let at = unsafe { loc(f, l) };
    ptr(Some(hm::kmap_atomic_at(at, unsafe { page_arg(p, "kmap_atomic", at) })))
}

unsafe extern "C-unwind" fn kunmap_atomic(a: *mut c_void, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    hm::kunmap_atomic_at(at, kaddr(a).unwrap_or(KAddr::NULL));
}

unsafe extern "C-unwind" fn kmap_local_page(p: *mut CPage, f: *const c_char, l: c_int) -> *mut c_void {
    // SAFETY: C's arguments.
    let at = unsafe { loc(f, l) };
    ptr(Some(hm::kmap_local_page_at(at, unsafe { page_arg(p, "kmap_local_page", at) })))
}

unsafe extern "C-unwind" fn kunmap_local(a: *const c_void, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    hm::kunmap_local_at(at, kaddr(a).unwrap_or(KAddr::NULL));
}

/// `memcpy`/`memmove`: through the model where either side is kernel memory it knows (checked
/// as KASAN checks), else a plain copy of host memory.
///
/// # Safety
/// Host-memory sides are `n` valid bytes (as in C).
unsafe fn copy(d: *mut c_void, s: *const c_void, n: usize, f: *const c_char, l: c_int) -> *mut c_void {
    if n == 0 {
        return d;
    }
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    match (kaddr(d), kaddr(s)) {
        (Some(dk), Some(sk)) => memory::memcpy_at(at, dk, sk, n),
        // SAFETY: the host side is `n` bytes, as C's memcpy requires.
        (Some(dk), None) => {
            memory::memcpy_to_at(at, dk, unsafe { std::slice::from_raw_parts(s as *const u8, n) })
        }
        (None, Some(sk)) => {
            memory::memcpy_from_at(at, unsafe { std::slice::from_raw_parts_mut(d as *mut u8, n) }, sk)
        }
        // SAFETY: both host memory of `n` bytes (overlap allowed, as for memmove).
        (None, None) => unsafe { std::ptr::copy(s as *const u8, d as *mut u8, n) },
    }
    d
}

unsafe extern "C-unwind" fn memcpy(
    d: *mut c_void,
    s: *const c_void,
    n: usize,
    f: *const c_char,
    l: c_int,
) -> *mut c_void {
    // SAFETY: C's arguments.
    unsafe { copy(d, s, n, f, l) }
}

unsafe extern "C-unwind" fn memset(
    d: *mut c_void,
    c: c_int,
    n: usize,
    f: *const c_char,
    l: c_int,
) -> *mut c_void {
    if n == 0 {
        return d;
    }
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    match kaddr(d) {
        Some(dk) => memory::memset_at(at, dk, c as u8, n),
        // SAFETY: host memory of `n` bytes, as C's memset requires.
        None => unsafe { std::ptr::write_bytes(d as *mut u8, c as u8, n) },
    }
    d
}

/// A slab object's pointer, or `ZERO_SIZE_PTR`/NULL as C expects them.
fn obj_ptr(a: Option<KAddr>) -> *mut c_void {
    match a {
        Some(a) if a == slab::ZERO_SIZE_PTR => 16 as *mut c_void,
        a => ptr(a),
    }
}

/// The model's address of a pointer C frees (`ZERO_SIZE_PTR` and NULL included).
pub(super) fn freed(p: *const c_void) -> Option<KAddr> {
    match p as usize {
        0 => Some(KAddr::NULL),
        16 => Some(slab::ZERO_SIZE_PTR),
        _ => kaddr(p),
    }
}

unsafe extern "C-unwind" fn kmalloc(
    size: usize,
    g: c_uint,
    op: *const c_char,
    f: *const c_char,
    l: c_int,
) -> *mut c_void {
    // SAFETY: C's arguments (`op` is a literal of the headers).
    let (at, op) = unsafe { (loc(f, l), static_str(op)) };
    obj_ptr(slab::kmalloc_at(at, op, size, gfp(g)))
}

unsafe extern "C-unwind" fn krealloc(
    p: *const c_void,
    size: usize,
    g: c_uint,
    f: *const c_char,
    l: c_int,
) -> *mut c_void {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    let old = freed(p).unwrap_or(KAddr::NULL);
    obj_ptr(slab::krealloc_at(at, old, size, gfp(g)))
}

pub(super) unsafe extern "C-unwind" fn kfree(p: *const c_void, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    match freed(p) {
        Some(a) => slab::kfree_at(at, a),
        None => ksim::ffi::invalid_free_at(at, "kfree"),
    }
}

unsafe extern "C-unwind" fn ksize(p: *const c_void) -> usize {
    freed(p).map_or(0, slab::ksize)
}

/// `struct kmem_cache *` handed to C: an opaque, never-dereferenced token for the cache index.
fn cache_token(idx: usize) -> *mut c_void {
    (0x1000 + idx * 16) as *mut c_void
}

fn cache_of(token: *mut c_void) -> Option<KmemCache> {
    let idx = (token as usize).checked_sub(0x1000)? / 16;
    let st = state();
    let caches = st.caches.lock().unwrap_or_else(|e| e.into_inner());
    caches.get(idx).copied()
}

unsafe extern "C-unwind" fn kmem_cache_create(
    name: *const c_char,
    size: c_uint,
    align: c_uint,
    flags: c_ulong,
    f: *const c_char,
    l: c_int,
) -> *mut c_void {
    // SAFETY: C's arguments (the name outlives the cache: module data or never freed).
    let (at, name) = unsafe { (loc(f, l), static_str(name)) };
    let Some(c) =
        slab::kmem_cache_create_at(at, name, size as usize, align as usize, SlabFlags(flags as u32))
    else {
        return std::ptr::null_mut();
    };
    let st = state();
    let mut caches = st.caches.lock().unwrap_or_else(|e| e.into_inner());
    caches.push(c);
    cache_token(caches.len() - 1)
}

unsafe extern "C-unwind" fn kmem_cache_alloc(
    c: *mut c_void,
    g: c_uint,
    f: *const c_char,
    l: c_int,
) -> *mut c_void {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    match cache_of(c) {
        Some(c) => obj_ptr(slab::kmem_cache_alloc_at(at, &c, gfp(g))),
        None => ksim::sched::bug_at(at),
    }
}

unsafe extern "C-unwind" fn kmem_cache_free(c: *mut c_void, p: *mut c_void, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    match (cache_of(c), freed(p)) {
        (Some(c), Some(a)) => slab::kmem_cache_free_at(at, &c, a),
        (Some(_), None) => ksim::ffi::invalid_free_at(at, "kmem_cache_free"),
        (None, _) => ksim::sched::bug_at(at),
    }
}

unsafe extern "C-unwind" fn kmem_cache_destroy(c: *mut c_void, f: *const c_char, l: c_int) {
    // SAFETY: C's __FILE__.
    let at = unsafe { loc(f, l) };
    if c.is_null() {
        return;
    }
    match cache_of(c) {
        Some(c) => slab::kmem_cache_destroy_at(at, c),
        None => ksim::sched::bug_at(at),
    }
}

/// The functions of this file, by `ksim_<name>`.
pub(super) const TABLE: &[(&str, *const c_void)] = &[
    ("alloc_pages", alloc_pages as *const c_void),
    ("free_pages", free_pages as *const c_void),
    ("get_page", get_page as *const c_void),
    ("put_page", put_page as *const c_void),
    ("page_count", page_count as *const c_void),
    ("page_address", page_address as *const c_void),
    ("kmap", kmap as *const c_void),
    ("kunmap", kunmap as *const c_void),
    ("kmap_atomic", kmap_atomic as *const c_void),
    ("kunmap_atomic", kunmap_atomic as *const c_void),
    ("kmap_local_page", kmap_local_page as *const c_void),
    ("kunmap_local", kunmap_local as *const c_void),
    ("memcpy", memcpy as *const c_void),
    // The copy handles overlap, so memmove is the same function.
    ("memmove", memcpy as *const c_void),
    ("memset", memset as *const c_void),
    ("kmalloc", kmalloc as *const c_void),
    ("krealloc", krealloc as *const c_void),
    ("kfree", kfree as *const c_void),
    ("ksize", ksize as *const c_void),
    ("kmem_cache_create", kmem_cache_create as *const c_void),
    ("kmem_cache_alloc", kmem_cache_alloc as *const c_void),
    ("kmem_cache_free", kmem_cache_free as *const c_void),
    ("kmem_cache_destroy", kmem_cache_destroy as *const c_void),
];
