//! `ProducerConfig` from arbitrary Kafka properties, typed setters and dedup
//! windows, against a small reference model of the documented rules.
//!
//! Checked for every input:
//! - nothing panics (`from_properties`, `set`, `resolve`);
//! - `from_properties` gives exactly the error the model expects (kind and key:
//!   the first unknown or unsupported key or unparsable/out-of-range value,
//!   else the idempotence conflict when idempotence was set explicitly, else the
//!   delivery-timeout conflict when the delivery timeout was set explicitly),
//!   and the Display of every error names its (trimmed) key; a value of sign and
//!   digits is never "not an integer";
//! - keys are trimmed; the Java-client keys of `ProducerConfig::IGNORED_KEYS`
//!   change nothing, those of `UNSUPPORTED_KEYS` are errors unless Kafka's
//!   default;
//! - a failed `set` leaves the config unchanged; a successful one stores the
//!   model's value;
//! - every accepted config keeps the invariants: idempotence implies acks=all,
//!   retries > 0 and (after `resolve(window)`) in-flight <= window; delivery
//!   timeout >= linger + request timeout (an unset one raised to their sum);
//!   `resolve` sets idempotence explicitly, keeps an explicit setting and turns
//!   an unset one off only on a conflict.
//!
//! Byte format (every read yields 0 once the input runs out): the window
//! (1 byte: `% 8` below 248, else 8 raw bytes as u64), then ops until the input
//! ends (at most 24): an op byte `% 8`: 0-5 a property (key, value), 6 a typed
//! setter, 7 `resolve` now (on a clone). Keys: byte `% 4`: 0 a real key
//! (`KEYS[next % 11]`), 1 a Java-client key (ignored or unsupported: `next %`
//! their number), 2 a near miss of a real key, 3 a string. Values: see `value`.
//! `fuzz/make_seeds.py` writes the hand-made seeds.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use idemlog::producer::{Acks, ConfigError, ProducerConfig, KEYS};
use libfuzzer_sys::fuzz_target;

const MAX_OPS: usize = 24;
/// Kafka's `int` and `long` keys' largest values (src/producer/config.rs).
const KAFKA_INT: u64 = i32::MAX as u64;
const KAFKA_LONG: u64 = i64::MAX as u64;

type R<T> = arbitrary::Result<T>;

fn byte(u: &mut Unstructured<'_>) -> R<u8> {
    u8::arbitrary(u)
}

fn u64le(u: &mut Unstructured<'_>) -> R<u64> {
    let mut bytes = [0u8; 8];
    for b in &mut bytes {
        *b = byte(u)?;
    }
    Ok(u64::from_le_bytes(bytes))
}

/// A short string, its length given by the first byte (`% 16`).
fn text(u: &mut Unstructured<'_>) -> R<String> {
    let len = usize::from(byte(u)? % 16);
    let mut bytes = Vec::with_capacity(len);
    for _ in 0..len {
        bytes.push(byte(u)?);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn real_key(u: &mut Unstructured<'_>) -> R<&'static str> {
    Ok(KEYS[usize::from(byte(u)?) % KEYS.len()])
}

/// The Java-client keys idemlog ignores or rejects, by index.
fn java_key(u: &mut Unstructured<'_>) -> R<&'static str> {
    let ignored = ProducerConfig::IGNORED_KEYS;
    let unsupported = ProducerConfig::UNSUPPORTED_KEYS;
    let i = usize::from(byte(u)?) % (ignored.len() + unsupported.len());
    Ok(*ignored
        .get(i)
        .unwrap_or_else(|| &unsupported[i - ignored.len()]))
}

fn key(u: &mut Unstructured<'_>) -> R<String> {
    Ok(match byte(u)? % 4 {
        0 => real_key(u)?.to_string(),
        1 => java_key(u)?.to_string(),
        2 => {
            let real = real_key(u)?;
            match byte(u)? % 8 {
                0 => real.to_ascii_uppercase(),
                1 => format!("{real} "),
                2 => format!(" {real}"),
                3 => real.replace('.', "_"),
                4 => format!("producer.{real}"),
                5 => real[..real.len() - 1].to_string(),
                6 => format!("{real}s"),
                _ => real.replacen('.', "", 1),
            }
        }
        _ => text(u)?,
    })
}

/// Values: numbers (small, boundaries, huge, negative, signed, padded, not
/// decimal), the enum words in several cases (compression types too), empty
/// and arbitrary strings.
fn value(u: &mut Unstructured<'_>) -> R<String> {
    const FIXED: [&str; 38] = [
        "0",
        "1",
        "-1",
        "all",
        "ALL",
        "All",
        "true",
        "false",
        "TRUE",
        "False",
        "yes",
        "",
        " ",
        "2147483647",
        "2147483648",
        "-2147483648",
        "2147483647000",
        "2147483647001",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "170141183460469231731687303715884105728",
        "+5",
        "-0",
        " 5 ",
        "5.0",
        "1e3",
        "0x10",
        "5ms",
        "\t30000\n",
        "١٢",
        "NaN",
        "none",
        "GZIP",
        "zstd",
        "brotli",
        "12345678901234567890123456789012345678901234",
        "-12345678901234567890123456789012345678901234",
    ];
    Ok(match byte(u)? % 8 {
        0 | 1 => FIXED[usize::from(byte(u)?) % FIXED.len()].to_string(),
        2 => byte(u)?.to_string(),
        3 => u16::from_le_bytes([byte(u)?, byte(u)?]).to_string(),
        4 => u64le(u)?.to_string(),
        5 => (u64le(u)? as i64).to_string(),
        6 => (-i64::from(byte(u)?)).to_string(),
        _ => text(u)?,
    })
}

/// The model's settings (the observable ones, plus the rest through Debug).
#[derive(Clone, Debug, PartialEq)]
struct Model {
    idempotence: Option<bool>,
    acks: Acks,
    retries: u64,
    max_in_flight: u64,
    delivery_timeout_ms: u64,
    delivery_timeout_set: bool,
    request_timeout_ms: u64,
    linger_ms: u64,
    batch_size: u64,
    retry_backoff_ms: u64,
    buffer_memory: u64,
    max_block_ms: u64,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            idempotence: None,
            acks: Acks::All,
            retries: i32::MAX as u64,
            max_in_flight: 5,
            delivery_timeout_ms: 120_000,
            delivery_timeout_set: false,
            request_timeout_ms: 30_000,
            linger_ms: 5,
            batch_size: 16_384,
            retry_backoff_ms: 100,
            buffer_memory: 33_554_432,
            max_block_ms: 60_000,
        }
    }
}

/// What the model expects of an operation that can fail: the error kind and key.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    UnknownKey(String),
    InvalidValue(String),
    Conflict(String),
    Unsupported(String),
}

fn kind(result: &Result<(), ConfigError>) -> Expect {
    match result {
        Ok(()) => Expect::Ok,
        Err(ConfigError::UnknownKey { key }) => Expect::UnknownKey(key.clone()),
        Err(ConfigError::InvalidValue { key, .. }) => Expect::InvalidValue(key.clone()),
        Err(ConfigError::Conflict { key, .. }) => Expect::Conflict(key.clone()),
        Err(ConfigError::Unsupported { key, .. }) => Expect::Unsupported(key.clone()),
    }
}

/// Optional sign, then ASCII digits.
fn integer_syntax(value: &str) -> bool {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A decimal integer (optional sign, ASCII digits) in `min..=max`.
fn number(value: &str, min: u64, max: u64) -> Option<u64> {
    if !integer_syntax(value) {
        return None;
    }
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    let negative = value.starts_with('-');
    let magnitude = digits.trim_start_matches('0');
    if magnitude.len() > 20 {
        return None;
    }
    let n: u128 = if magnitude.is_empty() {
        0
    } else {
        magnitude.parse().ok()?
    };
    if negative && n != 0 {
        return None;
    }
    (u128::from(min)..=u128::from(max))
        .contains(&n)
        .then_some(n as u64)
}

impl Model {
    /// `set`, as documented: unknown or unsupported key, unparsable or
    /// out-of-range value.
    fn set(&mut self, key: &str, value: &str) -> Expect {
        let key = key.trim();
        let value = value.trim();
        let lower = value.to_ascii_lowercase();
        let invalid = || Expect::InvalidValue(key.to_string());
        let unsupported = || Expect::Unsupported(key.to_string());
        let field = match key {
            "enable.idempotence" => {
                self.idempotence = Some(match lower.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return invalid(),
                });
                return Expect::Ok;
            }
            "acks" => {
                self.acks = match lower.as_str() {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    _ => return invalid(),
                };
                return Expect::Ok;
            }
            "compression.type" => {
                return match lower.as_str() {
                    "none" | "gzip" | "snappy" | "lz4" | "zstd" => Expect::Ok,
                    _ => invalid(),
                }
            }
            "bootstrap.servers" | "transactional.id" | "partitioner.class" => return unsupported(),
            "partitioner.ignore.keys" => {
                return match lower.as_str() {
                    "false" => Expect::Ok,
                    "true" => unsupported(),
                    _ => invalid(),
                }
            }
            "interceptor.classes" if value.is_empty() => return Expect::Ok,
            "interceptor.classes" => return unsupported(),
            "retries" => (&mut self.retries, 0, i32::MAX as u64),
            "max.in.flight.requests.per.connection" => {
                (&mut self.max_in_flight, 1, i32::MAX as u64)
            }
            "delivery.timeout.ms" => {
                let Some(n) = number(value, 0, KAFKA_INT) else {
                    return invalid();
                };
                self.delivery_timeout_ms = n;
                self.delivery_timeout_set = true;
                return Expect::Ok;
            }
            "request.timeout.ms" => (&mut self.request_timeout_ms, 0, KAFKA_INT),
            "linger.ms" => (&mut self.linger_ms, 0, KAFKA_LONG),
            "batch.size" => (&mut self.batch_size, 0, i32::MAX as u64),
            "retry.backoff.ms" => (&mut self.retry_backoff_ms, 0, KAFKA_LONG),
            "buffer.memory" => (&mut self.buffer_memory, 1, i64::MAX as u64),
            "max.block.ms" => (&mut self.max_block_ms, 0, KAFKA_LONG),
            _ if ProducerConfig::IGNORED_KEYS.contains(&key) => return Expect::Ok,
            _ => return Expect::UnknownKey(key.to_string()),
        };
        let (slot, min, max) = field;
        match number(value, min, max) {
            Some(n) => {
                *slot = n;
                Expect::Ok
            }
            None => invalid(),
        }
    }

    /// The idempotence conflict for `window` (`None`: no in-flight bound).
    fn conflict(&self, window: Option<u64>) -> bool {
        self.acks != Acks::All
            || self.retries == 0
            || window.is_some_and(|w| self.max_in_flight > w)
    }

    /// `resolve` (window `Some`) / the end of `from_properties` (`None`).
    fn resolve(&self, window: Option<u64>) -> (Expect, Model) {
        let mut out = self.clone();
        if self.max_in_flight == 0 {
            return (Expect::InvalidValue(KEYS[3].to_string()), out);
        }
        // Kafka's int range, as the properties enforce it.
        for (key, value) in [(KEYS[2], self.retries), (KEYS[3], self.max_in_flight)] {
            if value > i32::MAX as u64 {
                return (Expect::InvalidValue(key.to_string()), out);
            }
        }
        if self.buffer_memory == 0 {
            return (Expect::InvalidValue(KEYS[9].to_string()), out);
        }
        if self.idempotence != Some(false) && self.conflict(window) {
            if self.idempotence == Some(true) {
                return (Expect::Conflict(KEYS[0].to_string()), out);
            }
            out.idempotence = Some(false);
        }
        let needed = self.linger_ms.saturating_add(self.request_timeout_ms);
        if self.delivery_timeout_ms < needed {
            if self.delivery_timeout_set {
                return (Expect::Conflict(KEYS[4].to_string()), out);
            }
            out.delivery_timeout_ms = needed;
        }
        if window.is_some() && out.idempotence.is_none() {
            out.idempotence = Some(true);
        }
        (Expect::Ok, out)
    }
}

/// The number after `field: ` in the config's Debug output.
fn debug_field(debug: &str, field: &str) -> u64 {
    let pattern = format!(" {field}: ");
    let start = debug
        .find(&pattern)
        .unwrap_or_else(|| panic!("no {field} in {debug}"))
        + pattern.len();
    let digits: String = debug[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{field} is not a number in {debug}"))
}

/// The real config's observable settings, as a `Model`.
fn observe(config: &ProducerConfig) -> Model {
    let debug = format!("{config:?}");
    Model {
        idempotence: config.idempotence_setting(),
        acks: config.acks_setting(),
        retries: u64::from(config.retries_setting()),
        max_in_flight: u64::from(config.max_in_flight_setting()),
        delivery_timeout_ms: debug_field(&debug, "delivery_timeout_ms"),
        delivery_timeout_set: debug.contains(" delivery_timeout_set: true,"),
        request_timeout_ms: debug_field(&debug, "request_timeout_ms"),
        linger_ms: debug_field(&debug, "linger_ms"),
        batch_size: debug_field(&debug, "batch_size"),
        retry_backoff_ms: debug_field(&debug, "retry_backoff_ms"),
        buffer_memory: debug_field(&debug, "buffer_memory"),
        max_block_ms: debug_field(&debug, "max_block_ms"),
    }
}

/// Every error names its key in its Display, and is of a documented kind for it.
fn check_error(err: &ConfigError) {
    let shown = err.to_string();
    let key = match err {
        ConfigError::UnknownKey { key } => {
            assert!(
                !KEYS.contains(&key.as_str())
                    && !ProducerConfig::IGNORED_KEYS.contains(&key.as_str())
                    && !ProducerConfig::UNSUPPORTED_KEYS.contains(&key.as_str()),
                "known key reported unknown: {err:?}"
            );
            key
        }
        ConfigError::InvalidValue { key, value, reason } => {
            assert!(
                KEYS.contains(&key.as_str())
                    || ["compression.type", "partitioner.ignore.keys"].contains(&key.as_str()),
                "invalid value of an unknown key: {err:?}"
            );
            assert!(
                shown.contains(value.as_str()),
                "{shown:?} does not show {value:?}"
            );
            assert!(
                !(reason.contains("not an integer") && integer_syntax(value)),
                "an integer reported as not an integer: {err:?}"
            );
            key
        }
        ConfigError::Unsupported { key, .. } => {
            assert!(
                ProducerConfig::UNSUPPORTED_KEYS.contains(&key.as_str()),
                "unsupported key not listed: {err:?}"
            );
            key
        }
        ConfigError::Conflict { key, .. } => {
            assert!(
                key == KEYS[0] || key == KEYS[4],
                "conflict on an unexpected key: {err:?}"
            );
            key
        }
    };
    assert!(
        shown.contains(key.as_str()),
        "{shown:?} does not name {key:?}"
    );
    assert_eq!(key.trim(), key, "the key is not trimmed: {err:?}");
}

/// The documented invariants of an accepted config (`window`: after `resolve`).
fn check_accepted(config: &ProducerConfig, window: Option<u64>) {
    let seen = observe(config);
    if config.is_idempotent() {
        assert_eq!(
            config.acks_setting(),
            Acks::All,
            "idempotent without acks=all: {config:?}"
        );
        assert!(
            config.retries_setting() > 0,
            "idempotent with retries=0: {config:?}"
        );
        if let Some(window) = window {
            assert!(
                u64::from(config.max_in_flight_setting()) <= window,
                "idempotent with in-flight > window {window}: {config:?}"
            );
        }
    }
    if window.is_some() {
        assert!(
            config.idempotence_setting().is_some(),
            "resolve left idempotence unset: {config:?}"
        );
    }
    assert!(
        seen.delivery_timeout_ms >= seen.linger_ms.saturating_add(seen.request_timeout_ms),
        "delivery timeout below linger + request timeout: {config:?}"
    );
    assert!(
        seen.max_in_flight >= 1 && seen.buffer_memory >= 1,
        "{config:?}"
    );
}

#[derive(Debug)]
enum Op {
    Property(String, String),
    /// A typed setter: which (`% 8`) and its raw value.
    Typed(u8, u64),
    Resolve,
}

#[derive(Debug)]
struct Input {
    window: u64,
    ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> R<Self> {
        let w = byte(u)?;
        let window = if w < 248 { u64::from(w % 8) } else { u64le(u)? };
        let mut ops = Vec::new();
        while !u.is_empty() && ops.len() < MAX_OPS {
            ops.push(match byte(u)? % 8 {
                0..=5 => Op::Property(key(u)?, value(u)?),
                6 => {
                    let which = byte(u)?;
                    let raw = match byte(u)? % 4 {
                        0 => 0,
                        1 => u64::from(byte(u)?),
                        2 => u64::from(u16::from_le_bytes([byte(u)?, byte(u)?])),
                        _ => u64le(u)?,
                    };
                    Op::Typed(which, raw)
                }
                _ => Op::Resolve,
            });
        }
        Ok(Self { window, ops })
    }
}

fn typed(config: ProducerConfig, model: &mut Model, which: u8, raw: u64) -> ProducerConfig {
    let small = raw as u32;
    match which % 8 {
        0 => {
            model.idempotence = Some(raw % 2 == 1);
            config.enable_idempotence(raw % 2 == 1)
        }
        1 => {
            let acks = [Acks::None, Acks::Leader, Acks::All][(raw % 3) as usize];
            model.acks = acks;
            config.acks(acks)
        }
        2 => {
            model.retries = u64::from(small);
            config.retries(small)
        }
        3 => {
            model.max_in_flight = u64::from(small);
            config.max_in_flight(small)
        }
        4 => {
            model.delivery_timeout_ms = raw;
            model.delivery_timeout_set = true;
            config.delivery_timeout_ms(raw)
        }
        5 => {
            model.request_timeout_ms = raw;
            config.request_timeout_ms(raw)
        }
        6 => {
            model.linger_ms = raw;
            config.linger_ms(raw)
        }
        _ => {
            model.buffer_memory = raw;
            config.buffer_memory(raw as usize)
        }
    }
}

fn check_resolve(config: &ProducerConfig, model: &Model, window: u64) {
    let result = config.clone().resolve(window as usize);
    let (expected, resolved) = model.resolve(Some(window));
    let got = kind(&result.as_ref().map(|_| ()).map_err(Clone::clone));
    assert_eq!(got, expected, "resolve({window}) of {config:?}");
    match result {
        Ok(accepted) => {
            check_accepted(&accepted, Some(window));
            assert_eq!(
                observe(&accepted),
                resolved,
                "resolve({window}) of {config:?}"
            );
        }
        Err(err) => check_error(&err),
    }
}

fuzz_target!(|input: Input| {
    // from_properties over the property ops, against the model.
    let properties: Vec<(&str, &str)> = input
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Property(k, v) => Some((k.as_str(), v.as_str())),
            _ => None,
        })
        .collect();
    let mut model = Model::default();
    let mut expected = Expect::Ok;
    for (k, v) in &properties {
        expected = model.set(k, v);
        if expected != Expect::Ok {
            break;
        }
    }
    let mut resolved = model.clone();
    if expected == Expect::Ok {
        (expected, resolved) = model.resolve(None);
    }
    let result = ProducerConfig::from_properties(properties.iter().copied());
    let got = kind(&result.as_ref().map(|_| ()).map_err(Clone::clone));
    assert_eq!(got, expected, "from_properties({properties:?})");
    match result {
        Ok(config) => {
            check_accepted(&config, None);
            assert_eq!(
                observe(&config),
                resolved,
                "from_properties({properties:?})"
            );
            check_resolve(&config, &resolved, input.window);
        }
        Err(err) => check_error(&err),
    }

    // The same ops one by one on a typed config: set, typed setters, resolve.
    let mut config = ProducerConfig::new();
    let mut model = Model::default();
    for op in &input.ops {
        match op {
            Op::Property(k, v) => {
                let before = format!("{config:?}");
                let result = config.set(k, v);
                let expected = model.set(k, v);
                assert_eq!(kind(&result), expected, "set({k:?}, {v:?})");
                match result {
                    Ok(()) => assert_eq!(observe(&config), model, "set({k:?}, {v:?})"),
                    Err(err) => {
                        check_error(&err);
                        assert_eq!(
                            format!("{config:?}"),
                            before,
                            "failed set changed the config"
                        );
                    }
                }
            }
            Op::Typed(which, raw) => config = typed(config, &mut model, *which, *raw),
            Op::Resolve => check_resolve(&config, &model, input.window),
        }
    }
    check_resolve(&config, &model, input.window);
});
