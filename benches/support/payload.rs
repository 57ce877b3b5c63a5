//! The application's bytes. Each producer thread owns an [`AppBuffer`]: one
//! batch worth of records in a reusable buffer, handed to the engine as
//! `RecordRef`s ([`Flavour::Borrowed`](super::shape::Flavour)), copied by peers
//! that need owned messages, or copied into a fresh `Vec<u8>` per record
//! ([`Flavour::Owned`](super::shape::Flavour)), as most programs do. No
//! `Bytes::from_static`: a static payload hides the allocator (the fairness rules
//! allows it for calibration only, and no workload here needs it).

use bytes::Bytes;
use idemlog::RecordRef;

/// One batch of records of one size, in one reusable buffer.
pub(crate) struct AppBuffer {
    bytes: Vec<u8>,
    record_size: usize,
}

impl AppBuffer {
    /// `batch` records of `record_size` bytes (distinct bytes per record).
    pub(crate) fn new(record_size: usize, batch: usize) -> Self {
        let bytes = (0..record_size * batch.max(1))
            .map(|i| (i % 251) as u8)
            .collect();
        Self { bytes, record_size }
    }

    /// Record `index` of the batch, borrowed.
    #[inline]
    pub(crate) fn bytes(&self, index: usize) -> &[u8] {
        &self.bytes[index * self.record_size..(index + 1) * self.record_size]
    }

    /// Every record of the batch as a `RecordRef`, in order.
    pub(crate) fn refs(&self) -> Vec<RecordRef<'_>> {
        self.bytes
            .chunks_exact(self.record_size)
            .map(RecordRef::new)
            .collect()
    }

    /// Record `index` copied into a `Bytes` (what a peer needing owned
    /// messages pays for a borrowed record).
    #[inline]
    pub(crate) fn copied(&self, index: usize) -> Bytes {
        Bytes::copy_from_slice(self.bytes(index))
    }

    /// Record `index` in a freshly allocated `Vec<u8>` (the owned flavour).
    #[inline]
    pub(crate) fn fresh(&self, index: usize) -> Vec<u8> {
        self.bytes(index).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_slices_of_one_buffer() {
        let buffer = AppBuffer::new(4, 3);
        assert_eq!(buffer.bytes(1), &[4, 5, 6, 7]);
        assert_eq!(buffer.refs().len(), 3);
        assert_eq!(buffer.refs()[2].value, buffer.bytes(2));
        assert_eq!(&buffer.copied(0)[..], buffer.bytes(0));
        assert_eq!(buffer.fresh(2), buffer.bytes(2).to_vec());
    }
}
