//! The topics a producer sends to: per topic, one batch chain per partition,
//! made on first use from the broker's metadata, and the keyless (sticky)
//! byte count.

use super::batch_chain::BatchChain;
use super::broker::Metadata;
use super::error::ProducerError;
use crate::sync::{Arc, AtomicU64, ConcurrentMap, Mutex, Ordering};

/// One topic's chains.
pub(crate) struct TopicBatches {
    // std's Arc even under loom: an immutable name (loom's Arc has no Arc<str>).
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) chains: Box<[BatchChain]>,
    /// Keyless bytes sent to the topic (drives the sticky partition).
    sticky_bytes: AtomicU64,
}

impl TopicBatches {
    pub(crate) fn partitions(&self) -> u32 {
        self.chains.len() as u32
    }

    /// Counts `bytes` of a keyless record; returns the count before it.
    pub(crate) fn add_sticky_bytes(&self, bytes: u64) -> u64 {
        // Relaxed: only spreads keyless records; publishes nothing.
        self.sticky_bytes.fetch_add(bytes, Ordering::Relaxed)
    }
}

/// Every topic of one producer.
pub(crate) struct TopicTable {
    metadata: std::sync::Arc<dyn Metadata>,
    owner: u64,
    topics: ConcurrentMap<String, Arc<TopicBatches>>,
    /// Topics in creation order, for the flusher (slow path).
    list: Mutex<TopicList>,
}

/// The creation order, and whether the closing flusher froze it.
struct TopicList {
    topics: Vec<Arc<TopicBatches>>,
    /// No topic is made after this (P3: the flusher terminates the chains of
    /// every topic made before it).
    frozen: bool,
}

impl TopicTable {
    pub(crate) fn new(metadata: std::sync::Arc<dyn Metadata>, owner: u64) -> Self {
        Self {
            metadata,
            owner,
            topics: ConcurrentMap::new(),
            list: Mutex::new(TopicList {
                topics: Vec::new(),
                frozen: false,
            }),
        }
    }

    /// The chains of topic `name`, made on first use (the broker must know
    /// it); `Closed` for a new topic once the list is frozen.
    pub(crate) fn get(&self, name: &str) -> Result<Arc<TopicBatches>, ProducerError> {
        if let Some(topic) = self.topics.get(name) {
            return Ok(topic);
        }
        let key = name.to_string();
        let count = self.metadata.partition_count(name)?;
        let made = Arc::new(TopicBatches {
            name: std::sync::Arc::from(name),
            chains: (0..count).map(|_| BatchChain::new(self.owner)).collect(),
            sticky_bytes: AtomicU64::new(0),
        });
        let mut list = self.list.lock();
        if list.frozen {
            return Err(ProducerError::Closed);
        }
        if self.topics.insert_if_absent(key.clone(), Arc::clone(&made)) {
            list.topics.push(Arc::clone(&made));
            return Ok(made);
        }
        drop(list);
        Ok(self.topics.get(&key).unwrap_or(made))
    }

    /// How many topics there are (the flusher's check before it sleeps).
    pub(crate) fn count(&self) -> usize {
        self.list.lock().topics.len()
    }

    /// Topics from position `known` of the creation order on (slow path);
    /// `freeze` makes them the last ones (the closing flusher).
    pub(crate) fn from(&self, known: usize, freeze: bool) -> Vec<Arc<TopicBatches>> {
        let mut list = self.list.lock();
        list.frozen |= freeze;
        list.topics.get(known..).unwrap_or_default().to_vec()
    }
}
