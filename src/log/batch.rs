//! The byte layout of one batch in a segment buffer, and its encoding and decoding.
//!
//! A batch is one contiguous, 8-byte-aligned region (sizes in 8-byte *units*):
//!
//! ```text
//! 0   base_offset     u64   offset of the first record
//! 8   timestamp_ms    i64   log-append time
//! 16  producer_id     u64   (idempotent batches; 0 otherwise)
//! 24  base_sequence   i32   (idempotent batches; 0 otherwise)
//! 28  record_count    u32
//! 32  epoch           u16   (idempotent batches; 0 otherwise)
//! 34  flags           u16   HAS_PRODUCER
//! 36  records_len     u32   bytes of the record area that follows
//! 40  records: per record  key_len u32 (NO_KEY for none), value_len u32, key, value
//! ```
//!
//! Producer fields are per batch, as in Kafka's RecordBatch. The batch's commit
//! word is not in the region: it lives in the segment's commit array (see
//! `segment.rs`), so no user byte can ever be mistaken for one.

use crate::record::{IntoRecords, ProducerMetadata, RecordRef};
use crate::types::ProducerId;

/// Bytes of the fixed batch header.
pub(crate) const HEADER_BYTES: usize = 40;
/// Bytes of one record's header (key and value lengths).
pub(crate) const RECORD_HEADER_BYTES: usize = 8;
/// The allocation and alignment unit of a segment buffer.
pub(crate) const UNIT_BYTES: usize = 8;
/// `key_len` of a record without a key.
const NO_KEY: u32 = u32::MAX;
/// `flags` bit: the batch carries producer fields.
const HAS_PRODUCER: u16 = 1;

/// The producer fields of an idempotent batch, stamped once per batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) producer_id: ProducerId,
    pub(crate) epoch: u16,
    pub(crate) base_sequence: i32,
}

/// Size of a batch's record area: the headers and bytes of its records,
/// saturating at `usize::MAX`. A batch is appended only if this fits its
/// segment (`SegmentLog::max_records_len`), so the `u32` length field always
/// holds it.
pub(crate) fn records_len(records: &(impl IntoRecords + ?Sized)) -> usize {
    if let Some(area) = records.encoded() {
        return area.len();
    }
    let mut total = 0usize;
    records.for_each_record(|record| {
        total = total.saturating_add(encoded_len(record));
    });
    total
}

/// Units a batch with a record area of `records_len` bytes occupies.
/// Rounded up by an add and a shift (`div_ceil` compiles to four more
/// instructions per use). Its one caller, `BatchFields::units`, passes the
/// header's `u32` field, so the sum cannot overflow.
// The add and shift on purpose: `div_ceil` is what this replaces (above).
#[allow(clippy::manual_div_ceil)]
#[inline]
pub(crate) fn units_for(records_len: usize) -> u64 {
    const { assert!(UNIT_BYTES.is_power_of_two()) };
    (HEADER_BYTES as u64 + records_len as u64 + (UNIT_BYTES as u64 - 1)) / UNIT_BYTES as u64
}

/// The fields of a batch header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchFields {
    pub(crate) base_offset: u64,
    pub(crate) timestamp_ms: i64,
    pub(crate) record_count: u32,
    pub(crate) records_len: u32,
    pub(crate) stamp: Option<Stamp>,
}

impl BatchFields {
    /// Units the batch occupies.
    #[inline]
    pub(crate) fn units(&self) -> u64 {
        units_for(self.records_len as usize)
    }

    /// Payload bytes (keys and values) of the batch.
    pub(crate) fn payload_bytes(&self) -> u64 {
        u64::from(self.records_len) - RECORD_HEADER_BYTES as u64 * u64::from(self.record_count)
    }
}

/// Writes a batch header and its records at `dst`.
///
/// # Safety
/// `dst` is 8-byte aligned and valid for writes of
/// `HEADER_BYTES + fields.records_len` bytes that no one else accesses, and
/// `records` has exactly `fields.record_count` records whose headers and bytes
/// total `fields.records_len` (as `records_len` computed; `IntoRecords` is sealed
/// so the two walks agree).
#[inline(always)]
pub(crate) unsafe fn encode(
    dst: *mut u8,
    fields: &BatchFields,
    records: &(impl IntoRecords + ?Sized),
) {
    let (producer_id, base_sequence, epoch, flags) = match fields.stamp {
        Some(stamp) => (
            stamp.producer_id.0,
            stamp.base_sequence,
            stamp.epoch,
            HAS_PRODUCER,
        ),
        None => (0, 0, 0, 0),
    };
    // SAFETY: every write below is inside the region the caller gave us, at an
    // offset aligned for its type (the batch start is 8-byte aligned).
    unsafe {
        dst.cast::<u64>().write(fields.base_offset);
        dst.add(8).cast::<i64>().write(fields.timestamp_ms);
        dst.add(16).cast::<u64>().write(producer_id);
        dst.add(24).cast::<i32>().write(base_sequence);
        dst.add(28).cast::<u32>().write(fields.record_count);
        dst.add(32).cast::<u16>().write(epoch);
        dst.add(34).cast::<u16>().write(flags);
        dst.add(36).cast::<u32>().write(fields.records_len);
    }
    if let Some(area) = records.encoded() {
        // SAFETY: the caller gave us `HEADER_BYTES + records_len` bytes, and
        // `records_len` is `area.len()` for encoded records (`records_len`).
        unsafe { std::ptr::copy_nonoverlapping(area.as_ptr(), dst.add(HEADER_BYTES), area.len()) };
        return;
    }
    let mut at = HEADER_BYTES;
    records.for_each_record(|record| {
        // SAFETY: `at` stays within `HEADER_BYTES + records_len`, which counted
        // exactly these headers and bytes.
        let len = unsafe { encode_record(dst.add(at), record) };
        prefetch_for_write(dst.wrapping_add(at), len);
        at += len;
    });
}

/// How far ahead of an appender's writes their destination is prefetched.
/// Appends write a segment front to back, and on the development VM (2-vCPU
/// AMD EPYC) the hardware prefetcher did not run ahead of those stores.
/// Measured with `idemlog bench --only` (M records/s; the naive prototype in
/// the same runs does not prefetch): append-own-p2-64B-b64 156 without,
/// 202-208 at 512 B, 217-232 at 1 KiB, 235-246 at 2 KiB, 245-249 at 4 KiB,
/// 237-259 at 8 KiB; append-p1-64B-b1 24.4 without, 30-34 at 1 and 4 KiB.
const WRITE_AHEAD: usize = 4 << 10;

/// Hints the CPU to fetch, for writing, the lines `WRITE_AHEAD` past the
/// `len` bytes from `start` (the record `encode` just wrote), so that the lines
/// an append writes a few records later are in the cache by then. Records are
/// contiguous, so every line is fetched: by the first record whose range (in
/// steps of 64 from its start) reaches it, or else by the next record, which
/// starts in it. Done per record, not per batch: one burst of prefetches for a
/// whole batch of 64 measured slower (203-206 M/s at own-b64 against 245-254),
/// as the CPU has only so many misses in flight. Encoded record areas (the
/// producer client's batches) are one `memcpy` and are not prefetched.
/// The first two prefetches are unrolled, so a record of up to 128 bytes (8
/// of header and a value of up to 120) takes no loop: the loop cost about 12
/// instructions for two lines, per record.
#[inline(always)]
fn prefetch_for_write(start: *mut u8, len: usize) {
    debug_assert!(
        len >= RECORD_HEADER_BYTES,
        "a record has at least its header"
    );
    // One prefetch per 64 bytes from `start`.
    let ahead = start.wrapping_add(WRITE_AHEAD);
    prefetch_line::<true>(ahead);
    if len > LINE_BYTES {
        prefetch_line::<true>(ahead.wrapping_add(LINE_BYTES));
        let mut line = 2 * LINE_BYTES;
        while line < len {
            prefetch_line::<true>(ahead.wrapping_add(line));
            line += LINE_BYTES;
        }
    }
}

/// Bytes of a cache line.
const LINE_BYTES: usize = 64;

/// Hints the CPU to bring the cache line holding `address` into its caches,
/// for writing (`prefetchw` where the target has PRFCHW, a read prefetch
/// otherwise) or for reading. The address may lie anywhere, past a segment or
/// in no allocation at all: a prefetch never faults and reads nothing into the
/// program (`wrapping_add` at the callers makes no claim about it either).
#[inline(always)]
fn prefetch_line<const FOR_WRITE: bool>(address: *const u8) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `_mm_prefetch` needs SSE, part of the x86_64 baseline; it only
    // hints the cache and never faults, whatever the address.
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0, _MM_HINT_T0};
        if FOR_WRITE {
            _mm_prefetch::<_MM_HINT_ET0>(address.cast());
        } else {
            _mm_prefetch::<_MM_HINT_T0>(address.cast());
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = address;
}

/// Bytes one record takes in a record area: its header, key and value.
#[inline]
pub(crate) fn encoded_len(record: RecordRef<'_>) -> usize {
    RECORD_HEADER_BYTES + record.payload_len()
}

/// Writes one record (header, key, value) at `dst`; returns the bytes written
/// ([`encoded_len`]).
///
/// # Safety
/// `dst` is valid for writes of `encoded_len(record)` bytes that no one else
/// accesses (no alignment needed).
#[inline]
pub(crate) unsafe fn encode_record(dst: *mut u8, record: RecordRef<'_>) -> usize {
    let key_len = record.key.map_or(NO_KEY, |key| key.len() as u32);
    let mut at = RECORD_HEADER_BYTES;
    // SAFETY: every write is inside the `encoded_len(record)` bytes the caller
    // gave us: the 8-byte header, then the key and the value.
    unsafe {
        dst.cast::<u32>().write_unaligned(key_len);
        dst.add(4)
            .cast::<u32>()
            .write_unaligned(record.value.len() as u32);
        if let Some(key) = record.key {
            std::ptr::copy_nonoverlapping(key.as_ptr(), dst.add(at), key.len());
            at += key.len();
        }
        copy_bytes(record.value.as_ptr(), dst.add(at), record.value.len());
    }
    at + record.value.len()
}

/// Copies `len` bytes from `src` to `dst` (`copy_nonoverlapping`), inline for
/// 16 to 128 bytes: one move of the next power of two at or below `len` (16,
/// 32 or 64 bytes) from the start and one ending at `len`, overlapping in the
/// middle; `memcpy` otherwise.
/// The `memcpy` call cost more than its copy: it clobbers every caller-saved
/// register in an append that keeps more live values than the callee-saved
/// ones hold, so values were spilled to the stack and reloaded around it, and
/// these appends are bound by their loads and stores, not by their
/// instructions (see the README's "How it is fast").
///
/// # Safety
/// As `std::ptr::copy_nonoverlapping(src, dst, len)`.
#[inline(always)]
unsafe fn copy_bytes(src: *const u8, dst: *mut u8, len: usize) {
    /// Copies the `N` bytes at `at` (unaligned).
    ///
    /// # Safety
    /// `at + N <= len` for the caller's `src` and `dst`.
    #[inline(always)]
    unsafe fn chunk<const N: usize>(src: *const u8, dst: *mut u8, at: usize) {
        // SAFETY: inside both regions (the caller's contract); unaligned.
        unsafe {
            let bytes = src.add(at).cast::<[u8; N]>().read_unaligned();
            dst.add(at).cast::<[u8; N]>().write_unaligned(bytes);
        }
    }
    // SAFETY: every chunk lies inside `0..len`: half of them from the start,
    // half ending at `len`, each half no longer than `len`.
    unsafe {
        match len {
            16..=32 => {
                chunk::<16>(src, dst, 0);
                chunk::<16>(src, dst, len - 16);
            }
            33..=64 => {
                chunk::<32>(src, dst, 0);
                chunk::<32>(src, dst, len - 32);
            }
            65..=128 => {
                chunk::<64>(src, dst, 0);
                chunk::<64>(src, dst, len - 64);
            }
            _ => std::ptr::copy_nonoverlapping(src, dst, len),
        }
    }
}

/// `count` records already laid out as a batch's record area (what a producer
/// client builds on the sending threads); an append copies them in one piece.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EncodedRecords<'a> {
    area: &'a [u8],
    count: u32,
}

impl<'a> EncodedRecords<'a> {
    /// `area` holds exactly `count` records written by [`encode_record`].
    pub(crate) fn new(area: &'a [u8], count: u32) -> Self {
        Self { area, count }
    }

    /// The records, decoded.
    pub(crate) fn iter(&self) -> impl Iterator<Item = RecordRef<'a>> {
        let fields = BatchFields {
            base_offset: 0,
            timestamp_ms: 0,
            record_count: self.count,
            records_len: self.area.len() as u32,
            stamp: None,
        };
        Records {
            rest: self.area,
            index: 0,
            end: self.count,
            fields,
        }
        .map(|decoded| decoded.record)
    }
}

impl crate::record::sealed::Sealed for EncodedRecords<'_> {}
impl IntoRecords for EncodedRecords<'_> {
    #[inline]
    fn record_count(&self) -> usize {
        self.count as usize
    }
    fn for_each_record(&self, f: impl FnMut(RecordRef<'_>)) {
        self.iter().for_each(f);
    }
    #[inline]
    fn encoded(&self) -> Option<&[u8]> {
        Some(self.area)
    }
}

/// Reads a batch header from the start of `batch` (a committed batch's bytes).
#[inline]
pub(crate) fn decode_fields(batch: &[u8]) -> BatchFields {
    // One bounds check for the whole header; the field reads below are then
    // fixed offsets into a fixed-size array.
    let header: &[u8; HEADER_BYTES] = batch[..HEADER_BYTES].try_into().expect("a header");
    let u64_at = |at: usize| u64::from_ne_bytes(*header[at..].first_chunk().expect("in header"));
    let u32_at = |at: usize| u32::from_ne_bytes(*header[at..].first_chunk().expect("in header"));
    let u16_at = |at: usize| u16::from_ne_bytes(*header[at..].first_chunk().expect("in header"));
    let stamp = (u16_at(34) & HAS_PRODUCER != 0).then(|| Stamp {
        producer_id: ProducerId(u64_at(16)),
        base_sequence: u32_at(24) as i32,
        epoch: u16_at(32),
    });
    BatchFields {
        base_offset: u64_at(0),
        timestamp_ms: u64_at(8) as i64,
        record_count: u32_at(28),
        records_len: u32_at(36),
        stamp,
    }
}

/// One record decoded from a batch: its position in the batch, its key and value
/// as byte ranges of the batch slice, and its producer metadata.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DecodedRecord<'a> {
    pub(crate) record: RecordRef<'a>,
    pub(crate) producer: Option<ProducerMetadata>,
}

/// The records of a committed batch with indices `from..to`, in order (`to`
/// is at most its record count). One check per record ends the walk: the
/// reader's limit and the batch's end are folded into `to`.
#[inline]
pub(crate) fn records(batch: &[u8], fields: BatchFields, from: u32, to: u32) -> Records<'_> {
    debug_assert!(from <= to && to <= fields.record_count);
    let mut records = Records {
        rest: &batch[HEADER_BYTES..HEADER_BYTES + fields.records_len as usize],
        index: 0,
        end: to,
        fields,
    };
    for _ in 0..from {
        if records.split_record().is_none() {
            // A record area shorter than its count says (never written so):
            // nothing more to read.
            records.end = from;
            break;
        }
    }
    records.index = from;
    records
}

/// How far ahead of a reader's position its next bytes are prefetched. Each
/// record's place depends on the previous record's lengths, so the CPU cannot
/// run ahead of a scan by itself, and on the development VM the hardware
/// prefetcher did not either: a filled-partition scan went from 81 M records/s
/// to ~290 with 8 KiB (256 B: ~130, 2 KiB: ~245, 16 KiB: no better).
const PREFETCH_AHEAD: usize = 8 << 10;

/// Hints the CPU to fetch the bytes `PREFETCH_AHEAD` past `rest`'s start.
#[inline(always)]
fn prefetch_ahead(rest: &[u8]) {
    prefetch_line::<false>(rest.as_ptr().wrapping_add(PREFETCH_AHEAD));
}

/// Walks a batch's record area: each step splits one record off the front.
pub(crate) struct Records<'a> {
    rest: &'a [u8],
    /// The batch index of the next record.
    index: u32,
    /// The index the walk stops at.
    end: u32,
    fields: BatchFields,
}

impl<'a> Records<'a> {
    /// Splits the next record's key and value off the front of the area.
    #[inline]
    fn split_record(&mut self) -> Option<RecordRef<'a>> {
        let (lengths, rest) = self.rest.split_first_chunk::<RECORD_HEADER_BYTES>()?;
        let key_len = u32::from_ne_bytes([lengths[0], lengths[1], lengths[2], lengths[3]]);
        let value_len =
            u32::from_ne_bytes([lengths[4], lengths[5], lengths[6], lengths[7]]) as usize;
        let (key, rest) = if key_len == NO_KEY {
            (None, rest)
        } else {
            let (key, rest) = rest.split_at_checked(key_len as usize)?;
            (Some(key), rest)
        };
        let (value, rest) = rest.split_at_checked(value_len)?;
        self.rest = rest;
        Some(RecordRef { key, value })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = DecodedRecord<'a>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.index == self.end {
            return None;
        }
        prefetch_ahead(self.rest);
        let record = self.split_record()?;
        let index = self.index;
        self.index += 1;
        Some(DecodedRecord {
            record,
            producer: self.fields.stamp.map(|stamp| ProducerMetadata {
                producer_id: stamp.producer_id,
                epoch: stamp.epoch,
                sequence: crate::types::sequence_add(stamp.base_sequence, u64::from(index)),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    #[test]
    fn copy_bytes_copies_every_length_at_every_alignment_and_nothing_else() {
        let source: Vec<u8> = (0..=255u8).cycle().take(400).collect();
        for len in 0..=200 {
            for shift in 0..16 {
                let mut target = vec![0xAAu8; 240];
                // SAFETY: `shift + len <= 216 < 240` and `1 + len < 400`; the
                // two buffers are distinct allocations.
                unsafe { copy_bytes(source.as_ptr().add(1), target.as_mut_ptr().add(shift), len) };
                assert_eq!(
                    &target[shift..shift + len],
                    &source[1..1 + len],
                    "len {len} at +{shift}"
                );
                assert!(
                    target[..shift]
                        .iter()
                        .chain(&target[shift + len..])
                        .all(|&byte| byte == 0xAA),
                    "len {len} at +{shift} wrote outside its range"
                );
            }
        }
    }

    #[test]
    fn a_batch_round_trips() {
        let batch = [
            Record::with_key("k", "value-1"),
            Record::new(""),
            Record::new("v3"),
        ];
        let len = records_len(&batch);
        assert_eq!(len, 3 * RECORD_HEADER_BYTES + 1 + 7 + 2);
        let fields = BatchFields {
            base_offset: 42,
            timestamp_ms: -7,
            record_count: 3,
            records_len: len as u32,
            stamp: Some(Stamp {
                producer_id: ProducerId(9),
                epoch: 3,
                base_sequence: i32::MAX,
            }),
        };
        let mut buffer = vec![0u64; fields.units() as usize];
        // SAFETY: the buffer is 8-aligned and `units()` units long.
        unsafe { encode(buffer.as_mut_ptr().cast(), &fields, &batch) };
        // SAFETY: u64s are plain bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(buffer.as_ptr().cast::<u8>(), buffer.len() * UNIT_BYTES)
        };
        assert_eq!(decode_fields(bytes), fields);
        let decoded: Vec<_> = records(bytes, fields, 0, 3).collect();
        assert_eq!(decoded[0].record, RecordRef::with_key(b"k", b"value-1"));
        assert_eq!(decoded[1].record, RecordRef::new(b""));
        assert_eq!(decoded[2].record.value, b"v3");
        assert_eq!(
            decoded
                .iter()
                .map(|r| r.producer.map(|p| p.sequence))
                .collect::<Vec<_>>(),
            vec![Some(i32::MAX), Some(0), Some(1)],
            "sequences wrap at i32::MAX"
        );
        assert_eq!(records(bytes, fields, 2, 3).count(), 1);
        let middle: Vec<_> = records(bytes, fields, 1, 2).collect();
        assert_eq!(middle.len(), 1);
        assert_eq!(middle[0].record, RecordRef::new(b""));
        assert_eq!(middle[0].producer.map(|p| p.sequence), Some(0));
        assert_eq!(fields.payload_bytes(), 10);
    }
}
