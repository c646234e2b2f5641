//! The comparison: every ksim-side run of the workloads against the shadow model and against
//! every real kernel that ran them. The ksim side is a list, so that a further re-expression
//! (brd.c itself compiled under ksim, say) is one more entry compared against the same real runs.

use ksim_scenarios::differential::{KsimRun, Observed, Op, Workload};

use super::oracle::RealSide;

/// Most pages the real count may differ from ksim's ledger (slab/per-cpu noise).
pub const PAGE_TOLERANCE: u64 = 2;

/// One ksim-side run of every workload.
pub struct KsimSide {
    pub name: &'static str,
    /// One per workload: the run, or why ksim could not complete it (a report, a panic).
    pub runs: Vec<Result<KsimRun, String>>,
}

/// What a real side's comparison covered.
#[derive(Default)]
pub struct Coverage {
    pub bytes: u64,
    pub page_counts: usize,
    pub exact: usize,
    pub max_dev: u64,
}

/// Checks `side` against the shadow model (exact, pages included) and against its own
/// allocator ledger.
pub fn against_shadow(workloads: &[Workload], side: &KsimSide, out: &mut Vec<String>) {
    for (w, k) in workloads.iter().zip(&side.runs) {
        match k {
            Ok(k) => {
                compare(w, "shadow", &w.shadow(), side.name, &k.observed, None, out);
                if k.allocated_pages != k.observed.pages {
                    out.push(format!(
                        "seed {:#x}: {}: Brd::nr_pages(0) = {} but the allocator holds {} pages",
                        w.seed, side.name, k.observed.pages, k.allocated_pages
                    ));
                }
            }
            Err(e) => out.push(format!("seed {:#x}: {} run failed: {e}", w.seed, side.name)),
        }
    }
}

/// Checks `side` against the real kernel's runs; the page counts within [`PAGE_TOLERANCE`].
pub fn against_real(
    workloads: &[Workload],
    real: &RealSide,
    side: &KsimSide,
    out: &mut Vec<String>,
) -> Coverage {
    let mut c = Coverage::default();
    let what = format!("real brd.ko ({})", real.oracle);
    for splat in &real.facts.splats {
        out.push(format!("{}: the real kernel logged: {splat}", real.oracle));
    }
    for ((w, k), r) in workloads.iter().zip(&side.runs).zip(&real.runs) {
        let Ok(k) = k else { continue };
        compare(w, &what, &r.observed, side.name, &k.observed, Some(r.pages()), out);
        c.bytes += r.observed.reads.iter().map(|v| v.len() as u64).sum::<u64>();
        c.page_counts += 1;
        c.max_dev = c.max_dev.max(r.pages().abs_diff(k.observed.pages as i64));
        c.exact += usize::from(r.pages() == k.observed.pages as i64);
    }
    c
}

/// Compares `got` (`side`) with `want` (`what`). With `real_pages`, the page count must be
/// within [`PAGE_TOLERANCE`] of it; without, exact.
fn compare(
    w: &Workload,
    what: &str,
    want: &Observed,
    side: &str,
    got: &Observed,
    real_pages: Option<i64>,
    out: &mut Vec<String>,
) {
    let seed = w.seed;
    for (i, (a, b)) in want.results.iter().zip(&got.results).enumerate() {
        if a != b {
            out.push(format!("seed {seed:#x} op {i} {:?}: {what} {a:?}, {side} {b:?}", w.ops[i]));
        }
    }
    if want.results.len() != got.results.len() {
        out.push(format!(
            "seed {seed:#x}: {what} has {} results, {side} {}",
            want.results.len(),
            got.results.len()
        ));
    }
    let reads: Vec<&Op> = w.ops.iter().filter(|o| matches!(o, Op::Read { .. })).collect();
    for (n, (a, b)) in want.reads.iter().zip(&got.reads).enumerate() {
        if a == b {
            continue;
        }
        let (offset, _) = reads[n].range();
        let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        let differing = a.iter().zip(b).filter(|(x, y)| x != y).count();
        out.push(format!(
            "seed {seed:#x} read {n} {:?}: {differing} bytes differ, first at device byte {} \
             ({what} {:?}, {side} {:?}; lengths {} / {})",
            reads[n],
            offset + at as u64,
            a.get(at),
            b.get(at),
            a.len(),
            b.len()
        ));
    }
    if want.reads.len() != got.reads.len() {
        out.push(format!(
            "seed {seed:#x}: {what} has {} reads, {side} {}",
            want.reads.len(),
            got.reads.len()
        ));
    }
    let pages_ok = match real_pages {
        Some(real) => real.abs_diff(got.pages as i64) <= PAGE_TOLERANCE,
        None => want.pages == got.pages,
    };
    if !pages_ok {
        out.push(format!(
            "seed {seed:#x}: backing pages: {what} {}, {side} {} (tolerance {})",
            real_pages.unwrap_or(want.pages as i64),
            got.pages,
            if real_pages.is_some() { PAGE_TOLERANCE } else { 0 }
        ));
    }
}

#[test]
fn a_differing_byte_a_failed_op_and_a_page_count_out_of_tolerance_are_each_reported() {
    use ksim_scenarios::differential::OpResult;
    let w = Workload::generate(3);
    let want = w.shadow();
    assert_eq!(compare_to_vec(&w, &want, &want, Some(want.pages as i64 + 2)), Vec::<String>::new());

    let mut got = want.clone();
    let last = got.reads.len() - 1;
    got.reads[last][4097] ^= 1;
    got.results[0] = OpResult::Failed("EAGAIN".into());
    let out = compare_to_vec(&w, &want, &got, Some(want.pages as i64 + 3));
    assert_eq!(out.len(), 3, "{out:#?}");
    assert!(
        out[0].starts_with(&format!("seed {:#x} op 0 ", w.seed))
            && out[0].ends_with("real Done, ksim Failed(\"EAGAIN\")")
    );
    assert!(out[1].contains("1 bytes differ, first at device byte 4097"), "{}", out[1]);
    assert!(out[2].ends_with(&format!(
        "backing pages: real {}, ksim {} (tolerance 2)",
        want.pages + 3,
        want.pages
    )));
}

#[cfg(test)]
fn compare_to_vec(w: &Workload, want: &Observed, got: &Observed, real_pages: Option<i64>) -> Vec<String> {
    let mut out = Vec::new();
    compare(w, "real", want, "ksim", got, real_pages, &mut out);
    out
}
