//! The packed 128-bit tail of a partition: where the next batch goes.
//!
//! One compare-and-swap on this word reserves a batch's offsets, its units in the
//! current segment and its commit slot together (I2), and the reservation that
//! does not fit moves the tail to the next segment in the same CAS (I3).
//!
//! ```text
//! bits   0..64   next offset (the log end offset)
//! bits  64..81   next batch index in the segment (its commit slot)
//! bits  81..101  next free unit in the segment
//! bits 101..128  the segment number modulo 2^27
//! ```

/// Bits of the segment number kept in the tail.
pub(crate) const NUMBER_BITS: u32 = 27;
const INDEX_BITS: u32 = 17;
const UNIT_BITS: u32 = 20;
/// Largest unit count of a segment the tail can describe (2^19 units = 4 MiB).
pub(crate) const MAX_SEGMENT_UNITS: u64 = 1 << (UNIT_BITS - 1);
/// Largest batch capacity of a segment the tail can describe.
pub(crate) const MAX_BATCH_CAPACITY: u64 = (1 << INDEX_BITS) - 1;

/// The decoded tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tail {
    /// The next offset to hand out.
    pub(crate) offset: u64,
    /// The current segment's number modulo 2^NUMBER_BITS.
    pub(crate) number: u64,
    /// The next free unit in it.
    pub(crate) unit: u64,
    /// The next batch index in it.
    pub(crate) index: u64,
}

impl Tail {
    /// The tail of an empty partition: "virtual segment 0 is full", so the first
    /// reservation installs segment 1.
    pub(crate) fn empty(segment_units: u64) -> Self {
        Self {
            offset: 0,
            number: 0,
            unit: segment_units,
            index: 0,
        }
    }

    #[inline]
    pub(crate) fn pack(self) -> u128 {
        debug_assert!(self.index < 1 << INDEX_BITS && self.unit < 1 << UNIT_BITS);
        u128::from(self.offset)
            | u128::from(self.index) << 64
            | u128::from(self.unit) << (64 + INDEX_BITS)
            | u128::from(self.number & number_mask()) << (64 + INDEX_BITS + UNIT_BITS)
    }

    #[inline]
    pub(crate) fn unpack(word: u128) -> Self {
        let high = (word >> 64) as u64;
        Self {
            offset: word as u64,
            index: high & ((1 << INDEX_BITS) - 1),
            unit: (high >> INDEX_BITS) & ((1 << UNIT_BITS) - 1),
            number: high >> (INDEX_BITS + UNIT_BITS),
        }
    }
}

/// The mask of the tail's segment-number field.
#[inline]
pub(crate) fn number_mask() -> u64 {
    (1 << NUMBER_BITS) - 1
}

/// The full segment number whose low bits are `low`, given a full number `floor`
/// that is at most it and less than 2^(NUMBER_BITS-1) below it (the log start's
/// segment: live segments span at most the ring, far less than that).
pub(crate) fn expand(low: u64, floor: u64) -> u64 {
    floor + (low.wrapping_sub(floor) & number_mask())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_expands() {
        let tail = Tail {
            offset: u64::MAX - 3,
            number: (1 << NUMBER_BITS) - 1,
            unit: MAX_SEGMENT_UNITS,
            index: MAX_BATCH_CAPACITY,
        };
        assert_eq!(Tail::unpack(tail.pack()), tail);
        assert_eq!(expand(5, 3), 5);
        let floor = (1 << NUMBER_BITS) - 2;
        assert_eq!(
            expand(1, floor),
            (1 << NUMBER_BITS) + 1,
            "wraps past the mask"
        );
    }
}
