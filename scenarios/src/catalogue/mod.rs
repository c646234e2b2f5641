//! The scenario catalogue.

mod brd;
mod checks;
mod dax;
mod demo;

use crate::scenario::Scenario;

/// Every scenario, in catalogue order.
pub fn all() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.extend(dax::scenarios());
    v.extend(brd::scenarios());
    v.extend(demo::scenarios());
    v.extend(checks::scenarios());
    v
}

/// The scenario called `name`.
pub fn find(name: &str) -> Result<Scenario, String> {
    all().into_iter().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = all().iter().map(|s| s.name).collect::<Vec<_>>().into_iter().collect();
        format!("unknown scenario '{name}' (valid: {})", names.join(", "))
    })
}
