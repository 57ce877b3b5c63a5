//! [`ClientProperties`]: what a producer or consumer config keeps for the Kafka
//! backend: `bootstrap.servers`, and the Kafka keys that change nothing in
//! process (each config's `IGNORED_KEYS`), in the order they were set. The
//! in-process log ignores both; the Kafka backend (`src/kafka/properties.rs`)
//! translates them for librdkafka.

/// See the module comment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClientProperties {
    bootstrap_servers: Option<Box<str>>,
    ignored: Vec<(Box<str>, Box<str>)>,
}

impl ClientProperties {
    /// Records `bootstrap.servers`; `Err` says why it is refused (an empty
    /// list, or a build without the `kafka` feature).
    pub(crate) fn set_bootstrap_servers(&mut self, servers: &str) -> Result<(), &'static str> {
        if !cfg!(feature = "kafka") {
            return Err(
                "this build of idemlog has no Kafka backend: enable its `kafka` \
                        feature (an in-process client writes to the Log it is given)",
            );
        }
        if servers.is_empty() {
            return Err("expected a comma-separated list of host:port");
        }
        self.bootstrap_servers = Some(servers.into());
        Ok(())
    }

    /// `bootstrap.servers`, if set.
    pub(crate) fn bootstrap_servers(&self) -> Option<&str> {
        self.bootstrap_servers.as_deref()
    }

    /// Records a key that changes nothing in process (a later value of the
    /// same key replaces the earlier one).
    pub(crate) fn record_ignored(&mut self, key: &str, value: &str) {
        match self.ignored.iter_mut().find(|(known, _)| &**known == key) {
            Some((_, old)) => *old = value.into(),
            None => self.ignored.push((key.into(), value.into())),
        }
    }

    /// The recorded ignored keys, in the order they were first set.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    pub(crate) fn ignored(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ignored.iter().map(|(key, value)| (&**key, &**value))
    }
}
