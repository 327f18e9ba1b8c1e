/*
 * ipf.c -- IP fragment reassembly before tracking, after OVS's lib/ipf.c.
 *
 * ovsct_execute() offers every frame the parser refused (conntrack.c) to
 * ct_ipf_offer().  A valid IPv4 or IPv6 fragment is copied into the list
 * of its datagram (key: addresses, IP id, zone, and for IPv4 the protocol,
 * as ipf_list_key) and reported held (state 0).  When a fragment makes its
 * list complete (first and last seen, contiguous after sorting by offset,
 * ipf_list_state_transition()), the datagram is reassembled and handed to
 * the call, which tracks it after its other frames and gives its state to
 * every fragment (ct_ipf_finish(), as ipf_post_execute_reass_pkts()).
 *
 * OVS's rules kept here, with its names:
 *  - a fragment is "too small" if it is not the last one and its IP
 *    packet is shorter than min-frag (ipf_is_valid_v4_frag(),
 *    ipf_is_valid_v6_frag()): counted, inv;
 *  - a fragment whose first or last data byte falls inside a fragment of
 *    the list is a duplicate/overlap (ipf_is_frag_duped()): counted, inv;
 *  - max-nfrags bounds the fragments held (ipf_handle_frag()), an IPv4
 *    list holds at most ceil((65535 - 60) / (min-frag - 60)) fragments, a
 *    reassembled datagram longer than 65535 bytes fails the list
 *    ("reassemble fail", ipf_reassemble_v4_frags()): such fragments, and
 *    fragments of a list already complete or failed, are refused, and the
 *    tracker then marks them inv|trk as it marks every fragment;
 *  - a list expires 15 s after its first fragment (ipf_expiry_list_add());
 *    each ovsct_execute() call expires at most one list (OVS sends one per
 *    batch, ipf_send_expired_frags()), the sweeper all of them; expired
 *    fragments leave with ct_state inv, without trk;
 *  - fragments not taken 10 s after their list's expiry are dropped and
 *    counted purged (ipf_purge_list_check()).
 *
 * Fragments of earlier calls cannot be given back in the caller's batch:
 * they wait on the 'out' queue, already rewritten and with their final
 * state, until their owner takes them with ovsct_ipf_drain_owned() (by
 * tag: the live datapath and a capture replay may share a table; the
 * others stay queued), or anyone with ovsct_ipf_drain().  They keep
 * counting against max-nfrags until then (OVS counts a fragment until it
 * is sent), so memory stays bounded.
 *
 * Locking: one mutex per table, 'ipf->lock' (ovsct-private.h, lock
 * order): it guards the lists, the hash, the expiry FIFO and the out
 * queue, and is a leaf: no other lock is taken under it, and it is never
 * held while a bucket lock is taken (the reassembled datagram is tracked
 * with it released; a completed list is then owned by the one call that
 * completed it).  Settings and counters are atomics.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipf.h"
#include "names.h"
#include "ovsct-private.h"

#define IPF_LIST_TIMEOUT_MS 15000       /* IPF_FRAG_LIST_TIMEOUT */
#define IPF_PURGE_DELAY_MS 10000        /* IPF_FRAG_LIST_PURGE_TIME_ADJ */
#define IPF_V4_MIN_DEFAULT 1200
#define IPF_V6_MIN_DEFAULT 1280
#define IPF_MAX_FRAGS_DEFAULT 1000
#define IPF_V4_MAX_SIZE 65535
#define IPF_V4_MAX_HDR 60
#define IPF_V6_MAX_DATA 65535
#define IPF_V6_MAX_LIST 65535
#define IPF_LIST_GROW 4                 /* IPF_FRAG_LIST_MIN_INCREMENT */
#define IPF_HASH_HEADS 1024             /* Lists <= max-nfrags <= 5000. */

#define ETH_LEN 14
#define V6_HDR_LEN 40
#define V6_FRAG_HDR_LEN 8

/* OVS's enum ipf_list_state (names in names.c). */
enum {
    IPF_UNUSED, IPF_REASS_FAIL, IPF_OTHER_SEEN, IPF_FIRST_SEEN,
    IPF_LAST_SEEN, IPF_FIRST_LAST_SEEN, IPF_COMPLETED,
};

struct ipf_key {
    uint32_t src[4];
    uint32_t dst[4];
    uint32_t id;                /* Network order (IPv4: 16 bits). */
    uint16_t zone;
    uint8_t l3;                 /* 4 or 6. */
    uint8_t proto;              /* IPv4 only; 0 for IPv6, as OVS. */
};

struct ipf_frag {
    uint8_t *frame;             /* Copy, without L2 padding. */
    uint32_t len;
    uint16_t l3_ofs;
    uint16_t data_ofs;          /* First byte of the fragment's data. */
    uint16_t start, end;        /* Data bytes covered (OVS's numbering). */
    uint64_t tag;
    uint64_t owner;             /* Serial of the call that brought it. */
    uint32_t idx;               /* Its index in that call's batch. */
};

struct ct_ipf_list {
    struct ct_ipf_list *hnext;  /* Hash chain. */
    struct ct_ipf_list *older, *newer;  /* Expiry FIFO. */
    struct ipf_key key;
    uint32_t hash;
    int64_t expiration;
    uint8_t state;
    bool first_seen, last_seen;
    int n, cap;
    struct ipf_frag *frags;
};

/* A fragment with its final state, waiting for ovsct_ipf_drain(). */
struct ipf_out {
    struct ipf_out *next;
    uint64_t tag;
    int64_t purge_at;
    uint32_t len;
    uint8_t state;
    uint8_t v6;
    uint8_t frame[];
};

struct ct_ipf {
    struct ct_mutex lock;
    struct ct_ipf_list *heads[IPF_HASH_HEADS] CT_GUARDED;
    struct ct_ipf_list *oldest CT_GUARDED, *newest CT_GUARDED;
    size_t n_lists CT_GUARDED;
    struct ipf_out *out CT_GUARDED, **out_tail CT_GUARDED;

    atomic_bool enabled[2];
    _Atomic uint32_t min_frag[2];
    _Atomic uint32_t max_nfrags;
    _Atomic uint32_t nfrag;     /* Held: in lists or on 'out'. */
    _Atomic uint64_t counters[2][OVSCT_IPF_N_COUNTERS];
    _Atomic uint64_t serial;
};

static void
count(struct ct_ipf *ipf, bool v6, int which, uint64_t n)
{
    atomic_fetch_add_explicit(&ipf->counters[v6][which], n,
                              memory_order_relaxed);
}

static int
v4_max_list(uint32_t min_frag)
{
    /* DIV_ROUND_UP(IPV4_PACKET_MAX_SIZE - IPV4_PACKET_MAX_HDR_SIZE,
     * min_v4_frag_size - IPV4_PACKET_MAX_HDR_SIZE). */
    uint32_t d = min_frag - IPF_V4_MAX_HDR;

    return (int) ((IPF_V4_MAX_SIZE - IPF_V4_MAX_HDR + d - 1) / d);
}

/* Life cycle. */

int
ct_ipf_create(struct ovsct *ct)
{
    struct ct_ipf *ipf = calloc(1, sizeof *ipf);

    if (!ipf) {
        return ENOMEM;
    }
    ct_mutex_init(&ipf->lock);
    ct_mutex_lock(&ipf->lock);
    ipf->out_tail = &ipf->out;
    ct_mutex_unlock(&ipf->lock);
    atomic_init(&ipf->enabled[0], true);
    atomic_init(&ipf->enabled[1], true);
    atomic_init(&ipf->min_frag[0], IPF_V4_MIN_DEFAULT);
    atomic_init(&ipf->min_frag[1], IPF_V6_MIN_DEFAULT);
    atomic_init(&ipf->max_nfrags, IPF_MAX_FRAGS_DEFAULT);
    ct->ipf = ipf;
    return 0;
}

static void
list_free(struct ct_ipf_list *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->frags[i].frame);
    }
    free(l->frags);
    free(l);
}

void
ct_ipf_destroy(struct ovsct *ct)
{
    struct ct_ipf *ipf = ct->ipf;

    if (!ipf) {
        return;
    }
    ct_mutex_lock(&ipf->lock);
    for (struct ct_ipf_list *l = ipf->oldest, *next; l; l = next) {
        next = l->newer;
        list_free(l);
    }
    for (struct ipf_out *o = ipf->out, *next; o; o = next) {
        next = o->next;
        free(o);
    }
    ct_mutex_unlock(&ipf->lock);
    ct_mutex_destroy(&ipf->lock);
    free(ipf);
    ct->ipf = NULL;
}

bool
ct_ipf_active(const struct ovsct *ct)
{
    struct ct_ipf *ipf = ct->ipf;

    return (atomic_load_explicit(&ipf->enabled[0], memory_order_relaxed)
            || atomic_load_explicit(&ipf->enabled[1], memory_order_relaxed)
            || atomic_load_explicit(&ipf->nfrag, memory_order_relaxed));
}

void
ct_ipf_call_init(struct ct_ipf_call *call, uint16_t zone, uint64_t tag_base,
                 int64_t now)
{
    call->serial = 0;           /* Drawn at the call's first held fragment
                                 * (call_serial()): a batch without one
                                 * touches no shared counter. */
    call->tag_base = tag_base;
    call->zone = zone;
    call->now = now;
    call->done = NULL;
    call->done_tail = &call->done;
}

/* 'call''s serial, drawn on first use: unique per call that holds a
 * fragment, never 0. */
static uint64_t
call_serial(struct ct_ipf *ipf, struct ct_ipf_call *call)
{
    if (!call->serial) {
        call->serial = atomic_fetch_add_explicit(&ipf->serial, 1,
                                                 memory_order_relaxed) + 1;
    }
    return call->serial;
}

/* Parsing. */

/* What ct_ipf_offer() learnt from a frame. */
struct frag_info {
    struct ipf_key key;
    uint32_t len;               /* Frame without L2 padding. */
    uint16_t l3_ofs, data_ofs;
    uint16_t start, end;
    uint32_t l3_size;
    bool first, last;
};

enum parse_res { P_NOT_FRAG, P_INVALID, P_TOO_SMALL, P_FRAG };

static bool
v4_csum_ok(const uint8_t *ip, size_t ihl)
{
    uint32_t sum = 0;

    for (size_t i = 0; i < ihl; i += 2) {
        sum += get_be16(ip + i);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum == 0xffff;
}

static uint16_t
v4_csum(const uint8_t *ip, size_t ihl)
{
    uint32_t sum = 0;

    for (size_t i = 0; i < ihl; i += 2) {
        if (i != 10) {
            sum += get_be16(ip + i);
        }
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) ~sum;
}

static enum parse_res
parse_v4(struct ct_ipf *ipf, const uint8_t *frame, uint32_t len,
         size_t l3_ofs, struct frag_info *fi)
{
    const uint8_t *ip = frame + l3_ofs;
    size_t size = len - l3_ofs;

    if (size < 20) {
        return P_INVALID;
    }
    uint16_t off = get_be16(ip + 6);
    if (!(off & 0x3fff)) {
        return P_NOT_FRAG;
    }
    size_t ihl = (size_t) (ip[0] & 0x0f) * 4;
    size_t tot = get_be16(ip + 2);
    /* l3 size equals the total length once OVS took the rest as L2
     * padding; a total length beyond the frame is no IP at all. */
    if (tot > size || ihl < 20 || ihl > tot || !v4_csum_ok(ip, ihl)) {
        return P_INVALID;
    }
    fi->len = (uint32_t) (l3_ofs + tot);
    fi->l3_size = (uint32_t) tot;
    fi->l3_ofs = (uint16_t) l3_ofs;
    fi->data_ofs = (uint16_t) (l3_ofs + ihl);
    fi->first = !(off & 0x1fff) && (off & 0x2000);
    fi->last = (off & 0x1fff) && !(off & 0x2000);
    fi->start = (uint16_t) ((off & 0x1fff) * 8);
    fi->end = (uint16_t) (fi->start + tot - ihl - 1);
    memset(&fi->key, 0, sizeof fi->key);
    memcpy(&fi->key.src[0], ip + 12, 4);
    memcpy(&fi->key.dst[0], ip + 16, 4);
    memcpy(&fi->key.id, ip + 4, 2);
    fi->key.proto = ip[9];
    fi->key.l3 = 4;
    if (!fi->last && tot < atomic_load_explicit(&ipf->min_frag[0],
                                                memory_order_relaxed)) {
        return P_TOO_SMALL;
    }
    return P_FRAG;
}

static bool
v6_ext(uint8_t nxt)
{
    return nxt == 0 || nxt == 43 || nxt == 60 || nxt == 51 || nxt == 44;
}

static enum parse_res
parse_v6(struct ct_ipf *ipf, const uint8_t *frame, uint32_t len,
         size_t l3_ofs, struct frag_info *fi)
{
    const uint8_t *ip = frame + l3_ofs;
    size_t size = len - l3_ofs;
    const uint8_t *fh = NULL;
    size_t ofs = V6_HDR_LEN, data_ofs = 0;
    uint8_t nxt;

    if (size < V6_HDR_LEN) {
        return P_INVALID;
    }
    size_t l3_size = V6_HDR_LEN + (size_t) get_be16(ip + 4);
    if (l3_size > size) {
        return P_INVALID;
    }
    /* parse_ipv6_ext_hdrs(): up to a fragment header with a non-zero
     * offset (a later fragment) or to the upper-layer header. */
    nxt = ip[6];
    while (v6_ext(nxt)) {
        const uint8_t *ext = ip + ofs;
        size_t hlen;

        if (l3_size - ofs < 8) {
            return P_NOT_FRAG;
        }
        if (nxt == 44) {
            hlen = V6_FRAG_HDR_LEN;
            if (!fh && get_be16(ext + 2) != 0) {
                fh = ext;
                data_ofs = ofs + hlen;
                if (get_be16(ext + 2) & 0xfff8) {
                    break;      /* A later fragment: stop here. */
                }
            }
        } else if (nxt == 51) {
            hlen = ((size_t) ext[1] + 2) * 4;
        } else {
            hlen = ((size_t) ext[1] + 1) * 8;
        }
        if (hlen > l3_size - ofs) {
            return P_NOT_FRAG;
        }
        nxt = ext[0];
        ofs += hlen;
        if (fh && fh != ext) {
            data_ofs = ofs;     /* First fragment: its L4 header. */
        }
    }
    if (!fh) {
        return P_NOT_FRAG;
    }
    uint16_t offlg = get_be16(fh + 2);
    fi->len = (uint32_t) (l3_ofs + l3_size);
    fi->l3_size = (uint32_t) l3_size;
    fi->l3_ofs = (uint16_t) l3_ofs;
    fi->data_ofs = (uint16_t) (l3_ofs + data_ofs);
    fi->first = !(offlg & 0xfff8) && (offlg & 1);
    fi->last = (offlg & 0xfff8) && !(offlg & 1);
    /* ipf_v6_key_extract(): data bytes are numbered from the fragment
     * header's start. */
    fi->start = (uint16_t) ((offlg & 0xfff8) + V6_FRAG_HDR_LEN);
    fi->end = (uint16_t) (fi->start + (l3_size - data_ofs) - 1);
    memset(&fi->key, 0, sizeof fi->key);
    memcpy(fi->key.src, ip + 8, 16);
    memcpy(fi->key.dst, ip + 24, 16);
    memcpy(&fi->key.id, fh + 4, 4);
    fi->key.l3 = 6;
    if (!fi->last && l3_size < atomic_load_explicit(&ipf->min_frag[1],
                                                    memory_order_relaxed)) {
        return P_TOO_SMALL;
    }
    return P_FRAG;
}

static enum parse_res
parse_frag(struct ct_ipf *ipf, const uint8_t *frame, uint32_t len,
           struct frag_info *fi)
{
    size_t l3_ofs = ETH_LEN;
    uint16_t type;

    if (len < ETH_LEN) {
        return P_NOT_FRAG;
    }
    type = get_be16(frame + 12);
    if ((type == 0x8100 || type == 0x88a8) && len >= ETH_LEN + 4) {
        type = get_be16(frame + 16);
        l3_ofs += 4;
    }
    if (l3_ofs > UINT16_MAX) {
        return P_NOT_FRAG;
    }
    if (type == 0x0800) {
        return parse_v4(ipf, frame, len, l3_ofs, fi);
    }
    if (type == 0x86dd) {
        return parse_v6(ipf, frame, len, l3_ofs, fi);
    }
    return P_NOT_FRAG;
}

/* Lists. */

static uint32_t
key_hash(const struct ipf_key *k)
{
    const uint32_t *w = (const uint32_t *) k;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < sizeof *k / 4; i++) {
        h = (h ^ w[i]) * 16777619u;
        h ^= h >> 15;
    }
    return h;
}

static struct ct_ipf_list *
list_find(struct ct_ipf *ipf, const struct ipf_key *key, uint32_t hash)
    CT_REQUIRES(ipf->lock)
{
    for (struct ct_ipf_list *l = ipf->heads[hash % IPF_HASH_HEADS]; l;
         l = l->hnext) {
        if (l->hash == hash && !memcmp(&l->key, key, sizeof *key)) {
            return l;
        }
    }
    return NULL;
}

/* Takes 'l' out of the hash and the expiry FIFO; the caller owns it. */
static void
list_unlink(struct ct_ipf *ipf, struct ct_ipf_list *l) CT_REQUIRES(ipf->lock)
{
    struct ct_ipf_list **pp = &ipf->heads[l->hash % IPF_HASH_HEADS];

    while (*pp != l) {
        pp = &(*pp)->hnext;
    }
    *pp = l->hnext;
    if (l->older) {
        l->older->newer = l->newer;
    } else {
        ipf->oldest = l->newer;
    }
    if (l->newer) {
        l->newer->older = l->older;
    } else {
        ipf->newest = l->older;
    }
    l->older = l->newer = NULL;
    ipf->n_lists--;
}

static bool
list_complete(const struct ct_ipf_list *l)
{
    for (int i = 1; i < l->n; i++) {
        if (l->frags[i - 1].end + 1 != l->frags[i].start) {
            return false;
        }
    }
    return true;
}

static void
list_sort(struct ct_ipf_list *l)
{
    for (int i = 1; i < l->n; i++) {
        struct ipf_frag f = l->frags[i];
        int j = i - 1;

        while (j >= 0 && l->frags[j].start > f.start) {
            l->frags[j + 1] = l->frags[j];
            j--;
        }
        l->frags[j + 1] = f;
    }
}

/* Reassembles the sorted, complete list 'l' (ipf_reassemble_v4_frags(),
 * ipf_reassemble_v6_frags()).  Returns NULL if too big or out of
 * memory. */
static uint8_t *
reassemble(const struct ct_ipf_list *l, uint32_t *lenp)
{
    const struct ipf_frag *f0 = &l->frags[0];
    size_t rest = (size_t) l->frags[l->n - 1].end - l->frags[1].start + 1;
    size_t len = f0->len + rest;
    uint8_t *buf, *ip;

    if (l->key.l3 == 4) {
        if ((f0->len - f0->l3_ofs) + rest > IPF_V4_MAX_SIZE) {
            return NULL;
        }
    } else if ((f0->len - f0->l3_ofs - V6_HDR_LEN - V6_FRAG_HDR_LEN) + rest
               > IPF_V6_MAX_DATA) {
        return NULL;
    }
    buf = malloc(len);
    if (!buf) {
        return NULL;
    }
    memcpy(buf, f0->frame, f0->len);
    size_t at = f0->len;
    for (int i = 1; i < l->n; i++) {
        const struct ipf_frag *f = &l->frags[i];
        size_t add = (size_t) f->end - f->start + 1;

        memcpy(buf + at, f->frame + f->data_ofs, add);
        at += add;
    }
    ip = buf + f0->l3_ofs;
    if (l->key.l3 == 4) {
        size_t tot = len - f0->l3_ofs;
        size_t ihl = (size_t) (ip[0] & 0x0f) * 4;
        uint16_t c;

        ip[2] = (uint8_t) (tot >> 8);
        ip[3] = (uint8_t) tot;
        ip[6] &= (uint8_t) ~0x20;       /* Clear MF. */
        c = v4_csum(ip, ihl);
        ip[10] = (uint8_t) (c >> 8);
        ip[11] = (uint8_t) c;
    } else {
        size_t pl = len - f0->l3_ofs - V6_HDR_LEN;
        uint8_t nxt = ip[6];
        size_t ofs = V6_HDR_LEN;

        ip[4] = (uint8_t) (pl >> 8);
        ip[5] = (uint8_t) pl;
        /* The fragment header stays, made atomic (offset and M 0), as
         * OVS leaves it. */
        while (v6_ext(nxt) && ofs + 8 <= len - f0->l3_ofs) {
            uint8_t *ext = ip + ofs;

            if (nxt == 44) {
                ext[2] = ext[3] = 0;
                break;
            }
            nxt = ext[0];
            ofs += nxt == 51 ? ((size_t) ext[1] + 2) * 4
                             : ((size_t) ext[1] + 1) * 8;
        }
    }
    *lenp = (uint32_t) len;
    return buf;
}

static void
expiry_push(struct ct_ipf *ipf, struct ct_ipf_list *l) CT_REQUIRES(ipf->lock)
{
    l->older = ipf->newest;
    l->newer = NULL;
    if (ipf->newest) {
        ipf->newest->newer = l;
    } else {
        ipf->oldest = l;
    }
    ipf->newest = l;
}

/* ipf_handle_frag() + ipf_process_frag(): true if 'fi' was added to a
 * list; '*overlap' if refused as a duplicate; '*done' if its list is
 * complete now (reassembled into a new entry of the call). */
static bool
handle_frag(struct ct_ipf *ipf, struct ct_ipf_call *call, size_t idx,
            const uint8_t *frame, const struct frag_info *fi, bool *overlap)
    CT_REQUIRES(ipf->lock)
{
    bool v6 = fi->key.l3 == 6;
    uint32_t hash = key_hash(&fi->key);
    struct ct_ipf_list *l;
    int max_list;

    *overlap = false;
    if (atomic_load_explicit(&ipf->nfrag, memory_order_relaxed)
        >= atomic_load_explicit(&ipf->max_nfrags, memory_order_relaxed)) {
        return false;
    }
    max_list = v6 ? IPF_V6_MAX_LIST
                  : v4_max_list(atomic_load_explicit(&ipf->min_frag[0],
                                                     memory_order_relaxed));
    l = list_find(ipf, &fi->key, hash);
    if (!l) {
        l = calloc(1, sizeof *l);
        if (!l) {
            return false;
        }
        l->key = fi->key;
        l->hash = hash;
        l->cap = max_list < IPF_LIST_GROW ? max_list : IPF_LIST_GROW;
        l->frags = calloc((size_t) l->cap, sizeof *l->frags);
        if (!l->frags) {
            free(l);
            return false;
        }
        l->state = IPF_UNUSED;
        l->expiration = call->now + IPF_LIST_TIMEOUT_MS;
        l->hnext = ipf->heads[hash % IPF_HASH_HEADS];
        ipf->heads[hash % IPF_HASH_HEADS] = l;
        expiry_push(ipf, l);
        ipf->n_lists++;
    } else if (l->state == IPF_REASS_FAIL || l->state == IPF_COMPLETED) {
        return false;
    } else if (l->n >= l->cap) {
        int inc = max_list - l->cap < IPF_LIST_GROW ? max_list - l->cap
                                                    : IPF_LIST_GROW;
        struct ipf_frag *f;

        if (inc <= 0) {
            return false;
        }
        f = realloc(l->frags, (size_t) (l->cap + inc) * sizeof *f);
        if (!f) {
            return false;
        }
        l->frags = f;
        l->cap += inc;
    }

    for (int i = 0; i < l->n; i++) {
        const struct ipf_frag *f = &l->frags[i];

        if ((fi->start >= f->start && fi->start <= f->end)
            || (fi->end >= f->start && fi->end <= f->end)) {
            count(ipf, v6, OVSCT_IPF_OVERLAP, 1);
            *overlap = true;
            return false;
        }
    }

    struct ipf_frag *f = &l->frags[l->n];
    f->frame = malloc(fi->len);
    if (!f->frame) {
        return false;
    }
    memcpy(f->frame, frame, fi->len);
    f->len = fi->len;
    f->l3_ofs = fi->l3_ofs;
    f->data_ofs = fi->data_ofs;
    f->start = fi->start;
    f->end = fi->end;
    f->tag = call->tag_base + idx;
    f->owner = call_serial(ipf, call);
    f->idx = (uint32_t) idx;
    l->n++;
    atomic_fetch_add_explicit(&ipf->nfrag, 1, memory_order_relaxed);
    count(ipf, v6, OVSCT_IPF_ACCEPTED, 1);

    /* ipf_list_state_transition(). */
    l->first_seen |= fi->first;
    l->last_seen |= fi->last;
    l->state = (l->first_seen && l->last_seen ? IPF_FIRST_LAST_SEEN
                : l->first_seen ? IPF_FIRST_SEEN
                : l->last_seen ? IPF_LAST_SEEN : IPF_OTHER_SEEN);
    if (l->state == IPF_FIRST_LAST_SEEN) {
        list_sort(l);
        if (list_complete(l)) {
            struct ct_ipf_done *d = calloc(1, sizeof *d);
            uint8_t *buf = d ? reassemble(l, &d->len) : NULL;

            if (buf) {
                d->frame = buf;
                d->list = l;
                *call->done_tail = d;
                call->done_tail = &d->next;
                l->state = IPF_COMPLETED;
            } else {
                free(d);
                l->state = IPF_REASS_FAIL;
            }
        }
    }
    return true;
}

uint8_t
ct_ipf_offer(struct ovsct *ct, struct ct_ipf_call *call, size_t idx,
             const uint8_t *frame, uint32_t len)
{
    const uint8_t inv = OVSCT_CS_INVALID | OVSCT_CS_TRACKED;
    struct ct_ipf *ipf = ct->ipf;
    struct frag_info fi;
    bool held, overlap;

    switch (parse_frag(ipf, frame, len, &fi)) {
    case P_NOT_FRAG:
    case P_INVALID:
        return inv;
    case P_TOO_SMALL:
        count(ipf, fi.key.l3 == 6, OVSCT_IPF_TOO_SMALL, 1);
        return inv;
    case P_FRAG:
        break;
    }
    if (!atomic_load_explicit(&ipf->enabled[fi.key.l3 == 6],
                              memory_order_relaxed)) {
        return inv;
    }
    fi.key.zone = call->zone;
    ct_mutex_lock(&ipf->lock);
    held = handle_frag(ipf, call, idx, frame, &fi, &overlap);
    ct_mutex_unlock(&ipf->lock);
    return held ? OVSCT_STATE_HELD : inv;
}

/* Rewriting fragments after NAT (ipf_post_execute_reass_pkts()). */

static void
rewrite_frag(struct ipf_frag *f, const uint8_t *reass, uint8_t l3,
             bool first)
{
    uint8_t *ip = f->frame + f->l3_ofs;
    const uint8_t *rip = reass + f->l3_ofs;

    if (first) {
        /* The first fragment takes the reassembled L4 bytes it holds:
         * the rewritten header and checksum (its data is unchanged). */
        memcpy(f->frame + f->data_ofs, reass + f->data_ofs,
               f->len - f->data_ofs);
    }
    if (l3 == 4) {
        size_t ihl = (size_t) (ip[0] & 0x0f) * 4;
        uint16_t c;

        if (!memcmp(ip + 12, rip + 12, 8)) {
            return;
        }
        memcpy(ip + 12, rip + 12, 8);
        c = v4_csum(ip, ihl);
        ip[10] = (uint8_t) (c >> 8);
        ip[11] = (uint8_t) c;
    } else {
        memcpy(ip + 8, rip + 8, 32);
    }
}

void
ct_ipf_finish(struct ovsct *ct, struct ct_ipf_call *call,
              struct ct_ipf_done *d, uint8_t state, uint8_t *data,
              const uint32_t *offsets, uint8_t *states)
{
    struct ct_ipf *ipf = ct->ipf;
    struct ct_ipf_list *l = d->list;
    bool v6 = l->key.l3 == 6;
    bool rewrite = (state & (OVSCT_CS_SRC_NAT | OVSCT_CS_DST_NAT)) != 0;
    struct ipf_out *head = NULL, **tail = &head;
    uint32_t mine = 0;

    /* The list is complete: no other call adds to it or expires it; take
     * it out so that a new datagram with the same key starts afresh. */
    ct_mutex_lock(&ipf->lock);
    list_unlink(ipf, l);
    ct_mutex_unlock(&ipf->lock);

    for (int i = 0; i < l->n; i++) {
        struct ipf_frag *f = &l->frags[i];

        if (rewrite) {
            rewrite_frag(f, d->frame, l->key.l3, i == 0);
        }
        if (f->owner == call->serial) {
            states[f->idx] = state;
            if (rewrite) {
                memcpy(data + offsets[f->idx], f->frame, f->len);
            }
            mine++;
            continue;
        }
        struct ipf_out *o = malloc(sizeof *o + f->len);

        if (!o) {
            count(ipf, v6, OVSCT_IPF_PURGED, 1);
            mine++;             /* Dropped: no longer held. */
            continue;
        }
        o->next = NULL;
        o->tag = f->tag;
        o->purge_at = l->expiration + IPF_PURGE_DELAY_MS;
        o->len = f->len;
        o->state = state;
        o->v6 = v6;
        memcpy(o->frame, f->frame, f->len);
        *tail = o;
        tail = &o->next;
    }
    count(ipf, v6, OVSCT_IPF_COMPLETED, (uint64_t) l->n);
    atomic_fetch_sub_explicit(&ipf->nfrag, mine, memory_order_relaxed);
    if (head) {
        ct_mutex_lock(&ipf->lock);
        *ipf->out_tail = head;
        ipf->out_tail = tail;
        ct_mutex_unlock(&ipf->lock);
    }
    list_free(l);
    free(d->frame);
    free(d);
}

/* Expiry. */

/* Moves the fragments of list 'l' (unlinked) to the out queue as inv, or
 * drops them as purged when even the purge time has passed. */
static void
expire_list(struct ct_ipf *ipf, struct ct_ipf_list *l, int64_t now)
    CT_REQUIRES(ipf->lock)
{
    bool v6 = l->key.l3 == 6;
    bool purge = now >= l->expiration + IPF_PURGE_DELAY_MS;

    for (int i = 0; i < l->n; i++) {
        struct ipf_frag *f = &l->frags[i];
        struct ipf_out *o = purge ? NULL : malloc(sizeof *o + f->len);

        if (!o) {
            count(ipf, v6, OVSCT_IPF_PURGED, 1);
            atomic_fetch_sub_explicit(&ipf->nfrag, 1, memory_order_relaxed);
            continue;
        }
        o->next = NULL;
        o->tag = f->tag;
        o->purge_at = l->expiration + IPF_PURGE_DELAY_MS;
        o->len = f->len;
        o->state = OVSCT_CS_INVALID;
        o->v6 = v6;
        memcpy(o->frame, f->frame, f->len);
        *ipf->out_tail = o;
        ipf->out_tail = &o->next;
        count(ipf, v6, OVSCT_IPF_EXPIRED, 1);
    }
    list_free(l);
}

/* Expires up to 'max' lists whose time is up ('all': every list). */
static void
expire(struct ct_ipf *ipf, int64_t now, size_t max, bool all)
{
    ct_mutex_lock(&ipf->lock);
    while (max && ipf->oldest
           && (all || now > ipf->oldest->expiration)) {
        struct ct_ipf_list *l = ipf->oldest;

        if (l->state == IPF_COMPLETED) {
            break;              /* Owned by the call finishing it. */
        }
        list_unlink(ipf, l);
        expire_list(ipf, l, all ? INT64_MIN / 2 : now);
        max--;
    }
    ct_mutex_unlock(&ipf->lock);
}

void
ct_ipf_call_end(struct ovsct *ct, struct ct_ipf_call *call)
{
    struct ct_ipf *ipf = ct->ipf;

    if (atomic_load_explicit(&ipf->nfrag, memory_order_relaxed)) {
        expire(ipf, call->now, 1, false);
    }
}

void
ct_ipf_sweep(struct ovsct *ct, int64_t now)
{
    struct ct_ipf *ipf = ct->ipf;
    struct ipf_out *dead = NULL;
    uint64_t n_dead[2] = { 0, 0 };

    if (!atomic_load_explicit(&ipf->nfrag, memory_order_relaxed)) {
        return;
    }
    expire(ipf, now, SIZE_MAX, false);
    ct_mutex_lock(&ipf->lock);
    for (struct ipf_out **pp = &ipf->out; *pp;) {
        struct ipf_out *o = *pp;

        if (now >= o->purge_at) {
            *pp = o->next;
            o->next = dead;
            dead = o;
            n_dead[o->v6]++;
        } else {
            pp = &o->next;
        }
    }
    ipf->out_tail = &ipf->out;
    while (*ipf->out_tail) {
        ipf->out_tail = &(*ipf->out_tail)->next;
    }
    ct_mutex_unlock(&ipf->lock);
    for (int v6 = 0; v6 < 2; v6++) {
        count(ipf, v6, OVSCT_IPF_PURGED, n_dead[v6]);
    }
    atomic_fetch_sub_explicit(&ipf->nfrag, (uint32_t) (n_dead[0] + n_dead[1]),
                              memory_order_relaxed);
    while (dead) {
        struct ipf_out *next = dead->next;

        free(dead);
        dead = next;
    }
}

/* Public API. */

void
ovsct_ipf_expire_all(struct ovsct *ct)
{
    expire(ct->ipf, 0, SIZE_MAX, true);
}

size_t
ovsct_ipf_drain(struct ovsct *ct, ovsct_ipf_out_fn *fn, void *aux)
{
    return ovsct_ipf_drain_owned(ct, 0, 0, fn, aux);
}

size_t
ovsct_ipf_drain_owned(struct ovsct *ct, uint64_t mask, uint64_t value,
                      ovsct_ipf_out_fn *fn, void *aux)
{
    struct ct_ipf *ipf = ct->ipf;
    struct ipf_out *o = NULL, **tail = &o;
    size_t n = 0;

    /* Every fragment on 'out' is counted in 'nfrag': nothing held, nothing
     * to drain, and no lock taken (the live workers drain after every
     * batch).  A fragment queued by another thread meanwhile is taken by
     * the next drain. */
    if (!atomic_load_explicit(&ipf->nfrag, memory_order_relaxed)) {
        return 0;
    }
    ct_mutex_lock(&ipf->lock);
    if (!mask && !value) {
        o = ipf->out;
        ipf->out = NULL;
        ipf->out_tail = &ipf->out;
    } else {
        /* Unlinks the owner's fragments, in order; the others stay, in
         * theirs (the queue is bounded by max-nfrags). */
        for (struct ipf_out **pp = &ipf->out; *pp;) {
            struct ipf_out *x = *pp;

            if ((x->tag & mask) == value) {
                *pp = x->next;
                *tail = x;
                tail = &x->next;
            } else {
                pp = &x->next;
                ipf->out_tail = pp;
            }
        }
        if (!ipf->out) {
            ipf->out_tail = &ipf->out;
        }
        *tail = NULL;
    }
    ct_mutex_unlock(&ipf->lock);
    while (o) {
        struct ipf_out *next = o->next;

        fn(aux, o->tag, o->state, o->frame, o->len);
        free(o);
        o = next;
        n++;
    }
    atomic_fetch_sub_explicit(&ipf->nfrag, (uint32_t) n,
                              memory_order_relaxed);
    return n;
}

int
ovsct_ipf_set_enabled(struct ovsct *ct, bool v6, bool enabled)
{
    atomic_store(&ct->ipf->enabled[v6], enabled);
    return 0;
}

int
ovsct_ipf_set_min_frag(struct ovsct *ct, bool v6, uint32_t size)
{
    if (size < OVSCT_IPF_MIN_FRAG_LBOUND) {
        return EINVAL;
    }
    atomic_store(&ct->ipf->min_frag[v6], size);
    return 0;
}

int
ovsct_ipf_set_max_nfrags(struct ovsct *ct, uint32_t n)
{
    if (n > OVSCT_IPF_MAX_NFRAGS_UBOUND) {
        return EINVAL;
    }
    atomic_store(&ct->ipf->max_nfrags, n);
    return 0;
}

void
ovsct_ipf_get_status(struct ovsct *ct, struct ovsct_ipf_status *s)
{
    struct ct_ipf *ipf = ct->ipf;

    memset(s, 0, sizeof *s);
    for (int v6 = 0; v6 < 2; v6++) {
        s->enabled[v6] = atomic_load(&ipf->enabled[v6]);
        s->min_frag[v6] = atomic_load(&ipf->min_frag[v6]);
        for (int i = 0; i < OVSCT_IPF_N_COUNTERS; i++) {
            s->counters[v6][i] = atomic_load(&ipf->counters[v6][i]);
        }
    }
    s->max_nfrags = atomic_load(&ipf->max_nfrags);
    s->nfrag = atomic_load(&ipf->nfrag);
}

void
ovsct_ipf_dump_lists(struct ovsct *ct, ovsct_ipf_line_fn *fn, void *aux)
{
    struct ct_ipf *ipf = ct->ipf;
    char (*lines)[256] = NULL;
    size_t n = 0;

    ct_mutex_lock(&ipf->lock);
    if (ipf->n_lists) {
        lines = malloc(ipf->n_lists * sizeof *lines);
    }
    for (size_t h = 0; lines && h < IPF_HASH_HEADS; h++) {
        for (struct ct_ipf_list *l = ipf->heads[h]; l; l = l->hnext) {
            char src[64], dst[64];
            uint32_t id;

            ovsct_format_addr(l->key.l3, (const uint8_t *) l->key.src, src);
            ovsct_format_addr(l->key.l3, (const uint8_t *) l->key.dst, dst);
            memcpy(&id, &l->key.id, 4);
            id = l->key.l3 == 4 ? (uint32_t) get_be16((uint8_t *) &id)
                                : (uint32_t) get_be16((uint8_t *) &id) << 16
                                  | get_be16((uint8_t *) &id + 2);
            snprintf(lines[n++], sizeof lines[0],
                     "(src=%s,dst=%s,recirc_id=0,ip_id=%u,dl_type=0x%x,"
                     "zone=%u,nw_proto=%u,num_fragments=%d,state=%s)",
                     src, dst, id, l->key.l3 == 4 ? 0x800 : 0x86dd,
                     l->key.zone, l->key.proto, l->n,
                     ovsct_ipf_state_names[l->state]);
        }
    }
    ct_mutex_unlock(&ipf->lock);
    for (size_t i = 0; i < n; i++) {
        fn(aux, lines[i]);
    }
    free(lines);
}
