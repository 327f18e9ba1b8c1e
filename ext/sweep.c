/*
 * sweep.c -- the sweeper thread.
 *
 * There are no expiration lists: the sweeper walks the buckets.  The sweep
 * interval is the time one full pass over the table may take.  The pass is
 * cut into slices: the thread wakes every 'interval' / CT_SWEEP_SLICES ms
 * (at least 1 ms) and scans the next n_buckets / CT_SWEEP_SLICES buckets
 * (at least one), resuming at 'sweep_cursor'.  Tunables:
 *
 *   CT_SWEEP_SLICES   100: wake-ups per pass.  More slices mean shorter
 *                     wake-ups and a finer cursor; fewer mean less
 *                     wake-up overhead on an idle table.
 *   CT_SWEEP_BUDGET   65536 nodes scanned per wake-up at most, so one
 *                     wake-up stays in the low milliseconds even with few
 *                     large buckets.
 *   busy rule         if a wake-up removed at least 1/8 of what it
 *                     scanned, the next one starts at once: a mass expiry
 *                     drains at full speed instead of at the pace of the
 *                     interval (the kernel's gc_worker adapts the same way).
 *
 * Touching every connection on every pass would cost a cache miss each.
 * Each map slot therefore keeps a lower bound on its connection's expiry
 * (struct ct_slot 'sweep_lb'), and the sweeper skips a slot while the
 * clock is below it.  The bound holds because an expiry is only ever set
 * by a packet, to that packet's time plus some timeout, and no timeout is
 * shorter than 'min_timeout_ms': so from any moment on, the expiry is at
 * least min(current expiry, now + min_timeout_ms), which is what the
 * sweeper records when it finds the connection alive.  A new policy with
 * a shorter timeout clears every bound.  "now" is a batch's clock reading
 * (one per batch), and a batch may still run when the clock has moved on:
 * each bound keeps one unit (CT_LB_SHIFT) of slack for that, and a batch
 * whose reading ends up older than the clock by more than the slack may
 * have set an expiry below a bound computed meanwhile (a connection that a
 * newer batch created, then refreshed by ours), so it clears every bound
 * before it ends (ovsct_execute()).  Until then the slot is only skipped,
 * never wrongly removed.  Counting reaps (exact counts)
 * use the same scan, so they cost a pass over the slot arrays, not over
 * the connections.
 *
 * One bucket lock is held at a time, and ct_bucket_sweep() drops it every
 * CT_SWEEP_HOLD_MAX removals, so a lock hold does not grow with the table.
 * After each wake-up the thread frees retired connections (epoch.c) and
 * fills the pool of faulted-in slabs (slab.c); a packet thread that takes
 * a slab from the pool wakes it for the refill alone, between ticks.
 * ovsct_set_sweep_interval() and ovsct_destroy() wake it up at once.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "ovsct-private.h"

#define CT_SWEEP_SLICES 100
#define CT_SWEEP_BUDGET 65536

size_t
ct_sweep_all(struct ovsct *ct, int64_t now)
{
    size_t removed = 0, scanned = 0;
    uint64_t hold = 0;

    for (uint32_t i = 0; i < ct->n_buckets; i++) {
        removed += ct_bucket_sweep(ct, &ct->buckets[i], now, &scanned,
                                   &hold, NULL);
    }
    return removed;
}

size_t
ovsct_sweep_now(struct ovsct *ct)
{
    struct ovsct_counters before, after;

    ovsct_get_counters(ct, &before);
    ct_reap_all(ct, true);
    ct_ipf_sweep(ct, ovsct_now(ct));
    ct_reclaim(ct);
    ovsct_get_counters(ct, &after);
    return after.removed - before.removed;
}

static void
raise_max(_Atomic uint64_t *max, uint64_t value)
{
    uint64_t cur = atomic_load(max);

    while (value > cur && !atomic_compare_exchange_weak(max, &cur, value)) {
        continue;
    }
}

/* One wake-up: scans a slice of buckets from the cursor.  Returns true if
 * it found much to remove. */
static bool
sweep_slice(struct ovsct *ct)
{
    uint32_t n = ct->n_buckets;
    uint32_t per = (n + CT_SWEEP_SLICES - 1) / CT_SWEEP_SLICES;
    uint32_t cur = atomic_load(&ct->sweep_cursor) & (n - 1);
    int64_t now = ovsct_now(ct);
    size_t scanned = 0, removed = 0;
    uint64_t hold = 0, hist[OVSCT_SWEEP_HOLD_CLASSES] = { 0 };

    for (uint32_t k = 0; k < per && scanned < CT_SWEEP_BUDGET; k++) {
        removed += ct_bucket_sweep(ct, &ct->buckets[cur], now, &scanned,
                                   &hold, hist);
        cur = (cur + 1) & (n - 1);
    }
    atomic_store(&ct->sweep_cursor, cur);
    ct_ipf_sweep(ct, now);      /* No bucket lock held here. */
    atomic_fetch_add(&ct->sweeps, 1);
    atomic_fetch_add(&ct->sweep_scanned, scanned);
    raise_max(&ct->max_sweep_hold_ns, hold);
    for (int i = 0; i < OVSCT_SWEEP_HOLD_CLASSES; i++) {
        if (hist[i]) {
            atomic_fetch_add(&ct->sweep_hold_hist[i], hist[i]);
        }
    }
    return removed && removed * 8 >= scanned;
}

static void *
sweeper_main(void *ct_)
{
    struct ovsct *ct = ct_;

    while (!atomic_load(&ct->stop)) {
        bool busy = sweep_slice(ct);
        uint32_t interval = atomic_load(&ct->sweep_interval);
        uint32_t tick = interval / CT_SWEEP_SLICES;
        struct timespec ts;

        ct_reclaim(ct);
        ct_slab_refill(ct);
        if (busy) {
            continue;
        }
        if (!tick) {
            tick = 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += tick / 1000;
        ts.tv_nsec += (long) (tick % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        ct_wake_lock(&ct->wake);
        while (!atomic_load(&ct->stop)) {
            if (atomic_exchange(&ct->refill_now, false)) {
                /* A packet thread took a spare slab while a CPU was free
                 * (ct_slab_prepare()): fault the next ones in now, on
                 * this thread's time, rather than at the next tick, then
                 * sleep on. */
                ct_wake_unlock(&ct->wake);
                ct_slab_refill(ct);
                ct_wake_lock(&ct->wake);
                continue;
            }
            if (ct_wake_wait_until(&ct->wake, &ts)
                || !atomic_load(&ct->refill_now)) {
                break;          /* The tick, or a stop or a new interval. */
            }
        }
        ct_wake_unlock(&ct->wake);
    }
    return NULL;
}

int
ct_sweeper_start(struct ovsct *ct)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    int err;

    ct->n_cpus = n > 0 ? (uint32_t) n : 1;
    atomic_store(&ct->stop, false);
    err = pthread_create(&ct->sweeper, NULL, sweeper_main, ct);
    ct->has_sweeper = !err;
    return err;
}

void
ct_sweeper_stop(struct ovsct *ct)
{
    if (!ct->has_sweeper) {
        return;
    }
    ct_wake_lock(&ct->wake);
    atomic_store(&ct->stop, true);
    ct_wake_signal(&ct->wake);
    ct_wake_unlock(&ct->wake);
    pthread_join(ct->sweeper, NULL);
    ct->has_sweeper = false;
}
