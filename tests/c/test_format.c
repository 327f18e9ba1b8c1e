/*
 * test_format.c -- ovsct_format_entry() against OVS's own output.
 *
 * Standalone: format.c depends on ovsct.h and names.h only.
 *
 *     gcc -O2 -Iext tests/c/test_format.c ext/format.c ext/names.c \
 *         -o test_format
 *     ./test_format            -> "N passed, N failed", exit 1 on failure
 *
 * The golden lines are verbatim output of a real Open vSwitch 3.1
 * (`ovs-appctl dpctl/dump-conntrack [-m] [-s]`, written by
 * ct_dpif_format_entry() in lib/ct-dpif.c); each connection is rebuilt by hand as a struct ovsct_entry and printed in the
 * four -m/-s combinations.  IPv4 and IPv6 addresses are cross-checked
 * against the C library's inet_ntop(), which is what OVS calls, on edge
 * cases and on random addresses.  Finally 1,000,000 lines must format in
 * well under a second (5 s under a sanitizer).
 */
#define _POSIX_C_SOURCE 200809L

#include "ovsct.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int n_passed, n_failed;

static void
check_str(const char *what, const char *got, const char *want)
{
    if (!strcmp(got, want)) {
        n_passed++;
    } else {
        n_failed++;
        printf("FAIL %s\n  got:  %s\n  want: %s\n", what, got, want);
    }
}

static void
check(const char *what, bool ok)
{
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
        printf("FAIL %s\n", what);
    }
}

/* Entry builders. */

static void
addr(uint8_t l3, const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(l3 == 6 ? AF_INET6 : AF_INET, s, out) != 1) {
        fprintf(stderr, "bad address %s\n", s);
        exit(2);
    }
}

/* A connection 'src:sport -> dst:dport' whose reply comes from
 * 'rsrc:rsport' to 'rdst:rdport' (NAT), in 'zone'. */
static struct ovsct_entry
conn(uint8_t l3, uint8_t proto, const char *src, const char *dst,
     uint16_t sport, uint16_t dport, const char *rsrc, const char *rdst,
     uint16_t rsport, uint16_t rdport, uint16_t zone)
{
    struct ovsct_entry e;

    memset(&e, 0, sizeof e);
    e.orig.l3 = e.reply.l3 = l3;
    e.orig.proto = e.reply.proto = proto;
    addr(l3, src, e.orig.src);
    addr(l3, dst, e.orig.dst);
    addr(l3, rsrc, e.reply.src);
    addr(l3, rdst, e.reply.dst);
    e.orig.sport = sport;
    e.orig.dport = dport;
    e.reply.sport = rsport;
    e.reply.dport = rdport;
    e.zone = zone;
    return e;
}

/* Plain connection, reply = reverse of orig. */
static struct ovsct_entry
simple(uint8_t l3, uint8_t proto, const char *src, const char *dst,
       uint16_t sport, uint16_t dport, uint16_t zone)
{
    return conn(l3, proto, src, dst, sport, dport, dst, src, dport, sport,
                zone);
}

/* ICMP echo: id in both ports, reply type as stored. */
static struct ovsct_entry
echo(uint8_t l3, const char *src, const char *dst, const char *rsrc,
     const char *rdst, uint16_t id, uint16_t zone)
{
    uint8_t proto = l3 == 6 ? 58 : 1;
    struct ovsct_entry e = conn(l3, proto, src, dst, id, id, rsrc, rdst,
                                id, id, zone);

    e.orig.icmp_type = l3 == 6 ? 128 : 8;
    e.reply.icmp_type = l3 == 6 ? 129 : 0;
    return e;
}

static void
tcp_info(struct ovsct_entry *e, uint8_t so, uint8_t sr, uint8_t wo,
         uint8_t wr, uint8_t fo, uint8_t fr)
{
    e->tcp_state[0] = so;
    e->tcp_state[1] = sr;
    e->tcp_wscale[0] = wo;
    e->tcp_wscale[1] = wr;
    e->tcp_flags[0] = fo;
    e->tcp_flags[1] = fr;
}

static void
fmt_check(const char *what, const struct ovsct_entry *e, bool verbose,
          bool stats, int64_t now, const char *want)
{
    char buf[2048];
    int n = ovsct_format_entry(e, verbose, stats, now, buf, sizeof buf);
    char label[256];

    snprintf(label, sizeof label, "%s%s%s", what, verbose ? " -m" : "",
             stats ? " -s" : "");
    check_str(label, buf, want);
    if (n != (int) strlen(want)) {
        n_failed++;
        printf("FAIL %s: returned %d, want %zu\n", label, n, strlen(want));
    }
}

/* One golden connection in the four forms: plain, -m, -s, -m -s. */
struct golden {
    const char *name;
    struct ovsct_entry e;
    int64_t now;
    const char *lines[4];
};

#define WS OVSCT_TCPF_WINDOW_SCALE

static void
test_golden(void)
{
    struct golden g[16];
    size_t n = 0;
    const int64_t now = 1000000;

    /* 018 line 1: UDP in zone 5, 57 s left. */
    g[n] = (struct golden) {
        "udp zone", simple(4, 17, "10.0.1.1", "10.1.0.2", 10001, 5000, 5),
        now, {
        "udp,orig=(src=10.0.1.1,dst=10.1.0.2,sport=10001,dport=5000),reply=(src=10.1.0.2,dst=10.0.1.1,sport=5000,dport=10001),zone=5",
        "udp,orig=(src=10.0.1.1,dst=10.1.0.2,sport=10001,dport=5000),reply=(src=10.1.0.2,dst=10.0.1.1,sport=5000,dport=10001),id=0,zone=5,status=0",
        "udp,orig=(src=10.0.1.1,dst=10.1.0.2,sport=10001,dport=5000),reply=(src=10.1.0.2,dst=10.0.1.1,sport=5000,dport=10001),zone=5,timeout=57",
        "udp,orig=(src=10.0.1.1,dst=10.1.0.2,sport=10001,dport=5000),reply=(src=10.1.0.2,dst=10.0.1.1,sport=5000,dport=10001),id=0,zone=5,status=0,timeout=57",
    }};
    g[n++].e.expiration = now + 57999;

    /* 018: ICMP echo, 26 s left. */
    g[n] = (struct golden) {
        "icmp", echo(4, "10.0.0.1", "10.1.0.2", "10.1.0.2", "10.0.0.1",
                     10000, 5), now, {
        "icmp,orig=(src=10.0.0.1,dst=10.1.0.2,id=10000,type=8,code=0),reply=(src=10.1.0.2,dst=10.0.0.1,id=10000,type=0,code=0),zone=5",
        "icmp,orig=(src=10.0.0.1,dst=10.1.0.2,id=10000,type=8,code=0),reply=(src=10.1.0.2,dst=10.0.0.1,id=10000,type=0,code=0),id=0,zone=5,status=0",
        "icmp,orig=(src=10.0.0.1,dst=10.1.0.2,id=10000,type=8,code=0),reply=(src=10.1.0.2,dst=10.0.0.1,id=10000,type=0,code=0),zone=5,timeout=26",
        "icmp,orig=(src=10.0.0.1,dst=10.1.0.2,id=10000,type=8,code=0),reply=(src=10.1.0.2,dst=10.0.0.1,id=10000,type=0,code=0),id=0,zone=5,status=0,timeout=26",
    }};
    g[n++].e.expiration = now + 26000;

    /* 018: ICMPv6 echo, 28 s left. */
    g[n] = (struct golden) {
        "icmpv6", echo(6, "fc00::20", "fc00::2", "fc00::2", "fc00::20",
                       10000, 5), now, {
        "icmpv6,orig=(src=fc00::20,dst=fc00::2,id=10000,type=128,code=0),reply=(src=fc00::2,dst=fc00::20,id=10000,type=129,code=0),zone=5",
        "icmpv6,orig=(src=fc00::20,dst=fc00::2,id=10000,type=128,code=0),reply=(src=fc00::2,dst=fc00::20,id=10000,type=129,code=0),id=0,zone=5,status=0",
        "icmpv6,orig=(src=fc00::20,dst=fc00::2,id=10000,type=128,code=0),reply=(src=fc00::2,dst=fc00::20,id=10000,type=129,code=0),zone=5,timeout=28",
        "icmpv6,orig=(src=fc00::20,dst=fc00::2,id=10000,type=128,code=0),reply=(src=fc00::2,dst=fc00::20,id=10000,type=129,code=0),id=0,zone=5,status=0,timeout=28",
    }};
    g[n++].e.expiration = now + 28500;

    /* 018: SNAT TCP with mark and label, SYN_SENT with window scale. */
    g[n] = (struct golden) {
        "tcp snat mark label",
        conn(4, 6, "10.1.1.5", "10.1.1.2", 4000, 80,
             "10.1.1.2", "10.1.1.242", 80, 3002, 7), now, {
        "tcp,orig=(src=10.1.1.5,dst=10.1.1.2,sport=4000,dport=80),reply=(src=10.1.1.2,dst=10.1.1.242,sport=80,dport=3002),zone=7,mark=42,labels=0xabcd,protoinfo=(state=SYN_SENT)",
        "tcp,orig=(src=10.1.1.5,dst=10.1.1.2,sport=4000,dport=80),reply=(src=10.1.1.2,dst=10.1.1.242,sport=80,dport=3002),id=0,zone=7,status=0,mark=42,labels=0xabcd,protoinfo=(state_orig=SYN_SENT,state_reply=CLOSED,wscale_orig=7,wscale_reply=0,flags_orig=WINDOW_SCALE,flags_reply=0)",
        "tcp,orig=(src=10.1.1.5,dst=10.1.1.2,sport=4000,dport=80),reply=(src=10.1.1.2,dst=10.1.1.242,sport=80,dport=3002),zone=7,timeout=29,mark=42,labels=0xabcd,protoinfo=(state=SYN_SENT)",
        "tcp,orig=(src=10.1.1.5,dst=10.1.1.2,sport=4000,dport=80),reply=(src=10.1.1.2,dst=10.1.1.242,sport=80,dport=3002),id=0,zone=7,status=0,timeout=29,mark=42,labels=0xabcd,protoinfo=(state_orig=SYN_SENT,state_reply=CLOSED,wscale_orig=7,wscale_reply=0,flags_orig=WINDOW_SCALE,flags_reply=0)",
    }};
    g[n].e.expiration = now + 29001;
    g[n].e.mark = 42;
    g[n].e.labels.lo = 0xabcd;
    tcp_info(&g[n++].e, OVSCT_TCPS_SYN_SENT, OVSCT_TCPS_CLOSED, 7, 0, WS, 0);

    /* 018: established TCP. */
    g[n] = (struct golden) {
        "tcp established",
        simple(4, 6, "10.0.0.1", "10.1.0.2", 10001, 5000, 5), now, {
        "tcp,orig=(src=10.0.0.1,dst=10.1.0.2,sport=10001,dport=5000),reply=(src=10.1.0.2,dst=10.0.0.1,sport=5000,dport=10001),zone=5,protoinfo=(state=ESTABLISHED)",
        "tcp,orig=(src=10.0.0.1,dst=10.1.0.2,sport=10001,dport=5000),reply=(src=10.1.0.2,dst=10.0.0.1,sport=5000,dport=10001),id=0,zone=5,status=0,protoinfo=(state_orig=ESTABLISHED,state_reply=ESTABLISHED,wscale_orig=7,wscale_reply=7,flags_orig=WINDOW_SCALE,flags_reply=WINDOW_SCALE)",
        "tcp,orig=(src=10.0.0.1,dst=10.1.0.2,sport=10001,dport=5000),reply=(src=10.1.0.2,dst=10.0.0.1,sport=5000,dport=10001),zone=5,timeout=86396,protoinfo=(state=ESTABLISHED)",
        "tcp,orig=(src=10.0.0.1,dst=10.1.0.2,sport=10001,dport=5000),reply=(src=10.1.0.2,dst=10.0.0.1,sport=5000,dport=10001),id=0,zone=5,status=0,timeout=86396,protoinfo=(state_orig=ESTABLISHED,state_reply=ESTABLISHED,wscale_orig=7,wscale_reply=7,flags_orig=WINDOW_SCALE,flags_reply=WINDOW_SCALE)",
    }};
    g[n].e.expiration = now + 86396999;
    tcp_info(&g[n++].e, OVSCT_TCPS_ESTABLISHED, OVSCT_TCPS_ESTABLISHED,
             7, 7, WS, WS);

    /* 018: both peers in FIN_WAIT_2, coalesced to TIME_WAIT. */
    g[n] = (struct golden) {
        "tcp fin_wait_2",
        simple(4, 6, "10.0.3.1", "10.1.0.2", 10000, 5000, 5), now, {
        "tcp,orig=(src=10.0.3.1,dst=10.1.0.2,sport=10000,dport=5000),reply=(src=10.1.0.2,dst=10.0.3.1,sport=5000,dport=10000),zone=5,protoinfo=(state=TIME_WAIT)",
        "tcp,orig=(src=10.0.3.1,dst=10.1.0.2,sport=10000,dport=5000),reply=(src=10.1.0.2,dst=10.0.3.1,sport=5000,dport=10000),id=0,zone=5,status=0,protoinfo=(state_orig=FIN_WAIT_2,state_reply=FIN_WAIT_2,wscale_orig=7,wscale_reply=7,flags_orig=WINDOW_SCALE,flags_reply=WINDOW_SCALE)",
        "tcp,orig=(src=10.0.3.1,dst=10.1.0.2,sport=10000,dport=5000),reply=(src=10.1.0.2,dst=10.0.3.1,sport=5000,dport=10000),zone=5,timeout=27,protoinfo=(state=TIME_WAIT)",
        "tcp,orig=(src=10.0.3.1,dst=10.1.0.2,sport=10000,dport=5000),reply=(src=10.1.0.2,dst=10.0.3.1,sport=5000,dport=10000),id=0,zone=5,status=0,timeout=27,protoinfo=(state_orig=FIN_WAIT_2,state_reply=FIN_WAIT_2,wscale_orig=7,wscale_reply=7,flags_orig=WINDOW_SCALE,flags_reply=WINDOW_SCALE)",
    }};
    g[n].e.expiration = now + 27400;
    tcp_info(&g[n++].e, OVSCT_TCPS_FIN_WAIT_2, OVSCT_TCPS_FIN_WAIT_2,
             7, 7, WS, WS);

    /* 018: IPv6 TCP. */
    g[n] = (struct golden) {
        "tcp6", simple(6, 6, "fc00::10", "fc00::2", 10000, 5000, 5), now, {
        "tcp,orig=(src=fc00::10,dst=fc00::2,sport=10000,dport=5000),reply=(src=fc00::2,dst=fc00::10,sport=5000,dport=10000),zone=5,protoinfo=(state=ESTABLISHED)",
        "tcp,orig=(src=fc00::10,dst=fc00::2,sport=10000,dport=5000),reply=(src=fc00::2,dst=fc00::10,sport=5000,dport=10000),id=0,zone=5,status=0,protoinfo=(state_orig=ESTABLISHED,state_reply=ESTABLISHED,wscale_orig=7,wscale_reply=7,flags_orig=WINDOW_SCALE,flags_reply=WINDOW_SCALE)",
        "tcp,orig=(src=fc00::10,dst=fc00::2,sport=10000,dport=5000),reply=(src=fc00::2,dst=fc00::10,sport=5000,dport=10000),zone=5,timeout=86398,protoinfo=(state=ESTABLISHED)",
        "tcp,orig=(src=fc00::10,dst=fc00::2,sport=10000,dport=5000),reply=(src=fc00::2,dst=fc00::10,sport=5000,dport=10000),id=0,zone=5,status=0,timeout=86398,protoinfo=(state_orig=ESTABLISHED,state_reply=ESTABLISHED,wscale_orig=7,wscale_reply=7,flags_orig=WINDOW_SCALE,flags_reply=WINDOW_SCALE)",
    }};
    g[n].e.expiration = now + 86398000;
    tcp_info(&g[n++].e, OVSCT_TCPS_ESTABLISHED, OVSCT_TCPS_ESTABLISHED,
             7, 7, WS, WS);

    /* 018/024: SNAT UDP with mark and label, 58 s left. */
    g[n] = (struct golden) {
        "udp snat",
        conn(4, 17, "10.1.1.1", "10.1.1.2", 2000, 53,
             "10.1.1.2", "10.1.1.247", 53, 3007, 7), now, {
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=2000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.247,sport=53,dport=3007),zone=7,mark=42,labels=0xabcd",
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=2000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.247,sport=53,dport=3007),id=0,zone=7,status=0,mark=42,labels=0xabcd",
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=2000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.247,sport=53,dport=3007),zone=7,timeout=58,mark=42,labels=0xabcd",
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=2000,dport=53),reply=(src=10.1.1.2,dst=10.1.1.247,sport=53,dport=3007),id=0,zone=7,status=0,timeout=58,mark=42,labels=0xabcd",
    }};
    g[n].e.expiration = now + 58001;
    g[n].e.mark = 42;
    g[n++].e.labels.lo = 0xabcd;

    /* 018/024: SNAT ICMP (reply to .240), mark and label. */
    g[n] = (struct golden) {
        "icmp snat", echo(4, "10.1.1.6", "10.1.1.2", "10.1.1.2",
                          "10.1.1.240", 10000, 7), now, {
        "icmp,orig=(src=10.1.1.6,dst=10.1.1.2,id=10000,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.240,id=10000,type=0,code=0),zone=7,mark=42,labels=0xabcd",
        "icmp,orig=(src=10.1.1.6,dst=10.1.1.2,id=10000,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.240,id=10000,type=0,code=0),id=0,zone=7,status=0,mark=42,labels=0xabcd",
        "icmp,orig=(src=10.1.1.6,dst=10.1.1.2,id=10000,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.240,id=10000,type=0,code=0),zone=7,timeout=59,mark=42,labels=0xabcd",
        "icmp,orig=(src=10.1.1.6,dst=10.1.1.2,id=10000,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.240,id=10000,type=0,code=0),id=0,zone=7,status=0,timeout=59,mark=42,labels=0xabcd",
    }};
    g[n].e.expiration = now + 59999;
    g[n].e.mark = 42;
    g[n++].e.labels.lo = 0xabcd;

    /* 018: IPv6 UDP, 26 s left. */
    g[n] = (struct golden) {
        "udp6", simple(6, 17, "fc00::1", "fc00::2", 10001, 5000, 5), now, {
        "udp,orig=(src=fc00::1,dst=fc00::2,sport=10001,dport=5000),reply=(src=fc00::2,dst=fc00::1,sport=5000,dport=10001),zone=5",
        "udp,orig=(src=fc00::1,dst=fc00::2,sport=10001,dport=5000),reply=(src=fc00::2,dst=fc00::1,sport=5000,dport=10001),id=0,zone=5,status=0",
        "udp,orig=(src=fc00::1,dst=fc00::2,sport=10001,dport=5000),reply=(src=fc00::2,dst=fc00::1,sport=5000,dport=10001),zone=5,timeout=26",
        "udp,orig=(src=fc00::1,dst=fc00::2,sport=10001,dport=5000),reply=(src=fc00::2,dst=fc00::1,sport=5000,dport=10001),id=0,zone=5,status=0,timeout=26",
    }};
    g[n++].e.expiration = now + 26000;

    /* 018: IPv6 SYN_SENT. */
    g[n] = (struct golden) {
        "tcp6 syn_sent",
        simple(6, 6, "fc00::30", "fc00::2", 10000, 5000, 5), now, {
        "tcp,orig=(src=fc00::30,dst=fc00::2,sport=10000,dport=5000),reply=(src=fc00::2,dst=fc00::30,sport=5000,dport=10000),zone=5,protoinfo=(state=SYN_SENT)",
        "tcp,orig=(src=fc00::30,dst=fc00::2,sport=10000,dport=5000),reply=(src=fc00::2,dst=fc00::30,sport=5000,dport=10000),id=0,zone=5,status=0,protoinfo=(state_orig=SYN_SENT,state_reply=CLOSED,wscale_orig=7,wscale_reply=0,flags_orig=WINDOW_SCALE,flags_reply=0)",
        "tcp,orig=(src=fc00::30,dst=fc00::2,sport=10000,dport=5000),reply=(src=fc00::2,dst=fc00::30,sport=5000,dport=10000),zone=5,timeout=28,protoinfo=(state=SYN_SENT)",
        "tcp,orig=(src=fc00::30,dst=fc00::2,sport=10000,dport=5000),reply=(src=fc00::2,dst=fc00::30,sport=5000,dport=10000),id=0,zone=5,status=0,timeout=28,protoinfo=(state_orig=SYN_SENT,state_reply=CLOSED,wscale_orig=7,wscale_reply=0,flags_orig=WINDOW_SCALE,flags_reply=0)",
    }};
    g[n].e.expiration = now + 28000;
    tcp_info(&g[n++].e, OVSCT_TCPS_SYN_SENT, OVSCT_TCPS_CLOSED, 7, 0, WS, 0);

    /* OVS 3.1 output: zone 0, mark 170. */
    g[n] = (struct golden) {
        "ref mark", simple(4, 17, "10.1.1.1", "10.1.1.2", 1, 2, 0), now, {
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2),reply=(src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),mark=170",
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2),reply=(src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),id=0,status=0,mark=170",
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2),reply=(src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),timeout=0,mark=170",
        "udp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2),reply=(src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),id=0,status=0,timeout=0,mark=170",
    }};
    g[n].e.expiration = now - 5000;         /* Already past: timeout=0. */
    g[n++].e.mark = 170;

    /* OVS 3.1 output: a 40-bit label. */
    g[n] = (struct golden) {
        "ref labels", simple(4, 17, "10.1.1.2", "10.1.1.1", 2, 1, 5), now, {
        "udp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),reply=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2),zone=5,labels=0xaa00000000",
        "udp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),reply=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2),id=0,zone=5,status=0,labels=0xaa00000000",
        "udp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),reply=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2),zone=5,timeout=59,labels=0xaa00000000",
        "udp,orig=(src=10.1.1.2,dst=10.1.1.1,sport=2,dport=1),reply=(src=10.1.1.1,dst=10.1.1.2,sport=1,dport=2),id=0,zone=5,status=0,timeout=59,labels=0xaa00000000",
    }};
    g[n].e.expiration = now + 59000;
    g[n++].e.labels.lo = 0xaa00000000ull;

    /* OVS 3.1 output: protocol 112 (VRRP) has no name nor ports. */
    g[n] = (struct golden) {
        "ref proto 112",
        simple(4, 112, "192.168.0.30", "224.0.0.18", 0, 0, 0), now, {
        "112,orig=(src=192.168.0.30,dst=224.0.0.18,sport=0,dport=0),reply=(src=224.0.0.18,dst=192.168.0.30,sport=0,dport=0)",
        "112,orig=(src=192.168.0.30,dst=224.0.0.18,sport=0,dport=0),reply=(src=224.0.0.18,dst=192.168.0.30,sport=0,dport=0),id=0,status=0",
        "112,orig=(src=192.168.0.30,dst=224.0.0.18,sport=0,dport=0),reply=(src=224.0.0.18,dst=192.168.0.30,sport=0,dport=0),timeout=1",
        "112,orig=(src=192.168.0.30,dst=224.0.0.18,sport=0,dport=0),reply=(src=224.0.0.18,dst=192.168.0.30,sport=0,dport=0),id=0,status=0,timeout=1",
    }};
    g[n++].e.expiration = now + 1000;

    /* OVS 3.1 output: ICMP id 0, zone 3. */
    g[n] = (struct golden) {
        "ref icmp id 0", echo(4, "10.1.1.1", "10.1.1.2", "10.1.1.2",
                              "10.1.1.1", 0, 3), now, {
        "icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=0,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.1,id=0,type=0,code=0),zone=3",
        "icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=0,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.1,id=0,type=0,code=0),id=0,zone=3,status=0",
        "icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=0,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.1,id=0,type=0,code=0),zone=3,timeout=0",
        "icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=0,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.1,id=0,type=0,code=0),id=0,zone=3,status=0,timeout=0",
    }};
    g[n++].e.expiration = now + 999;

    for (size_t i = 0; i < n; i++) {
        for (int f = 0; f < 4; f++) {
            fmt_check(g[i].name, &g[i].e, f & 1, f & 2, g[i].now,
                      g[i].lines[f]);
        }
    }
}

/* Fields that the golden outputs do not exercise. */
static void
test_edges(void)
{
    struct ovsct_entry e = simple(4, 17, "1.2.3.4", "5.6.7.8", 65535, 1,
                                  65535);
    const char *head =
        "udp,orig=(src=1.2.3.4,dst=5.6.7.8,sport=65535,dport=1),"
        "reply=(src=5.6.7.8,dst=1.2.3.4,sport=1,dport=65535),zone=65535";
    char want[512], buf[512];

    /* Largest mark, 128-bit labels. */
    e.mark = UINT32_MAX;
    e.labels.hi = 1;
    e.labels.lo = 0;
    snprintf(want, sizeof want, "%s,mark=4294967295,labels=0x1"
             "0000000000000000", head);
    fmt_check("labels hi=1", &e, false, false, 0, want);
    e.labels.hi = 0x00ff00ff00ff00ffull;
    e.labels.lo = 0x0123456789abcdefull;
    snprintf(want, sizeof want, "%s,mark=4294967295,labels=0xff00ff00ff00ff"
             "0123456789abcdef", head);
    fmt_check("labels full", &e, false, false, 0, want);
    e.labels.hi = UINT64_MAX;
    e.labels.lo = UINT64_MAX;
    snprintf(want, sizeof want, "%s,mark=4294967295,labels=0x"
             "ffffffffffffffffffffffffffffffff", head);
    fmt_check("labels all ones", &e, false, false, 0, want);
    e.labels.hi = 0;
    e.labels.lo = 1;
    snprintf(want, sizeof want, "%s,mark=4294967295,labels=0x1", head);
    fmt_check("labels 1", &e, false, false, 0, want);
    e.labels.lo = 0x10;
    snprintf(want, sizeof want, "%s,mark=4294967295,labels=0x10", head);
    fmt_check("labels 0x10", &e, false, false, 0, want);

    /* Timeout rounding: truncated, floored at 0, large values. */
    e.mark = 0;
    e.labels.lo = 0;
    static const struct { int64_t left; const char *t; } tmo[] = {
        { -1, "0" }, { 0, "0" }, { 1, "0" }, { 999, "0" }, { 1000, "1" },
        { 1999, "1" }, { 60000, "60" }, { 86400000, "86400" },
        { INT64_C(4294967295999), "4294967295" },
    };
    for (size_t i = 0; i < sizeof tmo / sizeof tmo[0]; i++) {
        snprintf(want, sizeof want, "%s,timeout=%s", head, tmo[i].t);
        e.expiration = 5000000 + tmo[i].left;
        fmt_check("timeout", &e, false, true, 5000000, want);
    }
    e.expiration = INT64_MIN + 10;
    snprintf(want, sizeof want, "%s,timeout=0", head);
    fmt_check("timeout min", &e, false, true, 5000000, want);

    /* Other protocol names. */
    static const struct { uint8_t p; const char *name; } names[] = {
        { 132, "sctp" }, { 136, "udplite" }, { 33, "dccp" }, { 2, "igmp" },
        { 0, "0" }, { 255, "255" }, { 47, "47" }, { 99, "99" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct ovsct_entry o = simple(4, names[i].p, "0.0.0.0",
                                      "255.255.255.255", 9, 10, 0);
        snprintf(want, sizeof want, "%s,orig=(src=0.0.0.0,"
                 "dst=255.255.255.255,sport=9,dport=10),reply=("
                 "src=255.255.255.255,dst=0.0.0.0,sport=10,dport=9)",
                 names[i].name);
        fmt_check(names[i].name, &o, false, false, 0, want);
    }

    /* TCP: coalescing, unknown states and flags, wscale on one side. */
    struct ovsct_entry t = simple(4, 6, "10.0.0.1", "10.0.0.2", 1, 2, 0);
    const char *th = "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=2),"
                     "reply=(src=10.0.0.2,dst=10.0.0.1,sport=2,dport=1)";
    static const struct { uint8_t o, r; const char *s; } co[] = {
        { OVSCT_TCPS_SYN_RECV, OVSCT_TCPS_CLOSED, "ESTABLISHED" },
        { OVSCT_TCPS_SYN_SENT, OVSCT_TCPS_SYN_RECV, "ESTABLISHED" },
        { OVSCT_TCPS_FIN_WAIT_2, OVSCT_TCPS_CLOSING, "TIME_WAIT" },
        { OVSCT_TCPS_CLOSING, OVSCT_TCPS_ESTABLISHED, "CLOSING" },
        { OVSCT_TCPS_TIME_WAIT, OVSCT_TCPS_TIME_WAIT, "TIME_WAIT" },
        { OVSCT_TCPS_LISTEN, OVSCT_TCPS_CLOSED, "LISTEN" },
        { OVSCT_TCPS_CLOSE_WAIT, OVSCT_TCPS_LAST_ACK, "LAST_ACK" },
        { OVSCT_TCPS_FIN_WAIT_1, 0, "FIN_WAIT_1" },
        { 0, 0, "CLOSED" }, { 11, 2, "[11]" }, { 0, 200, "[200]" },
    };
    for (size_t i = 0; i < sizeof co / sizeof co[0]; i++) {
        tcp_info(&t, co[i].o, co[i].r, 0, 0, 0, 0);
        snprintf(want, sizeof want, "%s,protoinfo=(state=%s)", th, co[i].s);
        fmt_check("tcp coalesce", &t, false, false, 0, want);
    }
    tcp_info(&t, OVSCT_TCPS_SYN_RECV, 12, 0, 14, 0xff,
             OVSCT_TCPF_BE_LIBERAL | OVSCT_TCPF_SACK_PERM);
    snprintf(want, sizeof want, "%s,id=0,status=0,protoinfo=("
             "state_orig=SYN_RECV,state_reply=[12],wscale_orig=0,"
             "wscale_reply=14,flags_orig=WINDOW_SCALE|SACK_PERM|CLOSE_INIT|"
             "BE_LIBERAL|DATA_UNACKNOWLEDGED|MAXACK_SET|0xc0,"
             "flags_reply=SACK_PERM|BE_LIBERAL)", th);
    fmt_check("tcp verbose all flags", &t, true, false, 0, want);
    tcp_info(&t, 4, 4, 0, 0, 0x80, OVSCT_TCPF_MAXACK_SET);
    snprintf(want, sizeof want, "%s,id=0,status=0,protoinfo=("
             "state_orig=ESTABLISHED,state_reply=ESTABLISHED,"
             "flags_orig=0x80,flags_reply=MAXACK_SET)", th);
    fmt_check("tcp verbose no wscale", &t, true, false, 0, want);

    /* snprintf-like truncation. */
    e = simple(4, 17, "10.0.0.1", "10.0.0.2", 1, 2, 0);
    const char *full = "udp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=2),"
                       "reply=(src=10.0.0.2,dst=10.0.0.1,sport=2,dport=1)";
    size_t len = strlen(full);
    for (size_t size = 0; size <= len + 2; size++) {
        memset(buf, 'X', sizeof buf);
        int r = ovsct_format_entry(&e, false, false, 0, buf, size);
        bool ok = r == (int) len;
        if (size) {
            size_t k = size - 1 < len ? size - 1 : len;
            ok = ok && !memcmp(buf, full, k) && buf[k] == '\0';
        }
        ok = ok && buf[size] == 'X';
        if (!ok) {
            printf("truncation at size %zu\n", size);
        }
        check("truncation", ok);
    }
}

/* Addresses against inet_ntop(). */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Formats 'a' as the orig src of an entry and compares it with
 * inet_ntop().  Returns true if equal (prints the first few failures). */
static bool
addr_matches(int af, const uint8_t a[16])
{
    static int shown;
    struct ovsct_entry e;
    char want[256], ntop[INET6_ADDRSTRLEN], buf[512];

    memset(&e, 0, sizeof e);
    e.orig.l3 = af == AF_INET6 ? 6 : 4;
    e.orig.proto = 17;
    memcpy(e.orig.src, a, af == AF_INET6 ? 16 : 4);
    inet_ntop(af, a, ntop, sizeof ntop);
    ovsct_format_entry(&e, false, false, 0, buf, sizeof buf);
    snprintf(want, sizeof want, "udp,orig=(src=%s,dst=%s,", ntop,
             af == AF_INET6 ? "::" : "0.0.0.0");
    if (!strncmp(buf, want, strlen(want))) {
        return true;
    }
    if (shown++ < 10) {
        printf("address mismatch: got %s want %s\n", buf, want);
    }
    return false;
}

static void
test_addresses(void)
{
    static const char *const v6[] = {
        "::", "::1", "::2", "1::", "1::1", "::ffff:1.2.3.4", "::1.2.3.4",
        "::0.1.2.3", "::ffff:0.0.0.0", "::ffff:0:0", "::ffff:0:1",
        "::fffe:1.2.3.4", "0:0:0:0:1:ffff:1.2.3.4", "::1:0:0",
        "1:0:0:1:0:0:0:1", "1:0:0:1:0:0:1:1", "1:0:1:0:1:0:1:0",
        "0:1:0:1:0:1:0:1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8", "fe80::1", "ff02::1:ff00:1", "fc00::20",
        "2001:db8::1", "2001:db8:0:0:1::1", "2001:db8::1:0:0:1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:255.255.255.255",
        "64:ff9b::1.2.3.4", "::a:b", "::ffff", "::1:ffff:1.2.3.4",
        "0:0:0:0:0:ffff:0:1", "::ffff:0:1.2.3.4", "1:0:0:0:0:0:0:0",
        "0:0:0:0:0:0:0:0", "0:0:1:0:0:0:0:0", "0:0:0:0:0:0:1:0",
        "::0.0.0.1", "::0.0.1.0", "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
    };
    uint8_t a[16];
    int bad = 0, total = 0;

    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
        addr(6, v6[i], a);
        bad += !addr_matches(AF_INET6, a);
        total++;
    }
    check("ipv6 edge addresses vs inet_ntop", !bad);

    /* Random: each group zero, 0xffff, small, or random, so that zero
     * runs of every length and position and the v4 forms all occur. */
    bad = 0;
    for (int i = 0; i < 500000; i++) {
        uint64_t r = rng();
        for (int g = 0; g < 8; g++) {
            uint16_t v;
            switch ((r >> (g * 3)) & 7) {
            case 0: case 1: case 2: case 3:
                v = 0;
                break;
            case 4:
                v = 0xffff;
                break;
            case 5:
                v = rng() & 0xf;
                break;
            default:
                v = (uint16_t) rng();
                break;
            }
            a[2 * g] = v >> 8;
            a[2 * g + 1] = v & 0xff;
        }
        bad += !addr_matches(AF_INET6, a);
        total++;
    }
    for (int i = 0; i < 100000; i++) {
        uint64_t r = rng();
        memcpy(a, &r, 8);
        r = rng();
        memcpy(a + 8, &r, 8);
        bad += !addr_matches(AF_INET6, a);
        total++;
    }
    check("ipv6 random addresses vs inet_ntop", !bad);

    bad = 0;
    for (int i = 0; i < 200000; i++) {
        uint32_t r = (uint32_t) rng();
        /* Small bytes often, to hit 1- and 2-digit numbers. */
        if (i & 1) {
            r &= 0x0f3f7fff;
        }
        memset(a, 0, sizeof a);
        memcpy(a, &r, 4);
        bad += !addr_matches(AF_INET, a);
    }
    check("ipv4 random addresses vs inet_ntop", !bad);
    (void) total;
}

/* Speed: one million lines (IPv4 UDP and IPv6 TCP mixed, -s). */
static void
test_speed(void)
{
    enum { N = 1000000 };
    struct ovsct_entry e[4];
    char buf[1024];
    struct timespec t0, t1;
    size_t bytes = 0;

    e[0] = simple(4, 17, "10.0.1.1", "10.1.0.2", 10001, 5000, 5);
    e[1] = simple(6, 6, "2001:db8::10", "2001:db8::2", 10000, 5000, 5);
    e[1].tcp_state[0] = e[1].tcp_state[1] = OVSCT_TCPS_ESTABLISHED;
    e[2] = echo(4, "192.168.100.200", "10.1.0.2", "10.1.0.2",
                "192.168.100.200", 4321, 0);
    e[3] = conn(4, 17, "10.1.1.1", "10.1.1.2", 2000, 53, "10.1.1.2",
                "10.1.1.247", 53, 3007, 7);
    e[3].mark = 42;
    e[3].labels.lo = 0xabcd;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N; i++) {
        struct ovsct_entry *x = &e[i & 3];

        x->orig.sport = (uint16_t) i;
        x->expiration = 60000 + i;
        bytes += ovsct_format_entry(x, false, true, i, buf, sizeof buf);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("format: %d lines, %zu bytes in %.1f ms (%.0f ns/line)\n",
           N, bytes, ms, ms * 1e6 / N);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    check("1M lines in under 5 s (sanitizer build)", ms < 5000);
#else
    check("1M lines in under 1 s", ms < 1000);
#endif
}

int
main(void)
{
    test_golden();
    test_edges();
    test_addresses();
    test_speed();
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
