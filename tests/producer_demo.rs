//! The demo's own check, small, through the real `idemlog` binary: exactly-once
//! shows no duplicate, loss or reordering (the demo's exit status) under its
//! default fault rates, and bad flags are refused.

use std::process::{Command, Output};

fn idemlog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_idemlog"))
        .args(args)
        .output()
        .expect("the idemlog binary runs")
}

#[test]
fn demo_exactly_once_row_is_clean() {
    let out = idemlog(&["demo", "--records", "20000", "--seed", "3", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exactly_once = stdout
        .lines()
        .find(|line| line.contains("\"mode\":\"exactly-once\""))
        .expect("an exactly-once row");
    for clean in ["\"duplicates\":0", "\"lost\":0", "\"reordered\":0"] {
        assert!(exactly_once.contains(clean), "{exactly_once}");
    }
}

#[test]
fn demo_rejects_bad_flags() {
    assert_eq!(
        idemlog(&["demo", "--threads", "zero"]).status.code(),
        Some(2)
    );
    assert_eq!(idemlog(&["demo", "--bogus"]).status.code(), Some(2));
    assert_eq!(idemlog(&["nonsense"]).status.code(), Some(2));
    assert!(idemlog(&["demo", "--help"]).status.success());
    assert!(idemlog(&["help"]).status.success());
}
