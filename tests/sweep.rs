//! Sweeps as ordinary tests: seed sweeps of the catalogue, swarm cases and fuzz cases, cut into
//! buckets, one test per bucket, generated at run time (libtest-mimic; `harness = false`), so
//! `cargo test` and cargo-nextest list, filter, partition (`--partition hash:K/N`), retry and
//! report them like any other test.
//!
//! - `seeds::SCENARIO::MODE::SCHEDULER::FIRST-LAST`: the scenario under `ksim check`'s budget
//!   for random or pct with each seed FIRST..=LAST; every seed's verdict must match the
//!   scenario's expectation. `seeds::SCENARIO::MODE::std|dfs|loom`: the unseeded schedulers,
//!   once. (A std run of an interleaving-dependent scenario may see any verdict: it is not a
//!   test. A scenario loom cannot run is an ignored test, as `ksim check` skips it.)
//! - `swarm::FIRST-LAST`: the swarm cases of those seeds (`ksim_scenarios::swarm`) are clean.
//! - `fuzz::generated::FIRST-LAST`: fuzz cases by number, each from its own fixed seed, or with
//!   `KSIM_SWEEP_FUZZ_CORPUS=DIR`, `fuzz::corpus::FIRST-LAST`: that libFuzzer corpus's files in
//!   name order; each earns only kernel errnos and earned reports (`ksim_scenarios::fuzz`).
//!
//! Sizes come from the environment; the list of tests depends on them, so every machine of a
//! partitioned run needs the same values. Under `cargo nextest run --profile sweep` (nextest
//! sets `NEXTEST_PROFILE`) the defaults are the sweep's, otherwise small enough for `cargo test
//! --workspace` (a few seconds):
//!
//! | variable | default | `--profile sweep` |
//! |---|---|---|
//! | `KSIM_SWEEP_SEEDS`: seeds per seeded scheduler, from 1 | 2 | 1000 |
//! | `KSIM_SWEEP_SEED_BUCKET`: seeds per test | 2 | 100 |
//! | `KSIM_SWEEP_ITERATIONS`: executions per random/pct run, DFS cap | `ksim check`'s | same |
//! | `KSIM_SWEEP_SWARM_CASES` / `KSIM_SWEEP_SWARM_BUCKET` | 100 / 50 | 20000 / 500 |
//! | `KSIM_SWEEP_FUZZ_CASES` / `KSIM_SWEEP_FUZZ_BUCKET` | 100 / 50 | 100000 / 5000 |
//!
//! A bad value is one line on stderr and exit status 2.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use ksim::{CheckMode, Scheduler};
use ksim_scenarios::swarm::Case;
use ksim_scenarios::{catalogue, default_schedulers, fuzz, Scenario, Settings};
use libtest_mimic::{Arguments, Failed, Trial};

/// Bucket sizes and totals.
struct Sizes {
    seeds: u64,
    seed_bucket: u64,
    iterations: Option<usize>,
    swarm_cases: u64,
    swarm_bucket: u64,
    fuzz_cases: u64,
    fuzz_bucket: u64,
    corpus: Option<PathBuf>,
}

/// `name`'s value, or `default`; a value that is not a positive whole number ends the run.
fn size(name: &str, default: u64) -> u64 {
    let Ok(v) = std::env::var(name) else { return default };
    match v.trim().parse::<u64>() {
        Ok(n) if n > 0 => n,
        _ => {
            eprintln!("sweep: {name}={v:?} is not a whole number of at least 1");
            std::process::exit(2);
        }
    }
}

impl Sizes {
    fn from_env() -> Sizes {
        let sweep = std::env::var("NEXTEST_PROFILE").is_ok_and(|p| p == "sweep");
        let pick = |small, big| if sweep { big } else { small };
        Sizes {
            seeds: size("KSIM_SWEEP_SEEDS", pick(2, 1000)),
            seed_bucket: size("KSIM_SWEEP_SEED_BUCKET", pick(2, 100)),
            iterations: std::env::var("KSIM_SWEEP_ITERATIONS")
                .is_ok()
                .then(|| size("KSIM_SWEEP_ITERATIONS", 1) as usize),
            swarm_cases: size("KSIM_SWEEP_SWARM_CASES", pick(100, 20_000)),
            swarm_bucket: size("KSIM_SWEEP_SWARM_BUCKET", pick(50, 500)),
            fuzz_cases: size("KSIM_SWEEP_FUZZ_CASES", pick(100, 100_000)),
            fuzz_bucket: size("KSIM_SWEEP_FUZZ_BUCKET", pick(50, 5000)),
            corpus: std::env::var_os("KSIM_SWEEP_FUZZ_CORPUS").map(PathBuf::from),
        }
    }
}

/// `1..=total` in buckets of `size`: (first, last).
fn buckets(total: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..total.div_ceil(size)).map(move |b| (b * size + 1, ((b + 1) * size).min(total)))
}

/// Runs `f` on a thread with a stack the model checkers can recurse on (as `ksim check` does).
fn big_stack(f: impl FnOnce() -> Result<(), Failed> + Send) -> Result<(), Failed> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn_scoped(s, f)
            .expect("spawn a sweep thread")
            .join()
            .unwrap_or_else(|_| Err("the sweep thread panicked".into()))
    })
}

fn with_seed(sched: &Scheduler, seed: u64) -> Scheduler {
    match sched.clone() {
        Scheduler::Random { iterations, .. } => Scheduler::Random { seed, iterations },
        Scheduler::Pct { depth, iterations, .. } => Scheduler::Pct { seed, depth, iterations },
        other => other,
    }
}

/// One scenario × mode × scheduler over some seeds: every verdict as expected.
fn seed_bucket(s: &'static Scenario, settings: &Settings, scheds: &[Scheduler]) -> Result<(), Failed> {
    let mut failures = Vec::new();
    for sched in scheds {
        let o = s.try_run(settings, sched.clone())?;
        let expect = s.expected_under(settings, sched).expect("unchecked cells are not tests");
        if !expect.matches(&o) {
            let found: Vec<&str> = o.kinds().iter().map(|k| k.name()).collect();
            let found = if found.is_empty() { "clean".to_string() } else { found.join(",") };
            let report = o.first_report().map(|r| r.text.as_str()).unwrap_or("");
            failures.push(format!(
                "{sched}: expected {expect}, found {found}\n{report}rerun: ksim run {} --scheduler {sched} --config {}\n",
                s.name,
                settings.label()
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} seed(s) not as expected:\n{}",
            failures.len(),
            scheds.len(),
            failures.join("\n")
        )
        .into())
    }
}

fn seed_trials(z: &Sizes) -> Vec<Trial> {
    let mut trials = Vec::new();
    // The trials outlive this function; the catalogue lives as long as the process.
    let all: &'static [Scenario] = Vec::leak(catalogue::all());
    for s in all {
        for mode in [CheckMode::Observed, CheckMode::Contract] {
            let settings = Scenario::with_mode(&Settings::default(), mode);
            for sched in default_schedulers(1, z.iterations) {
                if s.expected_under(&settings, &sched).is_none() {
                    continue;
                }
                let base = format!("seeds::{}::{mode}::{}", s.name, sched.name());
                let ignored = !s.supports(&sched);
                let seeded = matches!(sched, Scheduler::Random { .. } | Scheduler::Pct { .. });
                let groups: Vec<(String, Vec<Scheduler>)> = if seeded {
                    buckets(z.seeds, z.seed_bucket)
                        .map(|(a, b)| {
                            (format!("{base}::{a}-{b}"), (a..=b).map(|k| with_seed(&sched, k)).collect())
                        })
                        .collect()
                } else {
                    vec![(base, vec![sched.clone()])]
                };
                for (name, scheds) in groups {
                    let settings = settings.clone();
                    let trial = Trial::test(name, move || big_stack(|| seed_bucket(s, &settings, &scheds)));
                    trials.push(trial.with_ignored_flag(ignored));
                }
            }
        }
    }
    trials
}

/// Swarm and fuzz cases run brd.c too, which needs the kernel tree (Debian's linux-source-6.1,
/// installed when missing).
fn need_tree() -> Result<(), String> {
    ksim_c::source::tree_installing().map(|_| ())
}

fn swarm_trials(z: &Sizes) -> Vec<Trial> {
    buckets(z.swarm_cases, z.swarm_bucket)
        .map(|(a, b)| {
            Trial::test(format!("swarm::{a}-{b}"), move || {
                big_stack(move || {
                    need_tree()?;
                    let mut failures = Vec::new();
                    for seed in a..=b {
                        let case = Case::generate(seed);
                        let (o, _) = case.run()?;
                        if let Some(r) = o.first_report() {
                            failures.push(format!(
                                "swarm case failed: {case}\n{}rerun this seed alone: KSIM_SWARM_SEED={seed} cargo test --test swarm -- --nocapture\n",
                                r.text
                            ));
                        }
                    }
                    if failures.is_empty() {
                        Ok(())
                    } else {
                        Err(failures.join("\n").into())
                    }
                })
            })
        })
        .collect()
}

/// Seed of the generated fuzz cases.
const FUZZ_SEED: u64 = 0x6b73_696d_7377_6570;

/// Fuzz case `index`'s bytes: from its own seed, so a bucket does not depend on the others.
fn fuzz_bytes(index: u64) -> Vec<u8> {
    // splitmix64 of the index, then xorshift64*.
    let mut z = FUZZ_SEED.wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let mut x = (z ^ (z >> 31)) | 1;
    let mut next = || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let len = 8 + (next() % 192) as usize;
    (0..len).map(|_| next() as u8).collect()
}

/// A libFuzzer corpus directory's files, in name order.
fn corpus(dir: &std::path::Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    files.sort();
    Ok(files)
}

fn fuzz_trials(z: &Sizes) -> Vec<Trial> {
    let files = match &z.corpus {
        None => None,
        Some(dir) => match corpus(dir) {
            Ok(f) if !f.is_empty() => Some(f),
            Ok(_) | Err(_) => {
                eprintln!(
                    "sweep: KSIM_SWEEP_FUZZ_CORPUS={} is not a directory of corpus files",
                    dir.display()
                );
                std::process::exit(2);
            }
        },
    };
    let (kind, total) = match &files {
        Some(f) => ("corpus", f.len() as u64),
        None => ("generated", z.fuzz_cases),
    };
    buckets(total, z.fuzz_bucket)
        .map(|(a, b)| {
            let files = files.clone();
            Trial::test(format!("fuzz::{kind}::{a}-{b}"), move || {
                big_stack(move || {
                    need_tree()?;
                    for i in a..=b {
                        let (data, name) = match &files {
                            Some(f) => {
                                let p = &f[(i - 1) as usize];
                                (
                                    std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
                                    p.display().to_string(),
                                )
                            }
                            None => (fuzz_bytes(i), format!("generated case {i}")),
                        };
                        fuzz::run_case(&data).map_err(|e| format!("{name} (bytes {data:02x?}):\n{e}"))?;
                    }
                    Ok(())
                })
            })
        })
        .collect()
}

/// The corpus reader itself: name order, every file, directories left out.
fn corpus_reader_trial() -> Trial {
    Trial::test("fuzz::corpus_files_are_read_in_name_order", || {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sweep-corpus");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("subdir")).map_err(|e| e.to_string())?;
        for (name, index) in [("c3", 3), ("a1", 1), ("b2", 2)] {
            std::fs::write(dir.join(name), fuzz_bytes(index)).map_err(|e| e.to_string())?;
        }
        let files = corpus(&dir)?;
        let names: Vec<String> =
            files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        let _ = std::fs::remove_dir_all(&dir);
        if names != ["a1", "b2", "c3"] {
            return Err(format!("corpus order {names:?}").into());
        }
        Ok(())
    })
}

fn main() {
    let args = Arguments::from_args();
    let z = Sizes::from_env();
    let mut trials = seed_trials(&z);
    trials.extend(swarm_trials(&z));
    trials.extend(fuzz_trials(&z));
    trials.push(corpus_reader_trial());
    libtest_mimic::run(&args, trials).exit();
}
