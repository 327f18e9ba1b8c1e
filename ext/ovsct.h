/*
 * ovsct.h -- public contract of the ovsct connection tracker.
 *
 * A userspace connection tracker with the semantics of Open vSwitch's
 * userspace conntrack (lib/conntrack.c) and a different table design: the
 * table is split into N buckets, each with its own lock and its own growing
 * open-addressing map.  A connection is reachable through a forward and a
 * reverse key node, which may live in two different buckets.  There are no
 * expiration lists: expiry is an atomic time stamp per connection, expired
 * entries are invisible at once, are reaped by lookups that meet them and by
 * a budgeted sweeper thread.
 *
 * Neighbours: ovsct-private.h (layouts, lock order), ovsct-thread.h (lock
 * annotations), names.h (every name the engine prints), packet.h
 * (parsing), table.c (buckets and maps), conntrack.c (the packet path),
 * config.c (life cycle, limits, timeout policies, counters), proto-*.c
 * (protocol state machines), flush.c, sweep.c (sweeper), epoch.c
 * (deferred frees), dump.c, format.c (OVS dump text).  Around the engine:
 * dpio/ (captures and other frame I/O), bench/ (the benchmark driver) and
 * binding/ (the only files that know Python).
 *
 * Usage
 * =====
 *
 *     struct ovsct *ct;
 *     ovsct_create(&cfg, &ct);             -- starts the sweeper thread
 *     ovsct_execute(ct, batch, &action, states);   -- any thread, any time
 *     ovsct_dump_start() / _next() / _done(), ovsct_flush(), ... -- any thread
 *     ovsct_destroy(ct);                   -- stops and joins the sweeper
 *
 * Thread safety
 * =============
 *
 * Every function taking a 'struct ovsct *' may be called from any number of
 * threads at once, except ovsct_destroy(), which must be the last call and
 * must not race with any other.  No function holds a lock when it returns.
 *
 * Memory reclamation
 * ==================
 *
 * A packet-path reader that found a connection may keep using it until the
 * end of the batch, after it dropped the bucket lock.  Removed connections
 * are therefore not freed at once: they are retired with an epoch stamp and
 * freed by the sweeper (or by a flush) once every thread that was inside a
 * batch when they were removed has left it (epoch.c).  Dumps copy entries out
 * under the bucket lock and never keep pointers.
 *
 * Errors
 * ======
 *
 * Functions return 0 or a positive errno value: EINVAL for bad arguments,
 * ENOMEM, ENOENT (tuple not found), ENOSPC (table full).
 */
#ifndef OVSCT_H
#define OVSCT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ovsct;

/* 128-bit connection label, as a host-order value: 'hi' holds the 64 most
 * significant bits.  OVS prints it as one big-endian hexadecimal number. */
typedef struct ovsct_u128 {
    uint64_t lo;
    uint64_t hi;
} ovsct_u128;

/* ct_state bits, with OVS's values (CS_NEW ... CS_DST_NAT). */
enum {
    OVSCT_CS_NEW = 0x01,
    OVSCT_CS_ESTABLISHED = 0x02,
    OVSCT_CS_RELATED = 0x04,
    OVSCT_CS_REPLY_DIR = 0x08,
    OVSCT_CS_INVALID = 0x10,
    OVSCT_CS_TRACKED = 0x20,
    OVSCT_CS_SRC_NAT = 0x40,
    OVSCT_CS_DST_NAT = 0x80,
};

/* Timeout-policy attributes used by userspace, in OVS's order.  Default
 * values (seconds) are in ovsct_tp_defaults[]. */
enum ovsct_tp_attr {
    OVSCT_TP_TCP_SYN_SENT,
    OVSCT_TP_TCP_SYN_RECV,
    OVSCT_TP_TCP_ESTABLISHED,
    OVSCT_TP_TCP_FIN_WAIT,
    OVSCT_TP_TCP_TIME_WAIT,
    OVSCT_TP_TCP_CLOSE,
    OVSCT_TP_UDP_FIRST,
    OVSCT_TP_UDP_SINGLE,
    OVSCT_TP_UDP_MULTIPLE,
    OVSCT_TP_ICMP_FIRST,
    OVSCT_TP_ICMP_REPLY,
    OVSCT_TP_N
};
extern const uint32_t ovsct_tp_defaults[OVSCT_TP_N];
/* Their names ("tcp_syn_sent", ...) are in names.h. */

/* TCP peer states, OVS's enum ct_dpif_tcp_state order. */
enum ovsct_tcp_state {
    OVSCT_TCPS_CLOSED,
    OVSCT_TCPS_LISTEN,
    OVSCT_TCPS_SYN_SENT,
    OVSCT_TCPS_SYN_RECV,
    OVSCT_TCPS_ESTABLISHED,
    OVSCT_TCPS_CLOSE_WAIT,
    OVSCT_TCPS_FIN_WAIT_1,
    OVSCT_TCPS_CLOSING,
    OVSCT_TCPS_LAST_ACK,
    OVSCT_TCPS_FIN_WAIT_2,
    OVSCT_TCPS_TIME_WAIT,
    OVSCT_TCPS_N
};

/* TCP per-peer flags as dumped with -m (OVS's CT_DPIF_TCPF_* bits). */
enum {
    OVSCT_TCPF_WINDOW_SCALE = 1 << 0,
    OVSCT_TCPF_SACK_PERM = 1 << 1,
    OVSCT_TCPF_CLOSE_INIT = 1 << 2,
    OVSCT_TCPF_BE_LIBERAL = 1 << 3,
    OVSCT_TCPF_DATA_UNACKNOWLEDGED = 1 << 4,
    OVSCT_TCPF_MAXACK_SET = 1 << 5,
};

/* One direction of a connection as the user sees it.  Addresses are in
 * network byte order (IPv4 in the first 4 bytes, the rest zero); ports and
 * the ICMP id in host order.  For ICMP/ICMPv6, 'sport' and 'dport' both hold
 * the echo id. */
struct ovsct_tuple {
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint8_t l3;                 /* 4 or 6. */
    uint8_t proto;              /* IP protocol number. */
};

/* A connection copied out of the table by a dump. */
struct ovsct_entry {
    struct ovsct_tuple orig;
    struct ovsct_tuple reply;   /* Reverse tuple, after NAT. */
    int64_t expiration;         /* Engine clock, ms. */
    ovsct_u128 labels;
    uint32_t mark;
    uint32_t bucket;            /* Bucket of the forward node. */
    uint16_t zone;
    uint8_t tcp_state[2];       /* enum ovsct_tcp_state, [0] = orig. */
    uint8_t tcp_wscale[2];
    uint8_t tcp_flags[2];       /* OVSCT_TCPF_*. */
    uint8_t nat;                /* OVSCT_CS_SRC_NAT | OVSCT_CS_DST_NAT. */
    uint8_t helper;             /* OVSCT_ALG_*: the helper attached. */
    bool has_parent;            /* An ALG data connection: 'parent' is the
                                 * orig tuple of its control connection. */
    uint8_t pad_[5];
    struct ovsct_tuple parent;
};

/* Creation parameters; zero fields take the defaults. */
struct ovsct_config {
    uint32_t n_buckets;         /* Power of two, 1..1<<20.  0: default. */
    bool manual_clock;          /* Start with a manual clock at 'start_ms'. */
    int64_t start_ms;
    bool no_sweeper;            /* Do not start the sweeper thread. */
    uint32_t event_ring;        /* Events kept for readers (rounded up to a
                                 * power of two, 16..1<<22).  0: default. */
    bool bucket_low_bits;       /* Pick the bucket from the hash's low bits
                                 * instead of its high bits (the naive
                                 * mapping, kept for measurements: the
                                 * bucket's map also indexes by low bits,
                                 * so its entries then cluster). */
};
#define OVSCT_DEFAULT_BUCKETS 4096
#define OVSCT_DEFAULT_MAXCONNS 3000000
#define OVSCT_DEFAULT_SWEEP_MS 1000

int ovsct_create(const struct ovsct_config *, struct ovsct **ctp);
void ovsct_destroy(struct ovsct *);

/* Clock.  The engine clock is CLOCK_MONOTONIC in ms unless a manual time
 * was set; then it stays at the set value until changed again. */
int64_t ovsct_now(const struct ovsct *);
void ovsct_set_time(struct ovsct *, int64_t now_ms);   /* -> manual clock */
void ovsct_use_real_clock(struct ovsct *);

/* NAT request of a ct() action (see nat.c once NAT lands). */
struct ovsct_nat {
    uint8_t kind;               /* 0 none, OVSCT_CS_SRC_NAT, OVSCT_CS_DST_NAT,
                                 * or 0xff: "nat" without arguments. */
    uint8_t l3;                 /* 4 or 6 */
    uint8_t flags;              /* OVSCT_NAT_F_* */
    uint8_t pad_;
    uint16_t port_min, port_max;        /* 0, 0: no port range. */
    uint8_t addr_min[16], addr_max[16]; /* Network order. */
};
enum {
    OVSCT_NAT_F_PERSISTENT = 1 << 0,
    OVSCT_NAT_F_HASH = 1 << 1,
    OVSCT_NAT_F_RANDOM = 1 << 2,
};

/* ALG helpers (ct(alg=...)), OVS's "ftp" and "tftp". */
enum {
    OVSCT_ALG_NONE,
    OVSCT_ALG_FTP,
    OVSCT_ALG_TFTP,
};

/* A parsed ct(...) action. */
struct ovsct_action {
    uint16_t zone;
    bool commit;
    bool force;
    bool set_mark;
    bool set_labels;
    uint32_t mark;              /* Applied as (old & ~mask) | (mark & mask). */
    uint32_t mark_mask;
    ovsct_u128 labels;
    ovsct_u128 labels_mask;
    struct ovsct_nat nat;
    uint8_t alg;                /* OVSCT_ALG_*: helper named by alg=. */
};

/* A batch of Ethernet frames: frame i is data[offsets[i] .. offsets[i+1]).
 * 'offsets' has n + 1 entries and must be non-decreasing within 'size'.
 * Frames may be rewritten in place by NAT.  Frame i's tag is tag_base + i:
 * a fragment held by reassembly leaves later under its tag (see "IP
 * fragments" below; a capture replay uses the capture index).  Tags with
 * OVSCT_TAG_LIVE set are the live datapath's (dpio/afpacket.c), the others
 * its neighbours' on the same table (a capture replay, the Python
 * execute()): each drains only its own (ovsct_ipf_drain_owned()).
 *
 * 'lens', if not NULL, gives each frame's length (at most its slot,
 * offsets[i+1] - offsets[i]; the rest of the slot is room to grow): the
 * FTP helper, rewriting an address in a NATed control connection's
 * payload, changes a frame's length and stores the new one there.  OVS
 * rewrites only when the packet has room for the largest change (8 bytes
 * for IPv4, 45 for IPv6, lib/conntrack.c repl_ftp_v4_addr() and
 * repl_ftp_v6_addr()); without 'lens' a frame fills its slot and has none,
 * so the payload is left as it is.  OVSCT_ALG_ROOM_V4 / _V6 are those
 * room sizes: a caller giving every frame OVSCT_ALG_ROOM_V6 more bytes of
 * slot lets every rewrite happen. */
#define OVSCT_ALG_ROOM_V4 8     /* MAX_FTP_V4_NAT_DELTA. */
#define OVSCT_ALG_ROOM_V6 45    /* MAX_FTP_V6_NAT_DELTA. */
#define OVSCT_TAG_LIVE (UINT64_C(1) << 63)
struct ovsct_batch {
    uint8_t *data;
    size_t size;
    const uint32_t *offsets;
    size_t n;
    uint32_t *lens;
    /* Optional (NULL: check every frame): n flags; a nonzero flag says that
     * frame i's L4 checksum was already verified or is left to offload
     * (AF_PACKET's TP_STATUS_CSUM_VALID / TP_STATUS_CSUMNOTREADY, OVS's
     * "l4 checksum good" offload flag), so it is not checked. */
    const uint8_t *l4_csum_ok;
    uint64_t tag_base;
};

/* Runs the ct() 'action' on every frame of 'batch' and writes each frame's
 * ct_state bits to states[i].  Malformed frames get OVSCT_CS_INVALID |
 * OVSCT_CS_TRACKED.  An IP fragment that reassembly keeps gets
 * OVSCT_STATE_HELD (0, a value no tracked frame has): it leaves later,
 * through ovsct_ipf_drain().  Returns EINVAL if the batch layout is
 * inconsistent (nothing is processed then), else 0. */
int ovsct_execute(struct ovsct *, const struct ovsct_batch *batch,
                  const struct ovsct_action *action, uint8_t *states);

/* Limits and settings. */
uint32_t ovsct_nconns(struct ovsct *);      /* Exact: reaps expired first. */
uint32_t ovsct_get_maxconns(const struct ovsct *);
void ovsct_set_maxconns(struct ovsct *, uint32_t);
uint32_t ovsct_get_sweep_interval(const struct ovsct *);
int ovsct_set_sweep_interval(struct ovsct *, uint32_t ms);  /* 0: EINVAL */
bool ovsct_get_tcp_seq_chk(const struct ovsct *);
void ovsct_set_tcp_seq_chk(struct ovsct *, bool);

/* Zone limits.  'zone' -1 is the default limit.  OVS semantics: a default
 * of 0 means "no default"; an explicit zone limit of 0 admits nothing.  The
 * count of a zone is always the exact number of its unexpired
 * connections. */
#define OVSCT_ZONE_DEFAULT (-1)
int ovsct_set_zone_limit(struct ovsct *, int32_t zone, uint32_t limit);
int ovsct_del_zone_limit(struct ovsct *, int32_t zone);
/* Sets '*limit' to the limit that applies to 'zone' (explicit, else the
 * default), '*count' to its count and '*is_explicit'.  For zone -1, returns
 * the default limit and a count of 0. */
int ovsct_get_zone_limit(struct ovsct *, int32_t zone, uint32_t *limit,
                         uint32_t *count, bool *is_explicit);
/* Writes to 'zones' (capacity 65536) the zones with an explicit limit, in
 * ascending order, and returns how many. */
size_t ovsct_list_zone_limits(struct ovsct *, uint16_t *zones);

/* Timeout policies per zone.  'present[i]' says whether attribute i is set;
 * absent attributes fall back to ovsct_tp_defaults. */
int ovsct_set_zone_tp(struct ovsct *, uint16_t zone,
                      const uint32_t values[OVSCT_TP_N],
                      const bool present[OVSCT_TP_N]);
int ovsct_del_zone_tp(struct ovsct *, uint16_t zone);     /* ENOENT */
bool ovsct_get_zone_tp(struct ovsct *, uint16_t zone,
                       uint32_t values[OVSCT_TP_N], bool present[OVSCT_TP_N]);

/* Flush.  ovsct_flush(): all zones if 'zone' is NULL, else one zone. */
int ovsct_flush(struct ovsct *, const uint16_t *zone, size_t *n_flushed);
/* Deletes the unexpired connection whose orig or reply tuple is exactly
 * 'tuple' in 'zone'.  ENOENT if there is none. */
int ovsct_flush_tuple(struct ovsct *, uint16_t zone,
                      const struct ovsct_tuple *tuple);

/* A filter on connections: OVS's ofp_ct_match (lib/ofp-ct.c) with two
 * extensions, CIDR prefixes on addresses and a set of TCP states.  The
 * one filter of the engine: dumps (ovsct_dump_start()), statistics
 * (ovsct_stats()), flushes (ovsct_flush_filter()) and event reads
 * (ovsct_events_read()) all take it, and ovsct_filter_match() is its one
 * matcher (filter.c).
 *
 * The tuple part follows ct_dpif_entry_cmp() (lib/ct-dpif.c): a field
 * that is not given matches anything; ports 0 match any port; for ICMP
 * and ICMPv6 (a given proto) id, type and code are always compared. */
struct ovsct_tuple_match {
    uint8_t src[16], dst[16];   /* Network order, compared when has_*. */
    bool has_src, has_dst;
    uint8_t src_plen, dst_plen; /* Leading bits of src/dst compared: 0 (or
                                 * the full length) is the whole address;
                                 * a shorter prefix matches every address
                                 * in it (an extension of ours). */
    uint8_t l3;                 /* 0 any, else 4 or 6; give it with an
                                 * address: addresses are compared in the
                                 * connection's family. */
    bool has_proto;
    uint8_t proto;
    uint16_t sport, dport;      /* 0 any (not for ICMP) */
    uint16_t icmp_id;           /* Compared always for ICMP when has_proto */
    uint8_t icmp_type, icmp_code;
};
struct ovsct_filter {
    bool has_zone;
    uint16_t zone;
    uint32_t mark, mark_mask;
    ovsct_u128 labels, labels_mask;
    bool has_orig, has_reply;
    struct ovsct_tuple_match orig, reply;
    uint16_t tcp_states;        /* Bit s (enum ovsct_tcp_state) set: a TCP
                                 * connection whose coalesced state (the one
                                 * dump-conntrack prints without -m) is s
                                 * matches; no other connection does.  0:
                                 * any connection (an extension of ours). */
};

/* Whether the connection 'e' (as a dump copies it) is one 'f' selects. */
bool ovsct_filter_match(const struct ovsct_filter *f,
                        const struct ovsct_entry *e);

/* Deletes every unexpired connection 'f' selects; '*n_flushed' gets how
 * many. */
int ovsct_flush_filter(struct ovsct *, const struct ovsct_filter *f,
                       size_t *n_flushed);

/* Dump: a resumable cursor over the buckets.  Entries are copied out under
 * each bucket's lock; expired entries, and those 'filter' (NULL: none)
 * does not select, are skipped.  A connection present for the whole dump
 * is returned exactly once; one inserted or removed during the dump may or
 * may not be returned. */
struct ovsct_dump;
int ovsct_dump_start(struct ovsct *, const struct ovsct_filter *filter,
                     struct ovsct_dump **);
/* Copies up to 'max' entries to 'out', sets '*n'.  '*n' == 0: finished. */
int ovsct_dump_next(struct ovsct_dump *, struct ovsct_entry *out,
                    size_t max, size_t *n);
void ovsct_dump_done(struct ovsct_dump *);

/* Formats one entry the way OVS's ct_dpif_format_entry() does for the
 * userspace datapath, without a newline.  'verbose' is -m, 'print_stats'
 * -s; 'now' is used for timeout=.  Returns the length written (output is
 * truncated to 'size' - 1 and NUL-terminated) like snprintf. */
int ovsct_format_entry(const struct ovsct_entry *, bool verbose,
                       bool print_stats, int64_t now, char *buf,
                       size_t size);

/* Formats one entry as the JSON object of `ovsct -f json dump-conntrack`,
 * compact, keys sorted (what Python's json.dumps(sort_keys=True,
 * separators=(",", ":")) writes):
 *
 *   {"bucket":B[,"helper":"ftp"|"tftp"],"l3":4|6,"labels":L,"mark":M,
 *    "nat":["snat"?,"dnat"?],"orig":TUPLE[,"parent":TUPLE],"proto":P,
 *    "protocol":"NAME",
 *    "reply":TUPLE[,"tcp":{"flags_orig":[..],"flags_reply":[..],
 *    "state":S,"state_orig":S,"state_reply":S,"wscale_orig":N,
 *    "wscale_reply":N}],"timeout":T,"zone":Z}
 *
 * TUPLE is {"dport":..,"dst":"..","sport":..,"src":".."}, for ICMP
 * {"code":..,"dst":"..","id":..,"src":"..","type":..}; "labels" is the
 * 128-bit value as a decimal number, "protocol" the name dump-conntrack
 * prints (the number as a string if it has none), "state" the coalesced
 * one; "timeout" the seconds left at 'now'.  Returns the length like
 * ovsct_format_entry(). */
int ovsct_format_entry_json(const struct ovsct_entry *, int64_t now,
                            char *buf, size_t size);

/* Writes the text form of address 'a' (family 'l3', 6 or else 4) to 'buf'
 * (at least 46 bytes) as inet_ntop() does, NUL-terminated; returns its
 * length. */
int ovsct_format_addr(uint8_t l3, const uint8_t *a, char *buf);

/* The pieces of the dump line that the kernel datapath's dump
 * (dpio/nfct.c) prints the same way, so that the text has one home.  Each
 * writes at 'p' (room enough: a tuple is at most 124 bytes), without a
 * NUL, and returns the end.  ovsct_put_proto(): the protocol name, or its
 * number (ct_dpif_format_ipproto()); ovsct_put_tuple(): 'src=..,dst=..'
 * then the ports, or id/type/code for ICMP and ICMPv6, with address
 * family 'l3' (6: IPv6, else IPv4) and protocol 'proto'
 * (ct_dpif_format_tuple()); ovsct_put_tcp_state(): a TCP state name, "[N]"
 * for an unknown one; ovsct_put_mark_labels(): ",mark=M" and ",labels=0xL"
 * where not zero; ovsct_put_u64(): a decimal number; ovsct_put_str(): a
 * string. */
char *ovsct_put_str(char *p, const char *);
char *ovsct_put_proto(char *p, uint8_t proto);
char *ovsct_put_tuple(char *p, const struct ovsct_tuple *, uint8_t l3,
                      uint8_t proto);
char *ovsct_put_tcp_state(char *p, uint8_t state);
char *ovsct_put_mark_labels(char *p, uint32_t mark, ovsct_u128 labels);
char *ovsct_put_u64(char *p, uint64_t);

/* Sorts 'n' entries into the order of the JSON dump: by zone, protocol,
 * then the original tuple (addresses as text, then ports, ICMP id and
 * type), so that it does not depend on hash order.  ENOMEM, or 0. */
int ovsct_sort_entries(struct ovsct_entry *, size_t n);

/* ALG expectations (ct(alg=ftp|tftp)): data connections a control
 * connection announced.  'expected' is the data connection's orig tuple
 * with source port 0 (any); 'parent' the control connection's orig tuple;
 * mark and labels are the parent's when the expectation was made (the
 * data connection inherits them).  An expectation lives as long as its
 * parent: it is removed with it (expiry, flush). */
struct ovsct_exp {
    struct ovsct_tuple expected;
    struct ovsct_tuple parent;
    ovsct_u128 labels;
    uint32_t mark;
    uint16_t zone;
};
/* Copies up to 'max' expectations (of 'zone' if not NULL) to 'out' and
 * returns how many there are in all (which may exceed 'max'). */
size_t ovsct_exp_dump(struct ovsct *, const uint16_t *zone,
                      struct ovsct_exp *out, size_t max);
/* Formats one expectation as OVS's dpctl/dump-conntrack-exp prints it
 * (lib/ct-dpif.c), without a newline; snprintf's contract. */
int ovsct_format_exp(const struct ovsct_exp *, char *buf, size_t size);

/* Statistics, computed from a walk of unexpired entries. */
enum ovsct_proto_class {
    OVSCT_PC_TCP, OVSCT_PC_UDP, OVSCT_PC_UDPLITE, OVSCT_PC_SCTP,
    OVSCT_PC_ICMP, OVSCT_PC_ICMPV6, OVSCT_PC_DCCP, OVSCT_PC_IGMP,
    OVSCT_PC_OTHER, OVSCT_PC_N
};
struct ovsct_stats {
    uint64_t total;
    uint64_t per_proto[OVSCT_PC_N];
    uint64_t tcp_states[OVSCT_TCPS_N];    /* Coalesced state, as dumped. */
};
/* Counts the unexpired connections 'filter' (NULL: all) selects. */
int ovsct_stats(struct ovsct *, const struct ovsct_filter *filter,
                struct ovsct_stats *);

/* Occupancy: writes the number of unexpired connections whose forward node
 * is in bucket i to counts[i] (capacity ovsct_n_buckets()). */
uint32_t ovsct_n_buckets(const struct ovsct *);
int ovsct_bucket_counts(struct ovsct *, uint32_t *counts);

/* Event counters (monotonic, relaxed atomics). */
struct ovsct_counters {
    uint64_t packets;           /* Frames executed. */
    uint64_t invalid;           /* Frames that got 'inv'. */
    uint64_t created;           /* Connections committed. */
    uint64_t removed;           /* Connections removed, any reason. */
    uint64_t expired;           /* ... of which found expired. */
    uint64_t flushed;           /* Connections removed by a flush (all,
                                 * zone, tuple, filter); expired ones a
                                 * walking flush meets count as expired
                                 * instead (flush-all without events
                                 * drops the maps whole: it counts every
                                 * entry not yet reaped). */
    uint64_t full;              /* Commits refused by maxconns. */
    uint64_t zone_full;         /* Commits refused by a zone limit. */
    uint64_t nat_exhausted;     /* Commits refused: no NAT tuple left. */
    uint64_t lookup_reaped;     /* Expired nodes reaped by lookups. */
    uint64_t sweeps;            /* Sweeper wake-ups. */
    uint64_t sweep_scanned;     /* Nodes scanned by the sweeper. */
    uint64_t lock_contended;    /* Bucket lock trylock failures. */
    uint64_t max_sweep_hold_ns; /* Longest bucket lock hold by the sweeper. */
    uint64_t sweep_hold_hist[8];    /* Sweeper bucket-lock holds by length:
                                     * < 1, 4, 16, 64, 256 us, < 1 ms,
                                     * < 4 ms, >= 4 ms. */
};
#define OVSCT_SWEEP_HOLD_CLASSES 8
void ovsct_get_counters(struct ovsct *, struct ovsct_counters *);

/* Runs one full sweep pass synchronously and returns the number of
 * connections removed (used by tests and by exact counting). */
size_t ovsct_sweep_now(struct ovsct *);

/* Connection events (events.c)
 * ==============================
 *
 * While at least one reader is subscribed, the engine records NEW when a
 * connection is committed, UPDATE when its coalesced TCP state (the one
 * state the dump prints) changes, when its mark or labels change, or when
 * a non-TCP connection sees its first reply, and DESTROY when it is
 * removed for any reason (expiry reaped by a lookup or the sweeper,
 * flush, force, TCP reopen).  Each event carries a copy of the entry as a
 * dump makes it and a 64-bit sequence number (1, 2, ... without gaps).
 *
 * Events go to one bounded ring per table.  Writers never wait for a
 * reader: readers copy slots without any lock and detect a slot that was
 * overwritten under them.  A reader that falls more than the ring's size
 * behind loses the oldest events; a writer that cannot get the ring's
 * writer lock within a short bounded spin drops its event.  Both losses are
 * counted and reported to every reader by ovsct_events_read().  With no
 * subscriber, the cost on the packet path is one relaxed load per
 * commit, state change and removal. */
enum ovsct_event_type {
    OVSCT_EVENT_NEW = 1,
    OVSCT_EVENT_UPDATE = 2,
    OVSCT_EVENT_DESTROY = 3,
};
struct ovsct_event {
    uint64_t seq;
    uint8_t type;               /* enum ovsct_event_type. */
    uint8_t pad_[7];
    struct ovsct_entry entry;
};
#define OVSCT_EVENTS_DEFAULT_RING 8192
#define OVSCT_EVENTS_MAX_RING (1u << 22)

/* A reader's position: the next sequence number to read, and how many
 * dropped events it has been told about. */
struct ovsct_events_cursor {
    uint64_t seq;
    uint64_t dropped;
};

/* Enables events (allocating the ring on first use) and sets '*cursor' to
 * the next event to come.  Every subscribe needs one unsubscribe; events
 * stay on while the count is above zero. */
int ovsct_events_subscribe(struct ovsct *, struct ovsct_events_cursor *);
void ovsct_events_unsubscribe(struct ovsct *);
/* Whether anyone is subscribed. */
bool ovsct_events_enabled(const struct ovsct *);
/* Copies to 'buf' up to 'max' events from '*cursor' on that match
 * 'filter' (NULL: all; events that do not match are consumed too),
 * advances '*cursor', sets '*n' and adds to '*lost' the events this
 * reader lost since its last read (overwritten before it read them, or
 * dropped by a writer).  Never blocks.  A cursor ahead of the ring (from
 * an earlier table) restarts at the next event.  EINVAL if events were
 * never enabled on this table. */
int ovsct_events_read(struct ovsct *, struct ovsct_events_cursor *cursor,
                      const struct ovsct_filter *filter,
                      struct ovsct_event *buf, size_t max, size_t *n,
                      uint64_t *lost);

/* IP fragments (ipf.c), as OVS's lib/ipf.c: fragments of IPv4 and IPv6
 * datagrams are held per (addresses, id, protocol, zone) list until the
 * datagram is complete; it is then reassembled and tracked once, after the
 * other frames of the ovsct_execute() call that completed it, and every
 * fragment of it gets its ct_state (rewritten as NAT rewrote the
 * datagram).  Fragments of that call get it in states[]; fragments held
 * from earlier calls leave through ovsct_ipf_drain().  Duplicate,
 * overlapping and too small fragments, and fragments refused (reassembly
 * disabled for the family, max-nfrags reached, a finished list) are
 * inv|trk.  A list not completed within 15 s expires: its fragments leave
 * as inv (without trk); ovsct_ipf_expire_all() expires every list at once
 * (the end of an offline capture).  Fragments nobody drains are dropped 10
 * s after their list's expiry ("purged").  Defaults: enabled for both
 * families, min-frag 1200 (v4) and 1280 (v6) bytes of IP packet, at most
 * 1000 fragments held. */
#define OVSCT_STATE_HELD 0
enum ovsct_ipf_counter {
    OVSCT_IPF_ACCEPTED,
    OVSCT_IPF_COMPLETED,
    OVSCT_IPF_EXPIRED,
    OVSCT_IPF_TOO_SMALL,
    OVSCT_IPF_OVERLAP,
    OVSCT_IPF_PURGED,
    OVSCT_IPF_N_COUNTERS
};
struct ovsct_ipf_status {
    bool enabled[2];            /* [0] IPv4, [1] IPv6. */
    uint32_t min_frag[2];
    uint32_t max_nfrags;
    uint32_t nfrag;             /* Fragments held now. */
    uint64_t counters[2][OVSCT_IPF_N_COUNTERS];
};
#define OVSCT_IPF_MIN_FRAG_LBOUND 400
#define OVSCT_IPF_MAX_NFRAGS_UBOUND 5000
int ovsct_ipf_set_enabled(struct ovsct *, bool v6, bool enabled);
/* EINVAL below OVSCT_IPF_MIN_FRAG_LBOUND. */
int ovsct_ipf_set_min_frag(struct ovsct *, bool v6, uint32_t size);
/* EINVAL above OVSCT_IPF_MAX_NFRAGS_UBOUND. */
int ovsct_ipf_set_max_nfrags(struct ovsct *, uint32_t n);
void ovsct_ipf_get_status(struct ovsct *, struct ovsct_ipf_status *);
/* Calls 'fn' with one line per fragment list, in OVS's
 * ipf_dump_create() text ("(src=...,state=first frag)"). */
typedef void ovsct_ipf_line_fn(void *aux, const char *line);
void ovsct_ipf_dump_lists(struct ovsct *, ovsct_ipf_line_fn *fn, void *aux);
/* Takes the fragments that left reassembly since the last call: 'fn' gets
 * each one's tag, final ct_state and bytes (valid during the call), in the
 * order they left.  Any thread may drain; each fragment is given once.
 * Returns how many.  ovsct_ipf_drain_owned() takes only the fragments
 * whose tag & 'mask' == 'value' and leaves the others, in their order, for
 * their owner's drain (the live datapath: mask and value OVSCT_TAG_LIVE;
 * a capture replay: mask OVSCT_TAG_LIVE, value 0); ovsct_ipf_drain()
 * takes every fragment (mask 0), for a caller that owns the whole
 * table. */
typedef void ovsct_ipf_out_fn(void *aux, uint64_t tag, uint8_t state,
                              const uint8_t *frame, uint32_t len);
size_t ovsct_ipf_drain(struct ovsct *, ovsct_ipf_out_fn *fn, void *aux);
size_t ovsct_ipf_drain_owned(struct ovsct *, uint64_t mask, uint64_t value,
                             ovsct_ipf_out_fn *fn, void *aux);
/* Expires every incomplete list now (their fragments leave as inv). */
void ovsct_ipf_expire_all(struct ovsct *);

/* Returns freed memory to the OS where the allocator allows it. */
void ovsct_trim(void);

/* Checks the table's invariants by a full walk (invariant.c lists them):
 * keys reachable in the right buckets, counts equal to a walk, no expired
 * connection counted after a count query (it runs one), NAT bindings
 * unique, slots consistent.  Call only while no other thread uses 'ct'.
 * Returns 0, EINVAL with the first violation described in 'err', or
 * ENOMEM. */
int ovsct_check_invariants(struct ovsct *, char *err, size_t errlen);


/* Persistence (persist.c).  ovsct_save() writes the whole state (every
 * live connection with its remaining time, TCP windows and states, NAT
 * keys, mark and labels; maxconns, sweep interval, tcp_seq_chk, zone
 * limits, timeout policies) to 'path' atomically (PATH.tmp, fsync, rename,
 * fsync of the directory), copying the table one bucket at a time: packet
 * processing goes on meanwhile.  ovsct_restore() validates the whole file
 * first and refuses a truncated, corrupt, other-version or other-byte-order
 * one without changing anything; otherwise it applies the settings and
 * adds the connections, skipping those whose key is already in use
 * ('duplicates') or whose time ran out ('expired': remaining times are
 * reduced by the wall-clock time since the save), and counting those that
 * maxconns or a zone limit refuse ('refused').  Both return 0 or an errno
 * (EINVAL: a bad file) with a message in 'err'; a restore that runs out of
 * memory part way (ENOMEM) keeps the connections restored so far.  One
 * save runs at a time per process. */
struct ovsct_save_stats {
    uint64_t n_conns;
    uint32_t n_zone_limits;
    uint32_t n_tps;
    uint64_t bytes;             /* File size. */
};
struct ovsct_restore_stats {
    uint64_t n_conns;           /* In the file. */
    uint64_t restored;
    uint64_t duplicates;
    uint64_t expired;
    uint64_t refused;
    uint32_t n_zone_limits;
    uint32_t n_tps;
    uint64_t bytes;             /* File size. */
    int64_t age_ms;             /* Wall-clock time since the save. */
};
int ovsct_save(struct ovsct *, const char *path, char *err, size_t errlen,
               struct ovsct_save_stats *);
int ovsct_restore(struct ovsct *, const char *path, char *err,
                  size_t errlen, struct ovsct_restore_stats *);

#ifdef __cplusplus
}
#endif

#endif /* ovsct.h */
