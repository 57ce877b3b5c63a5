//! The shape of an append workload: record size, batch, producers, partition
//! layout, and how the application hands the records over ([`Flavour`]).

/// How the application holds the records it appends (the fairness rules, "same
/// payload handling"); both are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// The application has the bytes in a reusable buffer: the engine is given
    /// `RecordRef`s and copies them in; a peer that needs owned messages pays
    /// for them (`Bytes::copy_from_slice` per record).
    Borrowed,
    /// The application allocates a fresh `Vec<u8>` per record and hands it
    /// over: every side pays that allocation and its free.
    Owned,
}

/// The shape of an append workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AppendShape {
    /// Value bytes per record.
    pub record_size: usize,
    /// Records per batch (per append call).
    pub batch: usize,
    /// Producer threads.
    pub producers: usize,
    /// True: all producers append to one partition; false: one partition each.
    pub shared_partition: bool,
    /// How the records are handed over.
    pub flavour: Flavour,
}

impl AppendShape {
    /// A shape with borrowed records.
    pub(crate) const fn new(
        record_size: usize,
        batch: usize,
        producers: usize,
        shared_partition: bool,
    ) -> Self {
        Self {
            record_size,
            batch,
            producers,
            shared_partition,
            flavour: Flavour::Borrowed,
        }
    }

    /// The same shape with owned records.
    pub(crate) const fn owned(mut self) -> Self {
        self.flavour = Flavour::Owned;
        self
    }

    /// `p2-own-64B-b64` style name (`p1-...` for one producer, `-owned` appended
    /// for owned records).
    pub(crate) fn id(&self) -> String {
        let layout = match (self.producers, self.shared_partition) {
            (1, _) => "",
            (_, true) => "-shared",
            (_, false) => "-own",
        };
        let flavour = match self.flavour {
            Flavour::Borrowed => "",
            Flavour::Owned => "-owned",
        };
        format!(
            "p{}{layout}-{}B-b{}{flavour}",
            self.producers, self.record_size, self.batch
        )
    }

    /// Records per round unit: one batch from every producer.
    pub(crate) fn unit(&self) -> u64 {
        (self.batch * self.producers) as u64
    }

    /// Partitions the engine and the storing peers use.
    pub(crate) fn partitions(&self) -> usize {
        if self.shared_partition {
            1
        } else {
            self.producers
        }
    }

    /// The partition producer `index` appends to.
    pub(crate) fn partition_of(&self, index: usize) -> usize {
        if self.shared_partition {
            0
        } else {
            index
        }
    }

    /// Batches each producer appends in a round of `total` records.
    pub(crate) fn batches_per_producer(&self, total: u64) -> u64 {
        total / self.unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_units() {
        assert_eq!(AppendShape::new(64, 64, 2, false).id(), "p2-own-64B-b64");
        assert_eq!(AppendShape::new(64, 1, 2, true).id(), "p2-shared-64B-b1");
        assert_eq!(AppendShape::new(64, 1, 1, true).id(), "p1-64B-b1");
        assert_eq!(
            AppendShape::new(64, 64, 2, false).owned().id(),
            "p2-own-64B-b64-owned"
        );
        let shape = AppendShape::new(64, 16, 2, false);
        assert_eq!((shape.unit(), shape.batches_per_producer(320)), (32, 10));
        assert_eq!((shape.partitions(), shape.partition_of(1)), (2, 1));
    }
}
