//! `idemlog demo` (owned by the producer work).
use std::process::ExitCode;

pub fn run(_args: &[String]) -> ExitCode {
    eprintln!("demo: not built yet");
    ExitCode::FAILURE
}
