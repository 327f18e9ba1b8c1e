/*
 * stress.c -- concurrency stress driver for the public C API (ovsct.h).
 *
 * Built with the engine sources (every ext/ C file), run under
 * ThreadSanitizer and AddressSanitizer by `make tsan` / `make asan`, and by
 * tests/test_native.py.  Uses nothing but ovsct.h (and the frame builder
 * bench/framegen.h).
 *
 * Phases:
 *   1. mixed: packet threads run ovsct_execute() on overlapping UDP flows
 *      (both directions, two zones) while an admin thread flushes, dumps,
 *      flushes tuples, advances the manual clock (so entries expire), counts,
 *      sweeps, reads stats and bucket counts, and the sweeper runs every ms.
 *      Then, quiescent: nconns == dumped entries == stats total == sum of
 *      bucket counts, no duplicate and no expired entry in the dump.
 *   2. same-tuple race: two threads released by a barrier commit the same
 *      new tuple; exactly one connection must exist afterwards.
 *   3. limits: concurrent commits of distinct flows against maxconns and a
 *      zone limit; the limits must hold exactly.
 *   4. fragments: two threads send the two fragments of the same IPv4
 *      datagrams (either may complete one), two more drain the fragments
 *      that leave later, each only its sender's (ovsct_ipf_drain_owned()
 *      by tag parity), the sweeper runs: every fragment gets exactly one
 *      final state, new|trk, from its owner, and nothing stays held.
 *
 * Usage: stress [SCALE]   (SCALE multiplies iteration counts, default 1).
 *        stress 1 mixed N     (phase 1 alone, N times in a row, stopping
 *                              at the first failure: the rare races of
 *                              docs/reliability.md show in a few
 *                              thousand runs, not in one).
 * Prints "N passed, N failed"; exit status 1 if anything failed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framegen.h"
#include "ovsct.h"

#define N_PKT_THREADS 3
#define N_FLOWS 256             /* Shared by all packet threads. */
#define BATCH 32
#define FRAME_LEN 42            /* Ethernet 14 + IPv4 20 + UDP 8. */
#define RACE_ROUNDS 200
#define LIMIT_FLOWS 512
#define START_MS 1000000
#define MIXED_ROUNDS 4          /* Invariant checks during phase 1. */

static atomic_int n_passed;
static atomic_int n_failed;

/* Failures are counted; only the first MAX_REPORTS are printed. */
#define MAX_REPORTS 20
#define CHECK(COND, ...)                                        \
    do {                                                        \
        if (COND) {                                             \
            atomic_fetch_add(&n_passed, 1);                     \
        } else if (atomic_fetch_add(&n_failed, 1) < MAX_REPORTS) { \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,       \
                    __LINE__, #COND);                           \
            fprintf(stderr, __VA_ARGS__);                       \
            fputc('\n', stderr);                                \
        }                                                       \
    } while (0)

/* Counts a check without printing on success; for hot loops. */
#define EXPECT(COND, ...)                                       \
    do {                                                        \
        if (!(COND)) {                                          \
            CHECK(COND, __VA_ARGS__);                           \
        }                                                       \
    } while (0)


/* Frames. */

/* Writes an Ethernet + IPv4 + UDP frame (UDP checksum 0, FRAME_LEN
 * bytes) to 'f', with framegen.h's builder. */
static void
make_udp(uint8_t *f, uint32_t src, uint32_t dst, uint16_t sport,
         uint16_t dport)
{
    struct fg_frame fr;
    uint8_t s[4], d[4];

    fg_put32(s, src);
    fg_put32(d, dst);
    fg_ip4_raw(&fr, 0, s, d, 17);
    fg_udp_hdr(&fr, sport, dport, 0, 0);
    fg_finish_csum(&fr, -1);
    memcpy(f, fr.b, FRAME_LEN);
}

#define CLIENT(I) (0x0a000000u | (uint32_t) (I))   /* 10.0.x.y */
#define SERVER 0x0a010001u                          /* 10.1.0.1 */
#define SPORT(I) ((uint16_t) (1000 + (I)))
#define DPORT 53

/* Frame of flow 'i' in the original or the reply direction. */
static void
flow_frame(uint8_t *f, uint32_t i, bool reply)
{
    if (reply) {
        make_udp(f, SERVER, CLIENT(i), DPORT, SPORT(i));
    } else {
        make_udp(f, CLIENT(i), SERVER, SPORT(i), DPORT);
    }
}

static void
flow_tuple(struct ovsct_tuple *t, uint32_t i, bool reply)
{
    uint32_t a = CLIENT(i), b = SERVER;

    memset(t, 0, sizeof *t);
    t->l3 = 4;
    t->proto = 17;
    if (reply) {
        uint32_t x = a;
        a = b;
        b = x;
    }
    for (int k = 0; k < 4; k++) {
        t->src[k] = a >> (24 - 8 * k);
        t->dst[k] = b >> (24 - 8 * k);
    }
    t->sport = reply ? DPORT : SPORT(i);
    t->dport = reply ? SPORT(i) : DPORT;
}

/* A batch with its own storage. */
struct frames {
    uint8_t data[BATCH * FRAME_LEN];
    uint32_t offsets[BATCH + 1];
    uint8_t states[BATCH];
};

static int
run_batch(struct ovsct *ct, struct frames *fr, size_t n,
          const struct ovsct_action *a)
{
    struct ovsct_batch b = {
        .data = fr->data, .size = n * FRAME_LEN, .offsets = fr->offsets,
        .n = n,
    };
    for (size_t i = 0; i <= n; i++) {
        fr->offsets[i] = i * FRAME_LEN;
    }
    return ovsct_execute(ct, &b, a, fr->states);
}

/* xorshift PRNG, one state per thread. */
static uint32_t
rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}


/* Dump helpers. */

/* Dumps 'zone' (NULL: all) into a malloc'd array. */
static size_t
dump_all(struct ovsct *ct, const uint16_t *zone, struct ovsct_entry **out)
{
    struct ovsct_entry *e = NULL;
    size_t n = 0, cap = 0;
    struct ovsct_dump *d;
    int err;
    struct ovsct_filter f = {.has_zone = zone != NULL,
                             .zone = zone ? *zone : 0};

    err = ovsct_dump_start(ct, zone ? &f : NULL, &d);
    CHECK(!err, "dump_start: %d", err);
    if (err) {
        *out = NULL;
        return 0;
    }
    for (;;) {
        size_t got = 0;
        if (cap - n < 64) {
            cap = cap ? 2 * cap : 256;
            e = realloc(e, cap * sizeof *e);
            if (!e) {
                abort();
            }
        }
        err = ovsct_dump_next(d, e + n, 64, &got);
        EXPECT(!err, "dump_next: %d", err);
        if (err || !got) {
            break;
        }
        n += got;
    }
    ovsct_dump_done(d);
    *out = e;
    return n;
}

/* A connection of ours, created by a packet in either direction. */
static bool
entry_sane(const struct ovsct_entry *e)
{
    const struct ovsct_tuple *o = &e->orig, *r = &e->reply;
    uint16_t client = o->dport == DPORT ? o->sport : o->dport;

    return o->l3 == 4 && o->proto == 17 && r->l3 == 4 && r->proto == 17
           && (o->dport == DPORT || o->sport == DPORT)
           && client >= SPORT(0) && client < SPORT(LIMIT_FLOWS)
           && r->sport == o->dport && r->dport == o->sport
           && !memcmp(r->src, o->dst, 16) && !memcmp(r->dst, o->src, 16)
           && e->zone < 10;
}

static int
entry_cmp(const void *a_, const void *b_)
{
    const struct ovsct_entry *a = a_, *b = b_;
    if (a->zone != b->zone) {
        return a->zone < b->zone ? -1 : 1;
    }
    return memcmp(&a->orig, &b->orig, sizeof a->orig);
}

/* Quiescent invariants: counts agree, no duplicates, nothing expired. */
static void
check_quiescent(struct ovsct *ct, const char *phase)
{
    struct ovsct_entry *e;
    struct ovsct_stats stats;
    uint32_t nconns = ovsct_nconns(ct);
    size_t n = dump_all(ct, NULL, &e);
    int64_t now = ovsct_now(ct);
    char why[512];

    /* The engine's own full check (ext/invariant.c). */
    CHECK(!ovsct_check_invariants(ct, why, sizeof why), "%s: invariants: %s",
          phase, why);

    CHECK(nconns == n, "%s: nconns %u != dumped %zu", phase, nconns, n);

    CHECK(!ovsct_stats(ct, NULL, &stats), "%s: stats", phase);
    CHECK(stats.total == n, "%s: stats total %llu != %zu", phase,
          (unsigned long long) stats.total, n);
    CHECK(stats.per_proto[OVSCT_PC_UDP] == n, "%s: udp %llu != %zu", phase,
          (unsigned long long) stats.per_proto[OVSCT_PC_UDP], n);

    uint32_t nb = ovsct_n_buckets(ct);
    uint32_t *counts = calloc(nb, sizeof *counts);
    uint64_t sum = 0;
    CHECK(!ovsct_bucket_counts(ct, counts), "%s: bucket_counts", phase);
    for (uint32_t i = 0; i < nb; i++) {
        sum += counts[i];
    }
    CHECK(sum == n, "%s: bucket sum %llu != %zu", phase,
          (unsigned long long) sum, n);
    free(counts);

    size_t bad = 0, expired = 0, dups = 0;
    for (size_t i = 0; i < n; i++) {
        bad += !entry_sane(&e[i]);
        expired += e[i].expiration <= now;
    }
    qsort(e, n, sizeof *e, entry_cmp);
    for (size_t i = 1; i < n; i++) {
        dups += !entry_cmp(&e[i - 1], &e[i]);
    }
    CHECK(!bad, "%s: %zu malformed entries", phase, bad);
    CHECK(!expired, "%s: %zu expired entries dumped", phase, expired);
    CHECK(!dups, "%s: %zu duplicate entries", phase, dups);
    free(e);
}


/* Phase 1: mixed load. */

struct mixed {
    struct ovsct *ct;
    int iters;
    atomic_bool stop;
    long admin_ops;             /* Written by the admin thread only. */
};

static void *
packet_thread(void *arg_)
{
    struct mixed *m = arg_;
    struct frames *fr = malloc(sizeof *fr);
    uint32_t seed = 0x9e3779b9u ^ (uint32_t) (uintptr_t) fr;

    for (int it = 0; it < m->iters; it++) {
        struct ovsct_action a = {
            .zone = it & 1, .commit = (it % 3) != 2,
            .set_mark = (it % 5) == 0, .mark = 7, .mark_mask = 0xff,
        };
        for (int i = 0; i < BATCH; i++) {
            flow_frame(fr->data + i * FRAME_LEN, rnd(&seed) % N_FLOWS,
                       rnd(&seed) & 1);
        }
        int err = run_batch(m->ct, fr, BATCH, &a);
        EXPECT(!err, "execute: %d", err);
        for (int i = 0; i < BATCH; i++) {
            uint8_t s = fr->states[i];
            EXPECT((s & OVSCT_CS_TRACKED) && !(s & OVSCT_CS_INVALID),
                   "state %#x", s);
            EXPECT(!(s & OVSCT_CS_NEW) != !(s & OVSCT_CS_ESTABLISHED),
                   "state %#x: exactly one of new/est", s);
        }
    }
    free(fr);
    return NULL;
}

static void *
admin_thread(void *arg_)
{
    struct mixed *m = arg_;
    uint32_t seed = 12345;
    int64_t now = START_MS;

    while (!atomic_load(&m->stop)) {
        uint32_t r = rnd(&seed) % 16;
        struct ovsct_entry *e;
        struct ovsct_tuple t;
        size_t n, nf;
        uint16_t zone = r & 1;
        int err;

        m->admin_ops++;
        switch (r) {
        case 0:
            err = ovsct_flush(m->ct, NULL, &nf);
            EXPECT(!err, "flush: %d", err);
            break;
        case 1:
            err = ovsct_flush(m->ct, &zone, &nf);
            EXPECT(!err, "flush zone: %d", err);
            break;
        case 2: case 3: case 4:
            n = dump_all(m->ct, (r & 1) ? &zone : NULL, &e);
            for (size_t i = 0; i < n; i++) {
                EXPECT(entry_sane(&e[i]), "malformed entry in dump");
                EXPECT(!(r & 1) || e[i].zone == zone, "zone filter");
            }
            free(e);
            break;
        case 5: case 6: case 7:
            flow_tuple(&t, rnd(&seed) % N_FLOWS, r == 7);
            err = ovsct_flush_tuple(m->ct, zone, &t);
            EXPECT(!err || err == ENOENT, "flush_tuple: %d", err);
            break;
        case 8: case 9:
            now += 7000;    /* UDP entries expire after a few steps. */
            ovsct_set_time(m->ct, now);
            break;
        case 10:
            (void) ovsct_nconns(m->ct);
            break;
        case 11:
            (void) ovsct_sweep_now(m->ct);
            break;
        case 12: {
            struct ovsct_stats s;
            err = ovsct_stats(m->ct, NULL, &s);
            EXPECT(!err, "stats: %d", err);
            break;
        }
        case 13: {
            uint32_t *c = calloc(ovsct_n_buckets(m->ct), sizeof *c);
            err = ovsct_bucket_counts(m->ct, c);
            EXPECT(!err, "bucket_counts: %d", err);
            free(c);
            break;
        }
        case 14: {
            struct ovsct_counters c;
            ovsct_get_counters(m->ct, &c);
            break;
        }
        default: {
            uint32_t limit, count;
            bool expl;
            err = ovsct_get_zone_limit(m->ct, zone, &limit, &count, &expl);
            EXPECT(!err, "get_zone_limit: %d", err);
            break;
        }
        }
    }
    return NULL;
}

/* An events reader beside the packet and admin threads: a small ring, so
 * that overflow and overwrite-while-reading happen; sequence numbers must
 * only grow, every event must be well formed.  Every 64 reads it also
 * unsubscribes and subscribes again (events off and on under traffic). */
struct ev_reader {
    struct mixed *m;
    uint64_t events, lost, reads;
};

static void *
events_thread(void *arg_)
{
    struct ev_reader *r = arg_;
    struct ovsct_event *buf = malloc(64 * sizeof *buf);
    struct ovsct_events_cursor cur;
    uint64_t last = 0;
    int err = ovsct_events_subscribe(r->m->ct, &cur);

    EXPECT(!err, "events_subscribe: %d", err);
    while (!err && !atomic_load(&r->m->stop)) {
        size_t n = 0;

        err = ovsct_events_read(r->m->ct, &cur, NULL, buf, 64, &n, &r->lost);
        EXPECT(!err, "events_read: %d", err);
        for (size_t i = 0; i < n; i++) {
            EXPECT(buf[i].seq > last, "event seq %llu after %llu",
                   (unsigned long long) buf[i].seq,
                   (unsigned long long) last);
            last = buf[i].seq;
            EXPECT(buf[i].type >= OVSCT_EVENT_NEW
                   && buf[i].type <= OVSCT_EVENT_DESTROY, "event type %d",
                   buf[i].type);
            EXPECT(entry_sane(&buf[i].entry), "malformed event entry");
        }
        r->events += n;
        if (++r->reads % 64 == 0) {
            ovsct_events_unsubscribe(r->m->ct);
            err = ovsct_events_subscribe(r->m->ct, &cur);
            EXPECT(!err, "events_subscribe: %d", err);
        }
    }
    ovsct_events_unsubscribe(r->m->ct);
    free(buf);
    return NULL;
}

static void
phase_mixed(int scale)
{
    struct ovsct_config cfg = {
        .n_buckets = 16, .manual_clock = true, .start_ms = START_MS,
        .event_ring = 256,
    };
    struct mixed m = { .iters = 8000 * scale };
    struct ev_reader reader = { .m = &m };
    pthread_t pkt[N_PKT_THREADS], admin, events;
    int err;

    err = ovsct_create(&cfg, &m.ct);
    CHECK(!err, "create: %d", err);
    if (err) {
        return;
    }
    CHECK(!ovsct_set_sweep_interval(m.ct, 1), "sweep interval");
    /* In rounds, with the invariants checked whenever the threads have
     * stopped (the sweeper keeps running). */
    m.iters /= MIXED_ROUNDS;
    for (int round = 0; round < MIXED_ROUNDS; round++) {
        char why[512];

        atomic_init(&m.stop, false);
        for (int i = 0; i < N_PKT_THREADS; i++) {
            pthread_create(&pkt[i], NULL, packet_thread, &m);
        }
        pthread_create(&admin, NULL, admin_thread, &m);
        pthread_create(&events, NULL, events_thread, &reader);
        for (int i = 0; i < N_PKT_THREADS; i++) {
            pthread_join(pkt[i], NULL);
        }
        atomic_store(&m.stop, true);
        pthread_join(admin, NULL);
        pthread_join(events, NULL);
        CHECK(!ovsct_check_invariants(m.ct, why, sizeof why),
              "mixed round %d: invariants: %s", round, why);
    }
    m.iters *= MIXED_ROUNDS;
    printf("mixed: events reader: %llu events in %llu reads, %llu lost\n",
           (unsigned long long) reader.events,
           (unsigned long long) reader.reads,
           (unsigned long long) reader.lost);
    CHECK(reader.events > 0, "mixed: the events reader saw no event");

    struct ovsct_counters c;
    ovsct_get_counters(m.ct, &c);
    printf("mixed: %d packets x %d threads, %ld admin ops, %llu created, "
           "%llu removed, %llu expired, %llu sweeps\n",
           m.iters * BATCH, N_PKT_THREADS, m.admin_ops,
           (unsigned long long) c.created, (unsigned long long) c.removed,
           (unsigned long long) c.expired, (unsigned long long) c.sweeps);
    check_quiescent(m.ct, "mixed");

    /* Everything expires once the clock passes every timeout. */
    ovsct_set_time(m.ct, ovsct_now(m.ct) + 86400 * 1000LL);
    CHECK(ovsct_nconns(m.ct) == 0, "mixed: entries survive expiry");
    check_quiescent(m.ct, "expired");
    ovsct_destroy(m.ct);
}


/* Phase 2: two threads commit the same new tuple at once. */

struct race {
    struct ovsct *ct;
    pthread_barrier_t start, done;
    uint32_t flow;
    uint8_t state[2];
    int rounds;
};

struct racer {
    struct race *r;
    int id;
};

static void *
race_thread(void *arg_)
{
    struct racer *me = arg_;
    struct race *r = me->r;
    struct frames *fr = malloc(sizeof *fr);
    struct ovsct_action a = { .zone = 3, .commit = true };

    for (int round = 0; round < r->rounds; round++) {
        pthread_barrier_wait(&r->start);
        flow_frame(fr->data, r->flow, false);
        EXPECT(!run_batch(r->ct, fr, 1, &a), "race execute");
        r->state[me->id] = fr->states[0];
        pthread_barrier_wait(&r->done);
    }
    free(fr);
    return NULL;
}

static void
phase_race(int scale)
{
    struct ovsct_config cfg = { .n_buckets = 4, .manual_clock = true,
                                .start_ms = START_MS };
    struct race r = { .rounds = RACE_ROUNDS * scale };
    struct racer who[2] = { { &r, 0 }, { &r, 1 } };
    pthread_t t[2];
    int err, bad_count = 0, bad_new = 0;

    err = ovsct_create(&cfg, &r.ct);
    CHECK(!err, "create: %d", err);
    if (err) {
        return;
    }
    pthread_barrier_init(&r.start, NULL, 3);
    pthread_barrier_init(&r.done, NULL, 3);
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, race_thread, &who[i]);
    }
    for (int round = 0; round < r.rounds; round++) {
        size_t nf;
        struct ovsct_counters before, after;

        ovsct_flush(r.ct, NULL, &nf);
        ovsct_get_counters(r.ct, &before);
        r.flow = round % LIMIT_FLOWS;
        pthread_barrier_wait(&r.start);
        pthread_barrier_wait(&r.done);
        ovsct_get_counters(r.ct, &after);

        uint32_t n = ovsct_nconns(r.ct);
        if (n != 1 || after.created - before.created != 1) {
            if (!bad_count++) {
                fprintf(stderr, "race round %d: nconns %u, created %llu\n",
                        round, n, (unsigned long long)
                        (after.created - before.created));
            }
        }
        /* At least one of the two packets must have seen +new. */
        bad_new += !((r.state[0] | r.state[1]) & OVSCT_CS_NEW);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    CHECK(!bad_count, "same-tuple race created != 1 conn in %d/%d rounds",
          bad_count, r.rounds);
    CHECK(!bad_new, "no +new seen in %d rounds", bad_new);
    check_quiescent(r.ct, "race");
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.done);
    ovsct_destroy(r.ct);
}


/* Phase 3: limits under concurrent commits. */

struct limits {
    struct ovsct *ct;
    uint16_t zone;
    int part;
};

static void *
limit_thread(void *arg_)
{
    struct limits *l = arg_;
    struct frames *fr = malloc(sizeof *fr);
    struct ovsct_action a = { .zone = l->zone, .commit = true };

    /* Each of the two threads commits every flow, in opposite orders. */
    for (int k = 0; k < LIMIT_FLOWS; k += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            int f = l->part ? LIMIT_FLOWS - 1 - (k + i) : k + i;
            flow_frame(fr->data + i * FRAME_LEN, f, false);
        }
        EXPECT(!run_batch(l->ct, fr, BATCH, &a), "limit execute");
    }
    free(fr);
    return NULL;
}

static void
run_limit_threads(struct ovsct *ct, uint16_t zone)
{
    struct limits l[2] = { { ct, zone, 0 }, { ct, zone, 1 } };
    pthread_t t[2];

    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, limit_thread, &l[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
}

static void
phase_limits(void)
{
    struct ovsct_config cfg = { .n_buckets = 8, .manual_clock = true,
                                .start_ms = START_MS };
    struct ovsct *ct;
    uint32_t limit, count;
    bool expl;
    size_t nf;
    int err;

    err = ovsct_create(&cfg, &ct);
    CHECK(!err, "create: %d", err);
    if (err) {
        return;
    }

    ovsct_set_maxconns(ct, 100);
    run_limit_threads(ct, 0);
    CHECK(ovsct_nconns(ct) == 100, "maxconns 100: nconns %u",
          ovsct_nconns(ct));
    check_quiescent(ct, "maxconns");
    ovsct_flush(ct, NULL, &nf);
    ovsct_set_maxconns(ct, OVSCT_DEFAULT_MAXCONNS);

    CHECK(!ovsct_set_zone_limit(ct, 9, 50), "set_zone_limit");
    run_limit_threads(ct, 9);
    CHECK(!ovsct_get_zone_limit(ct, 9, &limit, &count, &expl),
          "get_zone_limit");
    CHECK(limit == 50 && expl, "zone 9 limit %u explicit %d", limit, expl);
    CHECK(count == 50, "zone 9 count %u != 50", count);
    uint16_t z = 9;
    struct ovsct_entry *e;
    size_t n = dump_all(ct, &z, &e);
    free(e);
    CHECK(n == 50, "zone 9 dumped %zu != 50", n);
    check_quiescent(ct, "zone limit");
    ovsct_destroy(ct);
}

/* Phase 4: fragments. */

#define FRAG_DATAGRAMS 300
#define FRAG_FIRST_LEN (14 + 1500)
#define FRAG_LAST_LEN (14 + 20 + 100)

struct frag_run {
    struct ovsct *ct;
    int n;
    atomic_uchar *final;        /* [2 * n]: the state each fragment got. */
    atomic_int n_final;
    atomic_bool stop;
};

/* Writes fragment 'last' of datagram 'i' (UDP 40000 + i > 7, checksum 0)
 * to 'f'; returns its length. */
static uint32_t
frag_frame(uint8_t *f, int i, bool last)
{
    uint32_t len = last ? FRAG_LAST_LEN : FRAG_FIRST_LEN;
    uint16_t tot = (uint16_t) (len - 14), off = last ? 185 : 0x2000;
    uint32_t sum = 0;
    uint8_t *ip = f + 14;

    memset(f, 0, len);
    memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
    ip[0] = 0x45;
    ip[2] = (uint8_t) (tot >> 8);
    ip[3] = (uint8_t) tot;
    ip[4] = (uint8_t) (i >> 8);
    ip[5] = (uint8_t) i;
    ip[6] = (uint8_t) (off >> 8);
    ip[7] = (uint8_t) off;
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, "\x0a\x00\x04\x01\x0a\x00\x04\x02", 8);
    for (int k = 0; k < 20; k += 2) {
        sum += (uint32_t) (ip[k] << 8 | ip[k + 1]);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10] = (uint8_t) (~sum >> 8);
    ip[11] = (uint8_t) ~sum;
    if (!last) {
        uint16_t sport = (uint16_t) (40000 + i), ulen = 1480 + 100;

        ip[20] = (uint8_t) (sport >> 8);
        ip[21] = (uint8_t) sport;
        ip[23] = 7;
        ip[24] = (uint8_t) (ulen >> 8);
        ip[25] = (uint8_t) ulen;
    }
    return len;
}

static void
frag_record(struct frag_run *r, uint64_t tag, uint8_t state)
{
    uint8_t zero = 0;

    CHECK(tag < (uint64_t) 2 * r->n
          && atomic_compare_exchange_strong(&r->final[tag], &zero, state),
          "fragment %llu got a second state", (unsigned long long) tag);
    atomic_fetch_add(&r->n_final, 1);
}

static void
frag_out(void *aux, uint64_t tag, uint8_t state, const uint8_t *frame,
         uint32_t len)
{
    (void) frame;
    (void) len;
    frag_record(aux, tag, state);
}

struct frag_sender {
    struct frag_run *r;
    bool last;
};

static void *
frag_sender_thread(void *arg_)
{
    struct frag_sender *me = arg_;
    struct frag_run *r = me->r;
    struct ovsct_action a = { .commit = true };
    uint8_t *buf = malloc(FRAG_FIRST_LEN);

    for (int i = 0; i < r->n; i++) {
        uint32_t offs[2] = { 0, frag_frame(buf, i, me->last) };
        struct ovsct_batch b = { .data = buf, .size = offs[1],
                                 .offsets = offs, .n = 1,
                                 .tag_base = (uint64_t) 2 * i + me->last };
        uint8_t st = 0xff;

        EXPECT(!ovsct_execute(r->ct, &b, &a, &st), "frag execute");
        if (st != OVSCT_STATE_HELD) {
            frag_record(r, b.tag_base, st);
        }
    }
    free(buf);
    return NULL;
}

/* A drainer of one sender's fragments: tags 2 * i + parity. */
struct frag_owner {
    struct frag_run *r;
    uint64_t parity;
};

static void
frag_out_owned(void *aux, uint64_t tag, uint8_t state, const uint8_t *frame,
               uint32_t len)
{
    struct frag_owner *o = aux;

    CHECK((tag & 1) == o->parity, "drain %llu got fragment %llu",
          (unsigned long long) o->parity, (unsigned long long) tag);
    frag_out(o->r, tag, state, frame, len);
}

static void *
frag_drain_thread(void *arg_)
{
    struct frag_owner *o = arg_;

    while (!atomic_load(&o->r->stop)) {
        ovsct_ipf_drain_owned(o->r->ct, 1, o->parity, frag_out_owned, o);
    }
    return NULL;
}

static void
phase_frags(int scale)
{
    struct ovsct_config cfg = { .n_buckets = 16, .manual_clock = true,
                                .start_ms = START_MS };
    /* At most 2 * 2400 fragments held at once: within the largest
     * max-nfrags (set below), so that none is refused. */
    struct frag_run r = { .n = FRAG_DATAGRAMS * scale < 2400
                               ? FRAG_DATAGRAMS * scale : 2400 };
    struct frag_sender s[2] = { { &r, false }, { &r, true } };
    struct frag_owner d[2] = { { &r, 0 }, { &r, 1 } };
    struct ovsct_ipf_status st;
    pthread_t t[4];
    int bad = 0;

    EXPECT(!ovsct_create(&cfg, &r.ct), "create");
    ovsct_set_sweep_interval(r.ct, 1);
    EXPECT(!ovsct_ipf_set_max_nfrags(r.ct, OVSCT_IPF_MAX_NFRAGS_UBOUND),
           "max-nfrags");
    r.final = calloc((size_t) 2 * r.n, sizeof *r.final);
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[2 + i], NULL, frag_drain_thread, &d[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_create(&t[i], NULL, frag_sender_thread, &s[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[2 + i], NULL);
    }
    ovsct_ipf_drain(r.ct, frag_out, &r);
    for (int i = 0; i < 2 * r.n; i++) {
        bad += atomic_load(&r.final[i])
               != (OVSCT_CS_NEW | OVSCT_CS_TRACKED);
    }
    CHECK(!bad, "%d of %d fragments without new|trk", bad, 2 * r.n);
    ovsct_ipf_get_status(r.ct, &st);
    CHECK(st.nfrag == 0, "%u fragments still held", st.nfrag);
    CHECK(st.counters[0][OVSCT_IPF_COMPLETED] == (uint64_t) 2 * r.n,
          "completed %llu",
          (unsigned long long) st.counters[0][OVSCT_IPF_COMPLETED]);
    CHECK(ovsct_nconns(r.ct) == (uint32_t) r.n, "nconns %u",
          ovsct_nconns(r.ct));
    free(r.final);
    ovsct_destroy(r.ct);
}

int
main(int argc, char *argv[])
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;

    if (scale < 1) {
        scale = 1;
    }
    if (argc > 3 && !strcmp(argv[2], "mixed")) {
        int runs = atoi(argv[3]);

        for (int run = 0; run < runs && !atomic_load(&n_failed); run++) {
            phase_mixed(scale);
            if (atomic_load(&n_failed)) {
                printf("mixed: failed in run %d of %d\n", run + 1, runs);
            }
        }
        printf("%d passed, %d failed\n", atomic_load(&n_passed),
               atomic_load(&n_failed));
        return atomic_load(&n_failed) ? 1 : 0;
    }
    phase_mixed(scale);
    phase_race(scale);
    phase_limits();
    phase_frags(scale);
    printf("%d passed, %d failed\n", atomic_load(&n_passed),
           atomic_load(&n_failed));
    return atomic_load(&n_failed) ? 1 : 0;
}
