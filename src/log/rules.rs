//! The broker rules of the contract for one idempotent batch ([`crate::contract`],
//! rules 2-4; rule 1 is checked before, rule 5 is the commit), as one pure
//! function of the producer's state and window. `producer_state.rs` makes the
//! decision atomic.

use crate::error::LogError;
use crate::log::BatchMetadata;
use crate::types::{sequence_add, BatchHeader};

/// What the broker rules say about one batch (contract rules 2-4, `crate::contract`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Append it; `reset` clears the window first (new epoch, or no state).
    Append { reset: bool },
    /// Answer with the original batch's metadata, append nothing.
    Duplicate(BatchMetadata),
    /// Reject it.
    Reject(LogError),
}

/// The broker rules for an idempotent batch, given the current state.
/// `has_state` is false when the producer has no (unexpired) state here;
/// `find` looks a (first, last) sequence pair up in the window.
#[inline]
pub(crate) fn judge(
    current_epoch: u16,
    last_sequence: i32,
    has_state: bool,
    header: &BatchHeader,
    last_in_batch: i32,
    find: impl FnOnce(i32, i32) -> Option<BatchMetadata>,
) -> Verdict {
    if !has_state {
        // Rule 4, no state: any sequence and epoch (Kafka >= 2.5).
        return Verdict::Append { reset: true };
    }
    let expected = sequence_add(last_sequence, 1);
    if header.epoch == current_epoch {
        if header.base_sequence == expected {
            return Verdict::Append { reset: false };
        }
        // Rule 2: exact (first, last) match in the window, same epoch.
        if let Some(original) = find(header.base_sequence, last_in_batch) {
            return Verdict::Duplicate(original);
        }
        return Verdict::Reject(LogError::OutOfOrderSequence {
            expected,
            got: header.base_sequence,
        });
    }
    if header.epoch < current_epoch {
        // Rule 3: fenced, even for an exact duplicate of an old-epoch batch.
        return Verdict::Reject(LogError::InvalidProducerEpoch {
            current: current_epoch,
            got: header.epoch,
        });
    }
    // Rule 4, higher epoch: must start at 0.
    if header.base_sequence == 0 {
        Verdict::Append { reset: true }
    } else {
        Verdict::Reject(LogError::OutOfOrderSequence {
            expected: 0,
            got: header.base_sequence,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::tests::header;

    #[test]
    fn judge_follows_the_rule_order() {
        let none = |_, _| None;
        assert_eq!(
            judge(0, 0, false, &header(9, 77), 77, none),
            Verdict::Append { reset: true }
        );
        assert_eq!(
            judge(2, 4, true, &header(2, 5), 5, none),
            Verdict::Append { reset: false }
        );
        assert_eq!(
            judge(2, 4, true, &header(2, 7), 7, none),
            Verdict::Reject(LogError::OutOfOrderSequence {
                expected: 5,
                got: 7
            })
        );
        assert_eq!(
            judge(2, 4, true, &header(1, 5), 5, none),
            Verdict::Reject(LogError::InvalidProducerEpoch { current: 2, got: 1 })
        );
        assert_eq!(
            judge(2, 4, true, &header(5, 0), 0, none),
            Verdict::Append { reset: true }
        );
        assert_eq!(
            judge(2, 4, true, &header(3, 1), 1, none),
            Verdict::Reject(LogError::OutOfOrderSequence {
                expected: 0,
                got: 1
            })
        );
    }
}
