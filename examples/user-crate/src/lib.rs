//! A driver's own crate testing its C driver with ksim (the README's "KUnit suites", from Rust):
//! [`build`] compiles the driver and its KUnit suite with ksim's build helper; the tests drive
//! each case with `Runner` under the schedulers they choose and assert on what ksim reports.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use ksim_c::{BuildError, Image, ModuleSpec};

/// The driver and its suite (`examples/kunit/my_driver.c`, `my_test.c`), built into one module.
pub fn build() -> Result<Arc<Image>, BuildError> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kunit");
    ModuleSpec::new("my_driver", [dir.join("my_test.c"), dir.join("my_driver.c")]).root(dir).build()
}
