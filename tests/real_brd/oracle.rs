//! An oracle is one way of running the real `brd.ko`: a kernel that runs its module and a way to
//! boot it on this host. Each says, quickly, whether it can run here ([`RealKernel::probe`]),
//! then runs every workload ([`RealKernel::run`]); what it cannot do is [`Unavailable`] with a
//! reason, never a ksim failure.
//!
//! The settings come from the environment (documented in the README's Reliability section):
//!
//! - `KSIM_REAL_BRD=skip` (or the older `KSIM_UML=skip`): install and download nothing; an
//!   oracle that is already usable still runs, and when none is the test passes saying SKIPPED
//!   and why each could not run.
//! - `KSIM_REAL_BRD_ORACLES=uml,qemu`: the oracles to try (default: both; every one that can run
//!   is compared against).
//! - `KSIM_REAL_BRD_WORKLOADS=N`: run N workloads instead of 16 (a longer one-off sweep).
//! - `KSIM_REAL_BRD_BREAK=uml,qemu`: give those oracles a guest init that exits at once, as init
//!   does on a host where UML cannot restore its processes' FP state, so that the fallback and
//!   the failure reports can be exercised on a host where everything works.

use std::path::PathBuf;
use std::time::Duration;

use ksim_scenarios::differential::{Observed, Workload};

use super::guest::GuestFacts;
use super::{qemu, uml};

/// Why an oracle could not run on this host.
#[derive(Debug)]
pub struct Unavailable(pub String);

/// What the real kernel did with one workload.
pub struct RealRun {
    pub observed: Observed,
    /// Pages that left the free lists (free + per-cpu) during the workload.
    pub raw_pages: i64,
    /// Slab pages that appeared during the workload.
    pub slab_pages: i64,
    /// Guest wall time of the workload: load brd.ko, run, unload (NaN if not recorded).
    pub seconds: f64,
}

impl RealRun {
    /// The backing-page count compared: pages taken from the free lists less new slab pages
    /// (brd's radix-tree/xarray nodes).
    pub fn pages(&self) -> i64 {
        self.raw_pages - self.slab_pages
    }
}

/// Every workload as one oracle ran it.
pub struct RealSide {
    /// The oracle's name (`uml`, `qemu`).
    pub oracle: &'static str,
    /// Which kernel build ran brd.ko (the package it came from).
    pub build: String,
    /// The build's config lines on preemption, RCU and might_sleep checking.
    pub config: Vec<String>,
    /// What the guest said about itself.
    pub facts: GuestFacts,
    /// One run per workload, in order.
    pub runs: Vec<RealRun>,
    /// Host wall time of the oracle's run (helper build, image, boot, workloads, power-off).
    pub wall: Duration,
}

/// A way of running the real driver.
pub trait RealKernel: Send {
    fn name(&self) -> &'static str;
    /// Finds (or installs, with [`Setup::may_fetch`]) what the oracle needs and checks that it
    /// can run user space on this host; a line saying what the probe saw.
    fn probe(&mut self, setup: &Setup) -> Result<String, Unavailable>;
    /// Runs every workload on the real `brd.ko` (after a successful probe).
    fn run(&self, setup: &Setup, workloads: &[Workload]) -> Result<RealSide, Unavailable>;
}

/// The oracles, in the order they are tried and reported.
pub const ORACLES: [&str; 2] = ["uml", "qemu"];

pub fn make(name: &str) -> Box<dyn RealKernel> {
    match name {
        "uml" => Box::new(uml::Uml::default()),
        _ => Box::new(qemu::Qemu::default()),
    }
}

/// How this run may set itself up.
pub struct Setup {
    /// Install packages and download into the cache (false with the opt-out).
    pub may_fetch: bool,
    /// Give the guest an init that dies at once (`KSIM_REAL_BRD_BREAK`).
    pub broken: bool,
    /// Where downloaded kernels and busybox are kept between runs.
    pub cache: PathBuf,
}

/// The environment's settings.
pub struct Settings {
    /// `KSIM_REAL_BRD=skip` or `KSIM_UML=skip`: which of the two said so.
    pub skip: Option<&'static str>,
    pub oracles: Vec<&'static str>,
    pub broken: Vec<&'static str>,
    /// `KSIM_REAL_BRD_WORKLOADS`: how many workloads (default 16), for longer one-off sweeps.
    pub workloads: u64,
}

impl Settings {
    /// Reads the environment; a value it cannot honour is an error naming the valid choices.
    pub fn from_env() -> Result<Settings, String> {
        Settings::parse(&|name| std::env::var(name).ok())
    }

    fn parse(get: &dyn Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let var = |name: &str| get(name).filter(|v| !v.is_empty());
        let mut skip = None;
        for name in ["KSIM_REAL_BRD", "KSIM_UML"] {
            match var(name).as_deref() {
                None => {}
                Some("skip") => {
                    skip = skip.or(Some(if name == "KSIM_UML" { "KSIM_UML" } else { "KSIM_REAL_BRD" }))
                }
                Some(v) => return Err(format!("{name}={v:?}: the only value it takes is \"skip\"")),
            }
        }
        let list = |name: &str, default: &[&'static str]| -> Result<Vec<&'static str>, String> {
            let Some(v) = var(name) else { return Ok(default.to_vec()) };
            let mut out = Vec::new();
            for item in v.split(',').map(str::trim) {
                let Some(&o) = ORACLES.iter().find(|&&o| o == item) else {
                    return Err(format!(
                        "{name}={v:?}: unknown oracle {item:?} (valid: {})",
                        ORACLES.join(", ")
                    ));
                };
                if !out.contains(&o) {
                    out.push(o);
                }
            }
            Ok(out)
        };
        Ok(Settings {
            skip,
            oracles: list("KSIM_REAL_BRD_ORACLES", &ORACLES)?,
            broken: list("KSIM_REAL_BRD_BREAK", &[])?,
            workloads: match var("KSIM_REAL_BRD_WORKLOADS") {
                None => 16,
                Some(v) => v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    format!("KSIM_REAL_BRD_WORKLOADS={v:?}: a number of workloads from 1 to 1000 is needed")
                })?,
            },
        })
    }
}

#[test]
fn settings_take_the_documented_values_and_refuse_others() {
    let parse = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::parse(&move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    };
    let s = parse(&[]).unwrap();
    assert_eq!((s.skip, s.oracles, s.broken, s.workloads), (None, vec!["uml", "qemu"], vec![], 16));
    assert_eq!(parse(&[("KSIM_REAL_BRD_WORKLOADS", "64")]).unwrap().workloads, 64);
    let e = parse(&[("KSIM_REAL_BRD_WORKLOADS", "0")]).err().unwrap();
    assert_eq!(e, "KSIM_REAL_BRD_WORKLOADS=\"0\": a number of workloads from 1 to 1000 is needed");
    let s = parse(&[
        ("KSIM_UML", "skip"),
        ("KSIM_REAL_BRD_ORACLES", "qemu,uml,qemu"),
        ("KSIM_REAL_BRD_BREAK", "uml"),
    ])
    .unwrap();
    assert_eq!((s.skip, s.oracles, s.broken), (Some("KSIM_UML"), vec!["qemu", "uml"], vec!["uml"]));
    assert_eq!(
        parse(&[("KSIM_REAL_BRD", "skip"), ("KSIM_UML", "skip")]).unwrap().skip,
        Some("KSIM_REAL_BRD")
    );
    let e = parse(&[("KSIM_REAL_BRD_ORACLES", "uml,kvm")]).err().unwrap();
    assert_eq!(e, "KSIM_REAL_BRD_ORACLES=\"uml,kvm\": unknown oracle \"kvm\" (valid: uml, qemu)");
    let e = parse(&[("KSIM_UML", "no")]).err().unwrap();
    assert_eq!(e, "KSIM_UML=\"no\": the only value it takes is \"skip\"");
}
