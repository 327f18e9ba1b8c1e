/*
 * test_nat.c -- standalone tests of NAT: tuple choice (ext/nat.c), the
 * packet path's use of it (ext/conntrack.c) and the frame rewrite
 * (ext/nat-rewrite.c), through the public API only (ovsct.h).
 *
 * Frames are built by hand with an independent, byte-at-a-time checksum,
 * run through ovsct_execute() one at a time from an exactly sized heap
 * copy (so that ASan catches any access past the end), and the rewritten
 * frame is checked field by field; every checksum of every frame that
 * comes back (IPv4 header, TCP, UDP, ICMP, ICMPv6, and for ICMP errors the
 * quoted IPv4 header and the quoted L4 checksum when the whole datagram is
 * quoted) is recomputed from scratch.
 *
 * Expected ct_state NAT bits are OVS's (lib/conntrack.c nat_packet()): a
 * packet in the original direction gets the connection's own kind, a reply
 * (or a reply-direction ICMP error) the reverse kind: snat connections
 * give dnat on replies and vice versa.
 *
 * The last test runs two threads that each create 2000 distinct flows
 * through one SNAT range of 1 address x 4000 ports, then dumps the table:
 * no two connections may share a reply tuple, and nconns must equal the
 * number of entries and of created connections.
 *
 * Build and run (from the top of the tree):
 *
 *   gcc -std=gnu11 -O1 -g -Wall -Wextra -D_GNU_SOURCE -pthread -Iext \
 *       -Ibench tests/c/test_nat.c ext/[a-z]*.c -o /tmp/test_nat -lm \
 *       && /tmp/test_nat
 *
 * Prints "N passed, M failed" and exits non-zero if M > 0.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovsct.h"
#include "framegen.h"

static atomic_int n_passed, n_failed;

#define CHECK(COND)                                                     \
    do {                                                                \
        if (COND) {                                                     \
            atomic_fetch_add(&n_passed, 1);                             \
        } else {                                                        \
            atomic_fetch_add(&n_failed, 1);                             \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,  \
                    __LINE__, __func__, #COND);                         \
        }                                                               \
    } while (0)

/* ct_state shorthands. */
enum {
    NEW = OVSCT_CS_NEW,
    EST = OVSCT_CS_ESTABLISHED,
    REL = OVSCT_CS_RELATED,
    RPL = OVSCT_CS_REPLY_DIR,
    INV = OVSCT_CS_INVALID,
    TRK = OVSCT_CS_TRACKED,
    SNAT = OVSCT_CS_SRC_NAT,
    DNAT = OVSCT_CS_DST_NAT,
};

/* Frames: bench/framegen.h. */

/* Checksum verification, from scratch. */

static bool
l4_sum_ok(int v, const uint8_t *ip, uint8_t proto, const uint8_t *l4,
          size_t n)
{
    uint32_t sum = 0;

    if (v == 6 || proto != 1) {
        sum = fg_pseudo_sum(v, ip, proto, n);
    }
    return fg_ref_fold(fg_ref_sum(sum, l4, n)) == 0xffff;
}

static bool
is_icmp_error(int v, uint8_t type)
{
    return v == 4 ? (type == 3 || type == 4 || type == 5 || type == 11
                     || type == 12)
                  : (type >= 1 && type <= 4);
}

/* True if every checksum of frame 'b' ('len' bytes) is right.  Frames
 * here have no IPv6 extension headers. */
static bool
csums_ok(const uint8_t *b, size_t len)
{
    size_t l3 = fg_be16(b + 12) == 0x8100 ? 18 : 14;
    uint16_t type = fg_be16(b + l3 - 2);
    const uint8_t *ip = b + l3;
    size_t hl, l4_len;
    uint8_t proto;
    int v;

    if (type == 0x0800) {
        v = 4;
        hl = (size_t) (ip[0] & 15) * 4;
        if (fg_ref_fold(fg_ref_sum(0, ip, hl)) != 0xffff) {
            return false;
        }
        proto = ip[9];
        l4_len = fg_be16(ip + 2) - hl;
    } else {
        v = 6;
        hl = 40;
        proto = ip[6];
        l4_len = fg_be16(ip + 4);
    }
    if (l3 + hl + l4_len > len) {
        return false;
    }

    const uint8_t *l4 = ip + hl;
    switch (proto) {
    case 6:
        return l4_sum_ok(v, ip, proto, l4, l4_len);
    case 17:
        return ((v == 4 && !fg_be16(l4 + 6))
                || l4_sum_ok(v, ip, proto, l4, l4_len));
    case 1:
    case 58:
        if (!l4_sum_ok(v, ip, proto, l4, l4_len)) {
            return false;
        }
        if (is_icmp_error(v, l4[0])) {
            const uint8_t *in = l4 + 8;
            size_t qlen = l4_len - 8;
            size_t ihl, ilen;
            uint8_t iproto;

            if (v == 4) {
                ihl = (size_t) (in[0] & 15) * 4;
                if (fg_ref_fold(fg_ref_sum(0, in, ihl)) != 0xffff) {
                    return false;
                }
                iproto = in[9];
                ilen = fg_be16(in + 2) - ihl;
            } else {
                ihl = 40;
                iproto = in[6];
                ilen = fg_be16(in + 4);
            }
            if (ihl + ilen <= qlen
                && !(iproto == 17 && v == 4 && !fg_be16(in + ihl + 6))
                && (iproto == 6 || iproto == 17 || iproto == 1
                    || iproto == 58)) {
                return l4_sum_ok(v, in, iproto, in + ihl, ilen);
            }
        }
        return true;
    default:
        return true;
    }
}

/* Field checks. */

/* True if the address at 'p' is 'text'. */
static bool
addr_at(const uint8_t *p, const char *text)
{
    uint8_t a[16];

    fg_pton(text, a);
    return !memcmp(p, a, fg_family(text) == 4 ? 4 : 16);
}

static const uint8_t *
src_of(const struct fg_frame *f, size_t l3)
{
    return f->b + l3 + (f->v == 4 ? 12 : 8);
}

static const uint8_t *
dst_of(const struct fg_frame *f, size_t l3)
{
    return f->b + l3 + (f->v == 4 ? 16 : 24);
}

/* True if the IP header at 'l3' and the L4 header at 'l4' of 'f' say
 * src:sport > dst:dport. */
static bool
tuple_at(const struct fg_frame *f, size_t l3, size_t l4, const char *src,
         uint16_t sport, const char *dst, uint16_t dport)
{
    return (addr_at(src_of(f, l3), src) && addr_at(dst_of(f, l3), dst)
            && fg_be16(f->b + l4) == sport && fg_be16(f->b + l4 + 2) == dport);
}

static bool
tuple_is(const struct fg_frame *f, const char *src, uint16_t sport,
         const char *dst, uint16_t dport)
{
    return tuple_at(f, f->l3, f->l4, src, sport, dst, dport);
}

/* Inner (quoted) offsets of an ICMP error frame built by
 * fg_icmp_error_frame(). */
static size_t
inner_l3(const struct fg_frame *f)
{
    return f->l4 + 8;
}

static size_t
inner_l4(const struct fg_frame *f)
{
    return f->l4 + 8 + (f->v == 4 ? 20 : 40);
}

/* Engine helpers. */

static struct ovsct *
engine(uint32_t n_buckets)
{
    struct ovsct_config cfg = {
        .n_buckets = n_buckets,
        .manual_clock = true,
        .start_ms = 1000000,
        .no_sweeper = true,
    };
    struct ovsct *ct;

    if (ovsct_create(&cfg, &ct)) {
        fprintf(stderr, "ovsct_create failed\n");
        exit(2);
    }
    return ct;
}

/* Runs 'f' through ct('a') from an exactly sized heap copy and copies the
 * (possibly rewritten) frame back.  Returns the ct_state.  Checks that
 * the frame's length is unchanged and its checksums are right. */
static uint8_t
run(struct ovsct *ct, const struct ovsct_action *a, struct fg_frame *f)
{
    uint8_t *copy = malloc(f->len);
    uint32_t offsets[2] = { 0, (uint32_t) f->len };
    struct ovsct_batch batch = { .data = copy, .size = f->len,
                                 .offsets = offsets, .n = 1 };
    uint8_t state = 0;

    memcpy(copy, f->b, f->len);
    CHECK(!ovsct_execute(ct, &batch, a, &state));
    memcpy(f->b, copy, f->len);
    free(copy);
    CHECK(csums_ok(f->b, f->len));
    return state;
}

/* Actions. */

static struct ovsct_action
nat_action(uint16_t zone, uint8_t kind, const char *amin, const char *amax,
           uint16_t pmin, uint16_t pmax)
{
    struct ovsct_action a;

    memset(&a, 0, sizeof a);
    a.zone = zone;
    a.commit = true;
    a.nat.kind = kind;
    if (amin) {
        a.nat.l3 = (uint8_t) fg_family(amin);
        fg_pton(amin, a.nat.addr_min);
        fg_pton(amax ? amax : amin, a.nat.addr_max);
    }
    a.nat.port_min = pmin;
    a.nat.port_max = pmax;
    return a;
}

/* ct(commit,nat): un-NAT and NAT by an existing connection. */
static struct ovsct_action
plain_nat(uint16_t zone)
{
    struct ovsct_action a;

    memset(&a, 0, sizeof a);
    a.zone = zone;
    a.commit = true;
    a.nat.kind = 0xff;
    return a;
}

/* Copies every entry (of 'zone' if non-NULL) into 'out' (capacity
 * 'max'); returns how many. */
static size_t
dump_all(struct ovsct *ct, const uint16_t *zone, struct ovsct_entry *out,
         size_t max)
{
    struct ovsct_dump *d;
    size_t total = 0, n;
    struct ovsct_filter f = {.has_zone = zone != NULL,
                             .zone = zone ? *zone : 0};

    if (ovsct_dump_start(ct, zone ? &f : NULL, &d)) {
        return 0;
    }
    do {
        struct ovsct_entry buf[64];

        n = 0;
        ovsct_dump_next(d, buf, 64, &n);
        for (size_t i = 0; i < n; i++) {
            if (total < max) {
                out[total] = buf[i];
            }
            total++;
        }
    } while (n);
    ovsct_dump_done(d);
    return total;
}

static bool
tuple_addrs(const struct ovsct_tuple *t, const char *src, const char *dst)
{
    return addr_at(t->src, src) && addr_at(t->dst, dst);
}

/* Tests. */

/* SNAT to one address, no port range: the source address changes, the
 * port is kept; the reply is un-NATed. */
static void
test_snat_addr(void)
{
    struct ovsct *ct = engine(0);
    struct ovsct_action a = nat_action(0, SNAT, "192.168.1.100", NULL, 0, 0);
    struct ovsct_action n = plain_nat(0);
    struct ovsct_entry e[4];
    struct fg_frame f;
    uint8_t st;

    fg_udp_frame(&f, "10.0.0.1", "8.8.8.8", 1234, 53, 11);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(tuple_is(&f, "192.168.1.100", 1234, "8.8.8.8", 53));

    CHECK(dump_all(ct, NULL, e, 4) == 1);
    CHECK(e[0].nat == SNAT);
    CHECK(tuple_addrs(&e[0].orig, "10.0.0.1", "8.8.8.8"));
    CHECK(tuple_addrs(&e[0].reply, "8.8.8.8", "192.168.1.100"));
    CHECK(e[0].reply.sport == 53 && e[0].reply.dport == 1234);

    /* The reply, un-NATed (OVS: reply of an SNAT connection is dnat). */
    fg_udp_frame(&f, "8.8.8.8", "192.168.1.100", 53, 1234, 11);
    st = run(ct, &n, &f);
    CHECK(st == (EST | RPL | TRK | DNAT));
    CHECK(tuple_is(&f, "8.8.8.8", 53, "10.0.0.1", 1234));

    /* More of the original direction. */
    fg_udp_frame(&f, "10.0.0.1", "8.8.8.8", 1234, 53, 11);
    st = run(ct, &n, &f);
    CHECK(st == (EST | TRK | SNAT));
    CHECK(tuple_is(&f, "192.168.1.100", 1234, "8.8.8.8", 53));

    /* Without a NAT action the connection is found but nothing is
     * rewritten (OVS's handle_nat() needs nat_action_info). */
    struct ovsct_action plain = { .commit = true };
    fg_udp_frame(&f, "10.0.0.1", "8.8.8.8", 1234, 53, 11);
    st = run(ct, &plain, &f);
    CHECK(st == (EST | TRK));
    CHECK(tuple_is(&f, "10.0.0.1", 1234, "8.8.8.8", 53));

    /* UDP with no checksum over IPv4: the checksum stays 0. */
    fg_udp_frame(&f, "10.0.0.2", "8.8.8.8", 999, 53, 11);
    fg_put16(f.b + f.l4 + 6, 0);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(tuple_is(&f, "192.168.1.100", 999, "8.8.8.8", 53));
    CHECK(fg_be16(f.b + f.l4 + 6) == 0);
    ovsct_destroy(ct);
}

/* SNAT over an address range with a port range, TCP: the handshake goes
 * through in both directions. */
static void
test_snat_ports(void)
{
    struct ovsct *ct = engine(0);
    struct ovsct_action a = nat_action(0, SNAT, "192.168.1.100",
                                       "192.168.1.101", 5000, 5010);
    struct ovsct_action n = plain_nat(0);
    struct fg_frame f;
    uint8_t st;

    fg_tcp_frame(&f, "10.0.0.1", "93.184.216.34", 40000, 80, 1000, 0, 0x02);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | SNAT));

    bool a100 = addr_at(src_of(&f, f.l3), "192.168.1.100");
    bool a101 = addr_at(src_of(&f, f.l3), "192.168.1.101");
    uint16_t port = fg_be16(f.b + f.l4);
    const char *nat_addr = a100 ? "192.168.1.100" : "192.168.1.101";
    CHECK(a100 || a101);
    CHECK(port >= 5000 && port <= 5010);
    CHECK(addr_at(dst_of(&f, f.l3), "93.184.216.34"));
    CHECK(fg_be16(f.b + f.l4 + 2) == 80);
    CHECK(fg_be16(f.b + f.l4 + 4) == 0 && fg_be16(f.b + f.l4 + 6) == 1000);

    fg_tcp_frame(&f, "93.184.216.34", nat_addr, 80, port, 7000, 1001, 0x12);
    st = run(ct, &n, &f);
    CHECK(st == (EST | RPL | TRK | DNAT));
    CHECK(tuple_is(&f, "93.184.216.34", 80, "10.0.0.1", 40000));

    fg_tcp_frame(&f, "10.0.0.1", "93.184.216.34", 40000, 80, 1001, 7001, 0x10);
    st = run(ct, &n, &f);
    CHECK(st == (EST | TRK | SNAT));
    CHECK(tuple_is(&f, nat_addr, port, "93.184.216.34", 80));

    /* A second flow from the same client port gets another tuple. */
    fg_tcp_frame(&f, "10.0.0.2", "93.184.216.34", 40000, 80, 1000, 0, 0x02);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(!(addr_at(src_of(&f, f.l3), nat_addr)
            && fg_be16(f.b + f.l4) == port));
    CHECK(ovsct_nconns(ct) == 2);

    /* The same packet from a VLAN-tagged frame is rewritten the same. */
    fg_ip(&f, true, "10.0.0.3", "93.184.216.34", 17);
    fg_put_u16(&f, 777);
    fg_put_u16(&f, 53);
    fg_put_u16(&f, 8);
    fg_put_u16(&f, 0);
    fg_finish(&f, false);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(f.l3 == 18 && fg_be16(f.b + f.l4) >= 5000
          && fg_be16(f.b + f.l4) <= 5010);
    ovsct_destroy(ct);
}

/* DNAT with a port: the reply gets the original destination back as its
 * source (OVS's lib/conntrack.c nat_get_unique_tuple() and its
 * observed output). */
static void
test_dnat(void)
{
    struct ovsct *ct = engine(0);
    struct ovsct_action a = nat_action(0, DNAT, "10.3.0.2", NULL, 8080,
                                       8080);
    struct ovsct_action n = plain_nat(0);
    struct ovsct_entry e[2];
    struct fg_frame f;
    uint8_t st;

    fg_udp_frame(&f, "10.3.0.1", "10.3.0.64", 3333, 53, 11);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | DNAT));
    CHECK(tuple_is(&f, "10.3.0.1", 3333, "10.3.0.2", 8080));

    CHECK(dump_all(ct, NULL, e, 2) == 1);
    CHECK(e[0].nat == DNAT);
    CHECK(tuple_addrs(&e[0].reply, "10.3.0.2", "10.3.0.1"));
    CHECK(e[0].reply.sport == 8080 && e[0].reply.dport == 3333);

    fg_udp_frame(&f, "10.3.0.2", "10.3.0.1", 8080, 3333, 11);
    st = run(ct, &n, &f);
    CHECK(st == (EST | RPL | TRK | SNAT));
    CHECK(tuple_is(&f, "10.3.0.64", 53, "10.3.0.1", 3333));

    /* TCP DNAT, address only: the port is kept. */
    a = nat_action(0, DNAT, "10.3.0.9", NULL, 0, 0);
    fg_tcp_frame(&f, "10.3.0.1", "10.3.0.64", 4444, 443, 1, 0, 0x02);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | DNAT));
    CHECK(tuple_is(&f, "10.3.0.1", 4444, "10.3.0.9", 443));
    fg_tcp_frame(&f, "10.3.0.9", "10.3.0.1", 443, 4444, 50, 2, 0x12);
    st = run(ct, &n, &f);
    CHECK(st == (EST | RPL | TRK | SNAT));
    CHECK(tuple_is(&f, "10.3.0.64", 443, "10.3.0.1", 4444));
    ovsct_destroy(ct);
}

/* 2 addresses x 2 ports, 6 flows: at most 4 connections; the others stay
 * new|trk, un-NATed, with no entry. */
static void
test_exhaustion(void)
{
    struct ovsct *ct = engine(0);
    struct ovsct_action a = nat_action(0, SNAT, "10.2.9.240", "10.2.9.241",
                                       5000, 5001);
    struct ovsct_counters c0, c1;
    struct ovsct_entry e[8];
    int created = 0, refused = 0;

    ovsct_get_counters(ct, &c0);
    for (int i = 0; i < 6; i++) {
        char src[32];
        struct fg_frame f;

        snprintf(src, sizeof src, "10.2.0.%d", 2 + i);
        fg_udp_frame(&f, src, "10.2.0.99", (uint16_t) (1000 + i), 53, 11);
        uint8_t st = run(ct, &a, &f);
        if (st == (NEW | TRK | SNAT)) {
            created++;
            CHECK(addr_at(src_of(&f, f.l3), "10.2.9.240")
                  || addr_at(src_of(&f, f.l3), "10.2.9.241"));
            CHECK(fg_be16(f.b + f.l4) == 5000 || fg_be16(f.b + f.l4) == 5001);
        } else {
            refused++;
            CHECK(st == (NEW | TRK));
            CHECK(tuple_is(&f, src, (uint16_t) (1000 + i), "10.2.0.99", 53));
        }
    }
    ovsct_get_counters(ct, &c1);
    CHECK(created >= 2 && created <= 4);
    CHECK(created + refused == 6);
    CHECK(c1.nat_exhausted - c0.nat_exhausted == (uint64_t) refused);
    CHECK(c1.created - c0.created == (uint64_t) created);
    CHECK(ovsct_nconns(ct) == (uint32_t) created);
    CHECK(dump_all(ct, NULL, e, 8) == (size_t) created);
    ovsct_destroy(ct);
}

/* ICMP echo through SNAT with an id range: the echo id is translated and
 * translated back. */
static void
test_icmp_echo(void)
{
    struct ovsct *ct = engine(0);
    struct ovsct_action a = nat_action(0, SNAT, "192.168.1.100", NULL,
                                       7000, 7000);
    struct ovsct_action n = plain_nat(0);
    struct fg_frame f;
    uint8_t st;

    fg_echo_frame(&f, "10.0.0.1", "8.8.8.8", false, 0x1234, 1);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(addr_at(src_of(&f, f.l3), "192.168.1.100"));
    CHECK(fg_be16(f.b + f.l4 + 4) == 7000 && fg_be16(f.b + f.l4 + 6) == 1);
    CHECK(f.b[f.l4] == 8);

    fg_echo_frame(&f, "8.8.8.8", "192.168.1.100", true, 7000, 1);
    st = run(ct, &n, &f);
    CHECK(st == (EST | RPL | TRK | DNAT));
    CHECK(addr_at(dst_of(&f, f.l3), "10.0.0.1"));
    CHECK(fg_be16(f.b + f.l4 + 4) == 0x1234);

    /* A second pinger needs id 7000 too: exhausted. */
    fg_echo_frame(&f, "10.0.0.2", "8.8.8.8", false, 0x1234, 1);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK));
    CHECK(addr_at(src_of(&f, f.l3), "10.0.0.2"));
    CHECK(fg_be16(f.b + f.l4 + 4) == 0x1234);
    ovsct_destroy(ct);
}

/* ICMP errors about a SNATed UDP flow, in both directions, and about a
 * DNATed one. */
static void
test_icmp_error(void)
{
    struct ovsct *ct = engine(0);
    struct ovsct_action a = nat_action(0, SNAT, "192.168.1.100", NULL,
                                       6000, 6000);
    struct ovsct_action n = plain_nat(0);
    struct fg_frame u, f;
    uint8_t st;

    fg_udp_frame(&u, "10.0.0.1", "8.8.8.8", 1234, 53, 11);
    st = run(ct, &a, &u);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(tuple_is(&u, "192.168.1.100", 6000, "8.8.8.8", 53));

    /* A router on the way sends "unreachable" back to the NAT address,
     * quoting the whole translated datagram: the outer destination and
     * the quoted source go back to the client, the router stays. */
    fg_icmp_error_frame(&f, "172.16.0.1", "192.168.1.100", 3, 1, 0, &u,
                        SIZE_MAX);
    st = run(ct, &n, &f);
    CHECK(st == (REL | RPL | TRK | DNAT));
    CHECK(addr_at(src_of(&f, f.l3), "172.16.0.1"));
    CHECK(addr_at(dst_of(&f, f.l3), "10.0.0.1"));
    CHECK(tuple_at(&f, inner_l3(&f), inner_l4(&f), "10.0.0.1", 1234,
                   "8.8.8.8", 53));
    CHECK(f.b[f.l4] == 3 && f.b[f.l4 + 1] == 1);

    /* The usual 8-byte quote (UDP checksum inside it). */
    fg_icmp_error_frame(&f, "8.8.8.8", "192.168.1.100", 3, 3, 0, &u, 8);
    st = run(ct, &n, &f);
    CHECK(st == (REL | RPL | TRK | DNAT));
    CHECK(addr_at(src_of(&f, f.l3), "8.8.8.8"));
    CHECK(addr_at(dst_of(&f, f.l3), "10.0.0.1"));
    CHECK(tuple_at(&f, inner_l3(&f), inner_l4(&f), "10.0.0.1", 1234,
                   "8.8.8.8", 53));

    /* Original direction: the server's reply (un-NATed to the client) is
     * refused by a router near the client; the error travels towards the
     * server and takes the NAT address as its source, as in OVS. */
    struct fg_frame r;
    fg_udp_frame(&r, "8.8.8.8", "10.0.0.1", 53, 1234, 11);
    fg_icmp_error_frame(&f, "10.9.9.9", "8.8.8.8", 3, 1, 0, &r, SIZE_MAX);
    st = run(ct, &n, &f);
    CHECK(st == (REL | TRK | SNAT));
    CHECK(addr_at(src_of(&f, f.l3), "192.168.1.100"));
    CHECK(addr_at(dst_of(&f, f.l3), "8.8.8.8"));
    CHECK(tuple_at(&f, inner_l3(&f), inner_l4(&f), "8.8.8.8", 53,
                   "192.168.1.100", 6000));

    /* Without a NAT action: related, nothing rewritten. */
    struct ovsct_action plain = { .commit = true };
    fg_icmp_error_frame(&f, "172.16.0.1", "192.168.1.100", 3, 1, 0, &u,
                        SIZE_MAX);
    st = run(ct, &plain, &f);
    CHECK(st == (REL | RPL | TRK));
    CHECK(addr_at(dst_of(&f, f.l3), "192.168.1.100"));

    /* A TCP flow, error with an 8-byte quote (no room for the quoted
     * checksum): ports and outer checksum still right, nothing written
     * past the end (ASan). */
    struct fg_frame t;
    fg_tcp_frame(&t, "10.0.0.1", "8.8.4.4", 2222, 443, 5, 0, 0x02);
    st = run(ct, &a, &t);
    CHECK(st == (NEW | TRK | SNAT));
    fg_icmp_error_frame(&f, "8.8.4.4", "192.168.1.100", 3, 3, 0, &t, 8);
    st = run(ct, &n, &f);
    CHECK(st == (REL | RPL | TRK | DNAT));
    CHECK(addr_at(dst_of(&f, f.l3), "10.0.0.1"));
    CHECK(tuple_at(&f, inner_l3(&f), inner_l4(&f), "10.0.0.1", 2222,
                   "8.8.4.4", 443));
    /* The whole TCP header quoted: the quoted checksum is fixed too. */
    fg_icmp_error_frame(&f, "8.8.4.4", "192.168.1.100", 3, 3, 0, &t, SIZE_MAX);
    st = run(ct, &n, &f);
    CHECK(st == (REL | RPL | TRK | DNAT));
    CHECK(tuple_at(&f, inner_l3(&f), inner_l4(&f), "10.0.0.1", 2222,
                   "8.8.4.4", 443));

    /* An error about an ICMP echo: the quoted id is translated back. */
    struct fg_frame p;
    fg_echo_frame(&p, "10.0.0.1", "1.1.1.1", false, 0x4242, 9);
    st = run(ct, &a, &p);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(fg_be16(p.b + p.l4 + 4) == 6000);
    fg_icmp_error_frame(&f, "1.1.1.1", "192.168.1.100", 3, 1, 0, &p, SIZE_MAX);
    st = run(ct, &n, &f);
    CHECK(st == (REL | RPL | TRK | DNAT));
    CHECK(addr_at(dst_of(&f, f.l3), "10.0.0.1"));
    CHECK(addr_at(src_of(&f, inner_l3(&f)), "10.0.0.1"));
    CHECK(fg_be16(f.b + inner_l4(&f) + 4) == 0x4242);
    CHECK(f.b[inner_l4(&f)] == 8);

    /* DNAT, error from a router near the backend: the outer source
     * becomes the virtual address (OVS's nat_packet_ipv4()). */
    struct ovsct_action d = nat_action(0, DNAT, "10.3.0.2", NULL, 8080,
                                       8080);
    struct fg_frame q;
    fg_udp_frame(&q, "10.3.0.1", "10.3.0.64", 3333, 53, 11);
    st = run(ct, &d, &q);
    CHECK(st == (NEW | TRK | DNAT));
    fg_icmp_error_frame(&f, "10.3.0.254", "10.3.0.1", 11, 0, 0, &q, SIZE_MAX);
    st = run(ct, &n, &f);
    CHECK(st == (REL | RPL | TRK | SNAT));
    CHECK(addr_at(src_of(&f, f.l3), "10.3.0.64"));
    CHECK(addr_at(dst_of(&f, f.l3), "10.3.0.1"));
    CHECK(tuple_at(&f, inner_l3(&f), inner_l4(&f), "10.3.0.1", 3333,
                   "10.3.0.64", 53));
    ovsct_destroy(ct);
}

/* IPv6: SNAT of UDP and ICMPv6 echo, an ICMPv6 error, and checksums that
 * cover the pseudo-header. */
static void
test_ipv6(void)
{
    struct ovsct *ct = engine(0);
    struct ovsct_action a = nat_action(0, SNAT, "2001:db8:ffff::100", NULL,
                                       20000, 20009);
    struct ovsct_action n = plain_nat(0);
    struct ovsct_entry e[4];
    struct fg_frame u, f;
    uint8_t st;

    fg_udp_frame(&u, "fd00::1", "2001:db8::53", 1234, 53, 11);
    st = run(ct, &a, &u);
    CHECK(st == (NEW | TRK | SNAT));
    uint16_t port = fg_be16(u.b + u.l4);
    CHECK(addr_at(src_of(&u, u.l3), "2001:db8:ffff::100"));
    CHECK(port >= 20000 && port <= 20009);
    CHECK(addr_at(dst_of(&u, u.l3), "2001:db8::53"));

    CHECK(dump_all(ct, NULL, e, 4) == 1);
    CHECK(e[0].orig.l3 == 6 && e[0].reply.dport == port);
    CHECK(tuple_addrs(&e[0].reply, "2001:db8::53", "2001:db8:ffff::100"));

    fg_udp_frame(&f, "2001:db8::53", "2001:db8:ffff::100", 53, port, 11);
    st = run(ct, &n, &f);
    CHECK(st == (EST | RPL | TRK | DNAT));
    CHECK(tuple_is(&f, "2001:db8::53", 53, "fd00::1", 1234));

    /* Packet too big from a router: the MTU field is left alone. */
    fg_icmp_error_frame(&f, "2001:db8::1", "2001:db8:ffff::100", 2, 0,
                        1280, &u,
               SIZE_MAX);
    st = run(ct, &n, &f);
    CHECK(st == (REL | RPL | TRK | DNAT));
    CHECK(addr_at(src_of(&f, f.l3), "2001:db8::1"));
    CHECK(addr_at(dst_of(&f, f.l3), "fd00::1"));
    CHECK(fg_be16(f.b + f.l4 + 4) == 0 && fg_be16(f.b + f.l4 + 6) == 1280);
    CHECK(tuple_at(&f, inner_l3(&f), inner_l4(&f), "fd00::1", 1234,
                   "2001:db8::53", 53));

    /* ICMPv6 echo. */
    fg_echo_frame(&f, "fd00::1", "2001:db8::53", false, 0x1111, 1);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | SNAT));
    uint16_t id = fg_be16(f.b + f.l4 + 4);
    CHECK(addr_at(src_of(&f, f.l3), "2001:db8:ffff::100"));
    CHECK(id >= 20000 && id <= 20009);
    fg_echo_frame(&f, "2001:db8::53", "2001:db8:ffff::100", true, id, 1);
    st = run(ct, &n, &f);
    CHECK(st == (EST | RPL | TRK | DNAT));
    CHECK(addr_at(dst_of(&f, f.l3), "fd00::1"));
    CHECK(fg_be16(f.b + f.l4 + 4) == 0x1111);

    /* TCP DNAT over IPv6. */
    struct ovsct_action d = nat_action(0, DNAT, "fd00::80", NULL, 8080,
                                       8080);
    fg_tcp_frame(&f, "2001:db8::7", "2001:db8::80", 33333, 80, 9, 0, 0x02);
    st = run(ct, &d, &f);
    CHECK(st == (NEW | TRK | DNAT));
    CHECK(tuple_is(&f, "2001:db8::7", 33333, "fd00::80", 8080));
    fg_tcp_frame(&f, "fd00::80", "2001:db8::7", 8080, 33333, 100, 10, 0x12);
    st = run(ct, &n, &f);
    CHECK(st == (EST | RPL | TRK | SNAT));
    CHECK(tuple_is(&f, "2001:db8::80", 80, "2001:db8::7", 33333));
    ovsct_destroy(ct);
}

/* The same flow NATed differently in two zones. */
static void
test_zones(void)
{
    struct ovsct *ct = engine(0);
    struct ovsct_action a1 = nat_action(1, SNAT, "192.168.1.1", NULL, 0, 0);
    struct ovsct_action a2 = nat_action(2, SNAT, "192.168.2.1", NULL, 0, 0);
    struct ovsct_action n1 = plain_nat(1), n2 = plain_nat(2);
    struct ovsct_entry e[4];
    uint16_t z1 = 1, z2 = 2;
    struct fg_frame f;
    uint8_t st;

    fg_udp_frame(&f, "10.0.0.1", "8.8.8.8", 1234, 53, 11);
    st = run(ct, &a1, &f);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(tuple_is(&f, "192.168.1.1", 1234, "8.8.8.8", 53));

    fg_udp_frame(&f, "10.0.0.1", "8.8.8.8", 1234, 53, 11);
    st = run(ct, &a2, &f);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(tuple_is(&f, "192.168.2.1", 1234, "8.8.8.8", 53));

    CHECK(ovsct_nconns(ct) == 2);
    CHECK(dump_all(ct, &z1, e, 4) == 1);
    CHECK(e[0].zone == 1 && tuple_addrs(&e[0].reply, "8.8.8.8",
                                        "192.168.1.1"));
    CHECK(dump_all(ct, &z2, e, 4) == 1);
    CHECK(e[0].zone == 2 && tuple_addrs(&e[0].reply, "8.8.8.8",
                                        "192.168.2.1"));

    /* Zone 2's reply un-NATs in zone 2, not in zone 1. */
    fg_udp_frame(&f, "8.8.8.8", "192.168.2.1", 53, 1234, 11);
    st = run(ct, &n2, &f);
    CHECK(st == (EST | RPL | TRK | DNAT));
    CHECK(tuple_is(&f, "8.8.8.8", 53, "10.0.0.1", 1234));

    fg_udp_frame(&f, "8.8.8.8", "192.168.2.1", 53, 1234, 11);
    st = run(ct, &n1, &f);
    CHECK(st == (NEW | TRK));
    CHECK(tuple_is(&f, "8.8.8.8", 53, "192.168.2.1", 1234));
    ovsct_destroy(ct);
}

/* SCTP is tracked by addresses only (packet.c gives it ports 0, as for
 * any protocol without a port parser): SNAT rewrites the address, leaves
 * the SCTP header (and its CRC32c) alone, and the reply must match. */
static void
sctp(struct fg_frame *f, const char *src, const char *dst, uint16_t sport,
     uint16_t dport)
{
    fg_ip(f, false, src, dst, 132);
    fg_put_u16(f, sport);
    fg_put_u16(f, dport);
    fg_put_u32(f, 0xdeadbeef);       /* Verification tag. */
    fg_put_u32(f, 0x01020304);       /* CRC32c: not checked by the parser. */
    fg_finish(f, true);
}

static void
test_sctp(void)
{
    struct ovsct *ct = engine(0);
    struct ovsct_action a = nat_action(0, SNAT, "192.168.1.100", NULL, 0, 0);
    struct ovsct_action n = plain_nat(0);
    struct ovsct_entry e[2];
    struct fg_frame f;
    uint8_t st;

    sctp(&f, "10.0.0.1", "8.8.8.8", 3868, 3868);
    st = run(ct, &a, &f);
    CHECK(st == (NEW | TRK | SNAT));
    CHECK(tuple_is(&f, "192.168.1.100", 3868, "8.8.8.8", 3868));
    CHECK(fg_be16(f.b + f.l4 + 8) == 0x0102
          && fg_be16(f.b + f.l4 + 10) == 0x0304);
    CHECK(dump_all(ct, NULL, e, 2) == 1);
    CHECK(e[0].reply.sport == 0 && e[0].reply.dport == 0);

    sctp(&f, "8.8.8.8", "192.168.1.100", 3868, 3868);
    st = run(ct, &n, &f);
    CHECK(st == (EST | RPL | TRK | DNAT));
    CHECK(tuple_is(&f, "8.8.8.8", 3868, "10.0.0.1", 3868));
    ovsct_destroy(ct);
}

/* Concurrency. */

#define CONC_THREADS 2
#define CONC_FLOWS 2000         /* Per thread. */
#define CONC_BATCH 32
#define CONC_FRAME 42           /* Ethernet + IPv4 + UDP, no payload. */

struct conc_arg {
    struct ovsct *ct;
    int thread;
    int snat;                   /* Frames that came back with snat. */
    int bad;                    /* Frames with another state. */
};

static void *
conc_thread(void *arg_)
{
    struct conc_arg *arg = arg_;
    struct ovsct_action a = nat_action(0, SNAT, "192.168.50.1", NULL, 1024,
                                       1024 + 2 * CONC_FLOWS - 1);
    uint8_t *data = malloc(CONC_BATCH * CONC_FRAME);
    uint32_t offsets[CONC_BATCH + 1];
    uint8_t states[CONC_BATCH];

    for (int base = 0; base < CONC_FLOWS; base += CONC_BATCH) {
        int m = CONC_FLOWS - base < CONC_BATCH ? CONC_FLOWS - base
                                               : CONC_BATCH;

        for (int i = 0; i < m; i++) {
            int k = base + i;
            char src[32];
            struct fg_frame f;

            snprintf(src, sizeof src, "10.%d.%d.%d", 10 + arg->thread,
                     k / 250, 1 + k % 250);
            fg_ip(&f, false, src, "203.0.113.1", 17);
            fg_put_u16(&f, (uint16_t) (10000 + k));
            fg_put_u16(&f, 53);
            fg_put_u16(&f, 8);
            fg_put_u16(&f, 0);
            fg_finish(&f, false);
            memcpy(data + i * CONC_FRAME, f.b, CONC_FRAME);
            offsets[i] = (uint32_t) (i * CONC_FRAME);
        }
        offsets[m] = (uint32_t) (m * CONC_FRAME);

        struct ovsct_batch batch = { .data = data,
                                     .size = (size_t) m * CONC_FRAME,
                                     .offsets = offsets, .n = (size_t) m };
        if (ovsct_execute(arg->ct, &batch, &a, states)) {
            arg->bad += m;
            continue;
        }
        for (int i = 0; i < m; i++) {
            if (states[i] == (NEW | TRK | SNAT)
                && csums_ok(data + i * CONC_FRAME, CONC_FRAME)) {
                arg->snat++;
            } else if (states[i] != (NEW | TRK)) {
                arg->bad++;
            }
        }
    }
    free(data);
    return NULL;
}

static int
cmp_reply(const void *a_, const void *b_)
{
    const struct ovsct_entry *a = a_, *b = b_;
    int c = memcmp(a->reply.dst, b->reply.dst, 16);

    if (c) {
        return c;
    }
    c = memcmp(a->reply.src, b->reply.src, 16);
    if (c) {
        return c;
    }
    if (a->reply.dport != b->reply.dport) {
        return a->reply.dport < b->reply.dport ? -1 : 1;
    }
    if (a->reply.sport != b->reply.sport) {
        return a->reply.sport < b->reply.sport ? -1 : 1;
    }
    return 0;
}

static void
test_concurrency(void)
{
    struct ovsct *ct = engine(64);
    struct conc_arg args[CONC_THREADS];
    pthread_t th[CONC_THREADS];
    size_t max = CONC_THREADS * CONC_FLOWS + 16;
    struct ovsct_entry *e = calloc(max, sizeof *e);
    struct ovsct_counters c;
    int snat = 0, bad = 0;

    for (int i = 0; i < CONC_THREADS; i++) {
        args[i] = (struct conc_arg) { .ct = ct, .thread = i };
        pthread_create(&th[i], NULL, conc_thread, &args[i]);
    }
    for (int i = 0; i < CONC_THREADS; i++) {
        pthread_join(th[i], NULL);
        snat += args[i].snat;
        bad += args[i].bad;
    }

    size_t n = dump_all(ct, NULL, e, max);
    ovsct_get_counters(ct, &c);
    CHECK(bad == 0);
    CHECK(n == (size_t) snat);
    CHECK(ovsct_nconns(ct) == n);
    CHECK(c.created == n);
    CHECK(c.created + c.nat_exhausted == CONC_THREADS * CONC_FLOWS);
    /* Most flows must fit: 4000 ports for 4000 flows, ~240 probes each. */
    CHECK(n >= CONC_THREADS * CONC_FLOWS / 2);

    qsort(e, n, sizeof *e, cmp_reply);
    size_t dups = 0, out_of_range = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && !cmp_reply(&e[i - 1], &e[i])) {
            dups++;
        }
        if (!addr_at(e[i].reply.dst, "192.168.50.1")
            || e[i].reply.dport < 1024
            || e[i].reply.dport > 1024 + 2 * CONC_FLOWS - 1) {
            out_of_range++;
        }
    }
    CHECK(dups == 0);
    CHECK(out_of_range == 0);
    printf("concurrency: %zu connections, %llu exhausted\n", n,
           (unsigned long long) c.nat_exhausted);
    free(e);
    ovsct_destroy(ct);
}

int
main(void)
{
    test_snat_addr();
    test_snat_ports();
    test_dnat();
    test_exhaustion();
    test_icmp_echo();
    test_icmp_error();
    test_ipv6();
    test_zones();
    test_sctp();
    test_concurrency();

    int passed = atomic_load(&n_passed), failed = atomic_load(&n_failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
