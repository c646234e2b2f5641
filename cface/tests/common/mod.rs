//! Shared by the C-face tests: build a test module from `tests/c/`, call its exported entry
//! points inside a run, and find the lines the C file marks, so a report's `file.c:LINE` is
//! asserted against the C source itself.
#![allow(dead_code)] // each test file uses its own part

use std::ffi::c_int;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ksim::prelude::*;
use ksim_c::{Image, Lease, ModuleSpec};

/// The crate's directory: modules are compiled under it, so `__FILE__` is `tests/c/NAME.c`.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds `tests/c/<name>.c` as module `name`.
pub fn build(name: &str) -> Arc<Image> {
    ModuleSpec::new(name, [PathBuf::from(format!("tests/c/{name}.c"))])
        .root(root())
        .build()
        .unwrap_or_else(|e| panic!("{e}\n{}", e.details().unwrap_or("")))
}

/// The C file's name as reports print it.
pub fn c_file(name: &str) -> String {
    format!("tests/c/{name}.c")
}

/// `tests/c/<name>.c:LINE` of the line holding the marker comment `/* @tag */`.
pub fn site(name: &str, tag: &str) -> String {
    let path = root().join(c_file(name));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let marker = format!("/* @{tag} */");
    let hits: Vec<usize> =
        text.lines().enumerate().filter(|(_, l)| l.contains(&marker)).map(|(i, _)| i + 1).collect();
    assert_eq!(hits.len(), 1, "marker {marker} in {}: {hits:?}", path.display());
    format!("{}:{}", c_file(name), hits[0])
}

/// One instance of a module for a run's executions (each execution resets it).
#[derive(Clone)]
pub struct Module(Arc<Mutex<Lease>>);

impl Module {
    pub fn new(name: &str) -> Module {
        Module(Arc::new(Mutex::new(build(name).lease().expect("a module instance"))))
    }

    /// Fresh module data for a new execution.
    pub fn reset(&self) {
        self.0.lock().unwrap().reset();
    }

    /// The exported `int name(void)` of the module.
    pub fn entry(&self, name: &str) -> unsafe extern "C-unwind" fn() -> c_int {
        let p = self.0.lock().unwrap().symbol(name).unwrap_or_else(|| panic!("no exported {name}"));
        // SAFETY: the test modules export their entry points as `int name(void)`.
        #[allow(unsafe_code)]
        unsafe {
            std::mem::transmute::<*mut std::ffi::c_void, unsafe extern "C-unwind" fn() -> c_int>(p)
        }
    }

    /// Calls the exported `int name(unsigned long arg)` in the current task.
    pub fn call_with(&self, name: &str, arg: u64) -> c_int {
        let p = self.0.lock().unwrap().symbol(name).unwrap_or_else(|| panic!("no exported {name}"));
        // SAFETY: the test modules export their one-argument entry points as
        // `int name(unsigned long)`, called in a simulated task.
        #[allow(unsafe_code)]
        unsafe {
            let f =
                std::mem::transmute::<*mut std::ffi::c_void, unsafe extern "C-unwind" fn(u64) -> c_int>(p);
            f(arg)
        }
    }

    /// Calls the exported `int name(void)` in the current task.
    pub fn call(&self, name: &str) -> c_int {
        let f = self.entry(name);
        // SAFETY: a function of the loaded module, called in a simulated task as a driver's
        // entry point is.
        #[allow(unsafe_code)]
        unsafe {
            f()
        }
    }
}

/// Runs `body` once on real threads with `config`, on a fresh instance of `module`.
pub fn run_c(config: Config, module: &Module, body: impl Fn(&Module) + Send + Sync + 'static) -> Outcome {
    let m = module.clone();
    Runner::std().config(config).run(move || {
        m.reset();
        body(&m)
    })
}

/// The only report of `o`.
pub fn only_report(o: &Outcome) -> &Report {
    assert_eq!(o.reports.len(), 1, "{:#?}", o.reports);
    &o.reports[0]
}

/// Each of `want` is a line of `text` (after trimming its end), in this order.
pub fn assert_lines_in_order(text: &str, want: &[&str]) {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut from = 0;
    for w in want {
        match lines[from..].iter().position(|l| l == w) {
            Some(i) => from += i + 1,
            None => panic!("line {w:?} not found (in order) in:\n{text}"),
        }
    }
}
