//! The demo's own check, small, through the real `idemlog` binary: exactly-once
//! shows no duplicate, loss or reordering (the demo's exit status) under its
//! default fault rates, and bad flags of the demo and the bench are refused.

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
    // Each request draws one fault from the rates' shares: summed to 1, no
    // request would get through (and exactly-once would seem to fail).
    let all_lost = ["demo", "--request-loss", "0.5", "--response-loss", "0.5"];
    let out = idemlog(&all_lost);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("add up to 1"), "{stderr}");
    assert_eq!(idemlog(&["nonsense"]).status.code(), Some(2));
    assert!(idemlog(&["demo", "--help"]).status.success());
    assert!(idemlog(&["help"]).status.success());
}

#[test]
fn top_level_help_names_every_command() {
    let out = idemlog(&["--help"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("bench") && stdout.contains("demo"),
        "{stdout}"
    );
}

/// The bench refuses what it cannot run instead of running nothing: a
/// selection without a workload (with or without `--records`), a record
/// count whose rounding would overflow, a memory probe of batch 0.
#[test]
fn bench_rejects_what_it_cannot_run() {
    for args in [
        &["bench", "--only", "nonsense"][..],
        &["bench", "--only", "nonsense", "--json"],
        &["bench", "--only", "nonsense", "--records", "5"],
        &[
            "bench",
            "--only",
            "append-p1-64B-b1",
            "--records",
            "18446744073709551615",
        ],
        &["bench", "--memory-probe", "log-b0"],
    ] {
        let out = idemlog(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("idemlog bench: "), "{args:?}: {stderr}");
    }
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
