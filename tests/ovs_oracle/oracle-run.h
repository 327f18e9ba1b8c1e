/* oracle-run.h -- the batch loop shared by the OVS oracle subcommands
 * (ovs-ct-dump.c, ovs-ct-other.c), which build against OVS's library: a
 * pcap batch goes through conntrack_execute() with commit, zone 0, no
 * NAT, as maximal stretches of consecutive packets of one L3 type (the
 * call takes one dl_type).  Not part of ovsct. */
#ifndef OVSCT_ORACLE_RUN_H
#define OVSCT_ORACLE_RUN_H 1

/* The L3 type of 'packet', as the datapath would key it. */
static ovs_be16
l3_type(struct dp_packet *packet)
{
    struct flow flow;

    flow_extract(packet, &flow);
    return flow.dl_type;
}

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
                          0, 0, NULL, NULL, now, 0);
        if (dp_packet_batch_size(&stretch) != end - start) {
            ovs_fatal(0, "conntrack_execute changed the batch size");
        }
    }
}

#endif /* oracle-run.h */
