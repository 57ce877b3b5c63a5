//! Implementation notes: the memory-ordering protocol and the numbered
//! invariants that the code cites as I1..I12 (the log), P1..P9 (the
//! producer client) and G1..G5 (consumer groups). Documentation only.
//!
//! # The append path (src/log/partition.rs)
//!
//! ```text
//! idempotent: validate -> state word CAS to BUSY (leased: plain store, I12)
//!             -> tail CAS (offsets + units + commit slot)
//!             -> window + word (Release) -> copy the batch in -> commit word (Release)
//!             -> waiters.load (wake only if someone sleeps)
//! plain:      validate -> tail CAS -> copy in -> commit word (Release) -> waiters.load
//! ```
//! Locked instructions per idempotent batch: two (the state CAS and the tail CAS;
//! the tail's 128-bit load is a plain `vmovdqa` on Intel and AMD CPUs with AVX,
//! where both run inline: src/log/tail_cell.rs), and one, the tail CAS, when the
//! appender holds the state's lease (I12: BUSY by a plain store); per plain batch:
//! one. No
//! mutex, no channel, no allocation except when a batch opens a segment and the
//! pool is empty. Writers never pin a reclamation epoch (I7 makes it
//! unnecessary).
//!
//! # Storage layout (src/log/segment.rs, src/log/batch.rs, src/log/tail.rs)
//! A partition is a ring of `max_segments` cells; segment `n` (numbered from 1,
//! segment 0 being a virtual full one) lives in cell `n mod max_segments`. A
//! segment is a byte buffer of 8-byte units plus a commit array of one word per
//! 64 bytes. A batch is one contiguous run of units (a 40-byte header with the
//! producer fields, then per record two lengths, the key and the value), and its
//! commit word is `commits[i]` for its batch index `i` in the segment.
//!
//! # Invariants
//!
//! **I1 — producer state (src/log/producer_state.rs; the rules it applies are the pure
//! `judge` of src/log/rules.rs).** The (partition, pid) state is one
//! `AtomicU64` word: last sequence, epoch, INIT, BUSY, DEAD and a 14-bit generation.
//! Only the thread that set BUSY writes the window, its `cursor` and `last_append_ms`,
//! and it ends BUSY with one Release store of the next word (generation + 1) or of the
//! unchanged previous word (abort). BUSY is set by a CAS, or by a plain store from the
//! holder of the state's lease inside its `active` bracket (I12), whom no other writer
//! of the word can meet. A decision that appends is validated by that CAS
//! (the word, hence everything the decision read, is unchanged); the next batch in
//! sequence of an idle word is decided from the word and `last_append_ms` alone
//! (`begin_in_sequence`, `Word::is_followed_by`; the appender's straight-line
//! path), every other batch by `judge` over the window too (`begin_judged`,
//! `Partition::append_judged`). A reset
//! (new epoch, or no state) empties every window slot under BUSY. A decision that does
//! not append (duplicate or rejection) is a seqlock read: Acquire load of the word, Relaxed
//! loads of the window, Acquire fence, Relaxed re-load; equal words mean the window was
//! not written in between (the writer's Release fence after the BUSY CAS pairs with the
//! reader's Acquire fence). Hence: same-pid appends are serialised, a rejected or
//! duplicate batch changes nothing, and two concurrent copies of one batch yield
//! exactly one append and one duplicate answer with the same offsets.
//!
//! **I12 — the owner lease (src/log/lease.rs, src/asymmetric_fence.rs).** A state's
//! lease is granted once (NONE -> HELD by CAS, only where the heavy fence exists: Linux
//! membarrier, or loom's model) to the first appender that caches the state with a
//! long-lived cache (`ProducerAppender`, the producer client's per-partition appenders).
//! The holder commits the next batch in sequence with plain stores: it raises its
//! `active` flag (Relaxed), runs the light fence (a compiler fence), and proceeds only
//! if the lease still reads HELD; it lowers `active` (Release) after the word's Release
//! store. Everyone else who changes the word (another appender of the pid, a one-shot
//! append, expiry, LRU eviction, discarding an uncommitted state) first closes the
//! lease, just before it would claim or mark the word (a non-holder's batch answered
//! as a duplicate or rejected is a seqlock read and closes nothing): NONE -> FREE by
//! CAS, or HELD -> REVOKING by CAS, then the heavy fence, then a wait until `active`
//! reads false (Acquire), then FREE (Release). The fence pair orders
//! like two SeqCst fences: if the revoker's load of `active` missed the holder's raise,
//! the holder's later load of the lease sees REVOKING and it backs off having stored
//! nothing; otherwise the revoker waits out that batch, and every later batch of the
//! holder sees the revocation. So no plain store of the holder ever lands after a
//! closer began changing the word, and after FREE the word has CAS writers only (I1).
//! A holder's non-steady batches take the CAS path of I1 without the bracket (CAS
//! against CAS is atomic). Seqlock readers never close the lease. The wait is bounded
//! by one leased batch, which never blocks (it may run one retention pass). A revoked
//! lease is not granted again, so a pid appended through two appenders pays the CAS.
//!
//! **I2 — reservation (src/log/storage.rs `reserve`).** The tail is one 128-bit word
//! (next offset, segment number mod 2^27, next free unit, next batch index). A batch
//! gets its offsets, its units and its commit slot only from a CAS that moves the
//! tail past all three, so every offset, unit and commit slot below the tail belongs
//! to exactly one batch, whose appender is the only writer of its units and slot. An
//! idempotent appender reserves while holding BUSY, so one producer's batches get
//! offsets in sequence order. A CAS with a stale expected word can only succeed if
//! the tail returned to the same value, which needs 2^27 segments to be opened
//! between the load and the CAS.
//!
//! **I3 — segment installation (src/log/storage.rs `install_next`).** The tail moves
//! to segment `n + 1` only by a CAS made after `n + 1` was installed in its cell
//! (AcqRel install CAS, Acquire by the next reservers and readers), so a reserver
//! always finds its segment. A cell holds a live segment or a tombstone naming the
//! last segment it held; installing `n + 1` is a CAS from a tombstone of a smaller
//! number, so an installer that is a whole lap late (the segment was installed and
//! evicted meanwhile) finds a tombstone of `n + 1` or later and installs nothing.
//! If the cell still holds live segment `n + 1 - max_segments`, the ring is full:
//! the appender runs retention once (`try_lock`; while another thread's pass
//! holds the lock it backs off and looks at the cell again, since that pass may
//! be freeing it) and otherwise answers PartitionFull, leaving the tail
//! unchanged; the same for a fresh segment the budget refused (I10). A stale caller whose segment number
//! is more than a ring below the head returns at once (its CAS fails).
//!
//! **I4 — publication (src/log/segment.rs).** A batch is written once, by its
//! reserver, then published with a Release store of its commit word, which is
//! tagged with the lap of the segment's memory (its incarnation count, 31 bits)
//! and carrying the batch's units and, below 4096, its record count (so the
//! high-watermark scan reads commit words only, unless retention needs bytes or
//! timestamps);
//! readers Acquire the word and read the bytes only if the tag is the current
//! lap's. Commit words live in their own array, never in the byte buffer, so no
//! record byte can pose as one; a recycled buffer needs no clearing, because its
//! earlier laps' words carry other tags, except once in 2^31 reuses of one
//! memory: when its lap would wrap, its commit words are cleared and the laps
//! start again at 1 (`SegmentMemory::next_incarnation`), so no stale word ever
//! matches. Fresh memory is zeroed (no tag matches zero).
//!
//! **I5 — visibility.** Readers walk batches in order through a cursor (segment,
//! batch index, unit, offset) and stop at the first batch not committed. At the end
//! of a segment's batches they move to the next segment only if its first batch is
//! committed and starts at the cursor's offset, which proves every batch of the
//! segment was read. So readers see a contiguous prefix with no hole. A cursor
//! placed on an offset whose batch is not committed yet stands at the first
//! uncommitted batch with a pending skip, which it applies (across batches and
//! segments) once those batches commit, so its first record is exactly the
//! offset asked for. The high
//! watermark is that prefix's end, found by one scan (under the scan lock, readers
//! only) that resumes where it stopped and summarises each segment (records,
//! payload bytes, newest timestamp) for retention.
//!
//! **I6 — consumer wake-up (src/log/wakeup.rs).** A waiter on offset `o` is either a
//! thread about to sleep on the partition's condvar (a `Consumer`'s blocking poll) or a
//! registered `Waker` (a `MultiConsumer`'s blocking poll over many partitions, an async
//! task); both are counted in `waiters`. The waiter takes the partition's wake-up mutex,
//! increments `waiters` (a waker that `will_wake` one already in the list is not added
//! or counted again), then does an AcqRel RMW on the tail (`fetch_or(0)`). If the tail
//! is past `o`, an appender has reserved `o` but may have missed the registration: the
//! waiter spins (the appender is mid-append) instead of sleeping (a task wakes itself,
//! a thread snoozes). If not, every appender that will reserve `o` does its tail CAS
//! after ours in modification order (every tail change is an RMW, installs and
//! crossings included), so it reads-from our release sequence and its later Acquire
//! load of `waiters` sees the registration; it then takes the mutex (so it cannot
//! notify between a sleeper's check and its wait), notifies the condvar and takes the
//! whole waker list, subtracting what it took from `waiters`, and wakes those wakers
//! after unlocking. A registration taken by an append is gone (a woken waiter that
//! still finds nothing registers again); a waiter that stops waiting deregisters what
//! is left. No SeqCst is needed, and an appender pays one plain load when nobody waits.
//! A `MultiConsumer` (its in-process backend, src/consumer/log_consumer.rs) applies
//! this to each assigned partition in turn, with one waker,
//! always its own (its parking spot, src/consumer/signal.rs, which forwards each
//! wake-up to the task of a pending async wait; so consumers polled by one task never
//! share a registration). The spot's flags (`NOTIFIED`, `WAKEUP`) are one atomic word:
//! a notifier sets them (Release `fetch_or`) before it takes the spot's mutex to
//! notify the condvar, and the sleeper checks them (Acquire) under that mutex, so a
//! wake-up never falls between the check and the sleep. The consumer clears
//! `NOTIFIED` (Acquire, and only if its load sees it set: a poll that finds records
//! takes no lock and does no RMW) before the poll that precedes the wait (and that
//! poll's group sync). A notification it erases was published before that poll,
//! which therefore sees what it announced; one it does not see is kept. So a wake-up
//! by an append or by the group coordinator at any point after that poll is kept, and
//! the wait returns at once. Every notifier, `wakeup()` included, then wakes the task
//! it finds under the spot's mutex. An async wait's poll sets its task under that
//! mutex first and checks (and takes) `WAKEUP` after: either the `wakeup()`'s lock
//! comes after the poll's, and it wakes the task, whose re-poll takes the flag, or
//! before, and the poll's check, which happens after its `fetch_or`, sees the flag.
//! So a `wakeup()` during an async wait is never lost, and it is taken once (an RMW).
//!
//! **I7 — eviction (src/log/storage.rs `evict_oldest`, src/log/retention.rs).** Only one
//! evictor runs at a time (the partition's retention mutex, never waited on by appenders:
//! they `try_lock`, and if a pass is already running they leave it; one that
//! needs the room that pass may make backs off and looks again, I3). Only a segment the
//! high-watermark scan has passed is evicted (I5: every batch in it is committed and
//! its successor holds the next offset), so no appender still writes it; appenders
//! touch a segment only between their reservation and their commit. Eviction moves
//! the head (log start offset and segment, one 128-bit Release store) first, then
//! swaps the cell to a tombstone (AcqRel): a reader that finds its cell free and
//! its segment below the new head re-reads the head and relocates, answering
//! OffsetOutOfRange if its position is now below the log start (a read never
//! answers "nothing yet" for an evicted offset).
//!
//! **I8 — reclamation.** Readers pin a crossbeam-epoch guard only to load a cell and
//! take a reference count on its segment (`Arc`), then unpin: no user code runs
//! pinned, so a slow reader delays no one's reclamation. The evictor drops the cell's
//! reference through `Guard::defer` after the swap, so a reader that loaded the
//! pointer before the swap still finds the segment alive. A segment's memory goes
//! back to the partition's pool (at most four; freed and released from the budget
//! beyond that) when its last reference goes: a reader holding records pins only the
//! segments they live in. So a reader's last read of a lap happens before the reuse
//! of that memory: the read precedes its Release decrement of the count; the last
//! decrement Acquires it, drops the segment and pushes the memory to the pool
//! (Release); the installer's pop (Acquire) precedes its AcqRel install CAS on the
//! cell, which the next lap's writers Acquire (`segment_for_write`). Under loom,
//! deferred drops never run (see src/sync.rs).
//!
//! **I9 — producer-state expiry.** `try_expire` sets DEAD by CAS only on an idle,
//! non-BUSY word; DEAD is terminal. An appender that meets DEAD (its CAS fails, it
//! re-loads) removes that exact state from the map (pointer-equal) and looks the
//! producer up again, getting a fresh "no state" entry. So an expired state is never
//! resurrected, and a cached state pointer is always either live or recognisably dead.
//!
//! **I10 — the memory budget (src/log/budget.rs).** Segment memory (buffer and commit
//! array) is charged when it is allocated, not when it is reused from the pool, and
//! released when it is freed; partitions (directory and fixed structures,
//! `Partition::footprint`) and the topic's own structures and name
//! (`Topic::footprint`) are charged when a topic is created, producer states
//! when they are admitted (I11), consumer groups when they are made and each
//! committed offset when its entry is (G5). A charge is one CAS that never moves the total past the limit, so
//! concurrent chargers cannot overshoot it; a refused charge changes nothing and the
//! appender answers LogFull after one attempt to make room: a retention pass on
//! its partition, and freeing the other partitions' pooled segment memory (idle,
//! but charged until freed; a pool is a lock-free queue, so any thread may pop
//! and free what it holds).
//!
//! **I11 — producer-state limits (src/log/producer_limits.rs).** Every state in a
//! partition's map was admitted once (counted and charged to the budget) and is
//! released exactly once, by the one `remove_if` that takes it out of the map
//! (pointer-equal, so a racing removal of the same state releases nothing). At
//! the cap, one thread at a time (the eviction mutex, taken only by an append
//! creating a state) evicts the least recently used states by the same DEAD CAS
//! as expiry (I9), which fails on a BUSY state, so a state mid-append is never
//! evicted.
//!
//! # The producer client (src/producer/)
//!
//! ```text
//! send:    closed? -> partition -> pin -> tail batch: CAS `reserved` (index + bytes)
//!          -> copy the record in -> written += 1 (Release) -> count a handle
//!          (full: seal it, CAS-link a new batch from buffer.memory, retry)
//!          -> wake the flusher only for a new batch or linger.ms = 0
//! flusher: take due batches (seal, written == sealed count) -> stamp sequences
//!          -> transport -> responses -> complete each batch once
//! ```
//! Locked instructions per record on the send path: the reservation CAS, the
//! `written` increment and the handle's reference count (plus the epoch pin,
//! thread-local); per batch, the link CAS and one wake-up fence.
//!
//! **P1 — batch claims (src/producer/batch.rs).** A record's index and byte
//! range are claimed by one CAS on the batch's `reserved` word while it is not
//! SEALED; only the claimer writes that range, and it then increments `written`
//! (Release). Sealing is a `fetch_or` of SEALED on the same word, so every claim
//! is either before the seal (counted in the count it returns) or fails. The
//! flusher reads the area only after seeing `written` equal that count
//! (Acquire; the increments are RMWs, so the Acquire load synchronises with
//! every one of them), so it sees every byte and every callback registered
//! before the increment.
//!
//! **P2 — the batch chain (src/producer/batch_chain.rs).** A node's `next` is
//! set once, by CAS from null (AcqRel), after the node is fully built. `tail`
//! only moves forward (CAS, helped by anyone who sees a non-null `next`) and
//! never points at a retired node: the flusher, the only thread that moves the
//! cursor and retires nodes, first helps `tail` past the node it retires, then
//! retires it through crossbeam-epoch. A sender pins before it loads `tail` and
//! holds the pin while it touches the node, so no node it can reach is freed
//! under it; the node's reference count is at least the chain's own while it is
//! reachable, so a sender may add a handle's reference.
//!
//! **P3 — closing (src/producer/flusher/mod.rs, src/producer/flusher_signal.rs).**
//! `close` sets `closed` (SeqCst). The flusher, having read `closed`, drains
//! everything, and only when nothing is held freezes the topic table (under
//! its mutex, which a sender making a new topic's chains also takes, so a
//! topic is either made before the freeze and terminated below, or refused
//! with `Closed`) and links a terminal sentinel after each chain's cursor
//! (`terminate`, sealing the cursor first); if a sender linked a batch first,
//! the link fails and the flusher drains again (loom found both races:
//! loom-tests/tests/producer_handoff.rs). After
//! termination every append fails with `Closed` (the last node is sealed and
//! terminal), and by P1 every claim that succeeded precedes the seal, so its
//! record is in a batch the flusher drained: no record is accepted and then
//! left behind. A forced close fails what is held (`Abandoned` if a request of
//! it was sent, else `Closed`) and terminates the chains the same way. The
//! flusher records whether that failed any record (or left acks=0 requests in
//! transit, or it died) before it marks itself exited (under the `exited`
//! mutex, which every `close` takes before it reads the record), so each
//! `close` answers `Ok` only if nothing was lost, whichever call forced it.
//!
//! **P4 — completion (src/producer/completion.rs).** A batch completes once: the
//! first `complete` wins a swap of `claimed`; it takes the callback stack
//! (Acquire swap, pairing with each push's Release CAS), runs the callbacks in
//! record order, sets the outcome (a once-cell), then under the waiters mutex
//! marks the batch complete and stores `done` (Release; readers load it with
//! Acquire and then read the outcome without a lock), then notifies the condvar
//! and wakes every registered waker. A waiter checks `complete` under the same
//! mutex before it parks or registers, so it either sees it or is parked
//! (registered) before the completer takes the mutex: no wake-up is lost, and
//! every clone's waker is woken. Each handle holds one registration slot, which
//! a poll from another task overwrites and the handle's drop frees (both under
//! the mutex), so the registrations are bounded by the pending handles that
//! were polled, each holding its latest task's waker.
//!
//! **P5 — flusher wake-up (src/producer/flusher_signal.rs).** A sender that
//! linked a batch (or appended with `linger.ms = 0`) issues a SeqCst fence and
//! reads `sleeping`; the flusher stores `sleeping`, issues a SeqCst fence and
//! re-checks the chains before it waits (under the idle mutex, which the waker
//! takes to notify). By the fence-fence rule one of them sees the other. A
//! sender that must wait for `buffer.memory` counts itself a waiter (SeqCst)
//! and then wakes the flusher the same way; while any sender waits, the
//! flusher takes every batch as due (Kafka's accumulator rule "exhausted"), so
//! the lingering batches that hold the memory go out and give it back. A
//! sender with no time to wait (`max.block.ms = 0`, or inside a callback)
//! fails at once and is no waiter, as in Kafka.
//!
//! **P6 — area reuse (src/producer/flusher/finish.rs).** A batch's area goes
//! back to the pool only when the batch is acknowledged (acks >= 1). Then no
//! request of it is in transit: the connection is FIFO, a retry is sent only
//! after the previous attempt was answered or its connection reset (which drops
//! what was in transit), and the acknowledged attempt has arrived. With
//! `acks=0`, or on failure, the area stays with the batch and is freed with it.
//! An `acks=0` batch is done once sent, with no answer to bound it: the
//! flusher keeps at most `max.in.flight` requests on the connection (the
//! others wait, holding their `buffer.memory`), and a closing flusher exits
//! only once the connection has delivered what it holds.
//!
//! **P7 — the first batch (src/producer/flusher/sequencer.rs).** A log with no
//! state for a producer accepts any sequence. A fresh producer nevertheless
//! sends `max.in.flight` batches at once, because the transport keeps send
//! order: a lost request breaks the connection and loses what follows it, and
//! a delayed one holds the rest back, so a later batch reaches the log only
//! after the earlier ones did. The one exception is a retriable error response
//! to the first batches of an epoch (the broker refused them, nothing written)
//! while later batches are in flight: the log, without state, accepts the first
//! later one with any sequence, the refused batches' retries are out of order,
//! and once every batch whose outcome was unknown has been answered under the
//! old epoch (a duplicate or a sequence error settles it; a retriable refusal
//! of a retry does not: re-sequencing a batch the log may hold would write it
//! twice), their sequence is reset under a new epoch and
//! they land after it. No record is lost or duplicated; the refused batches
//! ahead of the first accepted one are out of send order (as with Kafka's
//! client, which fails them instead). Tested by tests/producer_delivery.rs and
//! the producer_faults fuzz target.
//!
//! **P8 — remote deliveries (src/producer/message_delivery.rs, src/kafka/producer.rs;
//! feature `kafka`).** A message sent through the Kafka backend carries its own
//! one-record `Completion` as librdkafka's delivery opaque: librdkafka reports
//! each message exactly once (success, failure, or a purge), and that report
//! completes it under P4, after copying a failed message's bytes into a
//! once-cell (set before `complete`, so a handle that sees `done` finds them). A
//! callback registered at `send` is pushed before the message is handed to
//! librdkafka, so the report finds it. `close` stores `closed` (Release) before
//! it flushes; `send` and `flush` load it (Acquire), so a send that begins after
//! `close` is refused. A send racing with `close` (it loaded `closed` before the
//! store) may hand its message over after close's flush returned: librdkafka
//! still delivers it, and dropping the producer flushes then purges, so every
//! handle completes.
//!
//! **P9 — pending batches (src/producer/pending_batches.rs).** A sender counts
//! a batch it makes before `BatchChain::append` can link it (the link's
//! Release CAS follows the count), and uncounts one it did not link; the
//! flusher uncounts a linked batch (Release) as it completes it, under the
//! batch's waiters mutex after marking it complete and before storing `done`
//! (P4). A sender whose record went into a batch reached it through the link
//! (Acquire), so a later Acquire load of the count by that thread reads at or
//! after the batch's increment, and reads 0 only after its decrement, hence
//! after it was marked complete, which a handle's `is_done` then finds (under
//! the mutex if `done` is not yet visible: that lock comes after the
//! completer's); and a thread that saw `done` reads a count without the
//! batch. So `flush` answers at once, without waking the flusher, exactly
//! when nothing sent before it is pending.
//!
//! # Consumer groups (src/log/group_coordinator.rs, src/log/group_registry.rs, src/consumer/membership.rs)
//!
//! One coordinator per group keeps, under one mutex (never taken by an append), the
//! members, each member's target, the owner of each partition and the committed
//! offsets. A member follows the group at the start of every poll (`sync`).
//!
//! **G1 — targets.** Every join, leave and expiry is a rebalance: a new generation
//! whose targets the group's assignor computes from the live members, their
//! subscriptions and what each owns now (so a sticky assignor keeps it); every
//! member's waker is woken so it syncs soon. A member is expired when it has not
//! synced for `max.poll.interval.ms` and is not waiting inside a poll (a blocked
//! read or a pending async wait tells the coordinator it waits, and the next poll
//! that it stopped): waiting is polling. A member marks itself waiting under the
//! group's lock only while it is a member; one expired between its poll's sync
//! and its wait (a slow rebalance listener) learns so there and polls again,
//! which reports `MemberExpired`, instead of a wait no rebalance would end. Expiry is checked at every join and
//! sync and by the housekeeper's pass over every group (src/log/housekeeper.rs),
//! so a member waiting inside a poll, which syncs no one, is still woken by the
//! rebalance that expires a stalled member, within the housekeeping interval. A member that polls skips the sync, and
//! the group's lock, when the group's change count (bumped under the lock by every
//! change that wakes members) is what its last sync saw and less than a quarter of
//! the interval has passed, so an active member syncs at least that often. Expiry
//! reads each member's own poll clock (`LastPoll`, src/log/group_coordinator.rs),
//! which the member records at every poll without the lock, so a poll that skips
//! the sync counts for liveness too (expiry measured from the last sync came up
//! to a quarter interval early).
//!
//! **G2 — one owner.** The `owners` map gives each partition at most one owning
//! member; only an owner reads a partition (a member reads only partitions it
//! acquired and has not released) and only an owner's commit of it is accepted.
//!
//! **G3 — revoke before release.** A partition leaves its owner's `owners` entry only
//! after the owner stopped reading it: at a sync that finds it outside the owner's
//! target, the member commits (auto commit), runs the listener's `Revoked` (its
//! commit chance, still the owner), removes the partition from its reads, and only
//! then releases it. Leaving (`close`, drop) releases everything after the last read.
//! Expiry frees an expired member's partitions without its cooperation; the expired
//! member's next poll fails with `MemberExpired` before reading anything (its sync
//! finds it gone), and its commits fail, so it is no longer a live member.
//!
//! **G4 — acquire at the committed offset.** A member acquires a target partition
//! only when no one owns it, at the same sync that records it as the owner, and
//! starts reading at the committed offset (or `auto.offset.reset`). With G3, every
//! record at or after that offset was not processed-and-committed by the previous
//! owner, and every record before it was committed by a previous owner: none is
//! skipped, and no two live members read a partition at once. Records a previous
//! owner read but did not commit are read again (at-least-once, as in Kafka).
//!
//! **G5 — one live group per name (src/log/group_registry.rs).** The registry
//! maps a name to its group. A group is made, charged to the budget (I10), only
//! when the registry has none under its name, and registered by
//! `insert_if_absent` (a racing maker that loses returns its charge and takes
//! the winner's). A group is retired under its own lock, once, when it has no
//! member and nothing to remember: at its last member's leave if it holds no
//! committed offset, after a refused join or commit that left it so (a first
//! commit refused by the budget, say), or at the housekeeper's pass once it has
//! had no member and no commit for `offsets_retention`. Retiring forgets the offsets and returns
//! every charge; a retired group takes no join and no commit (`join` and
//! `commit` check the flag under the same lock and answer "retired"). It leaves
//! the registry by a pointer-equal removal, by its retirer or by whoever next
//! finds it there retired, who then looks the name up again. So every
//! non-retired group is the one registered under its name, joins and commits
//! act only on that one (a commit is never lost to a retiring group, nor a
//! member left in one: G2 holds per name), and distinct names that are used
//! and left cost nothing once retired. A group's lock is never taken under the
//! registry's (the housekeeper collects the groups first).
//!
//! # Why these choices
//! - One 128-bit tail instead of a 64-bit one: the offset, the segment and the byte
//!   position must move together, and any packing of all three into 64 bits either
//!   wraps offsets within a day at full speed or needs a second atomic per batch.
//! - Per-batch commit words instead of an in-order commit counter: a preempted
//!   appender never blocks the others (lock-free), and a writer's publish is a plain
//!   store.
//! - Reference-counted segments for readers: a reader pays one pin and one count
//!   per segment it enters, not per record, and can hold what it reads for as long
//!   as it likes without holding back anyone else's memory.
