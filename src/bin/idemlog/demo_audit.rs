//! The demo's audit of the records read back, the same on every backend:
//! duplicates, records lost, per-partition order.
//!
//! The demo's values are "thread:index". Records are handed over as they are
//! read ([`Auditor::view`]), in offset order within each partition (any
//! interleaving of partitions), so nothing is kept but counters.

use idemlog::RecordView;

/// The (pid, epoch) a record was written under, if idempotent and visible to
/// the consumer (in process; a Kafka consumer does not see it).
type Stamp = Option<(idemlog::ProducerId, u16)>;

/// What reading the records back found.
pub(crate) struct Audit {
    pub(crate) in_log: u64,
    pub(crate) duplicates: u64,
    pub(crate) lost: u64,
    pub(crate) reordered: u64,
    /// Of `reordered`, those written under another epoch than the later
    /// record before them: the first-batch case.
    pub(crate) reordered_first_batch: u64,
}

/// Audits the records of one demo topic as they are read back.
pub(crate) struct Auditor {
    /// Per sending thread, per record index: copies read.
    seen: Vec<Vec<u32>>,
    /// Per partition, per sending thread: its highest record index read so far
    /// in the partition, and the stamp that record was written under.
    highest: Vec<Vec<Option<(u64, Stamp)>>>,
    in_log: u64,
    reordered: u64,
    first_batch: u64,
    /// Records the demo did not send (unparsable, or out of range).
    foreign: u64,
}

impl Auditor {
    /// An audit of `per_thread[t]` records sent by each thread `t` into
    /// `partitions` partitions.
    pub(crate) fn new(per_thread: &[u64], partitions: u32) -> Auditor {
        Auditor {
            seen: per_thread.iter().map(|&n| vec![0; n as usize]).collect(),
            highest: vec![vec![None; per_thread.len()]; partitions as usize],
            in_log: 0,
            reordered: 0,
            first_batch: 0,
            foreign: 0,
        }
    }

    /// Records read so far (duplicates included): when the Kafka read-back
    /// may stop.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    pub(crate) fn in_log(&self) -> u64 {
        self.in_log
    }

    /// The next record read.
    pub(crate) fn view(&mut self, view: RecordView<'_>) {
        let stamp = view.producer.map(|m| (m.producer_id, m.epoch));
        self.record(view.partition, view.value, stamp);
    }

    fn record(&mut self, partition: u32, value: &[u8], stamp: Stamp) {
        self.in_log += 1;
        let Some((t, i)) = self.parse(value) else {
            self.foreign += 1;
            return;
        };
        let Some(highest) = self.highest.get_mut(partition as usize) else {
            self.foreign += 1;
            return;
        };
        let count = &mut self.seen[t][i as usize];
        *count += 1;
        let high = &mut highest[t];
        if let Some((h, high_stamp)) = *high {
            if *count == 1 && i < h {
                self.reordered += 1;
                // Written under another epoch than the later record before
                // it: re-sequenced after an epoch bump.
                self.first_batch += u64::from(stamp.is_some() && stamp != high_stamp);
            }
        }
        if high.is_none_or(|(h, _)| i > h) {
            *high = Some((i, stamp));
        }
    }

    /// "t:i" of a record the demo sent: (thread, index).
    fn parse(&self, value: &[u8]) -> Option<(usize, u64)> {
        let (t, i) = std::str::from_utf8(value).ok()?.split_once(':')?;
        let (t, i) = (t.parse::<usize>().ok()?, i.parse::<u64>().ok()?);
        let sent = self.seen.get(t)?.len() as u64;
        (i < sent).then_some((t, i))
    }

    /// The audit; an error if any record read was not the demo's.
    pub(crate) fn finish(self) -> Result<Audit, String> {
        if self.foreign > 0 {
            return Err(format!(
                "{} records read back were not sent by the demo",
                self.foreign
            ));
        }
        let sent: u64 = self.seen.iter().map(|s| s.len() as u64).sum();
        let distinct = self.seen.iter().flatten().filter(|&&c| c > 0).count() as u64;
        Ok(Audit {
            in_log: self.in_log,
            duplicates: self.in_log - distinct,
            lost: sent - distinct,
            reordered: self.reordered,
            reordered_first_batch: self.first_batch,
        })
    }
}
