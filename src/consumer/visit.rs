//! What a read callback returns: `()` to go on, or a [`ControlFlow`] to stop
//! early.

use std::ops::ControlFlow;

/// The result of a read callback (`poll_with` and friends): a callback that
/// returns `()` reads on; one that returns [`ControlFlow::Break`] stops the poll
/// after the record it was handed (that record counts as read, so the position
/// moves past it).
///
/// ```
/// use idemlog::{Log, Record};
/// use std::ops::ControlFlow;
/// let log = Log::new();
/// log.create_topic("t", 1).unwrap();
/// log.append("t", 0, None, [Record::new("a"), Record::new("stop"), Record::new("c")]).unwrap();
/// let mut consumer = log.consumer("t", 0).unwrap();
/// let read = consumer
///     .poll_with(10, |record| {
///         if record.value == b"stop" { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
///     })
///     .unwrap();
/// assert_eq!((read, consumer.position()), (2, 2));
/// ```
pub trait VisitFlow {
    /// Whether the poll stops after this record.
    fn is_break(&self) -> bool;
}

impl VisitFlow for () {
    fn is_break(&self) -> bool {
        false
    }
}

impl VisitFlow for ControlFlow<()> {
    fn is_break(&self) -> bool {
        ControlFlow::is_break(self)
    }
}
