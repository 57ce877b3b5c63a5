//! The demo on the in-process log: a producer over a simulated faulty link,
//! in virtual time, then every partition read back.

use std::time::Duration;

use idemlog::producer::sim::LinkConfig;
use idemlog::producer::{Producer, TimeSource};
use idemlog::Log;

use crate::demo::{Mode, Options, Row};
use crate::demo_audit::Auditor;
use crate::demo_send::send_all;

/// The topic of each mode's fresh log.
const TOPIC: &str = "demo";

/// One mode on a fresh log.
pub(crate) fn run_mode(options: &Options, mode: Mode) -> Result<Row, String> {
    let log = Log::new();
    log.create_topic(TOPIC, options.partitions)
        .map_err(|e| e.to_string())?;
    let producer =
        Producer::new(&log, producer_config(options, mode)).map_err(|e| e.to_string())?;
    // Virtual time: the flush waits on the virtual clock, which never stalls.
    let sent = send_all(&producer, TOPIC, options, mode, Duration::MAX)?;
    producer
        .close(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let mut auditor = Auditor::new(&options.per_thread_counts(), options.partitions);
    read_log(&log, options.partitions, &mut auditor)?;
    Ok(Row::new(mode, options, &sent, &auditor.finish()?))
}

/// The mode's preset over a link with the options' faults, in virtual time
/// (request.timeout.ms=200 on the virtual clock).
fn producer_config(options: &Options, mode: Mode) -> idemlog::producer::ProducerConfig {
    let link = LinkConfig::new()
        .seed(options.seed ^ mode as u64)
        .drop_request_rate(options.request_loss)
        .drop_response_rate(options.response_loss)
        .retriable_error_rate(options.refusals)
        .delay_rate(options.delay, 50);
    mode.config()
        .request_timeout_ms(200)
        .retry_backoff_ms(10)
        .batch_size(4096)
        .link(link)
        .time(TimeSource::virtual_time())
}

/// Hands every record of every partition of the log to `auditor`.
fn read_log(log: &Log, partitions: u32, auditor: &mut Auditor) -> Result<(), String> {
    for p in 0..partitions {
        let mut consumer = log.consumer(TOPIC, p).map_err(|e| e.to_string())?;
        while consumer
            .poll_with(65_536, |view| auditor.view(view))
            .map_err(|e| e.to_string())?
            > 0
        {}
    }
    Ok(())
}
