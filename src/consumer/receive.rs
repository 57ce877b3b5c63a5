//! Iterators over a consumer's records: [`Iter`] (blocking) and [`TryIter`]
//! (until caught up), over anything that can [`Receive`] one record at a time.

use std::time::Duration;

use crate::record::ConsumerRecord;

/// One owned record at a time, now or by a deadline: what the iterators need
/// from a consumer. Implemented by [`Consumer`](crate::Consumer) and
/// [`MultiConsumer`](crate::consumer::MultiConsumer).
pub trait Receive {
    /// The consumer's error type.
    type Error;

    /// The next record, if one is readable now.
    fn try_recv(&mut self) -> Result<Option<ConsumerRecord>, Self::Error>;

    /// The next record, waiting up to `timeout` (`Duration::MAX`: without
    /// limit) for it; `Ok(None)` if the timeout passed first.
    fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<ConsumerRecord>, Self::Error>;

    /// Whether `error` only says the wait was interrupted (a `wakeup`), which
    /// ends a blocking iteration quietly.
    fn is_interruption(_error: &Self::Error) -> bool {
        false
    }
}

/// A blocking iterator of owned records ([`Consumer::iter`](crate::Consumer::iter),
/// [`MultiConsumer::iter`](crate::consumer::MultiConsumer::iter)): each `next`
/// waits for the next record. An error is yielded once and ends the iteration;
/// an interruption (a consumer's `wakeup`) ends it without an item.
#[derive(Debug)]
pub struct Iter<'a, C: Receive> {
    consumer: &'a mut C,
    ended: bool,
}

impl<'a, C: Receive> Iter<'a, C> {
    pub(crate) fn new(consumer: &'a mut C) -> Self {
        Self {
            consumer,
            ended: false,
        }
    }
}

impl<C: Receive> Iterator for Iter<'_, C> {
    type Item = Result<ConsumerRecord, C::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.ended {
            match self.consumer.recv_timeout(Duration::MAX) {
                Ok(Some(record)) => return Some(Ok(record)),
                // Woken with nothing to read (a record evicted before we read it
                // answers an error, so this is no busy loop): wait again.
                Ok(None) => continue,
                Err(error) => {
                    self.ended = true;
                    if !C::is_interruption(&error) {
                        return Some(Err(error));
                    }
                }
            }
        }
        None
    }
}

/// An iterator of the records readable now ([`Consumer::try_iter`](crate::Consumer::try_iter),
/// [`MultiConsumer::try_iter`](crate::consumer::MultiConsumer::try_iter)): ends
/// when caught up. An error is yielded once and ends the iteration.
#[derive(Debug)]
pub struct TryIter<'a, C: Receive> {
    consumer: &'a mut C,
    ended: bool,
}

impl<'a, C: Receive> TryIter<'a, C> {
    pub(crate) fn new(consumer: &'a mut C) -> Self {
        Self {
            consumer,
            ended: false,
        }
    }
}

impl<C: Receive> Iterator for TryIter<'_, C> {
    type Item = Result<ConsumerRecord, C::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let next = self.consumer.try_recv().transpose();
        self.ended = !matches!(next, Some(Ok(_)));
        next
    }
}
