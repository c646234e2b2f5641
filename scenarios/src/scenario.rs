//! The scenario type: a named, described body with a kernel configuration and an expected
//! verdict per checking mode, and how it is run under each scheduler.

use std::sync::Arc;

use ksim::{CheckMode, Outcome, Runner, Scheduler, Violation};

use crate::brds::Generation;
use crate::settings::Settings;

/// What a scenario must find.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No report in any execution.
    Clean,
    /// At least one report, and every report is one of these kinds.
    Finds(Vec<Violation>),
}

impl Expect {
    /// Shorthand for `Finds(vec![v])`.
    pub fn finds(v: Violation) -> Expect {
        Expect::Finds(vec![v])
    }

    /// Whether an outcome matches.
    pub fn matches(&self, o: &Outcome) -> bool {
        match self {
            Expect::Clean => o.is_clean(),
            Expect::Finds(kinds) => !o.is_clean() && o.reports.iter().all(|r| kinds.contains(&r.kind)),
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Clean => f.write_str("clean"),
            Expect::Finds(k) => {
                let names: Vec<&str> = k.iter().map(|v| v.name()).collect();
                write!(f, "finds {}", names.join("|"))
            }
        }
    }
}

/// A scenario body, built for given settings.
pub type Body = Arc<dyn Fn() + Send + Sync + 'static>;

/// One entry of the catalogue.
pub struct Scenario {
    /// The name users type.
    pub name: &'static str,
    /// One line for `ksim list`.
    pub summary: &'static str,
    /// One paragraph: what runs and why the verdict is what it is.
    pub description: &'static str,
    /// Settings this scenario applies on top of the user's (e.g. its driver generation).
    pub base: &'static [(&'static str, &'static str)],
    /// Builds the body for the given settings.
    pub body: fn(&Settings) -> Body,
    /// The expected verdict for the given settings (they include the checking mode).
    pub expect: fn(&Settings) -> Expect,
    /// Whether the verdict depends on the interleaving: a single real-thread (std) run may then
    /// see either verdict, and only the model checkers are held to the expectation.
    pub interleaving_dependent: bool,
    /// Most tasks alive at once including the main one (loom allows at most 5).
    pub max_tasks: usize,
    /// Scenario-specific kernel configuration on top of the settings' (memory limit, fault
    /// plan), or `None`.
    pub tune: Option<fn(&Settings, &mut ksim::Config)>,
    /// The scenario's own setting keys (beyond [`KERNEL_KEYS`], which every scenario takes).
    pub keys: &'static [&'static str],
    /// The brd generations it runs (`driver=`), its default first; empty if it takes no
    /// `driver`. The generation decides the kernel profile.
    pub drivers: &'static [Generation],
}

/// Keys that configure the simulated kernel, taken by every scenario.
pub const KERNEL_KEYS: &[&str] = &["mode", "profile", "rcu", "preempt_count", "wait_context"];

/// Default budgets of `ksim check`, per scheduler. Small enough for the whole catalogue to run
/// in seconds on two cores, large enough for the demonstration races (found within the first
/// few executions by PCT and random; DFS and loom exhaust the bounded space).
pub fn default_schedulers(seed: u64, iterations: Option<usize>) -> Vec<Scheduler> {
    let iters = iterations.unwrap_or(200);
    vec![
        Scheduler::Std,
        Scheduler::Random { seed, iterations: iters },
        Scheduler::Pct { seed, depth: 3, iterations: iters },
        Scheduler::Dfs { preemption_bound: Some(2), max_executions: Some(iterations.unwrap_or(5000)) },
        Scheduler::Loom { preemption_bound: Some(2) },
    ]
}

impl Scenario {
    /// The effective settings: the scenario's base, then the user's; for a scenario that takes a
    /// brd generation, the generation (the user's, else the scenario's default) and its profile.
    pub fn settings(&self, user: &Settings) -> Settings {
        let mut s = Settings::default();
        for (k, v) in self.base {
            s.set(k, v).expect("scenario base settings are valid");
        }
        for part in user.label().split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').expect("label is key=value");
            s.set(k, v).expect("user settings were validated");
        }
        if let Some(g) = self.generation(user) {
            s.set("driver", g.name()).expect("a driver value");
            s.set("profile", &g.profile().to_string()).expect("a profile value");
        }
        s
    }

    /// The brd generation the scenario runs with the user's settings (`None` if it takes none).
    pub fn generation(&self, user: &Settings) -> Option<Generation> {
        let chosen = user.given().find(|(k, _)| *k == "driver").and_then(|(_, v)| Generation::from_name(v));
        self.drivers.first().map(|&d| chosen.unwrap_or(d))
    }

    /// Why the scenario cannot run here with the user's settings (brd.c needs a kernel tree and
    /// must build), or `None`.
    pub fn unavailable(&self, user: &Settings) -> Option<String> {
        match self.generation(user) {
            Some(Generation::V6_1C) => crate::brds::c_unavailable(),
            _ => None,
        }
    }

    /// Refuses a setting the scenario does not use, or one it fixes to another value (its
    /// driver generation's profile, say): either would not change the run, and a user who asked
    /// for it should not be told the run had it.
    pub fn check_keys(&self, user: &Settings) -> Result<(), String> {
        if let Some((_, v)) = user.given().find(|(k, _)| *k == "driver") {
            let names: Vec<&str> = self.drivers.iter().map(|g| g.name()).collect();
            let ok = Generation::from_name(v).is_some_and(|g| self.drivers.contains(&g));
            if !ok && !self.drivers.is_empty() {
                return Err(format!("scenario '{}' runs driver {} (not '{v}')", self.name, names.join(", ")));
            }
        }
        if let Some(g) = self.generation(user) {
            for (k, v) in user.given() {
                if !g.takes(k) && user.keys().any(|x| x == k) {
                    return Err(format!("driver {} does not take config key '{k}' (set to '{v}')", g.name()));
                }
                if k == "profile" && v != g.profile().to_string() {
                    return Err(format!(
                        "scenario '{}' on driver {} fixes config key 'profile' to '{}' (it cannot run with profile={v})",
                        self.name,
                        g.name(),
                        g.profile()
                    ));
                }
            }
        }
        for (k, v) in user.given() {
            if let Some((_, own)) = self.base.iter().find(|(b, own)| *b == k && *own != v) {
                return Err(format!(
                    "scenario '{}' fixes config key '{k}' to '{own}' (it cannot run with {k}={v})",
                    self.name
                ));
            }
        }
        let effective = self.settings(user);
        if effective.on("wait_context") && effective.get("profile") == "4.0" {
            return Err(format!(
                "scenario '{}' runs profile=4.0, which has no wait-context check (wait_context=on needs \
                 profile=modern: CONFIG_PROVE_RAW_LOCK_NESTING came with Linux 5.7)",
                self.name
            ));
        }
        let takes = |k: &str| {
            KERNEL_KEYS.contains(&k) || self.keys.contains(&k) || (k == "driver" && !self.drivers.is_empty())
        };
        match user.keys().find(|k| !takes(k)) {
            None => Ok(()),
            Some(k) => {
                let mut uses: Vec<&str> = KERNEL_KEYS.to_vec();
                uses.extend(self.keys);
                if !self.drivers.is_empty() {
                    uses.push("driver");
                }
                Err(format!(
                    "scenario '{}' does not use config key '{k}' (it uses: {})",
                    self.name,
                    uses.join(", ")
                ))
            }
        }
    }

    /// Whether `scheduler` can run this scenario (loom's thread limit).
    pub fn supports(&self, scheduler: &Scheduler) -> bool {
        !matches!(scheduler, Scheduler::Loom { .. }) || self.max_tasks <= 5
    }

    /// Runs the scenario once under `scheduler` with the user's settings. Panics only where
    /// [`Scenario::try_run`] would return an error.
    pub fn run(&self, user: &Settings, scheduler: Scheduler) -> Outcome {
        self.try_run(user, scheduler).unwrap_or_else(|e| panic!("ksim: {e}"))
    }

    /// Runs the scenario, or says in one line why it cannot run (e.g. an environment variable
    /// that would override the scheduler's seed).
    pub fn try_run(&self, user: &Settings, scheduler: Scheduler) -> Result<Outcome, String> {
        let settings = self.settings(user);
        let body = (self.body)(&settings);
        let mut config = settings.kernel_config();
        if let Some(tune) = self.tune {
            tune(&settings, &mut config);
        }
        Runner::new(scheduler).config(config).scenario(self.name, &user.label()).try_run(move || body())
    }

    /// The expected verdict with the user's settings.
    pub fn expected(&self, user: &Settings) -> Expect {
        (self.expect)(&self.settings(user))
    }

    /// The expected verdict under a scheduler: `None` when any verdict is acceptable (an
    /// interleaving-dependent scenario under one real-thread run).
    pub fn expected_under(&self, user: &Settings, scheduler: &Scheduler) -> Option<Expect> {
        if self.interleaving_dependent && matches!(scheduler, Scheduler::Std) {
            None
        } else {
            Some(self.expected(user))
        }
    }

    /// The settings for a checking mode.
    pub fn with_mode(user: &Settings, mode: CheckMode) -> Settings {
        let mut s = user.clone();
        s.set("mode", &mode.to_string()).expect("mode values are valid");
        s
    }
}
