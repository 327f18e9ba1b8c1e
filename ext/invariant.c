/*
 * invariant.c -- ovsct_check_invariants(): the table's invariants, checked
 * by a full walk, for tests, the stress driver and the fuzz harnesses.
 *
 * Call it only while no other thread uses the engine (the sweeper thread
 * may run: every walk holds all bucket locks).  What it checks, against
 * the layout described in ovsct-private.h:
 *
 *   Slots and handles.  Every occupied slot's handle names a connection
 *   inside the used part of the region; the connection's cached node hash
 *   and bucket match the slot and the bucket that holds it; the hash is
 *   the hash of the node's key and picks that bucket; the slot is
 *   reachable from its home slot by linear probing (no empty slot
 *   between); 'used' equals the occupied slots; no connection in a map is
 *   from before the last bulk flush; a plain connection has one slot (for
 *   both of its keys, which hash alike), a NAT connection two.
 *
 *   Reachability.  Every unclaimed connection's forward node and, for a
 *   NAT connection, its reverse node are linked ('n_linked' agrees) in the
 *   bucket their keys hash to.
 *
 *   Uniqueness.  Among live connections, forward keys and NAT reply keys
 *   are pairwise distinct: no two connections with one forward key, no
 *   two NAT bindings with one reply key, no NAT reply key that is another
 *   connection's forward key.  (A plain connection's reply key may equal
 *   another one's: OVS's conn_not_found() does not check it either.)
 *
 *   Counts.  n_conns equals the unclaimed connections of a walk and no
 *   thread holds a reservation (ct_reserved() is 0: no batch running),
 *   each bucket's live count (ct_bucket_live()) equals its unclaimed
 *   forward nodes, and while zone limits are active each zone's count
 *   equals its unclaimed connections.  Every count compared is read
 *   under the walk's locks: the sweeper may claim an expired connection
 *   the moment they are released, which takes it out of the counts (a
 *   zone count read after the walk was now and then one below the
 *   walk's figure: docs/reliability.md).  Then a count
 *   query (ovsct_nconns(), which reaps what expired) must leave no
 *   connection counted that had expired when it started: a new walk finds
 *   none and (with a manual clock) exactly as many unclaimed connections
 *   as it answered.
 *
 *   Sweeper bounds.  No unclaimed connection's slot has a sweep lower
 *   bound past its expiry (the sweeper would skip it once expired).
 *
 *   Memory.  Every connection a slot names and every map array cut from
 *   the region lies in an arena that is laid now, not in memory a release
 *   gave back (slab.c); a bucket has a map exactly when it has nodes (a
 *   release sees maps only through the buckets' node counts).
 *
 * Neighbours: table.c (maps, keys), keyhash.h (hashing), conntrack.c (counts),
 * slab.c (the region), tests/c/stress.c and tests/fuzz/ (callers).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovsct-private.h"

struct inv {
    struct ovsct *ct;
    char *err;
    size_t errlen;
    int failed;
    int64_t now;
    uint8_t gen;
    int64_t n_conns, n_reserved;        /* Read under all bucket locks. */
    bool limits;                        /* Likewise: 'limits_active' and, */
    int32_t *zone_counts;               /* if set, 'zone_count[]'. */
    int64_t before;             /* Unclaimed connections expired at or
                                 * before this time are 'stale'. */
};

static int
inv_fail(struct inv *v, const char *format, ...)
{
    if (!v->failed && v->err && v->errlen) {
        va_list args;

        va_start(args, format);
        vsnprintf(v->err, v->errlen, format, args);
        va_end(args);
    }
    v->failed = 1;
    return EINVAL;
}

/* Short text of 'k' for messages. */
static const char *
key_text(const struct ct_key *k, char *buf, size_t size)
{
    if (k->l3 == 4) {
        const uint8_t *s = (const uint8_t *) k->src;
        const uint8_t *d = (const uint8_t *) k->dst;

        snprintf(buf, size, "zone=%u proto=%u %u.%u.%u.%u:%u->%u.%u.%u.%u:%u",
                 k->zone, k->nw_proto, s[0], s[1], s[2], s[3],
                 (unsigned) ((k->sport >> 8 | k->sport << 8) & 0xffff),
                 d[0], d[1], d[2], d[3],
                 (unsigned) ((k->dport >> 8 | k->dport << 8) & 0xffff));
    } else {
        snprintf(buf, size, "zone=%u proto=%u l3=%u src=%08x..%08x "
                 "dst=%08x..%08x ports=%04x/%04x", k->zone, k->nw_proto,
                 k->l3, k->src[0], k->src[3], k->dst[0], k->dst[3],
                 k->sport, k->dport);
    }
    return buf;
}

/* Whether slot 'i' of 'b' is reachable by probing from its home slot. */
static bool
slot_reachable(const struct ct_bucket *b, uint32_t i)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    for (uint32_t j = b->slots[i].hash & b->mask; j != i;
         j = (j + 1) & b->mask) {
        if (!b->slots[j].ent) {
            return false;
        }
    }
    return true;
}

/* Whether node 'dir' of 'c' is linked in the bucket its key hashes to. */
static bool
node_linked(struct inv *v, const struct ct_conn *c, int dir)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    struct ovsct *ct = v->ct;
    int sdir = ct_conn_two_slots(c) ? dir : 0;
    uint32_t hash = ct_conn_hash(c, sdir);
    const struct ct_bucket *b = ct_conn_bucket(ct, c, sdir);
    uint32_t want = ct_ent_make(ct, c, sdir);

    if (!b->slots) {
        return false;
    }
    for (uint32_t i = hash & b->mask; b->slots[i].ent;
         i = (i + 1) & b->mask) {
        if (b->slots[i].ent == want) {
            return true;
        }
    }
    return false;
}

/* Pass 1 over one slot: structure. */
static int
check_slot(struct inv *v, uint32_t bi, uint32_t i)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    struct ovsct *ct = v->ct;
    const struct ct_bucket *b = &ct->buckets[bi];
    const struct ct_slot *s = &b->slots[i];
    uint32_t e = s->ent;
    int dir = ct_ent_dir(e);
    size_t off = ((size_t) (e >> 1) - 1) << 4;
    const struct ct_conn *c;
    struct ct_key key, rkey;
    char kb[160];
    uint32_t h, agen;

    if (e >> 1 == 0 || off >= ct->region_used) {
        return inv_fail(v, "bucket %u slot %u: handle %#x outside the "
                        "region (%zu bytes used)", bi, i, e,
                        ct->region_used);
    }
    c = ct_ent_conn(ct, e);
    if (!ct_slab_arena_gen(ct, c, sizeof *c, &agen)) {
        return inv_fail(v, "bucket %u slot %u: connection at region "
                        "offset %zu in no arena (memory given back)", bi,
                        i, off);
    }
    ct_conn_key(c, dir, &key);
    if (c->gen != v->gen) {
        return inv_fail(v, "bucket %u slot %u: connection of generation %u "
                        "in a map of generation %u", bi, i, c->gen, v->gen);
    }
    if (dir && !ct_conn_two_slots(c)) {
        return inv_fail(v, "bucket %u slot %u: reverse slot of a plain "
                        "connection (%s)", bi, i,
                        key_text(&key, kb, sizeof kb));
    }
    if (ct_conn_bucket(ct, c, dir) != b || ct_conn_hash(c, dir) != s->hash) {
        return inv_fail(v, "bucket %u slot %u: slot hash %#x, node %d "
                        "caches bucket %u hash %#x (%s)", bi, i, s->hash,
                        dir, (unsigned) (ct_conn_bucket(ct, c, dir)
                                         - ct->buckets),
                        ct_conn_hash(c, dir), key_text(&key, kb, sizeof kb));
    }
    h = ct_key_hash(ct, &key);
    if (h != s->hash || ct_bucket_of(ct, h) != bi) {
        return inv_fail(v, "bucket %u slot %u: key hashes to %#x (bucket "
                        "%u), slot says %#x (%s)", bi, i, h,
                        ct_bucket_of(ct, h), s->hash,
                        key_text(&key, kb, sizeof kb));
    }
    if (!ct_conn_two_slots(c)) {
        ct_conn_key(c, 1, &rkey);
        if (ct_key_hash(ct, &rkey) != h) {
            return inv_fail(v, "bucket %u slot %u: plain connection whose "
                            "reverse key hashes apart (%s)", bi, i,
                            key_text(&key, kb, sizeof kb));
        }
    }
    if (!slot_reachable(b, i)) {
        return inv_fail(v, "bucket %u slot %u: unreachable from home slot "
                        "%u (%s)", bi, i, s->hash & b->mask,
                        key_text(&key, kb, sizeof kb));
    }
    if (!atomic_load(&c->dead)) {
        int64_t exp = atomic_load(&c->expiration);
        uint64_t exp_lb = exp <= 0 ? 0 : (uint64_t) exp >> CT_LB_SHIFT;
        unsigned linked = atomic_load(&c->n_linked);

        if (s->sweep_lb > exp_lb) {
            return inv_fail(v, "bucket %u slot %u: sweep bound %u after "
                            "the expiry %lld ms (%s)", bi, i, s->sweep_lb,
                            (long long) exp, key_text(&key, kb, sizeof kb));
        }
        if (linked != (ct_conn_two_slots(c) ? 2u : 1u)
            || !node_linked(v, c, !dir)) {
            return inv_fail(v, "bucket %u slot %u: unclaimed connection "
                            "with n_linked %u, node %d %s (%s)", bi, i,
                            linked, !dir,
                            node_linked(v, c, !dir) ? "linked"
                                                    : "not linked",
                            key_text(&key, kb, sizeof kb));
        }
    } else if (!atomic_load(&c->n_linked)) {
        return inv_fail(v, "bucket %u slot %u: dead connection still "
                        "linked with n_linked 0", bi, i);
    }
    return 0;
}

/* Live keys that must be distinct: forward keys and NAT reply keys. */
struct key_ent {
    struct ct_key key;
    const struct ct_conn *c;
    int dir;
};
struct key_set {
    struct key_ent *ents;
    size_t mask;
};

static int
key_set_add(struct inv *v, struct key_set *ks, const struct ct_conn *c,
            int dir)
{
    struct ct_key key;
    char kb[160];
    size_t i;

    ct_conn_key(c, dir, &key);
    for (i = ct_key_hash(v->ct, &key) & ks->mask; ks->ents[i].c;
         i = (i + 1) & ks->mask) {
        const struct key_ent *o = &ks->ents[i];

        if (!memcmp(&o->key, &key, sizeof key) && o->c != c) {
            return inv_fail(v, "two live connections with one key: %s as "
                            "%s of one, as %s of the other", key_text(
                                &key, kb, sizeof kb),
                            o->dir ? "NAT reply key" : "forward key",
                            dir ? "NAT reply key" : "forward key");
        }
    }
    ks->ents[i].key = key;
    ks->ents[i].c = c;
    ks->ents[i].dir = dir;
    return 0;
}

/* Walks every map with every bucket lock held.  Counts unclaimed
 * connections ('*unclaimed'), those of them expired at v->before
 * ('*stale') and, if 'zones' is not NULL, unclaimed ones per zone; with
 * 'full', runs the structural and uniqueness checks as well.  Reads the
 * engine's counts into 'v' under the same locks. */
static int
walk(struct inv *v, bool full, uint64_t *unclaimed, uint64_t *stale,
     uint32_t *zones) CT_NO_THREAD_SAFETY_ANALYSIS
{
    struct ovsct *ct = v->ct;
    struct key_set ks = { NULL, 0 };
    size_t n_slots = 0;
    uint32_t agen;
    int error = 0;

    *unclaimed = *stale = 0;
    ct_lock_all(ct);
    ct_mutex_lock(&ct->slab_lock);
    v->now = ovsct_now(ct);
    v->gen = atomic_load(&ct->gen);
    v->n_conns = atomic_load(&ct->n_conns);
    v->n_reserved = ct_reserved(ct);
    v->limits = atomic_load(&ct->limits_active);
    if (zones && v->limits) {
        for (uint32_t z = 0; z < CT_N_ZONES; z++) {
            v->zone_counts[z] = atomic_load(&ct->zone_count[z]);
        }
    }
    for (uint32_t bi = 0; bi < ct->n_buckets; bi++) {
        n_slots += ct->buckets[bi].used;
    }
    if (full) {
        size_t cap = 16;

        while (cap < 2 * n_slots + 2) {
            cap *= 2;
        }
        ks.ents = calloc(cap, sizeof *ks.ents);
        ks.mask = cap - 1;
        if (!ks.ents) {
            error = ENOMEM;
            goto out;
        }
    }
    for (uint32_t bi = 0; bi < ct->n_buckets && !error; bi++) {
        struct ct_bucket *b = &ct->buckets[bi];
        uint32_t used = 0, fwd_unclaimed = 0;

        if (!b->slots && (b->used || b->mask)) {
            error = inv_fail(v, "bucket %u: no map but used %u mask %u",
                             bi, b->used, b->mask);
            break;
        }
        if (b->slots && !b->used) {
            /* A release sees a map only through 'used' (ct_table_empty()). */
            error = inv_fail(v, "bucket %u: a map of %u slots and no node",
                             bi, b->mask + 1);
            break;
        }
        if (b->slots && (const char *) b->slots >= ct->region
            && (const char *) b->slots < ct->region + CT_REGION_SIZE
            && !ct_slab_arena_gen(ct, b->slots,
                                  (size_t) (b->mask + 1) * sizeof *b->slots,
                                  &agen)) {
            error = inv_fail(v, "bucket %u: map at region offset %zu in no "
                             "arena (memory given back)", bi,
                             (size_t) ((const char *) b->slots
                                       - ct->region));
            break;
        }
        for (uint32_t i = 0; b->slots && i <= b->mask && !error; i++) {
            uint32_t e = b->slots[i].ent;
            const struct ct_conn *c;

            if (!e) {
                continue;
            }
            used++;
            if (full && (error = check_slot(v, bi, i)) != 0) {
                break;
            }
            c = ct_ent_conn(ct, e);
            if (atomic_load(&c->dead) || c->gen != v->gen) {
                continue;
            }
            if (ct_ent_dir(e) == 0) {
                fwd_unclaimed++;
                ++*unclaimed;
                if (zones) {
                    zones[c->key.zone]++;
                }
                if (atomic_load(&c->expiration) <= v->before) {
                    ++*stale;
                }
            }
            if (!ct_conn_live(c, v->now, v->gen)) {
                continue;
            }
            if (full && (ct_ent_dir(e) == 0 || ct_conn_two_slots(c))) {
                error = key_set_add(v, &ks, c, ct_ent_dir(e));
            }
        }
        if (!error && used != b->used) {
            error = inv_fail(v, "bucket %u: 'used' is %u, the map holds %u",
                             bi, b->used, used);
        }
        if (!error && ct_bucket_live(b) != fwd_unclaimed) {
            error = inv_fail(v, "bucket %u: live count is %u, the walk "
                             "finds %u unclaimed forward nodes", bi,
                             ct_bucket_live(b), fwd_unclaimed);
        }
    }
out:
    ct_mutex_unlock(&ct->slab_lock);
    ct_unlock_all(ct);
    free(ks.ents);
    if (ct->inv_after_walk) {
        ct->inv_after_walk(ct);
    }
    return error;
}

/* Compares the zone counts read by the last walk with what it found. */
static int
check_zone_counts(struct inv *v, const uint32_t *zones, const char *when)
{
    if (!v->limits) {
        return 0;
    }
    for (uint32_t z = 0; z < CT_N_ZONES; z++) {
        int32_t n = v->zone_counts[z];

        if (n < 0 || (uint32_t) n != zones[z]) {
            return inv_fail(v, "zone %u: count %d %s, the walk finds %u",
                            z, n, when, zones[z]);
        }
    }
    return 0;
}

int
ovsct_check_invariants(struct ovsct *ct, char *err, size_t errlen)
{
    struct inv v = { .ct = ct, .err = err, .errlen = errlen,
                     .before = INT64_MIN };
    uint32_t *zones = calloc(CT_N_ZONES, sizeof *zones);
    uint64_t unclaimed, stale;
    uint32_t n;
    int error;

    if (err && errlen) {
        err[0] = '\0';
    }
    v.zone_counts = malloc(CT_N_ZONES * sizeof *v.zone_counts);
    if (!zones || !v.zone_counts) {
        free(zones);
        free(v.zone_counts);
        return ENOMEM;
    }

    /* The table as it is. */
    error = walk(&v, true, &unclaimed, &stale, zones);
    if (error) {
        goto out;
    }
    if (v.n_reserved != 0 || v.n_conns < 0
        || (uint64_t) v.n_conns != unclaimed) {
        error = inv_fail(&v, "count %lld (reserved %lld), the walk finds "
                         "%llu unclaimed connections",
                         (long long) v.n_conns, (long long) v.n_reserved,
                         (unsigned long long) unclaimed);
        goto out;
    }
    error = check_zone_counts(&v, zones, "before a count query");
    if (error) {
        goto out;
    }

    /* A count query reaps what expired: nothing that had expired when it
     * started stays counted (with the real clock, more may expire while
     * it runs; those may stay). */
    v.before = ovsct_now(ct);
    n = ovsct_nconns(ct);
    memset(zones, 0, CT_N_ZONES * sizeof *zones);
    error = walk(&v, false, &unclaimed, &stale, zones);
    if (error) {
        goto out;
    }
    if (unclaimed > n || stale
        || (atomic_load(&ct->manual_clock) && unclaimed != n)) {
        error = inv_fail(&v, "a count query at %lld ms says %u; the walk "
                         "after it finds %llu unclaimed connections, %llu "
                         "of them expired before the query",
                         (long long) v.before, n,
                         (unsigned long long) unclaimed,
                         (unsigned long long) stale);
        goto out;
    }
    error = check_zone_counts(&v, zones, "after a count query");
out:
    free(zones);
    free(v.zone_counts);
    return error;
}
