/*
 * nat-rewrite.c -- rewriting a frame's addresses, ports and checksums for
 * NAT (ct_nat_rewrite(), contract in ovsct-private.h).
 *
 * conntrack.c decides what a packet of a NAT connection must look like
 * (the 'target' tuple); this file makes the frame say so.  Only fields that
 * differ from the parsed key are written, and every checksum that covers a
 * written field is updated incrementally (RFC 1624, eqn. 3):
 *
 *   IPv4 header checksum         the IPv4 addresses;
 *   TCP, UDP checksums           ports and the pseudo-header addresses (a
 *                                zero UDP checksum means "none" and stays
 *                                zero, as OVS's packet_set_udp_port() and
 *                                packet_update_csum128() leave it);
 *   ICMPv6 checksum              the echo id and the pseudo-header;
 *   ICMPv4 checksum              the echo id only (no pseudo-header).
 *
 * ICMP errors follow OVS's nat_packet() / nat_inner_packet(): the outer
 * address on the translated side is set to the target's (for SNAT in the
 * reply direction, the outer destination; for DNAT in the reply direction,
 * the outer source, even if a router sent the error), the quoted datagram
 * is set to the reverse of the target (addresses and ports or echo id),
 * and the outer ICMP checksum, which covers the quoted bytes, follows.
 * Where OVS recomputes that checksum over the message we update it for
 * every word we change, including the quoted IPv4 header checksum and the
 * quoted L4 checksum; the latter only when the quote holds its field (OVS
 * writes it even past the end of an 8-byte quote).  OVS writes the outer
 * address of the NAT side unconditionally; we write it only when the
 * target differs from the key there, which differs from OVS only for an
 * all-zero address range (OVS would replace a router's outer address by
 * the endpoint's own).  Echo ids are rewritten whenever nat.c translated
 * them (OVS's pat_packet() only handles TCP and UDP ports).
 *
 * SCTP (CRC32c, and portless in packet.c's keys) and other protocols get
 * the address rewrite only.  Nothing outside [frame, frame + len) and the
 * IP-length-bounded L4 data is read or written.
 *
 * Neighbours: conntrack.c (nat_packet(), the caller), nat.c (tuple
 * choice), packet.c (the offsets used here).
 */
#include <stdbool.h>
#include <string.h>

#include "ovsct-private.h"

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

#define TCP_CSUM_OFS 16
#define UDP_CSUM_OFS 6
#define ICMP_CSUM_OFS 2
#define ICMP_ID_OFS 4

/* Sets the 'n' bytes (an even number) at 'p' to 'new_' and returns their
 * checksum difference: the sum over the 16-bit words of ~old + new, to be
 * added to every checksum that covers them.  Returns 0, without writing,
 * if nothing changes. */
static uint32_t
set_field(uint8_t *p, const void *new_, size_t n)
{
    const uint8_t *new = new_;
    uint32_t diff = 0;

    if (!memcmp(p, new, n)) {
        return 0;
    }
    for (size_t i = 0; i < n; i += 2) {
        diff += (uint16_t) ~get_be16(p + i);
        diff += get_be16(new + i);
    }
    memcpy(p, new, n);
    return diff;
}

/* Adds 'diff' to the checksum at 'field' (HC' = ~(~HC + diff)); a result of
 * 0 becomes 0xffff if 'udp' (zero means "no checksum" there).  Returns the
 * checksum field's own difference, for an enclosing checksum. */
static uint32_t
csum_update(uint8_t *field, uint32_t diff, bool udp)
{
    uint32_t sum = (uint16_t) ~get_be16(field);
    uint8_t new[2];
    uint16_t hc;

    if (!diff) {
        return 0;
    }
    sum += diff;                /* diff < 2**24: no overflow. */
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    hc = (uint16_t) ~sum;
    if (udp && !hc) {
        hc = 0xffff;
    }
    put_be16(new, hc);
    return set_field(field, new, 2);
}

/* Rewrites the addresses of the IP header at 'ip' ('l3' 4 or 6) to 'src'
 * and 'dst' where those are non-NULL, fixing an IPv4 header checksum.
 * Returns the addresses' difference, for the pseudo-header of the L4
 * checksum; stores in '*all' the difference of every header word changed
 * (the checksum too), for an enclosing ICMP checksum. */
static uint32_t
set_addrs(uint8_t *ip, uint8_t l3, const uint32_t *src, const uint32_t *dst,
          uint32_t *all)
{
    size_t alen = l3 == 4 ? 4 : 16;
    size_t src_ofs = l3 == 4 ? 12 : 8;
    size_t dst_ofs = l3 == 4 ? 16 : 24;
    uint32_t diff = 0;

    if (src) {
        diff += set_field(ip + src_ofs, src, alen);
    }
    if (dst) {
        diff += set_field(ip + dst_ofs, dst, alen);
    }
    *all = diff;
    if (l3 == 4) {
        *all += csum_update(ip + 10, diff, false);
    }
    return diff;
}

/* Rewrites the L4 header at 'l4', of which 'avail' bytes are in the frame,
 * to ports 'sport' and 'dport' (network order; for ICMP and ICMPv6 'sport'
 * is the echo id), and updates its checksum with the port changes and
 * 'pseudo', the pseudo-header difference (ignored for ICMPv4).  Nothing
 * is done unless the ports (or the 8-byte ICMP header) are available; the
 * checksum is updated only if its field is.  Returns the difference of
 * every L4 byte changed, for an enclosing ICMP checksum. */
static uint32_t
set_l4(uint8_t *l4, size_t avail, uint8_t l3, uint8_t proto, uint16_t sport,
       uint16_t dport, uint32_t pseudo)
{
    uint32_t diff;

    switch (proto) {
    case PROTO_TCP:
        if (avail < 4) {
            return 0;
        }
        diff = set_field(l4, &sport, 2) + set_field(l4 + 2, &dport, 2);
        if (avail >= TCP_CSUM_OFS + 2) {
            diff += csum_update(l4 + TCP_CSUM_OFS, diff + pseudo, false);
        }
        return diff;

    case PROTO_UDP:
        if (avail < 4) {
            return 0;
        }
        diff = set_field(l4, &sport, 2) + set_field(l4 + 2, &dport, 2);
        if (avail >= UDP_CSUM_OFS + 2 && get_be16(l4 + UDP_CSUM_OFS)) {
            diff += csum_update(l4 + UDP_CSUM_OFS, diff + pseudo, true);
        }
        return diff;

    case PROTO_ICMP:
    case PROTO_ICMPV6:
        if ((proto == PROTO_ICMP) != (l3 == 4) || avail < 8) {
            return 0;           /* Cross-family: tracked as "other". */
        }
        diff = set_field(l4 + ICMP_ID_OFS, &sport, 2);
        return diff + csum_update(l4 + ICMP_CSUM_OFS,
                                  diff + (l3 == 6 ? pseudo : 0), false);

    default:
        return 0;
    }
}

static bool
addr_eq(const uint32_t *a, const uint32_t *b)
{
    return !memcmp(a, b, 4 * sizeof *a);
}

/* A packet of the connection itself: its tuple becomes 'target'. */
static void
rewrite_plain(uint8_t *frame, size_t l4_end, const struct ct_pkt *pkt,
              const struct ct_key *t)
{
    const struct ct_key *k = &pkt->key;
    uint32_t pseudo, all;

    pseudo = set_addrs(frame + pkt->l3_ofs, k->l3,
                       addr_eq(k->src, t->src) ? NULL : t->src,
                       addr_eq(k->dst, t->dst) ? NULL : t->dst, &all);
    set_l4(frame + pkt->l4_ofs, l4_end - pkt->l4_ofs, k->l3, k->nw_proto,
           t->sport, t->dport, pseudo);
}

/* An ICMP(v6) error: 'target' is oriented like the error (as pkt->key is);
 * the quoted datagram travels the other way and becomes its reverse. */
static void
rewrite_icmp_error(uint8_t *frame, size_t l4_end, const struct ct_pkt *pkt,
                   const struct ct_key *t)
{
    const struct ct_key *k = &pkt->key;
    bool icmp = k->nw_proto == PROTO_ICMP || k->nw_proto == PROTO_ICMPV6;
    uint32_t outer, inner, diff, all;

    if ((size_t) pkt->l4_ofs + 8 > l4_end
        || (size_t) pkt->inner_l3_ofs < (size_t) pkt->l4_ofs + 8
        || pkt->inner_l4_ofs < (size_t) pkt->inner_l3_ofs
                               + (k->l3 == 4 ? 20 : 40)
        || pkt->inner_l4_ofs > l4_end) {
        return;                 /* Not what packet.c produces. */
    }

    /* The outer header: only the side the translation changed.  The outer
     * destination is the quoted source, i.e. the key's destination; the
     * outer source may be a router rather than the key's source, and is
     * replaced all the same (OVS's nat_packet_ipv4/6()). */
    outer = set_addrs(frame + pkt->l3_ofs, k->l3,
                      addr_eq(k->src, t->src) ? NULL : t->src,
                      addr_eq(k->dst, t->dst) ? NULL : t->dst, &all);

    /* The quoted datagram: source = target's destination and so on.  Its
     * IPv4 header checksum and L4 checksum are kept consistent, and every
     * word changed inside the ICMP message goes into 'diff'. */
    inner = set_addrs(frame + pkt->inner_l3_ofs, k->l3, t->dst, t->src,
                      &diff);
    diff += set_l4(frame + pkt->inner_l4_ofs, l4_end - pkt->inner_l4_ofs,
                   k->l3, k->nw_proto, icmp ? t->sport : t->dport,
                   icmp ? t->dport : t->sport, inner);

    /* The outer ICMP checksum covers the quoted bytes; for ICMPv6 the
     * outer pseudo-header too. */
    if (k->l3 == 6) {
        diff += outer;
    }
    csum_update(frame + pkt->l4_ofs + ICMP_CSUM_OFS, diff, false);
}

void
ct_nat_rewrite(uint8_t *frame, uint32_t len, const struct ct_pkt *pkt,
               const struct ct_key *target)
{
    size_t l4_end = (size_t) pkt->l4_ofs + pkt->l4_len;

    if (!pkt->valid || target->l3 != pkt->key.l3
        || target->nw_proto != pkt->key.nw_proto || l4_end > len
        || (size_t) pkt->l3_ofs + (pkt->key.l3 == 4 ? 20 : 40)
           > pkt->l4_ofs) {
        return;
    }
    if (pkt->icmp_related) {
        rewrite_icmp_error(frame, l4_end, pkt, target);
    } else {
        rewrite_plain(frame, l4_end, pkt, target);
    }
}
