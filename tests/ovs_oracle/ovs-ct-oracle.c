/* ovstest subcommand
 * "ovsct-pcap [--vlan-limit=N] [--no-ipf] [--by-index] [--helper=NAME]
 *  FILE [BATCH]":
 * the OVS oracle of every capture set (tests/lib/oraclelib.py).
 *
 * The loop is OVS's tests/test-conntrack.c "pcap" (test_pcap():
 * conntrack_execute() with commit=true, force=false, zone 0, no NAT, mark,
 * labels or helper, now = time_msec(), packets of a batch grouped by
 * dl_type), printing "<n>: <ct_state>" per packet (format_flags() with
 * ct_state_to_string()), then "--- conntrack" and one line per connection
 * left in the table (ct_dpif_format_entry(), not verbose, no stats: the
 * text of "ovs-appctl dpctl/dump-conntrack"), sorted.  With no option the
 * per-packet lines equal "ovstest test-conntrack pcap FILE BATCH" on
 * captures of one address family (tests/ovs_oracle/run_oracle.py checks
 * it); the options and one fix give what a datapath would see:
 *
 *  - Each stretch of consecutive packets of one dl_type is executed with
 *    its own dl_type.  test_pcap() only sets 'dl_type' while its group is
 *    empty, not after a group of another dl_type is flushed, so with
 *    batches of more than one packet, once a batch switches between IPv4
 *    and IPv6 the following packets are run as the previous family and
 *    come out invalid (conn_key_extract() parses them as the wrong
 *    family).  A datapath never does that: its batches come from one flow.
 *
 *  - --no-ipf disables IP fragment reassembly (lib/ipf.c) for v4 and v6,
 *    as "ovs-appctl dpctl/ipf-set-enabled v4|v6 0" does.  With it enabled
 *    OVS takes fragments out of the batch (and frees them), so test_pcap(),
 *    which prints from its own copy of the batch, reads freed packets and
 *    crashes on any capture holding a fragment.  With it disabled
 *    conntrack sees each fragment and marks it invalid (extract_l3_ipv4()
 *    and extract_l3_ipv6() in lib/conntrack.c refuse fragments), as
 *    ovsct does with reassembly disabled (the "other" set's runs).
 *
 *  - --by-index runs the capture with fragment reassembly as OVS
 *    configures it (lib/ipf.c, on for v4 and v6 by default) and prints
 *    each packet's final ct_state by its index in the capture, after the
 *    whole capture ran (replay_by_index()).  ipf takes fragments out of
 *    the batch (freeing them) and later puts its own copies, with their
 *    final state, into whatever batch comes next, so the batch that comes
 *    back is not the batch that went in: every packet carries its capture
 *    index in md.skb_priority (dp_packet_clone() copies the metadata, and
 *    neither ipf nor conntrack touches that field), and the driver reads
 *    the state of every packet that leaves conntrack_execute() by that
 *    index.  At the end of the capture the clock jumps past OVS's list
 *    timeout (15 s) and empty batches are run until every held fragment
 *    has left: fragments of lists that never completed leave as "inv"
 *    (ipf_send_expired_frags(), after conntrack, so without trk).
 *
 *  - --helper=NAME passes NAME ("ftp", "tftp") as conntrack_execute()'s
 *    helper, as ct(commit,alg=NAME) does (option_helper()); test_pcap()
 *    passes none, so it never attaches a helper nor makes an expectation.
 *    The flow ports (tp_src, tp_dst) stay 0: control traffic is known by
 *    the well-known ports only.
 *
 *  - --vlan-limit=N applies flow_limit_vlans(N) first, as ovs-vswitchd
 *    does with other_config:vlan-limit (default 1).  The library default
 *    that test-conntrack keeps is 2 (FLOW_MAX_VLAN_HEADERS): with 1, a
 *    frame with two tags keeps dl_type 0x8100 and is not IP for conntrack.
 *
 * Built against OVS's own lib/libopenvswitch.a by tests/ovs_oracle/build.sh;
 * it is not part of ovsct. */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "ct-dpif.h"
#include "dp-packet.h"
#include "fatal-signal.h"
#include "flow.h"
#include "ipf.h"
#include "netdev.h"
#include "ovstest.h"
#include "pcap-file.h"
#include "timeval.h"
#include "util.h"
#include "openvswitch/dynamic-string.h"

/* The helper of --helper=NAME, or NULL. */
static const char *helper;

/* Takes "--helper=NAME" in 'arg'; returns false if 'arg' is another
 * option. */
static bool
option_helper(const char *arg)
{
    if (strncmp(arg, "--helper=", 9)) {
        return false;
    }
    helper = arg + 9;
    return true;
}

/* The L3 type of 'packet', as the datapath would key it. */
static ovs_be16
l3_type(struct dp_packet *packet)
{
    struct flow flow;

    flow_extract(packet, &flow);
    return flow.dl_type;
}

/* Runs 'batch' through 'ct' as maximal stretches of consecutive packets of
 * one L3 type (conntrack_execute() takes one dl_type). */
static void
run_batch(struct conntrack *ct, struct dp_packet_batch *batch)
{
    size_t n = dp_packet_batch_size(batch);
    long long now = time_msec();

    for (size_t start = 0, end; start < n; start = end) {
        ovs_be16 type = l3_type(batch->packets[start]);
        struct dp_packet_batch stretch;

        for (end = start + 1;
             end < n && l3_type(batch->packets[end]) == type; end++) {
            continue;
        }
        dp_packet_batch_init(&stretch);
        for (size_t i = start; i < end; i++) {
            dp_packet_batch_add(&stretch, batch->packets[i]);
        }
        conntrack_execute(ct, &stretch, type, false, true, 0, NULL, NULL,
                          0, 0, helper, NULL, now, 0);
        if (dp_packet_batch_size(&stretch) != end - start) {
            ovs_fatal(0, "conntrack_execute changed the batch size");
        }
    }
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Prints "--- conntrack" and the table as "ovs-appctl
 * dpctl/dump-conntrack" shows it (not verbose, no stats), sorted. */
static void
dump_table(struct conntrack *ct)
{
    struct conntrack_dump dump;
    struct ct_dpif_entry entry;
    char **lines = NULL;
    size_t n = 0, cap = 0;
    int tot_bkts;

    conntrack_dump_start(ct, &dump, NULL, &tot_bkts);
    while (!conntrack_dump_next(&dump, &entry)) {
        struct ds ds = DS_EMPTY_INITIALIZER;

        ct_dpif_format_entry(&entry, &ds, false, false);
        ct_dpif_entry_uninit(&entry);
        if (n == cap) {
            lines = x2nrealloc(lines, &cap, sizeof *lines);
        }
        lines[n++] = ds_steal_cstr(&ds);
    }
    conntrack_dump_done(&dump);
    qsort(lines, n, sizeof *lines, cmp_str);
    printf("--- conntrack\n");
    for (size_t i = 0; i < n; i++) {
        printf("%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
}

/* Runs every packet of 'pcap' through 'ct' in batches of 'batch_size',
 * printing "<n>: <ct_state flags>" per packet, then the table. */
static void
replay_and_dump(struct conntrack *ct, struct pcap_file *pcap,
                size_t batch_size)
{
    size_t total = 0;

    for (;;) {
        struct dp_packet_batch batch;
        struct dp_packet *packet;

        dp_packet_batch_init(&batch);
        while (dp_packet_batch_size(&batch) < batch_size
               && !ovs_pcap_read(pcap, &packet, NULL)) {
            dp_packet_batch_add(&batch, packet);
        }
        if (dp_packet_batch_is_empty(&batch)) {
            break;
        }
        run_batch(ct, &batch);
        DP_PACKET_BATCH_FOR_EACH (i, packet, &batch) {
            struct ds ds = DS_EMPTY_INITIALIZER;

            format_flags(&ds, ct_state_to_string, packet->md.ct_state, '|');
            printf("%"PRIuSIZE": %s\n", ++total, ds_cstr(&ds));
            ds_destroy(&ds);
        }
        dp_packet_delete_batch(&batch, true);
    }
    dump_table(ct);
}

/* --by-index: runs 'batch' (packets of one L3 type) through 'ct' at 'now'
 * and records the state of every packet that comes out, by the index in
 * md.skb_priority, into 'states' ('seen' marks them); frees them. */
static size_t
run_by_index(struct conntrack *ct, struct dp_packet_batch *batch,
             ovs_be16 type, long long now, uint16_t *states, bool *seen,
             size_t n)
{
    struct dp_packet *packet;
    size_t out = 0;

    conntrack_execute(ct, batch, type, false, true, 0, NULL, NULL, 0, 0,
                      helper, NULL, now, 0);
    DP_PACKET_BATCH_FOR_EACH (i, packet, batch) {
        uint32_t idx = packet->md.skb_priority;

        if (idx >= n || seen[idx]) {
            ovs_fatal(0, "packet %"PRIu32" came out twice or unknown", idx);
        }
        states[idx] = packet->md.ct_state;
        seen[idx] = true;
        out++;
    }
    dp_packet_delete_batch(batch, true);
    return out;
}

/* --by-index: the whole capture, then the per-index states and the
 * table. */
static void
replay_by_index(struct conntrack *ct, struct pcap_file *pcap,
                size_t batch_size)
{
    struct dp_packet **pkts = NULL;
    size_t n = 0, cap = 0;
    struct dp_packet *packet;
    uint16_t *states;
    bool *seen;
    long long now = time_msec();

    while (!ovs_pcap_read(pcap, &packet, NULL)) {
        if (n == cap) {
            pkts = x2nrealloc(pkts, &cap, sizeof *pkts);
        }
        packet->md.skb_priority = n;
        pkts[n++] = packet;
    }
    states = xcalloc(n ? n : 1, sizeof *states);
    seen = xcalloc(n ? n : 1, sizeof *seen);

    /* Batches of 'batch_size' capture packets, each split into stretches
     * of one L3 type (run_batch()). */
    for (size_t base = 0; base < n; base += batch_size) {
        size_t end_batch = MIN(n, base + batch_size);

        now = time_msec();
        for (size_t start = base, end; start < end_batch; start = end) {
            ovs_be16 type = l3_type(pkts[start]);
            struct dp_packet_batch stretch;

            for (end = start + 1;
                 end < end_batch && l3_type(pkts[end]) == type; end++) {
                continue;
            }
            dp_packet_batch_init(&stretch);
            for (size_t i = start; i < end; i++) {
                dp_packet_batch_add(&stretch, pkts[i]);
            }
            run_by_index(ct, &stretch, type, now, states, seen, n);
        }
    }

    /* Lists that never completed time out (IPF_FRAG_LIST_TIMEOUT, 15 s;
     * one list leaves per batch): run empty batches of either family until
     * nothing is held any more. */
    now += 15001;
    for (int idle = 0; idle < 2;) {
        struct dp_packet_batch empty;
        struct ipf_status st;
        size_t out;

        dp_packet_batch_init(&empty);
        out = run_by_index(ct, &empty, htons(ETH_TYPE_IP), now, states,
                           seen, n);
        dp_packet_batch_init(&empty);
        out += run_by_index(ct, &empty, htons(ETH_TYPE_IPV6), now, states,
                            seen, n);
        ipf_get_status(conntrack_ipf_ctx(ct), &st);
        idle = out || st.nfrag ? 0 : idle + 1;
    }

    for (size_t i = 0; i < n; i++) {
        struct ds ds = DS_EMPTY_INITIALIZER;

        if (!seen[i]) {
            ovs_fatal(0, "packet %"PRIuSIZE" never came out", i + 1);
        }
        format_flags(&ds, ct_state_to_string, states[i], '|');
        printf("%"PRIuSIZE": %s\n", i + 1, ds_cstr(&ds));
        ds_destroy(&ds);
    }
    free(states);
    free(seen);
    free(pkts);
    dump_table(ct);
}

static void
pcap_main(int argc, char *argv[])
{
    const char *usage = "usage: ovsct-pcap [--vlan-limit=N] [--no-ipf] "
                        "[--by-index] [--helper=NAME] FILE [BATCH]";
    size_t batch_size = 1;
    bool ipf = true;
    bool by_index = false;
    struct pcap_file *pcap;
    struct conntrack *ct;
    int i;

    set_program_name(argv[0]);
    for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strncmp(argv[i], "--vlan-limit=", 13)) {
            flow_limit_vlans(atoi(argv[i] + 13));
        } else if (!strcmp(argv[i], "--no-ipf")) {
            ipf = false;
        } else if (!strcmp(argv[i], "--by-index")) {
            by_index = true;
        } else if (option_helper(argv[i])) {
            continue;
        } else {
            ovs_fatal(0, "%s", usage);
        }
    }
    if (argc - i < 1 || argc - i > 2) {
        ovs_fatal(0, "%s", usage);
    }
    if (argc - i == 2) {
        batch_size = strtoul(argv[i + 1], NULL, 0);
        if (batch_size == 0 || batch_size > NETDEV_MAX_BURST) {
            ovs_fatal(0, "batch_size must be 1..%u", NETDEV_MAX_BURST);
        }
    }
    pcap = ovs_pcap_open(argv[i], "rb");
    if (!pcap) {
        ovs_fatal(0, "%s: cannot open", argv[i]);
    }
    fatal_signal_init();
    ct = conntrack_init();
    if (!ipf) {
        ipf_set_enabled(conntrack_ipf_ctx(ct), false, false);
        ipf_set_enabled(conntrack_ipf_ctx(ct), true, false);
    }
    if (by_index) {
        replay_by_index(ct, pcap, batch_size);
    } else {
        replay_and_dump(ct, pcap, batch_size);
    }
    conntrack_destroy(ct);
    ovs_pcap_close(pcap);
}

OVSTEST_REGISTER("ovsct-pcap", pcap_main);
