/*
 * format.c -- one connection as a line of OVS's dump-conntrack text.
 *
 * ovsct_format_entry() writes the bytes that Open vSwitch's
 * ct_dpif_format_entry() (lib/ct-dpif.c) writes for the userspace datapath,
 * which never fills the id, status, packet/byte counters or time stamps:
 *
 *   PROTO,orig=(TUPLE),reply=(TUPLE)[,id=0][,zone=Z][,status=0]
 *        [,timeout=T][,mark=M][,labels=0xL][,protoinfo=(...)]
 *
 * It is on the dump path of a million lines, so it formats numbers and
 * addresses by hand (no printf) straight into the caller's buffer.  It
 * depends on ovsct.h and names.h only and builds alone:
 *
 *     gcc -Iext tests/c/test_format.c ext/format.c ext/names.c
 *
 * Neighbours: ovsct.h (struct ovsct_entry, the contract), dump.c (fills
 * the entries), names.c (the names), binding/dumpobj.c (dump_text),
 * tests/c/test_format.c (golden lines of a real OVS 3.1 and an
 * inet_ntop() cross-check).
 */
#include "names.h"
#include "ovsct.h"

#include <string.h>

/* Upper bound of one line.  The longest possible line: "udplite" (7),
 * two IPv6 ICMP tuples with their frames (2 * 124), id, zone, status,
 * timeout, mark and a full label (102) and a verbose TCP protoinfo with
 * unknown states and every flag bit set (279): about 640 bytes. */
#define LINE_MAX__ 1024

/* Appends the string literal 'S' at 'P' and advances 'P'. */
#define PUT_LIT(P, S) (memcpy((P), (S), sizeof(S) - 1), (P) += sizeof(S) - 1)

static char *put_str(char *, const char *);
static char *put_u32(char *, uint32_t);
static char *put_u8(char *, uint8_t);
static char *put_hex64(char *, uint64_t, bool pad);
static char *put_ipv4(char *, const uint8_t *);
static char *put_ipv6(char *, const uint8_t *);
static char *put_proto(char *, uint8_t);
static char *put_tuple(char *, const struct ovsct_tuple *, uint8_t l3,
                       uint8_t proto);
static char *put_state(char *, uint8_t);
static char *put_tcp_flags(char *, uint8_t);
static char *format__(const struct ovsct_entry *, bool verbose,
                      bool print_stats, int64_t now, char *);

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

    p = put_proto(p, proto);
    PUT_LIT(p, ",orig=(");
    p = put_tuple(p, &e->orig, l3, proto);
    PUT_LIT(p, "),reply=(");
    p = put_tuple(p, &e->reply, l3, proto);
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
    if (e->mark) {
        PUT_LIT(p, ",mark=");
        p = put_u32(p, e->mark);
    }
    if (e->labels.hi || e->labels.lo) {
        /* OVS's ds_put_hex() of the big-endian value: the first non-zero
         * byte without a leading zero, then two digits per byte, which is
         * the 128-bit number in hex without leading zeros. */
        PUT_LIT(p, ",labels=0x");
        if (e->labels.hi) {
            p = put_hex64(p, e->labels.hi, false);
            p = put_hex64(p, e->labels.lo, true);
        } else {
            p = put_hex64(p, e->labels.lo, false);
        }
    }
    if (proto == 6) {
        /* Only the TCP protocol class of userspace fills protoinfo. */
        PUT_LIT(p, ",protoinfo=(");
        if (verbose) {
            PUT_LIT(p, "state_orig=");
            p = put_state(p, e->tcp_state[0]);
            PUT_LIT(p, ",state_reply=");
            p = put_state(p, e->tcp_state[1]);
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
            p = put_state(p, s);
        }
        *p++ = ')';
    }
    return p;
}

/* Numbers and names. */

static char *
put_str(char *p, const char *s)
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

void
ct_format_addr(char *buf, const uint8_t *a, uint8_t l3)
{
    char *p = l3 == 6 ? put_ipv6(buf, a) : put_ipv4(buf, a);

    *p = '\0';
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
static char *
put_proto(char *p, uint8_t proto)
{
    const char *name = ovsct_proto_name(proto);

    return name ? put_str(p, name) : put_u32(p, proto);
}

/* Writes 't' (ct_dpif_format_tuple()) with address family 'l3' (6: IPv6,
 * anything else IPv4) and protocol 'proto'. */
static char *
put_tuple(char *p, const struct ovsct_tuple *t, uint8_t l3, uint8_t proto)
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
static char *
put_state(char *p, uint8_t s)
{
    if (s < OVSCT_TCPS_N) {
        return put_str(p, ovsct_tcp_state_names[s]);
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
                p = put_str(p, ovsct_tcp_flag_names[bit]);
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
