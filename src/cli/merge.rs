//! `ksim merge FILE...`: the outputs of the N shards of one `ksim check --shard K/N` run, in any
//! order, back into the KTAP report and exit status that the same command without `--shard`
//! gives. (The notes on what unchecked real-thread runs found are on each shard's stderr: they
//! vary from run to run, so they are not part of the shard's records.)
//!
//! Everything is checked before anything is printed: each file is a whole shard output, all
//! come from one run (ksim version, scenario set, config, schedulers, seeds, determinism check)
//! split the same way, every shard is there once, and every unit ran exactly once. Otherwise
//! one line names the problem, exit status 2, nothing on stdout.

use std::collections::BTreeMap;

use super::shard::{self, Parsed};
use super::sweep::{Cell, Plan, Shard, Span, Tally};
use super::{ktap, out, status, CliResult};

pub fn run(files: &[String]) -> CliResult {
    let mut parts: Vec<(&str, Parsed)> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("merge: cannot read {f}: {e}"))?;
        parts.push((f, shard::parse(f, &text).map_err(|e| format!("merge: {e}"))?));
    }
    let (name0, first) = (parts[0].0, parts[0].1.header.clone());
    for (name, p) in &parts[1..] {
        let h = &p.header;
        let differ = |what: String| {
            Err(format!(
                "merge: {name0} and {name} come from different runs ({what}): merge the shards of one ksim check command"
            ))
        };
        if h.ksim != first.ksim {
            return differ(format!("ksim {} vs {}", first.ksim, h.ksim));
        }
        if let Some(d) = first.run.difference(&h.run) {
            return differ(d);
        }
        if h.of != first.of {
            return differ(format!("shard {}/{} vs shard {}/{}", first.shard, first.of, h.shard, h.of));
        }
    }
    let n = first.of;
    let mut given: BTreeMap<u64, &str> = BTreeMap::new();
    for (name, p) in &parts {
        let k = p.header.shard;
        if k == 0 || k > n {
            return Err(format!("merge: {name} claims to be shard {k}/{n}, which does not exist"));
        }
        if let Some(other) = given.insert(k, name) {
            return Err(format!("merge: shard {k}/{n} is given twice ({other} and {name}): nothing merged"));
        }
    }
    let missing: Vec<String> =
        (1..=n).filter(|k| !given.contains_key(k)).map(|k| format!("{k}/{n}")).collect();
    if !missing.is_empty() {
        let have: Vec<String> = given.keys().map(|k| format!("{k}/{n}")).collect();
        let what = if missing.len() == 1 { "shard" } else { "shards" };
        let shown =
            if missing.len() > 8 { format!("{}, ...", missing[..8].join(", ")) } else { missing.join(", ") };
        return Err(format!(
            "merge: {} {what} of {n} missing: {shown} (given: {}); nothing merged",
            missing.len(),
            have.join(", ")
        ));
    }

    let run = &first.run;
    let (tests, scheds) = (run.tests.len(), run.schedulers.len());
    let cell_name = |c: usize| format!("'{} {}'", run.tests[c / scheds], run.schedulers[c % scheds][0]);
    // Each cell's kind and seed count, as the shards that ran it agree.
    let mut cells: Vec<Option<(Cell, u64)>> = vec![None; tests * scheds];
    let mut by_shard: Vec<Vec<Option<(&str, Span)>>> = vec![vec![None; tests * scheds]; n as usize];
    let mut tallies: Vec<Option<Tally>> = vec![None; tests * scheds];
    for (name, p) in &parts {
        let units: u64 = p.records.iter().map(|r| r.span.count).sum();
        if units != p.header.units {
            return Err(format!("merge: {name} holds {units} units, its header says {}", p.header.units));
        }
        for r in &p.records {
            if r.test >= tests || r.scheduler >= scheds {
                return Err(format!(
                    "merge: {name} has a ksim-cell line outside the run's {tests} tests x {scheds} schedulers"
                ));
            }
            let c = r.test * scheds + r.scheduler;
            let known = cells[c].get_or_insert_with(|| (r.cell.clone(), r.of));
            if *known != (r.cell.clone(), r.of) {
                return Err(format!("merge: {name} disagrees with another shard about {}", cell_name(c)));
            }
            if r.span.count != r.tally.seeds {
                return Err(format!("merge: {name}: the ksim-cell line of {} does not add up", cell_name(c)));
            }
            let slot = &mut by_shard[(p.header.shard - 1) as usize][c];
            if slot.replace((name, r.span)).is_some() {
                return Err(format!("merge: {name} has two ksim-cell lines for {}", cell_name(c)));
            }
            tallies[c].get_or_insert_with(Tally::default).absorb(r.tally.clone());
        }
    }
    let mut kinds = Vec::new();
    let mut seeds = Vec::new();
    for (c, cell) in cells.into_iter().enumerate() {
        let (kind, of) = cell.ok_or_else(|| format!("merge: no shard ran {}", cell_name(c)))?;
        kinds.push(kind);
        seeds.push(of);
    }
    let plan = Plan::new(kinds, seeds);
    if plan.units() != run.units {
        return Err(format!("merge: the shards hold {} units, the run has {}", plan.units(), run.units));
    }
    // Every unit exactly once: each shard ran exactly its share of every cell (the shares
    // partition the units), so no seed is missing or ran twice.
    for (k, shard_cells) in by_shard.iter().enumerate() {
        let shard = Shard { index: k as u64, count: n };
        for (c, got) in shard_cells.iter().enumerate() {
            let name = given[&(k as u64 + 1)];
            match (plan.span(c, shard), got) {
                (want, Some((_, span))) if want == Some(*span) => {}
                (None, None) => {}
                (Some(_), None) => {
                    return Err(format!("merge: {name} (shard {shard}) has no result for {}", cell_name(c)))
                }
                _ => {
                    return Err(format!(
                        "merge: {name} (shard {shard}) ran other seeds of {} than shard {shard}'s",
                        cell_name(c)
                    ))
                }
            }
        }
    }
    let sched_names: Vec<String> = run.schedulers.iter().map(|s| s[0].clone()).collect();
    let blocks = ktap::blocks(&run.tests, &sched_names, &plan, &tallies, |_, _| None);
    let (text, ok) = ktap::render(&blocks, None);
    out(&text);
    Ok(status(ok))
}
