/*
 * test_packet.c -- standalone tests of ext/packet.c and dpio/pcap.c.
 *
 * Builds frames by hand (bench/framegen.h, with an independent,
 * byte-at-a-time checksum) and
 * checks what ct_parse() makes of them: keys, offsets, TCP facts and every
 * OVS rule that makes a packet invalid.  Every prefix of each valid frame is
 * parsed from an exactly sized heap copy, so that ASan catches any read past
 * the end.  Then the pcap reader and writer are exercised on files made
 * here, and, given a directory, on the captures of tests/gen_pcaps.py: each
 * file of DIR/expected.txt must load with the listed frame count, and each
 * frame must parse as listed (v valid, r related, i invalid).
 *
 * Build and run (from the top of the tree):
 *
 *   gcc -std=gnu11 -O2 -Wall -Wextra -Werror -Iext -Idpio -Ibench \
 *       tests/c/test_packet.c ext/packet.c dpio/pcap.c -o /tmp/tp \
 *       && /tmp/tp tests/data
 *
 * With no argument, tests/data is used if it exists (from the top of the
 * tree, as `make asan` runs it).  Without dpio/pcap.c on the command line
 * only the parser tests run.
 *
 * Prints "N passed, M failed" and exits non-zero if M > 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ovsct.h"
#include "packet.h"
#include "pcap.h"
#include "framegen.h"

/* Weak, so that the parser tests also link without dpio/pcap.c; the pcap
 * tests are then skipped (with a note). */
#pragma weak ovsct_pcap_load
#pragma weak ovsct_pcap_write

static int n_passed, n_failed;

#define CHECK(COND)                                                     \
    do {                                                                \
        if (COND) {                                                     \
            n_passed++;                                                 \
        } else {                                                        \
            n_failed++;                                                 \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__,  \
                    __LINE__, __func__, #COND);                         \
        }                                                               \
    } while (0)

/* Frames: bench/framegen.h. */

static uint16_t
ref_finish(uint32_t sum)
{
    return (uint16_t) ~fg_ref_fold(sum);
}

static struct ct_pkt
parse(const struct fg_frame *f)
{
    struct ct_pkt pkt;
    uint8_t *copy = malloc(f->len ? f->len : 1);

    memcpy(copy, f->b, f->len);
    ct_parse(copy, (uint32_t) f->len, &pkt);
    free(copy);
    return pkt;
}

static bool
parses(const struct fg_frame *f)
{
    return parse(f).valid;
}

static bool
addr4_is(const uint32_t *a, const char *text)
{
    uint32_t x;
    inet_pton(AF_INET, text, &x);
    return a[0] == x && !a[1] && !a[2] && !a[3];
}

static bool
addr6_is(const uint32_t *a, const char *text)
{
    uint8_t x[16];
    inet_pton(AF_INET6, text, x);
    return !memcmp(a, x, 16);
}

/* Every proper prefix of 'f' must be invalid, and parsing must stay within
 * it (heap copies of the exact size, for ASan). */
static void
check_prefixes(const struct fg_frame *f, const char *what)
{
    int bad = 0;

    for (size_t n = 0; n < f->len; n++) {
        struct fg_frame g = *f;
        g.len = n;
        if (parses(&g)) {
            fprintf(stderr, "%s: prefix of %zu bytes parsed\n", what, n);
            bad++;
        }
    }
    CHECK(bad == 0);
}

/* Tests of ct_parse(). */

static void
test_udp4(void)
{
    struct fg_frame f;
    fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 40000, 53, 13);

    struct ct_pkt p = parse(&f);
    CHECK(p.valid);
    CHECK(!p.icmp_related);
    CHECK(p.key.l3 == 4 && p.key.nw_proto == 17);
    CHECK(addr4_is(p.key.src, "10.0.0.1"));
    CHECK(addr4_is(p.key.dst, "10.0.0.2"));
    CHECK(p.key.sport == htons(40000) && p.key.dport == htons(53));
    CHECK(p.key.zone == 0);
    CHECK(p.l3_ofs == 14 && p.l4_ofs == 34 && p.l4_len == 21);
    CHECK(p.tcp_wscale == -1);
    CHECK(p.inner_l3_ofs == 0 && p.inner_l4_ofs == 0);

    struct ct_key r;
    ct_key_reverse(&p.key, &r);
    CHECK(addr4_is(r.src, "10.0.0.2") && addr4_is(r.dst, "10.0.0.1"));
    CHECK(r.sport == htons(53) && r.dport == htons(40000));
    CHECK(r.l3 == 4 && r.nw_proto == 17);

    /* The reply parses to the reverse key. */
    struct fg_frame g;
    fg_udp_frame(&g, "10.0.0.2", "10.0.0.1", 53, 40000, 40);
    struct ct_pkt q = parse(&g);
    CHECK(q.valid && !memcmp(&q.key, &r, sizeof r));

    check_prefixes(&f, "udp4");

    /* Ethernet padding after the IP packet is ignored. */
    f.len += 20;
    memset(f.b + f.len - 20, 0xee, 20);
    p = parse(&f);
    CHECK(p.valid && p.l4_len == 21);
}

static void
test_udp6(void)
{
    struct fg_frame f;
    fg_udp_frame(&f, "fc00::1", "fc00::2", 40002, 53, 29);

    struct ct_pkt p = parse(&f);
    CHECK(p.valid);
    CHECK(p.key.l3 == 6 && p.key.nw_proto == 17);
    CHECK(addr6_is(p.key.src, "fc00::1") && addr6_is(p.key.dst, "fc00::2"));
    CHECK(p.key.sport == htons(40002) && p.key.dport == htons(53));
    CHECK(p.l3_ofs == 14 && p.l4_ofs == 54 && p.l4_len == 37);
    check_prefixes(&f, "udp6");

    struct ct_key r;
    ct_key_reverse(&p.key, &r);
    CHECK(addr6_is(r.src, "fc00::2") && addr6_is(r.dst, "fc00::1"));
}

static void
test_tcp(void)
{
    static const uint8_t syn_opts[] = {
        2, 4, 0x05, 0xb4,               /* MSS 1460. */
        4, 2,                           /* SACK permitted. */
        8, 10, 0, 0, 0, 1, 0, 0, 0, 0,  /* Timestamps. */
        1,                              /* NOP. */
        3, 3, 7,                        /* Window scale 7. */
    };
    struct fg_frame f;

    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 6);
    fg_tcp_hdr(&f, 45000, 80, 1000, 0, 0x02, 64240, syn_opts,
            sizeof syn_opts, 0);
    fg_finish_csum(&f, 16);
    struct ct_pkt p = parse(&f);
    CHECK(p.valid);
    CHECK(p.key.nw_proto == 6);
    CHECK(p.key.sport == htons(45000) && p.key.dport == htons(80));
    CHECK(p.tcp_flags == 0x02);
    CHECK(p.tcp_wscale == 7);
    CHECK(p.tcp_seq == 1000 && p.tcp_ack == 0 && p.tcp_win == 64240);
    CHECK(p.tcp_payload_len == 0);
    CHECK(p.l4_len == 40);
    check_prefixes(&f, "tcp syn");

    /* Data segment: no window scale outside SYN, even if present. */
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 6);
    fg_tcp_hdr(&f, 45000, 80, 1001, 5001, 0x18, 502, syn_opts,
            sizeof syn_opts, 100);
    fg_finish_csum(&f, 16);
    p = parse(&f);
    CHECK(p.valid && p.tcp_wscale == -1);
    CHECK(p.tcp_flags == 0x18 && p.tcp_payload_len == 100);
    CHECK(p.tcp_seq == 1001 && p.tcp_ack == 5001 && p.tcp_win == 502);

    /* SYN without the option; SYN-ACK with a too-large shift (clamped to
     * 14, as OVS does); a later option overrides an earlier one. */
    static const uint8_t mss[] = { 2, 4, 0x05, 0xb4 };
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 6);
    fg_tcp_hdr(&f, 45000, 80, 1, 0, 0x02, 100, mss, sizeof mss, 0);
    fg_finish_csum(&f, 16);
    CHECK(parse(&f).tcp_wscale == -1);

    static const uint8_t big[] = { 3, 3, 20, 1, 3, 3, 9, 0 };
    fg_ip4(&f, 0, "10.0.0.2", "10.0.0.1", 6);
    fg_tcp_hdr(&f, 80, 45000, 1, 2, 0x12, 100, big, sizeof big, 0);
    fg_finish_csum(&f, 16);
    CHECK(parse(&f).tcp_wscale == 9);
    static const uint8_t big2[] = { 1, 3, 3, 20 };
    fg_ip4(&f, 0, "10.0.0.2", "10.0.0.1", 6);
    fg_tcp_hdr(&f, 80, 45000, 1, 2, 0x12, 100, big2, sizeof big2, 0);
    fg_finish_csum(&f, 16);
    CHECK(parse(&f).tcp_wscale == 14);

    /* Option after end-of-list is ignored; zero-length options do not
     * loop forever. */
    static const uint8_t eol[] = { 0, 3, 3, 5 };
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 6);
    fg_tcp_hdr(&f, 45000, 80, 1, 0, 0x02, 100, eol, sizeof eol, 0);
    fg_finish_csum(&f, 16);
    CHECK(parse(&f).valid && parse(&f).tcp_wscale == -1);
    static const uint8_t zero[] = { 5, 0, 5, 0, 5, 1, 3, 3, 4, 1, 1, 1 };
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 6);
    fg_tcp_hdr(&f, 45000, 80, 1, 0, 0x02, 100, zero, sizeof zero, 0);
    fg_finish_csum(&f, 16);
    CHECK(parse(&f).valid && parse(&f).tcp_wscale == 4);

    /* IPv6 TCP. */
    fg_ip6(&f, 0, "fc00::1", "fc00::2", 6);
    fg_tcp_hdr(&f, 45001, 443, 7000, 0, 0x02, 64800, syn_opts,
            sizeof syn_opts, 0);
    fg_finish_csum(&f, 16);
    p = parse(&f);
    CHECK(p.valid && p.tcp_wscale == 7 && p.key.l3 == 6);

    /* Data offset below 5 or beyond the segment; bad checksum. */
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 6);
    fg_tcp_hdr(&f, 45000, 80, 1, 0, 0x02, 100, NULL, 0, 0);
    f.b[f.l4 + 12] = 4 << 4;
    fg_finish_csum(&f, 16);
    CHECK(!parses(&f));
    f.b[f.l4 + 12] = 6 << 4;
    fg_finish_csum(&f, 16);
    CHECK(!parses(&f));
    f.b[f.l4 + 12] = 5 << 4;
    fg_finish_csum(&f, 16);
    CHECK(parses(&f));
    f.b[f.l4 + 16] ^= 1;
    CHECK(!parses(&f));
}

static void
test_icmp_echo(void)
{
    struct fg_frame f;

    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 1);
    fg_icmp_hdr(&f, 8, 0, 0x1234, 1);
    fg_payload(&f, 32, 0);
    fg_finish_csum(&f, 2);
    struct ct_pkt p = parse(&f);
    CHECK(p.valid && !p.icmp_related);
    CHECK(p.key.nw_proto == 1 && p.key.l3 == 4);
    CHECK(p.key.sport == htons(0x1234));
    CHECK(p.key.dport == (8 << 8));
    CHECK(p.icmp_type == 8 && p.icmp_code == 0);
    check_prefixes(&f, "icmp echo");

    struct ct_key r;
    ct_key_reverse(&p.key, &r);
    CHECK(r.sport == htons(0x1234) && r.dport == (0 << 8));
    CHECK(addr4_is(r.src, "10.0.0.2"));

    /* The reply's key is the reverse key. */
    fg_ip4(&f, 0, "10.0.0.2", "10.0.0.1", 1);
    fg_icmp_hdr(&f, 0, 0, 0x1234, 1);
    fg_payload(&f, 32, 0);
    fg_finish_csum(&f, 2);
    p = parse(&f);
    CHECK(p.valid && !memcmp(&p.key, &r, sizeof r));

    /* Query types need code 0; timestamp and info are queries too; other
     * types are invalid. */
    static const struct { uint8_t type, code; bool ok; } cases[] = {
        { 8, 1, false }, { 0, 3, false }, { 13, 0, true }, { 14, 0, true },
        { 15, 0, true }, { 16, 0, true }, { 13, 1, false },
        { 17, 0, false }, { 18, 0, false }, { 9, 0, false },
        { 10, 0, false }, { 42, 0, false }, { 255, 0, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 1);
        fg_icmp_hdr(&f, cases[i].type, cases[i].code, 7, 1);
        fg_payload(&f, 12, 0);
        fg_finish_csum(&f, 2);
        p = parse(&f);
        CHECK(p.valid == cases[i].ok);
        if (p.valid) {
            CHECK(p.key.dport == cases[i].type << 8);
        }
    }

    /* Bad checksum; message shorter than 8 bytes. */
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 1);
    fg_icmp_hdr(&f, 8, 0, 7, 1);
    fg_finish_csum(&f, 2);
    CHECK(parses(&f));
    f.b[f.l4 + 7] ^= 0x10;
    CHECK(!parses(&f));
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 1);
    fg_put_u8(&f, 8);
    fg_put_u8(&f, 0);
    fg_put_u16(&f, 0);
    fg_put_u16(&f, 7);
    fg_finish_csum(&f, 2);
    CHECK(!parses(&f));

    /* Reverse types and valid_new. */
    CHECK(ct_icmp_reverse_type(4, 8) == 0 && ct_icmp_reverse_type(4, 0) == 8);
    CHECK(ct_icmp_reverse_type(4, 13) == 14);
    CHECK(ct_icmp_reverse_type(4, 16) == 15);
    CHECK(ct_icmp_reverse_type(4, 17) == 18);
    CHECK(ct_icmp_reverse_type(4, 3) == 3);
    CHECK(ct_icmp_reverse_type(6, 128) == 129);
    CHECK(ct_icmp_reverse_type(6, 129) == 128);
    CHECK(ct_icmp_reverse_type(6, 8) == 8);
    CHECK(ct_icmp_valid_new(4, 8) && ct_icmp_valid_new(4, 13));
    CHECK(ct_icmp_valid_new(4, 15));
    CHECK(!ct_icmp_valid_new(4, 0) && !ct_icmp_valid_new(4, 14));
    CHECK(!ct_icmp_valid_new(4, 3) && !ct_icmp_valid_new(4, 128));
    CHECK(ct_icmp_valid_new(6, 128) && !ct_icmp_valid_new(6, 129));
    CHECK(!ct_icmp_valid_new(6, 8));
}

/* An ICMPv4 error from 'src' to 'dst' quoting the IP packet of 'quoted',
 * cut to 'quote_len' bytes. */
static void
icmp4_error(struct fg_frame *f, const char *src, const char *dst, uint8_t type,
            uint8_t code, const struct fg_frame *quoted, size_t quote_len)
{
    fg_ip4(f, 0, src, dst, 1);
    fg_icmp_hdr(f, type, code, 0, 0);
    fg_put(f, quoted->b + quoted->l3, quote_len);
    fg_finish_csum(f, 2);
}

static void
icmp6_error(struct fg_frame *f, const char *src, const char *dst, uint8_t type,
            const struct fg_frame *quoted, size_t quote_len)
{
    fg_ip6(f, 0, src, dst, 58);
    fg_icmp_hdr(f, type, 0, 0, 0);
    fg_put(f, quoted->b + quoted->l3, quote_len);
    fg_finish_csum(f, 2);
}

static void
test_icmp_error(void)
{
    struct fg_frame udp, f;

    fg_udp_frame(&udp, "10.0.0.1", "10.0.0.9", 5555, 9999, 6);
    struct ct_pkt u = parse(&udp);
    CHECK(u.valid);

    /* Port unreachable from the destination: the key is the quoted flow
     * reversed (OVS's conn_key_reverse() after extraction). */
    icmp4_error(&f, "10.0.0.9", "10.0.0.1", 3, 3, &udp, 28);
    struct ct_pkt p = parse(&f);
    struct ct_key r;
    ct_key_reverse(&u.key, &r);
    CHECK(p.valid && p.icmp_related);
    CHECK(!memcmp(&p.key, &r, sizeof r));
    CHECK(p.icmp_type == 3 && p.icmp_code == 3);
    CHECK(p.l4_ofs == 34 && p.inner_l3_ofs == 42 && p.inner_l4_ofs == 62);
    check_prefixes(&f, "icmp error");

    /* From a router: the quoted destination is not checked. */
    icmp4_error(&f, "10.0.0.254", "10.0.0.1", 11, 0, &udp, 28);
    p = parse(&f);
    CHECK(p.valid && p.icmp_related && !memcmp(&p.key, &r, sizeof r));
    for (uint8_t t = 0; t < 20; t++) {
        icmp4_error(&f, "10.0.0.254", "10.0.0.1", t, 0, &udp, 28);
        p = parse(&f);
        bool error = t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
        CHECK(p.icmp_related == error);
    }

    /* The whole datagram may be quoted. */
    icmp4_error(&f, "10.0.0.9", "10.0.0.1", 3, 3, &udp, udp.len - udp.l3);
    CHECK(parse(&f).icmp_related);

    /* Quoted source must be the outer destination. */
    icmp4_error(&f, "10.0.0.9", "10.0.0.8", 3, 3, &udp, 28);
    CHECK(!parses(&f));

    /* Fewer than 8 quoted L4 bytes; a quoted IP header cut short. */
    icmp4_error(&f, "10.0.0.9", "10.0.0.1", 3, 3, &udp, 27);
    CHECK(!parses(&f));
    icmp4_error(&f, "10.0.0.9", "10.0.0.1", 3, 3, &udp, 19);
    CHECK(!parses(&f));

    /* The quoted header's checksum and total length are not checked. */
    struct fg_frame bad = udp;
    bad.b[bad.l3 + 10] ^= 0xff;
    bad.b[bad.l3 + 2] = 0xff;
    icmp4_error(&f, "10.0.0.9", "10.0.0.1", 3, 3, &bad, 28);
    CHECK(parses(&f));

    /* A quoted fragment is invalid. */
    bad = udp;
    bad.b[bad.l3 + 6] = 0x20;
    icmp4_error(&f, "10.0.0.9", "10.0.0.1", 3, 3, &bad, 28);
    CHECK(!parses(&f));

    /* Quoted port 0. */
    bad = udp;
    fg_set16(&bad, bad.l4, 0);
    icmp4_error(&f, "10.0.0.9", "10.0.0.1", 3, 3, &bad, 28);
    CHECK(!parses(&f));

    /* Quoted TCP needs 8 bytes in v4. */
    struct fg_frame tcp;
    fg_ip4(&tcp, 0, "10.0.0.1", "10.0.0.9", 6);
    fg_tcp_hdr(&tcp, 1234, 80, 1, 0, 0x02, 100, NULL, 0, 0);
    fg_finish_csum(&tcp, 16);
    icmp4_error(&f, "10.0.0.9", "10.0.0.1", 3, 3, &tcp, 28);
    p = parse(&f);
    CHECK(p.valid && p.icmp_related && p.key.nw_proto == 6);
    CHECK(p.key.sport == htons(80) && p.key.dport == htons(1234));

    /* Quoted echo request: reversed, so the type becomes the reply's. */
    struct fg_frame echo;
    fg_ip4(&echo, 0, "10.0.0.1", "10.0.0.2", 1);
    fg_icmp_hdr(&echo, 8, 0, 0x77, 1);
    fg_payload(&echo, 16, 0);
    fg_finish_csum(&echo, 2);
    icmp4_error(&f, "10.0.0.254", "10.0.0.1", 3, 1, &echo, 28);
    p = parse(&f);
    CHECK(p.valid && p.icmp_related);
    CHECK(addr4_is(p.key.src, "10.0.0.2") && addr4_is(p.key.dst, "10.0.0.1"));
    CHECK(p.key.sport == htons(0x77) && p.key.dport == 0);

    /* Quoted echo with code 1, or an unknown type: invalid. */
    echo.b[echo.l4 + 1] = 1;
    icmp4_error(&f, "10.0.0.254", "10.0.0.1", 3, 1, &echo, 28);
    CHECK(!parses(&f));

    /* An error quoting an error is invalid. */
    struct fg_frame err1 = f;
    icmp4_error(&err1, "10.0.0.9", "10.0.0.1", 3, 3, &udp, 28);
    icmp4_error(&f, "10.0.0.254", "10.0.0.9", 11, 0, &err1, 28);
    CHECK(!parses(&f));

    /* A quoted "other" protocol needs no L4 bytes. */
    struct fg_frame gre;
    fg_ip4(&gre, 0, "10.0.0.1", "10.0.0.2", 47);
    fg_finish_csum(&gre, -1);
    icmp4_error(&f, "10.0.0.2", "10.0.0.1", 3, 2, &gre, 20);
    p = parse(&f);
    CHECK(p.valid && p.icmp_related && p.key.nw_proto == 47);
    CHECK(p.key.sport == 0 && p.key.dport == 0);
    CHECK(addr4_is(p.key.src, "10.0.0.2"));

    /* v4 errors quote v4: a quoted v6 header fails the v4 checks. */
    struct fg_frame u6;
    fg_udp_frame(&u6, "fc00::1", "fc00::9", 1, 2, 4);
    icmp4_error(&f, "10.0.0.9", "10.0.0.1", 3, 3, &u6, 48);
    CHECK(!parses(&f));
}

static void
test_icmp6(void)
{
    struct fg_frame f;

    fg_ip6(&f, 0, "fc00::1", "fc00::2", 58);
    fg_icmp_hdr(&f, 128, 0, 7, 1);
    fg_payload(&f, 32, 0);
    fg_finish_csum(&f, 2);
    struct ct_pkt p = parse(&f);
    CHECK(p.valid && p.key.nw_proto == 58 && p.key.l3 == 6);
    CHECK(p.key.sport == htons(7) && p.key.dport == 128 << 8);
    check_prefixes(&f, "icmp6 echo");
    struct ct_key r;
    ct_key_reverse(&p.key, &r);
    CHECK(r.dport == 129 << 8 && addr6_is(r.src, "fc00::2"));

    /* Bad checksum (it covers the pseudo-header: change an address). */
    f.b[f.l3 + 8 + 15] ^= 1;
    CHECK(!parses(&f));

    /* Echo with code 1; neighbour discovery, MLD, router messages are all
     * invalid for OVS. */
    static const struct { uint8_t type, code; bool ok; } cases[] = {
        { 128, 1, false }, { 129, 0, true }, { 129, 2, false },
        { 130, 0, false }, { 133, 0, false }, { 134, 0, false },
        { 135, 0, false }, { 136, 0, false }, { 137, 0, false },
        { 143, 0, false }, { 0, 0, false }, { 200, 0, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fg_ip6(&f, 0, "fc00::1", "fc00::2", 58);
        fg_icmp_hdr(&f, cases[i].type, cases[i].code, 7, 1);
        fg_payload(&f, 16, 0);
        fg_finish_csum(&f, 2);
        CHECK(parses(&f) == cases[i].ok);
    }

    /* Errors: unreachable quoting UDP, with the key reversed. */
    struct fg_frame udp;
    fg_udp_frame(&udp, "fc00::1", "fc00::9", 6000, 8000, 3);
    struct ct_pkt u = parse(&udp);
    icmp6_error(&f, "fc00::9", "fc00::1", 1, &udp, udp.len - udp.l3);
    p = parse(&f);
    ct_key_reverse(&u.key, &r);
    CHECK(p.valid && p.icmp_related && !memcmp(&p.key, &r, sizeof r));
    CHECK(p.inner_l3_ofs == 62 && p.inner_l4_ofs == 102);
    check_prefixes(&f, "icmp6 error");
    for (uint8_t t = 1; t <= 4; t++) {
        icmp6_error(&f, "fc00::fe", "fc00::1", t, &udp, 48);
        CHECK(parse(&f).icmp_related);
    }
    icmp6_error(&f, "fc00::fe", "fc00::1", 5, &udp, 48);
    CHECK(!parses(&f));
    icmp6_error(&f, "fc00::9", "fc00::1", 1, &udp, 47);
    CHECK(!parses(&f));
    icmp6_error(&f, "fc00::9", "fc00::7", 1, &udp, 48);
    CHECK(!parses(&f));

    /* Quoted TCP needs a full 20-byte header in v6 (OVS passes no 8-byte
     * minimum there). */
    struct fg_frame tcp;
    fg_ip6(&tcp, 0, "fc00::1", "fc00::9", 6);
    fg_tcp_hdr(&tcp, 1234, 80, 1, 0, 0x02, 100, NULL, 0, 0);
    fg_finish_csum(&tcp, 16);
    icmp6_error(&f, "fc00::9", "fc00::1", 1, &tcp, 48);
    CHECK(!parses(&f));
    icmp6_error(&f, "fc00::9", "fc00::1", 1, &tcp, 59);
    CHECK(!parses(&f));
    icmp6_error(&f, "fc00::9", "fc00::1", 1, &tcp, 60);
    CHECK(parse(&f).icmp_related);

    /* Quoted echo request, and a quoted error. */
    struct fg_frame echo;
    fg_ip6(&echo, 0, "fc00::1", "fc00::2", 58);
    fg_icmp_hdr(&echo, 128, 0, 9, 1);
    fg_finish_csum(&echo, 2);
    icmp6_error(&f, "fc00::fe", "fc00::1", 2, &echo, 48);
    p = parse(&f);
    CHECK(p.valid && p.icmp_related && p.key.dport == 129 << 8);
    CHECK(p.key.sport == htons(9) && addr6_is(p.key.src, "fc00::2"));
    struct fg_frame err1;
    icmp6_error(&err1, "fc00::2", "fc00::1", 1, &echo, 48);
    icmp6_error(&f, "fc00::fe", "fc00::2", 3, &err1, 56);
    CHECK(!parses(&f));

    /* The quoted header may carry extension headers; a quoted fragment is
     * invalid. */
    struct fg_frame q;
    fg_ip6(&q, 0, "fc00::1", "fc00::9", 0);
    fg_put_u8(&q, 17);
    fg_put_u8(&q, 0);
    fg_payload(&q, 6, 0);
    fg_l4_here(&q, 17);
    fg_udp_hdr(&q, 6000, 8000, 0, 0x30);
    fg_finish_csum(&q, 6);
    icmp6_error(&f, "fc00::9", "fc00::1", 1, &q, q.len - q.l3);
    CHECK(parse(&f).icmp_related);
    q.b[q.l3 + 6] = 44;
    q.b[q.l3 + 40 + 3] = 1;
    icmp6_error(&f, "fc00::9", "fc00::1", 1, &q, q.len - q.l3);
    CHECK(!parses(&f));
}

static void
test_vlan(void)
{
    struct fg_frame f;

    fg_ip4(&f, 0x8100, "10.1.0.1", "10.1.0.2", 17);
    fg_udp_hdr(&f, 5000, 5001, 6, 0x30);
    fg_finish_csum(&f, 6);
    struct ct_pkt p = parse(&f);
    CHECK(p.valid && p.l3_ofs == 18 && p.l4_ofs == 38);
    check_prefixes(&f, "vlan");

    fg_ip6(&f, 0x88a8, "fc00::10", "fc00::20", 17);
    fg_udp_hdr(&f, 5000, 5001, 6, 0x30);
    fg_finish_csum(&f, 6);
    p = parse(&f);
    CHECK(p.valid && p.l3_ofs == 18 && p.key.l3 == 6);

    /* A second tag leaves EtherType 0x8100: not IP (vlan-limit 1). */
    struct fg_frame g;
    memset(&g, 0, sizeof g);
    fg_put(&g, f.b, 12);
    fg_put_u16(&g, 0x88a8);
    fg_put_u16(&g, 10);
    fg_put_u16(&g, 0x8100);
    fg_put_u16(&g, 20);
    fg_put_u16(&g, 0x86dd);
    fg_put(&g, f.b + 18, f.len - 18);
    CHECK(!parses(&g));

    /* Other EtherTypes, runts. */
    fg_eth(&f, 0, 0x0806);
    fg_payload(&f, 28, 0);
    CHECK(!parses(&f));
    fg_eth(&f, 0, 0x8847);
    fg_payload(&f, 40, 0);
    CHECK(!parses(&f));
    fg_eth(&f, 0x8100, 0x0806);
    fg_payload(&f, 28, 0);
    CHECK(!parses(&f));
}

static void
test_ipv4_header(void)
{
    struct fg_frame f, g;

    fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 1234, 5678, 32);
    CHECK(parses(&f));

    /* Bad header checksum. */
    g = f;
    g.b[g.l3 + 10] ^= 0x40;
    CHECK(!parses(&g));

    /* ihl below 5. */
    g = f;
    g.b[g.l3] = 0x44;
    CHECK(!parses(&g));

    /* Total length: beyond the frame, below the header, or cutting the UDP
     * header; padding beyond it is fine. */
    g = f;
    fg_set16(&g, g.l3 + 2, (uint16_t) (g.len - g.l3 + 1));
    g.b[g.l3 + 10] = g.b[g.l3 + 11] = 0;
    fg_set16(&g, g.l3 + 10, ref_finish(fg_ref_sum(0, g.b + g.l3, 20)));
    CHECK(!parses(&g));
    fg_set16(&g, g.l3 + 2, 19);
    g.b[g.l3 + 10] = g.b[g.l3 + 11] = 0;
    fg_set16(&g, g.l3 + 10, ref_finish(fg_ref_sum(0, g.b + g.l3, 20)));
    CHECK(!parses(&g));
    fg_set16(&g, g.l3 + 2, 24);
    g.b[g.l3 + 10] = g.b[g.l3 + 11] = 0;
    fg_set16(&g, g.l3 + 10, ref_finish(fg_ref_sum(0, g.b + g.l3, 20)));
    CHECK(!parses(&g));

    /* Options: ihl 6 with a router alert. */
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 17);
    f.b[f.l3] = 0x46;
    fg_put_u32(&f, 0x94040000);
    fg_l4_here(&f, 17);
    fg_udp_hdr(&f, 1234, 5678, 10, 0x30);
    fg_finish_csum(&f, 6);
    struct ct_pkt p = parse(&f);
    CHECK(p.valid && p.l4_ofs == 38);
    check_prefixes(&f, "ipv4 options");

    /* ihl beyond the total length. */
    g = f;
    g.b[g.l3] = 0x4f;
    fg_finish_csum(&g, -1);
    CHECK(!parses(&g));
}

static void
test_l4_checksums(void)
{
    struct fg_frame f;

    /* Every payload length, odd and even: valid, and invalid with any one
     * byte of the L4 data flipped.  This compares the word-wise checksum
     * with the reference on all tail shapes. */
    for (size_t n = 0; n < 80; n++) {
        fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 1, 2, n);
        CHECK(parses(&f));
        fg_udp_frame(&f, "fc00::1", "fc00::2", 1, 2, n);
        CHECK(parses(&f));
        for (size_t i = f.l4 + 8; i < f.len; i++) {
            f.b[i] ^= 0x5a;
            if (parses(&f)) {
                n_failed++;
                fprintf(stderr, "udp6 %zu bytes: flip at %zu passed\n", n, i);
            }
            f.b[i] ^= 0x5a;
        }
        fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 6);
        fg_tcp_hdr(&f, 1, 2, 3, 4, 0x10, 5, NULL, 0, n);
        fg_finish_csum(&f, 16);
        CHECK(parses(&f));
        fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 1);
        fg_icmp_hdr(&f, 8, 0, 1, 1);
        fg_payload(&f, n, 3);
        fg_finish_csum(&f, 2);
        CHECK(parses(&f));
        f.b[f.len - 1] ^= 0x80;
        CHECK(n == 0 ? parses(&f) == false : !parses(&f));
    }

    /* Large frame, beyond the unrolled loop many times. */
    fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 1, 2, 3000);
    CHECK(parses(&f));

    /* UDP checksum 0: not checked over v4, checked (and wrong) over v6. */
    fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 1, 2, 32);
    fg_set16(&f, f.l4 + 6, 0);
    CHECK(parses(&f));
    fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 1, 2, 32);
    f.b[f.l4 + 7] ^= 1;
    CHECK(!parses(&f));
    fg_udp_frame(&f, "fc00::1", "fc00::2", 1, 2, 32);
    fg_set16(&f, f.l4 + 6, 0);
    CHECK(!parses(&f));

    /* UDP length below 8 or beyond the L4 size. */
    fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 1, 2, 32);
    fg_set16(&f, f.l4 + 4, 7);
    fg_finish_csum(&f, 6);
    CHECK(!parses(&f));
    fg_set16(&f, f.l4 + 4, 41);
    fg_finish_csum(&f, 6);
    CHECK(!parses(&f));
    /* Shorter than the IP payload is accepted; the checksum then covers
     * the whole IP payload, as in OVS. */
    fg_set16(&f, f.l4 + 4, 20);
    fg_finish_csum(&f, 6);
    CHECK(parses(&f));
}

static void
test_ports(void)
{
    struct fg_frame f;

    fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 0, 53, 8);
    CHECK(!parses(&f));
    fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 53, 0, 8);
    CHECK(!parses(&f));
    fg_udp_frame(&f, "fc00::1", "fc00::2", 0, 53, 8);
    CHECK(!parses(&f));
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 6);
    fg_tcp_hdr(&f, 0, 80, 1, 0, 0x02, 100, NULL, 0, 0);
    fg_finish_csum(&f, 16);
    CHECK(!parses(&f));
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 6);
    fg_tcp_hdr(&f, 80, 0, 1, 0, 0x02, 100, NULL, 0, 0);
    fg_finish_csum(&f, 16);
    CHECK(!parses(&f));
}

static void
test_fragments(void)
{
    struct fg_frame f;

    /* IPv4: MF alone (first fragment), an offset alone (last fragment),
     * both; DF and the reserved bit are not fragments. */
    static const struct { uint16_t frag; bool ok; } v4[] = {
        { 0x2000, false }, { 0x00b9, false }, { 0x20b9, false },
        { 0x0001, false }, { 0x4000, true }, { 0x0000, true },
        { 0x8000, true },
    };
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
        fg_udp_frame(&f, "10.0.0.1", "10.0.0.2", 1, 2, 16);
        fg_set16(&f, f.l3 + 6, v4[i].frag);
        fg_finish_csum(&f, -1);
        CHECK(parses(&f) == v4[i].ok);
    }

    /* IPv6 fragment header: M set, offset set, both; an atomic fragment
     * (field 0) is skipped; reserved bits count as "not zero". */
    static const struct { uint16_t offlg; bool ok; } v6[] = {
        { 0x0001, false }, { 0x05a8, false }, { 0x05a9, false },
        { 0x0006, false }, { 0x0000, true },
    };
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
        fg_ip6(&f, 0, "fc00::1", "fc00::2", 44);
        fg_put_u8(&f, 17);
        fg_put_u8(&f, 0);
        fg_put_u16(&f, v6[i].offlg);
        fg_put_u32(&f, 0x1234);
        fg_l4_here(&f, 17);
        fg_udp_hdr(&f, 1, 2, 16, 0x30);
        fg_finish_csum(&f, 6);
        struct ct_pkt p = parse(&f);
        CHECK(p.valid == v6[i].ok);
        if (p.valid) {
            CHECK(p.l4_ofs == 62 && p.key.nw_proto == 17);
            check_prefixes(&f, "atomic fragment");
        }
    }
}

static void
test_ipv6_ext(void)
{
    struct fg_frame f;

    /* Hop-by-hop (8 bytes), routing (24), destination options (16), then
     * UDP. */
    fg_ip6(&f, 0, "fc00::1", "fc00::2", 0);
    fg_put_u8(&f, 43);
    fg_put_u8(&f, 0);
    fg_payload(&f, 6, 0);
    fg_put_u8(&f, 60);
    fg_put_u8(&f, 2);
    fg_put_u8(&f, 0);
    fg_put_u8(&f, 0);
    fg_payload(&f, 20, 0);
    fg_put_u8(&f, 17);
    fg_put_u8(&f, 1);
    fg_payload(&f, 14, 0);
    fg_l4_here(&f, 17);
    fg_udp_hdr(&f, 40003, 53, 20, 0x30);
    fg_finish_csum(&f, 6);
    struct ct_pkt p = parse(&f);
    CHECK(p.valid && p.key.nw_proto == 17 && p.l4_ofs == 14 + 40 + 48);
    CHECK(p.key.sport == htons(40003) && p.l4_len == 28);
    check_prefixes(&f, "ipv6 ext");

    /* AH: (len + 2) * 4 bytes. */
    fg_ip6(&f, 0, "fc00::1", "fc00::2", 51);
    fg_put_u8(&f, 17);
    fg_put_u8(&f, 4);
    fg_payload(&f, 22, 0);
    fg_l4_here(&f, 17);
    fg_udp_hdr(&f, 40006, 53, 20, 0x30);
    fg_finish_csum(&f, 6);
    p = parse(&f);
    CHECK(p.valid && p.l4_ofs == 14 + 40 + 24);
    check_prefixes(&f, "ipv6 ah");

    /* Extension header longer than the payload; fewer than 8 bytes. */
    fg_ip6(&f, 0, "fc00::1", "fc00::2", 0);
    fg_put_u8(&f, 17);
    fg_put_u8(&f, 10);
    fg_payload(&f, 6, 0);
    fg_l4_here(&f, 17);
    fg_udp_hdr(&f, 1, 2, 20, 0x30);
    fg_finish_csum(&f, 6);
    CHECK(!parses(&f));
    fg_ip6(&f, 0, "fc00::1", "fc00::2", 60);
    fg_put_u8(&f, 59);
    fg_put_u8(&f, 0);
    fg_payload(&f, 4, 0);
    fg_finish_csum(&f, -1);
    CHECK(!parses(&f));

    /* Ending in "no next header" (59): an "other" protocol. */
    fg_ip6(&f, 0, "fc00::1", "fc00::2", 60);
    fg_put_u8(&f, 59);
    fg_put_u8(&f, 0);
    fg_payload(&f, 6, 0);
    fg_finish_csum(&f, -1);
    p = parse(&f);
    CHECK(p.valid && p.key.nw_proto == 59 && p.key.sport == 0);

    /* Long chain of destination options. */
    fg_ip6(&f, 0, "fc00::1", "fc00::2", 60);
    for (int i = 0; i < 100; i++) {
        fg_put_u8(&f, i < 99 ? 60 : 17);
        fg_put_u8(&f, 0);
        fg_payload(&f, 6, 0);
    }
    fg_l4_here(&f, 17);
    fg_udp_hdr(&f, 1, 2, 4, 0x30);
    fg_finish_csum(&f, 6);
    CHECK(parses(&f));

    /* Payload length beyond the frame; padding beyond it is fine. */
    fg_udp_frame(&f, "fc00::1", "fc00::2", 1, 2, 16);
    fg_set16(&f, f.l3 + 4, (uint16_t) (f.len - f.l3 - 40 + 1));
    CHECK(!parses(&f));
    fg_udp_frame(&f, "fc00::1", "fc00::2", 1, 2, 16);
    f.len += 30;
    p = parse(&f);
    CHECK(p.valid && p.l4_len == 24);
    /* Payload length cutting the UDP header. */
    fg_udp_frame(&f, "fc00::1", "fc00::2", 1, 2, 16);
    fg_set16(&f, f.l3 + 4, 6);
    CHECK(!parses(&f));
}

static void
test_other(void)
{
    struct fg_frame f;

    /* VRRP. */
    fg_ip4(&f, 0, "192.168.0.30", "224.0.0.18", 112);
    fg_payload(&f, 20, 0);
    fg_finish_csum(&f, -1);
    struct ct_pkt p = parse(&f);
    CHECK(p.valid && p.key.nw_proto == 112);
    CHECK(p.key.sport == 0 && p.key.dport == 0);
    CHECK(addr4_is(p.key.dst, "224.0.0.18"));
    check_prefixes(&f, "vrrp");
    struct ct_key r;
    ct_key_reverse(&p.key, &r);
    CHECK(addr4_is(r.src, "224.0.0.18") && r.sport == 0 && r.dport == 0);

    /* No L4 bytes at all. */
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 47);
    fg_finish_csum(&f, -1);
    CHECK(parses(&f));

    /* ICMP over IPv6 and ICMPv6 over IPv4 are "other": nothing checked. */
    fg_ip6(&f, 0, "fc00::1", "fc00::2", 1);
    fg_payload(&f, 3, 0);
    fg_finish_csum(&f, -1);
    p = parse(&f);
    CHECK(p.valid && p.key.nw_proto == 1 && p.key.dport == 0);
    ct_key_reverse(&p.key, &r);
    CHECK(r.dport == 0 && r.sport == 0);
    fg_ip4(&f, 0, "10.0.0.1", "10.0.0.2", 58);
    fg_payload(&f, 3, 0);
    fg_finish_csum(&f, -1);
    CHECK(parses(&f));
}

/* Deterministic mutations of valid frames: must never crash, and offsets
 * of valid results must lie inside the frame. */
static void
test_mutations(void)
{
    struct fg_frame base[6];
    uint32_t x = 2463534242u;
    int bad = 0;

    fg_udp_frame(&base[0], "10.0.0.1", "10.0.0.2", 1, 2, 20);
    fg_udp_frame(&base[1], "fc00::1", "fc00::2", 1, 2, 20);
    icmp4_error(&base[2], "10.0.0.2", "10.0.0.1", 3, 3, &base[0], 28);
    icmp6_error(&base[3], "fc00::2", "fc00::1", 1, &base[1], 48);
    fg_ip4(&base[4], 0, "10.0.0.1", "10.0.0.2", 6);
    fg_tcp_hdr(&base[4], 1, 2, 3, 4, 0x02, 5, (const uint8_t[]) {
            3, 3, 5, 1, 2, 4, 1, 1 }, 8, 10);
    fg_finish_csum(&base[4], 16);
    fg_ip6(&base[5], 0, "fc00::1", "fc00::2", 0);
    fg_put_u8(&base[5], 44);
    fg_put_u8(&base[5], 0);
    fg_payload(&base[5], 6, 0);
    fg_put_u32(&base[5], 0x3a000000);
    fg_put_u32(&base[5], 0);
    fg_l4_here(&base[5], 58);
    fg_icmp_hdr(&base[5], 128, 0, 1, 1);
    fg_finish_csum(&base[5], 2);

    for (int i = 0; i < 200000; i++) {
        struct fg_frame f = base[i % 6];
        int n = 1 + (int) ((x >> 3) % 4);
        for (int k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            f.b[x % f.len] ^= (uint8_t) (1u << (x >> 29));
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (x % 5 == 0) {
            f.len = x % (f.len + 1);
        }
        struct ct_pkt p = parse(&f);
        if (p.valid && (p.l4_ofs + (size_t) p.l4_len > f.len
                        || p.l3_ofs >= p.l4_ofs
                        || (p.icmp_related
                            && (p.inner_l3_ofs <= p.l4_ofs
                                || p.inner_l4_ofs <= p.inner_l3_ofs
                                || p.inner_l4_ofs > f.len)))) {
            bad++;
        }
    }
    CHECK(bad == 0);
}

/* Tests of pcap.c. */

static char tmp_path[64];

static FILE *
tmp_create(void)
{
    strcpy(tmp_path, "/tmp/test_packet_XXXXXX");
    int fd = mkstemp(tmp_path);
    return fd < 0 ? NULL : fdopen(fd, "wb");
}

static int
load(const char *path, uint8_t **data, uint32_t **ofs, size_t *n,
     char *err, size_t err_size)
{
    size_t size;
    return ovsct_pcap_load(path, data, &size, ofs, n, err, err_size);
}

static void
test_pcap(void)
{
    struct fg_frame f1, f2;
    fg_udp_frame(&f1, "10.0.0.1", "10.0.0.2", 1, 2, 10);
    fg_udp_frame(&f2, "fc00::1", "fc00::2", 3, 4, 100);

    /* Round trip through ovsct_pcap_write(). */
    uint8_t data[4096];
    uint32_t offsets[4] = { 0 };
    memcpy(data, f1.b, f1.len);
    offsets[1] = (uint32_t) f1.len;
    offsets[2] = offsets[1];                    /* Empty frame. */
    memcpy(data + offsets[2], f2.b, f2.len);
    offsets[3] = offsets[2] + (uint32_t) f2.len;
    FILE *fp = tmp_create();
    CHECK(fp != NULL);
    if (!fp) {
        return;
    }
    fclose(fp);
    CHECK(ovsct_pcap_write(tmp_path, data, offsets, 3) == 0);

    uint8_t *d;
    uint32_t *o;
    size_t n, size;
    char err[256];
    int error = ovsct_pcap_load(tmp_path, &d, &size, &o, &n, err, sizeof err);
    CHECK(error == 0);
    if (!error) {
        CHECK(n == 3 && size == offsets[3]);
        CHECK(!memcmp(o, offsets, sizeof offsets));
        CHECK(!memcmp(d, data, size));
        free(d);
        free(o);
    }

    /* Truncations at every length: the header, a record header or a frame
     * cut short is an error; a cut between records loads fewer frames. */
    FILE *in = fopen(tmp_path, "rb");
    uint8_t file[8192];
    size_t file_len = in ? fread(file, 1, sizeof file, in) : 0;
    if (in) {
        fclose(in);
    }
    int bad = 0;
    for (size_t cut = 0; cut < file_len; cut++) {
        fp = fopen(tmp_path, "wb");
        fwrite(file, 1, cut, fp);
        fclose(fp);
        error = load(tmp_path, &d, &o, &n, err, sizeof err);
        bool boundary = (cut == 24 || cut == 24 + 16 + f1.len
                         || cut == 24 + 32 + f1.len);
        if (boundary ? error != 0 : (error != EINVAL || !err[0]
                                     || d || o)) {
            bad++;
            fprintf(stderr, "cut %zu: error %d (%s)\n", cut, error, err);
        }
        if (!error) {
            free(d);
            free(o);
        }
    }
    CHECK(bad == 0);

    /* Big-endian, nanosecond magic. */
    static const uint8_t be_hdr[24] = {
        0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0xff, 0xff, 0, 0, 0, 1,
    };
    fp = fopen(tmp_path, "wb");
    fwrite(be_hdr, 1, sizeof be_hdr, fp);
    uint8_t rec[16] = { 0 };
    rec[11] = (uint8_t) f1.len;
    rec[15] = (uint8_t) f1.len;
    fwrite(rec, 1, sizeof rec, fp);
    fwrite(f1.b, 1, f1.len, fp);
    fclose(fp);
    error = load(tmp_path, &d, &o, &n, err, sizeof err);
    CHECK(error == 0 && n == 1 && o[1] == f1.len);
    if (!error) {
        CHECK(!memcmp(d, f1.b, f1.len));
        free(d);
        free(o);
    }

    /* A link type that is not read (802.11). */
    uint8_t raw_hdr[24];
    memcpy(raw_hdr, be_hdr, sizeof raw_hdr);
    raw_hdr[23] = 105;
    fp = fopen(tmp_path, "wb");
    fwrite(raw_hdr, 1, sizeof raw_hdr, fp);
    fclose(fp);
    error = load(tmp_path, &d, &o, &n, err, sizeof err);
    CHECK(error == EINVAL && strstr(err, "link type"));

    /* Garbage, empty, missing, oversized record. */
    fp = fopen(tmp_path, "wb");
    fputs("hello, this is not a capture file", fp);
    fclose(fp);
    CHECK(load(tmp_path, &d, &o, &n, err, sizeof err) == EINVAL);
    fp = fopen(tmp_path, "wb");
    fclose(fp);
    CHECK(load(tmp_path, &d, &o, &n, err, sizeof err) == EINVAL);
    fp = fopen(tmp_path, "wb");
    fwrite(be_hdr, 1, sizeof be_hdr, fp);
    memset(rec, 0xff, sizeof rec);
    fwrite(rec, 1, sizeof rec, fp);
    fclose(fp);
    CHECK(load(tmp_path, &d, &o, &n, err, sizeof err) == EINVAL);
    CHECK(load(tmp_path, &d, &o, &n, NULL, 0) == EINVAL);
    unlink(tmp_path);
    CHECK(load(tmp_path, &d, &o, &n, err, sizeof err) == ENOENT);
    CHECK(strstr(err, "No such file") != NULL);

    /* Decreasing offsets. */
    uint32_t dec[3] = { 0, 10, 5 };
    CHECK(ovsct_pcap_write(tmp_path, data, dec, 2) == EINVAL);
    unlink(tmp_path);
}

/* Loads each capture listed in DIR/expected.txt and checks the frame count
 * and what ct_parse() makes of each frame. */
static void
test_captures(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.txt", dir);
    FILE *list = fopen(path, "r");
    CHECK(list != NULL);
    if (!list) {
        return;
    }

    char line[4096];
    int n_files = 0;
    while (fgets(line, sizeof line, list)) {
        char name[256], codes[2048];
        size_t count;
        if (line[0] == '#'
            || sscanf(line, "%255s %zu %2047s", name, &count, codes) != 3) {
            continue;
        }
        n_files++;
        snprintf(path, sizeof path, "%s/%s", dir, name);

        uint8_t *d;
        uint32_t *o;
        size_t n, size;
        char err[256];
        int error = ovsct_pcap_load(path, &d, &size, &o, &n, err,
                                    sizeof err);
        if (error) {
            fprintf(stderr, "%s: %s\n", name, err);
        }
        CHECK(error == 0);
        if (error) {
            continue;
        }
        CHECK(n == count && strlen(codes) == count);
        for (size_t i = 0; i < n && i < strlen(codes); i++) {
            struct ct_pkt p;
            bool ok = ct_parse(d + o[i], o[i + 1] - o[i], &p);
            char got = !ok ? 'i' : p.icmp_related ? 'r' : 'v';
            if (got != codes[i]) {
                fprintf(stderr, "%s frame %zu: expected %c, got %c\n",
                        name, i + 1, codes[i], got);
            }
            CHECK(got == codes[i]);
        }

        /* Every truncation of the file: an error or a prefix of the
         * frames, never a crash. */
        FILE *in = fopen(path, "rb");
        static uint8_t file[1 << 16];
        size_t file_len = fread(file, 1, sizeof file, in);
        fclose(in);
        strcpy(tmp_path, "/tmp/test_packet_XXXXXX");
        int fd = mkstemp(tmp_path);
        FILE *fp = fdopen(fd, "wb");
        fwrite(file, 1, file_len, fp);
        fclose(fp);
        int bad = 0;
        for (size_t cut = file_len; cut-- > 0; ) {
            if (truncate(tmp_path, (off_t) cut)) {
                bad++;
                break;
            }
            uint8_t *d2;
            uint32_t *o2;
            size_t n2;
            error = load(tmp_path, &d2, &o2, &n2, err, sizeof err);
            if (!error) {
                if (n2 >= n || memcmp(o2, o, (n2 + 1) * sizeof *o)) {
                    bad++;
                }
                free(d2);
                free(o2);
            } else if (!err[0]) {
                bad++;
            }
        }
        unlink(tmp_path);
        CHECK(bad == 0);
        free(d);
        free(o);
    }
    fclose(list);
    CHECK(n_files >= 8);

    /* Sections of different byte orders in one file (libpcap refuses them,
     * so gen_pcaps.py writes the two halves separately). */
    static uint8_t both[1 << 16];
    size_t both_len = 0;
    const char *halves[] = { "mixed.pcapng", "mixed-be.pcapng" };
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, halves[i]);
        FILE *in = fopen(path, "rb");
        CHECK(in != NULL);
        if (!in) {
            return;
        }
        both_len += fread(both + both_len, 1, sizeof both - both_len, in);
        fclose(in);
    }
    FILE *fp = tmp_create();
    fwrite(both, 1, both_len, fp);
    fclose(fp);
    uint8_t *d;
    uint32_t *o;
    size_t n;
    char err[256];
    int error = load(tmp_path, &d, &o, &n, err, sizeof err);
    unlink(tmp_path);
    CHECK(error == 0 && n == 14);
    if (!error) {
        for (size_t i = 0; i < 7 && n == 14; i++) {
            CHECK(o[i + 1] - o[i] == o[i + 8] - o[i + 7]);
            CHECK(!memcmp(d + o[i], d + o[i + 7], o[i + 1] - o[i]));
        }
        free(d);
        free(o);
    }
}

int
main(int argc, char *argv[])
{
    test_udp4();
    test_udp6();
    test_tcp();
    test_icmp_echo();
    test_icmp_error();
    test_icmp6();
    test_vlan();
    test_ipv4_header();
    test_l4_checksums();
    test_ports();
    test_fragments();
    test_ipv6_ext();
    test_other();
    test_mutations();
    if (ovsct_pcap_load && ovsct_pcap_write) {
        test_pcap();
        for (int i = 1; i < argc; i++) {
            test_captures(argv[i]);
        }
        if (argc == 1 && !access("tests/data/expected.txt", R_OK)) {
            test_captures("tests/data");
        }
    } else {
        printf("pcap tests skipped: built without dpio/pcap.c\n");
    }

    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}
