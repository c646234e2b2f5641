//! Scenario configuration: `key=value` settings with known keys, values and defaults
//! (`ksim list --configs`). A scenario reads them to build its kernel `Config` and its body.

use std::collections::BTreeMap;
use std::fmt;

use ksim::{CheckMode, Config, Profile, RcuFlavour};

/// One configuration key.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// Key name.
    pub name: &'static str,
    /// Valid values.
    pub values: &'static [&'static str],
    /// Default value.
    pub default: &'static str,
    /// What it selects.
    pub doc: &'static str,
}

/// Every configuration key.
pub const KEYS: &[Key] = &[
    Key { name: "mode", values: &["observed", "contract"], default: "observed", doc: "checking mode: the kernel's DEBUG_ATOMIC_SLEEP (observed) or may-sleep contracts checked at entry (contract)" },
    Key { name: "profile", values: &["4.0", "modern"], default: "modern", doc: "kernel whose preempt_count layout, GFP bits and report text are reproduced" },
    Key { name: "rcu", values: &["classic", "preempt"], default: "classic", doc: "RCU flavour: classic (rcu_read_lock disables preemption) or PREEMPT_RCU (separate nest depth)" },
    Key { name: "preempt_count", values: &["on", "off"], default: "on", doc: "CONFIG_PREEMPT_COUNT: off hides spinlocks from might_sleep, as in the kernel; expectations assume on, so check then lists the findings such a kernel misses" },
    Key { name: "fixed", values: &["no", "yes"], default: "no", doc: "run the scenario's corrected variant (each scenario's description says what changes)" },
    Key { name: "dax", values: &["on", "off"], default: "on", doc: "brd v4.0 CONFIG_BLK_DEV_RAM_DAX: ->direct_access exists and backing pages are lowmem; off adds __GFP_HIGHMEM and direct_access is NULL" },
    Key { name: "gfp", values: &["noio", "kernel"], default: "noio", doc: "GFP of brd's insert path: the kernel's GFP_NOIO, or a GFP_KERNEL mutant (reclaim recursion)" },
    Key { name: "driver", values: &["brd-4.0", "brd-6.1", "brd-6.1-c"], default: "brd-4.0", doc: "the brd a scenario that takes it runs: the Rust port of Linux 4.0 or 6.1, or drivers/block/brd.c of the kernel tree at hand (KSIM_LINUX_SRC, or Debian's linux-source-6.1) compiled unmodified against ksim's headers; each scenario's own default comes first in its description" },
    Key { name: "wait_context", values: &["off", "on"], default: "off", doc: "CONFIG_PROVE_RAW_LOCK_NESTING: lockdep's wait-context check (BUG: Invalid wait context), what PREEMPT_RT would break; needs profile=modern (it came with Linux 5.7)" },
    Key { name: "highmem", values: &["off", "on"], default: "off", doc: "a 32-bit highmem machine: 256 pages of lowmem, __GFP_HIGHMEM allocations from ZONE_HIGHMEM" },
];

/// Lowmem pages of the highmem machine (1 MiB: small, so scenarios reach highmem quickly).
const LOWMEM_PAGES: u64 = 256;

/// A parsed set of settings. Only the non-default values make up the settings (their label,
/// equality and hash); every value the user gave, defaults included, is remembered too, so that
/// a scenario that fixes a key can refuse an explicit request for another value
/// ([`crate::Scenario::check_keys`]) instead of silently keeping its own.
#[derive(Clone, Debug, Default)]
pub struct Settings(BTreeMap<&'static str, &'static str>, BTreeMap<&'static str, &'static str>);

impl PartialEq for Settings {
    fn eq(&self, other: &Settings) -> bool {
        self.0 == other.0
    }
}

impl Eq for Settings {}

impl std::hash::Hash for Settings {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.hash(h);
    }
}

impl Settings {
    /// Parses `key=value` pairs (from `--config` flags or a token's comma-joined label).
    pub fn parse<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<Settings, String> {
        let mut s = Settings::default();
        for p in pairs {
            if p.is_empty() {
                continue;
            }
            let (k, v) = p.split_once('=').ok_or_else(|| format!("config '{p}' is not key=value"))?;
            s.set(k, v)?;
        }
        Ok(s)
    }

    /// Parses a token's label (`a=b,c=d`).
    pub fn from_label(label: &str) -> Result<Settings, String> {
        Settings::parse(label.split(','))
    }

    /// Sets `key` to `value`, checking both.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        let k = KEYS
            .iter()
            .find(|k| k.name == key)
            .ok_or_else(|| format!("unknown config key '{key}' (valid: {})", names.join(", ")))?;
        let v = k.values.iter().find(|v| **v == value).ok_or_else(|| {
            format!("invalid value '{value}' for config key '{key}' (valid: {})", k.values.join(", "))
        })?;
        self.1.insert(k.name, v);
        if *v == k.default {
            self.0.remove(k.name);
        } else {
            self.0.insert(k.name, v);
        }
        Ok(())
    }

    /// The value of `key` (its default if unset).
    pub fn get(&self, key: &str) -> &'static str {
        self.0
            .get(key)
            .copied()
            .unwrap_or_else(|| KEYS.iter().find(|k| k.name == key).map(|k| k.default).expect("known key"))
    }

    /// The keys set to a non-default value, in key order.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.keys().copied()
    }

    /// Every key the user gave a value to (defaults included) with that value, in key order.
    pub fn given(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.1.iter().map(|(k, v)| (*k, *v))
    }

    /// `key` is `on`/`yes`.
    pub fn on(&self, key: &str) -> bool {
        matches!(self.get(key), "on" | "yes")
    }

    /// The checking mode.
    pub fn mode(&self) -> CheckMode {
        match self.get("mode") {
            "contract" => CheckMode::Contract,
            _ => CheckMode::Observed,
        }
    }

    /// The kernel configuration these settings select.
    pub fn kernel_config(&self) -> Config {
        let mut c = match self.get("profile") {
            "4.0" => Config::v4_0(),
            _ => Config::modern(),
        };
        c.profile = if self.get("profile") == "4.0" { Profile::V4_0 } else { Profile::Modern };
        c.rcu = if self.get("rcu") == "preempt" { RcuFlavour::Preemptible } else { RcuFlavour::Classic };
        c.preempt_count = self.on("preempt_count");
        c.mode = self.mode();
        c.wait_context = self.on("wait_context");
        if self.on("highmem") {
            c = c.highmem(LOWMEM_PAGES);
        }
        c
    }

    /// The GFP of brd's insert path these settings select.
    pub fn insert_gfp(&self) -> Option<ksim::gfp::Gfp> {
        (self.get("gfp") == "kernel").then_some(ksim::gfp::GFP_KERNEL)
    }

    /// The comma-joined label of the non-default settings (empty for defaults).
    pub fn label(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}
