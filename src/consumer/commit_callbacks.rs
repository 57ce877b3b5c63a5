//! The `commit_async` callbacks of one consumer that wait for its next poll
//! (or its `close`), with their results: a bounded queue, shared by the
//! in-process consumer and the Kafka backend's.

use std::collections::VecDeque;

use crate::consumer_error::ConsumerError;

/// The most `commit_async` callbacks that wait for the next poll.
pub const MAX_PENDING_COMMIT_CALLBACKS: usize = 1024;

/// A `commit_async` callback.
pub(crate) type CommitDone = Box<dyn FnOnce(Result<(), ConsumerError>) + Send>;

/// Callbacks waiting for the next poll, oldest first, each with its result.
#[derive(Default)]
pub(crate) struct CommitCallbacks {
    queue: VecDeque<(CommitDone, Result<(), ConsumerError>)>,
}

impl CommitCallbacks {
    /// Queues `on_done` with its commit's `result`. Beyond
    /// [`MAX_PENDING_COMMIT_CALLBACKS`] the oldest is handed its result now
    /// (memory stays bounded when an application commits without polling);
    /// `on_done` is queued first, so if that one panics this one still waits.
    pub(crate) fn push(&mut self, on_done: CommitDone, result: Result<(), ConsumerError>) {
        self.queue.push_back((on_done, result));
        if self.queue.len() > MAX_PENDING_COMMIT_CALLBACKS {
            if let Some((oldest, its_result)) = self.queue.pop_front() {
                oldest(its_result);
            }
        }
    }

    /// Hands every waiting callback its result, oldest first, taking each off
    /// the queue as it runs: if one panics, the ones behind it stay queued for
    /// the next poll or `close`.
    pub(crate) fn run(&mut self) {
        while let Some((callback, result)) = self.queue.pop_front() {
            callback(result);
        }
    }
}
