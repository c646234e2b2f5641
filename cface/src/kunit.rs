//! KUnit suites in a module (`<kunit/test.h>`, the runtime in `runtime/kunit.c`): the suites and
//! cases a module declares, and one case run in the current simulated task as one execution:
//!
//! 1. a fresh module (globals as at load), its parameters set as modprobe does, `module_init`;
//! 2. `suite_init`, `init` and the case; `exit`, the test-managed resources, `suite_exit`;
//! 3. `module_exit`, so what the driver allocated is freed and a leak is the driver's.
//!
//! Each execution is a fresh kernel, so `suite_init`/`suite_exit` run around every case (KUnit
//! runs them once per suite in one kernel).
//!
//! An ASSERT (and `kunit_skip()`) ends the case by unwinding: the runtime calls
//! [`kunit_abort`], which resumes a panic with a payload of its own through the C frames (built
//! with `-fexceptions`, so they have unwind tables, and GCC runs their
//! `-finstrument-functions` exit hooks as cleanups, keeping the simulated call stack balanced).
//! `longjmp` would skip those hooks, and would cross Rust frames whenever a case's C calls back
//! through ksim (a bio's `->submit_bio`). The payload is caught around the case alone, so
//! `exit` and the cleanups still run. `resume_unwind` does not run the panic hook, so nothing
//! is printed for it.
//!
//! A failed case is a ksim report (an integrity report with KUnit's failure text), so every
//! scheduler stops at its failing execution and names it, as for any report.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::module::{Instance, Lease};

/// One suite of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suite {
    /// `.name`.
    pub name: String,
    /// Its cases, in order.
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The case function's name.
    pub name: String,
    /// For a `KUNIT_CASE_PARAM` case, each parameter's description (`param-N` when the
    /// generator names none); `None` for a plain case.
    pub params: Option<Vec<String>>,
}

/// A case's result in one execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every expectation held.
    Pass,
    /// An expectation or assertion failed, or `init`/`suite_init`/`module_init` did.
    Fail,
    /// `kunit_skip()` or `kunit_mark_skipped()`.
    Skip,
}

/// What one execution of a case found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The result.
    pub status: Status,
    /// The skip reason (empty otherwise).
    pub comment: String,
    /// The case's log (`kunit_info()`... and the failures), one entry per line.
    pub log: Vec<String>,
}

type NFn = unsafe extern "C" fn() -> c_int;
type NameFn = unsafe extern "C" fn(c_int) -> *const c_char;
type CaseNameFn = unsafe extern "C" fn(c_int, c_int) -> *const c_char;
type ParamFn = unsafe extern "C" fn(c_int, c_int, c_int, *mut c_char, *mut *const c_void) -> c_int;
type BeginFn = unsafe extern "C-unwind" fn(c_int, c_int, c_int) -> c_int;
type TryFn = unsafe extern "C-unwind" fn();
type EndFn = unsafe extern "C-unwind" fn(c_int);
type StrFn = unsafe extern "C" fn() -> *const c_char;

/// The runtime's entry points in an instance.
struct Entry {
    begin: BeginFn,
    try_case: TryFn,
    end: EndFn,
    status: NFn,
    comment: StrFn,
    log: StrFn,
}

fn sym<T: Copy>(inst: &Instance, name: &str) -> Result<T, String> {
    let p = inst.symbol(name).ok_or_else(|| format!("the module lacks ksim's KUnit runtime ({name})"))?;
    assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<*mut c_void>());
    // SAFETY: `name` is the runtime's function of type `T` (runtime/kunit.c).
    Ok(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
}

fn entry(inst: &Instance) -> Result<Entry, String> {
    Ok(Entry {
        begin: sym(inst, "ksim_kunit_begin")?,
        try_case: sym(inst, "ksim_kunit_try")?,
        end: sym(inst, "ksim_kunit_end")?,
        status: sym(inst, "ksim_kunit_status")?,
        comment: sym(inst, "ksim_kunit_comment")?,
        log: sym(inst, "ksim_kunit_log")?,
    })
}

fn owned(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: a NUL-terminated string of the module's.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The suites a module declares (`kunit_test_suites()`), in link order. Parameter generators
/// are called here, outside any task: a generator is expected to compute, not to call the
/// kernel (KUNIT_ARRAY_PARAM's do not).
pub fn suites(inst: &Instance) -> Result<Vec<Suite>, String> {
    let n: NFn = sym(inst, "ksim_kunit_nsuites")?;
    let suite_name: NameFn = sym(inst, "ksim_kunit_suite_name")?;
    let case_name: CaseNameFn = sym(inst, "ksim_kunit_case_name")?;
    let param: ParamFn = sym(inst, "ksim_kunit_param")?;
    let mut out = Vec::new();
    // SAFETY: the runtime's functions, with in-range indices and a desc buffer of
    // KUNIT_PARAM_DESC_SIZE (128) bytes.
    unsafe {
        for s in 0..n() {
            let mut cases = Vec::new();
            for c in 0.. {
                let name = case_name(s, c);
                if name.is_null() {
                    break;
                }
                let mut params = None;
                let mut desc = [0 as c_char; 128];
                let mut value: *const c_void = std::ptr::null();
                for p in 0.. {
                    match param(s, c, p, desc.as_mut_ptr(), &mut value) {
                        1 => {
                            let d = owned(desc.as_ptr());
                            let d = if d.is_empty() { format!("param-{p}") } else { d };
                            params.get_or_insert_with(Vec::new).push(d);
                        }
                        0 => {
                            params.get_or_insert_with(Vec::new);
                            break;
                        }
                        _ => break,
                    }
                }
                cases.push(Case { name: owned(name), params });
            }
            out.push(Suite { name: owned(suite_name(s)), cases });
        }
    }
    Ok(out)
}

/// The pid of the task running the current execution's case (0: none yet).
#[derive(Default)]
struct CaseTask(AtomicU32);

/// The payload that ends a case (an ASSERT, `kunit_skip()`).
struct Abort;

/// `ksim_kunit_abort`: ends the case from its own task by unwinding to [`run_case`]. A failed
/// assertion in another task (a kthread the case started) cannot end the case; KUnit would end
/// that thread, and ksim reports the failure at once, which ends the execution.
pub(crate) unsafe extern "C-unwind" fn kunit_abort(text: *const c_char) {
    let case = ksim::ffi::exec_local::<CaseTask>().0.load(Ordering::Relaxed);
    if case != 0 && case != ksim::sched::current_pid() {
        let why = owned(text);
        ksim::check::test_failed(format!(
            "KUnit: an assertion failed in {} (pid {}), not in the case's task\n{why}\n",
            ksim::sched::current_comm(),
            ksim::sched::current_pid()
        ));
    }
    std::panic::resume_unwind(Box::new(Abort))
}

/// Runs case `case` (parameter `param`) of suite `suite` once, in the current task, as the
/// module above describes; `found` receives the result before a failure is reported (a report
/// may end the execution). Module parameters are set with `params` (checked beforehand with
/// [`check_params`]).
///
/// # Context
/// Process context, the main task of an execution.
pub fn run_case(
    lease: &Mutex<Lease>,
    module: &str,
    params: &[(String, String)],
    (suite, case, param): (usize, usize, usize),
    found: &dyn Fn(Execution),
) {
    let (init, exit, e) = {
        let mut l = lease.lock().unwrap_or_else(|e| e.into_inner());
        l.reset();
        if let Err(e) = l.set_params(module, params) {
            found(Execution { status: Status::Fail, comment: String::new(), log: vec![e.0.clone()] });
            ksim::check::test_failed(format!("KUnit: {}\n", e.0));
            return;
        }
        match entry(&l) {
            Ok(e) => (l.init_fn(), l.exit_fn(), e),
            Err(why) => panic!("ksim: {why}"),
        }
    };
    let (s, c, p) = (suite as c_int, case as c_int, param as c_int);
    // SAFETY: the module's own init function, called as insmod calls it.
    let r = init.map_or(0, |f| unsafe { f() });
    if r != 0 {
        let why = format!("module_init failed: {r}");
        found(Execution { status: Status::Fail, comment: String::new(), log: vec![why.clone()] });
        ksim::check::test_failed(format!("KUnit: {why}\n"));
        return;
    }
    ksim::ffi::exec_local::<CaseTask>().0.store(ksim::sched::current_pid(), Ordering::Relaxed);
    // SAFETY: the runtime's entry points, with indices `suites()` listed.
    let suite_ok = unsafe { (e.begin)(s, c, p) } == 0;
    if suite_ok {
        // SAFETY: as above; the case may unwind with `Abort` (caught) or a ksim report (passed on).
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (e.try_case)() }));
        if let Err(payload) = r {
            if !payload.is::<Abort>() {
                std::panic::resume_unwind(payload);
            }
        }
    }
    // SAFETY: as above.
    unsafe { (e.end)(c_int::from(suite_ok)) };
    if let Some(f) = exit {
        // SAFETY: the module's exit function.
        unsafe { f() };
    }
    // SAFETY: the runtime's accessors return its own NUL-terminated buffers.
    let (status, comment, log) = unsafe { ((e.status)(), owned((e.comment)()), owned((e.log)())) };
    let status = match status {
        0 => Status::Pass,
        2 => Status::Skip,
        _ => Status::Fail,
    };
    let log: Vec<String> = log.lines().map(str::to_string).collect();
    found(Execution { status, comment, log: log.clone() });
    if status == Status::Fail {
        let mut body = String::from("KUnit: the case failed\n");
        for l in &log {
            body.push_str(l);
            body.push('\n');
        }
        ksim::check::test_failed(body);
    }
}

/// `ksim_kunit_ptr_text`: how a failed pointer check prints a pointer, deterministically: a
/// kernel address (a page, a slab object, pmem) as the model prints it (`%px` of the kernel,
/// without the `0x`), NULL as zeros, and any other host pointer (stack, static data) as
/// `(not a kernel address)`, since its value changes from run to run.
pub(crate) unsafe extern "C-unwind" fn kunit_ptr_text(p: *const c_void, buf: *mut c_char, n: usize) {
    let text = if p.is_null() {
        "0000000000000000".to_string()
    } else if !ksim::ffi::in_task() {
        "(not a kernel address)".to_string()
    } else {
        match ksim::ffi::kaddr_of(p as usize) {
            Some(k) => format!("{:016x}", k.value()),
            None => "(not a kernel address)".to_string(),
        }
    };
    let bytes = text.as_bytes();
    let len = bytes.len().min(n.saturating_sub(1));
    // SAFETY: the runtime's buffer of `n` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), len);
        *buf.add(len) = 0;
    }
}

/// Checks module parameters against a loaded instance (modprobe's errors, one line).
pub fn check_params(lease: &mut Lease, module: &str, params: &[(String, String)]) -> Result<(), String> {
    lease.reset();
    let r = lease.set_params(module, params).map_err(|e| e.0);
    lease.reset();
    r
}
