//! Kafka's default partitioner: murmur2 of the key bytes, so a key lands on the
//! same partition number as with the Java client; keyless records are sticky.

/// Kafka's `Utils.murmur2` (seed 0x9747b28c), bit for bit.
///
/// ```
/// use idemlog::producer::{murmur2, partition_for_key};
/// // Values of the Java client (org.apache.kafka.common.utils.UtilsTest).
/// assert_eq!(murmur2(b"21"), -973932308);
/// assert_eq!(murmur2(b"foobar"), -790332482);
/// assert_eq!(partition_for_key(b"foobar", 10), (-790332482i32 & 0x7fffffff) as u32 % 10);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as u32;
    let mut h = SEED ^ length;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `toPositive(murmur2(key)) % numPartitions` (toPositive = `x & 0x7fffffff`).
/// `partitions` must be at least 1.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    (murmur2(key) & 0x7fff_ffff) as u32 % partitions.max(1)
}

/// The sticky partition for keyless records: the partition changes each time
/// another `batch_size` bytes of keyless records have been sent to the topic
/// (KIP-794's rule), scrambled so consecutive batches spread over partitions.
/// `sticky_bytes` is the topic's keyless byte count before this record.
pub(crate) fn sticky_partition(sticky_bytes: u64, batch_size: usize, partitions: u32) -> u32 {
    let batch = sticky_bytes / batch_size.max(1) as u64;
    (splitmix64(batch) % u64::from(partitions.max(1))) as u32
}

/// SplitMix64's finaliser: a good 64-bit mix of `x` (also the fault RNG's step).
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
