/*
 * framegen.h -- the one C frame builder: Ethernet frames for the
 * benchmark driver (bench/bench.c), the OVS comparison driver
 * (benchmarks/ovs_driver.c) and the C test drivers (tests/c/).
 *
 * Header only (static inline), depends on the C library alone, so that
 * ovs_driver.c can include it while it links against OVS instead of the
 * engine.  Two kinds of builders:
 *
 *   - Benchmark frames (fg_udp(), fg_udp_dsts(), fg_tcp()): connection
 *     'id' is 10.x.y.z:sport -> 192.168.0.1:5000 (UDP) or :80 (TCP), with a
 *     distinct source address/port pair and never port 0.  They are built
 *     in the timed loop, so they copy a template and patch the address,
 *     the port and the IPv4 checksum incrementally.  Call fg_init() once
 *     per program first.
 *   - Test frames (struct fg_frame): any IPv4 or IPv6 header, optionally
 *     802.1Q-tagged, with UDP, TCP, ICMP echo or an ICMP error quoting
 *     another frame, and correct lengths and checksums (computed with the
 *     byte-pair reference sum fg_ref_sum(), which shares nothing with the
 *     engine's word-at-a-time sums).
 */
#ifndef OVSCT_FRAMEGEN_H
#define OVSCT_FRAMEGEN_H 1

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Benchmark frames. */

#define FG_FRAME_LEN 42                 /* Ethernet + IPv4 + UDP. */
#define FG_PORTS_PER_ADDR 60000         /* Source ports 1..60000. */
#define FG_IP_OFS 14
#define FG_IP_CSUM_OFS (FG_IP_OFS + 10)
#define FG_IP_SRC_OFS (FG_IP_OFS + 12)
#define FG_IP_DST_OFS (FG_IP_OFS + 16)
#define FG_L4_OFS (FG_IP_OFS + 20)
#define FG_UDP_SPORT_OFS FG_L4_OFS
#define FG_SERVER_ADDR 0xc0a80001u      /* 192.168.0.1 */
#define FG_TCP_CLIENT_ISN 1000u
#define FG_TCP_SERVER_ISN 500000u
#define FG_TCP_STAGES 8                 /* Frames of one TCP connection. */
#define FG_TCP_PAYLOAD 16

/* The UDP frame of every connection before its source address, source
 * port and IPv4 checksum are filled in. */
static const uint8_t fg_udp_template[FG_FRAME_LEN] = {
    /* Ethernet: dst 50:54:00:00:00:0a, src 50:54:00:00:00:09, IPv4. */
    0x50, 0x54, 0x00, 0x00, 0x00, 0x0a, 0x50, 0x54, 0x00, 0x00, 0x00, 0x09,
    0x08, 0x00,
    /* IPv4: 20-byte header, total length 28, DF, TTL 64, UDP, checksum 0,
     * src 0.0.0.0 (patched), dst 192.168.0.1. */
    0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
    /* UDP: sport (patched), dport 5000, length 8, checksum 0. */
    0x00, 0x00, 0x13, 0x88, 0x00, 0x08, 0x00, 0x00,
};

/* One's complement sum of the template's IPv4 header (source zero). */
static uint32_t fg_template_ip_sum;

/* TCP flags. */
enum { FG_TH_FIN = 0x01, FG_TH_SYN = 0x02, FG_TH_RST = 0x04,
       FG_TH_PSH = 0x08, FG_TH_ACK = 0x10 };

/* One frame of a TCP connection's life: direction, flags, sequence and
 * acknowledgment numbers as offsets from the sender's and the receiver's
 * initial sequence numbers, payload bytes. */
struct fg_tcp_step {
    bool reply;
    uint8_t flags;
    uint32_t seq, ack;
    uint16_t payload;
};
static const struct fg_tcp_step fg_tcp_steps[FG_TCP_STAGES] = {
    { false, FG_TH_SYN, 0, 0, 0 },
    { true, FG_TH_SYN | FG_TH_ACK, 0, 1, 0 },
    { false, FG_TH_ACK, 1, 1, 0 },
    { false, FG_TH_PSH | FG_TH_ACK, 1, 1, FG_TCP_PAYLOAD },
    { true, FG_TH_ACK, 1, 1 + FG_TCP_PAYLOAD, 0 },
    { false, FG_TH_FIN | FG_TH_ACK, 1 + FG_TCP_PAYLOAD, 1, 0 },
    { true, FG_TH_FIN | FG_TH_ACK, 1, 2 + FG_TCP_PAYLOAD, 0 },
    { false, FG_TH_ACK, 2 + FG_TCP_PAYLOAD, 2, 0 },
};

static inline void
fg_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void
fg_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

/* Internet checksum of byte pairs: add with fg_ref_sum(), fold with
 * fg_ref_fold() (complement the result for the field). */
static inline uint32_t
fg_ref_sum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t) (p[i] << 8 | p[i + 1]);
    }
    if (n & 1) {
        sum += (uint32_t) p[n - 1] << 8;
    }
    return sum;
}

static inline uint16_t
fg_ref_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) sum;
}

/* The complemented checksum field value of 'sum' (a 32-bit sum of at
 * most 2**16 byte pairs folds in two steps). */
static inline uint16_t
fg_csum(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return ~sum & 0xffff;
}

static inline void
fg_init(void)
{
    fg_template_ip_sum = fg_ref_sum(0, fg_udp_template + FG_IP_OFS, 20);
}

/* Source address (host order) and port of connection 'id'. */
static inline void
fg_endpoint(uint32_t id, uint32_t *src, uint16_t *sport)
{
    *src = 0x0a000001 + id / FG_PORTS_PER_ADDR;        /* 10.0.0.1 up. */
    *sport = 1 + id % FG_PORTS_PER_ADDR;
}

/* Writes the UDP frame of connection 'id' at 'f'; returns its length. */
static inline uint32_t
fg_udp(uint8_t *f, uint32_t id)
{
    uint32_t src, sum;
    uint16_t sport;

    fg_endpoint(id, &src, &sport);
    memcpy(f, fg_udp_template, FG_FRAME_LEN);
    fg_put32(f + FG_IP_SRC_OFS, src);
    sum = fg_template_ip_sum + (src >> 16) + (src & 0xffff);
    fg_put16(f + FG_IP_CSUM_OFS, fg_csum(sum));
    fg_put16(f + FG_UDP_SPORT_OFS, sport);
    return FG_FRAME_LEN;
}

/* The same with destination 192.168.0.1 + id / FG_PORTS_PER_ADDR. */
static inline uint32_t
fg_udp_dsts(uint8_t *f, uint32_t id)
{
    uint32_t dst = FG_SERVER_ADDR + id / FG_PORTS_PER_ADDR;

    fg_udp(f, id);
    fg_put32(f + FG_IP_DST_OFS, dst);
    fg_put16(f + FG_IP_CSUM_OFS, 0);
    fg_put16(f + FG_IP_CSUM_OFS,
             fg_csum(fg_ref_sum(0, f + FG_IP_OFS, 20)));
    return FG_FRAME_LEN;
}

/* Writes frame 'stage' (fg_tcp_steps[]) of TCP connection 'id' at 'f';
 * returns its length. */
static inline uint32_t
fg_tcp(uint8_t *f, uint32_t id, int stage)
{
    const struct fg_tcp_step *s = &fg_tcp_steps[stage];
    uint32_t client, server = FG_SERVER_ADDR, len = 54 + s->payload, sum;
    uint16_t cport, sport = 80;
    uint8_t *ip = f + FG_IP_OFS, *th = f + FG_L4_OFS;

    fg_endpoint(id, &client, &cport);
    memcpy(f, fg_udp_template, FG_IP_OFS);
    ip[0] = 0x45;
    ip[1] = 0;
    fg_put16(ip + 2, 20 + 20 + s->payload);
    fg_put16(ip + 4, 0);
    fg_put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    fg_put16(ip + 10, 0);
    fg_put32(ip + 12, s->reply ? server : client);
    fg_put32(ip + 16, s->reply ? client : server);
    fg_put16(ip + 10, fg_csum(fg_ref_sum(0, ip, 20)));

    fg_put16(th, s->reply ? sport : cport);
    fg_put16(th + 2, s->reply ? cport : sport);
    fg_put32(th + 4, (s->reply ? FG_TCP_SERVER_ISN : FG_TCP_CLIENT_ISN)
                     + s->seq);
    fg_put32(th + 8, s->flags & FG_TH_ACK
             ? (s->reply ? FG_TCP_CLIENT_ISN : FG_TCP_SERVER_ISN) + s->ack
             : 0);
    th[12] = 5 << 4;
    th[13] = s->flags;
    fg_put16(th + 14, 65535);
    fg_put16(th + 16, 0);
    fg_put16(th + 18, 0);
    memset(th + 20, 0x5a, s->payload);
    /* Pseudo-header, then the segment. */
    sum = fg_ref_sum(0, ip + 12, 8) + 6 + 20 + s->payload;
    fg_put16(th + 16, fg_csum(fg_ref_sum(sum, th, 20 + s->payload)));
    return len;
}

/* Test frames. */

struct fg_frame {
    uint8_t b[4096];
    size_t len;
    size_t l3;                  /* Offset of the IP header. */
    size_t l4;                  /* Offset of the L4 header. */
    int v;                      /* 4 or 6. */
    uint8_t proto;              /* L4 protocol for the pseudo-header. */
};

static inline uint16_t
fg_be16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline void
fg_put(struct fg_frame *f, const void *p, size_t n)
{
    if (n) {
        memcpy(f->b + f->len, p, n);
        f->len += n;
    }
}

static inline void
fg_put_u8(struct fg_frame *f, uint8_t x)
{
    f->b[f->len++] = x;
}

static inline void
fg_put_u16(struct fg_frame *f, uint16_t x)
{
    fg_put16(f->b + f->len, x);
    f->len += 2;
}

static inline void
fg_put_u32(struct fg_frame *f, uint32_t x)
{
    fg_put32(f->b + f->len, x);
    f->len += 4;
}

/* Overwrites the 16-bit field at offset 'ofs'. */
static inline void
fg_set16(struct fg_frame *f, size_t ofs, uint16_t x)
{
    fg_put16(f->b + ofs, x);
}

/* 4 or 6: the family of address text 'addr'. */
static inline int
fg_family(const char *addr)
{
    return strchr(addr, ':') ? 6 : 4;
}

/* Parses address text 'text' (either family) into 'out'; exits on a bad
 * address (a bug in the test). */
static inline void
fg_pton(const char *text, uint8_t *out)
{
    if (inet_pton(fg_family(text) == 4 ? AF_INET : AF_INET6, text,
                  out) != 1) {
        fprintf(stderr, "bad address %s\n", text);
        exit(2);
    }
}

/* Starts 'f' with an Ethernet header; 'tpid' non-zero adds one tag
 * (TCI 100). */
static inline void
fg_eth(struct fg_frame *f, uint16_t tpid, uint16_t type)
{
    static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };

    memset(f, 0, sizeof *f);
    fg_put(f, macs, sizeof macs);
    if (tpid) {
        fg_put_u16(f, tpid);
        fg_put_u16(f, 100);
    }
    fg_put_u16(f, type);
}

/* Ethernet and a 20-byte IPv4 header from raw addresses (network order).
 * Lengths and checksums: fg_finish_csum(). */
static inline void
fg_ip4_raw(struct fg_frame *f, uint16_t tpid, const uint8_t src[4],
           const uint8_t dst[4], uint8_t proto)
{
    fg_eth(f, tpid, 0x0800);
    f->l3 = f->len;
    f->v = 4;
    f->proto = proto;
    fg_put_u8(f, 0x45);
    fg_put_u8(f, 0);
    fg_put_u16(f, 0);                   /* Total length. */
    fg_put_u16(f, 1);
    fg_put_u16(f, 0x4000);              /* DF. */
    fg_put_u8(f, 64);
    fg_put_u8(f, proto);
    fg_put_u16(f, 0);                   /* Checksum. */
    fg_put(f, src, 4);
    fg_put(f, dst, 4);
    f->l4 = f->len;
}

static inline void
fg_ip4(struct fg_frame *f, uint16_t tpid, const char *src, const char *dst,
       uint8_t proto)
{
    uint8_t s[16], d[16];

    fg_pton(src, s);
    fg_pton(dst, d);
    fg_ip4_raw(f, tpid, s, d, proto);
}

/* Ethernet and an IPv6 header from raw addresses; the caller may add
 * extension headers, then calls fg_l4_here() with the final protocol. */
static inline void
fg_ip6_raw(struct fg_frame *f, uint16_t tpid, const uint8_t src[16],
           const uint8_t dst[16], uint8_t nxt)
{
    fg_eth(f, tpid, 0x86dd);
    f->l3 = f->len;
    f->v = 6;
    f->proto = nxt;
    fg_put_u32(f, 0x60000000);
    fg_put_u16(f, 0);                   /* Payload length. */
    fg_put_u8(f, nxt);
    fg_put_u8(f, 64);
    fg_put(f, src, 16);
    fg_put(f, dst, 16);
    f->l4 = f->len;
}

static inline void
fg_ip6(struct fg_frame *f, uint16_t tpid, const char *src, const char *dst,
       uint8_t nxt)
{
    uint8_t s[16], d[16];

    fg_pton(src, s);
    fg_pton(dst, d);
    fg_ip6_raw(f, tpid, s, d, nxt);
}

/* The IP header of either family (by 'src'), untagged or with one
 * 802.1Q tag. */
static inline void
fg_ip(struct fg_frame *f, bool tag, const char *src, const char *dst,
      uint8_t proto)
{
    if (fg_family(src) == 4) {
        fg_ip4(f, tag ? 0x8100 : 0, src, dst, proto);
    } else {
        fg_ip6(f, tag ? 0x8100 : 0, src, dst, proto);
    }
}

/* The L4 header starts here, with protocol 'proto'. */
static inline void
fg_l4_here(struct fg_frame *f, uint8_t proto)
{
    f->l4 = f->len;
    f->proto = proto;
}

/* Appends 'n' payload bytes derived from 'seed'. */
static inline void
fg_payload(struct fg_frame *f, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        fg_put_u8(f, (uint8_t) (seed + i * 13));
    }
}

/* Sum of the pseudo-header of the IP header at 'ip'. */
static inline uint32_t
fg_pseudo_sum(int v, const uint8_t *ip, uint8_t proto, size_t l4_len)
{
    uint32_t sum = v == 4 ? fg_ref_sum(0, ip + 12, 8)
                          : fg_ref_sum(0, ip + 8, 32);

    return sum + proto + (uint32_t) l4_len;
}

/* Sets the IP lengths and header checksum, and the L4 checksum at
 * 'csum_ofs' from the L4 header (-1: none; ICMPv4 has no pseudo-header). */
static inline void
fg_finish_csum(struct fg_frame *f, int csum_ofs)
{
    size_t l4_len = f->len - f->l4;
    uint8_t *ip = f->b + f->l3;

    if (f->v == 4) {
        size_t ihl = (size_t) (ip[0] & 15) * 4;

        fg_put16(ip + 2, (uint16_t) (f->len - f->l3));
        fg_put16(ip + 10, 0);
        fg_put16(ip + 10, (uint16_t) ~fg_ref_fold(fg_ref_sum(0, ip, ihl)));
    } else {
        fg_put16(ip + 4, (uint16_t) (f->len - f->l3 - 40));
    }
    if (csum_ofs < 0) {
        return;
    }
    uint8_t *c = f->b + f->l4 + csum_ofs;
    uint32_t sum = 0;
    fg_put16(c, 0);
    if (f->v == 6 || f->proto != 1) {
        sum = fg_pseudo_sum(f->v, ip, f->proto, l4_len);
    }
    uint16_t x = (uint16_t) ~fg_ref_fold(fg_ref_sum(sum, f->b + f->l4,
                                                    l4_len));
    if (f->proto == 17 && !x) {
        x = 0xffff;
    }
    fg_put16(c, x);
}

/* The same with the checksum field of f->proto (TCP, UDP, ICMP,
 * ICMPv6; none for others), or none if 'no_l4_csum'. */
static inline void
fg_finish(struct fg_frame *f, bool no_l4_csum)
{
    int ofs = (f->proto == 6 ? 16 : f->proto == 17 ? 6
               : f->proto == 1 || f->proto == 58 ? 2 : -1);

    fg_finish_csum(f, no_l4_csum ? -1 : ofs);
}

/* L4 headers, appended at the current end. */

static inline void
fg_udp_hdr(struct fg_frame *f, uint16_t sport, uint16_t dport,
           size_t data_len, uint8_t seed)
{
    fg_put_u16(f, sport);
    fg_put_u16(f, dport);
    fg_put_u16(f, (uint16_t) (8 + data_len));
    fg_put_u16(f, 0);
    fg_payload(f, data_len, seed);
}

static inline void
fg_tcp_hdr(struct fg_frame *f, uint16_t sport, uint16_t dport, uint32_t seq,
           uint32_t ack, uint8_t flags, uint16_t win, const uint8_t *opts,
           size_t opts_len, size_t data_len)
{
    fg_put_u16(f, sport);
    fg_put_u16(f, dport);
    fg_put_u32(f, seq);
    fg_put_u32(f, ack);
    fg_put_u8(f, (uint8_t) ((5 + opts_len / 4) << 4));
    fg_put_u8(f, flags);
    fg_put_u16(f, win);
    fg_put_u16(f, 0);
    fg_put_u16(f, 0);
    fg_put(f, opts, opts_len);
    fg_payload(f, data_len, 0x41);
}

/* ICMP(v4 or v6) header: type, code and the 4-byte rest (id, seq). */
static inline void
fg_icmp_hdr(struct fg_frame *f, uint8_t type, uint8_t code, uint16_t id,
            uint16_t seq)
{
    fg_put_u8(f, type);
    fg_put_u8(f, code);
    fg_put_u16(f, 0);
    fg_put_u16(f, id);
    fg_put_u16(f, seq);
}

/* Whole frames. */

/* UDP with 'data_len' payload bytes. */
static inline void
fg_udp_frame(struct fg_frame *f, const char *src, const char *dst,
             uint16_t sport, uint16_t dport, size_t data_len)
{
    fg_ip(f, false, src, dst, 17);
    fg_udp_hdr(f, sport, dport, data_len, (uint8_t) sport);
    fg_finish(f, false);
}

/* TCP without options or payload, window 65535. */
static inline void
fg_tcp_frame(struct fg_frame *f, const char *src, const char *dst,
             uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
             uint8_t flags)
{
    fg_ip(f, false, src, dst, 6);
    fg_tcp_hdr(f, sport, dport, seq, ack, flags, 65535, NULL, 0, 0);
    fg_finish(f, false);
}

/* ICMP or ICMPv6 echo request (or reply if 'reply'). */
static inline void
fg_echo_frame(struct fg_frame *f, const char *src, const char *dst,
              bool reply, uint16_t id, uint16_t seq)
{
    bool v4 = fg_family(src) == 4;

    fg_ip(f, false, src, dst, v4 ? 1 : 58);
    fg_icmp_hdr(f, v4 ? (reply ? 0 : 8) : (reply ? 129 : 128), 0, id, seq);
    fg_payload(f, 21, 0x5a);
    fg_finish(f, false);
}

/* ICMP(v6) error 'type'/'code' with 4 bytes 'rest', quoting the IP
 * datagram of 'q' with 'l4_bytes' of its L4 part (SIZE_MAX: all). */
static inline void
fg_icmp_error_frame(struct fg_frame *f, const char *src, const char *dst,
                    uint8_t type, uint8_t code, uint32_t rest,
                    const struct fg_frame *q, size_t l4_bytes)
{
    size_t l4_avail = q->len - q->l4;

    fg_ip(f, false, src, dst, fg_family(src) == 4 ? 1 : 58);
    fg_put_u8(f, type);
    fg_put_u8(f, code);
    fg_put_u16(f, 0);
    fg_put_u32(f, rest);
    fg_put(f, q->b + q->l3, (q->l4 - q->l3)
                            + (l4_bytes < l4_avail ? l4_bytes : l4_avail));
    fg_finish(f, false);
}

#endif /* framegen.h */
