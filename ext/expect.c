/*
 * expect.c -- ALG expectations: the data connections a control connection
 * announced (OVS's lib/conntrack.c expectation_create(),
 * expectation_lookup(), expectation_clean()).
 *
 * Storage, locking and how a new connection finds them: ovsct-private.h,
 * "ALG expectations".  Neighbours: alg-ftp.c and alg-tftp.c create them,
 * conntrack.c looks them up for new connections, table.c (claim) and
 * flush.c (bulk flush) remove them with their parent.
 */
#include <stdlib.h>
#include <string.h>

#include "ovsct-private.h"

void
ct_exp_init(struct ovsct *ct)
{
    /* The table is zeroed: every chain starts empty. */
    for (int i = 0; i < CT_EXP_SHARDS; i++) {
        ct_mutex_init(&ct->exp[i].lock);
    }
    atomic_init(&ct->n_exp, 0);
}

/* Frees every expectation of shard 's'.  Returns how many. */
static uint32_t
shard_clear(struct ct_exp_shard *s) CT_REQUIRES(s->lock)
{
    uint32_t n = 0;

    while (s->head) {
        struct ct_exp *e = s->head;

        s->head = e->next;
        free(e);
        n++;
    }
    return n;
}

void
ct_exp_destroy(struct ovsct *ct)
{
    for (int i = 0; i < CT_EXP_SHARDS; i++) {
        struct ct_exp_shard *s = &ct->exp[i];

        ct_mutex_lock(&s->lock);
        shard_clear(s);
        ct_mutex_unlock(&s->lock);
        ct_mutex_destroy(&s->lock);
    }
}

static struct ct_exp_shard *
shard_of(struct ovsct *ct, uint32_t hash)
{
    return &ct->exp[hash % CT_EXP_SHARDS];
}

/* Whether 'e''s parent is still a live connection: an expectation lives as
 * long as its parent.  Called with the shard lock held, which keeps the
 * parent from being retired (see ovsct-private.h). */
static bool
exp_live(const struct ct_exp *e, int64_t now)
{
    return ct_conn_live(e->parent, now, e->parent_gen);
}

/* The expectation of shard 's' whose key is 'key' (OVS compares whole
 * keys: expectation_lookup()), live or not. */
static struct ct_exp *
shard_find(struct ct_exp_shard *s, uint32_t hash, const struct ct_key *key)
    CT_REQUIRES(s->lock)
{
    for (struct ct_exp *e = s->head; e; e = e->next) {
        if (e->hash == hash && !memcmp(&e->key, key, sizeof *key)) {
            return e;
        }
    }
    return NULL;
}

bool
ct_exp_lookup(struct ovsct *ct, const struct ct_key *key_, int64_t now,
              struct ct_exp *out)
{
    struct ct_key key = *key_;
    struct ct_exp_shard *s;
    struct ct_exp *e;
    uint32_t hash;
    bool found = false;

    if (!atomic_load_explicit(&ct->n_exp, memory_order_relaxed)) {
        return false;
    }
    key.sport = 0;              /* OVS's ALG_WC_SRC_PORT. */
    hash = ct_key_hash(ct, &key);
    s = shard_of(ct, hash);
    ct_mutex_lock(&s->lock);
    e = shard_find(s, hash, &key);
    if (e && exp_live(e, now)) {
        *out = *e;
        out->next = NULL;
        found = true;
    }
    ct_mutex_unlock(&s->lock);
    return found;
}

void
ct_exp_create(struct ovsct *ct, struct ct_conn *parent, bool reply,
              uint16_t dst_port)
{
    struct ct_key rkey;
    const uint32_t *src, *dst, *repl;
    struct ct_alg *alg = ct_conn_alg(parent);
    struct ct_exp_shard *s;
    struct ct_exp *e, *old;
    bool parent_dnat = parent->nat == OVSCT_CS_DST_NAT;

    if (!alg) {
        return;
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        return;                 /* As if the control packet had no port. */
    }
    ct_conn_key(parent, 1, &rkey);
    /* expectation_create(): the data connection goes from the peer of the
     * packet's sender to the sender, as the sender's side sees it. */
    if (reply) {
        src = parent->key.src;
        dst = parent->key.dst;
        e->nat_rpl_dst = true;
        if (parent_dnat) {
            repl = rkey.src;
            e->nat_rpl_dst = false;
        } else {
            repl = rkey.dst;
        }
    } else {
        src = rkey.src;
        dst = rkey.dst;
        e->nat_rpl_dst = false;
        if (parent_dnat) {
            repl = parent->key.dst;
            e->nat_rpl_dst = true;
        } else {
            repl = parent->key.src;
        }
    }
    memcpy(e->key.src, src, sizeof e->key.src);
    memcpy(e->key.dst, dst, sizeof e->key.dst);
    memcpy(e->nat_repl_addr, repl, sizeof e->nat_repl_addr);
    e->key.sport = 0;
    e->key.dport = dst_port;
    e->key.zone = parent->key.zone;
    e->key.nw_proto = parent->key.nw_proto;
    e->key.l3 = parent->key.l3;
    e->parent_key = parent->key;
    e->parent = parent;
    e->parent_gen = parent->gen;
    ct_spin_lock(&parent->lock);
    e->parent_mark = parent->mark;
    e->parent_labels = parent->labels;
    ct_spin_unlock(&parent->lock);
    e->hash = ct_key_hash(ct, &e->key);

    s = shard_of(ct, e->hash);
    ct_mutex_lock(&s->lock);
    old = shard_find(s, e->hash, &e->key);
    if (old && !exp_live(old, ovsct_now(ct))) {
        /* Left by a parent that expired but is not reaped yet: the new
         * one takes its place (OVS would have removed it with the
         * parent). */
        old->parent = e->parent;
        old->parent_gen = e->parent_gen;
        old->parent_key = e->parent_key;
        old->parent_mark = e->parent_mark;
        old->parent_labels = e->parent_labels;
        memcpy(old->nat_repl_addr, e->nat_repl_addr,
               sizeof old->nat_repl_addr);
        old->nat_rpl_dst = e->nat_rpl_dst;
        atomic_store(&alg->has_exp, true);
    } else if (!old) {
        e->next = s->head;
        s->head = e;
        e = NULL;
        atomic_store(&alg->has_exp, true);
        atomic_fetch_add_explicit(&ct->n_exp, 1, memory_order_relaxed);
    }
    ct_mutex_unlock(&s->lock);
    free(e);
}

void
ct_exp_remove_parent(struct ovsct *ct, struct ct_conn *parent)
{
    struct ct_alg *alg = ct_conn_alg(parent);

    if (!alg || !atomic_exchange(&alg->has_exp, false)) {
        return;
    }
    for (int i = 0; i < CT_EXP_SHARDS; i++) {
        struct ct_exp_shard *s = &ct->exp[i];
        struct ct_exp **pp;
        uint32_t n = 0;

        ct_mutex_lock(&s->lock);
        for (pp = &s->head; *pp;) {
            struct ct_exp *e = *pp;

            if (e->parent == parent) {
                *pp = e->next;
                free(e);
                n++;
            } else {
                pp = &e->next;
            }
        }
        ct_mutex_unlock(&s->lock);
        if (n) {
            atomic_fetch_sub_explicit(&ct->n_exp, n, memory_order_relaxed);
        }
    }
}

void
ct_exp_clear(struct ovsct *ct)
{
    for (int i = 0; i < CT_EXP_SHARDS; i++) {
        struct ct_exp_shard *s = &ct->exp[i];
        uint32_t n;

        ct_mutex_lock(&s->lock);
        n = shard_clear(s);
        ct_mutex_unlock(&s->lock);
        if (n) {
            atomic_fetch_sub_explicit(&ct->n_exp, n, memory_order_relaxed);
        }
    }
}

size_t
ovsct_exp_dump(struct ovsct *ct, const uint16_t *zone, struct ovsct_exp *out,
               size_t max)
{
    int64_t now = ovsct_now(ct);
    size_t n = 0;

    for (int i = 0; i < CT_EXP_SHARDS; i++) {
        struct ct_exp_shard *s = &ct->exp[i];

        ct_mutex_lock(&s->lock);
        for (struct ct_exp *e = s->head; e; e = e->next) {
            if ((zone && e->key.zone != *zone) || !exp_live(e, now)) {
                continue;
            }
            if (n < max) {
                struct ovsct_exp *x = &out[n];

                memset(x, 0, sizeof *x);
                ct_tuple_from_key(&e->key, &x->expected);
                ct_tuple_from_key(&e->parent_key, &x->parent);
                x->mark = e->parent_mark;
                x->labels = e->parent_labels;
                x->zone = e->key.zone;
            }
            n++;
        }
        ct_mutex_unlock(&s->lock);
    }
    return n;
}
