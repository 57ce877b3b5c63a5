//! The `idemlog` command line: `demo` (the default) shows the delivery modes under
//! injected faults; `bench` measures the engine beside its peers.

mod bench;
mod demo;
mod demo_audit;
mod demo_in_process;
#[cfg(feature = "kafka")]
mod demo_kafka;
mod demo_send;
// Shared with the conformance suite (tests/conformance/main.rs includes it by
// #[path]): the demo draws faults at random, the suite scripts them.
#[cfg(feature = "kafka")]
#[allow(dead_code)]
mod fault_proxy;
// The bench harness, shared with the criterion benches (benches/*.rs); the
// demo uses none of it, and the criterion-only workloads are unused here.
#[allow(dead_code)]
#[path = "../../../benches/support/mod.rs"]
mod support;

use std::process::ExitCode;

const USAGE: &str = "usage: idemlog [demo [OPTIONS] | bench [OPTIONS] | help]
  demo   (default) send records through a producer per delivery mode with injected
         request and response loss, read the log back, print one row per mode;
         in process, or on a Kafka cluster (--backend kafka, --features kafka)
  bench  run the benchmark target workloads beside their peers (naive prototype,
         disruptor, crossbeam-channel, a Mutex ring) and print ratios and targets
Run `idemlog demo --help` or `idemlog bench --help` for the options.";

/// The options of a subcommand, or the exit code when there are none to run
/// with: `parsed` is `Ok(None)` when help was asked for (printed, success) and
/// `Err(message)` for bad flags (printed with the help, exit code 2).
fn options_or_exit<T>(
    command: &str,
    help: &str,
    parsed: Result<Option<T>, String>,
) -> Result<T, ExitCode> {
    match parsed {
        Ok(Some(options)) => Ok(options),
        Ok(None) => {
            println!("{help}");
            Err(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("idemlog {command}: {message}\n\n{help}");
            Err(ExitCode::from(2))
        }
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let command = if args.first().is_some_and(|a| !a.starts_with('-')) {
        args.remove(0)
    } else {
        if matches!(&args[..], [help] if help == "-h" || help == "--help") {
            // `idemlog --help`: the commands first, then the default's options.
            println!("{USAGE}\n");
        }
        "demo".to_string()
    };
    match command.as_str() {
        "demo" => demo::run(&args),
        "bench" => bench::run(&args),
        "help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        other => {
            eprintln!("idemlog: unknown command '{other}'\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
