/*
 * test_clock.c -- a batch that runs across a clock jump, made to happen
 * deterministically (the race tests/c/stress.c found about once in five
 * TSan runs).
 *
 * A batch reads the engine clock once, at its start.  If the clock jumps
 * while it runs, a newer batch can create a connection -- its slot's sweep
 * bound computed from the newer clock -- that the older batch then
 * refreshes, setting the expiry from the older clock, below the bound.
 * The sweeper and the count's reap skip a slot until the clock passes its
 * bound, so the connection, expired, stayed counted by ovsct_nconns() and
 * broke the 'sweep_lb <= expiry' invariant (ovsct_check_invariants()).
 * The engine's answer (ovsct_execute(), sweep.c): such a batch clears
 * every bound before it ends.
 *
 * The interleaving is forced, not hoped for: the test holds the bucket
 * lock of the older batch's first frame (so that batch has read its clock
 * and waits, as the lock-contention counter shows), moves the clock,
 * creates the connection of the older batch's second frame from the main
 * thread, then lets the older batch go.  The scenario itself is checked
 * (the older batch did run with the older clock and did set the stale
 * expiry), so a change of the engine that avoids it fails loudly instead
 * of passing vacuously.  The same holds for a clock set back while a
 * batch runs (test_clock_back_during_a_batch()).
 *
 * Includes ovsct-private.h for the bucket lock only.  Run by `make asan`
 * (every tests/c driver) and `make asan-clang`.  Prints "N passed, M
 * failed" and exits non-zero if M > 0.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "framegen.h"
#include "ovsct.h"
#include "ovsct-private.h"

#define T1 1000000                      /* ms: the older batch's clock. */
#define JUMP 200000                     /* ms: longer than UDP timeouts. */
#define MAX_FLOWS 64

/* UDP flow 'i': 10.0.0.(i+1):(1000+i) -> 10.1.0.1:53, FG_FRAME_LEN bytes
 * at 'f'. */
static void
flow_frame(uint8_t *f, uint32_t i)
{
    struct fg_frame fr;
    uint8_t s[4] = { 10, 0, 0, (uint8_t) (i + 1) }, d[4] = { 10, 1, 0, 1 };

    fg_ip4_raw(&fr, 0, s, d, 17);
    fg_udp_hdr(&fr, (uint16_t) (1000 + i), 53, 0, 0);
    fg_finish_csum(&fr, -1);
    memcpy(f, fr.b, FG_FRAME_LEN);
}

/* Runs the frames of 'flows' (n of them) as one batch; 0 or an errno. */
static int
run_flows(struct ovsct *ct, const uint32_t *flows, size_t n)
{
    static const struct ovsct_action commit = { .commit = true };
    uint8_t data[4 * FG_FRAME_LEN], states[4];
    uint32_t offsets[5] = { 0 };
    struct ovsct_batch batch = {
        .data = data, .size = n * FG_FRAME_LEN, .offsets = offsets, .n = n,
    };

    for (size_t i = 0; i < n; i++) {
        flow_frame(data + i * FG_FRAME_LEN, flows[i]);
        offsets[i + 1] = (uint32_t) ((i + 1) * FG_FRAME_LEN);
    }
    return ovsct_execute(ct, &batch, &commit, states);
}

/* The live entry of flow 'i' (by source port), or false. */
static bool
find_entry(struct ovsct *ct, uint32_t i, struct ovsct_entry *out)
{
    struct ovsct_entry buf[MAX_FLOWS];
    struct ovsct_dump *d;
    bool found = false;
    size_t n;

    if (ovsct_dump_start(ct, NULL, &d)) {
        return false;
    }
    while (!ovsct_dump_next(d, buf, MAX_FLOWS, &n) && n) {
        for (size_t k = 0; k < n; k++) {
            if (buf[k].orig.sport == 1000 + i) {
                *out = buf[k];
                found = true;
            }
        }
    }
    ovsct_dump_done(d);
    return found;
}

struct older {
    struct ovsct *ct;
    uint32_t flows[2];
    int err;
};

static void *
older_batch(void *arg_)
{
    struct older *o = arg_;

    o->err = run_flows(o->ct, o->flows, 2);
    return NULL;
}

/* Creates a table of 4 buckets, its clock at 'start_ms', no sweeper, and
 * commits the flows 0 .. MAX_FLOWS - 1 to learn their buckets. */
static struct ovsct *
probed_table(int64_t start_ms)
{
    struct ovsct_config cfg = {
        .n_buckets = 4, .manual_clock = true, .start_ms = start_ms,
        .no_sweeper = true,
    };
    struct ovsct *ct;

    if (ovsct_create(&cfg, &ct)) {
        fprintf(stderr, "create failed\n");
        exit(1);
    }
    for (uint32_t i = 0; i < MAX_FLOWS; i++) {
        CHECK(!run_flows(ct, &i, 1), "probe %u", i);
    }
    return ct;
}

/* Creates a table at T1 and plays the race on it: the older batch (flows
 * p, then c) reads T1 and waits on p's bucket; meanwhile the clock jumps
 * by JUMP and a newer batch creates c; then the older batch goes on and
 * refreshes c.  Returns the table, p and c. */
static struct ovsct *
race(uint32_t *pp, uint32_t *cp)
{
    struct ovsct *ct = probed_table(T1);
    struct ovsct_entry e;
    uint32_t p = 0, c = 0, bp;
    size_t flushed;

    /* Flow p (its bucket will be held) and flow c, in another bucket. */
    CHECK(find_entry(ct, p, &e), "probe entry");
    bp = e.bucket;
    for (uint32_t i = 1; i < MAX_FLOWS && !c; i++) {
        if (find_entry(ct, i, &e) && e.bucket != bp) {
            c = i;
        }
    }
    CHECK(c, "no flow outside bucket %u", bp);
    CHECK(!ovsct_flush(ct, NULL, &flushed), "flush");
    CHECK(ovsct_nconns(ct) == 0, "table not empty");

    struct older o = { .ct = ct, .flows = { p, c } };
    uint64_t before = lock_contended(ct);
    pthread_t t;

    ct_mutex_lock(&ct->buckets[bp].lock);
    pthread_create(&t, NULL, older_batch, &o);
    /* It has read its clock once it fails to take the lock. */
    wait_blocked(ct, before, "the older batch");
    ovsct_set_time(ct, T1 + JUMP);
    CHECK(!run_flows(ct, &c, 1), "newer batch");
    ct_mutex_unlock(&ct->buckets[bp].lock);
    pthread_join(t, NULL);
    CHECK(!o.err, "older batch: %d", o.err);
    *pp = p;
    *cp = c;
    return ct;
}

/* The scenario happens as described: p was created at T1, and c, created
 * at the newer time, was refreshed from T1 (a second packet one way:
 * udp_single), to a time already past. */
static void
test_scenario(void)
{
    int64_t p_exp = T1 + ovsct_tp_defaults[OVSCT_TP_UDP_FIRST] * 1000LL;
    int64_t c_exp = T1 + ovsct_tp_defaults[OVSCT_TP_UDP_SINGLE] * 1000LL;
    struct ovsct_entry e = { 0 };
    uint32_t p, c;
    struct ovsct *ct = race(&p, &c);

    CHECK(c_exp < T1 + JUMP, "udp_single longer than the jump");
    ovsct_set_time(ct, T1);     /* Look at them alive. */
    CHECK(find_entry(ct, p, &e) && e.expiration == p_exp,
          "p expires at %lld, not %lld", (long long) e.expiration,
          (long long) p_exp);
    CHECK(find_entry(ct, c, &e) && e.expiration == c_exp,
          "c expires at %lld, not %lld", (long long) e.expiration,
          (long long) c_exp);
    ovsct_destroy(ct);
}

/* Once the batches are over, the invariants hold and the exact count
 * leaves out the expired connections (without going back in time, which
 * clears the bounds on its own). */
static void
test_count_after_the_race(void)
{
    struct ovsct_entry e;
    char why[512] = "";
    uint32_t p, c, n;
    struct ovsct *ct = race(&p, &c);

    CHECK(!ovsct_check_invariants(ct, why, sizeof why), "invariants: %s",
          why);
    n = ovsct_nconns(ct);
    CHECK(n == 0, "nconns %u after every expiry", n);
    CHECK(!find_entry(ct, c, &e), "c still dumped");
    ovsct_destroy(ct);
}

struct set_back {
    struct ovsct *ct;
};

static void *
set_back(void *arg_)
{
    struct set_back *sb = arg_;

    ovsct_set_time(sb->ct, T1);         /* Then clears every bound. */
    return NULL;
}

/* The clock set back while a batch runs.  The batch (flows p, then c)
 * reads the later clock T1 + JUMP and waits on p's bucket; another thread
 * sets the clock back to T1, and its clear of every bound passes c's
 * bucket (a lower index) and then waits on p's.  The batch then creates c
 * with an expiry and a sweep bound from T1 + JUMP, after that clear.  A
 * packet of c at T1 sets its expiry from T1, far below the bound, unless
 * the batch cleared the bounds itself when it ended with the clock behind
 * its own reading. */
static void
test_clock_back_during_a_batch(void)
{
    struct ovsct *ct = probed_table(T1 + JUMP);
    struct ovsct_entry e;
    uint32_t p = 0, c = 0, bp = 0, bc = 0;
    char why[512] = "";
    size_t flushed;

    /* p in the highest bucket used, c in a lower one. */
    for (uint32_t i = 0; i < MAX_FLOWS; i++) {
        if (find_entry(ct, i, &e) && (i == 0 || e.bucket > bp)) {
            p = i;
            bp = e.bucket;
        }
    }
    for (uint32_t i = 0; i < MAX_FLOWS; i++) {
        if (find_entry(ct, i, &e) && e.bucket < bp) {
            c = i;
            bc = e.bucket;
        }
    }
    CHECK(bc < bp && c != p, "no two flows in ordered buckets");
    CHECK(!ovsct_flush(ct, NULL, &flushed), "flush");

    struct older o = { .ct = ct, .flows = { p, c } };
    struct set_back sb = { .ct = ct };
    uint64_t before = lock_contended(ct);
    pthread_t t, tb;

    ct_mutex_lock(&ct->buckets[bp].lock);
    pthread_create(&t, NULL, older_batch, &o);
    wait_blocked(ct, before, "the batch");
    pthread_create(&tb, NULL, set_back, &sb);
    for (int ms = 0; ovsct_now(ct) != T1 && ms < 10000; ms++) {
        sleep_ms(1);
    }
    /* Let the clear pass the buckets below p's (it then waits on it). */
    sleep_ms(100);
    ct_mutex_unlock(&ct->buckets[bp].lock);
    pthread_join(t, NULL);
    pthread_join(tb, NULL);
    CHECK(!o.err, "batch: %d", o.err);
    /* The scenario: c was created from the later clock. */
    CHECK(find_entry(ct, c, &e)
          && e.expiration == T1 + JUMP
             + ovsct_tp_defaults[OVSCT_TP_UDP_FIRST] * 1000LL,
          "c expires at %lld", (long long) e.expiration);
    CHECK(!run_flows(ct, &c, 1), "packet of c at T1");
    CHECK(!ovsct_check_invariants(ct, why, sizeof why), "invariants: %s",
          why);
    ovsct_destroy(ct);
}

int
main(void)
{
    test_scenario();
    test_count_after_the_race();
    test_clock_back_during_a_batch();
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}
