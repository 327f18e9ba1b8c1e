/*
 * ovs_driver.c -- the "standard" benchmark of bench/bench.c, run against
 * Open vSwitch's own userspace conntrack (lib/conntrack.c).
 *
 * Built and run by benchmarks/compare_ovs.sh against an OVS source tree
 * ('config.h' and lib/.libs/libopenvswitch.a); not part of the package.
 *
 *     ovs_driver CONNS THREADS BATCH [tcp]   -> one JSON object on stdout
 *
 * Same workload and same accounting as ovsct's driver: N distinct UDP/IPv4
 * connections (identical frames: connection i is 10.x.y.z:sport ->
 * 192.168.0.1:5000), split into contiguous ranges over the threads; each
 * thread builds its frames in the loop into a reused batch of dp_packets
 * (bench/framegen.h's fg_udp(), the builder of ovsct's driver: template
 * copy, address/port patch, IPv4 checksum; then metadata reset and header
 * offsets, which OVS's datapath would have set by its miniflow parse) and runs conntrack_execute(ct(commit), zone 0) on them, then
 * checks the ct_state of each.  Phases: insert (commit), look up (no
 * commit), flush of everything (conntrack_flush()).  Expiry is not timed:
 * OVS removes expired connections only from its own clean thread on the
 * real clock.  Memory: RSS and malloc in-use deltas over the insert
 * (bench/probes.h, as ovsct's driver measures them).
 *
 * With "tcp": the "tcp" phase of ovsct's driver instead, the full
 * handshake/data/close mix of framegen.h (fg_tcp(), FG_TCP_STAGES frames
 * per connection, each stage a batch through ct(commit)); reports ns per
 * packet and counts invalid packets.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conntrack.h"
#include "dp-packet.h"
#include "ovs-thread.h"
#include "packets.h"
#include "timeval.h"

#include "framegen.h"
#include "probes.h"

static struct conntrack *ct;
static uint32_t n_conns, n_threads, batch_size;
static struct ovs_barrier barrier;
static long long ct_now;
static bool tcp_mix;

struct worker {
    uint32_t lo, hi;
    bool commit;
    uint64_t t_start, t_end;
    uint64_t n_unexpected;
};

static void
frame_build(struct dp_packet *pkt, uint32_t id)
{
    fg_udp(dp_packet_data(pkt), id);
    pkt_metadata_init(&pkt->md, u32_to_odp(0));
    dp_packet_reset_offsets(pkt);
    pkt->l3_ofs = FG_IP_OFS;
    pkt->l4_ofs = FG_L4_OFS;
}

static void *
worker_main(void *w_)
{
    struct worker *w = w_;
    struct dp_packet_batch batch;
    struct dp_packet *pkts[NETDEV_MAX_BURST];

    for (uint32_t k = 0; k < batch_size; k++) {
        pkts[k] = dp_packet_new(256);
        dp_packet_put_zeros(pkts[k], FG_FRAME_LEN);
    }

    ovs_barrier_block(&barrier);
    w->t_start = probe_now_ns();
    for (uint32_t i = w->lo; tcp_mix && i < w->hi;) {
        uint32_t n = MIN(batch_size, w->hi - i);

        for (int s = 0; s < FG_TCP_STAGES; s++) {
            dp_packet_batch_init(&batch);
            for (uint32_t k = 0; k < n; k++) {
                struct dp_packet *p = pkts[k];

                dp_packet_set_size(p, fg_tcp(dp_packet_data(p), i + k, s));
                pkt_metadata_init(&p->md, u32_to_odp(0));
                dp_packet_reset_offsets(p);
                p->l3_ofs = FG_IP_OFS;
                p->l4_ofs = FG_L4_OFS;
                dp_packet_batch_add(&batch, p);
            }
            conntrack_execute(ct, &batch, htons(ETH_TYPE_IP), false, true,
                              0, NULL, NULL, 0, 0, NULL, NULL, ct_now, 0);
            for (uint32_t k = 0; k < n; k++) {
                w->n_unexpected += (pkts[k]->md.ct_state & CS_INVALID) != 0;
            }
        }
        i += n;
    }
    for (uint32_t i = w->lo; !tcp_mix && i < w->hi;) {
        uint32_t n = MIN(batch_size, w->hi - i);

        dp_packet_batch_init(&batch);
        for (uint32_t k = 0; k < n; k++) {
            frame_build(pkts[k], i + k);
            dp_packet_batch_add(&batch, pkts[k]);
        }
        conntrack_execute(ct, &batch, htons(ETH_TYPE_IP), false, w->commit,
                          0, NULL, NULL, 0, 0, NULL, NULL, ct_now, 0);
        for (uint32_t k = 0; k < n; k++) {
            w->n_unexpected += pkts[k]->md.ct_state
                               != (CS_NEW | CS_TRACKED);
        }
        i += n;
    }
    w->t_end = probe_now_ns();
    ovs_barrier_block(&barrier);

    for (uint32_t k = 0; k < batch_size; k++) {
        dp_packet_delete(pkts[k]);
    }
    return NULL;
}

/* Runs all connections through ct() on every thread; returns wall ns. */
static uint64_t
run_phase(struct worker *ws, bool commit, uint64_t *unexpected)
{
    pthread_t *threads = xcalloc(n_threads, sizeof *threads);
    uint64_t start = UINT64_MAX, end = 0;

    ovs_barrier_init(&barrier, n_threads + 1);
    for (uint32_t t = 0; t < n_threads; t++) {
        ws[t].commit = commit;
        ws[t].n_unexpected = 0;
        threads[t] = ovs_thread_create("ct_bench", worker_main, &ws[t]);
    }
    ovs_barrier_block(&barrier);        /* Start. */
    ovs_barrier_block(&barrier);        /* All done. */
    for (uint32_t t = 0; t < n_threads; t++) {
        xpthread_join(threads[t], NULL);
        start = MIN(start, ws[t].t_start);
        end = MAX(end, ws[t].t_end);
        *unexpected += ws[t].n_unexpected;
    }
    ovs_barrier_destroy(&barrier);
    free(threads);
    return end - start;
}

int
main(int argc, char *argv[])
{
    uint64_t bad_insert = 0, bad_lookup = 0;
    uint32_t n_after_insert = 0, n_after_flush = 0;

    if (argc != 4 && !(argc == 5 && !strcmp(argv[4], "tcp"))) {
        fprintf(stderr, "usage: %s CONNS THREADS BATCH [tcp]\n", argv[0]);
        return 2;
    }
    tcp_mix = argc == 5;
    n_conns = strtoul(argv[1], NULL, 0);
    n_threads = strtoul(argv[2], NULL, 0);
    batch_size = strtoul(argv[3], NULL, 0);
    if (!n_conns || !n_threads || n_threads > n_conns || !batch_size
        || batch_size > NETDEV_MAX_BURST) {
        fprintf(stderr, "bad arguments (batch 1..%d)\n", NETDEV_MAX_BURST);
        return 2;
    }
    fg_init();

    struct worker *ws = xcalloc(n_threads, sizeof *ws);
    for (uint32_t t = 0; t < n_threads; t++) {
        ws[t].lo = (uint64_t) n_conns * t / n_threads;
        ws[t].hi = (uint64_t) n_conns * (t + 1) / n_threads;
    }

    ct = conntrack_init();
    if (n_conns > 3000000) {
        conntrack_set_maxconns(ct, n_conns);
    }
    ct_now = time_msec();

    if (tcp_mix) {
        uint64_t invalid = 0;
        uint64_t ns = run_phase(ws, true, &invalid);
        uint64_t packets = (uint64_t) n_conns * FG_TCP_STAGES;

        printf("{\"phase\": \"tcp\", \"engine\": \"ovs\", "
               "\"conns\": %"PRIu32", \"threads\": %"PRIu32", "
               "\"batch\": %"PRIu32", \"packets\": %"PRIu64", "
               "\"ms\": %.3f, \"ns_per_packet\": %.2f, "
               "\"invalid\": %"PRIu64", \"ok\": %s}\n",
               n_conns, n_threads, batch_size, packets, ns / 1e6,
               (double) ns / packets, invalid, invalid ? "false" : "true");
        fflush(stdout);
        _exit(invalid ? 1 : 0);
    }

    struct probe_mem m0 = probe_mem_now();
    uint64_t insert_ns = run_phase(ws, true, &bad_insert);
    struct probe_mem m1 = probe_mem_now();
    int64_t rss0 = m0.rss, alloc0 = m0.alloc, rss1 = m1.rss;
    int64_t alloc1 = m1.alloc;
    conntrack_get_nconns(ct, &n_after_insert);

    uint64_t lookup_ns = run_phase(ws, false, &bad_lookup);

    uint64_t t0 = probe_now_ns();
    conntrack_flush(ct, NULL);
    uint64_t flush_ns = probe_now_ns() - t0;
    conntrack_get_nconns(ct, &n_after_flush);

    bool ok = !bad_insert && !bad_lookup && n_after_insert == n_conns
              && n_after_flush == 0;
    printf("{\"phase\": \"standard\", \"engine\": \"ovs\", "
           "\"conns\": %"PRIu32", \"threads\": %"PRIu32", "
           "\"batch\": %"PRIu32", \"insert_ms\": %.3f, "
           "\"lookup_ms\": %.3f, \"flush_ms\": %.3f, "
           "\"bytes_per_conn\": %.3f, \"bytes_per_conn_rss\": %.3f, "
           "\"bytes_per_conn_alloc\": %.3f, \"insert_mpps\": %.3f, "
           "\"lookup_mpps\": %.3f, \"created\": %"PRIu32", "
           "\"checks\": {\"insert_states_new\": %s, "
           "\"lookup_states_new\": %s, "
           "\"nconns_after_insert_eq_conns\": %s, "
           "\"nconns_after_flush_zero\": %s}, \"ok\": %s}\n",
           n_conns, n_threads, batch_size, insert_ns / 1e6, lookup_ns / 1e6,
           flush_ns / 1e6, (double) (rss1 - rss0) / n_conns,
           (double) (rss1 - rss0) / n_conns,
           (double) (alloc1 - alloc0) / n_conns,
           n_conns * 1e3 / insert_ns, n_conns * 1e3 / lookup_ns,
           n_after_insert,
           bad_insert ? "false" : "true", bad_lookup ? "false" : "true",
           n_after_insert == n_conns ? "true" : "false",
           n_after_flush == 0 ? "true" : "false", ok ? "true" : "false");
    fflush(stdout);
    /* conntrack_destroy() would wait for the clean thread; exiting is
     * enough for a benchmark. */
    _exit(ok ? 0 : 1);
}
