/*
 * names.c -- the engine's names (see names.h), each spelled once.
 */
#include "names.h"

const char *const ovsct_event_names[OVSCT_EVENT_TYPES_N] = {
    "", "NEW", "UPDATE", "DESTROY",
};

const char *const ovsct_tcp_state_names[OVSCT_TCPS_N] = {
    [OVSCT_TCPS_CLOSED] = "CLOSED",
    [OVSCT_TCPS_LISTEN] = "LISTEN",
    [OVSCT_TCPS_SYN_SENT] = "SYN_SENT",
    [OVSCT_TCPS_SYN_RECV] = "SYN_RECV",
    [OVSCT_TCPS_ESTABLISHED] = "ESTABLISHED",
    [OVSCT_TCPS_CLOSE_WAIT] = "CLOSE_WAIT",
    [OVSCT_TCPS_FIN_WAIT_1] = "FIN_WAIT_1",
    [OVSCT_TCPS_CLOSING] = "CLOSING",
    [OVSCT_TCPS_LAST_ACK] = "LAST_ACK",
    [OVSCT_TCPS_FIN_WAIT_2] = "FIN_WAIT_2",
    [OVSCT_TCPS_TIME_WAIT] = "TIME_WAIT",
};

/* OVS's CT_DPIF_TCP_FLAGS order (lib/ct-dpif.h). */
const char *const ovsct_tcp_flag_names[8] = {
    "WINDOW_SCALE", "SACK_PERM", "CLOSE_INIT", "BE_LIBERAL",
    "DATA_UNACKNOWLEDGED", "MAXACK_SET", NULL, NULL,
};

/* OVS's CT_DPIF_STATUS_FLAGS order (lib/ct-dpif.h): bit i is the kernel's
 * IPS_* bit i. */
const char *const ovsct_ct_status_names[OVSCT_CT_STATUS_N] = {
    "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SRC_NAT", "DST_NAT",
    "SEQ_ADJUST", "SRC_NAT_DONE", "DST_NAT_DONE", "DYING", "FIXED_TIMEOUT",
    "TEMPLATE", "UNTRACKED",
};

/* lib/ct-dpif.c ct_dpif_format_ipproto(). */
static const char *const proto_names[256] = {
    [1] = "icmp", [2] = "igmp", [6] = "tcp", [17] = "udp", [33] = "dccp",
    [58] = "icmpv6", [132] = "sctp", [136] = "udplite",
};

const char *const ovsct_alg_names[OVSCT_ALG_N] = {
    [OVSCT_ALG_NONE] = NULL,
    [OVSCT_ALG_FTP] = "ftp",
    [OVSCT_ALG_TFTP] = "tftp",
};

const char *
ovsct_proto_name(uint8_t proto)
{
    return proto_names[proto];
}

const char *const ovsct_proto_class_names[OVSCT_PC_N] = {
    [OVSCT_PC_TCP] = "tcp", [OVSCT_PC_UDP] = "udp",
    [OVSCT_PC_UDPLITE] = "udplite", [OVSCT_PC_SCTP] = "sctp",
    [OVSCT_PC_ICMP] = "icmp", [OVSCT_PC_ICMPV6] = "icmpv6",
    [OVSCT_PC_DCCP] = "dccp", [OVSCT_PC_IGMP] = "igmp",
    [OVSCT_PC_OTHER] = "other",
};

/* lib/dpctl.c dpctl_ct_stats_show() labels. */
const char *const ovsct_proto_class_labels[OVSCT_PC_N] = {
    [OVSCT_PC_TCP] = "TCP", [OVSCT_PC_UDP] = "UDP",
    [OVSCT_PC_UDPLITE] = "UDPLITE", [OVSCT_PC_SCTP] = "SCTP",
    [OVSCT_PC_ICMP] = "ICMP", [OVSCT_PC_ICMPV6] = "ICMPv6",
    [OVSCT_PC_DCCP] = "DCCP", [OVSCT_PC_IGMP] = "IGMP",
    [OVSCT_PC_OTHER] = "Other",
};

enum ovsct_proto_class
ovsct_proto_class_of(uint8_t l3, uint8_t proto)
{
    switch (proto) {
    case 6: return OVSCT_PC_TCP;
    case 17: return OVSCT_PC_UDP;
    case 136: return OVSCT_PC_UDPLITE;
    case 132: return OVSCT_PC_SCTP;
    case 1: return l3 == 4 ? OVSCT_PC_ICMP : OVSCT_PC_OTHER;
    case 58: return l3 == 6 ? OVSCT_PC_ICMPV6 : OVSCT_PC_OTHER;
    case 33: return OVSCT_PC_DCCP;
    case 2: return OVSCT_PC_IGMP;
    default: return OVSCT_PC_OTHER;
    }
}

/* lib/packets.h CS_STATES order. */
const struct ovsct_cs_name ovsct_cs_names[OVSCT_CS_N] = {
    { OVSCT_CS_NEW, "new" }, { OVSCT_CS_ESTABLISHED, "est" },
    { OVSCT_CS_RELATED, "rel" }, { OVSCT_CS_REPLY_DIR, "rpl" },
    { OVSCT_CS_INVALID, "inv" }, { OVSCT_CS_TRACKED, "trk" },
    { OVSCT_CS_SRC_NAT, "snat" }, { OVSCT_CS_DST_NAT, "dnat" },
};

const char *const ovsct_counter_names[OVSCT_N_COUNTERS] = {
    "packets", "invalid", "created", "removed", "expired", "flushed",
    "full", "zone_full", "nat_exhausted", "lookup_reaped", "sweeps",
    "sweep_scanned", "lock_contended", "max_sweep_hold_ns",
    "sweep_hold_lt_1us", "sweep_hold_lt_4us", "sweep_hold_lt_16us",
    "sweep_hold_lt_64us", "sweep_hold_lt_256us", "sweep_hold_lt_1ms",
    "sweep_hold_lt_4ms", "sweep_hold_ge_4ms",
};

_Static_assert(sizeof(struct ovsct_counters)
               == OVSCT_N_COUNTERS * sizeof(uint64_t),
               "ovsct_counter_names[] must name every counter");

void
ovsct_counters_flatten(const struct ovsct_counters *c,
                       uint64_t out[OVSCT_N_COUNTERS])
{
    const uint64_t v[OVSCT_N_COUNTERS] = {
        c->packets, c->invalid, c->created, c->removed, c->expired,
        c->flushed, c->full, c->zone_full, c->nat_exhausted,
        c->lookup_reaped, c->sweeps, c->sweep_scanned, c->lock_contended,
        c->max_sweep_hold_ns,
        c->sweep_hold_hist[0], c->sweep_hold_hist[1], c->sweep_hold_hist[2],
        c->sweep_hold_hist[3], c->sweep_hold_hist[4], c->sweep_hold_hist[5],
        c->sweep_hold_hist[6], c->sweep_hold_hist[7],
    };

    for (int i = 0; i < OVSCT_N_COUNTERS; i++) {
        out[i] = v[i];
    }
}

const char *const ovsct_tp_names[OVSCT_TP_N] = {
    [OVSCT_TP_TCP_SYN_SENT] = "tcp_syn_sent",
    [OVSCT_TP_TCP_SYN_RECV] = "tcp_syn_recv",
    [OVSCT_TP_TCP_ESTABLISHED] = "tcp_established",
    [OVSCT_TP_TCP_FIN_WAIT] = "tcp_fin_wait",
    [OVSCT_TP_TCP_TIME_WAIT] = "tcp_time_wait",
    [OVSCT_TP_TCP_CLOSE] = "tcp_close",
    [OVSCT_TP_UDP_FIRST] = "udp_first",
    [OVSCT_TP_UDP_SINGLE] = "udp_single",
    [OVSCT_TP_UDP_MULTIPLE] = "udp_multiple",
    [OVSCT_TP_ICMP_FIRST] = "icmp_first",
    [OVSCT_TP_ICMP_REPLY] = "icmp_reply",
};
const char *const ovsct_ipf_state_names[OVSCT_IPF_N_STATES] = {
    "unused", "reassemble fail", "other frag", "first frag", "last frag",
    "first/last frag", "complete",
};
