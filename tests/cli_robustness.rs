//! Random and malformed command lines never make `ksim` panic: every run exits 0, 1 or 2, and
//! every exit 2 is exactly one line on stderr. The argument vectors come from a seeded
//! generator over the command's own vocabulary plus junk, so a failure names the seed and the
//! argv that reproduce it.

#![forbid(unsafe_code)]

mod common;

use common::{ksim, stderr};

/// A small deterministic generator (xorshift64*), so the cases are the same on every run.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

const COMMANDS: &[&str] =
    &["check", "run", "replay", "trace", "diff", "list", "bench", "merge", "help", "chek", "", "--"];
const SCENARIOS: &[&str] =
    &["demo-race", "read-unwritten", "pmem-atomic", "nope", "", "demo-race/x", "ümlaut"];
/// Flags and values, including ones that are wrong for the command they land on. No value here
/// makes a run long: iteration counts are small and `bench` always gets `--quick`.
const FLAGS: &[&str] = &[
    "--scheduler",
    "--seed",
    "--iterations",
    "--mode",
    "--config",
    "--jobs",
    "--format",
    "--view",
    "--vs",
    "--json",
    "--configs",
    "--seeds",
    "--shard",
    "--shard-count",
    "--bogus",
    "-x",
    "--",
];
const VALUES: &[&str] = &[
    "std",
    "random",
    "pct",
    "dfs",
    "loom",
    "all",
    "pct:seed=3:depth=2:iters=5",
    "pct:depth=0",
    "dfs:bound=x",
    "replay:",
    "replay:zz",
    "1",
    "0",
    "-1",
    "18446744073709551616",
    "3",
    "observed",
    "contract",
    "both",
    "mode=contract",
    "dax=off",
    "dax",
    "=",
    "k=v",
    "fixed=yes",
    "text",
    "jsonl",
    "perfetto",
    "alloc",
    "all",
    "",
    " ",
    "\u{1b}[31mx",
    "%s%n",
    "demo-race/std/e0",
    "demo-race/pct:seed=1:depth=3:iters=200/e0",
    "demo-race/std/eX",
    "core",
    "memory",
    "2/3",
    "0/3",
    "x/y",
];

fn argv(g: &mut Gen) -> Vec<String> {
    let mut v = vec![g.pick(COMMANDS).to_string()];
    if g.next() % 3 != 0 {
        v.push(g.pick(SCENARIOS).to_string());
    }
    for _ in 0..g.next() % 5 {
        v.push(g.pick(FLAGS).to_string());
        if g.next() % 4 != 0 {
            v.push(g.pick(VALUES).to_string());
        }
    }
    if v[0] == "bench" {
        v.push("--quick".to_string());
    }
    v
}

#[test]
fn cli_random_arguments_never_panic() {
    // 150 command lines: each is one process (most fail fast), about two seconds in all.
    let mut g = Gen(0x6b73_696d_636c_6921);
    for case in 0..150 {
        let args = argv(&mut g);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = ksim(&refs);
        let err = stderr(&o);
        let code = o.status.code();
        assert!(matches!(code, Some(0..=2)), "case {case}: `ksim {}` exited {code:?}\n{err}", args.join(" "));
        assert!(!err.contains("panicked"), "case {case}: `ksim {}` panicked:\n{err}", args.join(" "));
        if code == Some(2) {
            let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(
                lines.len(),
                1,
                "case {case}: `ksim {}` exit 2 must be one line:\n{err}",
                args.join(" ")
            );
        }
    }
}
