//! A tansu 0.6.0 broker (a Kafka-protocol broker, in memory) on loopback, for
//! the conformance target on a real broker. The binary is named by
//! `$IDEMLOG_TANSU` ([`TANSU_ENV`]).
//!
//! Faults come from a [`FaultProxy`](crate::fault_proxy::FaultProxy) in front
//! of it. The broker must advertise the proxy's port, not its own, or clients
//! would reach it directly once they have read the metadata:
//!
//! ```ignore
//! let p = free_port();
//! let broker = TansuBroker::start(Some(p))?;
//! let proxy = FaultProxy::start_on(p, broker.listen_addr())?;
//! // clients bootstrap from broker.bootstrap() (= "127.0.0.1:p", the proxy)
//! ```

use std::env;
use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{self, Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The environment variable holding the path of the tansu binary.
pub(crate) const TANSU_ENV: &str = "IDEMLOG_TANSU";

/// How long tansu may take to accept connections (it is ready in
/// milliseconds; the margin is for a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A port of 127.0.0.1 that was free a moment ago (bound, read, released).
/// Another process may take it before it is used: good enough on a test
/// machine, and a taken port makes the start fail loudly, not hang.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A running tansu broker with in-memory storage; Drop kills it.
#[derive(Debug)]
pub(crate) struct TansuBroker {
    /// The broker process.
    child: Child,
    /// Where it listens.
    listen: SocketAddr,
    /// The port it advertises in its metadata.
    advertised: u16,
    /// Its stdout and stderr.
    log: PathBuf,
}

impl TansuBroker {
    /// Starts tansu on a free port of 127.0.0.1, advertising
    /// `advertised_port` (a proxy's) or else its own, and waits until it
    /// accepts connections. Fails, with the log's tail, if `$IDEMLOG_TANSU`
    /// is unset, or tansu exits or does not listen within 10 s.
    pub(crate) fn start(advertised_port: Option<u16>) -> io::Result<TansuBroker> {
        let binary = env::var_os(TANSU_ENV).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{TANSU_ENV} is not set: it names the tansu 0.6.0 binary"),
            )
        })?;
        let port = free_port();
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        let advertised = advertised_port.unwrap_or(port);
        let log = env::temp_dir().join(format!("idemlog-tansu-{}-{port}.log", process::id()));
        let out = File::create(&log)?;
        let child = Command::new(&binary)
            .arg("broker")
            .args(["--listener-url", &format!("tcp://{listen}")])
            .args([
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{advertised}"),
            ])
            .args(["--storage-engine", "memory://tansu/"])
            // tansu also reads these from the environment: no schema
            // validation, no telemetry export, whatever the caller's shell has.
            .env_remove("SCHEMA_REGISTRY")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {binary:?}: {e}")))?;
        // Owned from here on, so that an error below still kills the process.
        let mut broker = TansuBroker {
            child,
            listen,
            advertised,
            log,
        };
        broker.wait_until_listening()?;
        Ok(broker)
    }

    /// Polls the listen port until it accepts a connection, the process
    /// exits, or [`START_TIMEOUT`] passes.
    fn wait_until_listening(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(self.error(&format!("tansu exited ({status})")));
            }
            if TcpStream::connect_timeout(&self.listen, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(self.error(&format!("tansu did not listen in {START_TIMEOUT:?}")));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A start failure: what happened, where, and the end of the log.
    fn error(&self, what: &str) -> io::Error {
        io::Error::other(format!(
            "{what} on {} ({}); its log:\n{}",
            self.listen,
            self.log.display(),
            self.log_tail(20)
        ))
    }

    /// Where the broker itself listens (the proxy's upstream).
    pub(crate) fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The advertised address, "127.0.0.1:PORT": what clients bootstrap from.
    pub(crate) fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }

    /// The last `lines` lines of the broker's stdout and stderr.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let log = fs::read(&self.log).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for TansuBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault_proxy::FaultProxy;
    use std::io::{Read, Write};

    /// One request, `(api key, version, body)` with header v1 (client id
    /// "idemlog"), and its response payload after the correlation id.
    fn call(addr: SocketAddr, api_key: i16, version: i16, body: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut request = [api_key.to_be_bytes(), version.to_be_bytes()].concat();
        request.extend(42i32.to_be_bytes());
        request.extend([0, 7]);
        request.extend(b"idemlog");
        request.extend(body);
        let len = (request.len() as i32).to_be_bytes();
        stream.write_all(&[&len[..], &request].concat()).unwrap();
        let mut len = [0; 4];
        stream.read_exact(&mut len).unwrap();
        let mut response = vec![0; i32::from_be_bytes(len) as usize];
        stream.read_exact(&mut response).unwrap();
        assert_eq!(response[..4], 42i32.to_be_bytes(), "correlation id");
        response.split_off(4)
    }

    #[test]
    fn tansu_starts_behind_the_proxy_and_stops() {
        if env::var_os(TANSU_ENV).is_none() {
            let error = TansuBroker::start(None).unwrap_err();
            assert!(error.to_string().contains(TANSU_ENV), "{error}");
            println!("skipped: {TANSU_ENV} is not set");
            return;
        }
        let p = free_port();
        let broker = TansuBroker::start(Some(p)).unwrap();
        let proxy = FaultProxy::start_on(p, broker.listen_addr()).unwrap();
        assert_eq!(broker.bootstrap(), format!("127.0.0.1:{p}"));
        assert!(TcpStream::connect(broker.listen_addr()).is_ok());
        // ApiVersions v0 through the proxy: error code 0.
        let versions = call(proxy.addr(), 18, 0, &[]);
        assert_eq!(versions[..2], [0, 0], "ApiVersions error code");
        // Metadata v1 (no topics): the one broker advertises the proxy's port.
        // Body: brokers [node_id, host, port, rack], starting after the count.
        let metadata = call(proxy.addr(), 3, 1, &0i32.to_be_bytes());
        let host_len = usize::from(u16::from_be_bytes([metadata[8], metadata[9]]));
        let at = 10 + host_len;
        assert_eq!(&metadata[10..at], b"127.0.0.1");
        let port = i32::from_be_bytes(metadata[at..at + 4].try_into().unwrap());
        assert_eq!(port, i32::from(p), "advertised port");
        assert_eq!(proxy.connections(), 2);
        let (listen, log) = (broker.listen_addr(), broker.log.clone());
        drop(proxy);
        drop(broker);
        assert!(TcpStream::connect(listen).is_err(), "tansu still listening");
        assert!(!log.exists(), "log left behind");
    }
}
