/*
 * conntrack.c -- the packet path: ovsct_execute().
 *
 * ct_state rules follow OVS's lib/conntrack.c process_one() for the
 * userspace datapath: look up, update the protocol state (proto-tcp.c,
 * proto-other.c, proto-icmp.c, after conntrack-tcp.c, conntrack-other.c
 * and conntrack-icmp.c), create and admit new connections (maxconns,
 * zone limits), translate them (nat.c, nat-rewrite.c) and apply mark and
 * labels.  Neighbours: table.c (maps and removal), packet.c (parsing),
 * config.c (life cycle, limits, timeout policies), sweep.c, dump.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "ovsct-private.h"

/* Frames processed in one staged pass of ovsct_execute(). */
#define CT_CHUNK 32

/* Per-batch context of ovsct_execute(). */
struct exec_ctx {
    const struct ovsct_action *action;
    const uint32_t *tp;         /* Timeouts of the action's zone (s). */
    int64_t now;
    int64_t reserved;           /* Unused admission reservation, also in
                                 * 'st->reserved' for ct_reserved(). */
    bool reserve_tried;         /* A reservation was tried this batch. */
    size_t left;                /* Frames of the batch from the current
                                 * one to the end: what to reserve. */
    struct ct_tstat *st;        /* This thread's counters. */
    struct ct_ipf_call *ipf;    /* Reassembly of this call, or NULL when
                                 * reassembly is idle (ipf.c). */
};

/* Connections. */

void
ct_conn_free(struct ovsct *ct, struct ct_conn *c)
{
    ct_slab_free(ct, c, c->ext & (CT_EXT_TCP | CT_EXT_NAT | CT_EXT_ALG));
}

/* Allocates a connection for forward key 'key', with NAT reverse key
 * 'nat_rkey' if not NULL, the ALG 'helper' (OVSCT_ALG_*) and, for a data
 * connection, the expectation 'exp' it fulfils. */
static struct ct_conn *
conn_alloc(struct ovsct *ct, const struct ct_key *key,
           const struct ct_key *nat_rkey, uint8_t helper,
           const struct ct_exp *exp)
{
    uint8_t ext = 0;
    struct ct_conn *c;

    if (key->nw_proto == 6) {
        ext |= CT_EXT_TCP;
    }
    if (nat_rkey) {
        ext |= CT_EXT_NAT;
    }
    if (helper || exp) {
        ext |= CT_EXT_ALG;
    }
    c = ct_slab_alloc(ct, ext);
    if (!c) {
        return NULL;
    }
    if (ext) {
        memset(c, 0, ct_slab_obj_size(ext));
    } else {
        memset(c, 0, sizeof *c);        /* Constant size: inline stores. */
    }
    c->key = *key;
    c->ext = ext;
    ct_spin_init(&c->lock);
    if (nat_rkey) {
        memcpy((struct ct_key *) ct_conn_nat_rkey(c), nat_rkey,
               sizeof *nat_rkey);
    }
    if (ext & CT_EXT_ALG) {
        struct ct_alg *alg = ct_conn_alg(c);

        alg->helper = helper;
        atomic_init(&alg->has_exp, false);
        if (exp) {
            /* conn_not_found(): the data connection takes its parent's
             * mark and labels, and keeps the parent's key. */
            alg->related = true;
            alg->parent = exp->parent_key;
            ct_spin_lock(&c->lock);     /* Unseen yet: for the analysis. */
            c->mark = exp->parent_mark;
            c->labels = exp->parent_labels;
            ct_spin_unlock(&c->lock);
        }
    }
    return c;
}

/* Protocol state machines: proto-tcp.c, proto-other.c, proto-icmp.c. */

static bool
is_icmp(uint8_t proto)
{
    return proto == 1 || proto == 58;
}

/* Initial state and expiry of a new connection for 'pkt'. */
static void
conn_init_state(struct ct_conn *c, const struct ct_pkt *pkt,
                const struct exec_ctx *x)
{
    if (c->key.nw_proto == 6) {
        ct_tcp_init(c, pkt, x->tp, x->now);
    } else if (is_icmp(c->key.nw_proto)) {
        ct_icmp_init(c, x->tp, x->now);
    } else {
        ct_other_init(c, x->tp, x->now);
    }
}

/* What an UPDATE event reports a change of (events.c): the coalesced TCP
 * state (the one state the dump prints), or for other protocols whether
 * a reply was seen. */
static int
conn_event_class(struct ct_conn *c) CT_REQUIRES(c->lock)
{
    struct ct_tcp_peer *tcp = ct_conn_tcp(c);

    if (tcp) {
        return ovsct_tcp_state_coalesce(tcp[0].state, tcp[1].state);
    }
    return c->state == (is_icmp(c->key.nw_proto) ? CT_ICMP_REPLY
                                                  : CT_OTHER_BIDIR);
}

/* Updates 'c' for packet 'pkt' in direction 'dir' (1: reply), under the
 * connection's own lock (a settled non-TCP connection without it:
 * ct_refresh_settled()); posts an UPDATE event if its class changed. */
static enum ct_update_res
conn_update(struct ovsct *ct, struct ct_conn *c, int dir,
            const struct ct_pkt *pkt, const struct exec_ctx *x)
{
    bool events = ct_events_on(ct);
    enum ct_update_res res;
    int before = 0;

    if (c->key.nw_proto != 6 && ct_refresh_settled(c, x->tp, x->now)) {
        return CT_UPDATE_VALID;         /* No class change, no event. */
    }
    ct_spin_lock(&c->lock);
    if (events) {
        before = conn_event_class(c);
    }
    if (c->key.nw_proto == 6) {
        res = ct_tcp_update(ct, c, dir, pkt, x->tp, x->now);
    } else if (is_icmp(c->key.nw_proto)) {
        res = ct_icmp_update(c, dir, x->tp, x->now);
    } else {
        res = ct_other_update(c, dir, x->tp, x->now);
    }
    events = events && conn_event_class(c) != before;
    ct_spin_unlock(&c->lock);
    if (events) {
        ct_event_conn(ct, c, OVSCT_EVENT_UPDATE);
    }
    return res;
}

/* Whether a packet without a connection may create one (valid_new). */
static bool
valid_new(const struct ct_pkt *pkt)
{
    if (pkt->key.nw_proto == 6) {
        return ct_tcp_valid_new(pkt);
    }
    if (is_icmp(pkt->key.nw_proto)) {
        /* By protocol number, as OVS does, even in the other family. */
        return ct_icmp_valid_new(pkt->key.nw_proto == 58 ? 6 : 4,
                                 pkt->icmp_type);
    }
    return true;
}

/* Applies the mark and labels of 'a' to 'c'; returns whether they
 * changed. */
static bool
set_mark_labels(struct ct_conn *c, const struct ovsct_action *a)
{
    uint32_t mark;
    ovsct_u128 labels;
    bool changed;

    if ((c->ext & CT_EXT_ALG) && ct_conn_alg(c)->related) {
        return false;           /* set_mark(), set_label(): a data
                                 * connection keeps its parent's. */
    }
    ct_spin_lock(&c->lock);
    mark = c->mark;
    labels = c->labels;
    if (a->set_mark) {
        c->mark = (c->mark & ~a->mark_mask) | (a->mark & a->mark_mask);
    }
    if (a->set_labels) {
        c->labels.lo = (c->labels.lo & ~a->labels_mask.lo)
                       | (a->labels.lo & a->labels_mask.lo);
        c->labels.hi = (c->labels.hi & ~a->labels_mask.hi)
                       | (a->labels.hi & a->labels_mask.hi);
    }
    changed = mark != c->mark || labels.lo != c->labels.lo
              || labels.hi != c->labels.hi;
    ct_spin_unlock(&c->lock);
    return changed;
}

static inline void
apply_mark_labels(struct ovsct *ct, struct ct_conn *c,
                  const struct ovsct_action *a)
{
    if ((a->set_mark || a->set_labels) && set_mark_labels(c, a)
        && ct_events_on(ct)) {
        ct_event_conn(ct, c, OVSCT_EVENT_UPDATE);
    }
}

/* Admission. */

enum admit_res {
    ADMIT_OK,
    ADMIT_FULL,                 /* maxconns reached. */
    ADMIT_ZONE_FULL,            /* Zone limit reached. */
};

/* Takes one connection's worth of admission for 'zone'.  Called with the
 * bucket locks of the new connection held.  The batch's first admission
 * reserves the rest of the batch when that leaves maxconns far away, so
 * that a batch of new connections touches the shared count once; a
 * batch that creates nothing never touches it. */
static enum admit_res
admit(struct ovsct *ct, struct exec_ctx *x, uint16_t zone)
{
    bool limits = atomic_load_explicit(&ct->limits_active,
                                       memory_order_relaxed);
    int64_t max = atomic_load_explicit(&ct->maxconns, memory_order_relaxed);

    if (!x->reserved && !x->reserve_tried) {
        int64_t n = (int64_t) x->left;

        x->reserve_tried = true;
        if (atomic_load_explicit(&ct->n_conns, memory_order_relaxed)
            + 64 * n < max) {
            /* The count grows before the reservation is published, and
             * the reservation is withdrawn before the count shrinks
             * (ovsct_execute()): a reader of n_conns - ct_reserved() may
             * see too many connections for a moment, never too few. */
            atomic_fetch_add(&ct->n_conns, n);
            atomic_store_explicit(&x->st->reserved, n,
                                  memory_order_relaxed);
            x->reserved = n;
        }
    }
    if (x->reserved > 0) {
        x->reserved--;          /* Given back at the batch's end. */
        atomic_store_explicit(&x->st->reserved, x->reserved,
                              memory_order_relaxed);
    } else if (atomic_fetch_add(&ct->n_conns, 1) - ct_reserved(ct) >= max) {
        atomic_fetch_sub(&ct->n_conns, 1);
        return ADMIT_FULL;
    }
    if (limits) {
        int64_t limit = ct_zone_limit_of(ct, zone);
        int32_t cur = atomic_fetch_add(&ct->zone_count[zone], 1);

        if (limit >= 0 && cur >= limit) {
            atomic_fetch_sub(&ct->zone_count[zone], 1);
            atomic_fetch_sub(&ct->n_conns, 1);
            return ADMIT_ZONE_FULL;
        }
    }
    return ADMIT_OK;
}

/* Gives back an admission taken by admit() that was not used. */
static void
unadmit(struct ovsct *ct, uint16_t zone)
{
    ct_count_add(ct, zone, -1);
}

enum link_res {
    LINK_OK,                    /* Linked. */
    LINK_FOUND,                 /* Another thread created it first. */
    LINK_TAKEN,                 /* The reverse key is in use (NAT). */
    LINK_REFUSED,               /* Admission refused it. */
    LINK_NOMEM,
};

/* Admits and links the new connection 'c': node 0 (hash 'hash') in 'b'
 * (at 'slot' if not CT_SLOT_ANY: see ct_map_insert()), node 1 (hash
 * 'rhash') in 'rb' (which may be 'b').  The caller holds both
 * locks and has made sure the keys are free.  Returns LINK_OK,
 * LINK_REFUSED (with '*refused') or LINK_NOMEM; on failure 'c' was never
 * visible and the counts are as before. */
static enum link_res
conn_insert__(struct ovsct *ct, struct exec_ctx *x, struct ct_conn *c,
              struct ct_bucket *b, uint32_t hash, uint32_t slot,
              struct ct_bucket *rb, uint32_t rhash, enum admit_res *refused)
    CT_REQUIRES(b->lock) CT_NO_THREAD_SAFETY_ANALYSIS
{
    /* Also needs rb->lock, which is b->lock when rb == b: the analysis
     * cannot express a capability that may alias another. */
    enum admit_res ar = admit(ct, x, c->key.zone);
    uint32_t lb;

    if (ar != ADMIT_OK) {
        *refused = ar;
        return LINK_REFUSED;
    }
    c->hash = hash;
    if (ct_conn_two_slots(c)) {
        ct_conn_nat_ext(c)->rhash = rhash;
    }
    c->gen = atomic_load_explicit(&ct->gen, memory_order_relaxed);
    if (x->action->set_mark || x->action->set_labels) {
        /* Not yet visible: set now, so that NEW carries them.  The
         * caller's apply_mark_labels() then finds nothing to change. */
        set_mark_labels(c, x->action);
    }
    atomic_store_explicit(&c->n_linked, ct_conn_two_slots(c) ? 2 : 1,
                          memory_order_relaxed);
    lb = ct_sweep_lb(ct, x->now);
    if (ct_map_insert(ct, b, hash, c, 0, lb, slot)) {
        unadmit(ct, c->key.zone);
        return LINK_NOMEM;
    }
    if (ct_conn_two_slots(c)
        && ct_map_insert(ct, rb, rhash, c, 1, lb, CT_SLOT_ANY)) {
        /* Take the forward node back out; n_linked 3 -> 2 keeps 'c' from
         * being retired (it was never visible outside our locks). */
        atomic_store(&c->n_linked, 3);
        ct_map_unlink(ct, b, c, 0);
        unadmit(ct, c->key.zone);
        return LINK_NOMEM;
    }
    ct_bucket_added(b);
    ct_stat_inc(&ct_my_stat(ct)->created);
    if (ct_events_on(ct)) {
        /* Under the bucket lock(s): nobody can post an event for 'c'
         * before its NEW.  The mark and labels of the commit are in it
         * (set before linking). */
        ct_event_conn(ct, c, OVSCT_EVENT_NEW);
    }
    return LINK_OK;
}

/* Links the new connection 'c' (forward hash 'hash', reverse hash 'rhash')
 * under both bucket locks.  Repeats the lookup of the forward key first,
 * so that two threads racing on one new tuple create one connection; with
 * 'check_rkey', also requires the reverse key to be free (NAT).  On
 * LINK_FOUND sets '*found' and '*dir'; on LINK_REFUSED, '*refused'. */
static enum link_res
conn_link(struct ovsct *ct, struct exec_ctx *x, struct ct_conn *c,
          uint32_t hash, uint32_t rhash, bool check_rkey,
          struct ct_conn **found, int *dir, enum admit_res *refused)
{
    struct ct_bucket *b = &ct->buckets[ct_bucket_of(ct, hash)];
    struct ct_bucket *rb = &ct->buckets[ct_bucket_of(ct, rhash)];
    enum link_res res = LINK_OK;

    ct_double_lock(ct, b, rb);
    *found = ct_map_find(ct, b, hash, &c->key, x->now, dir);
    if (*found) {
        res = LINK_FOUND;
        goto out;
    }
    if (check_rkey) {
        struct ct_key rkey;
        int d;

        ct_conn_key(c, 1, &rkey);
        if (ct_map_find(ct, rb, rhash, &rkey, x->now, &d)) {
            res = LINK_TAKEN;
            goto out;
        }
    }
    res = conn_insert__(ct, x, c, b, hash, CT_SLOT_ANY, rb, rhash, refused);
out:
    ct_double_unlock(ct, b, rb);
    return res;
}

/* State of a NAT tuple search (nat_try()). */
struct nat_try {
    struct ovsct *ct;
    struct exec_ctx *x;
    struct ct_conn *c;
    uint32_t hash;
    enum link_res res;
    struct ct_conn *found;
    int dir;
    enum admit_res refused;
};

/* ct_nat_try_fn: tries 'translated' as the new connection's translation. */
static bool
nat_try(void *aux, const struct ct_key *translated)
{
    struct nat_try *t = aux;
    struct ct_key *rkey = (struct ct_key *) ct_conn_nat_rkey(t->c);
    uint32_t rhash;

    ct_key_reverse(translated, rkey);
    rhash = ct_key_hash(t->ct, rkey);
    t->res = conn_link(t->ct, t->x, t->c, t->hash, rhash, true, &t->found,
                       &t->dir, &t->refused);
    return t->res != LINK_TAKEN;
}

/* Creates and links a connection for 'pkt' (hash 'hash'), translated if
 * the action asks for SNAT or DNAT.  If another thread created it in the
 * meantime, returns that one with '*dir' set and '*created' false.
 * Returns NULL if admission refused it ('*refused' says why) or the NAT
 * space is exhausted (nothing is left behind). */
static struct ct_conn *
conn_create(struct ovsct *ct, struct exec_ctx *x, const struct ct_pkt *pkt,
            uint32_t hash, int *dir, bool *created, enum admit_res *refused,
            uint8_t helper, const struct ct_exp *exp)
{
    const struct ovsct_nat *nat = &x->action->nat;
    bool exp_nat = exp && nat->kind;
    bool nat_new = !exp && (nat->kind == OVSCT_CS_SRC_NAT
                            || nat->kind == OVSCT_CS_DST_NAT);
    struct ct_conn *c, *found = NULL;
    enum link_res res;

    *created = false;
    *refused = ADMIT_OK;
    c = conn_alloc(ct, &pkt->key, nat_new || exp_nat ? &pkt->key : NULL,
                   helper, exp);
    if (!c) {
        return NULL;
    }
    conn_init_state(c, pkt, x);
    if (exp_nat) {
        /* conn_not_found(): an expected data connection is translated the
         * way its expectation says, with no search. */
        struct ct_key *rkey = (struct ct_key *) ct_conn_nat_rkey(c);

        ct_key_reverse(&pkt->key, rkey);
        if (exp->nat_rpl_dst) {
            memcpy(rkey->dst, exp->nat_repl_addr, sizeof rkey->dst);
            c->nat = OVSCT_CS_SRC_NAT;
        } else {
            memcpy(rkey->src, exp->nat_repl_addr, sizeof rkey->src);
            c->nat = OVSCT_CS_DST_NAT;
        }
        res = conn_link(ct, x, c, hash, ct_key_hash(ct, rkey), true, &found,
                        dir, refused);
    } else if (nat_new) {
        struct nat_try t = { .ct = ct, .x = x, .c = c, .hash = hash,
                             .res = LINK_TAKEN };

        c->nat = nat->kind;
        if (!ct_nat_search(&pkt->key, nat, (uint32_t) ct->seed, nat_try,
                           &t)) {
            ct_stat_inc(&ct_my_stat(ct)->nat_exhausted);
        }
        res = t.res;
        found = t.found;
        *dir = t.dir;
        *refused = t.refused;
    } else {
        /* The plain reverse key hashes like the forward key (symmetric
         * hash): both nodes go to one bucket, under one lock. */
        res = conn_link(ct, x, c, hash, hash, false, &found, dir, refused);
    }
    if (res != LINK_OK) {
        ct_conn_free(ct, c);
        return res == LINK_FOUND ? found : NULL;
    }
    *dir = 0;
    *created = true;
    return c;
}

/* Creates a plain (not NAT) connection for 'pkt' in bucket 'b', whose
 * lock the caller has held since its lookup missed: no other thread can
 * have created it meanwhile, and the symmetric hash puts both nodes in
 * 'b', so no second lock and no second lookup are needed.  'slot' is
 * where that lookup ended, or CT_SLOT_ANY.  Returns NULL if admission
 * refused it or memory ran out. */
static struct ct_conn *
conn_create_locked(struct ovsct *ct, struct exec_ctx *x,
                   const struct ct_pkt *pkt, uint32_t hash,
                   struct ct_bucket *b, uint32_t slot)
    CT_REQUIRES(b->lock)
{
    struct ct_conn *c = conn_alloc(ct, &pkt->key, NULL, OVSCT_ALG_NONE, NULL);
    enum admit_res refused;

    if (!c) {
        return NULL;
    }
    conn_init_state(c, pkt, x);
    if (conn_insert__(ct, x, c, b, hash, slot, b, hash, &refused)
        != LINK_OK) {
        ct_conn_free(ct, c);
        return NULL;
    }
    return c;
}

/* Rewrites 'frame' for NAT connection 'c' met in direction 'dir': orig
 * packets take the translated tuple, replies get the original one back.
 * Returns the snat/dnat ct_state bits. */
static uint8_t
nat_packet(struct ct_conn *c, int dir, uint8_t *frame, uint32_t len,
           const struct ct_pkt *pkt)
{
    struct ct_key other, target;

    ct_conn_key(c, !dir, &other);
    ct_key_reverse(&other, &target);
    target.zone = pkt->key.zone;
    ct_nat_rewrite(frame, len, pkt, &target);
    /* A reply is translated back the other way: an SNAT connection's
     * replies are dnat'ed and vice versa (as OVS reports them). */
    return dir ? c->nat ^ (OVSCT_CS_SRC_NAT | OVSCT_CS_DST_NAT) : c->nat;
}

/* OVS's get_alg_ctl_type() with no flow ports: the control traffic of
 * each helper by its well-known port.  ICMP errors are not (OVS reads the
 * outer protocol). */
static uint8_t
alg_ctl_type(const struct ct_pkt *pkt)
{
    if (pkt->icmp_related) {
        return OVSCT_ALG_NONE;
    }
    if (pkt->key.nw_proto == 17 && pkt->key.dport == htons(69)) {
        return OVSCT_ALG_TFTP;
    }
    if (pkt->key.nw_proto == 6
        && (pkt->key.sport == htons(21) || pkt->key.dport == htons(21))) {
        return OVSCT_ALG_FTP;
    }
    return OVSCT_ALG_NONE;
}

/* OVS's ct_verify_helper(): the helper a new connection gets for alg=
 * 'alg' when its packet is control traffic of 'ctl' (none: any). */
static uint8_t
verify_helper(uint8_t alg, uint8_t ctl)
{
    return ctl == OVSCT_ALG_NONE || ctl == alg ? alg : OVSCT_ALG_NONE;
}

static bool
conn_related(struct ct_conn *c)
{
    return (c->ext & CT_EXT_ALG) && ct_conn_alg(c)->related;
}

/* What the unlocked first look-up of a packet found (execute_chunk()). */
struct pre_lookup {
    struct ct_conn *c;          /* Live when looked up, or NULL. */
    int dir;
    struct ct_probe probe;      /* If 'c' is NULL. */
};

/* The packet path: one parsed frame ('pkt', key hash 'hash') through
 * ct().  The frame's length is '*len', its room 'cap' (ALG rewrites).
 * 'pkt' is the caller's and not copied: the FTP helper's edits update it
 * (tcp_seq, tcp_ack, lengths), so it is not reused after the call.
 * 'pre' is what ct_map_find_unlocked() said of the packet before the
 * batch's earlier packets ran. */
static uint8_t
process_one(struct ovsct *ct, struct exec_ctx *x, uint8_t *frame,
            uint32_t *len, uint32_t cap, struct ct_pkt *pkt, uint32_t hash,
            const struct pre_lookup *pre)
{
    const struct ovsct_action *a = x->action;
    struct ct_conn *c = NULL;
    uint8_t state = OVSCT_CS_TRACKED;
    uint8_t ctl = alg_ctl_type(pkt);
    struct ct_alg_pkt ap;       /* Only for an ALG control packet. */
    bool invalid = false;
    int dir = 0;

    if (ctl) {
        ap = (struct ct_alg_pkt) { .frame = frame, .len = len, .cap = cap,
                                   .pkt = pkt, .nat = a->nat.kind != 0 };
    }

    /* A packet of a known, live connection takes no bucket lock: it only
     * checks that the connection is still live (an earlier packet of the
     * batch may have ended it).  Anything else (a new connection, an
     * expired one to reap) takes the lock, and looks again unless the
     * map is as the unlocked look-up saw it. */
    if (pre->c && ct_conn_live(pre->c, x->now,
                               atomic_load_explicit(&ct->gen,
                                                    memory_order_relaxed))) {
        c = pre->c;
        dir = pre->dir;
    } else {
        struct ct_bucket *b = &ct->buckets[ct_bucket_of(ct, hash)];
        uint32_t slot = CT_SLOT_ANY;

        ct_bucket_lock(ct, b);
        if (!pre->c && pre->probe.valid
            && atomic_load_explicit(&b->seq, memory_order_relaxed)
               == pre->probe.seq) {
            slot = pre->probe.slot;     /* The miss stands. */
        } else {
            c = ct_map_find(ct, b, hash, &pkt->key, x->now, &dir);
        }
        if (!c && a->commit && !pkt->icmp_related
            && a->nat.kind != OVSCT_CS_SRC_NAT
            && a->nat.kind != OVSCT_CS_DST_NAT
            && !a->alg
            && !atomic_load_explicit(&ct->n_exp, memory_order_relaxed)
            && valid_new(pkt)) {
            /* The common new connection: look up and insert under one
             * hold.  If this fails (limits, memory), the general path
             * below tries again, reaping expired entries first.  Helpers
             * and expected connections take the general path. */
            c = conn_create_locked(ct, x, pkt, hash, b, slot);
            if (c) {
                ct_mutex_unlock(&b->lock);
                apply_mark_labels(ct, c, a);
                return OVSCT_CS_TRACKED | OVSCT_CS_NEW;
            }
        }
        ct_mutex_unlock(&b->lock);
    }

    if (pkt->icmp_related) {
        /* ICMP errors never create or update a connection. */
        if (!c) {
            return OVSCT_CS_INVALID | OVSCT_CS_TRACKED;
        }
        state |= OVSCT_CS_RELATED | (dir ? OVSCT_CS_REPLY_DIR : 0);
        if (c->nat && a->nat.kind) {
            state |= nat_packet(c, dir, frame, *len, pkt);
        }
        apply_mark_labels(ct, c, a);
        return state;
    }

    if (c && a->force && dir) {
        /* force: a packet in the reply direction ends the connection; a
         * commit starts a new one in this packet's direction. */
        ct_conn_kill(ct, c);
        c = NULL;
    }
    if (c) {
        /* conn_update_state_alg(): on an FTP control connection the
         * sequence skew is undone before the state update for segments
         * against its direction, applied after it for the others. */
        bool ftp_done = false;

        ap.dir = dir;
        if (ctl == OVSCT_ALG_FTP) {
            ftp_done = ct_ftp_before_update(ct, c, &ap);
        }
        if (conn_related(c)) {
            state |= OVSCT_CS_RELATED;
        }
        switch (conn_update(ct, c, dir, pkt, x)) {
        case CT_UPDATE_VALID:
            state |= OVSCT_CS_ESTABLISHED | (dir ? OVSCT_CS_REPLY_DIR : 0);
            break;
        case CT_UPDATE_VALID_NEW:
            state |= OVSCT_CS_NEW;
            break;
        case CT_UPDATE_INVALID:
            state = OVSCT_CS_INVALID | OVSCT_CS_TRACKED;
            invalid = true;
            break;
        case CT_UPDATE_NEW:
            ct_conn_kill(ct, c);
            c = NULL;
            break;
        }
        if (c && ctl == OVSCT_ALG_FTP && !ftp_done) {
            ct_ftp_after_update(ct, c, &ap);
        }
    }
    if (!c) {
        bool created;
        enum admit_res refused;
        struct ct_exp exp;
        bool expected;
        uint8_t helper;

        if (!valid_new(pkt)) {
            return OVSCT_CS_INVALID | OVSCT_CS_TRACKED;
        }
        /* A connection a control connection announced is related. */
        expected = ct_exp_lookup(ct, &pkt->key, x->now, &exp);
        state = OVSCT_CS_TRACKED | OVSCT_CS_NEW
                | (expected ? OVSCT_CS_RELATED : 0);
        if (!a->commit) {
            return state;
        }
        helper = verify_helper(a->alg, ctl);
        c = conn_create(ct, x, pkt, hash, &dir, &created, &refused, helper,
                        expected ? &exp : NULL);
        if (!c && refused != ADMIT_OK) {
            /* Counts are exact: expired entries must not hold the table
             * full.  Reap them (at most once per engine ms) and retry. */
            ct_reap_all(ct, false);
            c = conn_create(ct, x, pkt, hash, &dir, &created, &refused,
                            helper, expected ? &exp : NULL);
            if (!c) {
                struct ct_tstat *st = ct_my_stat(ct);

                ct_stat_inc(refused == ADMIT_FULL ? &st->full
                                                  : &st->zone_full);
            }
        }
        if (c && !created) {
            /* Another thread created it first: this packet is one more
             * packet of that connection. */
            state = OVSCT_CS_TRACKED
                    | (conn_related(c) ? OVSCT_CS_RELATED : 0);
            switch (conn_update(ct, c, dir, pkt, x)) {
            case CT_UPDATE_VALID:
                state |= OVSCT_CS_ESTABLISHED
                         | (dir ? OVSCT_CS_REPLY_DIR : 0);
                break;
            case CT_UPDATE_INVALID:
                state = OVSCT_CS_INVALID | OVSCT_CS_TRACKED;
                invalid = true;
                break;
            default:
                state |= OVSCT_CS_NEW;
                break;
            }
        }
    }
    if (!c) {
        return state;
    }
    if (!invalid) {
        if (c->nat && a->nat.kind) {
            state |= nat_packet(c, dir, frame, *len, pkt);
        }
        apply_mark_labels(ct, c, a);
    }
    if (ctl && (c->ext & CT_EXT_ALG) && ct_conn_alg(c)->helper) {
        /* handle_alg_ctl(): the helper reads the control segment, makes
         * expectations and, with NAT, rewrites the payload. */
        ap.dir = dir;
        if (ctl == OVSCT_ALG_FTP) {
            ct_ftp_ctl(ct, c, &ap, &state);
        } else {
            ct_tftp_ctl(ct, c, state);
        }
    }
    return state;
}

/* Returns 'b''s slot array and mask as a hint, without the lock: the
 * values may be stale by the time they are used, so they only ever serve
 * as prefetch addresses (prefetching a freed address is harmless). */
static inline const struct ct_slot *
slot_hint(struct ct_bucket *b, uint32_t hash) CT_NO_THREAD_SAFETY_ANALYSIS
{
    struct ct_slot *slots = __atomic_load_n(&b->slots, __ATOMIC_RELAXED);
    uint32_t mask = __atomic_load_n(&b->mask, __ATOMIC_RELAXED);

    return slots ? &slots[hash & mask] : NULL;
}

/* Parses frame 'k' of 'batch' into '*pkt', hashes its key into '*hash'
 * and prefetches its bucket; a frame that does not parse gets its state
 * in '*state' (invalid, or held by reassembly). */
static inline void
parse_frame(struct ovsct *ct, struct exec_ctx *x,
            const struct ovsct_batch *batch, size_t k, struct ct_pkt *pkt,
            uint32_t *hash, uint8_t *state)
{
    const uint8_t *frame = batch->data + batch->offsets[k];
    uint32_t len = batch->lens ? batch->lens[k]
                               : batch->offsets[k + 1] - batch->offsets[k];
    bool csum_ok = batch->l4_csum_ok && batch->l4_csum_ok[k];

    if (!ct_parse_csum(frame, len, csum_ok, pkt)) {
        /* Hook: a fragment may be held by reassembly (state 0,
         * OVSCT_STATE_HELD, not processed: its 'valid' is false). */
        *state = x->ipf ? ct_ipf_offer(ct, x->ipf, k, frame, len)
                        : OVSCT_CS_INVALID | OVSCT_CS_TRACKED;
        return;
    }
    *state = 0;
    pkt->key.zone = x->action->zone;
    *hash = ct_key_hash(ct, &pkt->key);
    __builtin_prefetch(&ct->buckets[ct_bucket_of(ct, *hash)], 1);
}

/* How many frames apart execute_chunk()'s stages run (its block size):
 * measured best of 4, 6, 8 and 12. */
#define CT_PIPE_DIST 8

/* Prefetches the connection of the first node in 'b''s map with 'hash',
 * among the few slots from its home on (a look-up's usual probe), both of
 * its cache lines (a plain connection is 80 bytes, so it always spans
 * two).  A hint only: it reads the slots without the lock, as
 * ct_map_find_unlocked() does (inside the caller's epoch), and a stale or
 * wrong guess costs a prefetch. */
static inline void
conn_prefetch(const struct ovsct *ct, const struct ct_bucket *b,
              uint32_t hash)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    const struct ct_slot *slots;
    uint32_t mask, seq;

    if (!ct_map_snapshot(b, &slots, &mask, &seq)) {
        return;
    }
    for (uint32_t n = 0, i = hash & mask; slots && n < 4;
         n++, i = (i + 1) & mask) {
        uint32_t e = __atomic_load_n(&slots[i].ent, __ATOMIC_RELAXED);

        if (!e) {
            return;
        }
        if (__atomic_load_n(&slots[i].hash, __ATOMIC_RELAXED) == hash) {
            const char *c = (const char *) ct_ent_conn(ct, e);

            __builtin_prefetch(c);
            __builtin_prefetch(c + sizeof(struct ct_conn) - 1);
            return;
        }
    }
}

/* Whether the last chunk this thread ran found most of its frames'
 * connections: then the next one adds the connection prefetch stage to
 * its pipeline (execute_chunk()). */
static _Thread_local bool ct_chunk_hits
    __attribute__((tls_model("initial-exec")));

/* The frames [*lo, *hi) of block 'r' of a chunk of 'm' frames
 * (execute_chunk()). */
static inline void
pipe_block(size_t r, size_t m, size_t *lo, size_t *hi)
{
    *lo = r * CT_PIPE_DIST;
    *hi = *lo + CT_PIPE_DIST < m ? *lo + CT_PIPE_DIST : m;
}

/* Runs 'm' <= CT_CHUNK frames from 'base': looks them all up without
 * locks in a pipeline (so that the cache misses of different frames
 * overlap), then processes them one by one.  Returns the number of
 * invalid frames. */
static size_t
execute_chunk(struct ovsct *ct, struct exec_ctx *x,
              const struct ovsct_batch *batch, size_t base, size_t m,
              uint8_t *states)
{
    struct ct_pkt pkts[CT_CHUNK];
    uint32_t hashes[CT_CHUNK];
    struct pre_lookup pre[CT_CHUNK];
    size_t invalid = 0, looked = 0, found = 0;

    /* A pipeline over blocks of CT_PIPE_DIST frames: round r
     *   1. parses and hashes the frames of block r and prefetches their
     *      buckets;
     *   2. prefetches the map slots of block r - 1 (their buckets have
     *      arrived meanwhile): each home slot's line and the next, as a
     *      probe often crosses into it;
     *   3. (when recent chunks found their connections) prefetches the
     *      connections of block r - 2, named by their slots;
     *   4. looks the frames of the last block up without locks
     *      (everything has arrived).
     * So the parsing of later frames hides the cache misses of earlier
     * ones, and each stage is a tight loop over one block (a loop per
     * frame testing which stages apply took about 45 instructions a
     * frame more: docs/benchmarks.md).  Stage 3 pays only when the frames' connections exist:
     * a chunk of new connections finds no slot to follow, and the deeper
     * pipeline's longer fill and drain cost it more than the stage saves
     * (docs/benchmarks.md).  The look-ups all run before any frame is
     * processed. */
    const size_t n_blocks = (m + CT_PIPE_DIST - 1) / CT_PIPE_DIST;
    const size_t depth = ct_chunk_hits ? 3 : 2;
    for (size_t r = 0; r < n_blocks + depth; r++) {
        size_t lo, hi;

        if (r < n_blocks) {
            pipe_block(r, m, &lo, &hi);
            for (size_t i = lo; i < hi; i++) {
                parse_frame(ct, x, batch, base + i, &pkts[i], &hashes[i],
                            &states[i]);
            }
        }
        if (r >= 1 && r - 1 < n_blocks) {
            pipe_block(r - 1, m, &lo, &hi);
            for (size_t i = lo; i < hi; i++) {
                const struct ct_slot *s;

                if (pkts[i].valid
                    && (s = slot_hint(&ct->buckets[ct_bucket_of(ct,
                                                                hashes[i])],
                                      hashes[i]))) {
                    __builtin_prefetch(s);
                    __builtin_prefetch((const char *) (s + 4) - 1);
                }
            }
        }
        if (depth == 3 && r >= 2 && r - 2 < n_blocks) {
            pipe_block(r - 2, m, &lo, &hi);
            for (size_t i = lo; i < hi; i++) {
                if (pkts[i].valid) {
                    conn_prefetch(ct,
                                  &ct->buckets[ct_bucket_of(ct, hashes[i])],
                                  hashes[i]);
                }
            }
        }
        if (r >= depth && r - depth < n_blocks) {
            pipe_block(r - depth, m, &lo, &hi);
            for (size_t i = lo; i < hi; i++) {
                if (pkts[i].valid) {
                    pre[i].c = ct_map_find_unlocked(
                        ct, &ct->buckets[ct_bucket_of(ct, hashes[i])],
                        hashes[i], &pkts[i].key, x->now, &pre[i].dir,
                        &pre[i].probe);
                    found += pre[i].c != NULL;
                    looked++;
                }
            }
        }
    }
    ct_chunk_hits = found * 2 > looked;
    for (size_t i = 0; i < m; i++) {
        if (pkts[i].valid) {
            size_t k = base + i;
            uint32_t cap = batch->offsets[k + 1] - batch->offsets[k];
            uint32_t len = batch->lens ? batch->lens[k] : cap;

            x->left = batch->n - k;
            states[i] = process_one(ct, x, batch->data + batch->offsets[k],
                                    &len, cap, &pkts[i], hashes[i], &pre[i]);
            if (batch->lens) {
                batch->lens[k] = len;
            }
        }
        invalid += (states[i] & OVSCT_CS_INVALID) != 0;
    }
    return invalid;
}

/* Hook: tracks the datagrams reassembly completed during this call, after
 * the call's other frames (OVS appends them to the batch), and gives their
 * fragments their state (ipf.c). */
static size_t
execute_reassembled(struct ovsct *ct, struct exec_ctx *x,
                    const struct ovsct_batch *batch, uint8_t *states)
{
    size_t invalid = 0;

    while (x->ipf->done) {
        struct ct_ipf_done *d = x->ipf->done;
        uint8_t state = OVSCT_CS_INVALID | OVSCT_CS_TRACKED;
        struct ct_pkt pkt;

        x->ipf->done = d->next;
        if (ct_parse(d->frame, d->len, &pkt)) {
            /* The datagram goes through process_one() as any frame, the
             * ALG hooks included; it has no room to grow (cap = len), so
             * an FTP address in a NATed payload is not rewritten (as a
             * frame without 'lens'): ct_ipf_finish() copies the rewritten
             * bytes back to the fragments at their own offsets, so the
             * datagram's length must not change. */
            uint32_t len = d->len;
            struct pre_lookup none = { .c = NULL };

            pkt.key.zone = x->action->zone;
            state = process_one(ct, x, d->frame, &len, d->len, &pkt,
                                ct_key_hash(ct, &pkt.key), &none);
        }
        ct_ipf_finish(ct, x->ipf, d, state, batch->data, batch->offsets,
                      states);
    }
    x->ipf->done_tail = &x->ipf->done;
    ct_ipf_call_end(ct, x->ipf);
    for (size_t i = 0; i < batch->n; i++) {
        invalid += (states[i] & OVSCT_CS_INVALID) != 0;
    }
    return invalid;
}

int
ovsct_execute(struct ovsct *ct, const struct ovsct_batch *batch,
              const struct ovsct_action *action, uint8_t *states)
{
    struct ct_ipf_call ipf;
    struct exec_ctx x;
    struct ct_tstat *st;
    struct ct_tp *tp;
    uint64_t invalid = 0;

    if (!batch->n) {
        return 0;
    }
    if (!batch->offsets || batch->offsets[batch->n] > batch->size) {
        return EINVAL;
    }
    for (size_t i = 0; i < batch->n; i++) {
        if (batch->offsets[i] > batch->offsets[i + 1]
            || (batch->lens && batch->lens[i]
                               > batch->offsets[i + 1] - batch->offsets[i])) {
            return EINVAL;
        }
    }
    if (action->alg > OVSCT_ALG_TFTP) {
        return EINVAL;
    }

    x.action = action;
    x.now = ovsct_now(ct);
    x.reserved = 0;
    x.reserve_tried = false;
    x.left = batch->n;
    x.st = ct_my_stat(ct);
    tp = atomic_load_explicit(&ct->zone_tp[action->zone],
                              memory_order_acquire);
    x.tp = tp ? tp->v : ovsct_tp_defaults;
    x.ipf = NULL;
    if (ct_ipf_active(ct)) {
        ct_ipf_call_init(&ipf, action->zone, batch->tag_base, x.now);
        x.ipf = &ipf;
    }

    if (action->commit) {
        ct_slab_prepare(ct);    /* Memory faults now, before any lock. */
    }
    ct_epoch_enter();
    for (size_t base = 0; base < batch->n; base += CT_CHUNK) {
        size_t m = batch->n - base < CT_CHUNK ? batch->n - base : CT_CHUNK;

        invalid += execute_chunk(ct, &x, batch, base, m, states + base);
    }
    if (x.ipf) {
        invalid = execute_reassembled(ct, &x, batch, states);
    }
    if (x.reserved) {
        atomic_store_explicit(&x.st->reserved, 0, memory_order_relaxed);
        atomic_fetch_sub(&ct->n_conns, x.reserved);
    }
    /* The clock moved during this batch: a full reap at the later time
     * may have run before our expiries, set from the older clock, were in
     * place, so the next count must reap again (ct_reap_all(), config.c).
     * Found by the invariant check in tests/c/stress.c. */
    int64_t end = ovsct_now(ct);
    if (end != x.now) {
        /* By more than the bounds' slack: a sweep bound (sweep.c) may
         * have been computed from a clock up to 'end' -- at link time by
         * a newer batch that created a connection we then refreshed, or
         * by the sweeper -- while our refreshes set expiries from 'x.now'
         * plus a timeout, possibly below that bound.  The sweeper and
         * the count's reap would skip such a slot until the clock passed
         * the bound, the connection expired all the while.  Forget every
         * bound before this batch counts as ended (the increment below),
         * so the next reap looks at every connection.  Only a batch that
         * ran over a clock jump of more than a second gets here (a manual
         * clock, or a stalled thread): the packet path pays nothing, and
         * bounds within the slack stay valid (ct_sweep_lb()). */
        if (end - x.now > ((int64_t) 1 << CT_LB_SHIFT) || end < x.now) {
            /* (Or the manual clock was set back during the batch: our
             * bounds, from the older and later 'x.now', may lie after the
             * expiries the next packets set.) */
            ct_clear_sweep_bounds(ct);
        }
        atomic_fetch_add(&ct->stale_batches, 1);
    }
    ct_epoch_exit();

    st = x.st;
    atomic_store_explicit(&st->packets,
                          atomic_load_explicit(&st->packets,
                                               memory_order_relaxed)
                          + batch->n, memory_order_relaxed);
    atomic_store_explicit(&st->invalid,
                          atomic_load_explicit(&st->invalid,
                                               memory_order_relaxed)
                          + invalid, memory_order_relaxed);
    return 0;
}

