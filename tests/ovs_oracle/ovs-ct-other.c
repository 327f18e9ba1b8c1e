/* ovstest subcommand "ovsct-pcap-other FILE BATCH VLAN_LIMIT": the loop of
 * ovs-ct-dump.c ("ovsct-pcap-dump"; itself OVS's tests/test-conntrack.c
 * "pcap": conntrack_execute() with commit=true, force=false, zone 0, no NAT,
 * packets grouped by dl_type within a batch), printing "<n>: <ct_state>"
 * per packet, then "--- conntrack" and the sorted dpctl/dump-conntrack
 * lines, with two differences that the non-TCP captures need:
 *
 *  - IP fragment reassembly (lib/ipf.c) is disabled for v4 and v6, as
 *    "ovs-appctl dpctl/ipf-set-enabled v4|v6 0" does.  With it enabled OVS
 *    takes fragments out of the batch (and frees them), so test-conntrack's
 *    pcap loop, which prints from its own copy of the batch, reads freed
 *    packets and crashes on any capture holding a fragment.  With it
 *    disabled conntrack sees each fragment and marks it invalid (OVS's
 *    extract_l3_ipv4/ipv6 refuse fragments): the behaviour ovsct copies, as
 *    it has no reassembly.
 *
 *  - A group of packets of one dl_type is given that dl_type.  In
 *    test-conntrack.c 'dl_type' is only set when the
 *    group is empty, not after a group of another dl_type is flushed, so
 *    with batches of more than one packet, once a batch switches between
 *    IPv4 and IPv6 the following packets are run with the previous dl_type
 *    and come out invalid (conn_key_extract() parses them as the wrong
 *    family).  A datapath never does that: its batches come from one flow.
 *
 *  - flow_limit_vlans(VLAN_LIMIT) is applied first, as ovs-vswitchd does
 *    with other_config:vlan-limit (default 1).  The library default used by
 *    test-conntrack is 2 (FLOW_MAX_VLAN_HEADERS): with 1, a frame with two
 *    tags keeps dl_type 0x8100 and is not IP for conntrack.
 *
 * Built by tests/ovs_oracle/build_other.sh; not part of ovsct. */
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


#include "oracle-run.h"

static void
pcap_other_main(int argc, char *argv[])
{
    size_t batch_size;
    struct pcap_file *pcap;
    struct conntrack *ct;

    set_program_name(argv[0]);
    if (argc != 4) {
        ovs_fatal(0, "usage: ovsct-pcap-other FILE BATCH VLAN_LIMIT");
    }
    batch_size = strtoul(argv[2], NULL, 0);
    if (batch_size == 0 || batch_size > NETDEV_MAX_BURST) {
        ovs_fatal(0, "batch_size must be 1..%u", NETDEV_MAX_BURST);
    }
    flow_limit_vlans(atoi(argv[3]));
    pcap = ovs_pcap_open(argv[1], "rb");
    if (!pcap) {
        ovs_fatal(0, "%s: cannot open", argv[1]);
    }
    fatal_signal_init();
    ct = conntrack_init();
    ipf_set_enabled(conntrack_ipf_ctx(ct), false, false);
    ipf_set_enabled(conntrack_ipf_ctx(ct), true, false);
    replay_and_dump(ct, pcap, batch_size);
    conntrack_destroy(ct);
    ovs_pcap_close(pcap);
}

OVSTEST_REGISTER("ovsct-pcap-other", pcap_other_main);
