/*
 * filter.c -- the one matcher of the engine's connection filter (struct
 * ovsct_filter, ovsct.h), used by dumps and statistics (dump.c) and by
 * flushes (flush.c).
 *
 * The semantics are OVS's ofp_ct_match as ct_dpif_entry_cmp()
 * (lib/ct-dpif.c) applies it to a connection for dpctl/flush-conntrack:
 * zone, mark and labels under their masks, and partial original and reply
 * tuples.  Two extensions of ours: an address with a prefix length matches
 * every address in that network (ct_nw_src=10.1.0.0/16), and a set of TCP
 * states selects the TCP connections whose coalesced state, the one
 * dump-conntrack prints without -m (names.h ovsct_tcp_state_coalesce()),
 * is in it.
 *
 * It works on a connection as a dump copies it out (struct ovsct_entry),
 * so it depends on ovsct.h and names.h only and builds alone.  Neighbours:
 * dump.c, flush.c, binding/convert.c (builds the filter from Python's
 * FlushFilter), tests/c/test_filter.c.
 */
#include <string.h>

#include "names.h"
#include "ovsct.h"

/* Whether the first 'bits' bits of 'a' and 'b' are equal. */
static bool
prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned n = bits / 8, r = bits % 8;

    if (memcmp(a, b, n)) {
        return false;
    }
    return !r || !((a[n] ^ b[n]) & (uint8_t) (0xff << (8 - r)));
}

/* Whether address 'have' of family 'l3' is 'want', or in 'want'/'plen'. */
static bool
addr_match(const uint8_t *want, uint8_t plen, const uint8_t *have,
           uint8_t l3)
{
    unsigned bits = l3 == 6 ? 128 : 32;

    if (plen && plen < bits) {
        bits = plen;
    }
    return prefix_eq(want, have, bits);
}

/* ct_dpif_entry_cmp()'s test of one tuple. */
static bool
tuple_match(const struct ovsct_tuple_match *m, const struct ovsct_tuple *t)
{
    if (m->l3 && m->l3 != t->l3) {
        return false;
    }
    if (m->has_src && !addr_match(m->src, m->src_plen, t->src, t->l3)) {
        return false;
    }
    if (m->has_dst && !addr_match(m->dst, m->dst_plen, t->dst, t->l3)) {
        return false;
    }
    if (m->has_proto) {
        if (m->proto != t->proto) {
            return false;
        }
        if (t->proto == 1 || t->proto == 58) {
            return m->icmp_id == t->sport && m->icmp_type == t->icmp_type
                   && m->icmp_code == t->icmp_code;
        }
    }
    if (m->sport && m->sport != t->sport) {
        return false;
    }
    if (m->dport && m->dport != t->dport) {
        return false;
    }
    return true;
}

bool
ovsct_filter_match(const struct ovsct_filter *f, const struct ovsct_entry *e)
{
    if (f->has_zone && e->zone != f->zone) {
        return false;
    }
    if ((e->mark & f->mark_mask) != (f->mark & f->mark_mask)
        || (e->labels.lo & f->labels_mask.lo)
           != (f->labels.lo & f->labels_mask.lo)
        || (e->labels.hi & f->labels_mask.hi)
           != (f->labels.hi & f->labels_mask.hi)) {
        return false;
    }
    if (f->tcp_states) {
        uint8_t s;

        if (e->orig.proto != 6) {
            return false;
        }
        s = ovsct_tcp_state_coalesce(e->tcp_state[0], e->tcp_state[1]);
        if (s >= OVSCT_TCPS_N || !(f->tcp_states & (1u << s))) {
            return false;
        }
    }
    return (!f->has_orig || tuple_match(&f->orig, &e->orig))
           && (!f->has_reply || tuple_match(&f->reply, &e->reply));
}
