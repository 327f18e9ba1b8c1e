/*
 * test_filter.c -- the engine's connection filter (struct ovsct_filter,
 * ext/filter.c): CIDR prefixes, TCP states, the OVS ofp_ct_match fields,
 * and the three walks that take it (ovsct_dump_start(), ovsct_stats(),
 * ovsct_flush_filter()) selecting the same connections; and the JSON
 * object of a dumped connection (ovsct_format_entry_json()) with its
 * sort (ovsct_sort_entries()).
 *
 * Run by `make asan` (linked with the engine):
 *     ./build/c/asan/test_filter   -> "N passed, N failed", exit 1 on failure
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovsct.h"
#include "framegen.h"

static int n_passed, n_failed;

#define CHECK(COND) check(#COND, __LINE__, (COND))

static void
check(const char *what, int line, bool ok)
{
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
        printf("FAIL line %d: %s\n", line, what);
    }
}

static void
addr(uint8_t l3, const char *s, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(l3 == 6 ? AF_INET6 : AF_INET, s, out) != 1) {
        fprintf(stderr, "bad address %s\n", s);
        exit(2);
    }
}

/* A connection src:sport -> dst:dport of 'proto' (reply reversed). */
static struct ovsct_entry
conn(uint8_t l3, uint8_t proto, const char *src, const char *dst,
     uint16_t sport, uint16_t dport)
{
    struct ovsct_entry e;

    memset(&e, 0, sizeof e);
    e.orig.l3 = e.reply.l3 = l3;
    e.orig.proto = e.reply.proto = proto;
    addr(l3, src, e.orig.src);
    addr(l3, dst, e.orig.dst);
    addr(l3, dst, e.reply.src);
    addr(l3, src, e.reply.dst);
    e.orig.sport = e.reply.dport = sport;
    e.orig.dport = e.reply.sport = dport;
    return e;
}

static void
match_src(struct ovsct_tuple_match *m, uint8_t l3, const char *a,
          uint8_t plen)
{
    m->l3 = l3;
    m->has_src = true;
    addr(l3, a, m->src);
    m->src_plen = plen;
}

static void
test_prefixes(void)
{
    struct ovsct_entry e = conn(4, 17, "10.1.2.3", "192.168.0.1", 1, 2);
    struct ovsct_entry e6 = conn(6, 17, "fc00::1:2", "fc00::9", 1, 2);
    struct ovsct_filter f;

    memset(&f, 0, sizeof f);
    CHECK(ovsct_filter_match(&f, &e));      /* Empty: everything. */
    f.has_orig = true;
    match_src(&f.orig, 4, "10.1.0.0", 16);
    CHECK(ovsct_filter_match(&f, &e));
    match_src(&f.orig, 4, "10.2.0.0", 16);
    CHECK(!ovsct_filter_match(&f, &e));
    match_src(&f.orig, 4, "10.0.0.0", 15);  /* 10.0/15 holds 10.1. */
    CHECK(ovsct_filter_match(&f, &e));
    match_src(&f.orig, 4, "10.1.2.2", 31);
    CHECK(ovsct_filter_match(&f, &e));
    match_src(&f.orig, 4, "10.1.2.0", 31);
    CHECK(!ovsct_filter_match(&f, &e));
    match_src(&f.orig, 4, "10.1.2.3", 0);   /* 0: the whole address. */
    CHECK(ovsct_filter_match(&f, &e));
    match_src(&f.orig, 4, "10.1.2.3", 32);
    CHECK(ovsct_filter_match(&f, &e));
    match_src(&f.orig, 4, "10.1.2.4", 0);
    CHECK(!ovsct_filter_match(&f, &e));
    /* A family of its own: an IPv4 match never takes an IPv6 tuple. */
    match_src(&f.orig, 4, "0.0.0.0", 1);
    CHECK(ovsct_filter_match(&f, &e) && !ovsct_filter_match(&f, &e6));
    match_src(&f.orig, 6, "fc00::1:0", 112);
    CHECK(ovsct_filter_match(&f, &e6) && !ovsct_filter_match(&f, &e));
    match_src(&f.orig, 6, "fc00::", 127);   /* Odd bit counts. */
    CHECK(!ovsct_filter_match(&f, &e6));
    match_src(&f.orig, 6, "fc00::", 7);
    CHECK(ovsct_filter_match(&f, &e6));
    match_src(&f.orig, 6, "fe00::", 7);
    CHECK(!ovsct_filter_match(&f, &e6));

    /* The reply tuple: its source is the server. */
    memset(&f, 0, sizeof f);
    f.has_reply = true;
    match_src(&f.reply, 4, "192.168.0.0", 24);
    CHECK(ovsct_filter_match(&f, &e));
    f.reply.has_dst = true;
    addr(4, "10.1.0.0", f.reply.dst);
    f.reply.dst_plen = 24;
    CHECK(!ovsct_filter_match(&f, &e));
    f.reply.dst_plen = 8;
    CHECK(ovsct_filter_match(&f, &e));
}

static void
test_states(void)
{
    struct ovsct_entry tcp = conn(4, 6, "10.0.0.1", "10.0.0.2", 1, 80);
    struct ovsct_entry udp = conn(4, 17, "10.0.0.1", "10.0.0.2", 1, 80);
    struct ovsct_filter f;

    memset(&f, 0, sizeof f);
    f.tcp_states = 1u << OVSCT_TCPS_ESTABLISHED;
    tcp.tcp_state[0] = OVSCT_TCPS_ESTABLISHED;
    tcp.tcp_state[1] = OVSCT_TCPS_ESTABLISHED;
    CHECK(ovsct_filter_match(&f, &tcp));
    CHECK(!ovsct_filter_match(&f, &udp));   /* Not TCP: never. */
    /* The coalesced state, as dump-conntrack prints it: SYN_RECV shows
     * as ESTABLISHED, FIN_WAIT_2 as TIME_WAIT, else the larger one. */
    tcp.tcp_state[0] = OVSCT_TCPS_SYN_RECV;
    tcp.tcp_state[1] = OVSCT_TCPS_SYN_SENT;
    CHECK(ovsct_filter_match(&f, &tcp));
    f.tcp_states = 1u << OVSCT_TCPS_SYN_RECV;
    CHECK(!ovsct_filter_match(&f, &tcp));
    tcp.tcp_state[0] = OVSCT_TCPS_FIN_WAIT_2;
    tcp.tcp_state[1] = OVSCT_TCPS_ESTABLISHED;
    f.tcp_states = 1u << OVSCT_TCPS_TIME_WAIT;
    CHECK(ovsct_filter_match(&f, &tcp));
    f.tcp_states = 1u << OVSCT_TCPS_ESTABLISHED | 1u << OVSCT_TCPS_CLOSING;
    CHECK(!ovsct_filter_match(&f, &tcp));
    tcp.tcp_state[1] = OVSCT_TCPS_CLOSING;  /* max: FIN_WAIT_2 still. */
    CHECK(!ovsct_filter_match(&f, &tcp));
    tcp.tcp_state[0] = OVSCT_TCPS_ESTABLISHED;
    CHECK(ovsct_filter_match(&f, &tcp));    /* CLOSING. */
    f.tcp_states = 0;
    CHECK(ovsct_filter_match(&f, &udp));
}

static void
test_ovs_fields(void)
{
    struct ovsct_entry e = conn(4, 17, "10.0.0.1", "10.0.0.2", 1000, 53);
    struct ovsct_entry icmp = conn(4, 1, "10.0.0.1", "10.0.0.2", 7, 7);
    struct ovsct_filter f;

    e.zone = 5;
    e.mark = 0x15;
    e.labels.hi = 1;
    memset(&f, 0, sizeof f);
    f.has_zone = true;
    f.zone = 5;
    CHECK(ovsct_filter_match(&f, &e));
    f.zone = 4;
    CHECK(!ovsct_filter_match(&f, &e));
    f.has_zone = false;
    f.mark = 0x5;
    f.mark_mask = 0xf;
    CHECK(ovsct_filter_match(&f, &e));
    f.mark_mask = 0xff;
    CHECK(!ovsct_filter_match(&f, &e));
    f.mark_mask = 0;
    f.labels_mask.hi = 1;
    CHECK(!ovsct_filter_match(&f, &e));
    f.labels.hi = 1;
    CHECK(ovsct_filter_match(&f, &e));
    /* Ports: 0 is any. */
    memset(&f, 0, sizeof f);
    f.has_orig = true;
    f.orig.dport = 53;
    CHECK(ovsct_filter_match(&f, &e));
    f.orig.sport = 999;
    CHECK(!ovsct_filter_match(&f, &e));
    /* ICMP with a proto: id, type and code always compared. */
    memset(&f, 0, sizeof f);
    f.has_orig = true;
    f.orig.has_proto = true;
    f.orig.proto = 1;
    icmp.orig.icmp_type = 8;
    CHECK(!ovsct_filter_match(&f, &icmp));
    f.orig.icmp_id = 7;
    f.orig.icmp_type = 8;
    CHECK(ovsct_filter_match(&f, &icmp));
    f.orig.proto = 17;
    CHECK(!ovsct_filter_match(&f, &icmp));
}

/* Through the engine: connection k (k < 8) is UDP 10.0.0.(1+k) ->
 * 192.168.0.(1+k); connections 8 and 9 are TCP, 8 left at SYN_SENT, 9
 * established. */
static void
test_walks(void)
{
    struct ovsct_config cfg = {.manual_clock = true, .start_ms = 1000,
                               .no_sweeper = true};
    struct ovsct_action act = {.commit = true};
    uint8_t frames[16 * 128];
    uint32_t offs[17] = {0};
    uint8_t states[16];
    struct ovsct_batch batch = {.data = frames, .offsets = offs};
    struct ovsct_filter f;
    struct ovsct_stats st;
    struct ovsct_entry out[16];
    struct ovsct_dump *d;
    struct ovsct *ct;
    size_t n = 0, got;

    fg_init();
    CHECK(!ovsct_create(&cfg, &ct));
    for (uint32_t k = 0; k < 8; k++) {
        offs[n + 1] = offs[n] + fg_udp_dsts(frames + offs[n],
                                            k * FG_PORTS_PER_ADDR);
        n++;
    }
    /* TCP ids far from the UDP ones: clients 10.0.1.x. */
    for (int stage = 0; stage < 3; stage++) {
        if (stage == 0) {
            offs[n + 1] = offs[n] + fg_tcp(frames + offs[n], 256 * 60000, 0);
            n++;
        }
        offs[n + 1] = offs[n] + fg_tcp(frames + offs[n], 257 * 60000,
                                       stage);
        n++;
    }
    batch.n = n;
    batch.size = offs[n];
    CHECK(!ovsct_execute(ct, &batch, &act, states));

    memset(&f, 0, sizeof f);
    f.has_orig = true;
    match_src(&f.orig, 4, "10.0.0.0", 30);  /* 10.0.0.1 .. 10.0.0.3 */
    CHECK(!ovsct_dump_start(ct, &f, &d));
    CHECK(!ovsct_dump_next(d, out, 16, &got));
    CHECK(got == 3);
    for (size_t i = 0; i < got; i++) {
        CHECK(out[i].orig.proto == 17 && out[i].orig.src[3] >= 1
              && out[i].orig.src[3] <= 3);
    }
    ovsct_dump_done(d);
    CHECK(!ovsct_stats(ct, &f, &st));
    CHECK(st.total == 3 && st.per_proto[OVSCT_PC_UDP] == 3);

    memset(&f, 0, sizeof f);
    f.tcp_states = 1u << OVSCT_TCPS_ESTABLISHED;
    CHECK(!ovsct_stats(ct, &f, &st));
    CHECK(st.total == 1 && st.tcp_states[OVSCT_TCPS_ESTABLISHED] == 1);
    f.tcp_states |= 1u << OVSCT_TCPS_SYN_SENT;
    CHECK(!ovsct_stats(ct, &f, &st));
    CHECK(st.total == 2 && st.per_proto[OVSCT_PC_TCP] == 2
          && st.tcp_states[OVSCT_TCPS_SYN_SENT] == 1);
    CHECK(!ovsct_stats(ct, NULL, &st));
    CHECK(st.total == 10);

    /* Flush what the prefix selects, and only that. */
    memset(&f, 0, sizeof f);
    f.has_reply = true;
    match_src(&f.reply, 4, "192.168.0.4", 30);  /* .4 .. .7 */
    size_t flushed = 0;
    CHECK(!ovsct_flush_filter(ct, &f, &flushed));
    CHECK(flushed == 4);
    CHECK(!ovsct_stats(ct, NULL, &st));
    CHECK(st.total == 6);
    f.tcp_states = 1u << OVSCT_TCPS_SYN_SENT;
    f.has_reply = false;
    CHECK(!ovsct_flush_filter(ct, &f, &flushed));
    CHECK(flushed == 1);
    CHECK(!ovsct_dump_start(ct, NULL, &d));
    CHECK(!ovsct_dump_next(d, out, 16, &got));
    CHECK(got == 5);
    ovsct_dump_done(d);
    ovsct_destroy(ct);
}

static void
test_json(void)
{
    struct ovsct_entry e = conn(4, 6, "10.1.1.5", "10.1.1.2", 4000, 80);
    struct ovsct_entry v[3];
    char buf[1024];

    addr(4, "10.1.1.242", e.reply.dst);
    e.reply.dport = 3002;
    e.zone = 7;
    e.mark = 42;
    e.labels.lo = 0xabcd;
    e.tcp_state[0] = OVSCT_TCPS_SYN_SENT;
    e.tcp_wscale[0] = 7;
    e.tcp_flags[0] = OVSCT_TCPF_WINDOW_SCALE;
    e.tcp_flags[1] = OVSCT_TCPF_BE_LIBERAL | 0x80;
    e.nat = OVSCT_CS_SRC_NAT;
    e.bucket = 3;
    e.expiration = 30999;
    ovsct_format_entry_json(&e, 1000, buf, sizeof buf);
    if (strcmp(buf,
               "{\"bucket\":3,\"l3\":4,\"labels\":43981,\"mark\":42,"
               "\"nat\":[\"snat\"],\"orig\":{\"dport\":80,\"dst\":"
               "\"10.1.1.2\",\"sport\":4000,\"src\":\"10.1.1.5\"},"
               "\"proto\":6,\"protocol\":\"tcp\",\"reply\":{\"dport\":3002,"
               "\"dst\":\"10.1.1.242\",\"sport\":80,\"src\":\"10.1.1.2\"},"
               "\"tcp\":{\"flags_orig\":[\"WINDOW_SCALE\"],\"flags_reply\":"
               "[\"BE_LIBERAL\"],\"state\":\"SYN_SENT\",\"state_orig\":"
               "\"SYN_SENT\",\"state_reply\":\"CLOSED\",\"wscale_orig\":7,"
               "\"wscale_reply\":0},\"timeout\":29,\"zone\":7}")) {
        printf("got %s\n", buf);
        CHECK(!"tcp json");
    } else {
        CHECK(true);
    }
    /* 128-bit labels in decimal: 2^127 + 2^64 + 1. */
    e.labels.hi = 0x8000000000000001ull;
    e.labels.lo = 1;
    ovsct_format_entry_json(&e, 1000, buf, sizeof buf);
    CHECK(strstr(buf, "\"labels\":170141183460469231750134047789593657345,")
          != NULL);
    e.labels.hi = ~0ull;
    e.labels.lo = ~0ull;
    ovsct_format_entry_json(&e, 1000, buf, sizeof buf);
    CHECK(strstr(buf, "\"labels\":340282366920938463463374607431768211455,")
          != NULL);
    e.labels.hi = 1;
    e.labels.lo = 0;
    ovsct_format_entry_json(&e, 1000, buf, sizeof buf);
    CHECK(strstr(buf, "\"labels\":18446744073709551616,") != NULL);
    /* ICMPv6 and an unnamed protocol; truncation as snprintf. */
    v[0] = conn(6, 58, "fc00::1", "fc00::2", 7, 7);
    v[0].orig.icmp_type = 128;
    int len = ovsct_format_entry_json(&v[0], 0, buf, sizeof buf);
    CHECK(strstr(buf, "\"orig\":{\"code\":0,\"dst\":\"fc00::2\",\"id\":7,"
                      "\"src\":\"fc00::1\",\"type\":128}") != NULL);
    CHECK(strstr(buf, "\"protocol\":\"icmpv6\"") && !strstr(buf, "tcp"));
    char small[10];
    CHECK(ovsct_format_entry_json(&v[0], 0, small, sizeof small) == len
          && strlen(small) == 9);
    v[1] = conn(4, 112, "192.168.0.30", "224.0.0.18", 0, 0);
    ovsct_format_entry_json(&v[1], 0, buf, sizeof buf);
    CHECK(strstr(buf, "\"proto\":112,\"protocol\":\"112\"") != NULL);
    /* Sort: zone, proto, then the source as text ("10.0.0.10" before
     * "10.0.0.9"). */
    v[0].zone = 5;
    v[1] = conn(4, 17, "10.0.0.9", "10.0.0.1", 1, 2);
    v[2] = conn(4, 17, "10.0.0.10", "10.0.0.1", 1, 2);
    CHECK(!ovsct_sort_entries(v, 3));
    CHECK(v[0].orig.src[3] == 10 && v[1].orig.src[3] == 9
          && v[2].zone == 5);
}

int
main(void)
{
    test_prefixes();
    test_states();
    test_ovs_fields();
    test_walks();
    test_json();
    printf("test_filter: %d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
