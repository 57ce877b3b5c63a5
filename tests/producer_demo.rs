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

#[test]
fn demo_backend_flags() {
    let code = |args: &[&str]| idemlog(args).status.code();
    assert_eq!(code(&["demo", "--backend", "bogus"]), Some(2));
    // The Kafka addresses belong to the Kafka backend.
    assert_eq!(code(&["demo", "--bootstrap", "127.0.0.1:9092"]), Some(2));
    assert_eq!(code(&["demo", "--backend", "kafka"]), Some(2));
    let kafka = idemlog(&["demo", "--backend", "kafka", "--bootstrap", "127.0.0.1:1"]);
    let stderr = String::from_utf8_lossy(&kafka.stderr);
    if cfg!(feature = "kafka") {
        // No broker there: a run-time failure, not a usage error.
        assert_eq!(kafka.status.code(), Some(1), "{stderr}");
    } else {
        assert_eq!(kafka.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--features kafka"), "{stderr}");
    }
}

#[cfg(feature = "kafka")]
#[test]
fn demo_kafka_upstream_must_answer() {
    let out = idemlog(&[
        "demo",
        "--backend",
        "kafka",
        "--bootstrap",
        "127.0.0.1:0",
        "--upstream",
        "127.0.0.1:1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no broker answers"), "{stderr}");
}
