//! The ksim scenario catalogue: named scenarios with expected verdicts, their settings, and how
//! each runs under each scheduler.

#![forbid(unsafe_code)]

pub mod brds;
pub mod catalogue;
pub mod differential;
pub mod fuzz;
pub mod io;
pub mod scenario;
pub mod settings;
pub mod swarm;

pub use scenario::{default_schedulers, Body, Expect, Scenario};
pub use settings::{Key, Settings, KEYS};
