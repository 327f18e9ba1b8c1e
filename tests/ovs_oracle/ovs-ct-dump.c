/* ovstest subcommand "ovsct-pcap-dump FILE [BATCH]": the same loop as OVS's
 * tests/test-conntrack.c "pcap" (conntrack_execute() with commit=true,
 * force=false, zone 0, no NAT, packets grouped by dl_type within a batch),
 * printing "<n>: <ct_state>" per packet, then "--- conntrack" and one line
 * per connection left in the table (ct_dpif_format_entry(), not verbose,
 * no stats: the text of "ovs-appctl dpctl/dump-conntrack"), sorted.
 *
 * Built against OVS's own lib/libopenvswitch.a by tests/ovs_oracle/build.sh;
 * it is not part of ovsct.  Only the dump at the end is new: the per-packet
 * lines must equal "ovstest test-conntrack pcap FILE BATCH" (run.sh checks). */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "ct-dpif.h"
#include "dp-packet.h"
#include "fatal-signal.h"
#include "flow.h"
#include "netdev.h"
#include "ovstest.h"
#include "pcap-file.h"
#include "timeval.h"
#include "util.h"
#include "openvswitch/dynamic-string.h"

#include "oracle-run.h"

static void
pcap_dump_main(int argc, char *argv[])
{
    size_t batch_size = 1;
    struct pcap_file *pcap;
    struct conntrack *ct;

    set_program_name(argv[0]);
    if (argc < 2 || argc > 3) {
        ovs_fatal(0, "usage: ovsct-pcap-dump FILE [BATCH]");
    }
    pcap = ovs_pcap_open(argv[1], "rb");
    if (!pcap) {
        ovs_fatal(0, "%s: cannot open", argv[1]);
    }
    if (argc > 2) {
        batch_size = strtoul(argv[2], NULL, 0);
        if (batch_size == 0 || batch_size > NETDEV_MAX_BURST) {
            ovs_fatal(0, "batch_size must be 1..%u", NETDEV_MAX_BURST);
        }
    }
    fatal_signal_init();
    ct = conntrack_init();
    replay_and_dump(ct, pcap, batch_size);
    conntrack_destroy(ct);
    ovs_pcap_close(pcap);
}

OVSTEST_REGISTER("ovsct-pcap-dump", pcap_dump_main);
