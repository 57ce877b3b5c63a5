//! The bench harness: the workloads of the benchmark targets (benches/support/targets.rs), the engine's and
//! its peers', shared by the criterion groups (`benches/*.rs`, as `mod
//! support;`) and the `idemlog bench` command (src/bin/idemlog/main.rs, by
//! `#[path]`), so both measure exactly the same code. The library ships none of
//! it.
//!
//! # Method: the fairness rules
//! - **Persistent threads, released by a barrier** ([`crew`]): a runner's
//!   threads are spawned once and parked between rounds; each worker times its
//!   own share, a round is first start to last end. Nothing is spawned inside
//!   the timing. Every append outcome, message and record seen is
//!   `std::hint::black_box`ed.
//! - **Same retained data** ([`RETAINED_RECORDS`] per engine partition): the
//!   engine's topic retains that many records, the `mutex-vec` peer keeps a
//!   ring of as many per partition, the naive prototype a ring of as many
//!   slots, the disruptor a ring of as many slots per engine partition; each
//!   overwrites its oldest record, never "clears when full". Every storing
//!   runner appends [`PREFILL_LAPS`] laps of it before its first timed round,
//!   so rounds run in steady state (inline eviction, reused memory, almost no
//!   page faults, a working set larger than the cache).
//! - **Same payload handling, two flavours** ([`shape::Flavour`],
//!   [`payload`]): `borrowed` (the application's reusable buffer; the engine
//!   gets `idemlog::RecordRef`s and copies them in, the naive prototype and the
//!   disruptor copy into their slots, the channel and `mutex-vec` need owned
//!   messages and pay a `Bytes::copy_from_slice` per record) and `owned` (a
//!   fresh `Vec<u8>` per record, allocated and freed on every side). No static
//!   payloads.
//! - **Overwrites drop**: the `mutex-vec` ring and an owned disruptor slot drop
//!   the record they overwrite; the engine and the naive prototype copy bytes
//!   in, so an overwrite has nothing to drop.
//! - **Two-thread rounds are checked** ([`measure`]): process CPU time / wall
//!   time is recorded per round and a round of a runner with two busy threads
//!   below [`measure::MIN_CPU_PER_WALL`] is discarded (and counted): the second
//!   vCPU was taken by someone else. Limits are measured the same way.
//! - **Never more busy-spinning threads than cores** (2): producers and
//!   spinning workers are at most two; the third thread of a queue peer (the
//!   channel's receiver, the disruptor's poller) blocks or sleeps when it has
//!   caught up, and a disruptor producer facing a full ring yields.
//!
//! Peers ([`channel`], [`disruptor`], [`mutex_vec`]) and limits ([`naive`],
//! [`limits`]) are named in [`workloads`]; [`targets`] is the benchmark
//! target table; [`report`] prints its rows; [`memory`] measures the resident
//! set; [`consume_tail`] is the consumer-group pipeline with its channel peer,
//! whose latencies [`latency`] counts; single-thread costs are counted in
//! instructions by `benches/callgrind.sh`.
//!
//! # Running
//! ```text
//! cargo run --release -- bench [--quick] [--json]  # the targets, ~1 min (--quick ~15 s)
//! bash benches/callgrind.sh [WORKLOAD]             # instructions per record
//! IDEMLOG_BENCH_QUICK=1 cargo bench                # every criterion group, short
//! cargo bench --bench append -- 'p2-own-64B-b64'   # criterion's name filter
//! ```
//! Criterion groups: `append/direct` (sizes x batches x producer layouts,
//! borrowed, against every append peer), `append/owned`, `append/idempotence`,
//! `produce/end-to-end`, `consume/scan`, `consume/tail`, `consume/tail-group`
//! (the `consume-tail` pipelines, [`consume_tail`]; latency only in
//! `idemlog bench`); each reports
//! `Throughput::Elements` (records), one criterion iteration being one
//! [`crew::Runner::unit`] of records.

pub(crate) mod channel;
pub(crate) mod consume_tail;
pub(crate) mod crew;
pub(crate) mod disruptor;
pub(crate) mod engine;
pub(crate) mod latency;
pub(crate) mod limits;
pub(crate) mod measure;
pub(crate) mod memory;
pub(crate) mod mutex_vec;
pub(crate) mod naive;
pub(crate) mod payload;
pub(crate) mod process;
pub(crate) mod produce;
pub(crate) mod report;
pub(crate) mod shape;
pub(crate) mod targets;
pub(crate) mod throttle;
pub(crate) mod workloads;

/// Records each engine partition retains (and each storing peer keeps): 1 Mi
/// records, several times the last-level cache of the reference VM.
pub(crate) const RETAINED_RECORDS: u64 = 1 << 20;

/// Laps of [`RETAINED_RECORDS`] appended before the first timed round.
pub(crate) const PREFILL_LAPS: u64 = 2;

/// Records a consumer asks for per poll.
pub(crate) const POLL_MAX: usize = 1024;

/// Records filled into a partition for the scan workloads.
pub(crate) const SCAN_RECORDS: u64 = 1 << 20;

/// The topic every engine workload uses.
pub(crate) const TOPIC: &str = "bench";
