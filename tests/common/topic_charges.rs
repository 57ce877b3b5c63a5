//! What `create_topic` charges the memory budget (included with `#[path]`).

use idemlog::Log;

/// Creates topics "hug1" (one partition) and "hug2" (two) in `log`, whose
/// budget is unused; returns what one partition and what a topic's own part
/// (its structures and a name of up to seven bytes) are charged.
pub(crate) fn charges_of_a_partition_and_a_topic(log: &Log) -> (u64, u64) {
    assert_eq!(log.memory_usage().used_bytes, 0);
    log.create_topic("hug1", 1).unwrap();
    let one = log.memory_usage().used_bytes;
    log.create_topic("hug2", 2).unwrap();
    let two = log.memory_usage().used_bytes - one;
    (two - one, 2 * one - two)
}
