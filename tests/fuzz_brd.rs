//! Seeded fuzzing of the brd drivers through `ksim_scenarios::fuzz::run_case`: random bytes
//! become operation sequences (bios in and out of range, discards, direct_access, BLKFLSBUF,
//! fail-nth faults, work under a spinlock, mappings used across a flush). Only the kernel's
//! errnos and reports the sequence earned are acceptable. The same function is the libFuzzer
//! target in `fuzz/` (`cargo +nightly fuzz run brd_ops`).
//!
//! `KSIM_FUZZ_CASES=n` runs more cases; `KSIM_FUZZ_SEED=s` starts elsewhere.

#![forbid(unsafe_code)]

use ksim_scenarios::fuzz::run_case;

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn fuzz_brd_operation_sequences_earn_only_kernel_errnos_and_earned_reports() {
    // 400 cases of up to 24 operations: about two seconds on two cores.
    let cases = env("KSIM_FUZZ_CASES", 400);
    let seed = env("KSIM_FUZZ_SEED", 0x0062_7264_6675_7a7a);
    let mut g = Gen(seed | 1);
    let (mut ops, mut earned) = (0, 0);
    for case in 0..cases {
        let len = 8 + (g.next() % 192) as usize;
        let data: Vec<u8> = (0..len).map(|_| g.next() as u8).collect();
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
