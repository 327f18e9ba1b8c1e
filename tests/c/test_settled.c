/*
 * test_settled.c -- a settled connection is refreshed without its lock.
 *
 * A UDP connection that has seen a reply (BIDIR) changes state no more:
 * the packet path only sets its expiry, without taking the connection's
 * spinlock (ct_refresh_settled(), ext/ovsct-private.h).  The test holds
 * that lock and sends a packet: for a settled connection the batch ends
 * while the lock is held, with the state and expiry the locked update
 * would give; for a one-way connection (MULTIPLE, still updated under the
 * lock) the same packet waits for it, which shows that holding the lock
 * does stop a batch that takes it, so the first check cannot pass
 * vacuously.  tests/test_engine.py checks the same path's states and
 * timeouts per zone policy through the Python API.
 *
 * Includes ovsct-private.h to find the connection and take its lock.
 * Run by `make asan` (every tests/c driver) and `make asan-clang`.
 * Prints "N passed, M failed" and exits non-zero if M > 0.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "framegen.h"
#include "ovsct.h"
#include "ovsct-private.h"

#define T1 1000000                      /* ms: the table's start. */

/* One frame through ct(commit) in a thread of its own. */
struct sender {
    struct ovsct *ct;
    uint8_t frame[FG_FRAME_LEN];
    uint8_t state;
    int err;
    atomic_bool done;
    pthread_t t;
};

static int
send_frame(struct ovsct *ct, uint8_t *frame, uint8_t *state)
{
    static const struct ovsct_action commit = { .commit = true };
    uint32_t offsets[2] = { 0, FG_FRAME_LEN };
    struct ovsct_batch batch = {
        .data = frame, .size = FG_FRAME_LEN, .offsets = offsets, .n = 1,
    };

    return ovsct_execute(ct, &batch, &commit, state);
}

static void *
sender_main(void *arg)
{
    struct sender *s = arg;

    s->err = send_frame(s->ct, s->frame, &s->state);
    atomic_store(&s->done, true);
    return NULL;
}

/* Connection 'id''s frame the other way: addresses and ports swapped
 * (both checksums are sums over them, so they stay right). */
static void
reverse(uint8_t *f)
{
    uint8_t t[4];

    memcpy(t, f + FG_IP_SRC_OFS, 4);
    memcpy(f + FG_IP_SRC_OFS, f + FG_IP_DST_OFS, 4);
    memcpy(f + FG_IP_DST_OFS, t, 4);
    memcpy(t, f + FG_UDP_SPORT_OFS, 2);
    memcpy(f + FG_UDP_SPORT_OFS, f + FG_UDP_SPORT_OFS + 2, 2);
    memcpy(f + FG_UDP_SPORT_OFS + 2, t, 2);
}

/* The connection of 'frame' (zone 0), found under its bucket lock. */
static struct ct_conn *
conn_of(struct ovsct *ct, const uint8_t *frame)
{
    struct ct_pkt pkt;
    struct ct_conn *c = NULL;
    int dir;

    if (ct_parse(frame, FG_FRAME_LEN, &pkt)) {
        uint32_t hash = ct_key_hash(ct, &pkt.key);
        struct ct_bucket *b = &ct->buckets[ct_bucket_of(ct, hash)];

        ct_mutex_lock(&b->lock);
        c = ct_map_find(ct, b, hash, &pkt.key, ovsct_now(ct), &dir);
        ct_mutex_unlock(&b->lock);
    }
    return c;
}

/* Sends connection 'id''s forward frame at T1 + 5 s with the
 * connection's lock held; returns whether the batch ended within
 * 'wait_ms' meanwhile.  Leaves the state the packet got in '*state'. */
static bool
ends_while_locked(struct ovsct *ct, uint32_t id, long wait_ms,
                  uint8_t *state)
{
    struct sender s = { .ct = ct };
    struct ct_conn *c;
    bool ended;

    fg_udp(s.frame, id);
    c = conn_of(ct, s.frame);
    CHECK(c, "connection %u not found", id);
    if (!c) {
        return false;
    }
    ovsct_set_time(ct, T1 + 5000);
    ct_spin_lock(&c->lock);
    pthread_create(&s.t, NULL, sender_main, &s);
    for (long ms = 0; !atomic_load(&s.done) && ms < wait_ms; ms++) {
        sleep_ms(1);
    }
    ended = atomic_load(&s.done);
    ct_spin_unlock(&c->lock);
    pthread_join(s.t, NULL);
    CHECK(!s.err, "batch: %d", s.err);
    *state = s.state;
    return ended;
}

static void
test_settled_takes_no_lock(void)
{
    struct ovsct_config cfg = {
        .manual_clock = true, .start_ms = T1, .no_sweeper = true,
    };
    int64_t want = T1 + 5000
                   + ovsct_tp_defaults[OVSCT_TP_UDP_MULTIPLE] * 1000LL;
    uint8_t fwd[FG_FRAME_LEN], rev[FG_FRAME_LEN], state = 0;
    char why[512] = "";
    struct ovsct *ct;
    struct ct_conn *c;

    if (ovsct_create(&cfg, &ct)) {
        fprintf(stderr, "create failed\n");
        exit(1);
    }
    /* Connection 0 both ways (BIDIR), connection 1 one way (MULTIPLE). */
    fg_udp(fwd, 0);
    memcpy(rev, fwd, sizeof rev);
    reverse(rev);
    CHECK(!send_frame(ct, fwd, &state) && state == (OVSCT_CS_TRACKED
                                                   | OVSCT_CS_NEW),
          "first packet: state %#x", state);
    CHECK(!send_frame(ct, rev, &state)
          && state == (OVSCT_CS_TRACKED | OVSCT_CS_ESTABLISHED
                       | OVSCT_CS_REPLY_DIR), "reply: state %#x", state);
    fg_udp(fwd, 1);
    CHECK(!send_frame(ct, fwd, &state) && !send_frame(ct, fwd, &state),
          "one-way packets");

    CHECK(ends_while_locked(ct, 0, 10000, &state),
          "a packet of a settled connection waited for its lock");
    CHECK(state == (OVSCT_CS_TRACKED | OVSCT_CS_ESTABLISHED),
          "settled: state %#x", state);
    fg_udp(fwd, 0);
    c = conn_of(ct, fwd);
    CHECK(c && atomic_load(&c->expiration) == want,
          "settled: expiry %lld, not %lld",
          c ? (long long) atomic_load(&c->expiration) : -1LL,
          (long long) want);

    /* The control: a one-way connection's packet takes the lock. */
    CHECK(!ends_while_locked(ct, 1, 200, &state),
          "a packet of a one-way connection did not wait for its lock");
    CHECK(state == (OVSCT_CS_TRACKED | OVSCT_CS_NEW),
          "one-way: state %#x", state);
    CHECK(!ovsct_check_invariants(ct, why, sizeof why), "invariants: %s",
          why);
    ovsct_destroy(ct);
}

int
main(void)
{
    fg_init();
    test_settled_takes_no_lock();
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}
