//! `idemlog bench`: the target workloads (`groups` below) in short form, each engine
//! run interleaved with its peers in this process (engine, peer, peer, engine, ...)
//! and reported as medians and ratios. The workloads themselves live in
//! `idemlog::benchkit`, shared with the criterion benches.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use idemlog::benchkit::{
    self, AppendShape, AppendTarget, Calibration, Measured, ProduceTarget, Runner, ScanTarget,
};
use idemlog::{LogConfig, ProducerStateStats};

const HELP: &str = "usage: idemlog bench [--quick] [--json] [--only TEXT] [--help]

Runs the target workloads (README.md, Performance) for a few seconds each, every engine
workload interleaved with its peers in this process (crossbeam-channel bounded,
parking_lot Mutex<Vec<Record>>, the naive CAS + fetch_add prototype), and prints
the median records/s of each, the ratio engine/peer, the target and whether it
is met; then the calibration ceilings (fetch_add, shared fetch_add, memcpy of the
payloads) with the engine as a percentage of each, and the memory figures.
Takes about 40 s (--quick: about 10 s). Numbers on a shared machine are noisy:
trust the ratios, which are measured side by side.

options:
  --quick      shorter rounds and fewer repetitions
  --json       one JSON object per line instead of the table:
               {\"workload\", \"engine_rps\", \"peer\", \"peer_rps\", \"ratio\", ...}
  --only TEXT  run only the groups whose workload ids contain TEXT
  --profile N  no peers, no table: build each selected engine runner (with its
               prefill) and run N records once; for valgrind/perf
  --help       this text";

struct Options {
    quick: bool,
    json: bool,
    only: Option<String>,
    profile: Option<u64>,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        quick: false,
        json: false,
        only: None,
        profile: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--json" => options.json = true,
            "--only" => options.only = Some(args.next().ok_or("--only needs a value")?.to_string()),
            "--profile" => {
                let records = args.next().ok_or("--profile needs a record count")?;
                options.profile = Some(
                    records
                        .parse()
                        .map_err(|_| format!("--profile: '{records}' is not a record count"))?,
                );
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    Ok(Some(options))
}

/// What a row must reach.
#[derive(Clone, Copy)]
struct Target {
    min_ratio: Option<f64>,
    min_rps: Option<f64>,
}

const INFO: Target = Target {
    min_ratio: None,
    min_rps: None,
};

impl Target {
    fn text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(ratio) = self.min_ratio {
            parts.push(format!("ratio >= {ratio}"));
        }
        if let Some(rps) = self.min_rps {
            parts.push(format!(">= {} M/s", rps / 1e6));
        }
        if parts.is_empty() {
            "(info)".to_string()
        } else {
            parts.join(", ")
        }
    }

    fn met(&self, engine_rps: f64, ratio: f64) -> Option<bool> {
        if self.min_ratio.is_none() && self.min_rps.is_none() {
            return None;
        }
        Some(
            self.min_ratio.is_none_or(|min| ratio >= min)
                && self.min_rps.is_none_or(|min| engine_rps >= min),
        )
    }
}

/// Builds a runner (threads spawned, memory pre-faulted) when its group starts.
type Build = Box<dyn Fn() -> Box<dyn Runner>>;

/// One engine runner measured beside its peers; each peer gives one row:
/// (workload id, peer name, peer runner, target).
struct Group {
    engine: Build,
    engine_label: &'static str,
    peers: Vec<(&'static str, &'static str, Build, Target)>,
}

struct Row {
    kind: &'static str,
    workload: String,
    engine: String,
    engine_rps: f64,
    peer: String,
    peer_rps: f64,
    target: Target,
    note: String,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.engine_rps / self.peer_rps
    }
}

fn append(target: AppendTarget, shape: AppendShape) -> Build {
    Box::new(move || target.runner(shape))
}

fn scan(target: ScanTarget) -> Build {
    Box::new(move || target.runner(64))
}

fn produce(target: ProduceTarget) -> Build {
    Box::new(move || target.runner(2, 64))
}

fn groups() -> Vec<Group> {
    use AppendTarget::*;
    let own_b64 = AppendShape::new(64, 64, 2, false);
    let shared_b1 = AppendShape::new(64, 1, 2, true);
    let p1_b1 = AppendShape::new(64, 1, 1, true);
    let p1_b16 = AppendShape::new(64, 16, 1, true);
    let ratio = |min| Target {
        min_ratio: Some(min),
        min_rps: None,
    };
    let rps = |min| Target {
        min_ratio: None,
        min_rps: Some(min),
    };
    vec![
        Group {
            engine: append(Idempotent, own_b64),
            engine_label: "idemlog",
            peers: vec![
                (
                    "append-own-p2-64B-b64",
                    "crossbeam-channel",
                    append(Channel, own_b64),
                    Target {
                        min_ratio: Some(10.0),
                        min_rps: Some(240e6),
                    },
                ),
                (
                    "append-own-p2-64B-b64",
                    "naive-prototype",
                    append(Naive, own_b64),
                    INFO,
                ),
            ],
        },
        Group {
            engine: append(Idempotent, shared_b1),
            engine_label: "idemlog",
            peers: vec![
                (
                    "append-shared-p2-64B-b1",
                    "crossbeam-channel",
                    append(Channel, shared_b1),
                    ratio(2.0),
                ),
                (
                    "append-shared-p2-64B-b1",
                    "mutex-vec",
                    append(MutexVec, shared_b1),
                    ratio(3.0),
                ),
                (
                    "append-shared-p2-64B-b1",
                    "naive-prototype",
                    append(Naive, shared_b1),
                    INFO,
                ),
            ],
        },
        Group {
            engine: append(Idempotent, p1_b1),
            engine_label: "idemlog",
            peers: vec![
                (
                    "append-p1-64B-b1",
                    "naive-prototype",
                    append(Naive, p1_b1),
                    rps(75e6),
                ),
                (
                    "append-p1-64B-b1",
                    "crossbeam-channel",
                    append(Channel, p1_b1),
                    INFO,
                ),
                (
                    "idempotence-b1",
                    "non-idempotent",
                    append(Plain, p1_b1),
                    ratio(0.80),
                ),
            ],
        },
        Group {
            engine: append(Idempotent, p1_b16),
            engine_label: "idemlog",
            peers: vec![(
                "idempotence-b16",
                "non-idempotent",
                append(Plain, p1_b16),
                ratio(0.97),
            )],
        },
        Group {
            engine: produce(ProduceTarget::Idempotent),
            engine_label: "idemlog-producer",
            peers: vec![
                (
                    "produce-e2e-t2-64B",
                    "crossbeam-channel",
                    produce(ProduceTarget::Channel),
                    ratio(1.5),
                ),
                (
                    "produce-e2e-t2-64B",
                    "non-idempotent",
                    produce(ProduceTarget::Plain),
                    INFO,
                ),
            ],
        },
        Group {
            engine: scan(ScanTarget::Engine),
            engine_label: "idemlog",
            peers: vec![
                (
                    "consume-scan",
                    "mutex-vec",
                    scan(ScanTarget::MutexVec),
                    rps(200e6),
                ),
                (
                    "consume-scan",
                    "crossbeam-channel",
                    scan(ScanTarget::Channel),
                    INFO,
                ),
            ],
        },
    ]
}

/// Calibration ceilings: (ceiling, the engine workload it is compared with).
fn calibrations() -> Vec<(Calibration, &'static str)> {
    vec![
        (Calibration::FetchAdd, "append-p1-64B-b1"),
        (Calibration::OwnFetchAdd, "append-own-p2-64B-b64"),
        (Calibration::SharedFetchAdd, "append-shared-p2-64B-b1"),
        (
            Calibration::Memcpy {
                size: 64,
                threads: 1,
            },
            "append-p1-64B-b1",
        ),
        (
            Calibration::Memcpy {
                size: 64,
                threads: 2,
            },
            "append-own-p2-64B-b64",
        ),
    ]
}

fn mrps(rps: f64) -> String {
    format!("{:.1}", rps / 1e6)
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_number(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.4}")
    } else {
        "null".to_string()
    }
}

fn json_bool(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => "null",
    }
}

fn print_row(row: &Row, json: bool) {
    let met = row.target.met(row.engine_rps, row.ratio());
    if json {
        println!(
            "{{\"workload\": {}, \"engine_rps\": {}, \"peer\": {}, \"peer_rps\": {}, \"ratio\": {}, \"kind\": {}, \"engine\": {}, \"target\": {}, \"met\": {}, \"note\": {}}}",
            json_string(&row.workload),
            json_number(row.engine_rps),
            json_string(&row.peer),
            json_number(row.peer_rps),
            json_number(row.ratio()),
            json_string(row.kind),
            json_string(&row.engine),
            json_string(&row.target.text()),
            json_bool(met),
            json_string(&row.note),
        );
    } else {
        let verdict = match met {
            Some(true) => "MET",
            Some(false) => "NOT MET",
            None => "",
        };
        println!(
            "{:<25} {:>9} {:<21} {:>9} {:>7.2}  {:<26} {:<7} {}",
            row.workload,
            mrps(row.engine_rps),
            row.peer,
            mrps(row.peer_rps),
            row.ratio(),
            row.target.text(),
            verdict,
            row.note,
        );
    }
}

fn spread(measured: &Measured) -> String {
    format!("{}-{}", mrps(measured.min_rps), mrps(measured.max_rps))
}

/// Entry point of `idemlog bench`.
pub(crate) fn run(args: &[String]) -> ExitCode {
    let options = match super::options_or_exit("bench", HELP, parse(args)) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let (round, reps) = if options.quick {
        (Duration::from_millis(40), 3)
    } else {
        (Duration::from_millis(200), 7)
    };
    let started = Instant::now();
    let selected = |id: &str| options.only.as_deref().is_none_or(|only| id.contains(only));
    if let Some(records) = options.profile {
        for group in groups() {
            if let Some((id, ..)) = group.peers.iter().find(|(id, ..)| selected(id)) {
                let mut runner = (group.engine)();
                let records = records.div_ceil(runner.unit()) * runner.unit();
                let elapsed = runner.run(records);
                println!(
                    "{id}: engine {records} records in {elapsed:?} ({} M/s)",
                    mrps(records as f64 / elapsed.as_secs_f64())
                );
            }
        }
        return ExitCode::SUCCESS;
    }

    // Memory first: the resident-set growth is exact only before anything has
    // freed memory back to the allocator.
    let memory_records = 1 << 20;
    let log_bytes = benchkit::log_bytes_per_record(memory_records, 64);
    let window = LogConfig::default().dedup_window_len();
    let state_bytes = ProducerStateStats::bytes_per_entry(window);

    if !options.json {
        println!(
            "idemlog bench{}: medians of {reps} interleaved rounds of ~{} ms each; M/s = million records/s",
            if options.quick { " --quick" } else { "" },
            round.as_millis()
        );
        println!(
            "{:<25} {:>9} {:<21} {:>9} {:>7}  {:<26} {:<7} note",
            "workload", "engine", "peer", "peer", "ratio", "target", "met"
        );
    }

    let mut engine_rates: Vec<(String, f64)> = Vec::new();
    let mut all_met = true;
    for group in groups() {
        if !group.peers.iter().any(|(id, ..)| selected(id)) {
            continue;
        }
        let mut runners: Vec<Box<dyn Runner>> = vec![(group.engine)()];
        runners.extend(group.peers.iter().map(|(_, _, build, _)| build()));
        let measured = benchkit::interleave(&mut runners, round, reps);
        drop(runners);
        let engine = measured[0];
        for ((id, peer, _, target), peer_measured) in group.peers.iter().zip(&measured[1..]) {
            if !engine_rates.iter().any(|(known, _)| known == id) {
                engine_rates.push((id.to_string(), engine.rps));
            }
            let row = Row {
                kind: "target",
                workload: id.to_string(),
                engine: group.engine_label.to_string(),
                engine_rps: engine.rps,
                peer: peer.to_string(),
                peer_rps: peer_measured.rps,
                target: *target,
                note: format!(
                    "range M/s engine {} peer {}; engine faults/Mrec {:.0}",
                    spread(&engine),
                    spread(peer_measured),
                    engine.faults_per_million
                ),
            };
            if row.target.met(row.engine_rps, row.ratio()) == Some(false) {
                all_met = false;
            }
            print_row(&row, options.json);
        }
    }

    // Calibration ceilings, interleaved among themselves.
    let calibrations: Vec<(Calibration, &str)> = calibrations()
        .into_iter()
        .filter(|(_, id)| engine_rates.iter().any(|(known, _)| known == id))
        .collect();
    if !calibrations.is_empty() {
        if !options.json {
            println!("-- calibration ceilings (ratio = engine as a fraction of the ceiling)");
        }
        let mut runners: Vec<Box<dyn Runner>> = calibrations
            .iter()
            .map(|(calibration, _)| calibration.runner())
            .collect();
        let measured = benchkit::interleave(&mut runners, round, reps);
        drop(runners);
        for ((calibration, id), ceiling) in calibrations.iter().zip(measured) {
            let engine_rps = engine_rates
                .iter()
                .find(|(known, _)| known == id)
                .map_or(f64::NAN, |(_, rps)| *rps);
            let row = Row {
                kind: "calibration",
                workload: id.to_string(),
                engine: "idemlog".to_string(),
                engine_rps,
                peer: calibration.name(),
                peer_rps: ceiling.rps,
                target: INFO,
                note: format!(
                    "engine = {:.1}% of the ceiling; ceiling range {}",
                    100.0 * engine_rps / ceiling.rps,
                    spread(&ceiling)
                ),
            };
            print_row(&row, options.json);
        }
    }

    // Memory figures.
    let memory = [
        (
            "memory-log-bytes-per-record",
            log_bytes,
            96.0,
            format!(
                "resident-set growth over {memory_records} idempotent 64 B records with heap-free payloads, / records"
            ),
        ),
        (
            "memory-producer-state-bytes",
            state_bytes as f64,
            512.0,
            format!("ProducerStateStats::bytes_per_entry({window}) per (pid, partition)"),
        ),
    ];
    if !options.json {
        println!("-- memory");
    }
    for (id, value, max, how) in memory {
        let met = value <= max;
        all_met &= met;
        if options.json {
            println!(
                "{{\"workload\": {}, \"engine_rps\": null, \"peer\": null, \"peer_rps\": null, \"ratio\": null, \"kind\": \"memory\", \"bytes\": {}, \"target\": {}, \"met\": {}, \"note\": {}}}",
                json_string(id),
                json_number(value),
                json_string(&format!("<= {max} B")),
                json_bool(Some(met)),
                json_string(&how)
            );
        } else {
            println!(
                "{:<29} {:>8.1} B   target <= {max} B   {:<7} {how}",
                id,
                value,
                if met { "MET" } else { "NOT MET" }
            );
        }
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
        let options = parse(&args(&["--quick", "--json", "--only", "append"]))
            .expect("valid")
            .expect("not help");
        assert!(options.quick && options.json);
        assert_eq!(options.only.as_deref(), Some("append"));
        assert!(parse(&args(&["--help"])).expect("valid").is_none());
        assert!(parse(&args(&["--only"])).is_err());
        assert!(parse(&args(&["--profile", "x"])).is_err());
        assert!(parse(&args(&["--fast"])).is_err());
    }

    #[test]
    fn json_is_escaped_and_finite() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
        assert_eq!(json_number(f64::NAN), "null");
        assert_eq!(json_number(1.5), "1.5000");
    }

    #[test]
    fn targets_judge_ratio_and_rate() {
        let both = Target {
            min_ratio: Some(2.0),
            min_rps: Some(100.0),
        };
        assert_eq!(both.met(150.0, 2.5), Some(true));
        assert_eq!(both.met(50.0, 2.5), Some(false));
        assert_eq!(both.met(150.0, 1.5), Some(false));
        assert_eq!(INFO.met(1.0, 1.0), None);
    }

    #[test]
    fn every_benchmarks_md_target_has_a_row() {
        let ids: Vec<&str> = groups()
            .iter()
            .flat_map(|group| group.peers.iter().map(|peer| peer.0))
            .collect();
        for id in [
            "append-own-p2-64B-b64",
            "append-shared-p2-64B-b1",
            "append-p1-64B-b1",
            "produce-e2e-t2-64B",
            "idempotence-b16",
            "idempotence-b1",
            "consume-scan",
        ] {
            assert!(ids.contains(&id), "{id} missing");
        }
    }
}
