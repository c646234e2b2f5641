//! `ksim check --shard K/N`: which slice of the units to run, and the shard output format.
//!
//! K counts from 1 (`--shard 1/3` to `--shard 3/3`). In a Kubernetes Indexed Job every pod gets
//! `JOB_COMPLETION_INDEX` (0 to N-1): `--shard-count N` takes the index from there, so one
//! command line serves every pod (index 0 is shard 1/N). Both flags at once, `--shard` that
//! disagrees with a set `JOB_COMPLETION_INDEX`, or `--shard-count` without it are refused.
//!
//! A shard's output is KTAP for its slice, readable on its own, plus three kinds of diagnostic
//! line that `ksim merge` reads back: `# ksim-shard: {...}` (the ksim version, the run's
//! identity and the shard's place), one `# ksim-cell: {...}` per subtest (what the shard's
//! seeds of that cell found), and `# ksim-shard-end: {...}` last, so a cut-short file is told
//! from a whole one.

use clap::Args;
use serde::{Deserialize, Serialize};

use super::ktap;
use super::sweep::{Cell, Plan, Shard, Span, Tally};

/// The variable a Kubernetes Indexed Job sets in each pod: the pod's index, from 0.
pub const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

#[derive(Args)]
pub struct ShardArgs {
    /// Run only shard K of N (K from 1 to N) of the units (scenario x mode x scheduler x seed),
    /// printing what `ksim merge` needs to rebuild the unsharded report.
    #[arg(long, value_name = "K/N", value_parser = parse_shard, conflicts_with = "shard_count")]
    shard: Option<Shard>,
    /// Run one of N shards, its index taken from JOB_COMPLETION_INDEX (0 to N-1, as a Kubernetes
    /// Indexed Job sets it): index 0 is shard 1/N.
    #[arg(long, value_name = "N", value_parser = super::parse_count, allow_hyphen_values = true)]
    shard_count: Option<usize>,
}

impl ShardArgs {
    /// The shard to run (`None`: every unit, plain KTAP), given `JOB_COMPLETION_INDEX`'s value.
    pub fn resolve(&self, index_var: Option<&str>) -> Result<Option<Shard>, String> {
        match (self.shard, self.shard_count, index_var) {
            (None, None, _) => Ok(None),
            (Some(s), _, None) => Ok(Some(s)),
            (Some(s), _, Some(v)) => match v.trim().parse::<u64>() {
                Ok(i) if i == s.index => Ok(Some(s)),
                _ => Err(format!(
                    "--shard {s} disagrees with {INDEX_VAR}={v:?} (which names shard {}/{}): give one of them \
                     (--shard-count {} takes the index from {INDEX_VAR})",
                    v.trim().parse::<u64>().map_or("?".to_string(), |i| (i + 1).to_string()),
                    s.count,
                    s.count
                )),
            },
            (None, Some(n), None) => Err(format!(
                "--shard-count {n} takes the shard index from {INDEX_VAR}, which is not set (or give --shard K/{n})"
            )),
            (None, Some(n), Some(v)) => match v.trim().parse::<u64>() {
                Ok(i) if i < n as u64 => Ok(Some(Shard { index: i, count: n as u64 })),
                _ => Err(format!(
                    "{INDEX_VAR}={v:?} is not a shard index for --shard-count {n} (valid: 0 to {})",
                    n - 1
                )),
            },
        }
    }
}

/// `--shard K/N`, 1 <= K <= N.
fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("shard must be K/N, whole numbers with 1 <= K <= N (e.g. 1/3), not {s:?}");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if n == 0 {
        return Err("shard count N must be at least 1 (e.g. 1/3)".to_string());
    }
    if k == 0 || k > n {
        return Err(format!("shard {k}/{n} is out of range: K counts from 1 to N (valid: 1/{n} to {n}/{n})"));
    }
    Ok(Shard { index: k - 1, count: n })
}

/// What makes two shard outputs parts of one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// The parent tests' names (scenario, mode and settings), in order.
    pub tests: Vec<String>,
    /// Each scheduler's name and full spec, in order.
    pub schedulers: Vec<[String; 2]>,
    /// The `--config` settings.
    pub config: String,
    pub seed: u64,
    pub seeds: u64,
    pub verify: bool,
    /// Units in the whole run.
    pub units: u64,
}

impl Run {
    /// The first difference from `other`, in words, if any.
    pub fn difference(&self, other: &Run) -> Option<String> {
        let pair = |what: &str, a: String, b: String| Some(format!("{what} {a} vs {b}"));
        if self.config != other.config {
            let show = |c: &str| if c.is_empty() { "(defaults)".to_string() } else { c.to_string() };
            return pair("config", show(&self.config), show(&other.config));
        }
        if self.tests != other.tests {
            let n = |r: &Run| format!("{} test(s) starting {:?}", r.tests.len(), r.tests.first());
            return pair("scenario set", n(self), n(other));
        }
        if self.seed != other.seed {
            return pair("seed", self.seed.to_string(), other.seed.to_string());
        }
        if self.seeds != other.seeds {
            return pair("seeds", self.seeds.to_string(), other.seeds.to_string());
        }
        if self.verify != other.verify {
            let v = |b: bool| if b { "--verify-determinism" } else { "no --verify-determinism" }.to_string();
            return pair("determinism check", v(self.verify), v(other.verify));
        }
        // After the seed: the specs include it.
        if self.schedulers != other.schedulers {
            let n = |r: &Run| r.schedulers.iter().map(|s| s[1].as_str()).collect::<Vec<_>>().join(",");
            return pair("scheduler set", n(self), n(other));
        }
        (self.units != other.units).then(|| format!("units {} vs {}", self.units, other.units))
    }
}

/// A shard's identity: its first ksim line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The ksim version that wrote it.
    pub ksim: String,
    /// K, from 1.
    pub shard: u64,
    /// N.
    pub of: u64,
    /// Units this shard ran.
    pub units: u64,
    pub run: Run,
}

/// One subtest's part of a shard: which seeds of the cell it ran and what they found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub test: usize,
    pub scheduler: usize,
    pub cell: Cell,
    /// The cell's seeds in the whole run.
    pub of: u64,
    pub span: Span,
    pub tally: Tally,
}

/// The closing line: how many cell records came before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    pub cells: usize,
}

const HEADER: &str = "ksim-shard: ";
const RECORD: &str = "ksim-cell: ";
const END: &str = "ksim-shard-end: ";

fn line<T: Serialize>(prefix: &str, value: &T) -> String {
    format!("{prefix}{}", serde_json::to_string(value).expect("shard records serialize"))
}

/// A shard's output: KTAP of the cells it ran (`tallies`), with the lines `ksim merge` reads
/// back; and whether every one of its subtests passed.
pub fn output(
    shard: Shard,
    run: Run,
    schedulers: &[String],
    plan: &Plan,
    tallies: &[Option<Tally>],
) -> (String, bool) {
    let n = schedulers.len();
    let blocks = ktap::blocks(&run.tests, schedulers, plan, tallies, |c, tally| {
        Some(line(
            RECORD,
            &Record {
                test: c / n,
                scheduler: c % n,
                cell: plan.cells[c].clone(),
                of: plan.seeds[c],
                span: plan.span(c, shard).expect("a tally comes from the shard's span"),
                tally: tally.clone(),
            },
        ))
    });
    let units = (0..plan.cells.len()).filter_map(|c| plan.span(c, shard)).map(|s| s.count).sum();
    let header = Header {
        ksim: env!("CARGO_PKG_VERSION").to_string(),
        shard: shard.index + 1,
        of: shard.count,
        units,
        run,
    };
    let (mut text, ok) = ktap::render(&blocks, Some(&line(HEADER, &header)));
    let cells = blocks.iter().map(|b| b.rows.len()).sum();
    text.push_str(&format!("# {}\n", line(END, &End { cells })));
    (text, ok)
}

/// A shard output read back.
pub struct Parsed {
    pub header: Header,
    pub records: Vec<Record>,
}

/// Reads a shard output; `name` is how errors refer to it.
pub fn parse(name: &str, text: &str) -> Result<Parsed, String> {
    let not_shard = || format!("{name} is not the output of 'ksim check --shard K/N' (no '# {HEADER}' line)");
    if text.lines().next() != Some("KTAP version 1") {
        return Err(format!(
            "{name} is not KTAP output of 'ksim check --shard K/N' (first line is not 'KTAP version 1')"
        ));
    }
    let (mut header, mut records, mut end) = (None, Vec::new(), None);
    for (n, l) in text.lines().enumerate() {
        let Some(rest) = l.trim_start().strip_prefix("# ") else { continue };
        let bad =
            |what: &str, e: serde_json::Error| format!("{name}: line {}: malformed {what} line: {e}", n + 1);
        if let Some(json) = rest.strip_prefix(HEADER) {
            if header.is_some() {
                return Err(format!(
                    "{name}: line {}: a second '# {HEADER}' line (two outputs joined?)",
                    n + 1
                ));
            }
            header = Some(serde_json::from_str::<Header>(json).map_err(|e| bad("ksim-shard", e))?);
        } else if let Some(json) = rest.strip_prefix(RECORD) {
            if end.is_some() {
                return Err(format!("{name}: line {}: a ksim-cell line after the end line", n + 1));
            }
            records.push(serde_json::from_str::<Record>(json).map_err(|e| bad("ksim-cell", e))?);
        } else if let Some(json) = rest.strip_prefix(END) {
            end = Some(serde_json::from_str::<End>(json).map_err(|e| bad("ksim-shard-end", e))?);
        }
    }
    let header = header.ok_or_else(not_shard)?;
    match end {
        None => Err(format!("{name} is incomplete: no '# {END}' line (was the shard's output cut short?)")),
        Some(e) if e.cells != records.len() => Err(format!(
            "{name} is incomplete: {} ksim-cell line(s), its end line says {}",
            records.len(),
            e.cells
        )),
        Some(_) => Ok(Parsed { header, records }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_is_one_based() {
        assert_eq!(parse_shard("1/3"), Ok(Shard { index: 0, count: 3 }));
        assert_eq!(parse_shard("3/3"), Ok(Shard { index: 2, count: 3 }));
        assert!(parse_shard("0/3").unwrap_err().contains("valid: 1/3 to 3/3"));
        assert!(parse_shard("4/3").unwrap_err().contains("out of range"));
        assert!(parse_shard("x/y").unwrap_err().contains("K/N"));
        assert!(parse_shard("1/0").unwrap_err().contains("at least 1"));
        assert!(parse_shard("2").unwrap_err().contains("K/N"));
    }

    #[test]
    fn the_index_comes_from_the_environment_only_when_unambiguous() {
        let a = |shard: Option<&str>, count: Option<usize>| ShardArgs {
            shard: shard.map(|s| parse_shard(s).unwrap()),
            shard_count: count,
        };
        assert_eq!(a(None, None).resolve(Some("2")), Ok(None));
        assert_eq!(a(None, Some(4)).resolve(Some("0")), Ok(Some(Shard { index: 0, count: 4 })));
        assert_eq!(a(None, Some(4)).resolve(Some("3")), Ok(Some(Shard { index: 3, count: 4 })));
        assert!(a(None, Some(4)).resolve(Some("4")).unwrap_err().contains("valid: 0 to 3"));
        assert!(a(None, Some(4)).resolve(Some("one")).unwrap_err().contains("JOB_COMPLETION_INDEX"));
        assert!(a(None, Some(4)).resolve(None).unwrap_err().contains("not set"));
        assert_eq!(a(Some("2/3"), None).resolve(None), Ok(Some(Shard { index: 1, count: 3 })));
        assert_eq!(a(Some("2/3"), None).resolve(Some("1")), Ok(Some(Shard { index: 1, count: 3 })));
        let e = a(Some("2/3"), None).resolve(Some("0")).unwrap_err();
        assert!(e.contains("disagrees") && e.contains("shard 1/3"), "{e}");
    }
}
