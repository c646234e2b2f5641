//! The deployment examples under `deploy/` are real: both files parse as YAML, their shard
//! counts agree with their matrices and job specs, and their `ksim` command lines, run here for
//! every shard (with a small sweep: `KSIM_SEEDS=2`), merge into exactly what one unsharded
//! `ksim check` prints.

#![forbid(unsafe_code)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use yaml_rust2::{Yaml, YamlLoader};

/// The seeds the local runs use instead of the files' production sizes.
const SEEDS: &str = "2";

fn load(file: &str) -> Vec<Yaml> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"))
}

fn s(y: &Yaml) -> &str {
    y.as_str().unwrap_or_else(|| panic!("expected a string, got {y:?}"))
}

fn list(y: &Yaml) -> &[Yaml] {
    y.as_vec().unwrap_or_else(|| panic!("expected a list, got {y:?}"))
}

/// What `ksim check --seeds 2` prints on one machine.
fn unsharded() -> &'static Output {
    static OUT: OnceLock<Output> = OnceLock::new();
    OUT.get_or_init(|| {
        let o = common::ksim(&["check", "--seeds", SEEDS]);
        assert_eq!(common::code(&o), 0, "{}", common::stderr(&o));
        o
    })
}

/// A scratch directory under the target directory, empty, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("deploy-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `script` with `shell` in `dir`, the built ksim first on PATH, with `env`.
fn run(shell: &[&str], script: &str, dir: &Path, env: &[(String, String)]) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_ksim")).parent().expect("the binary's directory");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut c = Command::new(shell[0]);
    c.args(&shell[1..]).arg(script).current_dir(dir).env("PATH", path).envs(env.iter().cloned());
    for v in common::OVERRIDES {
        c.env_remove(v);
    }
    let o = c.output().expect("the shell runs");
    assert!(o.status.success(), "`{script}` failed: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    o
}

/// A job's `run:` steps that are ksim command lines.
fn ksim_steps(job: &Yaml) -> Vec<&str> {
    list(&job["steps"])
        .iter()
        .filter_map(|st| st["run"].as_str())
        .filter(|r| r.starts_with("ksim "))
        .collect()
}

#[test]
fn github_actions_matrix_shards_merge_to_one_machines_report() {
    let doc = &load("deploy/github-actions-sweep.yml")[0];
    let jobs = &doc["jobs"];
    // The workflow's environment, with the production sweep size replaced.
    let mut env: Vec<(String, String)> = doc["env"]
        .as_hash()
        .expect("a workflow env")
        .iter()
        .map(|(k, v)| (s(k).to_string(), v.as_str().map_or_else(|| format!("{v:?}"), str::to_string)))
        .collect();
    assert!(env.iter().any(|(k, _)| k == "KSIM_SEEDS"), "the seed count is the workflow's");
    env.retain(|(k, _)| k != "KSIM_SEEDS");
    env.push(("KSIM_SEEDS".into(), SEEDS.into()));

    let shards: Vec<i64> =
        list(&jobs["check"]["strategy"]["matrix"]["shard"]).iter().map(|v| v.as_i64().unwrap()).collect();
    let n = shards.len() as i64;
    assert_eq!(shards, (1..=n).collect::<Vec<_>>(), "the matrix is 1..=N");
    let check = ksim_steps(&jobs["check"]);
    assert_eq!(check.len(), 1, "{check:?}");
    assert!(check[0].contains(&format!("--shard ${{{{ matrix.shard }}}}/{n} ")), "{}", check[0]);

    let dir = Scratch::new("github");
    let bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"];
    for k in &shards {
        run(&bash, &check[0].replace("${{ matrix.shard }}", &k.to_string()), &dir.0, &env);
    }
    let merge = ksim_steps(&jobs["merge"]);
    assert_eq!(merge.len(), 1, "{merge:?}");
    run(&bash, merge[0], &dir.0, &env);
    let report = std::fs::read(dir.0.join("report.ktap")).expect("the merge step writes report.ktap");
    assert!(report == unsharded().stdout, "the merged report differs from one machine's");

    // The nextest jobs: a sweep-profile partition per matrix entry, JUnit where the profile puts it.
    let parts = list(&jobs["nextest"]["strategy"]["matrix"]["partition"]).len();
    let steps: Vec<&str> =
        list(&jobs["nextest"]["steps"]).iter().filter_map(|st| st["run"].as_str()).collect();
    let nextest = steps.iter().find(|r| r.contains("nextest run")).expect("a nextest run step");
    assert!(nextest.contains(&format!("--partition hash:${{{{ matrix.partition }}}}/{parts}")), "{nextest}");
    assert!(
        nextest.contains("--profile sweep") && nextest.contains("--archive-file sweep.tar.zst"),
        "{nextest}"
    );
    let archive: Vec<&str> =
        list(&jobs["nextest-archive"]["steps"]).iter().filter_map(|st| st["run"].as_str()).collect();
    assert!(archive.iter().any(|r| r.contains("nextest archive --test sweep --archive-file sweep.tar.zst")));
    let junit = list(&jobs["nextest"]["steps"])
        .iter()
        .find_map(|st| st["with"]["path"].as_str().filter(|p| p.ends_with(".xml")));
    let profile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".config/nextest.toml")).unwrap();
    assert!(profile.contains("[profile.sweep]") && profile.contains("[profile.sweep.junit]"));
    assert!(profile.contains("path = \"junit.xml\""));
    assert_eq!(junit, Some("target/nextest/sweep/junit.xml"));
}

/// A container's command as `sh -c SCRIPT`, and its env with `overrides` applied.
fn container(job: &Yaml, overrides: &[(&str, String)]) -> (String, Vec<(String, String)>) {
    let spec = &job["spec"]["template"]["spec"];
    assert_eq!(s(&spec["restartPolicy"]), "Never");
    let c = &list(&spec["containers"])[0];
    let cmd: Vec<&str> = list(&c["command"]).iter().map(s).collect();
    assert_eq!(&cmd[..2], ["sh", "-c"]);
    let mut env: Vec<(String, String)> =
        list(&c["env"]).iter().map(|e| (s(&e["name"]).to_string(), s(&e["value"]).to_string())).collect();
    // The results directory is the volume's mount.
    let mount = s(&list(&c["volumeMounts"])[0]["mountPath"]);
    assert!(env.iter().any(|(k, v)| k == "RESULTS" && v == mount), "{env:?}");
    for (k, v) in overrides {
        assert!(env.iter().any(|(name, _)| name == k), "{k} is the manifest's");
        env.retain(|(name, _)| name != k);
        env.push((k.to_string(), v.clone()));
    }
    (cmd[2].to_string(), env)
}

#[test]
fn kubernetes_indexed_job_pods_merge_to_one_machines_report() {
    let docs = load("deploy/k8s-indexed-job.yaml");
    let job = |name: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some("Job") && d["metadata"]["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("a Job named {name}"))
    };
    let pvc = docs.iter().find(|d| d["kind"].as_str() == Some("PersistentVolumeClaim")).expect("a claim");
    let (sweep, merge) = (job("ksim-sweep"), job("ksim-merge"));
    for j in [sweep, merge] {
        let claim = &list(&j["spec"]["template"]["spec"]["volumes"])[0]["persistentVolumeClaim"]["claimName"];
        assert_eq!(s(claim), s(&pvc["metadata"]["name"]));
    }
    assert_eq!(s(&sweep["spec"]["completionMode"]), "Indexed");
    let n = sweep["spec"]["completions"].as_i64().unwrap();
    assert_eq!(sweep["spec"]["parallelism"].as_i64(), Some(n));

    let dir = Scratch::new("k8s");
    let results = dir.0.to_str().unwrap().to_string();
    let (script, env) = container(sweep, &[("KSIM_SEEDS", SEEDS.into()), ("RESULTS", results.clone())]);
    assert!(script.contains(&format!("--shard-count {n} ")), "{script}");
    // Each pod: the same command line, its own JOB_COMPLETION_INDEX.
    for index in 0..n {
        let mut env = env.clone();
        env.push(("JOB_COMPLETION_INDEX".into(), index.to_string()));
        run(&["sh", "-c"], &script, &dir.0, &env);
    }
    let (script, env) = container(merge, &[("RESULTS", results)]);
    let o = run(&["sh", "-c"], &script, &dir.0, &env);
    assert!(o.stdout == unsharded().stdout, "the merged report differs from one machine's");
    assert!(std::fs::read(dir.0.join("report.ktap")).unwrap() == unsharded().stdout);
}
