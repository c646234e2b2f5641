//! The user's test: every case of the driver's KUnit suite under PCT and DFS, with a module
//! parameter set as modprobe sets it. `my_stats_grows` passes every expectation, and ksim fails
//! it for the `krealloc(GFP_KERNEL)` under the driver's spinlock.

#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use ksim::{Runner, Violation};
use ksim_c::kunit::{self, Status};

#[test]
fn the_suite_under_pct_and_dfs() {
    let image = ksim_example_user::build().unwrap_or_else(|e| panic!("{}\n{e}", e.details().unwrap_or("")));
    let lease = Arc::new(Mutex::new(image.lease().expect("a loaded copy")));
    let suites = kunit::suites(&lease.lock().unwrap()).expect("the suites");
    assert_eq!(suites.len(), 1);
    let params = vec![("nr_stats".to_string(), "2".to_string())];
    for runner in [|| Runner::pct(1, 3, 50), || Runner::dfs(Some(2), Some(100))] {
        let mut verdicts = Vec::new();
        for (c, case) in suites[0].cases.iter().enumerate() {
            let (l, p) = (lease.clone(), params.clone());
            let status = Arc::new(Mutex::new(None));
            let s = status.clone();
            let o = runner().run(move || {
                kunit::run_case(&l, "my_driver", &p, (0, c, 0), &|e| *s.lock().unwrap() = Some(e.status));
            });
            verdicts.push((case.name.clone(), o.kinds(), *status.lock().unwrap()));
        }
        assert_eq!(
            verdicts,
            [
                ("my_stats_starts_with_param".to_string(), vec![], Some(Status::Pass)),
                // The report ends the execution inside the case: KUnit never got to a verdict.
                ("my_stats_grows".to_string(), vec![Violation::SleepInAtomic], None),
            ]
        );
    }
}
