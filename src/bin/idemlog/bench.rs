//! `idemlog bench` (owned by the benchmark work).
use std::process::ExitCode;

pub fn run(_args: &[String]) -> ExitCode {
    eprintln!("bench: not built yet");
    ExitCode::FAILURE
}
