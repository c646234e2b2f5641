//! `ksim list`: the catalogue (name and summary), or with `--configs` every setting key.

use ksim_scenarios::{catalogue, KEYS};

use super::{out, CliResult};

pub fn run(configs: bool) -> CliResult {
    let mut text = String::new();
    if configs {
        let w = KEYS.iter().map(|k| k.name.len()).max().unwrap_or(0);
        let vw = KEYS.iter().map(|k| k.values.join("|").len()).max().unwrap_or(0);
        for k in KEYS {
            let values = k.values.join("|");
            let default = format!("default {}", k.default);
            text.push_str(&format!("{:<w$}  {values:<vw$}  {default:<16}  {}\n", k.name, k.doc));
        }
    } else {
        let all = catalogue::all();
        let w = all.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in &all {
            text.push_str(&format!("{:<w$}  {}\n", s.name, s.summary));
        }
    }
    out(&text);
    Ok(std::process::ExitCode::SUCCESS)
}
