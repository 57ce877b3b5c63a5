#!/usr/bin/env python3
"""Writes the hand-made seeds of corpus/log_model/ (byte format: fuzz_targets/log_model.rs)."""
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
    # SEMANTICS.md scenarios 1-7 on t0-0: chain, lost ack, gap, fencing, window, wrap,
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

if __name__ == "__main__":
    out_dir = os.path.join(HERE, "corpus", "log_model")
    os.makedirs(out_dir, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")
