/* oracle-run.h -- the batch loop shared by the OVS oracle subcommands
 * (ovs-ct-dump.c, ovs-ct-other.c), which build against OVS's library: a
 * pcap batch goes through conntrack_execute() with commit, zone 0, no
 * NAT, as maximal stretches of consecutive packets of one L3 type (the
 * call takes one dl_type); and the sorted table dump they end with.  Not
 * part of ovsct. */
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

#endif /* oracle-run.h */
