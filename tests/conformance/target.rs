//! The `Target` abstraction: one backend the conformance checks run against,
//! and its capability table (what differs between backends, as data).
//!
//! A check sees a target only through this trait and through the public
//! [`Producer`] / [`MultiConsumer`] API that every backend provides. The trait
//! hides how a backend builds them (in process: `Producer::new(&log, ..)` and
//! `log.subscribe(..)`; a Kafka backend: a bootstrap address) and how it injects
//! faults (in process: the producer's simulated link; a Kafka backend: a
//! loopback proxy or MockCluster's request errors).

use std::time::Duration;

use idemlog::producer::{Producer, ProducerError, RecordMetadata};
use idemlog::{ConsumerError, MultiConsumer};

/// Kafka properties, `(key, value)`, as a check hands them to a target.
pub(crate) type Properties<'a> = &'a [(&'a str, &'a str)];

/// What happens to one produce request on the producer's connection to the
/// target. A script of them applies to the producer's produce requests in the
/// order it sends them (first attempts and retries alike); requests after the
/// script are delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkFault {
    /// Delivered, and the response is heard.
    Deliver,
    /// The request never reaches the broker and the connection breaks: the
    /// producer notices on its request timeout, reconnects and retries.
    LoseRequest,
    /// The request is appended, but its response is lost: the producer retries
    /// a batch the broker already has.
    LoseResponse,
}

/// The offset a target reports to the producer for a retry it deduplicated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DuplicateOffset {
    /// The original offset of the batch, and `duplicate: true` (in process:
    /// the log answers a retry with the first append's metadata).
    Original,
    /// No offset (`None`, `duplicate: false`): the broker answered the retry
    /// `DUPLICATE_SEQUENCE_NUMBER` with offset -1 (tansu), so the producer
    /// cannot know where the first copy landed.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // only the tansu target
    Unknown,
}

impl DuplicateOffset {
    /// Whether `meta`, reported for a deduplicated retry of a record first
    /// appended at `original`, is what this target promises; `Err` says why not.
    pub(crate) fn check(self, meta: &RecordMetadata, original: u64) -> Result<(), String> {
        let ok = match self {
            Self::Original => meta.offset == Some(original) && meta.duplicate,
            Self::Unknown => meta.offset.is_none(),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{self:?}: a deduplicated retry of offset {original} was reported as \
                 offset {:?}, duplicate {}",
                meta.offset, meta.duplicate
            ))
        }
    }
}

/// The capability table of one target: every difference a check allows
/// between backends is a field here, never an `if` on the target's name.
#[derive(Clone, Debug)]
pub(crate) struct Capabilities {
    /// What the producer is told for a retry the broker deduplicated: the
    /// original offset in process; unknown on tansu (it reports -1).
    pub(crate) duplicate_offset: DuplicateOffset,
    /// Whether the broker deduplicates the retries of a plain (not
    /// transactional) idempotent producer. True in process and on tansu;
    /// rdkafka's MockCluster dedups only transactional producers, so a lost
    /// response there gives two copies and the dedup check is not applicable.
    pub(crate) dedups_plain_idempotent_retries: bool,
    /// How long a new group member may wait before the group gives it its
    /// partitions (checks wait this long on top of their own timeout). Zero in
    /// process; Kafka brokers wait `group.initial.rebalance.delay.ms` (3 s by
    /// default, as does MockCluster).
    pub(crate) group_join_delay: Duration,
    /// Whether an `acks=0` send learns its offset. No in process (success is
    /// reported when the request leaves) and in Kafka's clients (-1).
    pub(crate) acks0_offset_known: bool,
    /// Whether the target can lose a produce response
    /// ([`LinkFault::LoseResponse`]): `None` if it can, else why not.
    /// MockCluster can hold a request past the producer's request timeout but
    /// not drop its response: measured, a held request is then not written
    /// at all, which is a lost request.
    pub(crate) lose_response: Option<&'static str>,
    /// The `partition.assignment.strategy` of the group checks: `range`,
    /// except on MockCluster, which refuses commits while an eager rebalance
    /// is joining (`RebalanceInProgress`, where Kafka accepts a commit of the
    /// current generation), so a revoke commit needs `cooperative-sticky` there.
    pub(crate) group_assignor: &'static str,
    /// Whether the broker's high watermark (ListOffsets latest) is the log
    /// end: yes in process and on Kafka; tansu reports the newest batch's
    /// base offset + 1, so a seek past it is refused as out of range unless
    /// every batch holds one record.
    pub(crate) high_watermark_exact: bool,
    /// Whether the target can inject [`LinkFault`]s into a producer's
    /// connection: `None` if it can, else why not (a cluster given by its
    /// address, with no proxy in front of it).
    pub(crate) link_faults: Option<&'static str>,
    /// Whether a consumer sees, per record, the idempotent producer that wrote
    /// it (producer id, epoch, sequence): yes in process
    /// (`ConsumerRecord::producer`); librdkafka does not expose it per message.
    pub(crate) producer_identity_visible: bool,
}

/// One backend the conformance suite runs against. Each check gets a fresh
/// target; a target on a shared broker keeps checks apart by the unique topic
/// names [`Target::create_topic`] returns (checks derive group ids from them).
///
/// Setup failures (a broker that cannot be reached, a topic that cannot be
/// created) panic with a message: the check fails.
pub(crate) trait Target {
    /// The capability table.
    fn capabilities(&self) -> &Capabilities;

    /// Creates a new topic with `partitions` partitions, named from `name`, and
    /// returns its full name (unique on this target).
    fn create_topic(&self, name: &str, partitions: u32) -> String;

    /// A producer with these Kafka producer properties (the target adds what it
    /// needs: addresses, short timeouts) whose produce requests meet `faults`
    /// in order ([`LinkFault`]); an empty script is a perfect connection.
    fn producer(
        &self,
        properties: Properties<'_>,
        faults: &[LinkFault],
    ) -> Result<Producer, ProducerError>;

    /// A consumer with partitions assigned by hand (`assign`, `assign_topic`),
    /// with these Kafka consumer properties; with a `group.id` it commits to
    /// that group without joining it.
    fn consumer(&self, properties: Properties<'_>) -> Result<MultiConsumer, ConsumerError>;

    /// A consumer-group member subscribed to `topics`, with these Kafka
    /// consumer properties (`group.id` among them).
    fn subscribe(
        &self,
        properties: Properties<'_>,
        topics: &[&str],
    ) -> Result<MultiConsumer, ConsumerError>;
}
