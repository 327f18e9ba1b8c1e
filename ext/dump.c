/*
 * dump.c -- reading the table: dump cursor, statistics and bucket
 * occupancy.
 *
 * Every walk here visits one bucket at a time under its lock and copies
 * what it needs out; nothing keeps a pointer past the unlock.  A
 * connection is visited through its forward node only, so it is counted
 * or dumped once.  Dumps and statistics take a filter (filter.c) and skip
 * what it does not select while they walk.  Neighbours: table.c,
 * format.c (dump text), flush.c (clearing), names.h (protocol classes,
 * the coalesced TCP state).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "ovsct-private.h"

/* Entries. */

void
ct_tuple_from_key(const struct ct_key *k, struct ovsct_tuple *t)
{
    memcpy(t->src, k->src, 16);
    memcpy(t->dst, k->dst, 16);
    t->l3 = k->l3;
    t->proto = k->nw_proto;
    if (k->nw_proto == 1 || k->nw_proto == 58) {
        t->sport = t->dport = ntohs(k->sport);
        t->icmp_type = (uint8_t) (k->dport >> 8);
        t->icmp_code = (uint8_t) (k->dport & 0xff);
    } else {
        t->sport = ntohs(k->sport);
        t->dport = ntohs(k->dport);
        t->icmp_type = t->icmp_code = 0;
    }
}

/* Copies 'c' into '*e'.  Call with a bucket lock of 'c' held, or inside
 * an epoch (events.c). */
void
ct_entry_fill(struct ovsct *ct, struct ct_conn *c, struct ovsct_entry *e)
{
    struct ct_tcp_peer *tcp = ct_conn_tcp(c);
    struct ct_key rkey;

    memset(e, 0, sizeof *e);
    ct_tuple_from_key(&c->key, &e->orig);
    ct_conn_key(c, 1, &rkey);
    ct_tuple_from_key(&rkey, &e->reply);
    e->zone = c->key.zone;
    e->bucket = ct_bucket_of(ct, c->hash);
    e->nat = c->nat;
    if (c->ext & CT_EXT_ALG) {
        struct ct_alg *alg = ct_conn_alg(c);

        e->helper = alg->helper;
        if (alg->related) {
            e->has_parent = true;
            ct_tuple_from_key(&alg->parent, &e->parent);
        }
    }
    e->expiration = atomic_load_explicit(&c->expiration,
                                         memory_order_relaxed);
    ct_spin_lock(&c->lock);
    e->mark = c->mark;
    e->labels = c->labels;
    if (tcp) {
        for (int i = 0; i < 2; i++) {
            e->tcp_state[i] = tcp[i].state;
            e->tcp_wscale[i] = tcp[i].wscale & CT_WSCALE_MASK;
            e->tcp_flags[i] = ((tcp[i].wscale & CT_WSCALE_FLAG)
                               ? OVSCT_TCPF_WINDOW_SCALE : 0)
                              | ((tcp[i].wscale & CT_WSCALE_UNKNOWN)
                                 ? OVSCT_TCPF_BE_LIBERAL : 0);
        }
    }
    ct_spin_unlock(&c->lock);
}

/* The connection whose forward node (dir 0) is entry 'e', or NULL. */
static inline struct ct_conn *
fwd_conn(const struct ovsct *ct, uint32_t e)
{
    return e && !ct_ent_dir(e) ? ct_ent_conn(ct, e) : NULL;
}

/* Dump. */

struct ovsct_dump {
    struct ovsct *ct;
    bool has_filter;
    struct ovsct_filter filter;
    uint32_t bucket;            /* Next bucket to copy. */
    int64_t now;
    struct ovsct_entry *buf;    /* Entries of the last bucket copied. */
    size_t n, pos, cap;
};

int
ovsct_dump_start(struct ovsct *ct, const struct ovsct_filter *filter,
                 struct ovsct_dump **dp)
{
    struct ovsct_dump *d = calloc(1, sizeof *d);

    *dp = NULL;
    if (!d) {
        return ENOMEM;
    }
    d->ct = ct;
    d->has_filter = filter != NULL;
    if (filter) {
        d->filter = *filter;
    }
    d->now = ovsct_now(ct);
    *dp = d;
    return 0;
}

/* Copies the live entries of the next bucket into d->buf. */
static int
dump_refill(struct ovsct_dump *d)
{
    struct ovsct *ct = d->ct;
    struct ct_bucket *b = &ct->buckets[d->bucket++];
    uint8_t gen;

    d->n = d->pos = 0;
    ct_mutex_lock(&b->lock);
    /* Under the lock (flush.c flush_all()). */
    gen = atomic_load(&ct->gen);
    if (b->used > d->cap) {
        size_t cap = b->used * 2;
        struct ovsct_entry *buf = realloc(d->buf, cap * sizeof *buf);

        if (!buf) {
            ct_mutex_unlock(&b->lock);
            return ENOMEM;
        }
        d->buf = buf;
        d->cap = cap;
    }
    for (uint32_t i = 0; b->slots && i <= b->mask; i++) {
        struct ct_conn *c = fwd_conn(ct, b->slots[i].ent);

        if (c && ct_conn_live(c, d->now, gen)
            && (!d->has_filter || !d->filter.has_zone
                || c->key.zone == d->filter.zone)) {
            ct_entry_fill(ct, c, &d->buf[d->n]);
            d->n += !d->has_filter
                    || ovsct_filter_match(&d->filter, &d->buf[d->n]);
        }
    }
    ct_mutex_unlock(&b->lock);
    return 0;
}

int
ovsct_dump_next(struct ovsct_dump *d, struct ovsct_entry *out, size_t max,
                size_t *np)
{
    size_t n = 0;

    while (n < max) {
        if (d->pos < d->n) {
            size_t k = d->n - d->pos;

            if (k > max - n) {
                k = max - n;
            }
            memcpy(&out[n], &d->buf[d->pos], k * sizeof *out);
            d->pos += k;
            n += k;
        } else if (d->bucket < d->ct->n_buckets) {
            int err = dump_refill(d);

            if (err) {
                *np = n;
                return err;
            }
        } else {
            break;
        }
    }
    *np = n;
    return 0;
}

void
ovsct_dump_done(struct ovsct_dump *d)
{
    if (d) {
        free(d->buf);
        free(d);
    }
}

/* Statistics. */

int
ovsct_stats(struct ovsct *ct, const struct ovsct_filter *filter,
            struct ovsct_stats *st)
{
    int64_t now = ovsct_now(ct);

    memset(st, 0, sizeof *st);
    for (uint32_t i = 0; i < ct->n_buckets; i++) {
        struct ct_bucket *b = &ct->buckets[i];
        uint8_t gen;

        ct_mutex_lock(&b->lock);
        /* Under the lock (flush.c flush_all()). */
        gen = atomic_load(&ct->gen);
        for (uint32_t j = 0; b->slots && j <= b->mask; j++) {
            struct ct_conn *c = fwd_conn(ct, b->slots[j].ent);
            struct ct_tcp_peer *tcp;

            if (!c || !ct_conn_live(c, now, gen)
                || (filter && filter->has_zone
                    && c->key.zone != filter->zone)) {
                continue;
            }
            if (filter) {
                struct ovsct_entry e;

                ct_entry_fill(ct, c, &e);
                if (!ovsct_filter_match(filter, &e)) {
                    continue;
                }
            }
            st->total++;
            st->per_proto[ovsct_proto_class_of(c->key.l3, c->key.nw_proto)]++;
            tcp = ct_conn_tcp(c);
            if (tcp) {
                uint8_t s;

                ct_spin_lock(&c->lock);
                s = ovsct_tcp_state_coalesce(tcp[0].state, tcp[1].state);
                ct_spin_unlock(&c->lock);
                if (s < OVSCT_TCPS_N) {
                    st->tcp_states[s]++;
                }
            }
        }
        ct_mutex_unlock(&b->lock);
    }
    return 0;
}

uint32_t
ovsct_n_buckets(const struct ovsct *ct)
{
    return ct->n_buckets;
}

int
ovsct_bucket_counts(struct ovsct *ct, uint32_t *counts)
{
    int64_t now = ovsct_now(ct);

    for (uint32_t i = 0; i < ct->n_buckets; i++) {
        struct ct_bucket *b = &ct->buckets[i];
        uint32_t n = 0;
        uint8_t gen;

        ct_mutex_lock(&b->lock);
        /* Under the lock (flush.c flush_all()). */
        gen = atomic_load(&ct->gen);
        for (uint32_t j = 0; b->slots && j <= b->mask; j++) {
            struct ct_conn *c = fwd_conn(ct, b->slots[j].ent);

            n += c && ct_conn_live(c, now, gen);
        }
        ct_mutex_unlock(&b->lock);
        counts[i] = n;
    }
    return 0;
}
