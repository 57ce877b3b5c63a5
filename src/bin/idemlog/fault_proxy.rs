//! A Kafka-framing TCP proxy that injects faults into Produce requests, in
//! front of a real broker (tansu): the conformance suite's tansu target
//! (`tests/conformance/tansu.rs`, by script) and `idemlog demo --backend kafka
//! --upstream` (random faults) share this file.
//!
//! Each client connection gets its own connection to the broker and two
//! forwarding threads: client -> broker parses requests (4-byte big-endian
//! length, then api_key i16, api_version i16, correlation_id i32, ...),
//! broker -> client parses responses (length, then correlation_id i32). One
//! script of [`ProduceFault`]s, shared by all connections, applies to Produce
//! requests (api key 0) in arrival order, first attempts and retries alike;
//! once it is used up each request meets the random faults
//! ([`FaultProxy::set_random`]; none by default: delivered). Other requests
//! are always forwarded.
//!
//! Every blocking read and write has a short timeout so that each thread sees
//! the stop flag: dropping the proxy ends all its threads and connections.

use std::collections::{HashSet, VecDeque};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What happens to one Produce request passing the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProduceFault {
    /// Forwarded, and its response too.
    Deliver,
    /// Not forwarded; the connection is cut.
    LoseRequest,
    /// Forwarded, but its response is dropped and the connection cut.
    LoseResponse,
}

/// How long a blocked accept, read or write waits before it looks at the stop
/// flag again: the bound on how long dropping the proxy takes per thread.
const POLL: Duration = Duration::from_millis(20);
/// The largest frame accepted; a bigger length means the framing is lost.
const MAX_FRAME: usize = 64 << 20;
/// Kafka's api key of Produce.
const PRODUCE: i16 = 0;

/// The proxy: a listener on 127.0.0.1 forwarding to `upstream`. Dropping it
/// stops the accept thread and closes every connection.
#[derive(Debug)]
pub(crate) struct FaultProxy {
    /// Where clients connect.
    addr: SocketAddr,
    /// The state the threads share.
    shared: Arc<Shared>,
    /// The accept thread; it joins the connection threads before it ends.
    accept: Option<JoinHandle<()>>,
}

/// The proxy's state, shared with every thread.
#[derive(Debug, Default)]
struct Shared {
    /// Set by Drop: every thread ends within about [`POLL`].
    stop: AtomicBool,
    /// The pending faults, for Produce requests in arrival order.
    script: Mutex<VecDeque<ProduceFault>>,
    /// The faults of the requests after the script (`None`: delivered).
    random: Mutex<Option<RandomFaults>>,
    /// Produce requests seen, on all connections.
    produce_requests: AtomicU64,
    /// Faults that took effect (a request dropped, a response dropped).
    faults_applied: AtomicU64,
    /// Client connections accepted.
    connections: AtomicU64,
}

impl FaultProxy {
    /// A proxy to `upstream` on an ephemeral port of 127.0.0.1.
    pub(crate) fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        Self::start_on(0, upstream)
    }

    /// A proxy to `upstream` on 127.0.0.1:`port` (0: an ephemeral port).
    pub(crate) fn start_on(port: u16, upstream: SocketAddr) -> io::Result<FaultProxy> {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], port)), upstream)
    }

    /// A proxy to `upstream` listening on `addr` (a local address).
    pub(crate) fn start_at(addr: SocketAddr, upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind(addr)?;
        // Nonblocking, so that the accept loop can see the stop flag.
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fault-proxy-accept".into())
                .spawn(move || accept_loop(&listener, upstream, &shared))?
        };
        Ok(FaultProxy {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address clients connect to.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the pending script: the next Produce requests (on any
    /// connection) meet these faults in order; later ones are delivered.
    pub(crate) fn set_script(&self, script: Vec<ProduceFault>) {
        *self.shared.script.lock().unwrap() = script.into();
    }

    /// Random faults for the Produce requests the script does not cover: each
    /// is lost with probability `request_loss`, or else its response with
    /// probability `response_loss` (a sequence fixed by `seed`, drawn in
    /// arrival order). Replaces earlier random faults; zero rates turn them off.
    pub(crate) fn set_random(&self, seed: u64, request_loss: f64, response_loss: f64) {
        *self.shared.random.lock().unwrap() = Some(RandomFaults {
            rng: SplitMix64(seed),
            request_loss,
            response_loss,
        });
    }

    /// Produce requests seen so far, on all connections.
    pub(crate) fn produce_requests(&self) -> u64 {
        // SeqCst: pairs with the fetch_add in the request loop; a counter, publishes nothing else.
        self.shared.produce_requests.load(Ordering::SeqCst)
    }

    /// Faults that took effect so far (a `Deliver` is not a fault).
    pub(crate) fn faults_applied(&self) -> u64 {
        // SeqCst: pairs with the fetch_adds where a fault takes effect; a counter.
        self.shared.faults_applied.load(Ordering::SeqCst)
    }

    /// Client connections accepted so far.
    pub(crate) fn connections(&self) -> u64 {
        // SeqCst: pairs with the fetch_add in the accept loop; a counter.
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Shared {
    /// The fault of the next Produce request: the script's next, else a random
    /// one, else delivered. Counts the request.
    fn next_produce_fault(&self) -> ProduceFault {
        // SeqCst: a counter; pairs with the load in `produce_requests()`.
        self.produce_requests.fetch_add(1, Ordering::SeqCst);
        if let Some(fault) = self.script.lock().unwrap().pop_front() {
            return fault;
        }
        self.random
            .lock()
            .unwrap()
            .as_mut()
            .map_or(ProduceFault::Deliver, RandomFaults::next)
    }
}

/// Seeded random faults ([`FaultProxy::set_random`]).
#[derive(Debug)]
struct RandomFaults {
    rng: SplitMix64,
    request_loss: f64,
    response_loss: f64,
}

impl RandomFaults {
    /// One draw: lose the request, else its response, else deliver.
    fn next(&mut self) -> ProduceFault {
        let draw = self.rng.next_f64();
        if draw < self.request_loss {
            ProduceFault::LoseRequest
        } else if draw < self.request_loss + self.response_loss {
            ProduceFault::LoseResponse
        } else {
            ProduceFault::Deliver
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood): a tiny seeded generator, enough for
/// fault draws (std only, so that the conformance suite can include this file).
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1): the top 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // SeqCst: pairs with the loads of `stop` in the accept and forwarding loops (they end within POLL).
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Accepts clients until the stop flag, one thread each; then joins them all,
/// so that the proxy's Drop returns only when every thread has ended.
fn accept_loop(listener: &TcpListener, upstream: SocketAddr, shared: &Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    // SeqCst: pairs with the store of `stop` in Drop.
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                // SeqCst: a counter; pairs with the load in `connections()`.
                shared.connections.fetch_add(1, Ordering::SeqCst);
                workers.retain(|worker| !worker.is_finished());
                let shared = Arc::clone(shared);
                // A thread that cannot be spawned drops (closes) the client.
                let spawned = thread::Builder::new()
                    .name("fault-proxy-conn".into())
                    .spawn(move || {
                        let _ = serve(client, upstream, &shared);
                    });
                workers.extend(spawned.ok());
            }
            // WouldBlock, or a transient error (out of file descriptors): wait
            // rather than spin.
            Err(_) => thread::sleep(POLL),
        }
    }
    for worker in workers {
        let _ = worker.join();
    }
}

/// One client connection: requests are forwarded on this thread, responses
/// on a second one. Whichever ends first (a side closed, a fault, the stop
/// flag) cuts both sockets, which ends the other.
fn serve(client: TcpStream, upstream: SocketAddr, shared: &Arc<Shared>) -> io::Result<()> {
    // Accepted sockets do not inherit the listener's nonblocking mode on
    // Linux, but nothing promises it elsewhere.
    client.set_nonblocking(false)?;
    let broker = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    for socket in [&client, &broker] {
        socket.set_read_timeout(Some(POLL))?;
        socket.set_write_timeout(Some(POLL))?;
        socket.set_nodelay(true)?;
    }
    // The correlation ids of forwarded requests whose response is to be lost.
    let doomed = Arc::new(Mutex::new(HashSet::new()));
    let responses = {
        let (client, broker) = (client.try_clone()?, broker.try_clone()?);
        let (doomed, shared) = (Arc::clone(&doomed), Arc::clone(shared));
        thread::Builder::new()
            .name("fault-proxy-resp".into())
            .spawn(move || {
                let _ = forward_responses(&broker, &client, &doomed, &shared);
                cut(&client, &broker);
            })?
    };
    let result = forward_requests(&client, &broker, &doomed, shared);
    cut(&client, &broker);
    let _ = responses.join();
    result
}

/// Client -> broker: applies the script and the random faults to Produce requests. Returns to cut
/// the connection (the caller does).
fn forward_requests(
    client: &TcpStream,
    broker: &TcpStream,
    doomed: &Mutex<HashSet<i32>>,
    shared: &Shared,
) -> io::Result<()> {
    while let Some(request) = read_frame(client, &shared.stop)? {
        let header = request.get(..8).ok_or_else(|| invalid("short request"))?;
        let api_key = i16::from_be_bytes([header[0], header[1]]);
        let correlation_id = i32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let fault = if api_key == PRODUCE {
            shared.next_produce_fault()
        } else {
            ProduceFault::Deliver
        };
        match fault {
            ProduceFault::Deliver => write_frame(broker, &request, &shared.stop)?,
            ProduceFault::LoseRequest => {
                // SeqCst: a counter; pairs with the load in `faults_applied()`.
                shared.faults_applied.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            ProduceFault::LoseResponse => {
                // Marked before forwarding: the response may be back at once.
                doomed.lock().unwrap().insert(correlation_id);
                write_frame(broker, &request, &shared.stop)?;
            }
        }
    }
    Ok(())
}

/// Broker -> client: forwards responses in order, except a doomed one, which
/// is dropped and the connection cut (by returning).
fn forward_responses(
    broker: &TcpStream,
    client: &TcpStream,
    doomed: &Mutex<HashSet<i32>>,
    shared: &Shared,
) -> io::Result<()> {
    while let Some(response) = read_frame(broker, &shared.stop)? {
        let id = response.get(..4).ok_or_else(|| invalid("short response"))?;
        let correlation_id = i32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        if doomed.lock().unwrap().remove(&correlation_id) {
            // SeqCst: a counter; pairs with the load in `faults_applied()`.
            shared.faults_applied.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        write_frame(client, &response, &shared.stop)?;
    }
    Ok(())
}

/// Cuts a proxied connection: both directions of both sockets, so that every
/// thread blocked on either ends and the client sees the connection close.
fn cut(client: &TcpStream, broker: &TcpStream) {
    let _ = client.shutdown(Shutdown::Both);
    let _ = broker.shutdown(Shutdown::Both);
}

/// Reads one frame's payload (without its length); `None` when the peer
/// closed between frames or the proxy stops.
fn read_frame(stream: &TcpStream, stop: &AtomicBool) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0; 4];
    if !fill(stream, &mut len, stop)? {
        return Ok(None);
    }
    let len = usize::try_from(i32::from_be_bytes(len))
        .ok()
        .filter(|&len| len <= MAX_FRAME)
        .ok_or_else(|| invalid("bad frame length"))?;
    let mut payload = vec![0; len];
    if !fill(stream, &mut payload, stop)? && len > 0 {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(payload))
}

/// Fills `buf`, riding out the read timeouts (they are only there to see the
/// stop flag); false if the peer closed before the first byte or on stop.
fn fill(mut stream: &TcpStream, buf: &mut [u8], stop: &AtomicBool) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        // SeqCst: pairs with the store of `stop` in Drop.
        if stop.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match stream.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Writes one frame (length, then payload), riding out the write timeouts
/// like [`fill`]; a peer that stops reading holds it only until the stop flag.
fn write_frame(mut stream: &TcpStream, payload: &[u8], stop: &AtomicBool) -> io::Result<()> {
    let len = i32::try_from(payload.len()).map_err(|_| invalid("frame too long"))?;
    let frame = [&len.to_be_bytes()[..], payload].concat();
    let mut written = 0;
    while written < frame.len() {
        // SeqCst: pairs with the store of `stop` in Drop.
        if stop.load(Ordering::SeqCst) {
            return Err(ErrorKind::Interrupted.into());
        }
        match stream.write(&frame[written..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether `e` is a socket timeout (or an interrupted call): try again.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// An `InvalidData` error: the peer does not speak Kafka's framing.
fn invalid(what: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    use ProduceFault::{Deliver, LoseRequest, LoseResponse};

    /// How long a test client waits for a reply or a close before failing.
    const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

    /// A fake broker speaking Kafka's framing: answers every request with its
    /// correlation id and api key, except `acks=0` Produce requests; records
    /// the (api key, correlation id) of each request it got.
    struct Upstream {
        addr: SocketAddr,
        stop: Arc<AtomicBool>,
        got: Arc<Mutex<Vec<(i16, i32)>>>,
        thread: Option<JoinHandle<()>>,
    }

    impl Upstream {
        fn start() -> Upstream {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let addr = listener.local_addr().unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let got = Arc::new(Mutex::new(Vec::new()));
            let (stop2, got2) = (Arc::clone(&stop), Arc::clone(&got));
            let thread = thread::spawn(move || {
                let mut connections = Vec::new();
                // SeqCst: pairs with the store of `stop` at the end of the test.
                while !stop2.load(Ordering::SeqCst) {
                    let Ok((socket, _)) = listener.accept() else {
                        thread::sleep(POLL);
                        continue;
                    };
                    let (stop, got) = (Arc::clone(&stop2), Arc::clone(&got2));
                    connections.push(thread::spawn(move || answer(socket, &stop, &got)));
                }
                for connection in connections {
                    let _ = connection.join();
                }
            });
            Upstream {
                addr,
                stop,
                got,
                thread: Some(thread),
            }
        }

        /// Whether a request with this api key and correlation id arrived,
        /// waiting up to half a second for it.
        fn got(&self, api_key: i16, correlation_id: i32) -> bool {
            let deadline = Instant::now() + Duration::from_millis(500);
            loop {
                if self
                    .got
                    .lock()
                    .unwrap()
                    .contains(&(api_key, correlation_id))
                {
                    return true;
                }
                if Instant::now() > deadline {
                    return false;
                }
                thread::sleep(Duration::from_millis(5));
            }
        }
    }

    impl Drop for Upstream {
        fn drop(&mut self) {
            // SeqCst: pairs with the loads of `stop` in the accept and forwarding loops (they end within POLL).
            self.stop.store(true, Ordering::SeqCst);
            let _ = self.thread.take().unwrap().join();
        }
    }

    /// The fake broker's side of one connection.
    fn answer(socket: TcpStream, stop: &AtomicBool, got: &Mutex<Vec<(i16, i32)>>) {
        socket.set_nonblocking(false).unwrap();
        socket.set_read_timeout(Some(POLL)).unwrap();
        while let Ok(Some(request)) = read_frame(&socket, stop) {
            let api_key = i16::from_be_bytes([request[0], request[1]]);
            let id = [request[4], request[5], request[6], request[7]];
            got.lock().unwrap().push((api_key, i32::from_be_bytes(id)));
            // acks, where request() puts it: no response to acks=0.
            if api_key == PRODUCE && request[13..15] == [0, 0] {
                continue;
            }
            let response = [&id[..], &request[..2]].concat();
            if write_frame(&socket, &response, stop).is_err() {
                return;
            }
        }
    }

    /// A request payload: Produce v3 with these `acks` (and no topics), or
    /// an empty request of another api.
    fn request(api_key: i16, correlation_id: i32, acks: i16) -> Vec<u8> {
        let mut payload = [api_key.to_be_bytes(), 3i16.to_be_bytes()].concat();
        payload.extend(correlation_id.to_be_bytes());
        payload.extend([0, 1, b't']); // client_id "t"
        if api_key == PRODUCE {
            payload.extend((-1i16).to_be_bytes()); // no transactional id
            payload.extend(acks.to_be_bytes());
            payload.extend([0, 0, 0x75, 0x30, 0, 0, 0, 0]); // timeout, no topics
        }
        payload
    }

    /// A client connection to the proxy.
    fn connect(proxy: &FaultProxy) -> TcpStream {
        let client = TcpStream::connect(proxy.addr()).unwrap();
        client.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        client
    }

    /// Sends a request frame.
    fn send(mut client: &TcpStream, payload: &[u8]) {
        let len = payload.len() as i32;
        client
            .write_all(&[&len.to_be_bytes()[..], payload].concat())
            .unwrap();
    }

    /// The correlation id of the next response, or `None` if the proxy cut
    /// the connection; panics if neither happens in [`REPLY_TIMEOUT`].
    fn reply(mut client: &TcpStream) -> Option<i32> {
        let mut frame = [0; 10]; // length, correlation id, api key
        match client.read_exact(&mut frame) {
            Ok(()) => Some(i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]])),
            Err(e) if is_timeout(&e) => panic!("no reply nor close in {REPLY_TIMEOUT:?}"),
            Err(_) => None, // EOF or reset: cut
        }
    }

    #[test]
    fn deliver_forwards_requests_and_responses() {
        let upstream = Upstream::start();
        let proxy = FaultProxy::start(upstream.addr).unwrap();
        proxy.set_script(vec![Deliver]);
        let client = connect(&proxy);
        send(&client, &request(3, 1, 0));
        send(&client, &request(PRODUCE, 2, 1));
        send(&client, &request(3, 3, 0));
        assert_eq!(reply(&client), Some(1));
        assert_eq!(reply(&client), Some(2));
        assert_eq!(reply(&client), Some(3));
        assert!(upstream.got(PRODUCE, 2));
        let counters = (proxy.produce_requests(), proxy.faults_applied());
        assert_eq!((counters, proxy.connections()), ((1, 0), 1));
    }

    #[test]
    fn lose_request_cuts_without_forwarding() {
        let upstream = Upstream::start();
        let proxy = FaultProxy::start(upstream.addr).unwrap();
        proxy.set_script(vec![LoseRequest]);
        let client = connect(&proxy);
        // Not a Produce request: forwarded, and the script is kept.
        send(&client, &request(3, 1, 0));
        assert_eq!(reply(&client), Some(1));
        send(&client, &request(PRODUCE, 2, 1));
        assert_eq!(reply(&client), None);
        assert!(!upstream.got(PRODUCE, 2));
        assert_eq!((proxy.produce_requests(), proxy.faults_applied()), (1, 1));
    }

    #[test]
    fn lose_response_forwards_then_cuts() {
        let upstream = Upstream::start();
        let proxy = FaultProxy::start(upstream.addr).unwrap();
        proxy.set_script(vec![LoseResponse]);
        let client = connect(&proxy);
        send(&client, &request(PRODUCE, 7, -1));
        assert_eq!(reply(&client), None);
        assert!(upstream.got(PRODUCE, 7));
        assert_eq!((proxy.produce_requests(), proxy.faults_applied()), (1, 1));
    }

    #[test]
    fn script_spans_connections_in_arrival_order() {
        let upstream = Upstream::start();
        let proxy = FaultProxy::start(upstream.addr).unwrap();
        proxy.set_script(vec![LoseRequest, LoseRequest, LoseRequest]);
        // Replaced, not appended to.
        proxy.set_script(vec![LoseRequest, Deliver, LoseResponse]);
        let mut seen = Vec::new();
        for id in 1..=4 {
            let client = connect(&proxy);
            send(&client, &request(PRODUCE, id, 1));
            seen.push(reply(&client));
        }
        assert_eq!(seen, [None, Some(2), None, Some(4)]);
        assert!(!upstream.got(PRODUCE, 1) && upstream.got(PRODUCE, 3));
        let counters = (proxy.produce_requests(), proxy.faults_applied());
        assert_eq!((counters, proxy.connections()), ((4, 2), 4));
    }

    #[test]
    fn acks0_is_not_waited_for() {
        let upstream = Upstream::start();
        let proxy = FaultProxy::start(upstream.addr).unwrap();
        let client = connect(&proxy);
        // No response to an acks=0 request; the next one still comes back.
        send(&client, &request(PRODUCE, 1, 0));
        send(&client, &request(3, 2, 0));
        assert_eq!(reply(&client), Some(2));
        // A lost response of acks=0 has nothing to drop: no effect.
        proxy.set_script(vec![LoseResponse]);
        send(&client, &request(PRODUCE, 3, 0));
        send(&client, &request(3, 4, 0));
        assert_eq!(reply(&client), Some(4));
        assert!(upstream.got(PRODUCE, 1) && upstream.got(PRODUCE, 3));
        assert_eq!((proxy.produce_requests(), proxy.faults_applied()), (2, 0));
    }

    /// Sends `n` Produce requests (correlation ids 1..=n) through `proxy`,
    /// one at a time, reconnecting after each cut; returns the fault each met,
    /// told apart by whether a reply came back and the upstream got it.
    fn faults_met(proxy: &FaultProxy, upstream: &Upstream, n: i32) -> Vec<ProduceFault> {
        let mut client = connect(proxy);
        let mut replied = Vec::new();
        for id in 1..=n {
            send(&client, &request(PRODUCE, id, 1));
            replied.push(reply(&client).is_some());
            if !replied[replied.len() - 1] {
                client = connect(proxy);
            }
        }
        // A request's arrival is recorded before its response is written, so
        // before the client sees a reply or a cut: no waiting needed.
        let got: HashSet<i32> = upstream.got.lock().unwrap().iter().map(|g| g.1).collect();
        (1..=n)
            .zip(replied)
            .map(|(id, replied)| match (replied, got.contains(&id)) {
                (true, _) => Deliver,
                (false, true) => LoseResponse,
                (false, false) => LoseRequest,
            })
            .collect()
    }

    #[test]
    fn random_faults_are_fixed_by_the_seed() {
        let upstream = Upstream::start();
        let run = |seed| {
            let proxy = FaultProxy::start(upstream.addr).unwrap();
            proxy.set_random(seed, 0.2, 0.2);
            let faults = faults_met(&proxy, &upstream, 100);
            let lost = faults.iter().filter(|&&f| f != Deliver).count() as u64;
            assert_eq!(
                (proxy.produce_requests(), proxy.faults_applied()),
                (100, lost)
            );
            upstream.got.lock().unwrap().clear();
            faults
        };
        let first = run(7);
        assert_eq!(run(7), first);
        assert_ne!(run(8), first);
        assert!(first.contains(&LoseRequest) && first.contains(&LoseResponse));
    }

    #[test]
    fn random_faults_honour_their_rates() {
        let upstream = Upstream::start();
        let proxy = FaultProxy::start(upstream.addr).unwrap();
        proxy.set_random(42, 0.05, 0.1);
        let faults = faults_met(&proxy, &upstream, 2000);
        let count = |fault| faults.iter().filter(|&&f| f == fault).count();
        // Expected 100 and 200; the bounds are about 5 standard deviations.
        let (requests, responses) = (count(LoseRequest), count(LoseResponse));
        assert!((55..=145).contains(&requests), "{requests} requests lost");
        assert!(
            (135..=265).contains(&responses),
            "{responses} responses lost"
        );
        let counters = (proxy.produce_requests(), proxy.faults_applied());
        assert_eq!(counters, (2000, (requests + responses) as u64));
    }

    #[test]
    fn the_script_comes_before_the_random_faults() {
        let upstream = Upstream::start();
        let proxy = FaultProxy::start(upstream.addr).unwrap();
        proxy.set_random(1, 1.0, 0.0);
        proxy.set_script(vec![Deliver, LoseResponse]);
        let faults = faults_met(&proxy, &upstream, 4);
        assert_eq!(faults, [Deliver, LoseResponse, LoseRequest, LoseRequest]);
        // Zero rates: every request is delivered again.
        proxy.set_random(1, 0.0, 0.0);
        upstream.got.lock().unwrap().clear();
        assert_eq!(faults_met(&proxy, &upstream, 3), [Deliver; 3]);
    }

    #[test]
    fn drop_closes_connections_and_frees_the_port() {
        let upstream = Upstream::start();
        let proxy = FaultProxy::start(upstream.addr).unwrap();
        let addr = proxy.addr();
        let client = connect(&proxy);
        send(&client, &request(3, 1, 0));
        assert_eq!(reply(&client), Some(1));
        // An idle client and its broker connection hold no thread past Drop:
        // it joins every thread of the proxy.
        let started = Instant::now();
        drop(proxy);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(reply(&client), None);
        assert!(TcpStream::connect(addr).is_err());
        let again = FaultProxy::start_on(addr.port(), upstream.addr).unwrap();
        assert_eq!(again.addr(), addr);
    }
}
