/*
 * nfct.h -- decoder of the kernel's conntrack netlink messages (ctnetlink).
 *
 * Plain C (no Python, no I/O): the caller reads the raw datagrams of a
 * ctnetlink dump (IPCTNL_MSG_CT_GET with NLM_F_DUMP) or of the conntrack
 * multicast groups from its own socket and hands each buffer here.  Each
 * IPCTNL_MSG_CT_NEW / IPCTNL_MSG_CT_DELETE message becomes one
 * 'struct ovsct_nfct_entry', mapped the way Open vSwitch maps it
 * (lib/netlink-conntrack.c nl_ct_attrs_to_ct_dpif_entry()): kernel TCP
 * states to ct_dpif TCP states, IPS_* status bits to CT_DPIF_STATUS_*,
 * IP_CT_TCP_FLAG_* to CT_DPIF_TCPF_*.  ovsct_nfct_format() writes the line
 * OVS's ct_dpif_format_entry() (lib/ct-dpif.c) writes for such an entry.
 *
 * Usage:
 *
 *     const uint8_t *p = buf;
 *     size_t left = n;
 *     struct ovsct_nfct_entry e;
 *     int err;
 *     for (;;) {
 *         int r = ovsct_nfct_next(&p, &left, &e, &err);
 *         if (r == OVSCT_NFCT_ENTRY) { ... use e ... }
 *         else break;     // END (buffer used up), DONE, or ERROR ('err')
 *     }
 *
 * Everything is reentrant; no allocation.
 *
 * Neighbours: binding/nfct.c (the Python glue), ovsct/kernel/ (sockets,
 * requests and commands), tests/c/test_nfct.c.
 */
#ifndef OVSCT_NFCT_H
#define OVSCT_NFCT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of ovsct_nfct_next(). */
enum {
    OVSCT_NFCT_END = 0,     /* Buffer used up: read the next datagram. */
    OVSCT_NFCT_ENTRY = 1,   /* One entry decoded. */
    OVSCT_NFCT_DONE = 2,    /* NLMSG_DONE, or the ack of a request. */
    OVSCT_NFCT_ERROR = 3,   /* NLMSG_ERROR with a nonzero errno, or a
                             * malformed message (EPROTO). */
};

/* Event kinds (nl_ct_parse_header_policy()). */
enum ovsct_nfct_event {
    OVSCT_NFCT_EV_NEW = 0,      /* IPCTNL_MSG_CT_NEW with NLM_F_CREATE. */
    OVSCT_NFCT_EV_UPDATE = 1,   /* IPCTNL_MSG_CT_NEW without it (a dump). */
    OVSCT_NFCT_EV_DESTROY = 2,  /* IPCTNL_MSG_CT_DELETE. */
};

/* One direction's tuple. */
struct ovsct_nfct_tuple {
    uint8_t l3;                 /* 4 or 6; 0 if absent. */
    uint8_t proto;              /* IP protocol number. */
    uint8_t src[16], dst[16];   /* Network order (IPv4: first 4 bytes). */
    uint16_t sport, dport;      /* Host order. */
    uint16_t icmp_id;           /* Host order. */
    uint8_t icmp_type, icmp_code;
};

/* One connection, as OVS's struct ct_dpif_entry holds it. */
struct ovsct_nfct_entry {
    uint8_t event;              /* enum ovsct_nfct_event. */
    struct ovsct_nfct_tuple orig, reply, master;  /* master.l3 == 0: none. */
    uint32_t id;                /* CTA_ID. */
    uint32_t status;            /* CT_DPIF_STATUS_* bits. */
    uint32_t timeout;           /* Seconds left. */
    uint32_t mark;
    uint16_t zone;
    uint64_t labels_hi, labels_lo;  /* 128-bit label value. */
    uint64_t packets[2], bytes[2];  /* [0] orig, [1] reply; 0 if no acct. */
    uint64_t start_ns, stop_ns;     /* Wall clock ns; 0 if no timestamps. */
    bool has_tcp;               /* TCP protoinfo present. */
    uint8_t tcp_state;          /* ct_dpif TCP state. */
    uint8_t tcp_wscale[2];      /* [0] orig, [1] reply. */
    uint8_t tcp_flags[2];       /* CT_DPIF_TCPF_* bits. */
    char helper[32];            /* Helper name, "" if none. */
};

/* Decodes the next message of the buffer ['*p', '*p' + '*left') into 'e'
 * and advances '*p' and '*left' past it.  Messages other than ctnetlink
 * entries (NLMSG_NOOP, other subsystems) are skipped.  On
 * OVSCT_NFCT_ERROR, '*err' is the positive errno. */
int ovsct_nfct_next(const uint8_t **p, size_t *left,
                    struct ovsct_nfct_entry *e, int *err);

/* Upper bound of one formatted line (no newline, no NUL). */
#define OVSCT_NFCT_LINE_MAX 1024

/* Writes 'e' as ct_dpif_format_entry() does (with 'verbose' for -m and
 * 'stats' for -s) at 'buf', which has room for OVSCT_NFCT_LINE_MAX bytes.
 * Returns the length written (no newline, no NUL). */
size_t ovsct_nfct_format(const struct ovsct_nfct_entry *e, bool verbose,
                         bool stats, char *buf);

/* Name of ct_dpif TCP state 's', of CT_DPIF_STATUS_* bit 'bit', of
 * CT_DPIF_TCPF_* bit 'bit' (as OVS prints them), or NULL if out of
 * range. */
const char *ovsct_nfct_tcp_state_name(unsigned int s);
const char *ovsct_nfct_status_name(unsigned int bit);
const char *ovsct_nfct_tcp_flag_name(unsigned int bit);

#endif /* nfct.h */
