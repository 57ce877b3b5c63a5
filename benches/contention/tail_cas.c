/*
 * The cost of a contended 16-byte tail reservation, outside the engine: two
 * threads increment shared 16-byte words, each thread walking `lines` words
 * round-robin from its own start (consume-tail's producers over 8 partitions:
 * `lines` 8; append-shared-p2-64B-b1: `lines` 1), with
 *   load+cmpxchg16b  an atomic 16-byte load, then `lock cmpxchg16b` (what the
 *                    engine's reservation does: src/log/storage.rs `reserve`);
 *   blind cmpxchg16b `lock cmpxchg16b` expecting the thread's own last word of
 *                    that line, no load (a failure returns the current word);
 *   lock xadd        an 8-byte `fetch_add`, for scale.
 * The README ("What the fourth session of 2026-12-07 measured") quotes it.
 *
 *   gcc -O2 -mcx16 -mavx benches/contention/tail_cas.c -o /tmp/tail_cas -lpthread
 *   /tmp/tail_cas 8; /tmp/tail_cas 1
 *
 * Needs an x86_64 CPU with AVX (the 16-byte `vmovdqa` load is atomic there on
 * Intel and AMD, as src/log/tail_cell.rs explains). Not built by CI: it is a
 * measurement, and its figures move with the machine.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_LINES 64
#define OPS 20000000L

typedef struct {
    _Alignas(64) unsigned __int128 word;
    char pad[48];
} Line;

static Line lines[MAX_LINES];
static int line_count;

enum Mode { LOAD_CAS, BLIND_CAS, XADD };
static enum Mode mode;

static int cas16(unsigned __int128 *word, unsigned __int128 *expected, unsigned __int128 desired) {
    uint64_t low = (uint64_t)*expected, high = (uint64_t)(*expected >> 64);
    char ok;
    __asm__ volatile("lock cmpxchg16b %1\n\tsete %0"
                     : "=q"(ok), "+m"(*word), "+a"(low), "+d"(high)
                     : "b"((uint64_t)desired), "c"((uint64_t)(desired >> 64))
                     : "memory", "cc");
    *expected = (unsigned __int128)high << 64 | low;
    return ok;
}

static unsigned __int128 load16(unsigned __int128 *word) {
    unsigned __int128 value;
    __asm__ volatile("vmovdqa %1, %%xmm0\n\tvmovdqa %%xmm0, %0" : "=m"(value) : "m"(*word) : "xmm0");
    return value;
}

static void *worker(void *arg) {
    long id = (long)arg;
    unsigned __int128 last[MAX_LINES] = {0};
    int at = (int)(id * line_count / 2);
    for (long i = 0; i < OPS; i++) {
        at = (at + 1) % line_count;
        unsigned __int128 *word = &lines[at].word;
        unsigned __int128 expected;
        switch (mode) {
        case LOAD_CAS:
            expected = load16(word);
            while (!cas16(word, &expected, expected + 1)) {
            }
            break;
        case BLIND_CAS:
            expected = last[at];
            while (!cas16(word, &expected, expected + 1)) {
            }
            last[at] = expected + 1;
            break;
        case XADD:
            __atomic_fetch_add((uint64_t *)word, 1, __ATOMIC_ACQ_REL);
            break;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    line_count = argc > 1 ? atoi(argv[1]) : 8;
    if (line_count < 1 || line_count > MAX_LINES) {
        fprintf(stderr, "usage: %s [lines 1..%d]\n", argv[0], MAX_LINES);
        return 2;
    }
    const char *names[] = {"load+cmpxchg16b", "blind cmpxchg16b", "lock xadd"};
    for (int m = LOAD_CAS; m <= XADD; m++) {
        mode = (enum Mode)m;
        struct timespec start, end;
        pthread_t threads[2];
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (long t = 0; t < 2; t++) pthread_create(&threads[t], 0, worker, (void *)t);
        for (int t = 0; t < 2; t++) pthread_join(threads[t], 0);
        clock_gettime(CLOCK_MONOTONIC, &end);
        double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
        printf("%-17s %d lines, 2 threads: %.1f M operations/s\n", names[m], line_count, 2 * OPS / ns * 1e3);
    }
    return 0;
}
