/*
 * packet.h -- frame parsing for the connection tracker.
 *
 * ct_parse() turns one Ethernet frame into the lookup key and the L4 facts
 * the state machines need.  It never reads outside [frame, frame + len) and
 * never writes to the frame.  Neighbours: conntrack.c (the only caller on
 * the packet path), nat-rewrite.c (uses the offsets to rewrite).
 */
#ifndef OVSCT_PACKET_H
#define OVSCT_PACKET_H 1

#include <stdbool.h>
#include <stdint.h>
#include <assert.h>

/* The lookup key.  40 bytes, no padding (hashed and compared as raw
 * memory: update ct_key_hash() users if you change it).
 *
 * Addresses are in network byte order; IPv4 uses src[0]/dst[0] with the
 * other words zero.  Ports are in network byte order.  For ICMP and ICMPv6
 * 'sport' is the echo id (network order) and 'dport' is
 * (type << 8 | code) in host order, so that the reverse key of a request is
 * the key of its reply once the type is swapped (ct_key_reverse()). */
struct ct_key {
    uint32_t src[4];
    uint32_t dst[4];
    uint16_t sport;
    uint16_t dport;
    uint16_t zone;
    uint8_t nw_proto;
    uint8_t l3;                 /* 4 or 6. */
};
static_assert(sizeof(struct ct_key) == 40, "struct ct_key has padding");

/* Parser result for one frame. */
struct ct_pkt {
    struct ct_key key;          /* Zone left 0: the caller sets it. */
    bool valid;                 /* False: ct_state inv. */
    bool icmp_related;          /* 'key' is ct_key_reverse() of the flow
                                 * quoted by an ICMP error (as in OVS): it
                                 * is oriented like the error itself. */
    uint8_t tcp_flags;          /* TCP header flags byte (FIN=0x01 ...). */
    int8_t tcp_wscale;          /* Window-scale option on SYN, -1 none. */
    uint8_t icmp_type;          /* Outer ICMP/ICMPv6 type and code. */
    uint8_t icmp_code;
    uint16_t l3_ofs;            /* Offset of the IP header in the frame. */
    uint16_t l4_ofs;            /* Offset of the L4 header. */
    uint16_t l4_len;            /* L4 header + payload bytes. */
    uint16_t inner_l3_ofs;      /* ICMP errors: quoted IP header, else 0. */
    uint16_t inner_l4_ofs;      /* ICMP errors: quoted L4 header, else 0. */
    uint32_t tcp_seq;           /* Host order. */
    uint32_t tcp_ack;           /* Host order. */
    uint16_t tcp_win;           /* Host order, unscaled. */
    uint16_t tcp_payload_len;   /* TCP payload bytes (no header). */
    bool l4_csum_ok;            /* Input of ct_parse_csum(): skip the L4
                                 * checksum tests. */
};

/* Parses 'frame' of 'len' bytes into '*pkt'.  Returns pkt->valid.
 *
 * Ethernet II with at most one 802.1Q/802.1ad tag; IPv4 (header checksum
 * checked, fragments are invalid); IPv6 with hop-by-hop, routing,
 * destination-options and fragment headers (fragments invalid); TCP, UDP
 * (checksum unless 0), ICMP, ICMPv6 and any other protocol (ports 0).
 * L4 checksums are verified.  TCP/UDP port 0 is invalid.  ICMPv4 echo,
 * timestamp and info requests/replies with code 0, and ICMPv6 echo
 * request/reply with code 0, give a normal key; ICMP errors (v4 unreach,
 * source quench, redirect, time exceeded, parameter problem; v6 unreach,
 * packet too big, time exceeded, parameter problem) give the quoted flow's
 * key with 'icmp_related' set; any other ICMP type is invalid. */
bool ct_parse(const uint8_t *frame, uint32_t len, struct ct_pkt *pkt);
/* ct_parse() that skips the L4 checksum tests if 'l4_csum_ok' (the frame's
 * checksum was verified, or is left to offload: struct ovsct_batch). */
bool ct_parse_csum(const uint8_t *frame, uint32_t len, bool l4_csum_ok,
                   struct ct_pkt *pkt);

/* ct_parse_csum() without its fast path for the common frame: the general
 * parser alone, for the tests that compare the two (tests/c/fuzz_packet.c). */
bool ct_parse_general(const uint8_t *frame, uint32_t len, bool l4_csum_ok,
                      struct ct_pkt *pkt);

/* Reverse of 'key' (source and destination swapped; for ICMP the type is
 * replaced by its reply type). */
void ct_key_reverse(const struct ct_key *key, struct ct_key *rev);

/* ICMP type that answers 'type' (8<->0, 13<->14, 15<->16, 17<->18 for v4;
 * 128<->129 for v6), or 'type' itself if none. */
uint8_t ct_icmp_reverse_type(uint8_t l3, uint8_t type);

/* True if 'type' (with 'code') is an ICMP(v6) request that may create a
 * connection (OVS's icmp_valid_new / icmp6_valid_new). */
bool ct_icmp_valid_new(uint8_t l3, uint8_t type);

/* Big-endian (network order) fields at any alignment: the one home of
 * these reads and writes for the parser, the ALGs, NAT and reassembly. */
static inline uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
get_be32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
            | (uint32_t) p[2] << 8 | p[3]);
}

static inline void
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void
put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t) (v >> 16));
    put_be16(p + 2, (uint16_t) v);
}

#endif /* packet.h */
