//! The demo's own check, small: exactly-once shows no duplicate, loss or
//! reordering (the demo's exit status) under its default fault rates.

#[path = "../src/bin/idemlog/demo.rs"]
mod demo;

use std::process::ExitCode;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn demo_exactly_once_row_is_clean() {
    let code = demo::run(&args(&["--records", "20000", "--seed", "3", "--json"]));
    assert_eq!(code, ExitCode::SUCCESS);
}

#[test]
fn demo_rejects_bad_flags() {
    assert_eq!(demo::run(&args(&["--threads", "zero"])), ExitCode::from(2));
    assert_eq!(demo::run(&args(&["--bogus"])), ExitCode::from(2));
    assert_eq!(demo::run(&args(&["--help"])), ExitCode::SUCCESS);
}

/// The default run (what `cargo run --release` does); slow in debug builds.
#[test]
#[ignore = "the full default demo; run with --release -- --ignored"]
fn demo_default_run_is_clean() {
    assert_eq!(demo::run(&[]), ExitCode::SUCCESS);
}
