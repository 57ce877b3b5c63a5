//! `idemlog bench`: the benchmark target table in short form. Each engine
//! workload is run interleaved with its peers in this process (engine, peer,
//! peer, engine, ...) and reported as medians and ratios; the limits after; the
//! memory figures each from a fresh child process. The workloads, the table and
//! the rows are the shared harness in benches/support (see its docs for the
//! method), the same code the criterion benches run.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use crate::support::crew::Runner;
use crate::support::measure::{self, Measured};
use crate::support::memory;
use crate::support::report::{MemoryRow, Printed, Row, Target};
use crate::support::targets::{self, Group};

const HELP: &str =
    "usage: idemlog bench [--quick] [--json] [--only TEXT] [--records N [--peer NAME]] [--help]

Runs the benchmark target workloads for a few seconds each, every engine
workload interleaved with its peers in this process (the naive prototype,
disruptor, crossbeam-channel bounded, a parking_lot Mutex ring), and prints the
median records/s of each, the ratio engine/peer, the target and whether it is
met; then the limits (memcpy of the payloads, a shared fetch_add, core-to-core
ping-pong) and the memory figures. Rounds with two busy threads that got less
than 1.8 CPU-seconds per second are discarded and counted. About a minute
(--quick: about 15 s). On a shared machine trust the ratios, which are measured
side by side.

options:
  --quick      shorter rounds and fewer of them
  --json       one JSON object per line instead of the table:
               {\"workload\", \"engine_rps\", \"peer\", \"peer_rps\", \"ratio\", \"met\", \"note\"}
               {\"workload\": \"memory-...\", \"bytes\", \"met\", \"note\"}
  --only TEXT  only the rows of workload TEXT, or, if TEXT is no workload id,
               of the workloads whose ids contain it
  --records N  no peers, no table: build the engine runner of each selected
               workload (with its prefill) and run N records once, rounded up
               to whole units of the runner (the line printed says how many
               ran); for valgrind (benches/callgrind.sh); not for the memory
               workloads, which have no runner
  --peer NAME  with --records: run the runner of the selected workload's peer
               NAME (as named in the table, e.g. non-idempotent) instead of
               the engine's
  --help       this text";

/// The largest `--records`: far beyond any run's patience, and small enough
/// that rounding it up to whole units of a runner cannot overflow.
const MAX_RECORDS: u64 = 1 << 40;

/// `--memory-probe NAME` (internal): measure one memory figure in this fresh
/// process and print its numbers.
const MEMORY_PROBE: &str = "--memory-probe";

struct Options {
    quick: bool,
    json: bool,
    only: Option<String>,
    records: Option<u64>,
    peer: Option<String>,
    memory_probe: Option<String>,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        quick: false,
        json: false,
        only: None,
        records: None,
        peer: None,
        memory_probe: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .map(String::to_string)
                .ok_or(format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--json" => options.json = true,
            "--only" => options.only = Some(value("--only")?),
            "--records" => {
                let records = value("--records")?;
                options.records = Some(
                    records
                        .parse()
                        .ok()
                        .filter(|&n| (1..=MAX_RECORDS).contains(&n))
                        .ok_or(format!(
                            "--records: '{records}' is not a record count in 1..={MAX_RECORDS}"
                        ))?,
                );
            }
            "--peer" => options.peer = Some(value("--peer")?),
            MEMORY_PROBE => options.memory_probe = Some(value(MEMORY_PROBE)?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if options.peer.is_some() && options.records.is_none() {
        return Err("--peer needs --records".to_string());
    }
    Ok(Some(options))
}

/// Which workload ids `--only TEXT` selects: TEXT itself if it is a workload
/// id (so `append-own-p2-64B-b64` leaves out its `-owned` sibling), else every
/// id containing it; all without `--only`.
fn selector(only: Option<&str>) -> impl Fn(&str) -> bool + '_ {
    move |id: &str| match only {
        None => true,
        Some(only) if targets::WORKLOAD_IDS.contains(&only) => id == only,
        Some(only) => id.contains(only),
    }
}

/// Records appended for each log-bytes figure.
const MEMORY_RECORDS: u64 = 1 << 20;

/// The budget B of the memory-budget figure.
const MEMORY_BUDGET: u64 = 256 << 20;

/// (pid, partition) entries for the producer-state figure.
const MEMORY_PRODUCERS: usize = 100_000;

/// Runs one memory probe in this process: prints its figures, space-separated.
fn memory_probe(name: &str) -> ExitCode {
    let figures = match name {
        "producer-state" => {
            let bytes = memory::producer_state_bytes(MEMORY_PRODUCERS);
            vec![bytes.measured, bytes.reported]
        }
        "budget" => {
            let figures = memory::budget_under_stalled_reader(MEMORY_BUDGET);
            vec![figures.peak_growth, figures.log_full]
        }
        batch => match batch
            .strip_prefix("log-b")
            .and_then(|b| b.parse().ok())
            .filter(|&batch| batch > 0)
        {
            Some(batch) => vec![memory::log_bytes_per_record(MEMORY_RECORDS, 64, batch)],
            None => {
                eprintln!("idemlog bench: unknown memory probe '{name}'");
                return ExitCode::from(2);
            }
        },
    };
    let text: Vec<String> = figures.iter().map(f64::to_string).collect();
    println!("{}", text.join(" "));
    ExitCode::SUCCESS
}

/// Runs `--memory-probe name` in a child process; its figures.
fn probe_in_child(name: &str) -> Result<Vec<f64>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let output = Command::new(exe)
        .args(["bench", MEMORY_PROBE, name])
        .output()
        .map_err(|e| format!("spawn the memory probe: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "memory probe {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(|figure| figure.parse().map_err(|e| format!("probe output: {e}")))
        .collect()
}

/// The memory rows selected by `selected`, each figure from `probe(name)`
/// ([`probe_in_child`]).
fn memory_rows(
    selected: &dyn Fn(&str) -> bool,
    probe: &dyn Fn(&str) -> Result<Vec<f64>, String>,
) -> Vec<MemoryRow> {
    let mut rows = Vec::new();
    let failed = |workload, error: String| MemoryRow {
        workload,
        bytes: None,
        met: false,
        note: error,
    };
    let log_bytes = "memory-log-bytes-per-record";
    if selected(log_bytes) {
        for (batch, max) in targets::LOG_BYTES_TARGETS {
            rows.push(match probe(&format!("log-b{batch}")) {
                Ok(figures) => MemoryRow {
                    workload: log_bytes,
                    bytes: Some(figures[0]),
                    met: figures[0] <= max,
                    note: format!(
                        "batch {batch}: target <= {max} B; resident-set growth over \
                         {MEMORY_RECORDS} borrowed idempotent 64 B records, per record, \
                         minus the 64 B payload"
                    ),
                },
                Err(error) => failed(log_bytes, error),
            });
        }
    }
    let state = "memory-producer-state-bytes";
    if selected(state) {
        let (max, tolerance) = (
            targets::PRODUCER_STATE_MAX,
            targets::PRODUCER_STATE_TOLERANCE,
        );
        rows.push(match probe("producer-state") {
            Ok(figures) => {
                let (measured, reported) = (figures[0], figures[1]);
                let off = (reported - measured).abs() / measured;
                MemoryRow {
                    workload: state,
                    bytes: Some(measured),
                    met: measured <= max && off <= tolerance,
                    note: format!(
                        "target <= {max} B and the log's own figure within {:.0}%: \
                         resident-set growth over {MEMORY_PRODUCERS} producers x 1 partition \
                         (window 5), beyond the same number of plain records; \
                         Log::producer_state_stats() says {reported:.1} B ({:.0}% off)",
                        tolerance * 100.0,
                        off * 100.0
                    ),
                }
            }
            Err(error) => failed(state, error),
        });
    }
    let budget = "memory-budget";
    if selected(budget) {
        rows.push(match probe("budget") {
            Ok(figures) => {
                let (peak, log_full) = (figures[0], figures[1]);
                let bound = 1.1 * MEMORY_BUDGET as f64 + (64 << 20) as f64;
                MemoryRow {
                    workload: budget,
                    bytes: Some(peak),
                    met: peak <= bound && log_full > 0.0,
                    note: format!(
                        "budget B = {} MiB, target: resident set <= 1.1 x B + 64 MiB = {:.0} MiB; \
                         peak growth {:.0} MiB while a writer appended 4 x B through record \
                         retention past a stalled reader holding a record, then filled a topic \
                         without retention: {log_full:.0} appends answered LogFull, no abort",
                        MEMORY_BUDGET >> 20,
                        bound / (1 << 20) as f64,
                        peak / (1 << 20) as f64,
                    ),
                }
            }
            Err(error) => failed(budget, error),
        });
    }
    rows
}

/// `--records N [--peer NAME]`: the engine runner of each selected group
/// once, or with `--peer` its peer NAME's runner, for valgrind. `Err` is a
/// usage error, found before anything runs: the selection has no runner (only
/// memory workloads, each a resident-set figure of a fresh process), or no
/// peer named NAME.
fn run_records(
    groups: Vec<Group>,
    selected: &dyn Fn(&str) -> bool,
    records: u64,
    peer: Option<&str>,
) -> Result<(), String> {
    let chosen: Vec<(Group, usize)> = groups
        .into_iter()
        .filter_map(|group| {
            let index = group.comparisons.iter().position(|comparison| {
                selected(comparison.workload) && peer.is_none_or(|p| comparison.peer == p)
            })?;
            Some((group, index))
        })
        .collect();
    if chosen.is_empty() {
        return Err(match peer {
            Some(name) => format!("no workload --only selects has a peer named '{name}'"),
            None => "--records does not apply to the memory workloads: they have no runner \
                     to give N records (each figure is the resident set of a fresh process); \
                     run them without --records"
                .to_string(),
        });
    }
    for (group, index) in chosen {
        let comparison = &group.comparisons[index];
        let workload = comparison.workload;
        let (mut runner, who) = match peer {
            None => ((group.engine)(), "engine"),
            Some(name) => ((comparison.build)(), name),
        };
        let records = records.div_ceil(runner.unit()) * runner.unit();
        let elapsed = runner.run(records).wall;
        let instructions = targets::INSTRUCTION_TARGETS
            .iter()
            .find(|(id, _)| peer.is_none() && *id == workload)
            .map_or(String::new(), |(_, most)| {
                format!("; target <= {most} instructions/record")
            });
        println!(
            "{workload}: {who} {records} records in {elapsed:?} ({:.1} M/s){instructions}",
            records as f64 / elapsed.as_secs_f64() / 1e6
        );
    }
    Ok(())
}

/// Prints `message` with the help; exit code 2, as for bad flags.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("idemlog bench: {message}\n\n{HELP}");
    ExitCode::from(2)
}

fn note(how: &str, engine: &Measured, peer: &Measured) -> String {
    format!(
        "{how}; engine {}, {:.0} faults/Mrec; peer {}",
        engine.summary(),
        engine.faults_per_million,
        peer.summary()
    )
}

/// Entry point of `idemlog bench`.
pub(crate) fn run(args: &[String]) -> ExitCode {
    let options = match super::options_or_exit("bench", HELP, parse(args)) {
        Ok(options) => options,
        Err(code) => return code,
    };
    if let Some(name) = &options.memory_probe {
        return memory_probe(name);
    }
    let selected = selector(options.only.as_deref());
    if let Some(only) = &options.only {
        if !targets::WORKLOAD_IDS.iter().any(|id| selected(id)) {
            return usage_error(&format!("--only '{only}' selects no workload"));
        }
    }
    if let Some(records) = options.records {
        return match run_records(
            targets::groups(),
            &selected,
            records,
            options.peer.as_deref(),
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => usage_error(&message),
        };
    }
    let (round, reps) = if options.quick {
        (Duration::from_millis(40), 3)
    } else {
        (Duration::from_millis(200), 5)
    };
    let started = Instant::now();
    let print = |row: &Row| println!("{}", row.line(options.json));
    if !options.json {
        println!(
            "idemlog bench{}: medians of {reps} interleaved rounds of ~{} ms; M/s = million records/s",
            if options.quick { " --quick" } else { "" },
            round.as_millis()
        );
        println!("{}", Row::table_header());
    }

    let mut engine_rates: Vec<(&str, f64)> = Vec::new();
    let mut all_met = true;
    for group in targets::groups() {
        let comparisons: Vec<_> = group
            .comparisons
            .into_iter()
            .filter(|comparison| selected(comparison.workload))
            .collect();
        if comparisons.is_empty() {
            continue;
        }
        let mut runners: Vec<Box<dyn Runner>> = vec![(group.engine)()];
        runners.extend(comparisons.iter().map(|comparison| (comparison.build)()));
        let measured = measure::interleave(&mut runners, round, reps);
        drop(runners);
        let engine = measured[0];
        for (comparison, peer) in comparisons.iter().zip(&measured[1..]) {
            if !engine_rates
                .iter()
                .any(|(id, _)| *id == comparison.workload)
            {
                engine_rates.push((comparison.workload, engine.rps));
            }
            let row = Row {
                workload: comparison.workload.to_string(),
                engine_rps: comparison.metric.of(&engine),
                peer: comparison.peer.to_string(),
                peer_rps: comparison.metric.of(peer),
                target: comparison.target,
                note: note(comparison.how, &engine, peer),
            };
            all_met &= row.met() != Some(false);
            print(&row);
        }
    }

    let limits: Vec<_> = targets::limits()
        .into_iter()
        .filter_map(|(limit, workload)| {
            let rate = engine_rates.iter().find(|(id, _)| *id == workload)?.1;
            Some((limit, workload, rate))
        })
        .collect();
    if !limits.is_empty() {
        if !options.json {
            println!("-- limits (ratio = the engine as a fraction of what the machine can do)");
        }
        let mut runners: Vec<Box<dyn Runner>> = limits
            .iter()
            .map(|(limit, ..)| Box::new(limit.runner()) as Box<dyn Runner>)
            .collect();
        let measured = measure::interleave(&mut runners, round, reps);
        drop(runners);
        for ((limit, workload, engine_rps), ceiling) in limits.iter().zip(measured) {
            print(&Row {
                workload: workload.to_string(),
                engine_rps: *engine_rps,
                peer: limit.name(),
                peer_rps: ceiling.rps,
                target: Target::NONE,
                note: format!("limit {}", ceiling.summary()),
            });
        }
    }

    let memory = memory_rows(&selected, &probe_in_child);
    if !options.json && !memory.is_empty() {
        println!("-- memory");
    }
    for row in &memory {
        all_met &= row.met;
        println!("{}", row.line(options.json));
    }
    if !options.json {
        println!("total {:.1} s", started.elapsed().as_secs_f64());
        if !all_met {
            println!("some targets are not met (see the 'met' column)");
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_parse() {
        let options = parse(&args(&[
            "--quick",
            "--json",
            "--only",
            "append",
            "--records",
            "5",
        ]))
        .expect("valid")
        .expect("not help");
        assert!(options.quick && options.json);
        assert_eq!(options.only.as_deref(), Some("append"));
        assert_eq!(options.records, Some(5));
        assert!(parse(&args(&["--help"])).expect("valid").is_none());
        assert!(parse(&args(&["--only"])).is_err());
        assert!(parse(&args(&["--records", "x"])).is_err());
        assert!(parse(&args(&["--records", "0"])).is_err());
        assert!(parse(&args(&["--records", &u64::MAX.to_string()])).is_err());
        assert!(parse(&args(&["--records", &MAX_RECORDS.to_string()])).is_ok());
        let peer = parse(&args(&["--records", "5", "--peer", "disruptor"]))
            .expect("valid")
            .expect("not help");
        assert_eq!(peer.peer.as_deref(), Some("disruptor"));
        assert!(parse(&args(&["--peer", "disruptor"])).is_err());
        assert!(parse(&args(&["--fast"])).is_err());
    }

    #[test]
    fn only_selects_an_exact_id_alone_and_else_by_substring() {
        let exact = selector(Some("append-own-p2-64B-b64"));
        assert!(exact("append-own-p2-64B-b64") && !exact("append-own-p2-64B-b64-owned"));
        let part = selector(Some("memory"));
        assert!(part("memory-budget") && !part("consume-scan"));
        assert!(selector(None)("consume-scan"));
    }

    #[test]
    fn records_refuses_a_selection_without_a_runner_before_running_anything() {
        let memory = run_records(targets::groups(), &selector(Some("memory-budget")), 1, None);
        assert!(memory.is_err_and(|message| message.contains("memory workloads")));
        let no_peer = run_records(
            targets::groups(),
            &selector(Some("append-p1-64B-b1")),
            1,
            Some("mutex-vec"),
        );
        assert!(no_peer.is_err_and(|message| message.contains("'mutex-vec'")));
    }

    #[test]
    fn every_benchmarks_md_workload_has_a_row() {
        let mut ids: Vec<&str> = targets::groups()
            .iter()
            .flat_map(|group| group.comparisons.iter().map(|c| c.workload))
            .collect();
        let memory = memory_rows(&|_| true, &|name| match name {
            "producer-state" => Ok(vec![400.0, 390.0]),
            // 400 MiB of peak growth is past 1.1 x 256 MiB + 64 MiB = 346 MiB.
            "budget" => Ok(vec![400.0 * (1 << 20) as f64, 10.0]),
            _ => Ok(vec![12.0]),
        });
        ids.extend(memory.iter().map(|row| row.workload));
        for id in targets::WORKLOAD_IDS {
            assert!(ids.contains(&id), "{id} missing");
        }
        let met: Vec<bool> = memory.iter().map(|row| row.met).collect();
        // 12 B meets both log-bytes targets; 400 B with the log's 390 B (2.5%
        // off) meets the state target; 400 MiB breaks the budget's bound.
        assert_eq!(met, [true, true, true, false]);
        let within = memory_rows(&|id| id == "memory-budget", &|_| {
            Ok(vec![300.0 * (1 << 20) as f64, 10.0])
        });
        assert!(within[0].met, "300 MiB with LogFull answers meets it");
        let never_full = memory_rows(&|id| id == "memory-budget", &|_| Ok(vec![1.0, 0.0]));
        assert!(
            !never_full[0].met,
            "a writer that never got LogFull never filled the budget"
        );
    }
}
