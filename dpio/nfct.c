/*
 * nfct.c -- ctnetlink messages to OVS conntrack entries and dump lines.
 *
 * The attribute layout is the kernel's uapi
 * (linux/netfilter/nfnetlink_conntrack.h); the mapping to ct_dpif values is
 * OVS's lib/netlink-conntrack.c; the text is lib/ct-dpif.c
 * ct_dpif_format_entry() as OVS 3.1 prints it (ICMP tuples always carry
 * id, type and code).  Numbers, addresses, tuples, states, mark and
 * labels are written by the engine's formatter (ext/format.c, the
 * ovsct_put_*() of ext/ovsct.h), by hand and without printf: this is the
 * dump path of a kernel table of 100k+ entries.
 *
 * Neighbours: nfct.h (contract), ext/names.[ch] (the names printed),
 * ext/format.c (the text of the pieces shared with the engine's dump),
 * binding/nfct.c, tests/c/test_nfct.c.
 */
#include "nfct.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "names.h"
#include "ovsct.h"
#include "packet.h"

/* Netlink and nfnetlink framing (linux/netlink.h, linux/netfilter/
 * nfnetlink.h), spelled out so that this file needs no kernel headers. */
#define NLMSG_HDRLEN__ 16
#define NLMSG_NOOP__ 1
#define NLMSG_ERROR__ 2
#define NLMSG_DONE__ 3
#define NLM_F_CREATE__ 0x400
#define NFGENMSG_LEN__ 4
#define NLA_HDRLEN__ 4
#define NLA_TYPE_MASK__ 0x3fff
#define ALIGN4(X) (((X) + 3u) & ~3u)
#define NFNL_SUBSYS_CTNETLINK__ 1
#define IPCTNL_MSG_CT_NEW__ 0
#define IPCTNL_MSG_CT_DELETE__ 2

/* enum ctattr_type. */
enum {
    CTA_TUPLE_ORIG = 1, CTA_TUPLE_REPLY = 2, CTA_STATUS = 3,
    CTA_PROTOINFO = 4, CTA_HELP = 5, CTA_TIMEOUT = 7, CTA_MARK = 8,
    CTA_COUNTERS_ORIG = 9, CTA_COUNTERS_REPLY = 10, CTA_ID = 12,
    CTA_TUPLE_MASTER = 14, CTA_ZONE = 18, CTA_TIMESTAMP = 20,
    CTA_LABELS = 22,
};
/* enum ctattr_tuple, ctattr_ip, ctattr_l4. */
enum { CTA_TUPLE_IP = 1, CTA_TUPLE_PROTO = 2 };
enum { CTA_IP_V4_SRC = 1, CTA_IP_V4_DST = 2, CTA_IP_V6_SRC = 3,
       CTA_IP_V6_DST = 4 };
enum {
    CTA_PROTO_NUM = 1, CTA_PROTO_SRC_PORT = 2, CTA_PROTO_DST_PORT = 3,
    CTA_PROTO_ICMP_ID = 4, CTA_PROTO_ICMP_TYPE = 5, CTA_PROTO_ICMP_CODE = 6,
    CTA_PROTO_ICMPV6_ID = 7, CTA_PROTO_ICMPV6_TYPE = 8,
    CTA_PROTO_ICMPV6_CODE = 9,
};
/* enum ctattr_protoinfo, ctattr_protoinfo_tcp, ctattr_counters,
 * ctattr_tstamp, ctattr_help. */
enum { CTA_PROTOINFO_TCP = 1 };
enum {
    CTA_PROTOINFO_TCP_STATE = 1, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL = 2,
    CTA_PROTOINFO_TCP_WSCALE_REPLY = 3, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL = 4,
    CTA_PROTOINFO_TCP_FLAGS_REPLY = 5,
};
enum { CTA_COUNTERS_PACKETS = 1, CTA_COUNTERS_BYTES = 2,
       CTA_COUNTERS32_PACKETS = 3, CTA_COUNTERS32_BYTES = 4 };
enum { CTA_TIMESTAMP_START = 1, CTA_TIMESTAMP_STOP = 2 };
enum { CTA_HELP_NAME = 1 };

/* The names (ct_dpif TCP states, CT_DPIF_STATUS_* and CT_DPIF_TCPF_* bits)
 * are the engine's (ext/names.c); the kernel's values are mapped onto
 * them below. */
#define STATUS_MASK ((1u << OVSCT_CT_STATUS_N) - 1)
#define TCP_FLAGS_MASK ((1u << OVSCT_TCPF_N) - 1)

const char *
ovsct_nfct_tcp_state_name(unsigned int s)
{
    return s < OVSCT_TCPS_N ? ovsct_tcp_state_names[s] : NULL;
}

const char *
ovsct_nfct_status_name(unsigned int bit)
{
    return bit < OVSCT_CT_STATUS_N ? ovsct_ct_status_names[bit] : NULL;
}

const char *
ovsct_nfct_tcp_flag_name(unsigned int bit)
{
    return bit < OVSCT_TCPF_N ? ovsct_tcp_flag_names[bit] : NULL;
}

/* nl_ct_tcp_state_to_dpif(): enum tcp_conntrack to ct_dpif. */
static uint8_t
tcp_state_to_dpif(uint8_t state)
{
    switch (state) {
    case 1: case 9:     /* SYN_SENT, SYN_SENT2. */
        return OVSCT_TCPS_SYN_SENT;
    case 2: return OVSCT_TCPS_SYN_RECV;
    case 3: return OVSCT_TCPS_ESTABLISHED;
    case 4: return OVSCT_TCPS_FIN_WAIT_1;     /* FIN_WAIT. */
    case 5: return OVSCT_TCPS_CLOSE_WAIT;
    case 6: return OVSCT_TCPS_LAST_ACK;
    case 7: return OVSCT_TCPS_TIME_WAIT;
    case 8: return OVSCT_TCPS_CLOSING;        /* CLOSE. */
    default: return OVSCT_TCPS_CLOSED;        /* NONE and unknown. */
    }
}

/* Unaligned big-endian reads (get_be16() and get_be32(): packet.h). */
static inline uint64_t
get_be64(const uint8_t *p)
{
    return (uint64_t) get_be32(p) << 32 | get_be32(p + 4);
}

/* Attribute iteration over ['p', 'end'). */
struct nla_iter {
    const uint8_t *p, *end;
    uint16_t type;              /* Current attribute type (flags masked). */
    const uint8_t *data;        /* Its payload ... */
    size_t len;                 /* ... and payload length. */
};

/* Moves to the next attribute; false at the end or on a malformed one
 * (then 'it->p' != 'it->end'). */
static bool
nla_next(struct nla_iter *it)
{
    if ((size_t) (it->end - it->p) < NLA_HDRLEN__) {
        return false;
    }
    uint16_t len = (uint16_t) (it->p[0] | it->p[1] << 8);
    uint16_t type = (uint16_t) (it->p[2] | it->p[3] << 8);
    if (len < NLA_HDRLEN__ || len > it->end - it->p) {
        return false;
    }
    it->type = type & NLA_TYPE_MASK__;
    it->data = it->p + NLA_HDRLEN__;
    it->len = len - NLA_HDRLEN__;
    size_t step = ALIGN4(len);
    it->p += step <= (size_t) (it->end - it->p) ? step
             : (size_t) (it->end - it->p);
    return true;
}

static inline void
nla_init(struct nla_iter *it, const uint8_t *data, size_t len)
{
    it->p = data;
    it->end = data + len;
}

static bool
parse_tuple(const uint8_t *data, size_t len, uint8_t family,
            struct ovsct_nfct_tuple *t)
{
    struct nla_iter it, in;

    memset(t, 0, sizeof *t);
    t->l3 = family == AF_INET6 ? 6 : 4;
    for (nla_init(&it, data, len); nla_next(&it); ) {
        if (it.type == CTA_TUPLE_IP) {
            for (nla_init(&in, it.data, it.len); nla_next(&in); ) {
                switch (in.type) {
                case CTA_IP_V4_SRC: case CTA_IP_V4_DST:
                    if (in.len < 4) {
                        return false;
                    }
                    t->l3 = 4;
                    memcpy(in.type == CTA_IP_V4_SRC ? t->src : t->dst,
                           in.data, 4);
                    break;
                case CTA_IP_V6_SRC: case CTA_IP_V6_DST:
                    if (in.len < 16) {
                        return false;
                    }
                    t->l3 = 6;
                    memcpy(in.type == CTA_IP_V6_SRC ? t->src : t->dst,
                           in.data, 16);
                    break;
                }
            }
        } else if (it.type == CTA_TUPLE_PROTO) {
            for (nla_init(&in, it.data, it.len); nla_next(&in); ) {
                if (!in.len) {
                    return false;
                }
                switch (in.type) {
                case CTA_PROTO_NUM:
                    t->proto = in.data[0];
                    break;
                case CTA_PROTO_SRC_PORT:
                    t->sport = in.len >= 2 ? get_be16(in.data) : 0;
                    break;
                case CTA_PROTO_DST_PORT:
                    t->dport = in.len >= 2 ? get_be16(in.data) : 0;
                    break;
                case CTA_PROTO_ICMP_ID: case CTA_PROTO_ICMPV6_ID:
                    t->icmp_id = in.len >= 2 ? get_be16(in.data) : 0;
                    break;
                case CTA_PROTO_ICMP_TYPE: case CTA_PROTO_ICMPV6_TYPE:
                    t->icmp_type = in.data[0];
                    break;
                case CTA_PROTO_ICMP_CODE: case CTA_PROTO_ICMPV6_CODE:
                    t->icmp_code = in.data[0];
                    break;
                }
            }
        }
    }
    return true;
}

static void
parse_counters(const uint8_t *data, size_t len, uint64_t *packets,
               uint64_t *bytes)
{
    struct nla_iter it;

    for (nla_init(&it, data, len); nla_next(&it); ) {
        if (it.type == CTA_COUNTERS_PACKETS && it.len >= 8) {
            *packets = get_be64(it.data);
        } else if (it.type == CTA_COUNTERS_BYTES && it.len >= 8) {
            *bytes = get_be64(it.data);
        } else if (it.type == CTA_COUNTERS32_PACKETS && it.len >= 4) {
            *packets = get_be32(it.data);
        } else if (it.type == CTA_COUNTERS32_BYTES && it.len >= 4) {
            *bytes = get_be32(it.data);
        }
    }
}

static void
parse_protoinfo(const uint8_t *data, size_t len, struct ovsct_nfct_entry *e)
{
    struct nla_iter it, in;

    for (nla_init(&it, data, len); nla_next(&it); ) {
        if (it.type != CTA_PROTOINFO_TCP) {
            continue;       /* OVS decodes no other protoinfo. */
        }
        e->has_tcp = true;
        for (nla_init(&in, it.data, it.len); nla_next(&in); ) {
            if (!in.len) {
                continue;
            }
            switch (in.type) {
            case CTA_PROTOINFO_TCP_STATE:
                e->tcp_state = tcp_state_to_dpif(in.data[0]);
                break;
            case CTA_PROTOINFO_TCP_WSCALE_ORIGINAL:
                e->tcp_wscale[0] = in.data[0];
                break;
            case CTA_PROTOINFO_TCP_WSCALE_REPLY:
                e->tcp_wscale[1] = in.data[0];
                break;
            case CTA_PROTOINFO_TCP_FLAGS_ORIGINAL:
                e->tcp_flags[0] = in.data[0] & TCP_FLAGS_MASK;
                break;
            case CTA_PROTOINFO_TCP_FLAGS_REPLY:
                e->tcp_flags[1] = in.data[0] & TCP_FLAGS_MASK;
                break;
            }
        }
    }
}

/* Decodes the attributes of one ctnetlink entry message. */
static bool
parse_entry(const uint8_t *data, size_t len, uint8_t family,
            struct ovsct_nfct_entry *e)
{
    struct nla_iter it, in;
    bool have_orig = false, have_reply = false;

    for (nla_init(&it, data, len); nla_next(&it); ) {
        switch (it.type) {
        case CTA_TUPLE_ORIG:
            have_orig = parse_tuple(it.data, it.len, family, &e->orig);
            break;
        case CTA_TUPLE_REPLY:
            have_reply = parse_tuple(it.data, it.len, family, &e->reply);
            break;
        case CTA_TUPLE_MASTER:
            if (!parse_tuple(it.data, it.len, family, &e->master)) {
                memset(&e->master, 0, sizeof e->master);
            }
            break;
        case CTA_STATUS:
            if (it.len >= 4) {
                e->status = get_be32(it.data) & STATUS_MASK;
            }
            break;
        case CTA_TIMEOUT:
            if (it.len >= 4) {
                e->timeout = get_be32(it.data);
            }
            break;
        case CTA_MARK:
            if (it.len >= 4) {
                e->mark = get_be32(it.data);
            }
            break;
        case CTA_ID:
            if (it.len >= 4) {
                e->id = get_be32(it.data);
            }
            break;
        case CTA_ZONE:
            if (it.len >= 2) {
                e->zone = get_be16(it.data);
            }
            break;
        case CTA_LABELS: {
            /* A bitmap of unsigned longs: bit n is label bit n. */
            uint8_t raw[16] = { 0 };
            uint64_t w[2];
            memcpy(raw, it.data, it.len < 16 ? it.len : 16);
            memcpy(w, raw, 16);
            if (sizeof(unsigned long) == 8) {
                e->labels_lo = w[0];
                e->labels_hi = w[1];
            } else {
                uint32_t v[4];
                memcpy(v, raw, 16);
                e->labels_lo = (uint64_t) v[1] << 32 | v[0];
                e->labels_hi = (uint64_t) v[3] << 32 | v[2];
            }
            break;
        }
        case CTA_COUNTERS_ORIG:
            parse_counters(it.data, it.len, &e->packets[0], &e->bytes[0]);
            break;
        case CTA_COUNTERS_REPLY:
            parse_counters(it.data, it.len, &e->packets[1], &e->bytes[1]);
            break;
        case CTA_TIMESTAMP:
            for (nla_init(&in, it.data, it.len); nla_next(&in); ) {
                if (in.type == CTA_TIMESTAMP_START && in.len >= 8) {
                    e->start_ns = get_be64(in.data);
                } else if (in.type == CTA_TIMESTAMP_STOP && in.len >= 8) {
                    e->stop_ns = get_be64(in.data);
                }
            }
            break;
        case CTA_PROTOINFO:
            parse_protoinfo(it.data, it.len, e);
            break;
        case CTA_HELP:
            for (nla_init(&in, it.data, it.len); nla_next(&in); ) {
                if (in.type == CTA_HELP_NAME && in.len) {
                    size_t n = strnlen((const char *) in.data, in.len);
                    if (n >= sizeof e->helper) {
                        n = sizeof e->helper - 1;
                    }
                    memcpy(e->helper, in.data, n);
                    e->helper[n] = '\0';
                }
            }
            break;
        }
    }
    return have_orig && have_reply;
}

int
ovsct_nfct_next(const uint8_t **p, size_t *left, struct ovsct_nfct_entry *e,
                int *err)
{
    *err = 0;
    while (*left >= NLMSG_HDRLEN__) {
        const uint8_t *m = *p;
        uint32_t len;
        uint16_t type, flags;

        memcpy(&len, m, 4);
        memcpy(&type, m + 4, 2);
        memcpy(&flags, m + 6, 2);
        if (len < NLMSG_HDRLEN__ || len > *left) {
            *err = EPROTO;
            *left = 0;
            return OVSCT_NFCT_ERROR;
        }
        size_t step = ALIGN4(len) <= *left ? ALIGN4(len) : *left;
        *p += step;
        *left -= step;

        if (type == NLMSG_DONE__) {
            return OVSCT_NFCT_DONE;
        }
        if (type == NLMSG_ERROR__) {
            int32_t code = 0;
            if (len >= NLMSG_HDRLEN__ + 4) {
                memcpy(&code, m + NLMSG_HDRLEN__, 4);
            }
            if (code) {
                *err = code < 0 ? -code : code;
                return OVSCT_NFCT_ERROR;
            }
            return OVSCT_NFCT_DONE;         /* An ack. */
        }
        if (type >> 8 != NFNL_SUBSYS_CTNETLINK__
            || len < NLMSG_HDRLEN__ + NFGENMSG_LEN__) {
            continue;                       /* NOOP, other subsystems. */
        }
        uint8_t msg = type & 0xff;
        if (msg != IPCTNL_MSG_CT_NEW__ && msg != IPCTNL_MSG_CT_DELETE__) {
            continue;
        }
        memset(e, 0, sizeof *e);
        e->event = (msg == IPCTNL_MSG_CT_DELETE__ ? OVSCT_NFCT_EV_DESTROY
                    : flags & NLM_F_CREATE__ ? OVSCT_NFCT_EV_NEW
                    : OVSCT_NFCT_EV_UPDATE);
        if (!parse_entry(m + NLMSG_HDRLEN__ + NFGENMSG_LEN__,
                         len - NLMSG_HDRLEN__ - NFGENMSG_LEN__,
                         m[NLMSG_HDRLEN__], e)) {
            continue;   /* OVS drops entries whose tuples do not parse. */
        }
        return OVSCT_NFCT_ENTRY;
    }
    *left = 0;
    return OVSCT_NFCT_END;
}

/* Formatting. */

#define PUT_LIT(P, S) (memcpy((P), (S), sizeof(S) - 1), (P) += sizeof(S) - 1)

/* ct_dpif_format_tuple(), written by the engine's formatter (ext/format.c)
 * from the ctnetlink tuple (which keeps the ICMP id apart from the
 * ports). */
static char *
put_tuple(char *p, const struct ovsct_nfct_tuple *t, uint8_t proto)
{
    bool icmp = proto == 1 || proto == 58;
    struct ovsct_tuple ot = {
        .sport = icmp ? t->icmp_id : t->sport,
        .dport = icmp ? 0 : t->dport,
        .icmp_type = t->icmp_type,
        .icmp_code = t->icmp_code,
        .l3 = t->l3,
        .proto = proto,
    };

    memcpy(ot.src, t->src, sizeof ot.src);
    memcpy(ot.dst, t->dst, sizeof ot.dst);
    return ovsct_put_tuple(p, &ot, t->l3, proto);
}

/* ct_dpif_format_counters(). */
static char *
put_counters(char *p, uint64_t packets, uint64_t bytes)
{
    if (packets || bytes) {
        PUT_LIT(p, ",packets=");
        p = ovsct_put_u64(p, packets);
        PUT_LIT(p, ",bytes=");
        p = ovsct_put_u64(p, bytes);
    }
    return p;
}

/* ds_put_strftime_msec(",start=%Y-%m-%dT%H:%M:%S.###", ms, local time). */
static char *
put_time(char *p, const char *title, uint64_t ns)
{
    uint64_t ms = ns / 1000000;
    time_t secs = (time_t) (ms / 1000);
    struct tm tm;
    char tmp[64];

    p = ovsct_put_str(p, title);
    if (!localtime_r(&secs, &tm)
        || !strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm)) {
        tmp[0] = '\0';
    }
    p = ovsct_put_str(p, tmp);
    *p++ = '.';
    unsigned int frac = (unsigned int) (ms % 1000);
    *p++ = (char) ('0' + frac / 100);
    *p++ = (char) ('0' + frac / 10 % 10);
    *p++ = (char) ('0' + frac % 10);
    return p;
}

/* format_flags() as OVS 3.1's ct_dpif_format_flags() uses it: names from
 * the lowest bit up joined with '|', "0" if none.  Only known bits are
 * ever set here (the decoder masks the others, as OVS's translation
 * does). */
static char *
put_flags(char *p, const char *title, uint32_t bits,
          const char *const *names, size_t n)
{
    p = ovsct_put_str(p, title);
    if (!bits) {
        *p++ = '0';
        return p;
    }
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (bits & (1u << i)) {
            if (any) {
                *p++ = '|';
            }
            p = ovsct_put_str(p, names[i]);
            any = true;
        }
    }
    return p;
}

size_t
ovsct_nfct_format(const struct ovsct_nfct_entry *e, bool verbose,
                  bool stats, char *buf)
{
    char *p = buf;
    uint8_t proto = e->orig.proto;

    p = ovsct_put_proto(p, proto);
    PUT_LIT(p, ",orig=(");
    p = put_tuple(p, &e->orig, proto);
    if (stats) {
        p = put_counters(p, e->packets[0], e->bytes[0]);
    }
    PUT_LIT(p, "),reply=(");
    p = put_tuple(p, &e->reply, proto);
    if (stats) {
        p = put_counters(p, e->packets[1], e->bytes[1]);
    }
    *p++ = ')';
    if (stats && (e->start_ns || e->stop_ns)) {
        p = put_time(p, ",start=", e->start_ns);
        if (e->stop_ns) {
            p = put_time(p, ",stop=", e->stop_ns);
        }
    }
    if (verbose) {
        PUT_LIT(p, ",id=");
        p = ovsct_put_u64(p, e->id);
    }
    if (e->zone) {
        PUT_LIT(p, ",zone=");
        p = ovsct_put_u64(p, e->zone);
    }
    if (verbose) {
        p = put_flags(p, ",status=", e->status, ovsct_ct_status_names,
                      OVSCT_CT_STATUS_N);
    }
    if (stats) {
        PUT_LIT(p, ",timeout=");
        p = ovsct_put_u64(p, e->timeout);
    }
    ovsct_u128 labels = {.hi = e->labels_hi, .lo = e->labels_lo};
    p = ovsct_put_mark_labels(p, e->mark, labels);
    if (e->has_tcp) {
        PUT_LIT(p, ",protoinfo=(");
        if (verbose) {
            PUT_LIT(p, "state_orig=");
            p = ovsct_put_tcp_state(p, e->tcp_state);
            PUT_LIT(p, ",state_reply=");
            p = ovsct_put_tcp_state(p, e->tcp_state);
            if (e->tcp_wscale[0] || e->tcp_wscale[1]) {
                PUT_LIT(p, ",wscale_orig=");
                p = ovsct_put_u64(p, e->tcp_wscale[0]);
                PUT_LIT(p, ",wscale_reply=");
                p = ovsct_put_u64(p, e->tcp_wscale[1]);
            }
            p = put_flags(p, ",flags_orig=", e->tcp_flags[0],
                          ovsct_tcp_flag_names, OVSCT_TCPF_N);
            p = put_flags(p, ",flags_reply=", e->tcp_flags[1],
                          ovsct_tcp_flag_names, OVSCT_TCPF_N);
        } else {
            /* coalesce_tcp_state(): one state for both directions. */
            PUT_LIT(p, "state=");
            p = ovsct_put_tcp_state(p,
                                    ovsct_tcp_state_coalesce(e->tcp_state,
                                                             e->tcp_state));
        }
        *p++ = ')';
    }
    if (e->helper[0]) {
        PUT_LIT(p, ",helper=");
        p = ovsct_put_str(p, e->helper);
    }
    if (verbose && e->master.l3) {
        PUT_LIT(p, ",master=(");
        p = put_tuple(p, &e->master, e->master.proto);
        *p++ = ')';
    }
    return (size_t) (p - buf);
}
