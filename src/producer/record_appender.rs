//! The sending thread's side of `send`: choose the partition, append the
//! record to the partition's open batch (opening one when it is full), and
//! wake the flusher when it has something new to do (P5).

use super::batch::ProducerBatch;
use super::batch_chain::AppendStep;
use super::delivery::{Callback, DeliveryHandle};
use super::error::ProducerError;
use super::flusher::Shared;
use super::partitioner::{partition_for_key, sticky_partition};
use super::topic_table::TopicBatches;
use super::user_code::in_callback_of;
use crate::error::LogError;
use crate::log::batch::encoded_len;
use crate::record::RecordRef;
// std's Arc for batches even under loom (see batch_chain.rs).
use std::sync::Arc;

/// The settings `send` needs, fixed at `Producer::new`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AppendSettings {
    /// `batch.size`, capped by what one log batch may hold.
    pub(crate) batch_size: usize,
    /// The most record bytes one log batch may hold.
    pub(crate) max_batch_bytes: usize,
    /// The most records one log batch may hold.
    pub(crate) max_records: u32,
    /// `linger.ms = 0`: every record wakes the flusher.
    pub(crate) eager: bool,
}

/// Appends one record of `topic` (see the module comment); `now_ms` is the
/// producer's clock.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn append(
    shared: &Shared,
    settings: &AppendSettings,
    topic: &TopicBatches,
    partition: Option<u32>,
    record: RecordRef<'_>,
    now_ms: impl Fn() -> i64,
    mut callback: Option<Callback>,
) -> Result<DeliveryHandle, ProducerError> {
    let len = encoded_len(record);
    if len > settings.max_batch_bytes {
        return Err(ProducerError::Log(LogError::BatchBytesTooLarge {
            bytes: len,
            max: settings.max_batch_bytes,
        }));
    }
    let partitions = topic.partitions();
    let partition = match (partition, record.key) {
        (Some(p), _) if p < partitions => p,
        (Some(p), _) => {
            return Err(ProducerError::Log(LogError::UnknownPartition {
                topic: topic.name.to_string(),
                partition: p,
                partitions,
            }))
        }
        (None, Some(key)) => partition_for_key(key, partitions),
        (None, None) if partitions == 1 => 0,
        (None, None) => {
            let before = topic.add_sticky_bytes(len as u64);
            sticky_partition(before, settings.batch_size, partitions)
        }
    };
    let chain = &topic.chains[partition as usize];
    let mut spare: Option<Arc<ProducerBatch>> = None;
    let outcome = loop {
        match chain.append(record, &mut callback, &mut spare) {
            AppendStep::Done { handle, opened } => {
                if opened || settings.eager {
                    shared.signal.wake();
                }
                break Ok(handle);
            }
            AppendStep::Closed => break Err(ProducerError::Closed),
            AppendStep::NeedBatch => {
                // From a delivery callback (the flusher thread) nothing frees
                // space while we wait: fail at once instead of stalling it.
                let no_wait = in_callback_of(shared.owner);
                let area = match shared.pool.take(
                    len,
                    no_wait,
                    || shared.signal.is_closed(),
                    || shared.signal.wake(),
                ) {
                    Ok(area) => area,
                    Err(error) => break Err(error),
                };
                // Counted before `chain.append` can link it (flush's shortcut).
                shared.pending.made();
                spare = Some(Arc::new(ProducerBatch::new(
                    area,
                    0,
                    // Read only when a batch opens: linger and the delivery
                    // timeout count from its first record.
                    now_ms(),
                    settings.max_records,
                    shared.owner,
                )));
            }
        }
    };
    // A batch made for us that another thread's batch made unnecessary.
    if let Some(batch) = spare {
        batch.recycle_area(&shared.pool);
        shared.pending.unused();
    }
    outcome
}
