/*
 * proto-other.c -- connection tracking of UDP and every protocol without
 * its own state machine, with OVS's rules (lib/conntrack-other.c:
 * other_conn_update(), other_new_conn()).
 *
 * Three states: FIRST (one packet seen), MULTIPLE (more packets, one
 * direction only) and BIDIR (a reply was seen).  Until a reply, every
 * packet is reported as new (CT_UPDATE_VALID_NEW), as OVS does.  The
 * timeouts are udp_first, udp_single and udp_multiple of the zone's
 * timeout policy (lib/conntrack-tp.c), for every protocol handled here.
 *
 * ct_other_update() runs with the connection's 'lock' held (conntrack.c
 * takes it); ct_other_init() on a connection nobody else can see yet.
 * Neighbours: conntrack.c (dispatch), proto-icmp.c, proto-tcp.c.
 */
#include "ovsct-private.h"

void
ct_other_init(struct ct_conn *c, const uint32_t *tp, int64_t now)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    /* 'c' is not yet linked: no other thread can see it. */
    c->state = CT_OTHER_FIRST;
    atomic_store_explicit(&c->expiration,
                          now + (int64_t) tp[OVSCT_TP_UDP_FIRST] * 1000,
                          memory_order_relaxed);
}

enum ct_update_res
ct_other_update(struct ct_conn *c, int reply, const uint32_t *tp,
                int64_t now)
    CT_REQUIRES(c->lock)
{
    enum ct_update_res res = CT_UPDATE_VALID;
    uint32_t t;

    /* Stored atomically: ct_refresh_settled() reads it without the
     * lock. */
    if (reply && c->state != CT_OTHER_BIDIR) {
        __atomic_store_n(&c->state, CT_OTHER_BIDIR, __ATOMIC_RELAXED);
    } else if (c->state == CT_OTHER_FIRST) {
        __atomic_store_n(&c->state, CT_OTHER_MULTIPLE, __ATOMIC_RELAXED);
    }
    if (c->state != CT_OTHER_BIDIR) {
        res = CT_UPDATE_VALID_NEW;
    }
    t = tp[c->state == CT_OTHER_BIDIR ? OVSCT_TP_UDP_MULTIPLE
           : c->state == CT_OTHER_MULTIPLE ? OVSCT_TP_UDP_SINGLE
           : OVSCT_TP_UDP_FIRST];
    atomic_store_explicit(&c->expiration, now + (int64_t) t * 1000,
                          memory_order_relaxed);
    return res;
}
