//! Seeded fuzzing of the brd drivers through `ksim_scenarios::fuzz::run_case`: random bytes
//! become operation sequences (bios in and out of range, discards, direct_access, BLKFLSBUF,
//! fail-nth faults, work under a spinlock, mappings used across a flush). Only the kernel's
//! errnos and reports the sequence earned are acceptable. The same function is the libFuzzer
//! target in `fuzz/` (`cargo +nightly fuzz run brd_ops`).
//!
//! `KSIM_FUZZ_CASES=n` runs more cases; `KSIM_FUZZ_SEED=s` starts elsewhere.

#![forbid(unsafe_code)]

use ksim_scenarios::fuzz::run_case;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn fuzz_brd_operation_sequences_earn_only_kernel_errnos_and_earned_reports() {
    // brd.c cases need the kernel tree: Debian's linux-source-6.1, installed when missing.
    ksim_c::source::tree_installing().unwrap_or_else(|e| panic!("{e}"));
    // 400 cases of up to 24 operations: about two seconds on two cores.
    let cases = env("KSIM_FUZZ_CASES", 400);
    let seed = env("KSIM_FUZZ_SEED", 0x0062_7264_6675_7a7a);
    let mut g = SmallRng::seed_from_u64(seed);
    let (mut ops, mut earned) = (0, 0);
    for case in 0..cases {
        let mut data = vec![0u8; g.gen_range(8..200)];
        g.fill_bytes(&mut data);
        match run_case(&data) {
            Ok(s) => {
                ops += s.ops;
                earned += s.earned_report as usize;
            }
            Err(e) => panic!("case {case} (KSIM_FUZZ_SEED={seed}, bytes {data:02x?}):\n{e}"),
        }
    }
    eprintln!("fuzz: {cases} cases, {ops} operations, {earned} ended with an earned report");
    assert!(ops > cases as usize, "the generator produced almost no operations");
    assert!(earned > 0, "no case earned a report: the generator never reaches the interesting paths");
}
