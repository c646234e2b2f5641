//! KTAP text of `ksim check` (kunit's layout: one test per scenario and mode, one subtest per
//! scheduler) from the cells' tallies. `ksim check`, each shard and `ksim merge` all print
//! through here, so a merged report is the unsharded one byte for byte.

use super::sweep::{Cell, Plan, Tally};

/// One KTAP subtest's result: a scheduler's run of a test.
pub struct Sub {
    pub ok: bool,
    pub skipped: bool,
    /// Text after the subtest name (`# SKIP ...`, `# expected ...`), with its leading space.
    pub directive: String,
    /// Diagnostic lines, printed before the result line as kunit does.
    pub diags: Vec<String>,
}

/// One parent test and its subtests.
pub struct Block {
    pub name: String,
    pub rows: Vec<Row>,
}

/// One subtest, and for a shard the record `ksim merge` reads back (a diagnostic line).
pub struct Row {
    pub scheduler: String,
    pub sub: Sub,
    pub record: Option<String>,
}

/// The parent tests of the cells that have a tally (every cell, unless this is a shard), in
/// catalogue order; `record(cell, tally)` gives a row's record line.
pub fn blocks(
    tests: &[String],
    schedulers: &[String],
    plan: &Plan,
    tallies: &[Option<Tally>],
    record: impl Fn(usize, &Tally) -> Option<String>,
) -> Vec<Block> {
    let n = schedulers.len();
    let mut blocks = Vec::new();
    for (t, name) in tests.iter().enumerate() {
        let rows: Vec<Row> = (t * n..(t + 1) * n)
            .filter_map(|c| {
                let tally = tallies[c].as_ref()?;
                Some(Row {
                    scheduler: schedulers[c % n].clone(),
                    sub: sub(&plan.cells[c], tally, plan.seeds[c]),
                    record: record(c, tally),
                })
            })
            .collect();
        if !rows.is_empty() {
            blocks.push(Block { name: name.clone(), rows });
        }
    }
    blocks
}

/// The subtest a cell's tally makes; `seeds` is the cell's seed count in the whole run.
pub fn sub(cell: &Cell, t: &Tally, seeds: u64) -> Sub {
    let mut sub = Sub { ok: true, skipped: false, directive: String::new(), diags: Vec::new() };
    let expected = match cell {
        Cell::Skip(why) => {
            sub.skipped = true;
            sub.directive = format!(" # SKIP {why}");
            return sub;
        }
        Cell::Unchecked => {
            sub.diags.push(format!("executions: {}", t.executions));
            sub.diags.push(
                "verdict not checked: interleaving-dependent, one real-thread run (found: see stderr)"
                    .to_string(),
            );
            return sub;
        }
        Cell::Checked(expected) => expected,
    };
    if let Some(f) = &t.first {
        report_lines(&mut sub.diags, &f.headline, &f.replay);
        sub.diags.push(format!("executions: {}", f.executions));
    }
    // A sweep of verdicts; with --verify-determinism (run pairs) only the first seed's verdict
    // counts, and the `deterministic:` line speaks for the others.
    if seeds > 1 && t.pairs == 0 {
        sub.diags.push(format!(
            "seeds: {}, executions: {}, not as expected: {}",
            t.seeds, t.executions, t.mismatches
        ));
    }
    if let Some(m) = &t.mismatch {
        sub.ok = false;
        sub.directive = format!(" # expected {expected}, found {}", m.found);
        if m.seed != 0 {
            sub.diags.push(format!("first mismatch: {}", m.scheduler));
            report_lines(&mut sub.diags, &m.headline, &m.replay);
        }
        sub.diags.push(format!("rerun: {}", m.rerun));
    }
    if let Some(d) = &t.nondeterministic {
        sub.ok = false;
        sub.directive = format!(" # nondeterministic: two runs of {} differ", d.scheduler);
    } else if t.pairs > 0 {
        sub.diags.push(format!("deterministic: {} run pair(s) byte-identical", t.pairs));
    }
    sub
}

fn report_lines(diags: &mut Vec<String>, headline: &Option<String>, token: &Option<String>) {
    if let Some(h) = headline {
        diags.push(h.clone());
    }
    if let Some(t) = token {
        // `t` is the command: `ksim replay TOKEN`, or why no token replays a std run and what does.
        diags.push(format!("replay: {t}"));
    }
}

/// The KTAP text and whether every subtest passed. `header` is a diagnostic line printed after
/// the plan (a shard's identity).
pub fn render(blocks: &[Block], header: Option<&str>) -> (String, bool) {
    let mut t = format!("KTAP version 1\n1..{}\n", blocks.len());
    if let Some(h) = header {
        t.push_str(&format!("# {h}\n"));
    }
    let (mut pass, mut fail, mut skip) = (0, 0, 0);
    for (i, b) in blocks.iter().enumerate() {
        t.push_str(&format!("    KTAP version 1\n    # Subtest: {}\n    1..{}\n", b.name, b.rows.len()));
        for (j, row) in b.rows.iter().enumerate() {
            for d in row.sub.diags.iter().chain(&row.record) {
                t.push_str(&format!("    # {d}\n"));
            }
            let ok = if row.sub.ok { "ok" } else { "not ok" };
            t.push_str(&format!("    {ok} {} {}{}\n", j + 1, row.scheduler, row.sub.directive));
        }
        let subs = || b.rows.iter().map(|r| &r.sub);
        let p = subs().filter(|s| s.ok && !s.skipped).count();
        let f = subs().filter(|s| !s.ok).count();
        let k = subs().filter(|s| s.skipped).count();
        t.push_str(&format!("    # {}: pass:{p} fail:{f} skip:{k} total:{}\n", b.name, b.rows.len()));
        let ok = if f == 0 { "ok" } else { "not ok" };
        let skipped = if k == b.rows.len() { " # SKIP" } else { "" };
        t.push_str(&format!("{ok} {} {}{skipped}\n", i + 1, b.name));
        (pass, fail, skip) = (pass + p, fail + f, skip + k);
    }
    t.push_str(&format!("# Totals: pass:{pass} fail:{fail} skip:{skip} total:{}\n", pass + fail + skip));
    (t, fail == 0)
}
