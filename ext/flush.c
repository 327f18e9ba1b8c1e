/*
 * flush.c -- clearing the table: everything, one zone, one tuple, or the
 * connections that match a filter (OVS's conntrack_flush() and
 * conntrack_flush_tuple() in lib/conntrack.c, and the ofp_ct_match filter
 * of ct_dpif_flush() in lib/ct-dpif.c, matched by filter.c).
 *
 * Flushing everything swaps every map for an empty one under all bucket
 * locks (O(buckets)); the other flushes walk one bucket at a time under
 * its lock.  Removed connections go to the epoch reclaimer (epoch.c).
 * Every flush adds the live connections it removed to the 'flushed'
 * counter (expired ones it meets count as expired, not flushed).
 * Neighbours: table.c (removal), dump.c (ct_tuple_from_key(),
 * ct_entry_fill()), filter.c (the matcher).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ovsct-private.h"

/* Flush. */

/* Flushes everything: takes every bucket lock, swaps every map for an
 * empty one and settles the counts at once; the old maps and their
 * connections are freed by the reclaimer.  Cost: O(buckets) under the
 * locks, independent of the number of connections. */
static size_t
flush_all(struct ovsct *ct) CT_NO_THREAD_SAFETY_ANALYSIS
{
    /* ct_lock_all() takes a lock array the analysis cannot follow. */
    struct ct_dead_map *dead = NULL, *dm;
    int64_t live = 0;

    ct_lock_all(ct);
    for (uint32_t i = 0; i < ct->n_buckets; i++) {
        struct ct_bucket *b = &ct->buckets[i];

        /* Every lock is held: no claim runs. */
        live += ct_bucket_live(b);
        atomic_store_explicit(&b->n_added, 0, memory_order_relaxed);
        atomic_store_explicit(&b->n_claimed, 0, memory_order_relaxed);
        if (!b->slots) {
            continue;
        }
        dm = malloc(sizeof *dm);
        if (!dm) {
            continue;           /* Keep this bucket: it stays consistent. */
        }
        dm->slots = b->slots;
        dm->n = b->mask + 1;
        dm->next = dead;
        dead = dm;
        ct_map_publish(b, NULL, 0);
        b->used = 0;
    }
    atomic_store(&ct->gen, (uint8_t) (atomic_load(&ct->gen) + 1));
    atomic_fetch_sub(&ct->n_conns, live);
    if (live > 0) {
        /* Gone without a claim each: count them as removed here. */
        ct_stat_add(&ct_my_stat(ct)->removed, (uint64_t) live);
    }
    if (atomic_load(&ct->limits_active)) {
        for (int z = 0; z < CT_N_ZONES; z++) {
            atomic_store_explicit(&ct->zone_count[z], 0,
                                  memory_order_relaxed);
        }
    }
    ct_exp_clear(ct);           /* Their parents are about to go. */
    /* Retire the old maps before the buckets can be seen empty: the
     * reclaimer gives memory back once the table looks empty, and these
     * maps still point at their connections. */
    for (dm = dead; dm;) {
        struct ct_dead_map *next = dm->next;

        ct_retire_maps(ct, dm);
        dm = next;
    }
    ct_unlock_all(ct);
    return live < 0 ? 0 : (size_t) live;
}

/* Removes every live connection of bucket 'b' for which 'match' is true,
 * and every dead node met.  Returns the number claimed. */
typedef bool match_fn(const struct ct_conn *, const void *aux);

static size_t
flush_bucket(struct ovsct *ct, struct ct_bucket *b, int64_t now,
             match_fn *match, const void *aux)
{
    size_t n = 0;
    uint8_t gen;
    bool again;

    ct_mutex_lock(&b->lock);
    /* Read under the lock: a bulk flush bumps it holding every bucket
     * lock, so a connection created after one (new generation) is not
     * taken for a flushed one. */
    gen = atomic_load(&ct->gen);
    do {
        /* Deletions shift entries, possibly past the scan position:
         * rescan until a pass removes nothing. */
        again = false;
        for (uint32_t i = 0; b->slots && i <= b->mask; i++) {
            uint32_t e = b->slots[i].ent;
            struct ct_conn *c = e ? ct_ent_conn(ct, e) : NULL;

            if (!c) {
                continue;
            }
            if (ct_conn_live(c, now, gen)) {
                /* Matched through the forward node only: once. */
                if ((e & 1) || !match(c, aux)) {
                    continue;
                }
                n++;
            }
            ct_remove_locked(ct, b, c, (int) (e & 1));
            again = true;
            i--;                /* Slot i now holds a shifted entry. */
        }
    } while (again);
    ct_map_shrink(ct, b);
    ct_mutex_unlock(&b->lock);
    return n;
}

static bool
match_any(const struct ct_conn *c OVSCT_UNUSED__,
          const void *aux OVSCT_UNUSED__)
{
    return true;
}

static bool
match_zone(const struct ct_conn *c, const void *aux)
{
    return c->key.zone == *(const uint16_t *) aux;
}

int
ovsct_flush(struct ovsct *ct, const uint16_t *zone, size_t *n_flushed)
{
    size_t n = 0;

    if (!zone && ct_events_on(ct)) {
        /* Readers want a DESTROY per connection: walk the buckets
         * instead of swapping the maps. */
        int64_t now = ovsct_now(ct);

        for (uint32_t i = 0; i < ct->n_buckets; i++) {
            n += flush_bucket(ct, &ct->buckets[i], now, match_any, NULL);
        }
        ct_reclaim(ct);
    } else if (!zone) {
        n = flush_all(ct);
        if (!ct->has_sweeper) {
            ct_reclaim(ct);
        }
    } else {
        int64_t now = ovsct_now(ct);

        for (uint32_t i = 0; i < ct->n_buckets; i++) {
            n += flush_bucket(ct, &ct->buckets[i], now, match_zone, zone);
        }
        ct_reclaim(ct);
    }
    ct_stat_add(&ct_my_stat(ct)->flushed, n);
    if (n_flushed) {
        *n_flushed = n;
    }
    return 0;
}

/* Builds the lookup key for 'tuple' in 'zone'. */
static int
key_from_tuple(const struct ovsct_tuple *t, uint16_t zone, struct ct_key *k)
{
    memset(k, 0, sizeof *k);
    if (t->l3 != 4 && t->l3 != 6) {
        return EINVAL;
    }
    memcpy(k->src, t->src, t->l3 == 4 ? 4 : 16);
    memcpy(k->dst, t->dst, t->l3 == 4 ? 4 : 16);
    k->l3 = t->l3;
    k->nw_proto = t->proto;
    k->zone = zone;
    if (t->proto == 1 || t->proto == 58) {
        k->sport = htons(t->sport);
        k->dport = (uint16_t) (t->icmp_type << 8 | t->icmp_code);
    } else if (t->proto == 6 || t->proto == 17 || t->proto == 132
               || t->proto == 136 || t->proto == 33) {
        k->sport = htons(t->sport);
        k->dport = htons(t->dport);
    }
    return 0;
}

int
ovsct_flush_tuple(struct ovsct *ct, uint16_t zone,
                  const struct ovsct_tuple *tuple)
{
    struct ct_key key;
    struct ct_bucket *b;
    struct ct_conn *c;
    uint32_t hash;
    int dir, err;

    err = key_from_tuple(tuple, zone, &key);
    if (err) {
        return err;
    }
    hash = ct_key_hash(ct, &key);
    b = &ct->buckets[ct_bucket_of(ct, hash)];

    ct_epoch_enter();
    ct_mutex_lock(&b->lock);
    c = ct_map_find(ct, b, hash, &key, ovsct_now(ct), &dir);
    ct_mutex_unlock(&b->lock);
    err = c && ct_conn_kill(ct, c) ? 0 : ENOENT;
    if (!err) {
        ct_stat_inc(&ct_my_stat(ct)->flushed);
    }
    ct_epoch_exit();
    ct_reclaim(ct);
    return err;
}

struct filter_aux {
    struct ovsct *ct;
    const struct ovsct_filter *f;
};

/* Matches through the one filter matcher (filter.c), on the connection
 * as a dump would copy it.  Called with the bucket lock held. */
static bool
match_filter(const struct ct_conn *c, const void *aux_)
{
    const struct filter_aux *aux = aux_;
    struct ovsct_entry e;

    ct_entry_fill(aux->ct, (struct ct_conn *) c, &e);
    return ovsct_filter_match(aux->f, &e);
}

int
ovsct_flush_filter(struct ovsct *ct, const struct ovsct_filter *f,
                   size_t *n_flushed)
{
    const struct filter_aux aux = { ct, f };
    int64_t now = ovsct_now(ct);
    size_t n = 0;

    for (uint32_t i = 0; i < ct->n_buckets; i++) {
        n += flush_bucket(ct, &ct->buckets[i], now, match_filter, &aux);
    }
    ct_reclaim(ct);
    ct_stat_add(&ct_my_stat(ct)->flushed, n);
    if (n_flushed) {
        *n_flushed = n;
    }
    return 0;
}
