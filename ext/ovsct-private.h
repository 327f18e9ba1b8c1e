/*
 * ovsct-private.h -- layouts, guards and the lock order of the engine.
 *
 * Neighbours: ovsct.h (public contract), ovsct-thread.h (annotations),
 * packet.h (struct ct_key).  Only ext/ files include this header.
 *
 * The table
 * =========
 *
 * 'n_buckets' buckets (a power of two).  A key's 32-bit hash picks the
 * bucket with its high bits and the slot inside the bucket's map with its
 * low bits, so the two choices are independent.  Each bucket owns a lock
 * and an open-addressing map (linear probing, backward-shift deletion, no
 * tombstones) that doubles at 3/4 load and halves below 1/8, so memory
 * follows the bucket's own load.  A 12-byte slot holds the node's hash
 * (probes compare it before touching the connection), the sweeper's
 * expiry lower bound and a 32-bit handle: the connection's offset in the
 * table's region, with the node's direction in bit 0 (ct_ent_make()).
 *
 * A connection has two nodes: [0] under its forward key and [1] under its
 * reverse key (the plain reverse of the forward key, or the NAT reverse
 * key).  The connection caches the hash of each (ct_conn_hash()), which
 * also names the bucket (ct_conn_bucket()), so unlinking never
 * rehashes.  The key hash is symmetric, so a plain connection's two keys
 * share a hash, a bucket and a home slot: one slot then stands for both
 * nodes (ct_conn_two_slots()), and creating the connection takes one
 * lock.  A NAT connection's nodes have a slot each, possibly in two
 * buckets, inserted together under both bucket locks.
 *
 * Every change of a map is made under its bucket lock, but the packet
 * path first looks a key up without it (ct_map_find_unlocked()): a packet
 * of a known, live connection takes no bucket lock at all.  That works
 * because a map's address and mask change inside a sequence count
 * ('seq', ct_map_write_begin()), slot fields are stored and loaded with
 * release/acquire atomics, replaced map arrays are retired to the epoch
 * reclaimer like connections (ct_retire_block()), and a live connection
 * whose key matches is the answer whatever happens around it.  A miss
 * is confirmed under the lock, by the count still being what the probe
 * saw (then the insertion goes where the probe ended) or by a second
 * probe.
 *
 * Lock order
 * ==========
 *
 *   1. bucket locks, in ascending index order, at most two at a time
 *      (ct_double_lock()), or all of them in ascending order (bulk flush,
 *      zone-limit activation, clearing sweep bounds); another bucket's
 *      lock may also be tried (never waited for) with one held;
 *   2. 'reclaim_lock' (a bulk flush takes it under every bucket lock);
 *   3. an expectation shard's 'lock' (struct ct_exp_shard), with or
 *      without bucket locks held, never while holding a connection's
 *      'lock'; under it only leaves;
 *   4. leaves, with or without the locks above, nothing taken under them:
 *      a connection's 'lock' (struct ct_spin), a thread's retire slot
 *      lock, 'slab_lock', 'cfg_lock';
 *   5. the event ring's writer lock (events.c), a leaf too: taken with
 *      bucket locks held (NEW at link time, DESTROY at claim time) or
 *      with none (UPDATE), never with a connection's 'lock' held (the
 *      entry is copied first), and nothing is taken under it.  It cannot
 *      deadlock: its holder waits for nothing, and a writer that does not
 *      get it within a bounded spin drops the event (counted) instead of
 *      waiting longer, so a preempted holder delays nobody for long.
 *      Readers take no lock at all: they copy slots optimistically and
 *      check each slot's sequence stamp before and after (a seqlock), so
 *      a writer never waits for a reader.  'ev_sub_lock' (subscribe and
 *      unsubscribe only) is taken with no other lock held.
 *   6. the reassembly lock ('ipf->lock', ipf.c): a leaf taken with NO other
 *      lock held, and nothing is taken under it.  A datagram completed by
 *      reassembly is tracked (bucket locks) after that lock was released,
 *      by the one call that completed it; the sweeper takes it between
 *      bucket sweeps, never inside one.
 *
 * Removal
 * =======
 *
 * A connection is removed exactly once: whoever flips 'dead' from 0 to 1
 * (ct_conn_claim(), with a bucket lock held on one of its nodes) adjusts
 * the counts.  Its nodes are then unlinked one by one, each by a holder of
 * that node's bucket lock: directly when both locks can be had in order,
 * else lazily by the next lookup, sweep or flush that meets the dead node.
 * 'n_linked' counts linked nodes; whoever unlinks the last one retires the
 * connection to the epoch reclaimer (epoch.c), which frees it when no
 * thread can still be using it.
 *
 * A bulk flush (flush everything) takes every bucket lock, swaps all maps
 * for empty ones, bumps 'gen' and resets the counts; the old maps are then
 * retired as a whole.  Connections carry the 'gen' they were created in so
 * that a reader still holding a pointer from before the flush cannot
 * remove them a second time.
 *
 * ALG expectations (expect.c, alg-ftp.c, alg-tftp.c)
 * ==================================================
 *
 * OVS keeps every expectation in one hmap under one 'resources_lock'
 * (lib/conntrack.c expectation_create(), expectation_lookup()).  Here they
 * are split into CT_EXP_SHARDS shards, each a lock and a chained hash
 * list, picked by the hash of the expected tuple with its source port
 * set to 0 (the data connection's source port is unknown: OVS's
 * ALG_WC_SRC_PORT).  That tuple is not the key a data packet's bucket is
 * chosen by (its source port is real), so expectations cannot sit in the
 * connection buckets; they get shards of their own, found from the packet
 * by the same wildcarded hash:
 *
 *   - a new connection (only when no connection matched) first reads
 *     'n_exp', one relaxed load: with no expectation anywhere (the common
 *     case) nothing else happens and no lock is taken;
 *   - else it hashes its key with source port 0, locks that one shard
 *     (lock order level 3: under a bucket lock or none), copies the
 *     expectation out and unlocks.  No global lock: lookups of other
 *     shards, and every connection bucket, proceed in parallel;
 *   - an expectation holds its parent's pointer.  It is unlinked when the
 *     parent is claimed for removal (ct_conn_claim(), which runs before
 *     the parent can be retired) or by a bulk flush (before the old maps
 *     are retired), so a holder of the shard lock that finds it may read
 *     the parent's expiry: an expectation whose parent has expired is
 *     ignored (OVS drops expectations with their parent, expectation_clean()
 *     from conn_clean());
 *   - a parent with expectations is flagged (struct ct_alg 'has_exp'), so
 *     claiming any other connection costs one test.
 */
#ifndef OVSCT_PRIVATE_H
#define OVSCT_PRIVATE_H 1

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ovsct.h"
#include "ovsct-thread.h"
#include "ipf.h"
#include "packet.h"
#include "keyhash.h"

#define OVSCT_UNUSED__ __attribute__((unused))

#define CT_MAX_THREADS 256      /* Threads that may use the engine at once. */
#define CT_N_ZONES 65536

/* Per-direction TCP peer record (pf's tcp_peer); allocated only for TCP
 * connections, guarded by the connection's 'lock'. */
struct ct_tcp_peer {
    uint32_t seqlo;             /* Max sequence number sent. */
    uint32_t seqhi;             /* Max the other end ACKd + win. */
    uint16_t max_win;           /* Largest window (pre-scaling). */
    uint8_t wscale;             /* Shift | CT_WSCALE_FLAG/_UNKNOWN. */
    uint8_t state;              /* enum ovsct_tcp_state. */
};
#define CT_WSCALE_FLAG 0x80     /* The SYN carried a window-scale option. */
#define CT_WSCALE_UNKNOWN 0x40  /* Picked up mid-stream (BE_LIBERAL). */
#define CT_WSCALE_MASK 0x0f

/* Result of a protocol state update (OVS's enum ct_update_res). */
enum ct_update_res {
    CT_UPDATE_INVALID,
    CT_UPDATE_VALID,
    CT_UPDATE_NEW,
    CT_UPDATE_VALID_NEW,
};

/* Connection extensions, in this order after the base struct. */
enum {
    CT_EXT_TCP = 1 << 0,        /* struct ct_tcp_peer[2] follows. */
    CT_EXT_NAT = 1 << 1,        /* struct ct_nat_ext. */
    CT_EXT_ALG = 1 << 2,        /* struct ct_alg. */
};

/* The NAT extension: the reverse key, which is not the plain reverse of
 * the forward key, and its hash (node 1's). */
struct ct_nat_ext {
    struct ct_key rkey;
    uint32_t rhash;
};

/* ALG state of a connection that has a helper or a parent (CT_EXT_ALG).
 * 'helper', 'related' and 'parent' are immutable once linked; the
 * sequence skew is guarded by the connection's 'lock'; 'has_exp' is
 * atomic. */
struct ct_alg {
    struct ct_key parent;       /* Control connection's forward key. */
    int32_t seq_skew;           /* OVS's conn->seq_skew (FTP with NAT). */
    uint8_t helper;             /* OVSCT_ALG_*. */
    bool related;               /* A data connection (OVS alg_related). */
    bool seq_skew_dir;          /* Direction (1: reply) the skew is in. */
    atomic_bool has_exp;        /* Expectations name it as parent. */
};

/* A tracked connection.  Variable size: see 'ext'.  Members are ordered
 * for packing: 80 bytes on LP64 for a plain connection (slab.c; a
 * multiple of 16 for ct_ent_make()).  A connection has two nodes, [0]
 * under its forward key and [1] under its reverse key; ct_conn_hash()
 * and ct_conn_bucket() give a node's hash and bucket. */
struct ct_conn {
    /* Immutable once linked. */
    struct ct_key key;          /* Forward key (orig direction). */
    uint32_t hash;              /* Hash of 'key': node 0's, and node 1's
                                 * too unless NAT (the symmetric hash);
                                 * a NAT node 1's is in struct
                                 * ct_nat_ext. */

    /* Guarded by 'lock'. */
    uint32_t mark CT_GUARDED;

    /* Atomic. */
    _Atomic int64_t expiration; /* Engine ms; expired when <= now. */

    /* Guarded by 'lock'. */
    ovsct_u128 labels CT_GUARDED;

    /* Immutable once linked. */
    uint8_t ext;                /* CT_EXT_*. */
    uint8_t gen;                /* ct->gen at creation. */
    uint8_t nat;                /* OVSCT_CS_SRC_NAT / _DST_NAT. */

    /* Atomic. */
    atomic_uchar dead;          /* 1 once claimed for removal. */
    atomic_uchar n_linked;      /* Nodes still linked in a map (0..2). */

    struct ct_spin lock;        /* Guards the mutable state. */
    uint8_t state CT_GUARDED;  /* CT_OTHER_* / CT_ICMP_*. */
};

/* Protocol state of non-TCP connections (OVS conntrack-other.c,
 * conntrack-icmp.c). */
enum {
    CT_OTHER_FIRST,
    CT_OTHER_MULTIPLE,
    CT_OTHER_BIDIR,
    CT_ICMP_FIRST = 0,
    CT_ICMP_REPLY = 1,
};

/* A non-TCP connection in its last state (UDP and the other protocols:
 * BIDIR; ICMP: REPLY) never changes state again: a packet, in either
 * direction, only sets its expiry to now plus that state's timeout
 * (udp_multiple, icmp_reply) and is +est, as proto-other.c and
 * proto-icmp.c would do under the connection's lock.  So the packet path
 * does it without the lock: if 'c' is settled, stores the expiry and
 * returns true.  Exactly what the locked update does, whatever other
 * threads do meanwhile: no transition is left to race with, and an
 * update under the lock computes the same timeout.  (The two modules
 * store 'state' atomically for this reader.) */
static inline bool
ct_refresh_settled(struct ct_conn *c, const uint32_t *tp, int64_t now)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    uint8_t state = __atomic_load_n(&c->state, __ATOMIC_RELAXED);
    uint32_t t;

    if (c->key.nw_proto == 1 || c->key.nw_proto == 58) {
        if (state != CT_ICMP_REPLY) {
            return false;
        }
        t = tp[OVSCT_TP_ICMP_REPLY];
    } else {
        if (state != CT_OTHER_BIDIR) {
            return false;
        }
        t = tp[OVSCT_TP_UDP_MULTIPLE];
    }
    atomic_store_explicit(&c->expiration, now + (int64_t) t * 1000,
                          memory_order_relaxed);
    return true;
}

/* Whether 'c' has a slot per node.  A plain connection's reverse key is
 * the plain reverse of its forward key, which the symmetric hash sends to
 * the same bucket and the same home slot: one slot then stands for both
 * nodes (key_matches() in table.c tries both keys), which halves the map
 * memory and work.  A NAT connection's reverse key hashes elsewhere: it
 * has two slots, possibly in two buckets. */
static inline bool
ct_conn_two_slots(const struct ct_conn *c)
{
    return (c->ext & CT_EXT_NAT) != 0;
}

static inline struct ct_tcp_peer *
ct_conn_tcp(struct ct_conn *c)
{
    return (c->ext & CT_EXT_TCP) ? (struct ct_tcp_peer *) (c + 1) : NULL;
}

static inline struct ct_alg *
ct_conn_alg(struct ct_conn *c)
{
    char *p = (char *) (c + 1);

    if (!(c->ext & CT_EXT_ALG)) {
        return NULL;
    }
    if (c->ext & CT_EXT_TCP) {
        p += 2 * sizeof(struct ct_tcp_peer);
    }
    if (c->ext & CT_EXT_NAT) {
        p += sizeof(struct ct_nat_ext);
    }
    return (struct ct_alg *) p;
}

static inline struct ct_nat_ext *
ct_conn_nat_ext(const struct ct_conn *c)
{
    const char *p = (const char *) (c + 1);

    if (!(c->ext & CT_EXT_NAT)) {
        return NULL;
    }
    if (c->ext & CT_EXT_TCP) {
        p += 2 * sizeof(struct ct_tcp_peer);
    }
    return (struct ct_nat_ext *) p;
}

static inline const struct ct_key *
ct_conn_nat_rkey(const struct ct_conn *c)
{
    const struct ct_nat_ext *nx = ct_conn_nat_ext(c);

    return nx ? &nx->rkey : NULL;
}

/* The hash of node 'dir' of 'c' (0: forward, 1: reverse). */
static inline uint32_t
ct_conn_hash(const struct ct_conn *c, int dir)
{
    return dir && (c->ext & CT_EXT_NAT) ? ct_conn_nat_ext(c)->rhash
                                        : c->hash;
}

/* A map slot: the node's hash beside a 32-bit handle of the connection
 * (ct_ent_make()), so that a probe costs one cache line and does not
 * touch the connection unless the hashes agree, in 12 bytes. */
struct ct_slot {
    uint32_t hash;
    uint32_t sweep_lb;          /* The connection cannot expire before
                                 * sweep_lb << CT_LB_SHIFT ms: the sweeper
                                 * skips it without touching it (sweep.c
                                 * explains why the bound holds).
                                 * Invariant (ovsct_check_invariants()):
                                 * sweep_lb <= expiration >> CT_LB_SHIFT
                                 * whenever no batch runs; a batch that
                                 * ran with a clock more than one unit
                                 * older than the clock at its end may
                                 * have broken it, and clears every bound
                                 * before it ends (ovsct_execute()). */
    uint32_t ent;               /* ct_ent_make(); 0: empty. */
};
#define CT_LB_SHIFT 10          /* Lower-bound unit: 1024 ms. */

/* One bucket: a lock and the map it guards.  One cache line. */
struct ct_bucket {
    struct ct_mutex lock;
    uint32_t mask CT_GUARDED;   /* 'lock': capacity - 1; 0 if empty. */
    uint32_t used CT_GUARDED;   /* 'lock': occupied slots. */
    struct ct_slot *slots CT_GUARDED;   /* 'lock': NULL if capacity 0.
                                         * 'slots' and 'mask' are written
                                         * with atomic stores under
                                         * 'seq' (ct_map_publish()): the
                                         * packet path reads them without
                                         * the lock (ct_map_find_unlocked()
                                         * and the prefetch hint). */
    _Atomic uint32_t seq;       /* Modification count: odd while a
                                 * writer (holding 'lock') changes the
                                 * map, its slots or 'slots' and 'mask'
                                 * (ct_map_write_begin()). */
    /* Unclaimed connections whose forward node is here: n_added -
     * n_claimed (ct_bucket_live()).  Two counters, so that linking one
     * costs no locked instruction: 'n_added' only changes under 'lock',
     * while a claim may hold the lock of the connection's other bucket
     * (NAT) and so adds to 'n_claimed' atomically. */
    _Atomic uint32_t n_added;   /* 'lock': relaxed load and store. */
    _Atomic uint32_t n_claimed;
    _Atomic uint32_t n_lazy;    /* Nodes of claimed connections left here
                                 * because this lock was busy; non-zero
                                 * makes the sweeper look at reverse
                                 * nodes too. */
} __attribute__((aligned(64)));

/* The unclaimed connections whose forward node is in 'b'. */
static inline uint32_t
ct_bucket_live(const struct ct_bucket *b)
{
    return atomic_load_explicit(&b->n_added, memory_order_relaxed)
           - atomic_load_explicit(&b->n_claimed, memory_order_relaxed);
}

/* Counts a connection linked in 'b', with 'b->lock' held. */
static inline void
ct_bucket_added(struct ct_bucket *b)
{
    atomic_store_explicit(&b->n_added,
                          atomic_load_explicit(&b->n_added,
                                               memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* The bucket that links node 'dir' of 'c'. */
#define ct_conn_bucket(ct, c, dir) \
    (&(ct)->buckets[ct_bucket_of(ct, ct_conn_hash(c, dir))])

/* A writer's bracket around any change of 'b''s map (with 'b->lock'
 * held): the packet path reads the map without the lock
 * (ct_map_find_unlocked()) and uses 'seq' to know whether what it read
 * still holds (a seqlock: begin makes it odd, end even again).  Every
 * store inside the bracket that a reader loads is a release store and
 * every such load an acquire load (plain moves on x86), instead of
 * fences: a reader that sees a store made inside the bracket then sees
 * 'seq' changed when it reads it again. */
static inline void
ct_map_write_begin(struct ct_bucket *b)
{
    atomic_store_explicit(&b->seq,
                          atomic_load_explicit(&b->seq, memory_order_relaxed)
                          + 1, memory_order_relaxed);
}

static inline void
ct_map_write_end(struct ct_bucket *b)
{
    atomic_store_explicit(&b->seq,
                          atomic_load_explicit(&b->seq, memory_order_relaxed)
                          + 1, memory_order_release);
}

/* Sets 'b''s map.  'slots' and 'mask' are stored with atomic stores
 * inside the write bracket, so that an unlocked reader can tell whether
 * it read a pair that belongs together (a new mask with an old, smaller
 * array would index past its end); conntrack.c's slot_hint() reads them
 * as a mere prefetch address.  The old array must be retired, not freed
 * (ct_retire_block()), unless no other thread is inside a batch: a
 * reader may still be probing it. */
static inline void
ct_map_publish(struct ct_bucket *b, struct ct_slot *slots, uint32_t mask)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    /* Callers hold b->lock; the annotation cannot name it here without a
     * struct-qualified capability, so this one setter opts out. */
    ct_map_write_begin(b);
    __atomic_store_n(&b->slots, slots, __ATOMIC_RELEASE);
    __atomic_store_n(&b->mask, mask, __ATOMIC_RELEASE);
    ct_map_write_end(b);
}

/* Per-thread event counters, one cache line each, written only by the
 * thread that owns the slot (see ct_thread_slot()). */
struct ct_tstat {
    _Atomic uint64_t packets;
    _Atomic uint64_t invalid;
    _Atomic uint64_t created;
    _Atomic uint64_t removed;
    _Atomic uint64_t expired;
    _Atomic uint64_t flushed;
    _Atomic uint64_t full;
    _Atomic uint64_t zone_full;
    _Atomic uint64_t nat_exhausted;
    _Atomic uint64_t lookup_reaped;
    _Atomic uint64_t lock_contended;
    _Atomic int64_t reserved;   /* Admissions the thread's running batch
                                 * holds and has not used (admit(),
                                 * ct_reserved()). */
} __attribute__((aligned(64)));

/* Per-thread, per-class slab cache (slab.c); used only by its thread. */
struct ct_magazine;
struct ct_slab_cache {
    struct ct_magazine *loaded; /* Allocations pop from, frees push to. */
    struct ct_magazine *prev;   /* The one swapped out before. */
    uint32_t gen;               /* Slab generation the objects belong to. */
    char *carve;                /* Uncarved rest of the current slab. */
    char *carve_end;
};
/* Faulted-in slabs the sweeper keeps ready for spares (slab.c
 * ct_slab_refill()). */
#define CT_SLAB_POOL 2
/* A thread slot's spare slab (slab.c ct_slab_prepare()). */
struct ct_slab_spare {
    void *mem;                  /* 2 MiB, faulted in, or NULL. */
    uint32_t gen;               /* Slab generation of its arena. */
};
/* Connections live in one address-space reservation per table (slab.c),
 * at 16-byte aligned offsets below 32 GiB, so a slot names one in 32
 * bits: ((offset / 16) + 1) << 1, with the node's direction in bit 0. */
#define CT_REGION_SIZE (UINT64_C(1) << 35)
/* The region is cut into arenas of 64 MiB at multiples of 64 MiB: slice
 * 'i' of the region is arena 'i' while one is laid there (slab.c). */
#define CT_ARENA_SHIFT 26
#define CT_N_ARENAS ((size_t) (CT_REGION_SIZE >> CT_ARENA_SHIFT))
#define CT_CONN_CLASSES 8       /* Indexed by ct_conn 'ext' (TCP|NAT|ALG). */
#define CT_SLAB_CLASSES (CT_CONN_CLASSES + 11)  /* + map arrays of 2^3 ..
                                                 * 2^13 slots. */

/* Resolved timeout policy (seconds), immutable once published. */
struct ct_tp {
    uint32_t v[OVSCT_TP_N];
    bool present[OVSCT_TP_N];
    struct ct_tp *next_dead;    /* Graveyard link after replacement. */
};

/* Retired connections, in arrays rather than linked through the
 * connections: the reclaimer then walks memory in order and prefetches,
 * instead of taking one cache miss per connection to find the next.
 * Retired map arrays (ct_retire_block()) take two items: the array's
 * address with bit 0 set (connections and arrays are at least 16-byte
 * aligned), then its size. */
#define CT_RETIRE_CHUNK 1022
struct ct_retire_chunk {
    struct ct_retire_chunk *next;
    uint32_t epoch;             /* Stamped when the reclaimer takes it. */
    uint32_t n;
    void *items[CT_RETIRE_CHUNK];
};

/* A thread slot's retirements.  Pushed to by the slot's thread (under a
 * bucket lock), taken by the reclaimer: 'lock' is uncontended but for
 * that moment. */
struct ct_retire_slot {
    struct ct_spin lock;
    struct ct_retire_chunk *chunks CT_GUARDED;  /* Head: the one filling. */
} __attribute__((aligned(64)));

/* An expectation (expect.c). */
struct ct_exp {
    struct ct_exp *next;        /* In its shard's chain. */
    struct ct_key key;          /* Expected forward key, sport 0. */
    struct ct_key parent_key;
    struct ct_conn *parent;     /* Valid while linked (see above). */
    uint32_t hash;              /* ct_key_hash() of 'key'. */
    uint32_t parent_mark;
    ovsct_u128 parent_labels;
    uint32_t nat_repl_addr[4];  /* OVS alg_nat_repl_addr. */
    bool nat_rpl_dst;           /* OVS nat_rpl_dst. */
    uint8_t parent_gen;
};

#define CT_EXP_SHARDS 64
struct ct_exp_shard {
    struct ct_mutex lock;
    struct ct_exp *head CT_GUARDED;
} __attribute__((aligned(64)));

/* A retired map (bulk flush), freed with its connections. */
struct ct_dead_map {
    struct ct_dead_map *next;
    uint32_t epoch;
    uint32_t n;                 /* Slots in 'slots'. */
    struct ct_slot *slots;      /* Freed with ct_block_free(). */
};

struct ovsct {
    /* Immutable after creation. */
    uint32_t n_buckets;
    uint32_t bucket_shift;      /* 32 - log2(n_buckets); 32 for one. */
    bool bucket_low_bits;       /* ovsct_config's, for measurements. */
    uint64_t seed;              /* Hash seed. */
    struct ct_bucket *buckets;

    /* Changed only with every bucket lock held (bulk flush). */
    atomic_uchar gen;

    /* Clock. */
    atomic_bool manual_clock;
    _Atomic int64_t manual_now;

    /* Settings. */
    _Atomic int64_t min_timeout_ms;     /* Shortest timeout any update may
                                         * set: defaults and every policy
                                         * ever set (never raised). */
    _Atomic uint32_t maxconns;
    _Atomic uint32_t sweep_interval;
    atomic_bool tcp_seq_chk;

    /* Connection events (events.c): readers subscribed, checked (relaxed)
     * before an event is built; the ring itself. */
    _Atomic uint32_t ev_subscribers;
    uint32_t ev_ring_size;      /* From ovsct_config, a power of two. */
    _Atomic(struct ct_events *) events;     /* Allocated on first
                                             * subscribe. */
    struct ct_mutex ev_sub_lock;

    /* Connection count.  'n_conns' includes the admissions that running
     * batches reserved and have not used yet (each thread's
     * tstat.reserved, summed by ct_reserved()): a batch's first new
     * connection reserves the rest of the batch at once when far from
     * maxconns (one atomic add per batch instead of one per connection),
     * and the batch gives back what it did not use. */
    _Atomic int64_t n_conns __attribute__((aligned(64)));
    _Atomic int64_t last_full_reap;     /* Engine ms of the last reap
                                         * forced by an exact count. */
    _Atomic uint64_t stale_batches;     /* Batches that ended with the
                                         * clock moved since their start. */
    _Atomic uint64_t last_reap_stale;   /* 'stale_batches' when the last
                                         * full reap started. */

    /* Event counters, per thread slot. */
    struct ct_tstat tstat[CT_MAX_THREADS];

    /* Zone limits.  Config writes under 'cfg_lock'; readers are lock-free.
     * 'zone_count' is maintained only while 'limits_active'. */
    struct ct_mutex cfg_lock;
    _Atomic uint32_t zone_limit[CT_N_ZONES];
    _Atomic uint64_t zone_explicit[CT_N_ZONES / 64];
    _Atomic uint32_t default_limit;     /* 0: none. */
    atomic_bool limits_active;
    _Atomic int32_t zone_count[CT_N_ZONES];

    /* Timeout policies: NULL means the defaults.  Replaced policies stay
     * on 'tp_graveyard' (under cfg_lock) until destroy: they are tiny and
     * rarely changed, and readers may still hold them. */
    _Atomic(struct ct_tp *) zone_tp[CT_N_ZONES];
    struct ct_tp *tp_graveyard CT_GUARDED;

    /* Retirement (epoch.c). */
    struct ct_retire_slot retire[CT_MAX_THREADS];
    struct ct_mutex reclaim_lock;
    struct ct_retire_chunk *pending CT_GUARDED;  /* 'reclaim_lock'. */
    struct ct_dead_map *dead_maps CT_GUARDED;

    /* Connection memory (slab.c). */
    struct ct_slab_cache slab_cache[CT_MAX_THREADS][CT_SLAB_CLASSES];
    struct ct_slab_spare slab_spare[CT_MAX_THREADS];
    _Atomic uint32_t slab_pool_taken;   /* Spares wanted since the
                                         * sweeper last filled the pool. */
    struct ct_mutex slab_lock;  /* Guards 'arenas', 'region_used' and the
                                 * depot. */
    char *region;               /* CT_REGION_SIZE bytes reserved. */
    size_t region_used CT_GUARDED;
    struct arena *arenas CT_GUARDED;
    struct ct_magazine *depot_full[CT_SLAB_CLASSES] CT_GUARDED;
    struct ct_magazine *depot_empty CT_GUARDED;
    void *slab_pool[CT_SLAB_POOL] CT_GUARDED;    /* 'slab_lock': faulted-in
                                                 * slabs of generation
                                                 * 'slab_pool_gen', for
                                                 * spares (slab.c). */
    uint32_t slab_pool_n CT_GUARDED;
    uint32_t slab_pool_gen CT_GUARDED;
    _Atomic uint32_t slab_gen;
    /* Slab generation of the arena laid at each 64 MiB slice of the
     * region: stored under 'slab_lock' when an arena is laid there (or
     * kept by a release that found the table in use), read without it by
     * ct_slab_free(), which keeps an object only if it belongs to its
     * cache's generation (slab.c).  Stale for a slice with no arena. */
    _Atomic uint32_t arena_gen[CT_N_ARENAS];

    /* ALG expectations (expect.c). */
    _Atomic uint32_t n_exp;     /* Linked expectations, all shards. */
    struct ct_exp_shard exp[CT_EXP_SHARDS];

    /* Sweeper (sweep.c). */
    pthread_t sweeper;
    bool has_sweeper;
    uint32_t n_cpus;            /* Online CPUs when the sweeper started. */
    atomic_bool refill_now;     /* Wake-up for a slab refill (slab.c). */
    atomic_bool stop;
    struct ct_wake wake;        /* The sweeper sleeps on it (sweep.c). */
    /* IP fragment reassembly (ipf.c); created with the table. */
    struct ct_ipf *ipf;
    _Atomic uint32_t sweep_cursor;      /* Next bucket to scan. */
    _Atomic uint64_t sweeps;
    _Atomic uint64_t sweep_scanned;
    _Atomic uint64_t max_sweep_hold_ns;
    _Atomic uint64_t sweep_hold_hist[OVSCT_SWEEP_HOLD_CLASSES];

    /* Tests only (tests/c/test_invariant.c): if set, called by
     * ovsct_check_invariants() after each of its walks, once the walk's
     * locks are released: it stands for another thread (the sweeper)
     * that acts just then.  NULL otherwise. */
    void (*inv_after_walk)(struct ovsct *);
};

static inline uint32_t
ct_ent_make(const struct ovsct *ct, const struct ct_conn *c, int dir)
{
    uintptr_t off = (uintptr_t) c - (uintptr_t) ct->region;

    return (uint32_t) (((off >> 4) + 1) << 1) | (uint32_t) dir;
}

static inline struct ct_conn *
ct_ent_conn(const struct ovsct *ct, uint32_t e)
{
    return (struct ct_conn *) (ct->region + (((size_t) (e >> 1) - 1) << 4));
}

static inline int
ct_ent_dir(uint32_t e)
{
    return (int) (e & 1);
}

/* True if 'c' is neither claimed, expired at 'now', nor from before the
 * last bulk flush (generation 'gen'). */
static inline bool
ct_conn_live(const struct ct_conn *c, int64_t now, uint8_t gen)
{
    return !atomic_load_explicit(&c->dead, memory_order_acquire)
           && atomic_load_explicit(&c->expiration, memory_order_relaxed) > now
           && c->gen == gen;
}

static inline bool
ct_key_eq(const struct ct_key *a, const struct ct_key *b)
{
    uint64_t x[5], y[5];

    memcpy(x, a, sizeof x);
    memcpy(y, b, sizeof y);
    return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])
             | (x[4] ^ y[4]));
}

/* True if 'r' is the plain reverse of 'k', a key with ports (not ICMP):
 * ct_key_reverse() without building the reverse. */
static inline bool
ct_key_is_reverse(const struct ct_key *k, const struct ct_key *r)
{
    uint64_t a[4], b[4];

    memcpy(a, k, sizeof a);             /* src, then dst */
    memcpy(b, r, sizeof b);
    return !((a[0] ^ b[2]) | (a[1] ^ b[3]) | (a[2] ^ b[0]) | (a[3] ^ b[1]))
           && k->sport == r->dport && k->dport == r->sport
           && k->zone == r->zone && k->nw_proto == r->nw_proto
           && k->l3 == r->l3;
}

void ct_conn_key(const struct ct_conn *, int dir, struct ct_key *);

/* Whether the slot of node 'slot_dir' of 'c' answers 'key', and in which
 * direction ('*dir': 0 orig, 1 reply).  A plain connection's one slot
 * answers both its keys (ct_conn_two_slots()). */
static inline bool
ct_conn_matches(const struct ct_conn *c, int slot_dir,
                const struct ct_key *key, int *dir)
{
    struct ct_key k;

    if (!slot_dir && ct_key_eq(&c->key, key)) {
        *dir = 0;
        return true;
    }
    if (slot_dir || !ct_conn_two_slots(c)) {
        if (!slot_dir && c->key.nw_proto != 1 && c->key.nw_proto != 58) {
            /* A plain reverse of a key with ports. */
            if (ct_key_is_reverse(&c->key, key)) {
                *dir = 1;
                return true;
            }
            return false;
        }
        ct_conn_key(c, 1, &k);
        if (ct_key_eq(&k, key)) {
            *dir = 1;
            return true;
        }
    }
    return false;
}

/* What a failed ct_map_find_unlocked() saw: if 'valid', the probe met no
 * node of the key and ended at the empty slot 'slot' while the map's
 * modification count was 'seq'.  If the count is still 'seq' once the
 * bucket is locked, nothing changed in between: the miss stands without
 * a second probe and 'slot' is where the key goes (ct_map_insert()). */
struct ct_probe {
    uint32_t seq;
    uint32_t slot;
    bool valid;
};

/* Reads 'b''s slot array and mask without its lock, as a pair that
 * belonged together at one moment (the modification count 'seq' was even
 * and unchanged around the reads): returns false if a writer was changing
 * the map.  The array may be retired meanwhile but stays readable while
 * the caller is inside an epoch. */
static inline bool
ct_map_snapshot(const struct ct_bucket *b, const struct ct_slot **slots,
                uint32_t *mask, uint32_t *seq)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    *seq = atomic_load_explicit(&b->seq, memory_order_acquire);
    *slots = __atomic_load_n(&b->slots, __ATOMIC_ACQUIRE);
    *mask = __atomic_load_n(&b->mask, __ATOMIC_ACQUIRE);
    return !(*seq & 1)
           && atomic_load_explicit(&b->seq, memory_order_relaxed) == *seq;
}

/* Looks 'key' (hash 'hash') up in 'b' without taking its lock: the
 * packet path's first try, so that a packet of a known connection takes
 * no bucket lock at all.  Returns the live connection and sets '*dir', or
 * NULL, which means "not found this way": the key is absent, its
 * connection is dead or expired (reaping it needs the lock), or a writer
 * was changing the map; '*probe' then says whether the miss may stand.
 * The caller must be inside an epoch.
 *
 * Why a hit is right: a key's connection is immutable once linked and at
 * most one live connection has a given key (creating one looks the key up
 * under the lock), so a live connection whose key matches is the answer,
 * whatever writers do to the map around it.  Why reading is safe: the
 * slot array read was 'b''s at some moment ('seq' pairs it with its
 * mask), arrays and connections that were replaced or unlinked since are
 * only retired, freed after this thread leaves its epoch, and a slot's
 * handle is stored after the connection it names is complete (release,
 * read with acquire).  A writer may move the wanted slot behind the
 * probe: a miss whose 'seq' no longer holds, so the caller looks again
 * under the lock. */
static inline struct ct_conn *
ct_map_find_unlocked(const struct ovsct *ct, struct ct_bucket *b,
                     uint32_t hash, const struct ct_key *key, int64_t now,
                     int *dir, struct ct_probe *probe)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    const struct ct_slot *slots;
    uint32_t mask, seq;

    probe->valid = false;
    if (!ct_map_snapshot(b, &slots, &mask, &seq)) {
        return NULL;
    }
    probe->seq = seq;
    if (!slots) {
        probe->slot = UINT32_MAX;       /* No map yet. */
        probe->valid = true;
        return NULL;
    }
    /* At most one lap: writers may keep the array changing under us. */
    for (uint32_t n = 0, i = hash & mask; n <= mask;
         n++, i = (i + 1) & mask) {
        uint32_t e = __atomic_load_n(&slots[i].ent, __ATOMIC_ACQUIRE);
        struct ct_conn *c;

        if (!e) {
            probe->slot = i;
            probe->valid = true;
            return NULL;
        }
        if (__atomic_load_n(&slots[i].hash, __ATOMIC_ACQUIRE) != hash) {
            continue;
        }
        c = ct_ent_conn(ct, e);
        if (ct_conn_matches(c, ct_ent_dir(e), key, dir)) {
            return ct_conn_live(c, now, atomic_load_explicit(
                                    &ct->gen, memory_order_relaxed))
                   ? c : NULL;
        }
    }
    return NULL;
}


/* epoch.c */
int ct_thread_slot_claim__(void);
extern _Thread_local int ct_my_slot__
    __attribute__((tls_model("initial-exec")));

/* Returns this thread's slot index, claiming one on first use (epoch.c).
 * Aborts if more than CT_MAX_THREADS threads use the engine at once: that
 * is a configuration error, not a runtime condition. */
static inline int
ct_thread_slot(void)
{
    if (__builtin_expect(ct_my_slot__ >= 0, 1)) {
        return ct_my_slot__;
    }
    return ct_thread_slot_claim__();
}
void ct_epoch_enter(void);
void ct_epoch_exit(void);
void ct_epoch_wait_quiescent(void);
uint32_t ct_epoch_now(void);
uint32_t ct_thread_slots_hint(void);
bool ct_epoch_alone(void);
uint32_t ct_epoch_active(void);
void ct_retire(struct ovsct *, struct ct_conn *);
void ct_retire_maps(struct ovsct *, struct ct_dead_map *);
void ct_retire_block(struct ovsct *, void *, size_t size);
size_t ct_reclaim(struct ovsct *ct) CT_EXCLUDED(ct->reclaim_lock);
void ct_reclaim_all(struct ovsct *);
bool ct_retire_empty(struct ovsct *);

/* table.c */
/* The key hash with the table's seed (keyhash.h). */
static inline uint32_t
ct_key_hash(const struct ovsct *ct, const struct ct_key *key)
{
    return ct_key_hash_seeded(ct->seed, key);
}
static inline uint32_t
ct_bucket_of(const struct ovsct *ct, uint32_t hash)
{
    if (__builtin_expect(ct->bucket_low_bits, 0)) {
        return hash & (ct->n_buckets - 1);
    }
    return ct->bucket_shift >= 32 ? 0 : hash >> ct->bucket_shift;
}

/* Locks bucket 'b' on the packet path, counting contention (a failed
 * first try) for the measurements. */
void ct_bucket_lock(struct ovsct *ct, struct ct_bucket *b)
    CT_ACQUIRES(b->lock);
void ct_double_lock(struct ovsct *, struct ct_bucket *a,
                    struct ct_bucket *b)
    CT_ACQUIRES(a->lock, b->lock);
void ct_double_unlock(struct ovsct *, struct ct_bucket *a,
                      struct ct_bucket *b)
    CT_RELEASES(a->lock, b->lock);
void ct_lock_all(struct ovsct *) CT_NO_THREAD_SAFETY_ANALYSIS;
void ct_unlock_all(struct ovsct *) CT_NO_THREAD_SAFETY_ANALYSIS;
struct ct_conn *ct_map_find(struct ovsct *, struct ct_bucket *b, uint32_t hash,
                            const struct ct_key *, int64_t now, int *dir)
    CT_REQUIRES(b->lock);
#define CT_SLOT_ANY UINT32_MAX
int ct_map_insert(struct ovsct *, struct ct_bucket *b, uint32_t hash,
                  struct ct_conn *, int dir, uint32_t sweep_lb, uint32_t slot)
    CT_REQUIRES(b->lock);
uint32_t ct_sweep_lb(const struct ovsct *, int64_t now);
void ct_map_unlink(struct ovsct *, struct ct_bucket *b, struct ct_conn *,
                   int dir) CT_REQUIRES(b->lock);
void ct_map_shrink(struct ovsct *, struct ct_bucket *b)
    CT_REQUIRES(b->lock);
bool ct_conn_claim(struct ovsct *, struct ct_conn *);
void ct_remove_locked(struct ovsct *, struct ct_bucket *b, struct ct_conn *,
                      int dir) CT_REQUIRES(b->lock);
bool ct_conn_kill(struct ovsct *, struct ct_conn *);
size_t ct_bucket_sweep(struct ovsct *, struct ct_bucket *b, int64_t now,
                       size_t *scanned, uint64_t *hold_ns,
                       uint64_t *hold_hist)
    CT_EXCLUDED(b->lock);

/* conntrack.c */
void ct_conn_free(struct ovsct *, struct ct_conn *);

/* config.c */
int64_t ct_reserved(struct ovsct *);
void ct_count_add(struct ovsct *, uint16_t zone, int delta);
void ct_reap_all(struct ovsct *, bool force);
void ct_release_if_empty(struct ovsct *);
void ct_clear_sweep_bounds(struct ovsct *);
bool ct_table_empty(struct ovsct *);

/* dump.c */
void ct_tuple_from_key(const struct ct_key *, struct ovsct_tuple *);
/* Copies 'c' into '*e' as a dump does.  Call with a bucket lock of 'c'
 * held, or inside an epoch (events.c). */
void ct_entry_fill(struct ovsct *, struct ct_conn *,
                   struct ovsct_entry *);

/* events.c: the hooks call ct_event_conn() only when ct_events_on(). */
static inline bool
ct_events_on(const struct ovsct *ct)
{
    return __builtin_expect(atomic_load_explicit(&ct->ev_subscribers,
                                                 memory_order_relaxed), 0);
}
void ct_event_conn(struct ovsct *, struct ct_conn *, int type);
void ct_events_init(struct ovsct *, uint32_t ring_size);
void ct_events_destroy(struct ovsct *);

/* slab.c */
size_t ct_slab_obj_size(int cls);
void *ct_slab_alloc(struct ovsct *, int cls);
void ct_slab_free(struct ovsct *, void *, int cls);
size_t ct_slab_release(struct ovsct *);
bool ct_slab_arena_gen(struct ovsct *ct, const void *, size_t size,
                       uint32_t *gen) CT_REQUIRES(ct->slab_lock);
int ct_slab_init(struct ovsct *);
void ct_slab_prepare(struct ovsct *);
void ct_slab_refill(struct ovsct *);
void *ct_block_alloc(struct ovsct *, size_t size);
void ct_block_free(struct ovsct *, void *, size_t size);
void ct_slab_destroy(struct ovsct *);

/* proto-tcp.c: called with the connection's 'lock' held, except
 * ct_tcp_init() on a connection nobody else can see yet. */
bool ct_tcp_valid_new(const struct ct_pkt *);
void ct_tcp_init(struct ct_conn *, const struct ct_pkt *, const uint32_t *tp,
                 int64_t now);
enum ct_update_res ct_tcp_update(struct ovsct *, struct ct_conn *, int reply,
                                 const struct ct_pkt *, const uint32_t *tp,
                                 int64_t now);

/* proto-other.c (UDP and the rest) and proto-icmp.c: the same contract. */
void ct_other_init(struct ct_conn *, const uint32_t *tp, int64_t now);
enum ct_update_res ct_other_update(struct ct_conn *c, int reply,
                                   const uint32_t *tp, int64_t now)
    CT_REQUIRES(c->lock);
void ct_icmp_init(struct ct_conn *, const uint32_t *tp, int64_t now);
enum ct_update_res ct_icmp_update(struct ct_conn *c, int reply,
                                  const uint32_t *tp, int64_t now)
    CT_REQUIRES(c->lock);

/* nat.c: generates candidate translations of forward key 'fwd' (the
 * translated forward key, whose reverse becomes the connection's reverse
 * key) until 'try' accepts one.  Returns false when the space is
 * exhausted. */
typedef bool ct_nat_try_fn(void *aux, const struct ct_key *translated);
bool ct_nat_search(const struct ct_key *fwd, const struct ovsct_nat *,
                   uint32_t basis, ct_nat_try_fn *try, void *aux);

/* nat-rewrite.c: rewrites 'frame' (parsed as 'pkt') so that its tuple
 * becomes 'target' (same L3 and protocol), updating the checksums
 * incrementally.  For an ICMP error ('pkt->icmp_related'), 'target' is
 * the tuple the error should carry (oriented like the error, as pkt->key
 * is): the outer addresses and the quoted header are rewritten to match. */
void ct_nat_rewrite(uint8_t *frame, uint32_t len, const struct ct_pkt *pkt,
                    const struct ct_key *target);

/* expect.c.  ct_exp_lookup() copies the live expectation matching new
 * forward key 'key' to '*out'.  ct_exp_create() adds one unless an equal
 * one exists ('parent' is the control connection, its 'lock' not held).
 * ct_exp_remove_parent() drops a claimed parent's; ct_exp_clear() all (a
 * bulk flush, with every bucket lock held). */
bool ct_exp_lookup(struct ovsct *, const struct ct_key *key, int64_t now,
                   struct ct_exp *out);
void ct_exp_create(struct ovsct *, struct ct_conn *parent, bool reply,
                   uint16_t dst_port);
void ct_exp_remove_parent(struct ovsct *, struct ct_conn *parent);
void ct_exp_clear(struct ovsct *);
void ct_exp_init(struct ovsct *);
void ct_exp_destroy(struct ovsct *);

/* alg-ftp.c and alg-tftp.c: the helpers, called by conntrack.c with no
 * lock held.  'frame' may be rewritten and its length '*len' changed
 * within 'cap' (NAT); '*state' may gain OVSCT_CS_INVALID. */
struct ct_alg_pkt {
    uint8_t *frame;
    uint32_t *len;              /* In and out. */
    uint32_t cap;               /* Room for the frame. */
    struct ct_pkt *pkt;         /* Parsed: tcp_seq/tcp_ack follow edits. */
    int dir;                    /* 1: packet in the reply direction. */
    bool nat;                   /* The action has nat. */
};
/* OVS's conn_update_state_alg() part before the state update (CT_FTP_CTL
 * OTHER packets against the skew's direction); returns whether the
 * helper ran (then ct_ftp_after_update() must not adjust again). */
bool ct_ftp_before_update(struct ovsct *, struct ct_conn *,
                          struct ct_alg_pkt *);
void ct_ftp_after_update(struct ovsct *, struct ct_conn *,
                         struct ct_alg_pkt *);
/* OVS's handle_alg_ctl() with CT_FTP_CTL_INTEREST. */
void ct_ftp_ctl(struct ovsct *, struct ct_conn *, struct ct_alg_pkt *,
                uint8_t *state);
void ct_tftp_ctl(struct ovsct *, struct ct_conn *, uint8_t state);
void ct_tcp_csum_fix(uint8_t *frame, uint32_t len, const struct ct_pkt *);

/* sweep.c */
size_t ct_sweep_all(struct ovsct *, int64_t now);
int ct_sweeper_start(struct ovsct *);
void ct_sweeper_stop(struct ovsct *);

/* Whether 'zone' has an explicit limit (config.c sets it). */
static inline bool
ct_zone_is_explicit(const struct ovsct *ct, uint16_t zone)
{
    return (atomic_load_explicit(&ct->zone_explicit[zone / 64],
                                 memory_order_relaxed)
            >> (zone % 64)) & 1;
}

/* The limit that applies to 'zone', or -1 if none. */
static inline int64_t
ct_zone_limit_of(const struct ovsct *ct, uint16_t zone)
{
    uint32_t dflt;

    if (ct_zone_is_explicit(ct, zone)) {
        return atomic_load_explicit(&ct->zone_limit[zone],
                                    memory_order_relaxed);
    }
    dflt = atomic_load_explicit(&ct->default_limit, memory_order_relaxed);
    return dflt ? (int64_t) dflt : -1;
}

static inline struct ct_tstat *
ct_my_stat(struct ovsct *ct)
{
    return &ct->tstat[ct_thread_slot()];
}

static inline void
ct_stat_inc(_Atomic uint64_t *counter)
{
    /* Single writer per slot: a relaxed load and store suffice. */
    atomic_store_explicit(counter,
                          atomic_load_explicit(counter, memory_order_relaxed)
                          + 1, memory_order_relaxed);
}

static inline void
ct_stat_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter,
                          atomic_load_explicit(counter, memory_order_relaxed)
                          + n, memory_order_relaxed);
}

#endif /* ovsct-private.h */
