/*
 * format.c -- one connection as a line of OVS's dump-conntrack text.
 *
 * ovsct_format_entry() writes the bytes that Open vSwitch's
 * ct_dpif_format_entry() (lib/ct-dpif.c) writes for the userspace datapath,
 * which never fills the id, status, packet/byte counters or time stamps:
 *
 *   PROTO,orig=(TUPLE),reply=(TUPLE)[,id=0][,zone=Z][,status=0]
 *        [,timeout=T][,mark=M][,labels=0xL][,protoinfo=(...)]
 *        [,helper=NAME][,parent=(TUPLE)]            (parent: verbose only)
 *
 * and ovsct_format_exp() one line of dpctl/dump-conntrack-exp
 * (ct_dpif_format_exp_entry()):
 *
 *   PROTO,orig=(TUPLE)[,zone=Z][,mark=M][,labels=0xL],parent=(TUPLE)
 *
 * It is on the dump path of a million lines, so it formats numbers and
 * addresses by hand (no printf) straight into the caller's buffer.  It
 * depends on ovsct.h and names.h only and builds alone:
 *
 *     gcc -Iext tests/c/test_format.c ext/format.c ext/names.c
 *
 * ovsct_format_entry_json() writes the same connection as the JSON object
 * of `ovsct -f json dump-conntrack` (the one home of that layout: the
 * daemon streams these bytes, the offline CLI prints them after
 * ovsct_sort_entries()), with the same hand-made numbers and addresses.
 *
 * Neighbours: ovsct.h (struct ovsct_entry, the contract), dump.c (fills
 * the entries), names.c (the names), binding/dumpobj.c (dump_text),
 * tests/c/test_format.c (golden lines of a real OVS 3.1 and an
 * inet_ntop() cross-check).
 */
#include "names.h"
#include "ovsct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Upper bound of one line.  The longest possible line: "udplite" (7),
 * two IPv6 ICMP tuples with their frames (2 * 124), id, zone, status,
 * timeout, mark and a full label (102), a verbose TCP protoinfo with
 * unknown states and every flag bit set (279), a helper (13) and a parent
 * tuple (124): about 780 bytes. */
#define LINE_MAX__ 1024

/* Appends the string literal 'S' at 'P' and advances 'P'. */
#define PUT_LIT(P, S) (memcpy((P), (S), sizeof(S) - 1), (P) += sizeof(S) - 1)

static char *put_u32(char *, uint32_t);
static char *put_u8(char *, uint8_t);
static char *put_hex64(char *, uint64_t, bool pad);
static char *put_ipv4(char *, const uint8_t *);
static char *put_ipv6(char *, const uint8_t *);
static char *put_tcp_flags(char *, uint8_t);
static int copy_line(char *buf, size_t size, const char *line, size_t len);
static char *format__(const struct ovsct_entry *, bool verbose,
                      bool print_stats, int64_t now, char *);
static char *format_json__(const struct ovsct_entry *, int64_t now, char *);

/* "00" "01" ... "99": two decimal digits at a time. */
static const char digits2[200] =
    "00010203040506070809" "10111213141516171819"
    "20212223242526272829" "30313233343536373839"
    "40414243444546474849" "50515253545556575859"
    "60616263646566676869" "70717273747576777879"
    "80818283848586878889" "90919293949596979899";

static const char hexdigits[16] = "0123456789abcdef";

int
ovsct_format_entry(const struct ovsct_entry *e, bool verbose,
                   bool print_stats, int64_t now, char *buf, size_t size)
{
    char line[LINE_MAX__];
    size_t len;

    if (size >= LINE_MAX__) {
        /* Common case: format in place. */
        len = format__(e, verbose, print_stats, now, buf) - buf;
        buf[len] = '\0';
        return len;
    }

    len = format__(e, verbose, print_stats, now, line) - line;
    return copy_line(buf, size, line, len);
}

/* Copies the 'len' bytes of 'line' into 'buf' ('size' bytes), truncated
 * and NUL-terminated as snprintf() does; returns 'len'. */
static int
copy_line(char *buf, size_t size, const char *line, size_t len)
{
    if (size) {
        size_t n = len < size - 1 ? len : size - 1;

        memcpy(buf, line, n);
        buf[n] = '\0';
    }
    return len;
}

/* Writes the line for 'e' at 'p' (at least LINE_MAX__ bytes, no NUL) and
 * returns the end. */
static char *
format__(const struct ovsct_entry *e, bool verbose, bool print_stats,
         int64_t now, char *p)
{
    /* A connection has one protocol and one address family: both tuples
     * are printed with the original tuple's. */
    uint8_t proto = e->orig.proto;
    uint8_t l3 = e->orig.l3;

    p = ovsct_put_proto(p, proto);
    PUT_LIT(p, ",orig=(");
    p = ovsct_put_tuple(p, &e->orig, l3, proto);
    PUT_LIT(p, "),reply=(");
    p = ovsct_put_tuple(p, &e->reply, l3, proto);
    *p++ = ')';

    if (verbose) {
        PUT_LIT(p, ",id=0");
    }
    if (e->zone) {
        PUT_LIT(p, ",zone=");
        p = put_u32(p, e->zone);
    }
    if (verbose) {
        PUT_LIT(p, ",status=0");
    }
    if (print_stats) {
        /* OVS: 'expiration - now' in ms, floored at 0, divided by 1000
         * into a uint32_t (computed without signed overflow). */
        uint64_t left = (e->expiration > now
                         ? (uint64_t) e->expiration - (uint64_t) now : 0);

        PUT_LIT(p, ",timeout=");
        p = put_u32(p, (uint32_t) (left / 1000));
    }
    p = ovsct_put_mark_labels(p, e->mark, e->labels);
    if (proto == 6) {
        /* Only the TCP protocol class of userspace fills protoinfo. */
        PUT_LIT(p, ",protoinfo=(");
        if (verbose) {
            PUT_LIT(p, "state_orig=");
            p = ovsct_put_tcp_state(p, e->tcp_state[0]);
            PUT_LIT(p, ",state_reply=");
            p = ovsct_put_tcp_state(p, e->tcp_state[1]);
            if (e->tcp_wscale[0] || e->tcp_wscale[1]) {
                PUT_LIT(p, ",wscale_orig=");
                p = put_u8(p, e->tcp_wscale[0]);
                PUT_LIT(p, ",wscale_reply=");
                p = put_u8(p, e->tcp_wscale[1]);
            }
            PUT_LIT(p, ",flags_orig=");
            p = put_tcp_flags(p, e->tcp_flags[0]);
            PUT_LIT(p, ",flags_reply=");
            p = put_tcp_flags(p, e->tcp_flags[1]);
        } else {
            uint8_t s = ovsct_tcp_state_coalesce(e->tcp_state[0],
                                                 e->tcp_state[1]);

            PUT_LIT(p, "state=");
            p = ovsct_put_tcp_state(p, s);
        }
        *p++ = ')';
    }
    if (e->helper < OVSCT_ALG_N && ovsct_alg_names[e->helper]) {
        PUT_LIT(p, ",helper=");
        p = ovsct_put_str(p, ovsct_alg_names[e->helper]);
    }
    if (verbose && e->has_parent) {
        PUT_LIT(p, ",parent=(");
        p = ovsct_put_tuple(p, &e->parent, e->parent.l3, e->parent.proto);
        *p++ = ')';
    }
    return p;
}

char *
ovsct_put_mark_labels(char *p, uint32_t mark, ovsct_u128 labels)
{
    if (mark) {
        PUT_LIT(p, ",mark=");
        p = put_u32(p, mark);
    }
    if (labels.hi || labels.lo) {
        /* OVS's ds_put_hex() of the big-endian value: the first non-zero
         * byte without a leading zero, then two digits per byte, which is
         * the 128-bit number in hex without leading zeros. */
        PUT_LIT(p, ",labels=0x");
        if (labels.hi) {
            p = put_hex64(p, labels.hi, false);
            p = put_hex64(p, labels.lo, true);
        } else {
            p = put_hex64(p, labels.lo, false);
        }
    }
    return p;
}

int
ovsct_format_exp(const struct ovsct_exp *x, char *buf, size_t size)
{
    char line[LINE_MAX__];
    char *p = line;
    size_t len;

    p = ovsct_put_proto(p, x->expected.proto);
    PUT_LIT(p, ",orig=(");
    p = ovsct_put_tuple(p, &x->expected, x->expected.l3, x->expected.proto);
    *p++ = ')';
    if (x->zone) {
        PUT_LIT(p, ",zone=");
        p = put_u32(p, x->zone);
    }
    p = ovsct_put_mark_labels(p, x->mark, x->labels);
    PUT_LIT(p, ",parent=(");
    p = ovsct_put_tuple(p, &x->parent, x->parent.l3, x->parent.proto);
    *p++ = ')';
    len = (size_t) (p - line);
    return copy_line(buf, size, line, len);
}

/* Numbers and names. */

char *
ovsct_put_str(char *p, const char *s)
{
    size_t n = strlen(s);

    memcpy(p, s, n);
    return p + n;
}

/* Writes 'v' in decimal (OVS's "%u"). */
static char *
put_u32(char *p, uint32_t v)
{
    char tmp[10];
    char *t = tmp + sizeof tmp;
    size_t n;

    while (v >= 100) {
        uint32_t r = v % 100;

        v /= 100;
        t -= 2;
        memcpy(t, &digits2[r * 2], 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, &digits2[v * 2], 2);
    } else {
        *--t = '0' + v;
    }
    n = tmp + sizeof tmp - t;
    memcpy(p, t, n);
    return p + n;
}

/* Writes 'v' in decimal: the inner loop of IPv4 addresses. */
static char *
put_u8(char *p, uint8_t v)
{
    if (v >= 100) {
        *p++ = '0' + v / 100;
        v %= 100;
        memcpy(p, &digits2[v * 2], 2);
        return p + 2;
    } else if (v >= 10) {
        memcpy(p, &digits2[v * 2], 2);
        return p + 2;
    }
    *p = '0' + v;
    return p + 1;
}

/* Writes 'v' in lower-case hex, as 16 digits if 'pad', else without
 * leading zeros (at least one digit). */
static char *
put_hex64(char *p, uint64_t v, bool pad)
{
    int n = 16;

    if (!pad) {
        for (n = 1; n < 16 && v >> (4 * n); n++) {
            continue;
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        p[i] = hexdigits[v & 0xf];
        v >>= 4;
    }
    return p + n;
}

/* Writes the IPv4 address at 'a' (network order) in dotted quad. */
static char *
put_ipv4(char *p, const uint8_t *a)
{
    p = put_u8(p, a[0]);
    *p++ = '.';
    p = put_u8(p, a[1]);
    *p++ = '.';
    p = put_u8(p, a[2]);
    *p++ = '.';
    return put_u8(p, a[3]);
}

/* Writes the IPv6 address at 'a' exactly as glibc's inet_ntop() does
 * (which is what OVS's ipv6_format_addr() calls): groups in lower-case hex
 * without leading zeros; the longest run of two or more zero groups (the
 * first of equal runs) becomes "::"; and an address whose first 6 groups
 * are zero, or first 5 zero and the 6th ffff, ends in a dotted quad unless
 * the zero run also covers the 7th group ("::1", "::102"). */
static char *
put_ipv6(char *p, const uint8_t *a)
{
    uint16_t w[8];
    int best = -1, best_len = 0;
    int cur = -1, cur_len = 0;

    for (int i = 0; i < 8; i++) {
        w[i] = (uint16_t) (a[2 * i] << 8 | a[2 * i + 1]);
        if (!w[i]) {
            if (cur < 0) {
                cur = i;
                cur_len = 1;
            } else {
                cur_len++;
            }
        } else if (cur >= 0) {
            if (cur_len > best_len) {
                best = cur;
                best_len = cur_len;
            }
            cur = -1;
        }
    }
    if (cur >= 0 && cur_len > best_len) {
        best = cur;
        best_len = cur_len;
    }
    if (best_len < 2) {
        best = -1;
    }

    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best) {
                *p++ = ':';
            }
            continue;
        }
        if (i) {
            *p++ = ':';
        }
        if (i == 6 && best == 0
            && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
            return put_ipv4(p, a + 12);
        }
        /* 1 to 4 digits, no leading zeros. */
        uint16_t v = w[i];
        if (v >= 0x1000) {
            *p++ = hexdigits[v >> 12];
        }
        if (v >= 0x100) {
            *p++ = hexdigits[(v >> 8) & 0xf];
        }
        if (v >= 0x10) {
            *p++ = hexdigits[(v >> 4) & 0xf];
        }
        *p++ = hexdigits[v & 0xf];
    }
    if (best >= 0 && best + best_len == 8) {
        *p++ = ':';
    }
    return p;
}

/* Writes the protocol name (ct_dpif_format_ipproto()). */
char *
ovsct_put_proto(char *p, uint8_t proto)
{
    const char *name = ovsct_proto_name(proto);

    return name ? ovsct_put_str(p, name) : put_u32(p, proto);
}

/* Writes 't' (ct_dpif_format_tuple()) with address family 'l3' (6: IPv6,
 * anything else IPv4) and protocol 'proto'. */
char *
ovsct_put_tuple(char *p, const struct ovsct_tuple *t, uint8_t l3,
                uint8_t proto)
{
    PUT_LIT(p, "src=");
    p = l3 == 6 ? put_ipv6(p, t->src) : put_ipv4(p, t->src);
    PUT_LIT(p, ",dst=");
    p = l3 == 6 ? put_ipv6(p, t->dst) : put_ipv4(p, t->dst);
    if (proto == 1 || proto == 58) {
        PUT_LIT(p, ",id=");
        p = put_u32(p, t->sport);
        PUT_LIT(p, ",type=");
        p = put_u8(p, t->icmp_type);
        PUT_LIT(p, ",code=");
        p = put_u8(p, t->icmp_code);
    } else {
        PUT_LIT(p, ",sport=");
        p = put_u32(p, t->sport);
        PUT_LIT(p, ",dport=");
        p = put_u32(p, t->dport);
    }
    return p;
}

/* Writes a TCP state name, or "[N]" for an unknown one (OVS's
 * ct_dpif_format_enum__()). */
char *
ovsct_put_tcp_state(char *p, uint8_t s)
{
    if (s < OVSCT_TCPS_N) {
        return ovsct_put_str(p, ovsct_tcp_state_names[s]);
    }
    *p++ = '[';
    p = put_u8(p, s);
    *p++ = ']';
    return p;
}

/* Writes TCP flags as OVS's format_flags() does: "0" when none, else the
 * names from the lowest bit up joined by '|', then the unknown bits as one
 * "0x.." hex number. */
static char *
put_tcp_flags(char *p, uint8_t flags)
{
    uint8_t bad = 0;
    char *start = p;

    if (!flags) {
        *p++ = '0';
        return p;
    }
    for (int bit = 0; bit < 8; bit++) {
        if (flags & (1u << bit)) {
            if (ovsct_tcp_flag_names[bit]) {
                if (p != start) {
                    *p++ = '|';
                }
                p = ovsct_put_str(p, ovsct_tcp_flag_names[bit]);
            } else {
                bad |= 1u << bit;
            }
        }
    }
    if (bad) {
        if (p != start) {
            *p++ = '|';
        }
        PUT_LIT(p, "0x");
        p = put_hex64(p, bad, false);
    }
    return p;
}

/* JSON. */

/* Writes 'v' in decimal (uint64_t). */
char *
ovsct_put_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof tmp;
    size_t n;

    if (v <= UINT32_MAX) {
        return put_u32(p, (uint32_t) v);
    }
    while (v) {
        *--t = '0' + v % 10;
        v /= 10;
    }
    n = tmp + sizeof tmp - t;
    memcpy(p, t, n);
    return p + n;
}

/* Writes the 128-bit 'v' in decimal. */
static char *
put_u128(char *p, ovsct_u128 v)
{
    char tmp[40];
    char *t = tmp + sizeof tmp;
    size_t n;

    if (!v.hi) {
        return ovsct_put_u64(p, v.lo);
    }
    /* Long division by 10^9 over 32-bit limbs, 9 digits a round. */
    uint32_t w[4] = {(uint32_t) (v.hi >> 32), (uint32_t) v.hi,
                     (uint32_t) (v.lo >> 32), (uint32_t) v.lo};
    while (w[0] || w[1] || w[2] || w[3]) {
        uint64_t rem = 0;

        for (int i = 0; i < 4; i++) {
            uint64_t cur = rem << 32 | w[i];

            w[i] = (uint32_t) (cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        bool more = w[0] || w[1] || w[2] || w[3];
        for (int i = 0; i < 9 && (more || rem); i++) {
            *--t = '0' + rem % 10;
            rem /= 10;
        }
    }
    n = tmp + sizeof tmp - t;
    memcpy(p, t, n);
    return p + n;
}

static char *
put_json_addr(char *p, uint8_t l3, const uint8_t *a)
{
    *p++ = '"';
    p = l3 == 6 ? put_ipv6(p, a) : put_ipv4(p, a);
    *p++ = '"';
    return p;
}

/* A tuple's object, keys sorted (format.py's layout of old). */
static char *
put_json_tuple(char *p, const struct ovsct_tuple *t, uint8_t proto)
{
    if (proto == 1 || proto == 58) {
        PUT_LIT(p, "{\"code\":");
        p = put_u8(p, t->icmp_code);
        PUT_LIT(p, ",\"dst\":");
        p = put_json_addr(p, t->l3, t->dst);
        PUT_LIT(p, ",\"id\":");
        p = put_u32(p, t->sport);
        PUT_LIT(p, ",\"src\":");
        p = put_json_addr(p, t->l3, t->src);
        PUT_LIT(p, ",\"type\":");
        p = put_u8(p, t->icmp_type);
    } else {
        PUT_LIT(p, "{\"dport\":");
        p = put_u32(p, t->dport);
        PUT_LIT(p, ",\"dst\":");
        p = put_json_addr(p, t->l3, t->dst);
        PUT_LIT(p, ",\"sport\":");
        p = put_u32(p, t->sport);
        PUT_LIT(p, ",\"src\":");
        p = put_json_addr(p, t->l3, t->src);
    }
    *p++ = '}';
    return p;
}

/* The named TCP flags of 'flags' as a JSON list (unnamed bits left out). */
static char *
put_json_flags(char *p, uint8_t flags)
{
    bool first = true;

    *p++ = '[';
    for (int bit = 0; bit < OVSCT_TCPF_N; bit++) {
        if (flags & (1u << bit)) {
            if (!first) {
                *p++ = ',';
            }
            first = false;
            *p++ = '"';
            p = ovsct_put_str(p, ovsct_tcp_flag_names[bit]);
            *p++ = '"';
        }
    }
    *p++ = ']';
    return p;
}

static char *
put_json_state(char *p, uint8_t s)
{
    *p++ = '"';
    p = ovsct_put_str(p, ovsct_tcp_state_names[s]);
    *p++ = '"';
    return p;
}

int
ovsct_format_entry_json(const struct ovsct_entry *e, int64_t now, char *buf,
                        size_t size)
{
    char line[LINE_MAX__];
    size_t len;

    if (size >= LINE_MAX__) {
        len = format_json__(e, now, buf) - buf;
        buf[len] = '\0';
        return len;
    }
    len = format_json__(e, now, line) - line;
    return copy_line(buf, size, line, len);
}

/* Writes the JSON object of 'e' at 'p' (at least LINE_MAX__ bytes: the
 * longest object, an IPv6 TCP one with every flag, a full label, a helper
 * and a parent tuple, is about 800 bytes) and returns the end.  "helper"
 * and "parent" (an ALG data connection's control connection, the text's
 * helper= and parent=) are there only when the connection has them. */
static char *
format_json__(const struct ovsct_entry *e, int64_t now, char *p)
{
    uint8_t proto = e->orig.proto;
    const char *name = ovsct_proto_name(proto);
    uint64_t left = (e->expiration > now
                     ? (uint64_t) e->expiration - (uint64_t) now : 0);

    PUT_LIT(p, "{\"bucket\":");
    p = put_u32(p, e->bucket);
    if (e->helper < OVSCT_ALG_N && ovsct_alg_names[e->helper]) {
        PUT_LIT(p, ",\"helper\":\"");
        p = ovsct_put_str(p, ovsct_alg_names[e->helper]);
        *p++ = '"';
    }
    PUT_LIT(p, ",\"l3\":");
    p = put_u8(p, e->orig.l3);
    PUT_LIT(p, ",\"labels\":");
    p = put_u128(p, e->labels);
    PUT_LIT(p, ",\"mark\":");
    p = put_u32(p, e->mark);
    PUT_LIT(p, ",\"nat\":[");
    if (e->nat & OVSCT_CS_SRC_NAT) {
        PUT_LIT(p, "\"snat\"");
    }
    if (e->nat & OVSCT_CS_DST_NAT) {
        if (e->nat & OVSCT_CS_SRC_NAT) {
            *p++ = ',';
        }
        PUT_LIT(p, "\"dnat\"");
    }
    PUT_LIT(p, "],\"orig\":");
    p = put_json_tuple(p, &e->orig, proto);
    if (e->has_parent) {
        PUT_LIT(p, ",\"parent\":");
        p = put_json_tuple(p, &e->parent, e->parent.proto);
    }
    PUT_LIT(p, ",\"proto\":");
    p = put_u8(p, proto);
    PUT_LIT(p, ",\"protocol\":\"");
    p = name ? ovsct_put_str(p, name) : put_u8(p, proto);
    PUT_LIT(p, "\",\"reply\":");
    p = put_json_tuple(p, &e->reply, proto);
    if (proto == 6) {
        /* Unknown peer states show as the first (as the Entry objects of
         * the binding have them). */
        uint8_t s0 = e->tcp_state[0] < OVSCT_TCPS_N ? e->tcp_state[0] : 0;
        uint8_t s1 = e->tcp_state[1] < OVSCT_TCPS_N ? e->tcp_state[1] : 0;

        PUT_LIT(p, ",\"tcp\":{\"flags_orig\":");
        p = put_json_flags(p, e->tcp_flags[0]);
        PUT_LIT(p, ",\"flags_reply\":");
        p = put_json_flags(p, e->tcp_flags[1]);
        PUT_LIT(p, ",\"state\":");
        p = put_json_state(p, ovsct_tcp_state_coalesce(s0, s1));
        PUT_LIT(p, ",\"state_orig\":");
        p = put_json_state(p, s0);
        PUT_LIT(p, ",\"state_reply\":");
        p = put_json_state(p, s1);
        PUT_LIT(p, ",\"wscale_orig\":");
        p = put_u8(p, e->tcp_wscale[0]);
        PUT_LIT(p, ",\"wscale_reply\":");
        p = put_u8(p, e->tcp_wscale[1]);
        *p++ = '}';
    }
    PUT_LIT(p, ",\"timeout\":");
    p = ovsct_put_u64(p, left / 1000);
    PUT_LIT(p, ",\"zone\":");
    p = put_u32(p, e->zone);
    *p++ = '}';
    return p;
}

int
ovsct_format_addr(uint8_t l3, const uint8_t *a, char *buf)
{
    char *end = l3 == 6 ? put_ipv6(buf, a) : put_ipv4(buf, a);

    *end = '\0';
    return end - buf;
}

/* Sorting. */

struct sort_key {
    char src[48], dst[48];      /* Addresses as text. */
    const struct ovsct_entry *e;
    size_t idx;                 /* Ties keep the dump's order. */
};

static int
cmp_u32(uint32_t a, uint32_t b)
{
    return (a > b) - (a < b);
}

static int
sort_key_cmp(const void *a_, const void *b_)
{
    const struct sort_key *a = a_, *b = b_;
    const struct ovsct_tuple *x = &a->e->orig, *y = &b->e->orig;
    bool xi = x->proto == 1 || x->proto == 58;
    bool yi = y->proto == 1 || y->proto == 58;
    int c;

    if ((c = cmp_u32(a->e->zone, b->e->zone))
        || (c = cmp_u32(x->proto, y->proto))
        || (c = strcmp(a->src, b->src))
        || (c = strcmp(a->dst, b->dst))
        /* Ports (0 for ICMP), then the ICMP id and type (0 otherwise). */
        || (c = cmp_u32(xi ? 0 : x->sport, yi ? 0 : y->sport))
        || (c = cmp_u32(xi ? 0 : x->dport, yi ? 0 : y->dport))
        || (c = cmp_u32(xi ? x->sport : 0, yi ? y->sport : 0))
        || (c = cmp_u32(xi ? x->icmp_type : 0, yi ? y->icmp_type : 0))) {
        return c;
    }
    return (a->idx > b->idx) - (a->idx < b->idx);
}

int
ovsct_sort_entries(struct ovsct_entry *entries, size_t n)
{
    struct sort_key *keys;
    struct ovsct_entry *sorted;

    if (n < 2) {
        return 0;
    }
    keys = malloc(n * sizeof *keys);
    sorted = malloc(n * sizeof *sorted);
    if (!keys || !sorted) {
        free(keys);
        free(sorted);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct ovsct_tuple *t = &entries[i].orig;

        ovsct_format_addr(t->l3, t->src, keys[i].src);
        ovsct_format_addr(t->l3, t->dst, keys[i].dst);
        keys[i].e = &entries[i];
        keys[i].idx = i;
    }
    qsort(keys, n, sizeof *keys, sort_key_cmp);
    for (size_t i = 0; i < n; i++) {
        sorted[i] = *keys[i].e;
    }
    memcpy(entries, sorted, n * sizeof *entries);
    free(keys);
    free(sorted);
    return 0;
}
