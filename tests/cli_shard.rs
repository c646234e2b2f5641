//! `ksim check --shard K/N` and `ksim merge`: N shards run as separate processes (concurrently,
//! one worker thread each, as on N machines) merge into exactly the bytes and exit status of
//! the unsharded run (several worker threads), every unit runs exactly once, a failing unit's
//! rerun command reproduces it, the shard index can come from JOB_COMPLETION_INDEX, and bad
//! shard or merge input is refused in one line.

#![forbid(unsafe_code)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{code, command, ksim, stderr, stdout};

/// A scratch directory under the target directory, empty, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli_shard-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("write a shard output");
        p.to_str().expect("UTF-8 path").to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs shards 1..=n of `args` as n concurrent processes with one worker thread each.
fn shards(args: &[&str], n: u64) -> Vec<Output> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..=n)
            .map(|k| {
                s.spawn(move || {
                    let shard = format!("{k}/{n}");
                    let mut a = args.to_vec();
                    a.extend(["--shard", &shard, "--jobs", "1"]);
                    ksim(&a)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("shard thread")).collect()
    })
}

/// Every `# ksim-cell:` record of a shard output, as JSON.
fn records(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("# ksim-cell: "))
        .map(|j| serde_json::from_str(j).expect("a ksim-cell record is JSON"))
        .collect()
}

/// The `# ksim-shard:` header of a shard output.
fn header(text: &str) -> serde_json::Value {
    let l = text.lines().find_map(|l| l.strip_prefix("# ksim-shard: ")).expect("a ksim-shard header");
    serde_json::from_str(l).expect("the header is JSON")
}

/// KTAP structure of one document: the plan matches the parent tests, subtests are numbered.
fn assert_ktap(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "KTAP version 1");
    let plan: usize = lines[1].strip_prefix("1..").expect("plan line").parse().expect("plan count");
    let parents: Vec<&&str> =
        lines.iter().filter(|l| l.starts_with("ok ") || l.starts_with("not ok ")).collect();
    assert_eq!(parents.len(), plan, "{text}");
    for (i, p) in parents.iter().enumerate() {
        let n = p.trim_start_matches("not ").strip_prefix("ok ").unwrap();
        assert!(n.starts_with(&format!("{} ", i + 1)), "{p}");
    }
    assert!(lines.iter().any(|l| l.starts_with("# Totals: ")));
}

/// Merges `n` shards of `args` and checks the result against `whole` (the unsharded run):
/// the same bytes and exit status, each shard valid KTAP, every unit run exactly once.
fn assert_merges_to(run: usize, args: &[&str], whole: &Output, n: u64) {
    let dir = Scratch::new(&format!("run{run}-{n}"));
    let outs = shards(args, n);
    let mut files = Vec::new();
    let mut ran: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    let mut units = 0;
    for (k, o) in outs.iter().enumerate() {
        assert!(matches!(code(o), 0 | 1), "shard {}/{n}: {}", k + 1, stderr(o));
        let text = stdout(o);
        assert_ktap(&text);
        let h = header(&text);
        assert_eq!((h["shard"].as_u64(), h["of"].as_u64()), (Some(k as u64 + 1), Some(n)));
        units = h["run"]["units"].as_u64().unwrap();
        for r in records(&text) {
            let cell = (r["test"].as_u64().unwrap(), r["scheduler"].as_u64().unwrap());
            let (first, step, count) = (
                r["span"]["first"].as_u64().unwrap(),
                r["span"]["step"].as_u64().unwrap(),
                r["span"]["count"].as_u64().unwrap(),
            );
            let seeds = ran.entry(cell).or_default();
            seeds.extend((0..count).map(|i| first + i * step));
            assert!(seeds.len() as u64 <= r["of"].as_u64().unwrap());
        }
        // Files are given to merge in reverse: the order must not matter.
        files.insert(0, dir.write(&format!("shard-{}.ktap", k + 1), &o.stdout));
    }
    // Every unit exactly once: each cell's seeds are 0..of with no repeats.
    let mut total = 0;
    for (cell, mut seeds) in ran {
        let len = seeds.len();
        seeds.sort_unstable();
        seeds.dedup();
        assert_eq!(seeds.len(), len, "cell {cell:?}: a seed ran twice");
        assert_eq!(seeds, (0..len as u64).collect::<Vec<_>>(), "cell {cell:?}");
        total += len as u64;
    }
    assert_eq!(total, units, "every unit ran once");
    let mut merge = vec!["merge"];
    merge.extend(files.iter().map(String::as_str));
    let merged = ksim(&merge);
    assert_eq!(code(&merged), code(whole), "{args:?} n={n}: {}", stderr(&merged));
    assert_eq!(stdout(&merged), stdout(whole), "{args:?} n={n}: merged != unsharded");
}

#[test]
fn shards_merge_to_the_unsharded_report_byte_for_byte() {
    let runs: &[&[&str]] = &[
        // The main job: the whole catalogue, every scheduler.
        &["check"],
        // A seed sweep with the determinism check, over two interleaving-dependent scenarios.
        &[
            "check",
            "demo-race",
            "dax-atomic-vs-flush",
            "--seeds",
            "6",
            "--verify-determinism",
            "--iterations",
            "20",
        ],
        // A failing sweep: without CONFIG_PREEMPT_COUNT the race cannot be found (exit 1).
        &["check", "demo-race", "--config", "preempt_count=off", "--seeds", "5", "--iterations", "20"],
    ];
    for (run, args) in runs.iter().enumerate() {
        let whole = ksim(args);
        assert!(matches!(code(&whole), 0 | 1), "{args:?}: {}", stderr(&whole));
        for n in [1, 3, 7] {
            assert_merges_to(run, args, &whole, n);
        }
    }
}

#[test]
fn a_failing_unit_in_a_shard_prints_a_rerun_that_reproduces() {
    let args =
        ["check", "demo-race", "--config", "preempt_count=off", "--mode", "observed", "--scheduler", "pct"];
    let outs = shards(&[&args[..], &["--seeds", "4", "--iterations", "20"]].concat(), 3);
    let text: String = outs.iter().map(stdout).collect();
    // One cell of four seeds (units 0..4): shard 2/3 runs unit 1 alone, pct's seed 2, and its
    // output names it as the first mismatch.
    assert!(text.contains("    # first mismatch: pct:seed=2:depth=3:iters=20\n"), "{text}");
    let rerun = text
        .lines()
        .filter_map(|l| l.strip_prefix("    # rerun: ksim "))
        .find(|l| l.contains("seed=2:"))
        .expect("a rerun line for seed 2");
    assert_eq!(rerun, "run demo-race --scheduler pct:seed=2:depth=3:iters=20 --config preempt_count=off");
    let again = ksim(&rerun.split(' ').collect::<Vec<_>>());
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    let out = stdout(&again);
    assert!(out.contains("verdict:    clean\n") && out.contains("result:     MISMATCH\n"), "{out}");
}

#[test]
fn shard_output_is_deterministic_and_independent_of_jobs() {
    let args = ["check", "demo-race", "demo-abba", "--seeds", "3", "--shard", "2/3"];
    // demo-race's std run sees either verdict from run to run: that goes to stderr only.
    let a = ksim(&args);
    assert_eq!(code(&a), 0, "{}", stderr(&a));
    for _ in 0..4 {
        let b = ksim(&[&args[..], &["--jobs", "1"]].concat());
        assert_eq!(stdout(&a), stdout(&b));
    }
    // The shard's closing line on stderr gives its rate.
    let err = stderr(&a);
    assert!(err.lines().any(|l| l.starts_with("ksim: shard 2/3: ") && l.ends_with(" executions/s")), "{err}");
}

#[test]
fn shard_index_from_job_completion_index_is_zero_based() {
    let args = ["check", "demo-race", "--seeds", "4"];
    for index in 0..3 {
        let explicit = ksim(&[&args[..], &["--shard", &format!("{}/3", index + 1)]].concat());
        let from_env = command(&[&args[..], &["--shard-count", "3"]].concat())
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .output()
            .unwrap();
        assert_eq!(code(&from_env), 0, "{}", stderr(&from_env));
        assert_eq!(stdout(&from_env), stdout(&explicit), "index {index} is shard {}/3", index + 1);
    }
    // Without a shard flag the variable does not shard the run, and ksim says so.
    let plain = ksim(&args);
    let in_pod = command(&args).env("JOB_COMPLETION_INDEX", "1").output().unwrap();
    assert_eq!(stdout(&in_pod), stdout(&plain));
    assert!(stderr(&in_pod).contains("JOB_COMPLETION_INDEX is set but neither --shard nor --shard-count"));
}

/// Exit status 2, one line on stderr naming each of `names`, nothing on stdout.
fn assert_refused(o: &Output, what: &str, names: &[&str]) {
    let err = stderr(o);
    assert_eq!(code(o), 2, "{what}: {err}");
    assert!(o.stdout.is_empty(), "{what}: nothing merged, got {}", stdout(o));
    assert_eq!(err.lines().count(), 1, "{what}: one line, got {err:?}");
    for n in names {
        assert!(err.contains(n), "{what}: {err:?} should name {n:?}");
    }
}

#[test]
fn bad_shard_arguments_are_refused() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["check", "--shard", "0/3"], &["shard 0/3 is out of range", "1/3 to 3/3"]),
        (&["check", "--shard", "4/3"], &["shard 4/3 is out of range", "1/3 to 3/3"]),
        (&["check", "--shard", "x/y"], &["K/N", "1 <= K <= N"]),
        (&["check", "--shard", "3"], &["K/N"]),
        (&["check", "--shard", "1/0"], &["at least 1"]),
        (&["check", "--shard", "1/3", "--shard-count", "3"], &["--shard-count", "cannot be used with"]),
        (&["check", "--shard-count", "3"], &["JOB_COMPLETION_INDEX", "not set", "--shard K/3"]),
        (&["check", "--shard-count", "0"], &["--shard-count", "at least 1"]),
        (&["merge"], &["FILE"]),
    ];
    for (args, names) in cases {
        let mut c = command(args);
        c.env_remove("JOB_COMPLETION_INDEX");
        assert_refused(&c.output().unwrap(), &format!("{args:?}"), names);
    }
    let env_cases: &[(&[&str], &str, &[&str])] = &[
        (&["check", "--shard-count", "3"], "3", &["JOB_COMPLETION_INDEX=\"3\"", "valid: 0 to 2"]),
        (&["check", "--shard-count", "3"], "first", &["JOB_COMPLETION_INDEX=\"first\""]),
        (
            &["check", "--shard", "2/3"],
            "0",
            &["--shard 2/3 disagrees with JOB_COMPLETION_INDEX=\"0\"", "shard 1/3"],
        ),
    ];
    for (args, index, names) in env_cases {
        let o = command(args).env("JOB_COMPLETION_INDEX", index).output().unwrap();
        assert_refused(&o, &format!("{args:?} JOB_COMPLETION_INDEX={index}"), names);
    }
}

#[test]
fn merge_refuses_outputs_that_are_not_one_whole_run() {
    let dir = Scratch::new("refuse");
    let base = ["check", "demo-race"];
    let shard = |extra: &[&str], k: &str| -> String {
        let seeds: &[&str] = if extra.contains(&"--seeds") { &[] } else { &["--seeds", "2"] };
        let o = ksim(&[&base[..], seeds, extra, &["--shard", k]].concat());
        assert!(code(&o) == 0, "{}", stderr(&o));
        dir.write(&format!("{}-{}.ktap", extra.join("_"), k.replace('/', "of")), &o.stdout)
    };
    let (one, two) = (shard(&[], "1/2"), shard(&[], "2/2"));
    let ok = ksim(&["merge", &one, &two]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));

    let other_seeds = shard(&["--seeds", "3"], "2/2");
    let other_seed = shard(&["--seed", "9"], "2/2");
    let other_config = shard(&["--config", "fixed=yes"], "2/2");
    let other_scheds = shard(&["--scheduler", "pct"], "2/2");
    let other_set = ksim(&["check", "demo-abba", "--seeds", "2", "--shard", "2/2"]);
    let other_set = dir.write("demo-abba.ktap", &other_set.stdout);
    let other_count = shard(&[], "2/3");
    let verify = shard(&["--verify-determinism"], "2/2");
    // Another ksim version's output: the only way to get one here is to write it.
    let text = std::fs::read_to_string(&two).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let edited = text.replacen(&format!("\"ksim\":\"{version}\""), "\"ksim\":\"9.9.9\"", 1);
    assert_ne!(edited, text);
    let other_version = dir.write("version.ktap", edited.as_bytes());
    let plain = dir.write("plain.ktap", &ksim(&[&base[..], &["--seeds", "2"]].concat()).stdout);
    let lines: Vec<&str> = text.lines().collect();
    let truncated = dir.write("truncated.ktap", lines[..lines.len() * 2 / 3].join("\n").as_bytes());
    let other_version_words = format!("ksim {version} vs 9.9.9");
    let version_words = ["different runs", other_version_words.as_str()];
    let junk = dir.write("junk.txt", b"hello\n");
    // A shard that lost one cell's record, edited so that it still adds up: what a buggy or
    // hand-made shard would look like.
    let cell_line = text.lines().find(|l| l.contains("# ksim-cell: ")).unwrap();
    let cut: u64 = records(cell_line)[0]["span"]["count"].as_u64().unwrap();
    let (h, cells) = (header(&text), records(&text).len());
    let units = h["units"].as_u64().unwrap();
    let lost = text
        .replacen(&format!("{cell_line}\n"), "", 1)
        .replacen(&format!("\"units\":{units},\"run\""), &format!("\"units\":{},\"run\"", units - cut), 1)
        .replacen(&format!("{{\"cells\":{cells}}}"), &format!("{{\"cells\":{}}}", cells - 1), 1);
    let lost = dir.write("lost.ktap", lost.as_bytes());
    let missing = dir.0.join("no-such.ktap").to_str().unwrap().to_string();

    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec![&one, &other_seeds], &["different runs", "seeds 2 vs 3"]),
        (vec![&one, &other_seed], &["different runs", "seed 1 vs 9"]),
        (vec![&one, &other_config], &["different runs", "config (defaults) vs fixed=yes"]),
        (vec![&one, &other_scheds], &["different runs", "scheduler set"]),
        (vec![&one, &other_set], &["different runs", "scenario set"]),
        (vec![&one, &verify], &["different runs", "--verify-determinism"]),
        (vec![&one, &other_version], &version_words),
        (vec![&one, &other_count], &["different runs", "shard 1/2 vs shard 2/3"]),
        (vec![&one], &["1 shard of 2 missing: 2/2", "given: 1/2"]),
        (vec![&one, &two, &two], &["shard 2/2 is given twice"]),
        (vec![&one, &plain], &["plain.ktap is not the output of 'ksim check --shard K/N'"]),
        (vec![&one, &truncated], &["truncated.ktap is incomplete"]),
        (vec![&junk, &one], &["junk.txt is not KTAP"]),
        (vec![&one, &lost], &["lost.ktap (shard 2/2) has no result for 'demo-race mode=observed"]),
        (vec![&one, &missing], &["cannot read", "no-such.ktap"]),
    ];
    for (files, names) in cases {
        let mut args = vec!["merge"];
        args.extend(files);
        assert_refused(&ksim(&args), &format!("{args:?}"), names);
    }
}
