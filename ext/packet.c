/*
 * packet.c -- frame parsing for the connection tracker (see packet.h).
 *
 * ct_parse() decides, for one Ethernet frame, what Open vSwitch's userspace
 * conntrack would decide: whether the frame yields a connection key at all
 * (if not, the packet is 'inv'), and which key.  The checks are those of
 * OVS's miniflow_extract() (Ethernet, VLAN and IP length sanity, done before
 * ct() ever sees a packet) followed by those of conn_key_extract() and its
 * extract_l3_*() / extract_l4_*() helpers in lib/conntrack.c.  Where OVS's
 * behaviour is surprising the code says so at the place.
 *
 * This is the per-packet path: no allocation, no copy of the frame, and
 * each L4 byte is read once, by the checksum.  Every read is bounded by the
 * lengths checked just before it; the file is fuzzed under ASan
 * (tests/c/fuzz_packet.c).  The common frame (IPv4 without options, TCP or
 * UDP) takes a fast path, parse_fast(), that answers exactly as the
 * general path, ct_parse_general(), and leaves it everything else.
 *
 * Neighbours: packet.h (contract), conntrack.c (the caller), nat.c (rewrites
 * frames using the offsets found here), tests/c/test_packet.c.
 */
#include "packet.h"

#include <stddef.h>
#include <string.h>

/* Wire constants. */
#define ETH_HEADER_LEN 14
#define VLAN_HEADER_LEN 4
#define ETH_TYPE_IP 0x0800
#define ETH_TYPE_IPV6 0x86dd
#define ETH_TYPE_VLAN_8021Q 0x8100
#define ETH_TYPE_VLAN_8021AD 0x88a8

#define IP_HEADER_LEN 20
#define IPV6_HEADER_LEN 40
#define IPV6_EXT_MIN_LEN 8
#define TCP_HEADER_LEN 20
#define UDP_HEADER_LEN 8
#define ICMP_HEADER_LEN 8       /* Type, code, checksum, 4 bytes of rest. */
#define ICMP_ERROR_DATA_L4_LEN 8        /* Quoted L4 bytes OVS needs (v4). */

#define IP_MF_OFF_MASK 0x3fff   /* More-fragments flag + fragment offset. */

#define PROTO_HOPOPTS 0
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ROUTING 43
#define PROTO_FRAGMENT 44
#define PROTO_AH 51
#define PROTO_ICMPV6 58
#define PROTO_DSTOPTS 60

#define TCP_SYN 0x02
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_WINDOW 3
#define TCP_MAX_WSCALE 14

static bool parse_l4(struct ct_pkt *, const uint8_t *frame, size_t l3_ofs,
                     size_t l4_ofs, size_t l4_size);
static bool parse_icmp_error(struct ct_pkt *, const uint8_t *frame,
                             size_t quote_ofs, size_t quote_size);
static bool parse_quoted_l4(struct ct_key *, const uint8_t *l4, size_t size);
static size_t ipv4_extract(const uint8_t *ip, size_t size, struct ct_key *);
static size_t ipv6_extract(const uint8_t *ip, size_t size, struct ct_key *);
static int8_t tcp_wscale(const uint8_t *opt, int len);
static bool l4_csum_ok(const struct ct_key *, const uint8_t *l3,
                       const uint8_t *l4, size_t size);
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n);
static inline uint64_t csum_add__(uint64_t sum, const uint8_t *p, size_t n);
static uint16_t csum_fold(uint64_t sum);

/* Adds 64-bit word 'x' to the one's-complement sum 'sum' (see "Internet
 * checksum arithmetic" below). */
static inline uint64_t
csum_add64(uint64_t sum, uint64_t x)
{
    sum += x;
    return sum + (sum < x);
}

/* csum_fold(sum) == 0xffff (a right checksum), in fewer instructions.
 * Both keep the value modulo 0xffff (2**16, 2**32 and 2**64 are 1 modulo
 * 0xffff), turn 0 into 0 and any other sum into [1, 0xffff]: so both say
 * 0xffff exactly when 'sum' is non-zero and a multiple of 0xffff. */
static inline bool
csum_is_ok(uint64_t sum)
{
    /* The top half of x + (x rotated by half its width) is the top half
     * plus the bottom half with the carry added back in: two folds, 64 to
     * 32 and 32 to 16 bits, each in [1, max] for a non-zero input. */
    uint64_t s64 = sum + (sum >> 32 | sum << 32);
    uint32_t s32 = (uint32_t) (s64 >> 32);

    s32 += s32 >> 16 | s32 << 16;
    return s32 >> 16 == 0xffff;
}

/* The L4 checksum test, passed without reading the data when the caller
 * said the checksum is verified or left to offload (ct_parse_csum()). */
static inline bool
l4_csum_pass(const struct ct_pkt *pkt, const uint8_t *l3, const uint8_t *l4,
             size_t size)
{
    return pkt->l4_csum_ok || l4_csum_ok(&pkt->key, l3, l4, size);
}

/* True for the ICMP(v6) query messages that form their own "connection"
 * keyed by the echo id: the ones OVS's extract_l4_icmp() and
 * extract_l4_icmp6() accept with code 0. */
static inline bool
icmp_is_query(uint8_t l3, uint8_t type)
{
    if (l3 == 4) {
        return (type == 0 || type == 8       /* Echo reply, request. */
                || type == 13 || type == 14  /* Timestamp, reply. */
                || type == 15 || type == 16); /* Info request, reply. */
    }
    return type == 128 || type == 129;       /* Echo request, reply. */
}

/* True for the ICMP(v6) errors whose quoted datagram OVS looks up. */
static inline bool
icmp_is_error(uint8_t l3, uint8_t type)
{
    if (l3 == 4) {
        return (type == 3                    /* Destination unreachable. */
                || type == 4                 /* Source quench. */
                || type == 5                 /* Redirect. */
                || type == 11                /* Time exceeded. */
                || type == 12);              /* Parameter problem. */
    }
    return type >= 1 && type <= 4;  /* Unreach, too big, time, param. */
}

/* True if 'key' is an ICMP key (ports hold id and type/code). */
static inline bool
key_is_icmp(const struct ct_key *key)
{
    return ((key->l3 == 4 && key->nw_proto == PROTO_ICMP)
            || (key->l3 == 6 && key->nw_proto == PROTO_ICMPV6));
}

/* Fills the ICMP(v6) query key fields from the message at 'icmp' (at least
 * 8 bytes).  Returns false if the code is not 0, which OVS treats as
 * invalid. */
static inline bool
icmp_query_key(struct ct_key *key, const uint8_t *icmp)
{
    if (icmp[1] != 0) {
        return false;
    }
    memcpy(&key->sport, icmp + 4, 2);      /* Identifier, network order. */
    key->dport = (uint16_t) (icmp[0] << 8); /* Type << 8 | code 0. */
    return true;
}

/* Stores an IPv4 source (read at 'src') and destination into 'key', each
 * with its zero upper word, as one 8-byte store apiece: the key hash
 * (keyhash.h) reads the addresses as 8-byte words right after the parse,
 * and a load that spans two stores (a 4-byte address over the memset's
 * zeros) cannot be forwarded from the store buffer: it waits for both
 * to reach the cache, about 5 ns a packet. */
static inline uint64_t
key_word_v4(uint32_t addr)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (uint64_t) addr << 32;       /* 'addr' first in memory. */
#else
    return addr;
#endif
}

static inline void
key_put_v4(struct ct_key *key, const uint8_t *src, uint32_t dst)
{
    uint32_t s;
    uint64_t w;

    memcpy(&s, src, 4);
    w = key_word_v4(s);
    memcpy(&key->src[0], &w, 8);
    w = key_word_v4(dst);
    memcpy(&key->dst[0], &w, 8);
}

/* Shortest frame parse_fast() takes, without a tag. */
#define FAST_MIN_LEN (ETH_HEADER_LEN + IP_HEADER_LEN + UDP_HEADER_LEN)

/* What parse_fast() made of a frame. */
enum fast_result {
    FAST_NO,                    /* Not for the fast path: general path. */
    FAST_DONE,                  /* '*pkt' is the result. */
    FAST_FINISH,                /* '*pkt' filled; parse_fast_finish(). */
};

/* The fast path of ct_parse_csum(): the common frame, Ethernet with at most
 * one VLAN tag, IPv4 with a 20-byte header, not a fragment, carrying a
 * valid TCP or UDP datagram.  It makes exactly the checks of the general
 * path (ct_parse_general()), specialised to that frame, and fills '*pkt'
 * exactly as the general path would.  It gives up on anything else,
 * invalid frames included, and the general path then decides: so the fast
 * path can only ever answer "valid" for a frame the general path finds
 * valid, with the same result (tests/c/fuzz_packet.c compares the two).
 *
 * Cheaper than the general path by: fewer branches (the header length is
 * known, so most length tests collapse into a few range tests), the IPv4
 * header checksum summed inline as two 8-byte words and one 4-byte word,
 * and no call on the way for a frame that needs neither an L4 checksum
 * nor its TCP options read (a leaf saves fewer registers): those two go
 * to parse_fast_finish(), which sums the pseudo-header and the L4 bytes
 * in one accumulator. */
static inline __attribute__((always_inline)) enum fast_result
parse_fast(const uint8_t *frame, uint32_t len, bool csum_ok,
           struct ct_pkt *pkt)
{
    /* Room for Ethernet, (a tag,) a 20-byte IPv4 header and 8 bytes of
     * L4 (shorter frames: general path), so that 'size' below is at least
     * 28 and the general path's Ethernet and VLAN length tests pass.  At
     * most 65535 bytes, so that the L2 padding after the IP total length
     * is within OVS's limit.  One unsigned comparison tests both. */
    if (len - FAST_MIN_LEN > UINT16_MAX - FAST_MIN_LEN) {
        return FAST_NO;
    }
    size_t l3_ofs = ETH_HEADER_LEN;
    uint16_t dl_type = get_be16(frame + 12);
    if (dl_type == ETH_TYPE_VLAN_8021Q || dl_type == ETH_TYPE_VLAN_8021AD) {
        if (len < FAST_MIN_LEN + VLAN_HEADER_LEN) {
            return FAST_NO;
        }
        dl_type = get_be16(frame + 16);
        l3_ofs += VLAN_HEADER_LEN;
    }
    const uint8_t *l3 = frame + l3_ofs;
    if (dl_type != ETH_TYPE_IP || (l3[0] & 0x0f) != IP_HEADER_LEN / 4
        || (get_be16(l3 + 6) & IP_MF_OFF_MASK)) {
        return FAST_NO;
    }

    /* IHL 5, so the general path's "ihl < 20, ihl > size, ihl > tot_len"
     * all pass once 20 <= tot_len <= size; the padding, size - tot_len,
     * is below 65536 as the frame is.  Both TCP and UDP need 8 bytes of
     * L4 at least: one unsigned comparison for 28 <= tot_len <= size
     * (size >= 28). */
    size_t size = len - l3_ofs;
    size_t tot_len = get_be16(l3 + 2);
    if (tot_len - (IP_HEADER_LEN + UDP_HEADER_LEN)
        > size - (IP_HEADER_LEN + UDP_HEADER_LEN)) {
        return FAST_NO;
    }

    /* The IPv4 header checksum: 20 bytes, 2 x 8 + 4. */
    uint64_t w0, w1;
    uint32_t dst;
    memcpy(&w0, l3, 8);
    memcpy(&w1, l3 + 8, 8);
    memcpy(&dst, l3 + 16, 4);
    if (!csum_is_ok(csum_add64(csum_add64(w0, w1), dst))) {
        return FAST_NO;
    }

    /* The L4 header, as in parse_l4(). */
    size_t l4_size = tot_len - IP_HEADER_LEN;
    const uint8_t *l4 = l3 + IP_HEADER_LEN;
    uint8_t proto = l3[9];
    enum fast_result res = FAST_DONE;
    size_t doff = 0;
    if (proto == PROTO_UDP) {
        size_t udp_len = get_be16(l4 + 4);
        if (udp_len < UDP_HEADER_LEN || udp_len > l4_size) {
            return FAST_NO;
        }
        /* IPv4: a zero checksum is "none". */
        if (!csum_ok && (l4[6] | l4[7])) {
            res = FAST_FINISH;
        }
    } else if (proto == PROTO_TCP) {
        if (l4_size < TCP_HEADER_LEN) {
            return FAST_NO;
        }
        doff = (size_t) (l4[12] >> 4) * 4;
        if (doff < TCP_HEADER_LEN || doff > l4_size) {
            return FAST_NO;
        }
        if (!csum_ok || (l4[13] & TCP_SYN)) {
            res = FAST_FINISH;
        }
    } else {
        return FAST_NO;
    }
    uint16_t sport, dport;
    memcpy(&sport, l4, 2);
    memcpy(&dport, l4 + 2, 2);
    if (!sport || !dport) {
        return FAST_NO;                 /* Port 0 is invalid. */
    }

    memset(pkt, 0, sizeof *pkt);
    key_put_v4(&pkt->key, l3 + 12, dst);
    pkt->key.sport = sport;
    pkt->key.dport = dport;
    pkt->key.nw_proto = proto;
    pkt->key.l3 = 4;
    pkt->valid = true;
    pkt->tcp_wscale = -1;
    pkt->l3_ofs = (uint16_t) l3_ofs;
    pkt->l4_ofs = (uint16_t) (l3_ofs + IP_HEADER_LEN);
    pkt->l4_len = (uint16_t) l4_size;
    pkt->l4_csum_ok = csum_ok;
    if (proto == PROTO_TCP) {
        pkt->tcp_seq = get_be32(l4 + 4);
        pkt->tcp_ack = get_be32(l4 + 8);
        pkt->tcp_flags = l4[13];
        pkt->tcp_win = get_be16(l4 + 14);
        pkt->tcp_payload_len = (uint16_t) (l4_size - doff);
    }
    return res;
}

/* The rest of the fast path for a frame parse_fast() filled '*pkt' for:
 * the L4 checksum unless 'pkt->l4_csum_ok' (l4_csum_ok() with the
 * pseudo-header summed into the same accumulator as the L4 bytes) and the
 * window scale of a SYN.  Falls back to the general path if the checksum
 * is wrong. */
static bool __attribute__((noinline))
parse_fast_finish(const uint8_t *frame, uint32_t len, struct ct_pkt *pkt)
{
    const uint8_t *l3 = frame + pkt->l3_ofs;
    const uint8_t *l4 = frame + pkt->l4_ofs;
    size_t l4_size = pkt->l4_len;
    bool tcp = pkt->key.nw_proto == PROTO_TCP;

    if (!pkt->l4_csum_ok && (tcp || l4[6] || l4[7])) {
        uint8_t proto_len[4] = { 0, pkt->key.nw_proto,
                                 (uint8_t) (l4_size >> 8),
                                 (uint8_t) l4_size };
        uint32_t src, dst, pl;

        memcpy(&src, l3 + 12, 4);
        memcpy(&dst, l3 + 16, 4);
        memcpy(&pl, proto_len, 4);
        /* Three 32-bit words: no carry out of 64 bits. */
        if (!csum_is_ok(csum_add__((uint64_t) src + dst + pl, l4,
                                   l4_size))) {
            return ct_parse_general(frame, len, pkt->l4_csum_ok, pkt);
        }
    }
    if (tcp && (pkt->tcp_flags & TCP_SYN)) {
        size_t doff = l4_size - pkt->tcp_payload_len;

        pkt->tcp_wscale = tcp_wscale(l4 + TCP_HEADER_LEN,
                                     (int) (doff - TCP_HEADER_LEN));
    }
    return true;
}

/* Parses 'frame' ('len' bytes).  On failure '*pkt' holds whatever was found
 * before the failure, and only pkt->valid (false) is meaningful. */
bool
ct_parse(const uint8_t *frame, uint32_t len, struct ct_pkt *pkt)
{
    return ct_parse_csum(frame, len, false, pkt);
}

bool
ct_parse_csum(const uint8_t *frame, uint32_t len, bool csum_ok,
              struct ct_pkt *pkt)
{
    switch (parse_fast(frame, len, csum_ok, pkt)) {
    case FAST_DONE:
        return true;
    case FAST_FINISH:
        return parse_fast_finish(frame, len, pkt);
    case FAST_NO:
    default:
        return ct_parse_general(frame, len, csum_ok, pkt);
    }
}

bool
ct_parse_general(const uint8_t *frame, uint32_t len, bool csum_ok,
                 struct ct_pkt *pkt)
{
    memset(pkt, 0, sizeof *pkt);
    pkt->tcp_wscale = -1;
    pkt->l4_csum_ok = csum_ok;

    /* Ethernet, with at most one 802.1Q or 802.1ad tag.  OVS parses as many
     * tags as 'other_config:vlan-limit' allows, 1 by default; a second tag
     * then leaves the EtherType at 0x8100, which is not IP.  OVS only
     * skips a tag if 4 more bytes and an EtherType follow it. */
    if (len < ETH_HEADER_LEN) {
        return false;
    }
    size_t l3_ofs = ETH_HEADER_LEN;
    uint16_t dl_type = get_be16(frame + 12);
    if ((dl_type == ETH_TYPE_VLAN_8021Q || dl_type == ETH_TYPE_VLAN_8021AD)
        && len >= ETH_HEADER_LEN + VLAN_HEADER_LEN) {
        dl_type = get_be16(frame + 16);
        l3_ofs += VLAN_HEADER_LEN;
    }
    pkt->l3_ofs = (uint16_t) l3_ofs;

    const uint8_t *l3 = frame + l3_ofs;
    size_t size = len - l3_ofs;
    size_t l4_ofs;
    size_t l4_size;

    if (dl_type == ETH_TYPE_IP) {
        /* miniflow_extract(): the header fits, the total length fits in the
         * frame and covers the header.  Bytes past the total length are L2
         * padding (at most 65535 of them). */
        if (size < IP_HEADER_LEN) {
            return false;
        }
        size_t ihl = (size_t) (l3[0] & 0x0f) * 4;
        size_t tot_len = get_be16(l3 + 2);
        if (ihl < IP_HEADER_LEN || ihl > size
            || tot_len > size || ihl > tot_len || size - tot_len > 65535) {
            return false;
        }

        /* extract_l3_ipv4(): every fragment is invalid, the first one too
         * (IP_IS_FRAGMENT() tests MF as well as the offset).  Fragments
         * reach the tracker through reassembly (ipf.c), which
         * ovsct_execute() offers every frame refused here.  The version
         * nibble is not checked, as in OVS. */
        if (!ipv4_extract(l3, tot_len, &pkt->key)) {
            return false;
        }
        if (csum_fold(csum_add(0, l3, ihl)) != 0xffff) {
            return false;
        }
        l4_ofs = l3_ofs + ihl;
        l4_size = tot_len - ihl;
    } else if (dl_type == ETH_TYPE_IPV6) {
        if (size < IPV6_HEADER_LEN) {
            return false;
        }
        size_t l3_size = IPV6_HEADER_LEN + (size_t) get_be16(l3 + 4);
        if (l3_size > size || size - l3_size > 65535) {
            return false;
        }
        size_t hlen = ipv6_extract(l3, l3_size, &pkt->key);
        if (!hlen) {
            return false;
        }
        l4_ofs = l3_ofs + hlen;
        l4_size = l3_size - hlen;
    } else {
        return false;
    }

    /* Offsets are 16 bits wide; only absurd IPv6 extension chains get
     * here. */
    if (l4_ofs > UINT16_MAX) {
        return false;
    }
    pkt->l4_ofs = (uint16_t) l4_ofs;
    pkt->l4_len = (uint16_t) l4_size;
    pkt->valid = parse_l4(pkt, frame, l3_ofs, l4_ofs, l4_size);
    return pkt->valid;
}

void
ct_key_reverse(const struct ct_key *key, struct ct_key *rev)
{
    struct ct_key tmp = *key;

    memcpy(tmp.src, key->dst, sizeof tmp.src);
    memcpy(tmp.dst, key->src, sizeof tmp.dst);
    if (key_is_icmp(key)) {
        uint8_t type = (uint8_t) (key->dport >> 8);
        uint8_t code = (uint8_t) key->dport;
        tmp.dport = (uint16_t) (ct_icmp_reverse_type(key->l3, type) << 8
                                | code);
    } else {
        tmp.sport = key->dport;
        tmp.dport = key->sport;
    }
    *rev = tmp;
}

uint8_t
ct_icmp_reverse_type(uint8_t l3, uint8_t type)
{
    if (l3 == 6) {
        return (type == 128 ? 129
                : type == 129 ? 128
                : type);
    }
    switch (type) {
    case 8: return 0;
    case 0: return 8;
    case 13: return 14;
    case 14: return 13;
    case 15: return 16;
    case 16: return 15;
    case 17: return 18;
    case 18: return 17;
    default: return type;
    }
}

bool
ct_icmp_valid_new(uint8_t l3, uint8_t type)
{
    if (l3 == 6) {
        return type == 128;
    }
    return type == 8 || type == 13 || type == 15;
}

/* L4. */

/* Parses the L4 header at 'frame' + 'l4_ofs', of 'l4_size' bytes (as given
 * by the IP length fields, padding excluded), into 'pkt'.  'pkt->key'
 * already holds the L3 fields.  Follows OVS's extract_l4() with 'related'
 * non-NULL: the check_l4_*() length and checksum tests, then the key. */
static bool
parse_l4(struct ct_pkt *pkt, const uint8_t *frame, size_t l3_ofs,
         size_t l4_ofs, size_t l4_size)
{
    struct ct_key *key = &pkt->key;
    const uint8_t *l3 = frame + l3_ofs;
    const uint8_t *l4 = frame + l4_ofs;

    switch (key->nw_proto) {
    case PROTO_TCP: {
        if (l4_size < TCP_HEADER_LEN) {
            return false;
        }
        size_t doff = (size_t) (l4[12] >> 4) * 4;
        if (doff < TCP_HEADER_LEN || doff > l4_size
            || !l4_csum_pass(pkt, l3, l4, l4_size)) {
            return false;
        }
        memcpy(&key->sport, l4, 2);
        memcpy(&key->dport, l4 + 2, 2);
        if (!key->sport || !key->dport) {
            return false;               /* Port 0 is invalid. */
        }
        pkt->tcp_seq = get_be32(l4 + 4);
        pkt->tcp_ack = get_be32(l4 + 8);
        pkt->tcp_flags = l4[13];
        pkt->tcp_win = get_be16(l4 + 14);
        pkt->tcp_payload_len = (uint16_t) (l4_size - doff);
        if (pkt->tcp_flags & TCP_SYN) {
            pkt->tcp_wscale = tcp_wscale(l4 + TCP_HEADER_LEN,
                                         (int) (doff - TCP_HEADER_LEN));
        }
        return true;
    }

    case PROTO_UDP: {
        if (l4_size < UDP_HEADER_LEN) {
            return false;
        }
        size_t udp_len = get_be16(l4 + 4);
        if (udp_len < UDP_HEADER_LEN || udp_len > l4_size) {
            return false;
        }
        /* A zero checksum means "none", but only over IPv4: OVS verifies
         * a zero IPv6 UDP checksum like any other (and it fails).  The
         * checksum covers the whole L4 size from the IP header, not
         * 'udp_len', as in OVS. */
        bool no_csum = l4[6] == 0 && l4[7] == 0 && key->l3 == 4;
        if (!no_csum && !l4_csum_pass(pkt, l3, l4, l4_size)) {
            return false;
        }
        memcpy(&key->sport, l4, 2);
        memcpy(&key->dport, l4 + 2, 2);
        return key->sport && key->dport;    /* Port 0 is invalid. */
    }

    case PROTO_ICMP:
    case PROTO_ICMPV6:
        if (!key_is_icmp(key)) {
            /* ICMP over v6, ICMPv6 over v4: tracked as "other", but OVS
             * still picks the ICMP rules by protocol number and reads the
             * type to decide whether it may open a connection. */
            pkt->icmp_type = l4_size ? l4[0] : 0;
            break;
        }
        /* The checksum covers the whole message (the quoted datagram
         * too); for ICMPv6 with the pseudo-header.  Then the fixed 8-byte
         * header must be there. */
        if (!l4_csum_pass(pkt, l3, l4, l4_size)
            || l4_size < ICMP_HEADER_LEN) {
            return false;
        }
        pkt->icmp_type = l4[0];
        pkt->icmp_code = l4[1];
        if (icmp_is_query(key->l3, l4[0])) {
            return icmp_query_key(key, l4);
        } else if (icmp_is_error(key->l3, l4[0])) {
            return parse_icmp_error(pkt, frame, l4_ofs + ICMP_HEADER_LEN,
                                    l4_size - ICMP_HEADER_LEN);
        }
        /* Anything else (ICMPv6 neighbour discovery and MLD included) is
         * invalid in OVS. */
        return false;

    default:
        break;
    }

    /* Every other protocol is tracked by addresses alone: ports 0. */
    return true;
}

/* Parses the datagram quoted by an ICMP or ICMPv6 error: 'quote_size'
 * bytes at 'frame' + 'quote_ofs', the rest of the outer message.  OVS's
 * rules (extract_l4_icmp(), extract_l4_icmp6()):
 *
 *   - The quoted IP header must be complete and not a fragment; its
 *     checksum and its total length are not checked.  A v4 error quotes v4
 *     and a v6 error quotes v6.
 *
 *   - Its source must equal the outer destination (the error goes back to
 *     the sender of the quoted datagram).  Its destination is not checked:
 *     a router may report on a datagram addressed to someone else.
 *
 *   - Its L4 header: v4 needs 8 bytes for TCP, UDP or ICMP; v6 needs 20 for
 *     TCP and 8 for UDP or ICMPv6.  No checksum; ports must not be 0; a
 *     quoted ICMP message must be a query with code 0, never an error.
 *     Other protocols need no bytes and give ports 0.
 *
 *   - The key is the quoted flow *reversed*: the error travels opposite
 *     to the quoted datagram, so the key is oriented like the error
 *     itself and finds the connection in the direction the error travels
 *     (a reply-direction error matches the reply key).  For a quoted ICMP
 *     query the type is swapped as well (ct_key_reverse()). */
static bool
parse_icmp_error(struct ct_pkt *pkt, const uint8_t *frame,
                 size_t quote_ofs, size_t quote_size)
{
    const uint8_t *quote = frame + quote_ofs;
    struct ct_key inner;
    size_t hlen;

    memset(&inner, 0, sizeof inner);
    if (pkt->key.l3 == 4) {
        hlen = ipv4_extract(quote, quote_size, &inner);
    } else {
        hlen = ipv6_extract(quote, quote_size, &inner);
    }
    if (!hlen || memcmp(inner.src, pkt->key.dst, sizeof inner.src)) {
        return false;
    }
    if (quote_ofs + hlen > UINT16_MAX
        || !parse_quoted_l4(&inner, quote + hlen, quote_size - hlen)) {
        return false;
    }

    ct_key_reverse(&inner, &pkt->key);
    pkt->icmp_related = true;
    pkt->inner_l3_ofs = (uint16_t) quote_ofs;
    pkt->inner_l4_ofs = (uint16_t) (quote_ofs + hlen);
    return true;
}

/* Extracts the ports (or ICMP id and type) of a quoted L4 header of 'size'
 * available bytes into 'key' (extract_l4() with 'related' NULL). */
static bool
parse_quoted_l4(struct ct_key *key, const uint8_t *l4, size_t size)
{
    switch (key->nw_proto) {
    case PROTO_TCP:
    case PROTO_UDP: {
        /* OVS passes an 8-byte minimum for v4 quotes but none for v6, so
         * the v6 minimum is the full TCP or UDP header. */
        size_t min = (key->l3 == 4 ? ICMP_ERROR_DATA_L4_LEN
                      : key->nw_proto == PROTO_TCP ? TCP_HEADER_LEN
                      : UDP_HEADER_LEN);
        if (size < min) {
            return false;
        }
        memcpy(&key->sport, l4, 2);
        memcpy(&key->dport, l4 + 2, 2);
        return key->sport && key->dport;
    }

    case PROTO_ICMP:
    case PROTO_ICMPV6:
        if (!key_is_icmp(key)) {
            return true;                /* Cross-family: "other". */
        }
        return (size >= ICMP_HEADER_LEN && icmp_is_query(key->l3, l4[0])
                && icmp_query_key(key, l4));

    default:
        return true;
    }
}

/* Window-scale shift announced by the TCP options at 'opt' ('len' bytes),
 * or -1 if there is none.  Walks the options as OVS's tcp_get_wscale()
 * does: stops at end-of-list or when fewer than 3 bytes remain, steps over
 * NOPs, takes an option length below 2 as 2, clamps the shift to 14, and
 * lets a later window-scale option override an earlier one. */
static int8_t
tcp_wscale(const uint8_t *opt, int len)
{
    int8_t wscale = -1;

    while (len >= 3) {
        if (opt[0] == TCPOPT_EOL) {
            break;
        } else if (opt[0] == TCPOPT_NOP) {
            opt++;
            len--;
            continue;
        }
        if (opt[0] == TCPOPT_WINDOW) {
            wscale = (int8_t) (opt[2] < TCP_MAX_WSCALE ? opt[2]
                               : TCP_MAX_WSCALE);
        }
        int optlen = opt[1] < 2 ? 2 : opt[1];
        if (optlen >= len) {
            break;
        }
        opt += optlen;
        len -= optlen;
    }
    return wscale;
}

/* L3. */

/* Checks the IPv4 header at 'ip', with 'size' bytes available, as OVS's
 * extract_l3_ipv4() does without its checksum test: a header of 20 bytes or
 * more that fits in 'size', and not a fragment.  Stores the addresses and
 * protocol in 'key'.  Returns the header length, or 0 if unusable. */
static size_t
ipv4_extract(const uint8_t *ip, size_t size, struct ct_key *key)
{
    if (size < IP_HEADER_LEN) {
        return 0;
    }
    size_t ihl = (size_t) (ip[0] & 0x0f) * 4;
    if (ihl < IP_HEADER_LEN || ihl > size
        || (get_be16(ip + 6) & IP_MF_OFF_MASK)) {
        return 0;
    }
    uint32_t dst;

    memcpy(&dst, ip + 16, 4);
    key_put_v4(key, ip + 12, dst);
    key->nw_proto = ip[9];
    key->l3 = 4;
    return ihl;
}

/* Walks the IPv6 header at 'ip' and its extension headers within 'size'
 * bytes, as OVS's extract_l3_ipv6() / parse_ipv6_ext_hdrs() do.  Hop-by-hop,
 * routing and destination options ((len + 1) * 8 bytes) and AH ((len + 2)
 * * 4 bytes) are skipped; each must have 8 bytes available and fit.  A
 * fragment header whose offset-and-flags field is non-zero makes the packet
 * a fragment, hence unusable; an atomic fragment header (field 0) is
 * skipped.  Any other next header ends the walk and is the L4 protocol.
 * Stores addresses and protocol in 'key'; returns the offset of the L4
 * header from 'ip', or 0 if unusable. */
static size_t
ipv6_extract(const uint8_t *ip, size_t size, struct ct_key *key)
{
    if (size < IPV6_HEADER_LEN) {
        return 0;
    }
    size_t ofs = IPV6_HEADER_LEN;
    uint8_t nxt = ip[6];

    for (;;) {
        if (nxt != PROTO_HOPOPTS && nxt != PROTO_ROUTING
            && nxt != PROTO_DSTOPTS && nxt != PROTO_AH
            && nxt != PROTO_FRAGMENT) {
            break;
        }
        /* Every extension header has at least 8 bytes, and all the fields
         * read here are within them. */
        if (size - ofs < IPV6_EXT_MIN_LEN) {
            return 0;
        }

        const uint8_t *ext = ip + ofs;
        size_t hlen;
        if (nxt == PROTO_FRAGMENT) {
            if (get_be16(ext + 2) != 0) {
                return 0;
            }
            hlen = IPV6_EXT_MIN_LEN;
        } else if (nxt == PROTO_AH) {
            hlen = ((size_t) ext[1] + 2) * 4;
        } else {
            hlen = ((size_t) ext[1] + 1) * 8;
        }
        if (hlen > size - ofs) {
            return 0;
        }
        nxt = ext[0];
        ofs += hlen;
    }

    memcpy(key->src, ip + 8, 16);
    memcpy(key->dst, ip + 24, 16);
    key->nw_proto = nxt;
    key->l3 = 6;
    return ofs;
}

/* Checksums. */

/* True if the TCP, UDP or ICMPv6 checksum of the 'size' bytes at 'l4' is
 * right, with the pseudo-header of the IP header at 'l3' (OVS's
 * checksum_valid(): the length in the pseudo-header is the L4 size from the
 * IP header and the addresses are the header's, routing header or not).
 * ICMPv4 has no pseudo-header. */
static bool
l4_csum_ok(const struct ct_key *key, const uint8_t *l3, const uint8_t *l4,
           size_t size)
{
    uint8_t proto_len[4] = { 0, key->nw_proto, (uint8_t) (size >> 8),
                             (uint8_t) size };
    uint64_t sum = 0;

    if (key->l3 == 4) {
        if (key->nw_proto != PROTO_ICMP) {
            sum = csum_add(sum, l3 + 12, 8);
            sum = csum_add(sum, proto_len, 4);
        }
    } else {
        sum = csum_add(sum, l3 + 8, 32);
        sum = csum_add(sum, proto_len, 4);
    }
    return csum_fold(csum_add(sum, l4, size)) == 0xffff;
}

/* Internet checksum arithmetic (RFC 1071).
 *
 * The one's-complement sum of 16-bit words does not depend on the order of
 * the additions nor on how words are grouped into wider ones, as long as
 * every carry out of the top is added back in.  csum_add() therefore adds
 * native-endian 64-bit words with an end-around carry, and csum_fold()
 * reduces the result to 16 bits.  On a little-endian host this yields the
 * byte-swapped sum, which is harmless: callers only compare the folded sum
 * with 0xffff (a correct checksum), its own byte swap.  A sum that is 0
 * (all-zero data) stays 0 and fails, as in OVS.
 *
 * Each piece given to csum_add() must start at an even offset of the
 * checksummed data, and only the last piece may have an odd length. */
static inline __attribute__((always_inline)) uint64_t
csum_add__(uint64_t sum, const uint8_t *p, size_t n)
{
    uint64_t sum2 = 0;
    uint64_t a, b;

    /* Two independent chains so that the carries do not serialize. */
    while (n >= 32) {
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        sum = csum_add64(sum, a);
        sum2 = csum_add64(sum2, b);
        memcpy(&a, p + 16, 8);
        memcpy(&b, p + 24, 8);
        sum = csum_add64(sum, a);
        sum2 = csum_add64(sum2, b);
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        memcpy(&a, p, 8);
        sum = csum_add64(sum, a);
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        sum = csum_add64(sum, w);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        sum = csum_add64(sum, w);
        p += 2;
        n -= 2;
    }
    if (n) {
        /* The odd byte is the high half of a word padded with zero. */
        uint8_t last[2] = { p[0], 0 };
        uint16_t w;
        memcpy(&w, last, 2);
        sum = csum_add64(sum, w);
    }
    return csum_add64(sum, sum2);
}

/* csum_add__() out of line, for the general path. */
static uint64_t
csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
    return csum_add__(sum, p, n);
}

static uint16_t
csum_fold(uint64_t sum)
{
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t) sum;
}
