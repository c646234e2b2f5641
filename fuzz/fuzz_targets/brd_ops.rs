//! libFuzzer drives `ksim_scenarios::fuzz::run_case`: any `Err` is a finding.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = ksim_scenarios::fuzz::run_case(data) {
        panic!("{e}");
    }
});
