/*
 * proto-icmp.c -- connection tracking of ICMP and ICMPv6 echo (and the
 * other query/reply pairs), with OVS's rules (lib/conntrack-icmp.c:
 * icmp_conn_update(), icmp_valid_new(), icmp_new_conn()).
 *
 * Two states: FIRST (requests only) and REPLY (a reply was seen).  Until
 * a reply, every request is reported as new (CT_UPDATE_VALID_NEW).  The
 * timeouts are icmp_first and icmp_reply of the zone's timeout policy
 * (lib/conntrack-tp.c).  Which ICMP types may start a connection is
 * packet.c's ct_icmp_valid_new(); ICMP errors never reach these functions
 * (they are related to another connection, see conntrack.c).
 *
 * ct_icmp_update() runs with the connection's 'lock' held (conntrack.c
 * takes it); ct_icmp_init() on a connection nobody else can see yet.
 * Neighbours: conntrack.c (dispatch), proto-other.c, proto-tcp.c.
 */
#include "ovsct-private.h"

void
ct_icmp_init(struct ct_conn *c, const uint32_t *tp, int64_t now)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    /* 'c' is not yet linked: no other thread can see it. */
    c->state = CT_ICMP_FIRST;
    atomic_store_explicit(&c->expiration,
                          now + (int64_t) tp[OVSCT_TP_ICMP_FIRST] * 1000,
                          memory_order_relaxed);
}

enum ct_update_res
ct_icmp_update(struct ct_conn *c, int reply, const uint32_t *tp,
               int64_t now)
    CT_REQUIRES(c->lock)
{
    enum ct_update_res res = CT_UPDATE_VALID;
    uint32_t t;

    if (reply && c->state == CT_ICMP_FIRST) {
        /* Atomic: ct_refresh_settled() reads it without the lock. */
        __atomic_store_n(&c->state, CT_ICMP_REPLY, __ATOMIC_RELAXED);
    } else if (c->state == CT_ICMP_FIRST) {
        res = CT_UPDATE_VALID_NEW;
    }
    t = tp[c->state == CT_ICMP_REPLY ? OVSCT_TP_ICMP_REPLY
                                     : OVSCT_TP_ICMP_FIRST];
    atomic_store_explicit(&c->expiration, now + (int64_t) t * 1000,
                          memory_order_relaxed);
    return res;
}
