/*
 * config.c -- the engine's life cycle and configuration: creation and
 * destruction, the clock, settings (maxconns, sweep interval, TCP sequence
 * checking), exact counts, zone limits, timeout policies and the event
 * counters.
 *
 * These follow OVS's lib/conntrack.c (conntrack_init(),
 * conntrack_destroy(), conntrack_set_maxconns(), zone_limit_update(),
 * zone_limit_delete(), zone_limit_get()) and lib/conntrack-tp.c
 * (timeout_policy_update(), timeout_policy_delete()).  None of it is on
 * the per-packet path except what the packet path reads through atomics
 * (limits, policies, the clock).  Neighbours: conntrack.c (the packet
 * path), sweep.c (the sweeper started and stopped here), flush.c.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ovsct-private.h"

const uint32_t ovsct_tp_defaults[OVSCT_TP_N] = {
    [OVSCT_TP_TCP_SYN_SENT] = 30,
    [OVSCT_TP_TCP_SYN_RECV] = 30,
    [OVSCT_TP_TCP_ESTABLISHED] = 86400,
    [OVSCT_TP_TCP_FIN_WAIT] = 900,
    [OVSCT_TP_TCP_TIME_WAIT] = 45,
    [OVSCT_TP_TCP_CLOSE] = 30,
    [OVSCT_TP_UDP_FIRST] = 60,
    [OVSCT_TP_UDP_SINGLE] = 60,
    [OVSCT_TP_UDP_MULTIPLE] = 30,
    [OVSCT_TP_ICMP_FIRST] = 60,
    [OVSCT_TP_ICMP_REPLY] = 30,
};

/* Life cycle. */

static uint64_t
random_seed(void)
{
    struct timespec ts;
    uint64_t s;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    s = (uint64_t) ts.tv_nsec * 0x9e3779b97f4a7c15ULL;
    s ^= (uint64_t) getpid() << 32;
    s ^= (uint64_t) (uintptr_t) &s;
    return s;
}

int
ovsct_create(const struct ovsct_config *cfg, struct ovsct **ctp)
{
    uint32_t n = cfg && cfg->n_buckets ? cfg->n_buckets
                                       : OVSCT_DEFAULT_BUCKETS;
    struct ovsct *ct;
    uint32_t bits = 0;
    int err;

    *ctp = NULL;
    if (n & (n - 1) || n > (1u << 20)) {
        return EINVAL;
    }
    while ((1u << bits) < n) {
        bits++;
    }
    ct = aligned_alloc(64, (sizeof *ct + 63) & ~(size_t) 63);
    if (!ct) {
        return ENOMEM;
    }
    memset(ct, 0, sizeof *ct);
    ct->buckets = aligned_alloc(64, sizeof *ct->buckets * n);
    if (!ct->buckets) {
        free(ct);
        return ENOMEM;
    }
    memset(ct->buckets, 0, sizeof *ct->buckets * n);
    for (uint32_t i = 0; i < n; i++) {
        ct_mutex_init(&ct->buckets[i].lock);
    }
    ct->n_buckets = n;
    ct->bucket_shift = 32 - bits;
    ct->bucket_low_bits = cfg && cfg->bucket_low_bits;
    ct->seed = random_seed();
    atomic_init(&ct->maxconns, OVSCT_DEFAULT_MAXCONNS);
    atomic_init(&ct->min_timeout_ms, INT64_MAX);
    for (int i = 0; i < OVSCT_TP_N; i++) {
        int64_t t = (int64_t) ovsct_tp_defaults[i] * 1000;

        if (t < atomic_load(&ct->min_timeout_ms)) {
            atomic_store(&ct->min_timeout_ms, t);
        }
    }
    atomic_init(&ct->sweep_interval, OVSCT_DEFAULT_SWEEP_MS);
    atomic_init(&ct->tcp_seq_chk, true);
    atomic_init(&ct->last_full_reap, INT64_MIN);
    ct_mutex_init(&ct->cfg_lock);
    ct_events_init(ct, cfg ? cfg->event_ring : 0);
    ct_mutex_init(&ct->reclaim_lock);
    ct_mutex_init(&ct->slab_lock);
    ct_exp_init(ct);
    ct_wake_init(&ct->wake);
    if (ct_slab_init(ct) || ct_ipf_create(ct)) {
        ovsct_destroy(ct);
        return ENOMEM;
    }
    if (cfg && cfg->manual_clock) {
        ovsct_set_time(ct, cfg->start_ms);
    }
    if (!cfg || !cfg->no_sweeper) {
        err = ct_sweeper_start(ct);
        if (err) {
            ovsct_destroy(ct);
            return err;
        }
    }
    *ctp = ct;
    return 0;
}

void
ovsct_destroy(struct ovsct *ct)
{
    struct ct_tp *tp, *next;

    if (!ct) {
        return;
    }
    ct_sweeper_stop(ct);
    ct_events_destroy(ct);      /* No DESTROY events for the teardown. */
    ct_ipf_destroy(ct);
    ovsct_flush(ct, NULL, NULL);
    ct_reclaim_all(ct);
    for (uint32_t i = 0; i < ct->n_buckets; i++) {
        struct ct_bucket *b = &ct->buckets[i];

        ct_mutex_lock(&b->lock);
        if (b->slots) {
            ct_block_free(ct, b->slots,
                          (size_t) (b->mask + 1) * sizeof *b->slots);
        }
        b->slots = NULL;
        ct_mutex_unlock(&b->lock);
        ct_mutex_destroy(&b->lock);
    }
    for (int z = 0; z < CT_N_ZONES; z++) {
        struct ct_tp *zone_tp = atomic_load(&ct->zone_tp[z]);

        if (zone_tp) {          /* 65536 free(NULL) cost 0.3 s under ASan. */
            free(zone_tp);
        }
    }
    ct_mutex_lock(&ct->cfg_lock);
    for (tp = ct->tp_graveyard; tp; tp = next) {
        next = tp->next_dead;
        free(tp);
    }
    ct_mutex_unlock(&ct->cfg_lock);
    ct_exp_destroy(ct);
    ct_slab_destroy(ct);
    ct_mutex_destroy(&ct->slab_lock);
    ct_mutex_destroy(&ct->cfg_lock);
    ct_mutex_destroy(&ct->reclaim_lock);
    ct_wake_destroy(&ct->wake);
    free(ct->buckets);
    free(ct);
}

/* Clock. */

int64_t
ovsct_now(const struct ovsct *ct)
{
    struct timespec ts;

    if (atomic_load_explicit(&ct->manual_clock, memory_order_relaxed)) {
        return atomic_load_explicit(&ct->manual_now, memory_order_relaxed);
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
ovsct_set_time(struct ovsct *ct, int64_t now_ms)
{
    bool back = now_ms < ovsct_now(ct);

    atomic_store(&ct->manual_now, now_ms);
    atomic_store(&ct->manual_clock, true);
    if (back) {
        /* Expiries set from now on may fall before the sweeper's lower
         * bounds, which assumed time only moves forward. */
        ct_clear_sweep_bounds(ct);
    }
}

void
ovsct_use_real_clock(struct ovsct *ct)
{
    atomic_store(&ct->manual_clock, false);
}

/* Settings. */

uint32_t
ovsct_get_maxconns(const struct ovsct *ct)
{
    return atomic_load(&ct->maxconns);
}

void
ovsct_set_maxconns(struct ovsct *ct, uint32_t maxconns)
{
    atomic_store(&ct->maxconns, maxconns);
}

uint32_t
ovsct_get_sweep_interval(const struct ovsct *ct)
{
    return atomic_load(&ct->sweep_interval);
}

int
ovsct_set_sweep_interval(struct ovsct *ct, uint32_t ms)
{
    if (!ms) {
        return EINVAL;
    }
    atomic_store(&ct->sweep_interval, ms);
    ct_wake_lock(&ct->wake);
    ct_wake_signal(&ct->wake);
    ct_wake_unlock(&ct->wake);
    return 0;
}

bool
ovsct_get_tcp_seq_chk(const struct ovsct *ct)
{
    return atomic_load(&ct->tcp_seq_chk);
}

void
ovsct_set_tcp_seq_chk(struct ovsct *ct, bool enabled)
{
    atomic_store(&ct->tcp_seq_chk, enabled);
}

/* Counts. */

/* Adds 'delta' to the connection count and, while zone limits are active,
 * to 'zone''s count.  Called with a bucket lock held. */
void
ct_count_add(struct ovsct *ct, uint16_t zone, int delta)
{
    atomic_fetch_add_explicit(&ct->n_conns, delta, memory_order_relaxed);
    if (atomic_load_explicit(&ct->limits_active, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&ct->zone_count[zone], delta,
                                  memory_order_relaxed);
    }
}

/* The admissions running batches hold and have not used: the part of
 * 'n_conns' that is not connections. */
int64_t
ct_reserved(struct ovsct *ct)
{
    uint32_t n = ct_thread_slots_hint();
    int64_t sum = 0;

    for (uint32_t i = 0; i < n; i++) {
        sum += atomic_load_explicit(&ct->tstat[i].reserved,
                                    memory_order_relaxed);
    }
    return sum;
}

/* Removes every expired connection now, so that the counts are exact.
 * Skipped when the engine clock has not moved since the last such reap
 * and no batch that ran with an older clock has ended since (nothing can
 * have expired in between), unless 'force'.  Must be called with no bucket
 * lock held. */
void
ct_reap_all(struct ovsct *ct, bool force)
{
    int64_t now = ovsct_now(ct);
    int64_t last = atomic_load(&ct->last_full_reap);
    uint64_t stale = atomic_load(&ct->stale_batches);

    /* Nothing can have expired since the last full reap if the clock has
     * not moved and no batch that ran with an older clock has ended since
     * that reap started (ovsct_execute()). */
    if (!force && last == now
        && stale == atomic_load(&ct->last_reap_stale)) {
        return;
    }
    ct_sweep_all(ct, now);
    atomic_store(&ct->last_reap_stale, stale);
    atomic_store(&ct->last_full_reap, now);
}

uint32_t
ovsct_nconns(struct ovsct *ct)
{
    int64_t n;

    ct_reap_all(ct, false);
    n = atomic_load(&ct->n_conns) - ct_reserved(ct);
    return n < 0 ? 0 : (uint32_t) n;
}

/* Zone limits. */

/* Starts counting per zone: under every bucket lock, drops expired
 * connections and counts the rest, so that counts are exact from here on
 * (a new limit counts what is already in its zone, where OVS's
 * zone_limit_create() in lib/conntrack.c starts at zero). */
static void
limits_activate(struct ovsct *ct) CT_NO_THREAD_SAFETY_ANALYSIS
{
    /* Walks every bucket under ct_lock_all(), which the analysis cannot
     * follow (lock array). */
    int64_t now;
    uint8_t gen;

    if (atomic_load(&ct->limits_active)) {
        return;
    }
    ct_reap_all(ct, true);
    ct_lock_all(ct);
    if (!atomic_load(&ct->limits_active)) {
        now = ovsct_now(ct);
        gen = atomic_load(&ct->gen);
        for (int z = 0; z < CT_N_ZONES; z++) {
            atomic_store(&ct->zone_count[z], 0);
        }
        for (uint32_t i = 0; i < ct->n_buckets; i++) {
            struct ct_bucket *b = &ct->buckets[i];

            for (uint32_t j = 0; b->slots && j <= b->mask; j++) {
                uint32_t e = b->slots[j].ent;
                struct ct_conn *c = e ? ct_ent_conn(ct, e) : NULL;

                if (!c || (e & 1) || atomic_load(&c->dead)
                    || c->gen != gen) {
                    continue;
                }
                /* Expired but unclaimed entries are not counted now and
                 * must not be decremented later: claim them.  One reading
                 * of the expiry decides, claimed or counted: a batch with
                 * an older clock may still refresh the connection (under
                 * its own lock, not ours) and move its expiry either way
                 * between two readings, leaving it neither claimed nor
                 * counted, to be decremented at its removal (found by the
                 * invariant check in tests/c/stress.c). */
                if (atomic_load(&c->expiration) <= now) {
                    ct_conn_claim(ct, c);
                } else {
                    atomic_fetch_add(&ct->zone_count[c->key.zone], 1);
                }
            }
        }
        atomic_store(&ct->limits_active, true);
    }
    ct_unlock_all(ct);
}

int
ovsct_set_zone_limit(struct ovsct *ct, int32_t zone, uint32_t limit)
{
    if (zone < OVSCT_ZONE_DEFAULT || zone >= CT_N_ZONES) {
        return EINVAL;
    }
    limits_activate(ct);
    ct_mutex_lock(&ct->cfg_lock);
    if (zone == OVSCT_ZONE_DEFAULT) {
        atomic_store(&ct->default_limit, limit);
    } else {
        atomic_store(&ct->zone_limit[zone], limit);
        atomic_fetch_or(&ct->zone_explicit[zone / 64],
                        UINT64_C(1) << (zone % 64));
    }
    ct_mutex_unlock(&ct->cfg_lock);
    return 0;
}

int
ovsct_del_zone_limit(struct ovsct *ct, int32_t zone)
{
    if (zone < OVSCT_ZONE_DEFAULT || zone >= CT_N_ZONES) {
        return EINVAL;
    }
    ct_mutex_lock(&ct->cfg_lock);
    if (zone == OVSCT_ZONE_DEFAULT) {
        atomic_store(&ct->default_limit, 0);
    } else {
        atomic_fetch_and(&ct->zone_explicit[zone / 64],
                         ~(UINT64_C(1) << (zone % 64)));
        atomic_store(&ct->zone_limit[zone], 0);
    }
    ct_mutex_unlock(&ct->cfg_lock);
    return 0;
}

int
ovsct_get_zone_limit(struct ovsct *ct, int32_t zone, uint32_t *limit,
                     uint32_t *count, bool *is_explicit)
{
    if (zone < OVSCT_ZONE_DEFAULT || zone >= CT_N_ZONES) {
        return EINVAL;
    }
    if (zone == OVSCT_ZONE_DEFAULT) {
        *limit = atomic_load(&ct->default_limit);
        *count = 0;
        *is_explicit = false;
        return 0;
    }
    limits_activate(ct);
    ct_reap_all(ct, false);
    *is_explicit = ct_zone_is_explicit(ct, zone);
    *limit = *is_explicit ? atomic_load(&ct->zone_limit[zone])
                          : atomic_load(&ct->default_limit);
    int32_t c = atomic_load(&ct->zone_count[zone]);
    *count = c < 0 ? 0 : (uint32_t) c;
    return 0;
}

size_t
ovsct_list_zone_limits(struct ovsct *ct, uint16_t *zones)
{
    size_t n = 0;

    for (int w = 0; w < CT_N_ZONES / 64; w++) {
        uint64_t bits = atomic_load(&ct->zone_explicit[w]);

        while (bits) {
            int b = __builtin_ctzll(bits);

            zones[n++] = (uint16_t) (w * 64 + b);
            bits &= bits - 1;
        }
    }
    return n;
}

/* Timeout policies. */

/* Keeps 'min_timeout_ms' the shortest timeout an update may set, after
 * policy 'tp' arrives.  If it got shorter, the sweeper's lower bounds
 * (computed with the longer one) may be too late: clear them all. */
static void
lower_min_timeout(struct ovsct *ct, const struct ct_tp *tp)
{
    int64_t min = atomic_load(&ct->min_timeout_ms), cur = min;

    for (int i = 0; i < OVSCT_TP_N; i++) {
        if ((int64_t) tp->v[i] * 1000 < min) {
            min = (int64_t) tp->v[i] * 1000;
        }
    }
    if (min >= cur) {
        return;
    }
    atomic_store(&ct->min_timeout_ms, min);
    /* Batches already running may still insert bounds computed with the
     * old minimum: let them finish before clearing. */
    ct_epoch_wait_quiescent();
    ct_clear_sweep_bounds(ct);
}

/* Forgets every slot's expiry lower bound (sweep.c). */
void
ct_clear_sweep_bounds(struct ovsct *ct)
{
    for (uint32_t i = 0; i < ct->n_buckets; i++) {
        struct ct_bucket *b = &ct->buckets[i];

        ct_mutex_lock(&b->lock);
        for (uint32_t j = 0; b->slots && j <= b->mask; j++) {
            b->slots[j].sweep_lb = 0;
        }
        ct_mutex_unlock(&b->lock);
    }
}

int
ovsct_set_zone_tp(struct ovsct *ct, uint16_t zone,
                  const uint32_t values[OVSCT_TP_N],
                  const bool present[OVSCT_TP_N])
{
    struct ct_tp *tp = calloc(1, sizeof *tp), *old;

    if (!tp) {
        return ENOMEM;
    }
    for (int i = 0; i < OVSCT_TP_N; i++) {
        tp->present[i] = present[i];
        tp->v[i] = present[i] ? values[i] : ovsct_tp_defaults[i];
    }
    ct_mutex_lock(&ct->cfg_lock);
    old = atomic_exchange(&ct->zone_tp[zone], tp);
    if (old) {
        old->next_dead = ct->tp_graveyard;
        ct->tp_graveyard = old;
    }
    ct_mutex_unlock(&ct->cfg_lock);
    lower_min_timeout(ct, tp);
    return 0;
}

int
ovsct_del_zone_tp(struct ovsct *ct, uint16_t zone)
{
    struct ct_tp *old;

    ct_mutex_lock(&ct->cfg_lock);
    old = atomic_exchange(&ct->zone_tp[zone], NULL);
    if (old) {
        old->next_dead = ct->tp_graveyard;
        ct->tp_graveyard = old;
    }
    ct_mutex_unlock(&ct->cfg_lock);
    return old ? 0 : ENOENT;
}

bool
ovsct_get_zone_tp(struct ovsct *ct, uint16_t zone,
                  uint32_t values[OVSCT_TP_N], bool present[OVSCT_TP_N])
{
    struct ct_tp *tp = atomic_load(&ct->zone_tp[zone]);

    for (int i = 0; i < OVSCT_TP_N; i++) {
        values[i] = tp ? tp->v[i] : ovsct_tp_defaults[i];
        present[i] = tp ? tp->present[i] : false;
    }
    return tp != NULL;
}

/* Counters. */

void
ovsct_get_counters(struct ovsct *ct, struct ovsct_counters *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < CT_MAX_THREADS; i++) {
        const struct ct_tstat *s = &ct->tstat[i];

        out->packets += atomic_load_explicit(&s->packets,
                                             memory_order_relaxed);
        out->invalid += atomic_load_explicit(&s->invalid,
                                             memory_order_relaxed);
        out->created += atomic_load_explicit(&s->created,
                                             memory_order_relaxed);
        out->removed += atomic_load_explicit(&s->removed,
                                             memory_order_relaxed);
        out->expired += atomic_load_explicit(&s->expired,
                                             memory_order_relaxed);
        out->flushed += atomic_load_explicit(&s->flushed,
                                             memory_order_relaxed);
        out->full += atomic_load_explicit(&s->full, memory_order_relaxed);
        out->zone_full += atomic_load_explicit(&s->zone_full,
                                               memory_order_relaxed);
        out->nat_exhausted += atomic_load_explicit(&s->nat_exhausted,
                                                   memory_order_relaxed);
        out->lookup_reaped += atomic_load_explicit(&s->lookup_reaped,
                                                   memory_order_relaxed);
        out->lock_contended += atomic_load_explicit(&s->lock_contended,
                                                    memory_order_relaxed);
    }
    out->sweeps = atomic_load(&ct->sweeps);
    out->sweep_scanned = atomic_load(&ct->sweep_scanned);
    out->max_sweep_hold_ns = atomic_load(&ct->max_sweep_hold_ns);
    for (int i = 0; i < OVSCT_SWEEP_HOLD_CLASSES; i++) {
        out->sweep_hold_hist[i] = atomic_load(&ct->sweep_hold_hist[i]);
    }
}

void
ovsct_trim(void)
{
    malloc_trim(0);
}

/* True if no connection exists in any form: none counted, no node in any
 * map (a lazily left node still points at its connection), nothing
 * waiting to be freed. */
bool
ct_table_empty(struct ovsct *ct)
{
    bool empty;

    if (atomic_load(&ct->n_conns) != 0) {
        return false;
    }
    for (uint32_t i = 0; i < ct->n_buckets; i++) {
        struct ct_bucket *b = &ct->buckets[i];

        ct_mutex_lock(&b->lock);
        empty = !b->used;
        ct_mutex_unlock(&b->lock);
        if (!empty) {
            return false;
        }
    }
    return ct_retire_empty(ct) && atomic_load(&ct->n_conns) == 0;
}

/* Gives connection memory back to the OS if the table is empty.  Called
 * by the reclaimer after it freed everything retired. */
void
ct_release_if_empty(struct ovsct *ct)
{
    if (ct_table_empty(ct) && ct_slab_release(ct)) {
        malloc_trim(0);
    }
}
