/*
 * names.h -- the one home of the engine's names: protocols, protocol
 * classes, TCP states, TCP flags, ct_state bits, counters, timeout-policy
 * attributes, and the rule that coalesces two TCP peer states into the
 * one OVS prints.
 *
 * Every name is spelled as Open vSwitch prints it (lib/ct-dpif.c:
 * ct_dpif_format_ipproto(), CT_DPIF_TCP_STATES, CT_DPIF_TCP_FLAGS,
 * coalesce_tcp_state(); lib/packets.h CS_STATES for the ct_state bit
 * names ofp-ct prints; CT_DPIF_STATUS_FLAGS for the kernel's conntrack
 * status bits).  format.c, dump.c, dpio/nfct.c, the benchmark driver and the
 * Python binding (which exports them as ovsct._engine.TCP_STATE_NAMES,
 * PROTO_NAMES, ...) all read them from here; nothing else spells them.
 * Depends on ovsct.h only.
 */
#ifndef OVSCT_NAMES_H
#define OVSCT_NAMES_H 1

#include <stddef.h>
#include <stdint.h>

#include "ovsct.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Event type names by enum ovsct_event_type ("NEW", "UPDATE", "DESTROY";
 * index 0 is ""), as the kernel's conntrack tool and ovsct events print
 * them inside brackets. */
#define OVSCT_EVENT_TYPES_N 4
extern const char *const ovsct_event_names[OVSCT_EVENT_TYPES_N];

/* TCP peer state names, enum ovsct_tcp_state order ("CLOSED", ...). */
extern const char *const ovsct_tcp_state_names[OVSCT_TCPS_N];

/* The state OVS prints without -m (lib/ct-dpif.c coalesce_tcp_state()):
 * the larger of the two, with SYN_RECV shown as ESTABLISHED and
 * FIN_WAIT_2 as TIME_WAIT. */
static inline uint8_t
ovsct_tcp_state_coalesce(uint8_t orig, uint8_t reply)
{
    uint8_t s = orig > reply ? orig : reply;

    if (s == OVSCT_TCPS_SYN_RECV) {
        return OVSCT_TCPS_ESTABLISHED;
    }
    if (s == OVSCT_TCPS_FIN_WAIT_2) {
        return OVSCT_TCPS_TIME_WAIT;
    }
    return s;
}

/* TCP flag names by bit number (OVSCT_TCPF_*), NULL for bits without a
 * name; the first OVSCT_TCPF_N bits all have one. */
#define OVSCT_TCPF_N 6
extern const char *const ovsct_tcp_flag_names[8];

/* Kernel conntrack status bit names (IPS_* bit i, as OVS's
 * CT_DPIF_STATUS_FLAGS in lib/ct-dpif.h name them), for the kernel
 * datapath's dump (dpio/nfct.c). */
#define OVSCT_CT_STATUS_N 13
extern const char *const ovsct_ct_status_names[OVSCT_CT_STATUS_N];

/* Fragment list states as OVS's ipf-get-status -m prints them (lib/ipf.c
 * ipf_state_name[], enum ipf_list_state order: "unused", "reassemble
 * fail", "other frag", "first frag", "last frag", "first/last frag",
 * "complete"). */
#define OVSCT_IPF_N_STATES 7
extern const char *const ovsct_ipf_state_names[OVSCT_IPF_N_STATES];

/* Protocol name by IP protocol number as OVS prints it ("tcp", "icmpv6",
 * ...), or NULL for a protocol OVS prints as a number. */
const char *ovsct_proto_name(uint8_t proto);

/* ALG helper names by OVSCT_ALG_* ("ftp", "tftp"; NULL for none), as
 * ct(alg=...) takes them and dump-conntrack prints them (helper=). */
#define OVSCT_ALG_N 3
extern const char *const ovsct_alg_names[OVSCT_ALG_N];

/* Protocol classes of ct-stats-show, enum ovsct_proto_class order: the
 * key ("tcp", ..., "other") and the label OVS prints ("TCP", ...,
 * "Other"; "ICMPv6" is ours, OVS has no such line). */
extern const char *const ovsct_proto_class_names[OVSCT_PC_N];
extern const char *const ovsct_proto_class_labels[OVSCT_PC_N];
enum ovsct_proto_class ovsct_proto_class_of(uint8_t l3, uint8_t proto);

/* ct_state bits and their names, in OVS's print order. */
#define OVSCT_CS_N 8
struct ovsct_cs_name {
    uint8_t bit;                /* OVSCT_CS_*. */
    const char *name;           /* "new", "est", ... */
};
extern const struct ovsct_cs_name ovsct_cs_names[OVSCT_CS_N];

/* Counter names, in the order ovsct_counters_flatten() writes them:
 * struct ovsct_counters order, the sweep_hold_hist classes flattened into
 * one name each. */
#define OVSCT_N_COUNTERS (14 + OVSCT_SWEEP_HOLD_CLASSES)
extern const char *const ovsct_counter_names[OVSCT_N_COUNTERS];
void ovsct_counters_flatten(const struct ovsct_counters *,
                            uint64_t out[OVSCT_N_COUNTERS]);

/* Timeout-policy attribute names ("tcp_syn_sent", ...), enum
 * ovsct_tp_attr order; their default values are ovsct_tp_defaults[]. */
extern const char *const ovsct_tp_names[OVSCT_TP_N];

#ifdef __cplusplus
}
#endif

#endif /* names.h */
