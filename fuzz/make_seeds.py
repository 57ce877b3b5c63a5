#!/usr/bin/env python3
"""Writes the hand-made seeds of corpus/<target>/ (byte formats: fuzz_targets/<target>.rs)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def config(window=4, seg_shift=2, segs_shift=1, max_batch=5, expiration_ms=999, topics=None, producers=2):
    # Defaults: W=5, 4 records/segment, 4 segments (capacity 12), max batch 6, expiry 1000 ms.
    topics = topics or [(1, 0, 0, 0, 0), (0, 1, 6, 0, 0), (2, 6, 0, 20, 50)]
    out = bytes([window, seg_shift, segs_shift, max_batch]) + struct.pack("<H", expiration_ms)
    for partitions, flags, records, nbytes, age in topics:
        out += bytes([partitions, flags, records, nbytes, age])
    return out + bytes([producers])


# Logical topic / partition -> the raw byte the decoder maps to it.
TOPIC = {0: 0, 1: 4, 2: 5, 3: 6, 4: 7}  # 3 is "t3" (not created up front), 4 is ""
PART = {0: 0, 1: 5, 2: 6, 3: 7}

CUR = bytes([0])


def bump(n=0):
    return bytes([5 | (n << 3)])


def lower(n=0):
    return bytes([6 | (n << 3)])


def count(n):  # 1..=4 records
    return bytes([n - 1])


def nxt(pid, n, epoch=CUR, topic=0, part=0, seed=0):
    return bytes([0, TOPIC[topic], PART[part], 3, pid]) + epoch + count(n) + bytes([seed])


def retry(pid, back, topic=0, part=0, seed=1):
    return bytes([0, TOPIC[topic], PART[part], 8, pid, back]) + count(1) + bytes([seed])


def resplit(pid, back, skip, n, topic=0, part=0):
    return bytes([0, TOPIC[topic], PART[part], 11, pid, back, skip]) + count(n) + bytes([7])


def exact(pid, base, n, epoch=CUR, topic=0, part=0):
    return bytes([0, TOPIC[topic], PART[part], 13, pid]) + epoch + struct.pack("<i", base) + count(n) + bytes([3])


def near_max(pid, below, n, epoch=CUR, topic=0, part=0):
    return bytes([0, TOPIC[topic], PART[part], 14, pid]) + epoch + bytes([below]) + count(n) + bytes([5])


def plain(n, topic=0, part=0, seed=9):
    return bytes([0, TOPIC[topic], PART[part], 0]) + count(n) + bytes([seed])


def raw_count(c, topic=0, part=0):  # c >= 224: count = c % (max_batch + 2)
    return bytes([0, TOPIC[topic], PART[part], 0, c, 0])


INIT = bytes([16])
EXPIRE = bytes([21])
RETAIN_ALL = bytes([23])


def advance(ms):
    return bytes([19]) + struct.pack("<H", ms)


def retain(topic, part=0):
    return bytes([22, TOPIC[topic], PART[part]])


def read(topic=0, part=0, kind=0, n=0, max_=255):
    return bytes([24, TOPIC[topic], PART[part], kind, n, max_])


def create(name, partitions, flags=0, records=0, nbytes=0, age=0):
    return bytes([18, name, partitions, flags, records, nbytes, age])


SEEDS = {
    # Contract scenarios 1-7 (src/contract.rs) on t0-0: chain, lost ack, gap, fencing, window, wrap,
    # two producers interleaved; re-split retries; reads.
    "seed-scenarios": config(segs_shift=3)
    + nxt(0, 3) + nxt(0, 2) + retry(0, 1) + retry(0, 0)
    + exact(0, 9, 1) + nxt(0, 1)
    + nxt(1, 1) + nxt(0, 1) + nxt(1, 2) + retry(1, 1)
    + nxt(0, 1) + nxt(0, 1) + nxt(0, 1) + retry(0, 5) + retry(0, 4) + resplit(0, 2, 1, 2)
    + nxt(0, 1, bump()) + nxt(0, 1, lower()) + exact(0, 0, 1, lower())
    + near_max(1, 1, 3, bump(1)) + nxt(1, 2) + retry(1, 1)
    + read(0, 0, 0, 0) + read(0, 0, 2, 3, 2) + read(0, 0, 3, 200),
    # Retention by records (t1) and by bytes/age (t2), explicit and automatic,
    # duplicates of evicted batches, reads below the log start.
    "seed-retention": config()
    + b"".join(nxt(0, 3, topic=1) for _ in range(4)) + retry(0, 3, topic=1)
    + read(1, 0, 1, 0) + read(1, 0, 0, 0)
    + b"".join(nxt(0, 2, topic=2, part=1, seed=s) for s in range(5)) + advance(300)
    + retain(2, 1) + RETAIN_ALL + plain(4, topic=2, part=1) + read(2, 1, 0, 0)
    + plain(4, topic=1) + plain(4, topic=1) + retain(1) + retry(0, 2, topic=1),
    # Expiry: the boundary (now - last >= expiration), lazy and swept, a very late
    # retry accepted as new data, state entries after a sweep.
    "seed-expiry": config()
    + nxt(0, 2) + nxt(1, 1, part=1) + advance(999) + retry(0, 0) + EXPIRE
    + advance(1) + EXPIRE + retry(0, 0) + nxt(0, 1) + advance(1000) + exact(0, 77, 1)
    + nxt(1, 1, part=1) + advance(2000) + EXPIRE + read(0, 0, 0, 0),
    # Capacity and malformed input: tiny segments, PartitionFull (also for a
    # producer's first batch), empty and oversized batches, unknown pids and topics,
    # bad epochs and sequences, topic creation.
    "seed-limits": config(seg_shift=0, segs_shift=1, max_batch=2, producers=1)
    + nxt(0, 2) + nxt(0, 2) + nxt(1, 1) + INIT + nxt(1, 1) + plain(1)
    + raw_count(224) + raw_count(225) + raw_count(227) + exact(0, -5, 1) + nxt(0, 1, bytes([7]) + struct.pack("<H", 40000))
    + nxt(5, 1) + nxt(0, 1, topic=3) + nxt(0, 1, topic=4) + nxt(0, 1, part=3)
    + create(3, 1, 1, 1) + create(3, 1) + create(4, 1) + create(0, 255)
    + nxt(2, 1, topic=3) + nxt(2, 1, topic=3) + EXPIRE + read(0, 0, 1, 3),
}


# --- config (byte format: fuzz_targets/config.rs) ---------------------------
KEY = {k: i for i, k in enumerate([
    "enable.idempotence", "acks", "retries", "max.in.flight.requests.per.connection",
    "delivery.timeout.ms", "request.timeout.ms", "linger.ms", "batch.size",
    "retry.backoff.ms", "buffer.memory", "max.block.ms"])}
FIXED = {v: i for i, v in enumerate([
    "0", "1", "-1", "all", "ALL", "All", "true", "false", "TRUE", "False", "yes", "", " ",
    "2147483647", "2147483648", "-2147483648", "2147483647000", "2147483647001",
    "9223372036854775807", "9223372036854775808", "18446744073709551615",
    "170141183460469231731687303715884105728", "+5", "-0", " 5 ", "5.0", "1e3", "0x10",
    "5ms", "\t30000\n", "\u0661\u0662", "NaN"])}


def cval(v):
    """A value: a FIXED string, or an int (u8, u16 or u64 encoding)."""
    if isinstance(v, str):
        return bytes([0, FIXED[v]])
    if 0 <= v < 256:
        return bytes([2, v])
    if 0 <= v < 65536:
        return bytes([3]) + struct.pack("<H", v)
    return bytes([4]) + struct.pack("<Q", v % (1 << 64))


def prop(key, v):  # a real key
    return bytes([0, 0, KEY[key]]) + cval(v)


def near(key, how, v):  # a near miss of a real key (how: 0..7, see config.rs)
    return bytes([0, 2, KEY[key], how]) + cval(v)


def typed(which, raw):  # which: 0 idempotence .. 7 buffer.memory; raw as u64
    return bytes([6, which, 3]) + struct.pack("<Q", raw)


RESOLVE = bytes([7])

CONFIG_SEEDS = {
    # Valid settings over the defaults, then resolve with window 5.
    "seed-valid": bytes([5]) + prop("acks", "all") + prop("retries", 3) + prop("linger.ms", 10)
    + prop("delivery.timeout.ms", 200000) + prop("max.in.flight.requests.per.connection", 5)
    + prop("batch.size", 0) + prop("enable.idempotence", "TRUE") + RESOLVE,
    # Conflicts: explicit idempotence with acks=1; delivery timeout too small.
    "seed-conflicts": bytes([3]) + prop("enable.idempotence", "true") + prop("acks", "1")
    + RESOLVE + prop("acks", "-1") + prop("linger.ms", 60000) + RESOLVE,
    # Unknown and near-miss keys, out-of-range and unparsable values.
    "seed-invalid": bytes([5]) + prop("retries", "-1") + near("acks", 0, "all")
    + near("linger.ms", 3, 1) + prop("buffer.memory", "0") + prop("retries", "2147483648")
    + prop("max.block.ms", "1e3") + prop("acks", "yes"),
    # Typed setters out of the properties' ranges, window 0 and huge windows.
    "seed-typed": bytes([0]) + typed(3, 0) + RESOLVE + typed(3, 7) + RESOLVE + typed(7, 0)
    + RESOLVE + typed(4, (1 << 64) - 1) + typed(6, (1 << 64) - 1) + typed(5, 1) + RESOLVE,
    "seed-huge-window": bytes([255]) + struct.pack("<Q", (1 << 64) - 1)
    + prop("max.in.flight.requests.per.connection", 2147483647) + RESOLVE,
}

# --- producer_faults (byte format: fuzz_targets/producer_faults.rs) ----------
NONE, DROP_REQ, DROP_RESP = bytes([0]), bytes([4]), bytes([5])


def retriable(ms8=0):  # a retriable error (LogError::Unavailable) answered ms8 * 8 ms later (ms8 < 32)
    return bytes([3 | (ms8 << 3)])


def delay(ms8):  # a delay of ms8 * 8 ms
    return bytes([6, ms8])


def long_delay(kind, hundreds=0):  # 0: hundreds * 100 ms, 1 u64::MAX, 2 i64::MAX, 3 request timeout
    out = bytes([7, kind])
    return out + struct.pack("<H", hundreds) if kind == 0 else out


def header(mode, partitions=1, window=5, in_flight=5, rt8=12, backoff=0, delivery=3,
           per_batch=1, linger0=False, forced_close_ms=None, script=()):
    """delivery: 3 unbounded, else bounded (see the target); forced_close_ms: None (close gets 5 s)
    or 0..3 (a forced close with that timeout, no final flush)."""
    lc = 1 if linger0 else 0
    if forced_close_ms is not None:
        lc |= (3 << 1) | (forced_close_ms << 3)
    out = bytes([mode, partitions - 1, window - 1, in_flight - 1, rt8 - 1, backoff, delivery,
                 per_batch - 1, lc, len(script)])
    return out + b"".join(script)


def send(part=0, after=None, arg=0, last_no_flush=False):
    """part 0-2 (modulo partitions) or "key" + key id 0..7; after: None, "flush", "advance"."""
    if isinstance(part, tuple):  # ("key", k)
        b = 3 | (part[1] << 5)
    else:
        b = part
    b |= {None: 2, "flush": 0, "advance": 1}[after] << 2
    if last_no_flush:
        b |= 0x80
    out = bytes([b])
    return out + bytes([arg]) if after == "advance" else out


FAULT_SEEDS = {
    # Contract scenario 8 (src/contract.rs) in exactly-once: lost responses deduplicated, a lost
    # request (which breaks the connection: the requests behind it are lost too) retried in
    # order; unbounded delivery timeout (everything acked).
    "seed-exactly-once": header(0, script=[NONE] + [DROP_RESP] * 5 + [DROP_REQ, NONE, DROP_REQ])
    + b"".join(send() for _ in range(10)),
    # Exactly-once, 3 partitions, 2 in flight, bounded delivery timeout, linger 0,
    # keyed records, flush points and clock moves, delays: epoch bumps.
    "seed-exactly-once-timeouts": header(0, partitions=3, window=2, in_flight=2, rt8=4, backoff=1,
                                         delivery=0, per_batch=2, linger0=True,
                                         script=[DROP_REQ] * 6 + [delay(40), DROP_RESP, long_delay(3)]
                                         + [DROP_REQ] * 4 + [long_delay(0, 3)])
    + send(0) + send(1) + send(2, "flush") + send(("key", 1)) + send(0, "advance", 50)
    + send(1) + send(("key", 2), "flush") + send(0) + send(2) + send(1, last_no_flush=True),
    # At-least-once: lost responses duplicate, a refused batch reorders.
    "seed-at-least-once": header(1, partitions=2, script=[NONE, DROP_RESP, DROP_REQ, DROP_RESP, delay(20),
                                                          retriable(), NONE, retriable(1)])
    + b"".join(send(i % 2) for _ in range(3) for i in range(2)) + send(0, "flush") + send(1),
    # At-most-once: lost request lost, lost response kept once, refused batch failed (not in the log).
    "seed-at-most-once": header(2, script=[DROP_REQ, DROP_RESP, NONE, delay(200), DROP_REQ, retriable(2)])
    + b"".join(send() for _ in range(8)),
    # Fire-and-forget with faults (a lost request is noticed at once).
    "seed-acks0": header(3, partitions=2, script=[DROP_REQ, DROP_RESP, delay(3), retriable()])
    + b"".join(send(i % 2) for i in range(5)),
    # Delays that overflow the clock (u64::MAX, i64::MAX) in exactly-once, bounded and unbounded:
    # a delay longer than the request timeout costs one request timeout (reconnect).
    "seed-huge-delay": header(0, delivery=1, script=[NONE, long_delay(1), DROP_REQ, long_delay(2)])
    + b"".join(send() for _ in range(4)),
    "seed-huge-delay-unbounded": header(0, partitions=2, script=[NONE, long_delay(1), NONE, long_delay(2), DROP_REQ])
    + b"".join(send(i % 2) for i in range(6)),
    # The contract's first-batch case (P7): a fresh producer's first batch is refused while the
    # second is in flight; the log (no state) takes the second, the first lands after it under a
    # new epoch. Refusal answered at once (0 ms) and 8 ms later.
    "seed-first-batch": header(0, script=[retriable(1)]) + send() + send(),
    "seed-first-batch-now": header(0, partitions=2, script=[retriable(0), NONE, retriable(0)])
    + send(0) + send(0) + send(0) + send(1) + send(1),
    # The first-batch case with the second batch's response lost. FAILS today (producer bug, to
    # be fixed): the second record is re-sequenced under the new epoch though it may be (and is)
    # in the log under the old one, and lands twice.
    "seed-first-batch-lost-response": header(0, script=[retriable(1), DROP_RESP]) + send() + send(),
    # The first two batches refused, the third accepted by the log with no state. FAILS today:
    # both refused batches land after the third, where the contract (P7) says that batch alone
    # (the first) is out of send order.
    "seed-first-batch-two-refused": header(0, script=[retriable(1), retriable(1)]) + send() + send() + send(),
    # A refused batch that is not the first: order holds (OutOfOrderSequence for those behind it).
    "seed-refused-later": header(0, script=[delay(1), retriable(0)]) + b"".join(send() for _ in range(4)),
    # Forced close (timeout 0 ms, no final flush) with requests delayed in flight and records
    # still lingering: Closed ones are not in the log, Abandoned ones may be.
    "seed-forced-close": header(0, partitions=2, per_batch=2, forced_close_ms=0,
                                script=[NONE, delay(100), NONE, long_delay(3)])
    + send(0, "flush") + b"".join(send(i % 2) for i in range(6)),
    "seed-forced-close-at-least-once": header(1, partitions=1, linger0=True, forced_close_ms=1,
                                              script=[long_delay(0, 9), retriable(0)])
    + b"".join(send() for _ in range(5)),
}


if __name__ == "__main__":
    for target, seeds in [("log_model", SEEDS), ("config", CONFIG_SEEDS), ("producer_faults", FAULT_SEEDS)]:
        out_dir = os.path.join(HERE, "corpus", target)
        os.makedirs(out_dir, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(data)
            print(f"{target}/{name}: {len(data)} bytes")
