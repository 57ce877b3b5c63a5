//! The behaviour contract: what the log and the producer promise. Documentation
//! only; this module holds no code.
//!
//! The contract follows Apache Kafka's idempotent producer (KIP-98 and the later
//! fixes KIP-360 and KIP-854) wherever Kafka has a rule, so that a user who knows
//! Kafka can predict every answer. Where idemlog differs from Kafka, the difference
//! is named where the rule stands (marked **Differs from Kafka**), gathered again in
//! [Differences from Kafka](#differences-from-kafka), and named in the rustdoc of
//! the type concerned.
//!
//! The broker rules and the public scenarios are numbered, and the numbers are
//! stable: tests, fuzzers and the rustdoc cite them as "contract rule 4" or
//! "contract scenario 5". How the rules are made atomic without a lock (the
//! memory-ordering protocol and its invariants I1..I9) is in
//! [`crate::implementation`], not here.
//!
//! **Status.** Everything from [Words](#words) to
//! [Public scenarios](#public-scenarios) is built and tested. The sections under
//! [Additions (v2)](#additions-v2) are the next version of the contract: each item
//! there says whether it is built, partly built, or **v2, in progress** (not built
//! yet: today's behaviour is described instead, and nothing in this module claims
//! the item).
//!
//! # Words
//!
//! - **Log**: the in-process broker, a [`Log`]. It owns topics; a topic owns a
//!   fixed number of partitions ([`Log::create_topic`]).
//! - **Partition**: an append-only sequence of records. Offsets are dense (0, 1,
//!   2, ...) and are allocated atomically by the partition; a consumer
//!   ([`Consumer`]) sees records in offset order. Everything below the
//!   [high watermark](crate::PartitionHandle::high_watermark) is readable.
//! - **Producer id (pid)** and **epoch**: handed out by the log in a handshake,
//!   [`Log::init_producer_id`] (Kafka's `InitProducerId`), as a
//!   [`ProducerIdentity`] at epoch 0. Every pid ([`ProducerId`]) is unique for the
//!   life of the log, never reused. Epochs run 0..=32767 ([`MAX_EPOCH`], Kafka's
//!   `i16` range).
//! - **Sequence**: per (pid, epoch, partition), starts at 0, advances by one per
//!   *record*, and wraps from 2147483647 (`i32::MAX`) to 0. A batch of n records
//!   with base sequence s ([`BatchHeader::base_sequence`]) covers s ..= s+n-1
//!   (modulo the wrap).
//! - **Dedup window**: per (partition, pid), the metadata of the last W appended
//!   batches ([`BatchMetadata`]: first sequence, last sequence, base offset,
//!   append timestamp). W defaults to 5 like Kafka and is configurable with
//!   [`LogConfig::dedup_window`] (1..=1024). **Differs from Kafka**: Kafka's
//!   window is fixed at 5.
//!
//! # Broker rules
//!
//! For one idempotent batch (pid, epoch, base_seq, n records), that is a batch
//! sent with a [`BatchHeader`] through [`Log::append`], [`Log::produce`],
//! [`PartitionHandle::append`] or [`ProducerAppender::append`]. The rules are
//! checked in this order, and **a rejected batch changes nothing at all**: no
//! record, no offset, no producer state (not even the empty state entry a
//! producer's first batch would have created). An unknown topic or partition
//! ([`LogError::UnknownTopic`], [`LogError::UnknownPartition`]) is answered
//! before any rule.
//!
//! 1. **Malformed** -> a clear error naming the problem:
//!
//!    | problem | error |
//!    |---|---|
//!    | n = 0 | [`LogError::EmptyBatch`] |
//!    | negative base sequence | [`LogError::InvalidSequence`] |
//!    | pid never issued by this log | [`LogError::UnknownProducerId`] |
//!    | n larger than the configured max batch ([`LogConfig::max_batch_records`]) | [`LogError::BatchTooLarge`] |
//!    | epoch above 32767 | [`LogError::InvalidEpoch`] |
//!
//!    The rule does not order these problems among themselves: when several
//!    apply, the log may name any one of them. The last row has no Kafka
//!    counterpart: the epoch is a `u16` here, so it can carry values Kafka's
//!    `i16` cannot (**differs from Kafka**).
//! 2. **Duplicate**: same epoch, and a batch in the window has exactly this
//!    first and last sequence -> success flagged
//!    [duplicate](crate::AppendOutcome::duplicate), returning the ORIGINAL base offset
//!    and timestamp; nothing is appended; the payload is not compared. (A
//!    duplicate commits nothing, so it does not refresh the state's last-append
//!    time either.)
//! 3. **Fenced**: epoch lower than the partition's current epoch for this pid ->
//!    [`LogError::InvalidProducerEpoch`] (Kafka's `InvalidProducerEpoch`), even
//!    for an exact copy of a batch of the older epoch (scenario 4).
//! 4. **Sequence**:
//!    - epoch higher than the current one: base_seq must be 0, else
//!      [`LogError::OutOfOrderSequence`] `{ expected: 0, got }`; accepted -> the
//!      window is cleared and the new epoch recorded. Epochs may jump (0 -> 3).
//!    - same epoch: base_seq must equal last_seq + 1 (or 0 after `i32::MAX`),
//!      else [`LogError::OutOfOrderSequence`] `{ expected, got }`. A duplicate
//!      older than the window, or a retry re-split into different batch
//!      boundaries, is `OutOfOrderSequence` too.
//!    - no state for this pid on this partition (its first batch ever, or its
//!      state expired): any base sequence and epoch is accepted, as in
//!      Kafka >= 2.5 (KIP-360).
//! 5. **Commit**: offsets base ..= base+n-1 are allocated atomically, the batch
//!    metadata is pushed into the window (the oldest evicted), and the state's
//!    last-append time is set to the batch's log-append time. The answer is an
//!    [`AppendOutcome`]. If the partition cannot hold n more records, the batch
//!    is rejected with [`LogError::PartitionFull`] instead and changes nothing
//!    (an implementation limit, not a Kafka rule; it is checked after rules 2-4,
//!    so a duplicate is still answered on a full partition).
//!
//! Non-idempotent batches (no header) are never deduplicated: they are checked
//! for the header-free problems of rule 1 and committed as in rule 5.
//!
//! [`PartitionHandle::producer`] caches a producer's state on a partition for
//! repeated appends; the rules are the same. The reference model (test support in
//! `tests/support/model.rs`, not part of the library) states rules 1-5 as one plain
//! `if` chain, and the proptest and the `log_model` fuzz target compare the real log
//! with it.
//!
//! # Producer state: survival and expiry
//!
//! - Producer state is NOT dropped when retention deletes the records it
//!   describes (the lesson of KAFKA-7190): a duplicate of an evicted batch still
//!   returns its original offset.
//! - Producer state expires only after [`LogConfig::producer_id_expiration`] of
//!   inactivity (default 1 day, like Kafka's `producer.id.expiration.ms`,
//!   KIP-854), measured on the engine's own clock ([`LogConfig::clock`]) from the
//!   last commit (rule 5), with the boundary `now - last >= expiration`. A state
//!   past that boundary counts as no state at once (rule 4), even before a sweep
//!   ([`Log::expire_producers`]) has freed it.
//! - After expiry any sequence is accepted again, so **a very late retry can
//!   then duplicate**: it is appended as new data.
//! - Producer-state memory is bounded and reported: [`Log::producer_state_stats`]
//!   gives a [`ProducerStateStats`] (entries, bytes). There is one entry per
//!   (partition, pid) that committed a batch there, of
//!   [`ProducerStateStats::bytes_per_entry`] bytes plus its hash-table slot; an
//!   expired entry is freed by the next sweep, or reused as a fresh
//!   state by that producer's next append there; entries are capped (see
//!   [Memory](#memory)).
//!
//! **Differs from Kafka**: Kafka counts inactivity from the batch's max timestamp
//! and removes expired state on a periodic check
//! (`producer.id.expiration.check.interval.ms`), so until that check runs an
//! expired state still deduplicates; idemlog counts from its own log-append time
//! and its boundary is exact.
//!
//! # Producer client
//!
//! The Kafka-like API over the log is [`Producer`]. Application threads call
//! [`Producer::send`] (or [`Producer::send_with_callback`]); records go into
//! per-partition batches (the accumulator); one dedicated flusher thread per
//! producer (Kafka's I/O "Sender" thread) drains ready batches, stamps the
//! sequence at drain time (never re-stamped on retry), sends them to the log
//! through a link that can inject faults ([`LinkConfig`], [`Fault`]), and
//! completes each record's [`DeliveryHandle`] with (partition, offset) as a
//! [`RecordMetadata`], or an error ([`ProducerError`]).
//!
//! ## Settings
//!
//! [`ProducerConfig`] takes Kafka's own keys ([`ProducerConfig::set`],
//! [`ProducerConfig::from_properties`]; the list is [`KEYS`], in this order) or
//! the typed setters, with Kafka's defaults:
//!
//! | setting | Kafka key | default | typed setter |
//! |---|---|---|---|
//! | idempotence | `enable.idempotence` | true | [`enable_idempotence`](crate::producer::ProducerConfig::enable_idempotence) |
//! | acks | `acks` (0, 1, all/-1) | all | [`acks`](crate::producer::ProducerConfig::acks) ([`Acks`]) |
//! | retries | `retries` | 2147483647 | [`retries`](crate::producer::ProducerConfig::retries) |
//! | in-flight batches per partition | `max.in.flight.requests.per.connection` | 5 | [`max_in_flight`](crate::producer::ProducerConfig::max_in_flight) |
//! | delivery timeout | `delivery.timeout.ms` | 120000 | [`delivery_timeout_ms`](crate::producer::ProducerConfig::delivery_timeout_ms) |
//! | request timeout | `request.timeout.ms` | 30000 | [`request_timeout_ms`](crate::producer::ProducerConfig::request_timeout_ms) |
//! | linger | `linger.ms` | 5 | [`linger_ms`](crate::producer::ProducerConfig::linger_ms) |
//! | batch size | `batch.size` (bytes) | 16384 | [`batch_size`](crate::producer::ProducerConfig::batch_size) |
//! | retry backoff | `retry.backoff.ms` | 100 | [`retry_backoff_ms`](crate::producer::ProducerConfig::retry_backoff_ms) |
//! | buffer memory (send blocks when full) | `buffer.memory` | 33554432 | [`buffer_memory`](crate::producer::ProducerConfig::buffer_memory) |
//! | max block | `max.block.ms` | 60000 | [`max_block_ms`](crate::producer::ProducerConfig::max_block_ms) |
//!
//! Two more settings have no Kafka key: the fault injection
//! ([`ProducerConfig::link`]) and the producer's clock, real or virtual
//! ([`ProducerConfig::time`], [`TimeSource`]).
//!
//! **Differs from Kafka**: `acks=1` and `acks=all` behave alike (the log is one
//! in-process replica); the in-flight bound counts unacknowledged batches per
//! partition; `batch.size` and `buffer.memory` count the log's record format
//! (8 bytes of lengths + key + value per record), and `buffer.memory` is taken
//! per batch (`batch.size`, or one record's size if larger), as Kafka's
//! `BufferPool` does;
//! `max.block.ms` and the timeout of [`Producer::close`] are real time, while
//! the other timers follow the [`TimeSource`].
//!
//! ## Validation
//!
//! As in Kafka ([`ProducerConfig::resolve`], run by [`Producer::new`]):
//!
//! - Idempotence requires `acks=all`, `retries > 0` and in-flight <= the log's
//!   dedup window. If the user set idempotence explicitly, a conflict is a
//!   configuration error ([`ConfigError::Conflict`] naming
//!   `enable.idempotence`); if not, idempotence is silently turned off, and the
//!   effective config ([`Producer::config`],
//!   [`ProducerConfig::idempotence_setting`]) says so. **Differs from Kafka**:
//!   the in-flight bound is the log's configurable window, where Kafka's is 5.
//! - `delivery.timeout.ms` >= `linger.ms` + `request.timeout.ms`: set
//!   explicitly, a smaller value is an error ([`ConfigError::Conflict`] naming
//!   `delivery.timeout.ms`); left unset, it is raised to that sum, as Kafka
//!   does.
//! - Unknown keys and unparsable values are errors that name the key
//!   ([`ConfigError::UnknownKey`], [`ConfigError::InvalidValue`]); a number
//!   too large for its key is "out of range". Keys and values are trimmed.
//! - The Java client's other keys are accepted and ignored where they change
//!   nothing in process ([`ProducerConfig::IGNORED_KEYS`]: `client.id`, the
//!   serializers, `compression.type`, network, metadata and security
//!   settings, ...), and are an error naming the key where idemlog cannot
//!   honour them ([`ProducerConfig::UNSUPPORTED_KEYS`], [`ConfigError::Unsupported`]:
//!   `transactional.id`, `partitioner.class`, ...). `bootstrap.servers` names
//!   a Kafka cluster: with the `kafka` feature it selects the Kafka backend
//!   (`Cluster::from_properties`; the ignored keys librdkafka shares are then
//!   passed to it), without it the key is unsupported.
//!
//! ## Delivery semantics
//!
//! The demo (`cargo run --release`) shows each mode under injected faults:
//!
//! | mode | config | lost request | lost response (ack) |
//! |---|---|---|---|
//! | at-most-once | `acks=1`, `retries=0` ([`ProducerConfig::at_most_once`]) | record lost, error reported | record in the log once, error reported |
//! | fire-and-forget | `acks=0` | record lost, success reported (offset unknown) | n/a |
//! | at-least-once | idempotence off, `retries > 0` ([`ProducerConfig::at_least_once`]) | retried, no loss | retried: DUPLICATE in the log |
//! | exactly-once (idempotent) | the defaults ([`ProducerConfig::exactly_once`]) | retried, no loss | retried: deduplicated, original offset returned ([`RecordMetadata::duplicate`]) |
//!
//! Even with idempotence, duplicates still come from the application re-sending
//! a record itself, from a new producer (new pid) re-sending, and from state
//! expiry before a retry (see [expiry](#producer-state-survival-and-expiry)). The
//! docs and the demo say so (the demo's `exactly-once+resend` row).
//!
//! ## Ordering under retries
//!
//! Idempotent: per-partition order equals send order even with 5 batches in
//! flight: a batch that arrives after a lost one gets `OutOfOrderSequence`
//! (rule 4) and is retried after it, in sequence order. Without idempotence and
//! with more than one batch in flight, a retry can land after a later batch
//! (reordering): the demo shows it.
//!
//! In every mode, as Kafka promises, the records sent to one partition
//! complete (callbacks run, handles finish) in send order, even where the
//! log's order differs: a batch acknowledged, or failed, while an earlier
//! batch of its partition still waits for an answer (a lost response, a
//! retriable refusal) completes right after that one does, successfully or
//! not (tests/producer_delivery.rs, per sending thread over random faults in
//! tests/producer_stress.rs, and in every mode in the `producer_faults` fuzz
//! target).
//!
//! ## Failures handled like Kafka's
//!
//! - `OutOfOrderSequence` caused by an earlier failed batch: plain retry in
//!   sequence order.
//! - `OutOfOrderSequence` for the next expected batch, or a delivery timeout
//!   that leaves the sequence unresolved: the producer bumps its epoch locally
//!   (sequences restart at 0 for each partition, lazily for idle ones), and at
//!   epoch 32767 asks the log for a new pid ([`Log::init_producer_id`]).
//! - A delivery timeout ([`ProducerError::DeliveryTimeout`]) means "not known",
//!   not "not written"; so does a request timeout with no retry left
//!   ([`ProducerError::RequestTimeout`]) and a close that abandoned an
//!   in-flight request ([`ProducerError::Abandoned`]);
//!   [`ProducerError::may_be_in_log`] says which errors these are. A failed
//!   delivery hands its record back ([`DeliveryError::record`]).
//! - A delivery timeout names the log's last refusal of the record's batch as
//!   its cause (`last_error`, also its `source()`: e.g. [`LogError::LogFull`]
//!   while the memory budget stays full, [`LogError::Unavailable`]), as Kafka's
//!   client reports the last error. It says `not_written` (and
//!   [`ProducerError::may_be_in_log`] is false) only when that is certain: the
//!   batch was never sent, or every attempt of it was answered with a refusal
//!   (a refused append writes nothing). One attempt without an answer (a lost
//!   request or response, a request still awaited at the timeout) leaves the
//!   outcome unknown, whatever the later attempts were answered. The same
//!   holds when the retries run out, or the log refuses the batch for good,
//!   after such an attempt: the error is then
//!   [`ProducerError::Unresolved`] (the log's last answer as its cause), not
//!   the plain refusal (tests/producer_delivery.rs).
//!
//! **Differs from Kafka**: after an epoch bump the batches of the partition
//! whose sequence was unresolved are re-sequenced and retried (as Kafka does for
//! its in-flight batches), including one the log rejected as out of order, which
//! Kafka would fail.
//!
//! # Public scenarios
//!
//! The test suite contains at least these. Notation:
//! append(pid, epoch, base_seq, n) -> OK at offsets a..b | DUP a..b | OOSE | FENCED,
//! on one partition of a fresh log.
//!
//! 1. **Chain**: (P,0,0,3) OK 0..2; (P,0,3,2) OK 3..4.
//! 2. **Lost ack**: (P,0,0,3) OK 0..2; the same batch again -> DUP 0..2;
//!    (P,0,3,1) OK 3.
//! 3. **Gap**: (P,0,0,1) OK 0; (P,0,2,1) OOSE; (P,0,1,1) OK 1.
//! 4. **Fencing**: (P,1,0,1) OK 0; (P,0,1,1) FENCED; (P,0,0,1) FENCED (not DUP).
//! 5. **Window**: five single-record batches 0..4, then retries of 0 and 4 ->
//!    DUP 0, DUP 4; a sixth batch, then a retry of seq 0 -> OOSE.
//! 6. **Wrap**: base `i32::MAX - 1` with 3 records OK; the next batch must start
//!    at 1.
//! 7. **Two producers** interleaved on one partition each keep their own chain
//!    and window.
//! 8. **Faults end to end**: under injected response loss, exactly-once mode ends
//!    with every acknowledged record in the log once, in send order per
//!    partition; at-least-once shows duplicates; at-most-once shows loss.
//!
//! Scenarios 1-7 are `tests/scenarios.rs` (`scenario_N_...`). Scenario 8 is
//! `tests/producer_delivery.rs` (one scripted fault at a time, exact log
//! contents), `tests/producer_stress.rs` (random faults over many seeds), the
//! `producer_faults` fuzz target, and the demo (`tests/producer_demo.rs` runs it
//! and checks its exit status).
//!
//! # Additions (v2)
//!
//! ## Where the contract lives
//!
//! Built: this module is the contract the product carries. The rustdoc, the
//! README and the tests cite it (as `idemlog::contract`, src/contract.rs); no
//! product file cites a document that is not in the repository.
//!
//! ## Liveness and resolution under faults
//!
//! As Kafka's client:
//!
//! - A fresh idempotent producer whose first batches all lose their first
//!   response still delivers every one of them exactly once within
//!   `delivery.timeout.ms` with Kafka's default timeouts, as Kafka's client does
//!   with 5 in flight. *Built*: a fresh producer sends up to the in-flight
//!   bound from its first batch (tests/producer_delivery.rs, five records whose
//!   first responses are all lost). The first-batch safety argument
//!   ([P7](crate::implementation)): a log with no state for the producer
//!   accepts any sequence (rule 4), but the transport keeps send order, so a
//!   later batch reaches the log only after the earlier ones. The one case
//!   where a later batch does reach a log with no state first is a retriable
//!   error response to the first batches (nothing written) while later batches
//!   are in flight: the log accepts them, the refused batches' retries are out
//!   of order, their sequence is reset under a new epoch (after the batches of
//!   unknown outcome were settled under the old one) and they land after them.
//!   No record is lost or duplicated; the refused batches ahead of the first
//!   accepted one are out of send order (Kafka's client fails them instead;
//!   tested).
//! - The link models a connection: a lost request breaks it (the requests sent
//!   after it on that connection are lost too until the producer reconnects),
//!   so in-flight order holds; a retriable error response rejects one batch
//!   alone. *Built* ([`sim`](crate::producer::sim)): [`Fault::DropRequest`]
//!   breaks the connection until the flusher's next request timeout (at once
//!   with `acks=0`), when it reconnects and every request on the old
//!   connection is retried in order; [`Fault::Delay`] holds back the requests
//!   behind it; [`Fault::RetriableError`] refuses one batch.
//! - A batch that times out while a LATER batch of the same partition was
//!   acknowledged is resolved without an epoch bump (Kafka's `isNextSequence`
//!   rule): its sequence is known to be written. *Built* and tested
//!   (tests/producer_liveness.rs).
//! - `delivery.timeout.ms` not set by the user and smaller than
//!   `linger.ms + request.timeout.ms` is raised to that sum (Kafka warns and
//!   raises); set explicitly, it is an error. *Built* (tests/producer_config.rs).
//! - Errors say whether the record may be in the log: a timeout or a close that
//!   abandoned an in-flight request means "not known", never "not written".
//!   *Built*: [`ProducerError::may_be_in_log`]; a close that times out fails
//!   the records it never sent, or whose every attempt the log refused, with
//!   [`ProducerError::Closed`] (certainly not in the log) and those whose
//!   request was in flight or went unanswered with
//!   [`ProducerError::Abandoned`].
//!
//! ## Memory
//!
//! - The log has a memory budget, bounded by default, covering segments,
//!   directories and producer state, and reports what it uses (within 10% of the
//!   resident set it causes). *Built*: [`LogConfig::memory_budget`] (default
//!   [`DEFAULT_MEMORY_BUDGET`](crate::DEFAULT_MEMORY_BUDGET), 1 GiB) is charged
//!   for segment memory (pooled segments included), each partition (its
//!   directory and fixed structures; tests/partition_memory.rs holds the
//!   charge within 10% of the resident set), each producer state and each
//!   consumer group and committed offset (tests/group_memory.rs: within 15%)
//!   before they are allocated, and [`Log::memory_usage`]
//!   reports it; a partition also holds at most [`LogConfig::max_segments`]
//!   segments ([`LogError::PartitionFull`]). [`Log::producer_state_stats`]
//!   reports the states as allocated plus their hash tables (measured within 1%
//!   of the resident set, `idemlog bench`).
//! - When the budget is full, retention runs first; then [`Producer::send`]
//!   blocks up to `max.block.ms` and a direct append returns a clear error.
//!   Nothing aborts the process. *Partly built*: a direct append that needs a
//!   segment the budget has no room for runs retention once, then answers
//!   [`LogError::LogFull`]. The producer retries `LogFull` (and
//!   `PartitionFull`) after its backoff until the delivery timeout, so its
//!   batches wait in `buffer.memory`; once that is full, `send` blocks up to
//!   `max.block.ms` and fails with [`ProducerError::BufferExhausted`], handing
//!   the record back ([`SendError::record`]) (tests/producer_liveness.rs).
//! - Retention by age and producer-state expiry run by themselves (a background
//!   housekeeper or on the append path), not only when the user calls a sweep;
//!   sweeps stay available. *Built*: retention ([`RetentionPolicy`]: by
//!   records, bytes and age) runs on the append path whenever a batch opens a
//!   new segment, without making the appender wait, and a background
//!   housekeeper ([`LogConfig::housekeeping`], every second by default) runs
//!   retention and producer-state expiry on every partition; the sweeps
//!   [`Log::enforce_retention`], [`PartitionHandle::enforce_retention`] and
//!   [`Log::expire_producers`] stay available.
//! - A reader that holds records or is slow pins at most the segments it reads,
//!   never all memory. *Built*: readers pin the reclamation epoch only to take a
//!   reference on a segment ([`crate::implementation`], I8), never while user
//!   code runs; [`Consumer::poll_with`] lends views of the segment it reads, and
//!   an owned record ([`Consumer::poll`]) is a slice of its reference-counted
//!   segment, keeping that segment (only) alive while it lives.
//! - Producer state has a configurable cap on entries; reaching it evicts the
//!   least recently used idle state first and counts it (a later retry of an
//!   evicted producer is then accepted as new data, i.e. it can duplicate),
//!   never silently breaking a live producer's dedup. *Built*:
//!   [`LogConfig::max_producer_states`] (default 2^20); eviction marks a state
//!   dead by the same CAS as expiry, which fails on a state mid-append, and
//!   counts it in [`ProducerStateStats::evicted`].
//!
//! ## Consumers
//!
//! - A consumer may own several partitions and block until any has data.
//!   *Built*: a [`MultiConsumer`] ([`Log::multi_consumer`], `assign`) reads
//!   partitions of any topics in a fair order (each poll starts one partition
//!   further) and its blocking polls wait on all of them (one waker registered on
//!   each, I6); [`WakeupHandle::wakeup`] interrupts a blocked read from another
//!   thread ([`ConsumerError::Woken`]), and with the feature `async` a pending
//!   async wait (`readable()`, a record stream's `next()`) the same way. The one-partition [`Consumer`] stays, as
//!   the log-level reader. Both have zero-copy blocking reads (`poll_with_timeout`),
//!   visitors that stop early ([`VisitFlow`]), `recv_timeout` and iterators.
//! - Consumer groups: members join and leave; partitions are assigned among live
//!   members (range and round-robin at least); a rebalance hands a partition
//!   over at its committed offset, so a record is processed by one member of the
//!   group at a time (at-least-once across a crash of a member between
//!   processing and commit, as in Kafka). *Built*: [`Log::subscribe`] joins; the
//!   range, round-robin and sticky assignors ([`Assignor`]); a rebalance on join,
//!   leave (`close` or drop) and on a member that does not poll within
//!   `max.poll.interval.ms`; a partition moves only after its owner's poll revoked
//!   it ([`Rebalance::Revoked`], the commit chance) and is read from the committed
//!   offset (G1-G4 in [`crate::implementation`]); commits are checked against
//!   ownership (`commit`, `commit_offsets`, `commit_async`). A member that stops
//!   polling is expired by the log's housekeeper too, so a member blocked in a
//!   poll takes over within `max.poll.interval.ms` plus the housekeeping
//!   interval. A group lives while it has members, and then keeps its committed
//!   offsets for [`LogConfig::offsets_retention`] (7 days, Kafka's
//!   `offsets.retention.minutes`); a group with no member and nothing committed
//!   is gone at once; groups and offsets are charged to the memory budget (G5).
//!   Differences from
//!   Kafka: the hand-over is incremental (a member keeps, without a pause, the
//!   partitions that stay with it, as Kafka's cooperative protocol); there are no
//!   heartbeats (liveness is polling within `max.poll.interval.ms`, and dropping
//!   the consumer); [`Log::commit_offset`] stays an unchecked administrative
//!   commit.
//! - `auto.offset.reset`: earliest, latest, or error. *Built* for the
//!   [`MultiConsumer`] ([`OffsetReset`], Kafka's default `latest`): it applies to a
//!   partition with no committed offset and to a position evicted by retention;
//!   `none` answers [`ConsumerError::NoOffset`] or
//!   [`ConsumerError::OffsetOutOfRange`] until a seek. The one-partition
//!   [`Consumer`] keeps `error` ([`LogError::OffsetOutOfRange`]).
//! - Lag: per partition, the high watermark minus the position (and minus the
//!   committed offset). *Built*: [`MultiConsumer::lag`] ([`PartitionLag`]) and
//!   [`Consumer::lag`].
//!
//! # Differences from Kafka
//!
//! Named above where each rule stands; together:
//!
//! - The dedup window is configurable ([`LogConfig::dedup_window`], 1..=1024,
//!   default 5); Kafka's is fixed at 5. The idempotent in-flight bound is that
//!   window, not 5.
//! - No state (a first batch, or an expired state) accepts any sequence and
//!   epoch (rule 4). Kafka >= 2.5 does the same; older brokers answered
//!   `UNKNOWN_PRODUCER_ID` to a sequence other than 0. Expiry counts from the
//!   log-append time on the engine's clock and stops deduplication at the exact
//!   boundary, where Kafka counts from the batch's max timestamp and keeps an
//!   expired state deduplicating until its periodic check removes it.
//! - An epoch is a `u16`, so an epoch above 32767 can be sent and is rejected
//!   ([`LogError::InvalidEpoch`]).
//! - A full partition is an error ([`LogError::PartitionFull`]), checked after
//!   rules 2-4.
//! - Answers say when a batch was a duplicate ([`AppendOutcome::duplicate`],
//!   [`RecordMetadata::duplicate`]).
//! - `acks=1` and `acks=all` behave alike (one in-process replica).
//! - `max.in.flight.requests.per.connection` counts batches per partition.
//! - `batch.size` and `buffer.memory` count the log's record format (8 bytes
//!   of lengths + key + value per record).
//! - `max.block.ms` and the timeout of [`Producer::close`] are real time; the
//!   other timers follow the producer's [`TimeSource`], which can be virtual.
//! - After an epoch bump, the unresolved partition's batches are re-sequenced
//!   and retried, including one rejected as out of order, which Kafka would
//!   fail.
//!
//! [`Log`]: crate::Log
//! [`Log::create_topic`]: crate::Log::create_topic
//! [`Log::init_producer_id`]: crate::Log::init_producer_id
//! [`Log::append`]: crate::Log::append
//! [`Log::produce`]: crate::Log::produce
//! [`Log::expire_producers`]: crate::Log::expire_producers
//! [`Log::producer_state_stats`]: crate::Log::producer_state_stats
//! [`Log::memory_usage`]: crate::Log::memory_usage
//! [`LogError::LogFull`]: crate::LogError::LogFull
//! [`LogError::Unavailable`]: crate::LogError::Unavailable
//! [`Log::enforce_retention`]: crate::Log::enforce_retention
//! [`Log::commit_offset`]: crate::Log::commit_offset
//! [`Log::committed`]: crate::Log::committed
//! [`Log::consumer_for_group`]: crate::Log::consumer_for_group
//! [`LogConfig::dedup_window`]: crate::LogConfig::dedup_window
//! [`LogConfig::max_batch_records`]: crate::LogConfig::max_batch_records
//! [`LogConfig::producer_id_expiration`]: crate::LogConfig::producer_id_expiration
//! [`LogConfig::clock`]: crate::LogConfig::clock
//! [`LogConfig::max_segments`]: crate::LogConfig::max_segments
//! [`LogConfig::memory_budget`]: crate::LogConfig::memory_budget
//! [`LogConfig::housekeeping`]: crate::LogConfig::housekeeping
//! [`LogConfig::offsets_retention`]: crate::LogConfig::offsets_retention
//! [`LogConfig::max_producer_states`]: crate::LogConfig::max_producer_states
//! [`ProducerStateStats::evicted`]: crate::ProducerStateStats::evicted
//! [`LogError::UnknownTopic`]: crate::LogError::UnknownTopic
//! [`LogError::UnknownPartition`]: crate::LogError::UnknownPartition
//! [`LogError::EmptyBatch`]: crate::LogError::EmptyBatch
//! [`LogError::InvalidSequence`]: crate::LogError::InvalidSequence
//! [`LogError::UnknownProducerId`]: crate::LogError::UnknownProducerId
//! [`LogError::BatchTooLarge`]: crate::LogError::BatchTooLarge
//! [`LogError::InvalidEpoch`]: crate::LogError::InvalidEpoch
//! [`LogError::InvalidProducerEpoch`]: crate::LogError::InvalidProducerEpoch
//! [`LogError::OutOfOrderSequence`]: crate::LogError::OutOfOrderSequence
//! [`LogError::PartitionFull`]: crate::LogError::PartitionFull
//! [`LogError::InvalidConfig`]: crate::LogError::InvalidConfig
//! [`LogError::OffsetOutOfRange`]: crate::LogError::OffsetOutOfRange
//! [`AppendOutcome`]: crate::AppendOutcome
//! [`AppendOutcome::duplicate`]: crate::AppendOutcome::duplicate
//! [`BatchHeader`]: crate::BatchHeader
//! [`BatchHeader::base_sequence`]: crate::BatchHeader::base_sequence
//! [`BatchMetadata`]: crate::BatchMetadata
//! [`ProducerId`]: crate::ProducerId
//! [`ProducerIdentity`]: crate::ProducerIdentity
//! [`ProducerStateStats`]: crate::ProducerStateStats
//! [`ProducerStateStats::bytes_per_entry`]: crate::ProducerStateStats::bytes_per_entry
//! [`MAX_EPOCH`]: crate::MAX_EPOCH
//! [`RetentionPolicy`]: crate::RetentionPolicy
//! [`PartitionHandle::append`]: crate::PartitionHandle::append
//! [`PartitionHandle::producer`]: crate::PartitionHandle::producer
//! [`PartitionHandle::high_watermark`]: crate::PartitionHandle::high_watermark
//! [`PartitionHandle::enforce_retention`]: crate::PartitionHandle::enforce_retention
//! [`ProducerAppender::append`]: crate::ProducerAppender::append
//! [`Consumer`]: crate::Consumer
//! [`Consumer::lag`]: crate::Consumer::lag
//! [`MultiConsumer`]: crate::MultiConsumer
//! [`MultiConsumer::lag`]: crate::MultiConsumer::lag
//! [`Log::multi_consumer`]: crate::Log::multi_consumer
//! [`Log::subscribe`]: crate::Log::subscribe
//! [`WakeupHandle::wakeup`]: crate::consumer::WakeupHandle::wakeup
//! [`ConsumerError::Woken`]: crate::ConsumerError::Woken
//! [`ConsumerError::NoOffset`]: crate::ConsumerError::NoOffset
//! [`ConsumerError::OffsetOutOfRange`]: crate::ConsumerError::OffsetOutOfRange
//! [`VisitFlow`]: crate::consumer::VisitFlow
//! [`Assignor`]: crate::consumer::Assignor
//! [`Rebalance::Revoked`]: crate::consumer::Rebalance::Revoked
//! [`OffsetReset`]: crate::consumer::OffsetReset
//! [`PartitionLag`]: crate::consumer::PartitionLag
//! [`Consumer::poll`]: crate::Consumer::poll
//! [`Consumer::poll_with`]: crate::Consumer::poll_with
//! [`Consumer::poll_timeout`]: crate::Consumer::poll_timeout
//! [`Consumer::commit`]: crate::Consumer::commit
//! [`Consumer::seek`]: crate::Consumer::seek
//! [`Consumer::seek_to_beginning`]: crate::Consumer::seek_to_beginning
//! [`Consumer::position`]: crate::Consumer::position
//! [`Producer`]: crate::producer::Producer
//! [`Producer::new`]: crate::producer::Producer::new
//! [`Producer::send`]: crate::producer::Producer::send
//! [`Producer::send_with_callback`]: crate::producer::Producer::send_with_callback
//! [`Producer::close`]: crate::producer::Producer::close
//! [`Producer::config`]: crate::producer::Producer::config
//! [`ProducerConfig`]: crate::producer::ProducerConfig
//! [`ProducerConfig::set`]: crate::producer::ProducerConfig::set
//! [`ProducerConfig::from_properties`]: crate::producer::ProducerConfig::from_properties
//! [`ProducerConfig::resolve`]: crate::producer::ProducerConfig::resolve
//! [`ProducerConfig::idempotence_setting`]: crate::producer::ProducerConfig::idempotence_setting
//! [`ProducerConfig::link`]: crate::producer::ProducerConfig::link
//! [`ProducerConfig::time`]: crate::producer::ProducerConfig::time
//! [`ProducerConfig::at_most_once`]: crate::producer::ProducerConfig::at_most_once
//! [`ProducerConfig::at_least_once`]: crate::producer::ProducerConfig::at_least_once
//! [`ProducerConfig::exactly_once`]: crate::producer::ProducerConfig::exactly_once
//! [`Acks`]: crate::producer::Acks
//! [`KEYS`]: crate::producer::KEYS
//! [`ConfigError::Conflict`]: crate::producer::ConfigError::Conflict
//! [`ConfigError::UnknownKey`]: crate::producer::ConfigError::UnknownKey
//! [`ConfigError::InvalidValue`]: crate::producer::ConfigError::InvalidValue
//! [`ProducerError`]: crate::producer::ProducerError
//! [`ProducerError::DeliveryTimeout`]: crate::producer::ProducerError::DeliveryTimeout
//! [`ProducerError::RequestTimeout`]: crate::producer::ProducerError::RequestTimeout
//! [`ProducerError::Unresolved`]: crate::producer::ProducerError::Unresolved
//! [`ProducerError::Closed`]: crate::producer::ProducerError::Closed
//! [`ProducerError::BufferExhausted`]: crate::producer::ProducerError::BufferExhausted
//! [`ProducerError::Log`]: crate::producer::ProducerError::Log
//! [`ProducerError::Abandoned`]: crate::producer::ProducerError::Abandoned
//! [`ProducerError::may_be_in_log`]: crate::producer::ProducerError::may_be_in_log
//! [`DeliveryError::record`]: crate::producer::DeliveryError::record
//! [`SendError::record`]: crate::producer::SendError::record
//! [`ConfigError::Unsupported`]: crate::producer::ConfigError::Unsupported
//! [`ProducerConfig::IGNORED_KEYS`]: crate::producer::ProducerConfig::IGNORED_KEYS
//! [`ProducerConfig::UNSUPPORTED_KEYS`]: crate::producer::ProducerConfig::UNSUPPORTED_KEYS
//! [`Fault::RetriableError`]: crate::producer::sim::Fault::RetriableError
//! [`DeliveryHandle`]: crate::producer::DeliveryHandle
//! [`RecordMetadata`]: crate::producer::RecordMetadata
//! [`RecordMetadata::duplicate`]: crate::producer::RecordMetadata::duplicate
//! [`LinkConfig`]: crate::producer::sim::LinkConfig
//! [`Fault`]: crate::producer::sim::Fault
//! [`Fault::Delay`]: crate::producer::sim::Fault::Delay
//! [`Fault::DropRequest`]: crate::producer::sim::Fault::DropRequest
//! [`TimeSource`]: crate::producer::TimeSource
