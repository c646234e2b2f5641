//! What the C face keeps for one execution (dropped with it): the model objects C structs
//! stand for (locks and trees, found through the handle in the C struct), the `struct page` of
//! every allocation C has seen, disks, registered majors, debugfs files, caches.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};

use std::ffi::{c_char, c_ulong, c_void, CString};
use std::sync::{Arc, Mutex};

use ksim::mm::Page;

/// `struct ksim_handle` (spinlock_types.h): the model object a C lock or tree stands for, valid
/// in the execution whose id it records.
#[repr(C)]
pub(crate) struct CHandle {
    pub obj: *const c_void,
    pub exec: c_ulong,
}

/// `struct page` (mm_types.h).
#[repr(C)]
pub(crate) struct CPage {
    pub flags: c_ulong,
    pub lru: [usize; 2],
    pub mapping: *mut c_void,
    pub index: c_ulong,
    pub private: c_ulong,
    pub ksim_pfn: u64,
    pub ksim_gen: u32,
}

/// A C struct page, owned here (raw pointers inside make it `!Send`; it is plain data).
pub(crate) struct PageBox(pub Box<CPage>);
// SAFETY: plain data with no thread affinity; C code reaches it only through its pointer.
unsafe impl Send for PageBox {}

/// A debugfs directory or file.
#[derive(Default)]
pub(crate) struct Debugfs {
    /// Directory names by handle (1-based).
    pub dirs: Vec<Option<String>>,
    /// `dir/name` -> the u64 it shows.
    pub files: BTreeMap<String, usize>,
}

/// The C face's state of one execution.
#[derive(Default)]
pub(crate) struct CState {
    pub objs: Mutex<Vec<Arc<dyn Any + Send + Sync>>>,
    /// By frame index: the `struct page` of the frame's current allocation (a vector, not a
    /// map: looked up on every bio segment and kmap).
    pub pages: Mutex<Vec<Option<PageBox>>>,
    /// `struct page`s of earlier allocations of a frame: kept, since C may still hold a pointer
    /// to one (a use after free the model reports through the handle inside).
    pub old_pages: Mutex<Vec<PageBox>>,
    pub disks: Mutex<Vec<crate::disk::DiskEntry>>,
    pub majors: Mutex<Vec<(u32, String)>>,
    pub debugfs: Mutex<Debugfs>,
    pub caches: Mutex<Vec<ksim::mm::slab::KmemCache>>,
    pub comms: Mutex<HashMap<u32, CString>>,
}

/// The model object behind C handle `h`, made with `make` if the handle is not this
/// execution's: [`CState::object`], with the common case (a handle already made in this
/// execution: every lock, tree and wait after its first use) answered from the handle alone.
///
/// # Safety
/// As [`CState::object`].
pub(crate) unsafe fn object<T: Any + Send + Sync>(h: *mut CHandle, make: impl FnOnce() -> T) -> &'static T {
    let exec = ksim::ffi::exec_id() as c_ulong;
    // SAFETY: the caller's contract (a live handle).
    let (obj, made_in) = unsafe { ((*h).obj, (*h).exec) };
    if made_in == exec && !obj.is_null() {
        // SAFETY: made in this execution by `CState::object`, kept alive by its `objs`.
        return unsafe { &*(obj as *const T) };
    }
    // SAFETY: the caller's contract.
    unsafe { state().object(h, make) }
}

/// This execution's state.
pub(crate) fn state() -> Arc<CState> {
    std::thread_local! {
        /// The last execution's state on this thread, by execution id (unique in the process).
        /// Weak: the state holds model objects, which must be dropped inside their execution.
        static LAST: std::cell::RefCell<(u64, std::sync::Weak<CState>)> =
            const { std::cell::RefCell::new((0, std::sync::Weak::new())) };
    }
    let id = ksim::ffi::exec_id();
    LAST.with(|c| {
        if let Some(s) = c.borrow().1.upgrade().filter(|_| c.borrow().0 == id) {
            return s;
        }
        let s = ksim::ffi::exec_local::<CState>();
        *c.borrow_mut() = (id, Arc::downgrade(&s));
        s
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CState {
    /// The `struct page` C sees for `page` (made on first sight).
    pub(crate) fn cpage(&self, page: Page) -> *mut CPage {
        let (pfn, gen) = (page.pfn(), ksim::ffi::page_gen(page));
        let i = ksim::ffi::frame_index(page);
        let mut pages = lock(&self.pages);
        if pages.len() <= i {
            pages.resize_with(i + 1, || None);
        }
        let slot = &mut pages[i];
        if let Some(b) = slot.as_mut().filter(|b| b.0.ksim_pfn == pfn && b.0.ksim_gen == gen) {
            return &mut *b.0 as *mut CPage;
        }
        let mk = || {
            PageBox(Box::new(CPage {
                flags: 0,
                lru: [0; 2],
                mapping: std::ptr::null_mut(),
                index: ksim::mm::page_index(page) as c_ulong,
                private: 0,
                ksim_pfn: pfn,
                ksim_gen: gen,
            }))
        };
        if slot.as_ref().is_some_and(|b| b.0.ksim_gen > gen) {
            // A stale handle (an earlier allocation of the frame): its own struct page.
            let mut old = lock(&self.old_pages);
            if let Some(b) = old.iter_mut().find(|b| b.0.ksim_pfn == pfn && b.0.ksim_gen == gen) {
                return &mut *b.0 as *mut CPage;
            }
            old.push(mk());
            return &mut *old.last_mut().expect("just pushed").0 as *mut CPage;
        }
        if let Some(old) = slot.replace(mk()) {
            lock(&self.old_pages).push(old);
        }
        &mut *slot.as_mut().expect("just set").0 as *mut CPage
    }

    /// The model object behind a C handle, made with `make` if the handle is not this
    /// execution's.
    ///
    /// # Safety
    /// `h` points to a live C handle, and every handle of that kind of C struct holds objects of
    /// type `T` (the caller's kind).
    pub(crate) unsafe fn object<T: Any + Send + Sync>(
        &self,
        h: *mut CHandle,
        make: impl FnOnce() -> T,
    ) -> &'static T {
        let exec = ksim::ffi::exec_id() as c_ulong;
        // SAFETY: the caller's contract.
        let h = unsafe { &mut *h };
        if h.exec == exec && !h.obj.is_null() {
            // SAFETY: made below in this execution, kept alive by `objs` until it ends.
            return unsafe { &*(h.obj as *const T) };
        }
        self.install(h, Arc::new(make()))
    }

    /// Makes `obj` the object of handle `h` (re-initialisation: `spin_lock_init` on a lock).
    pub(crate) fn install<T: Any + Send + Sync>(&self, h: &mut CHandle, obj: Arc<T>) -> &'static T {
        h.exec = ksim::ffi::exec_id() as c_ulong;
        h.obj = Arc::as_ptr(&obj) as *const c_void;
        let r: *const T = Arc::as_ptr(&obj);
        lock(&self.objs).push(obj);
        // SAFETY: kept alive by `objs` for the rest of the execution, which is as long as C may
        // use the handle.
        unsafe { &*r }
    }

    /// A C string of the current task's comm that stays valid for the execution.
    pub(crate) fn comm(&self, pid: u32, comm: String) -> *const c_char {
        let mut m = lock(&self.comms);
        m.entry(pid).or_insert_with(|| CString::new(comm).unwrap_or_default()).as_ptr()
    }
}
