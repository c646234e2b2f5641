//! `ksim`: runs the scenario catalogue under every scheduler (KTAP on stdout), one scenario in
//! full, a replay token, a trace, a configuration diff, or the benchmarks. See `ksim --help`.

#![forbid(unsafe_code)]

mod bench;
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
