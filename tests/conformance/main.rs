//! The conformance suite (issue 11): the same checks against every backend
//! of the Producer / MultiConsumer API, with the differences between backends
//! as data (each target's [`Capabilities`](target::Capabilities)), never as
//! `if`s in the checks. See `tests/conformance/README.md`.
//!
//! - one `#[test]` per check runs it against every target of this build
//!   (today only the in-process log; the Kafka targets come with the `kafka`
//!   feature, issue 11's next step);
//! - `summary` runs every check on every target and prints the table (check x
//!   target: pass / n.a. with the reason / FAIL):
//!   `cargo test --test conformance summary -- --nocapture`.

mod checks;
#[cfg(feature = "kafka")]
mod external;
// Shared with `idemlog demo --backend kafka`; the suite scripts faults, the
// demo draws them at random (`set_random`, unused here but unit-tested).
#[cfg(feature = "kafka")]
#[allow(dead_code)]
#[path = "../../src/bin/idemlog/fault_proxy.rs"]
mod fault_proxy;
mod in_process;
#[cfg(feature = "kafka")]
mod kafka_target;
#[cfg(feature = "kafka")]
mod mock_cluster;
#[cfg(feature = "kafka")]
mod tansu;
#[cfg(feature = "kafka")]
mod tansu_broker;
mod target;

use std::panic::{catch_unwind, AssertUnwindSafe};

use checks::Outcome;
use target::Target;

/// A check: passes, is not applicable (with the reason), or panics.
type Check = fn(&dyn Target) -> Outcome;

/// A target, made fresh for each check run.
type MakeTarget = fn() -> Box<dyn Target>;

/// Every target of this build, by name, in table order: in process; with the
/// `kafka` feature MockCluster, tansu on loopback when `$IDEMLOG_TANSU` names
/// its binary, and the user's cluster when `$IDEMLOG_KAFKA_BOOTSTRAP` names one.
fn targets() -> Vec<(&'static str, MakeTarget)> {
    #[allow(unused_mut)] // without the kafka feature there is one target
    let mut targets: Vec<(&'static str, MakeTarget)> =
        vec![("in-process", || Box::new(in_process::InProcess::new()))];
    #[cfg(feature = "kafka")]
    {
        targets.push(("mock-cluster", || Box::new(mock_cluster::mock_cluster())));
        if tansu::available() {
            targets.push(("tansu", || Box::new(tansu::tansu())));
        }
        if external::bootstrap().is_some() {
            targets.push(("kafka", || {
                Box::new(external::external(
                    &external::bootstrap().unwrap_or_default(),
                ))
            }));
        }
    }
    targets
}

/// The names of the targets of this build, in table order.
fn target_names() -> Vec<&'static str> {
    targets().iter().map(|(name, _)| *name).collect()
}

/// Runs `check` on a fresh instance of target `index`; `Err` is the panic
/// message of a failure (including a target that could not be made).
fn run(check: Check, index: usize) -> Result<Outcome, String> {
    let make = targets()[index].1;
    catch_unwind(AssertUnwindSafe(|| {
        let target = make();
        check(&*target)
    }))
    .map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panicked".to_string())
    })
}

/// The per-check test: the check on every target; fails naming the target.
fn run_everywhere(name: &str, check: Check) {
    for (index, target) in target_names().into_iter().enumerate() {
        match run(check, index) {
            Ok(Outcome::Pass) => println!("{name} on {target}: pass"),
            Ok(Outcome::NotApplicable(why)) => println!("{name} on {target}: n.a. ({why})"),
            Err(message) => panic!("conformance check {name} failed on {target}: {message}"),
        }
    }
}

/// The table of checks, (name, fn), and one `#[test]` per check, from one list.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        /// Every check, in table order.
        const CHECKS: &[(&str, Check)] = &[$((stringify!($name), checks::$name as Check)),*];
        $(
            #[test]
            fn $name() {
                run_everywhere(stringify!($name), checks::$name);
            }
        )*
    };
}

conformance![
    key_to_partition,
    offsets_dense_in_order,
    read_back,
    acks0,
    idempotent_lost_request,
    idempotent_lost_response,
    plain_lost_response_duplicates,
    commit_and_resume,
    seek,
    group_of_two_split,
    close_flushes,
    producer_identity,
];

/// Every check on every target, printed as a table; fails if any check failed.
#[test]
fn summary() {
    let names = target_names();
    let width = CHECKS.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut table = format!("{:width$}", "check");
    for target in &names {
        table.push_str(&format!(" | {target}"));
    }
    table.push('\n');
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        table.push_str(&format!("{name:width$}"));
        for (index, target) in names.iter().enumerate() {
            let cell = match run(*check, index) {
                Ok(Outcome::Pass) => "pass".to_string(),
                Ok(Outcome::NotApplicable(why)) => format!("n.a. ({why})"),
                Err(message) => {
                    failed.push(format!("{name} on {target}: {message}"));
                    "FAIL".to_string()
                }
            };
            table.push_str(&format!(" | {cell}"));
        }
        table.push('\n');
    }
    #[cfg(feature = "kafka")]
    if !tansu::available() {
        table.push_str(&format!(
            "(the tansu target is skipped: {} does not name its binary)\n",
            tansu_broker::TANSU_ENV
        ));
    }
    println!("conformance summary (check x target)\n{table}");
    assert!(failed.is_empty(), "failed:\n{}", failed.join("\n"));
}
