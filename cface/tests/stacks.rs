//! C frames on the schedulers' coroutine stacks: shuttle and loom run every task as a coroutine
//! on a stack of its own, which ksim sizes (512 KiB) for C code: 64 KiB of C frames here, with
//! ksim's own Rust frames on top, four times a kernel thread's stack. loom's main task keeps
//! loom's own 32 KiB (loom sizes it; ksim cannot), which holds 8 KiB of C frames here.

use std::path::PathBuf;

use ksim::prelude::*;
use ksim_c::ModuleSpec;

fn init_ok_under(runner: Runner, depth: u32, in_kthread: bool) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/deep_stack.c");
    let img = ModuleSpec::new("deep_stack", [src]).build().unwrap_or_else(|e| panic!("{e}"));
    let lease = std::sync::Mutex::new(img.lease().expect("an instance"));
    let o = runner.run(move || {
        let init = {
            let mut l = lease.lock().unwrap();
            l.reset();
            l.set_params("deep_stack", &[("deep_depth".into(), depth.to_string())]).expect("param");
            l.init_fn().expect("module_init")
        };
        // `depth` frames of 2 KiB each.
        let r = if in_kthread {
            kthread_run("deep", move || unsafe_call(init)).join()
        } else {
            unsafe_call(init)
        };
        ksim::check::expect_eq(r, 0, "deep_init");
    });
    assert!(o.is_clean(), "{:?}", o.reports);
}

fn unsafe_call(f: unsafe extern "C-unwind" fn() -> std::ffi::c_int) -> std::ffi::c_int {
    // The module's own init function, called as insmod calls it.
    #[allow(unsafe_code)]
    unsafe {
        f()
    }
}

#[test]
fn c_stack_frames_fit_every_scheduler() {
    for in_kthread in [false, true] {
        init_ok_under(Runner::std(), 32, in_kthread);
        init_ok_under(Runner::pct(1, 2, 5), 32, in_kthread);
        init_ok_under(Runner::dfs(Some(1), Some(5)), 32, in_kthread);
    }
    init_ok_under(Runner::loom(Some(1)), 32, true);
    init_ok_under(Runner::loom(Some(1)), 4, false);
}
