//! A tokio application consuming a topic with a consumer group (feature
//! `async`): `cargo run --features async --example tokio_consumer`.
//!
//! - A producer task sends 40 orders, keyed by customer, into the 4 partitions
//!   of `orders` and awaits their delivery handles (a `DeliveryHandle` is a
//!   future).
//! - A consumer task of group `billing` reads them as a `Stream` of owned
//!   records (`MultiConsumer::stream`), processes each one and commits every
//!   10 records (`commit`: the positions after the records read so far). It
//!   stops after 25, as if its process crashed: the last 5 are processed but
//!   not committed.
//! - After the "restart" a second consumer of the same group resumes at the
//!   committed offsets (20 records in): it reads the 5 uncommitted records again
//!   (at-least-once) and the 15 after them, this time with the zero-copy async
//!   path (`readable().await`, then the synchronous `poll_with`), committing
//!   after each batch.
//!
//! The waits are woken by the appends (no polling loop, no sleep); the
//! `tokio::time::timeout`s only turn a bug into an error instead of a hang. A
//! member of an idle group needs no timeout to stay alive: a pending async
//! wait counts as polling, so the group does not expire it while it waits
//! (G1 in `idemlog::implementation`).

use std::collections::BTreeSet;
use std::time::Duration;

use idemlog::consumer::{ConsumerConfig, OffsetReset};
use idemlog::producer::{Producer, ProducerConfig, ProducerRecord};
use idemlog::Log;
use tokio::time::timeout;

/// Any error of the example.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ORDERS: u32 = 40;
const COMMIT_EVERY: usize = 10;
const CRASH_AFTER: usize = 25;
/// What the first consumer has committed when it stops.
const COMMITTED_BY_FIRST: usize = COMMIT_EVERY * (CRASH_AFTER / COMMIT_EVERY);
/// A guard against a hang, never reached when things work.
const GUARD: Duration = Duration::from_secs(10);

/// What the value of order `i` says: its id and amount in cents.
fn order(i: u32) -> String {
    format!("order-{i}:{}", 100 + i * 7)
}

/// Parses an order value back into (id, amount).
fn parse(value: &[u8]) -> Result<(u32, u64), String> {
    let text = std::str::from_utf8(value).map_err(|e| e.to_string())?;
    let (id, amount) = text
        .strip_prefix("order-")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(|| format!("not an order: {text}"))?;
    Ok((
        id.parse().map_err(|_| format!("bad id in {text}"))?,
        amount
            .parse()
            .map_err(|_| format!("bad amount in {text}"))?,
    ))
}

fn group_config() -> ConsumerConfig {
    ConsumerConfig::new()
        .group_id("billing")
        .offset_reset(OffsetReset::Earliest)
        .auto_commit(false)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let log = Log::new();
    log.create_topic("orders", 4)?;

    // The first consumer joins before anything is sent: it waits for the
    // records, woken by their appends.
    let first = log.subscribe(group_config(), &["orders"])?;
    let consumer = tokio::spawn(async move {
        let mut first = first;
        let mut records = first.stream();
        let (mut processed, mut total, mut ids) = (0, 0, Vec::new());
        while processed < CRASH_AFTER {
            let record = timeout(GUARD, records.next())
                .await
                .map_err(|_| "the consumer waited too long")?
                .ok_or("the stream never ends")??;
            let (id, amount) = parse(&record.value)?;
            total += amount;
            ids.push(id);
            processed += 1;
            if processed % COMMIT_EVERY == 0 {
                records.consumer().commit()?;
            }
        }
        // "Crash": dropped without committing the last 5 (dropping a member
        // leaves its group; it commits nothing).
        drop(records);
        drop(first);
        Ok::<_, BoxError>((ids, total))
    });

    let producer = Producer::new(&log, ProducerConfig::exactly_once())?;
    let sender = {
        let producer = producer.clone();
        tokio::spawn(async move {
            let mut handles = Vec::new();
            for i in 0..ORDERS {
                let (key, value) = (format!("customer-{}", i % 7), order(i));
                handles.push(producer.send(ProducerRecord::new("orders", &value).key(&key))?);
            }
            for handle in handles {
                handle.await?;
            }
            Ok::<_, BoxError>(())
        })
    };
    sender.await??;
    // `close` waits for the flusher thread: off the runtime's threads.
    tokio::task::spawn_blocking(move || producer.close(Duration::from_secs(5))).await??;

    let (first_ids, first_total) = consumer.await??;

    // The restart: the same group resumes at its committed offsets.
    let mut second = log.subscribe(group_config(), &["orders"])?;
    let (mut second_ids, mut second_total, mut batches) = (Vec::new(), 0, 0);
    while second_ids.len() < ORDERS as usize - COMMITTED_BY_FIRST {
        timeout(GUARD, second.readable())
            .await
            .map_err(|_| "the second consumer waited too long")??;
        // Zero-copy: each record is borrowed from the log inside the visitor.
        let mut failure = None;
        let read = second.poll_with(16, |view| match parse(view.value) {
            Ok((id, amount)) => {
                second_ids.push(id);
                second_total += amount;
            }
            Err(error) => failure = Some(error),
        })?;
        if let Some(error) = failure {
            return Err(error.into());
        }
        if read > 0 {
            batches += 1;
            second.commit()?;
        }
    }
    let positions: Vec<_> = second
        .lag()
        .into_iter()
        .map(|lag| (lag.partition.partition, lag.committed))
        .collect();
    second.close()?;

    let all: BTreeSet<u32> = first_ids.iter().chain(&second_ids).copied().collect();
    let again: BTreeSet<u32> = first_ids[COMMITTED_BY_FIRST..].iter().copied().collect();
    let read_again: BTreeSet<u32> = second_ids
        .iter()
        .copied()
        .filter(|id| first_ids.contains(id))
        .collect();
    println!(
        "first consumer: {} orders processed ({first_total} cents), {COMMITTED_BY_FIRST} committed, then it stopped",
        first_ids.len()
    );
    println!(
        "second consumer: resumed at the committed offsets, {} orders in {batches} zero-copy batches ({second_total} cents), {} of them read again",
        second_ids.len(),
        read_again.len()
    );
    println!("committed offsets per partition: {positions:?}");
    if all.len() != ORDERS as usize || read_again != again {
        return Err(format!("orders seen: {all:?}, read again: {read_again:?}").into());
    }
    println!("every order processed at least once; only the uncommitted ones twice");
    Ok(())
}
