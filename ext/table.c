/*
 * table.c -- the sharded table: bucket locks, per-bucket maps,
 * linking and unlinking connections.
 *
 * Layout and lock order are described in ovsct-private.h.  Everything that
 * touches a map takes its bucket and says so with CT_REQUIRES.  Neighbours:
 * conntrack.c (packet path), sweep.c (sweeper), dump.c (dumps), flush.c
 * (flushes), epoch.c (where unlinked connections go), keyhash.h (the key
 * hash that picks buckets and slots).  The lock wrappers
 * of ovsct-thread.h that are not inline (ct_mutex_init(), ct_wake_init())
 * live here too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "ovsct-private.h"

#define MAP_MIN_CAPACITY 8

/* Locks. */

#if CT_BUCKET_LOCK_KIND == 3
/* Spins before sleeping: a bucket lock is held for a few hundred ns, far
 * less than a sleep and a wake-up cost. */
#define CT_FUTEX_SPINS 100

static long
futex(_Atomic uint32_t *word, int op, uint32_t val)
{
    return syscall(SYS_futex, (uint32_t *) word, op | FUTEX_PRIVATE_FLAG,
                   val, NULL, NULL, 0);
}

/* The contended lock of CT_BUCKET_LOCK_KIND 3 (ovsct-thread.h). */
void
ct_futex_lock_slow__(_Atomic uint32_t *word)
{
    for (int i = 0; i < CT_FUTEX_SPINS; i++) {
        uint32_t expected = 0;

        if (atomic_load_explicit(word, memory_order_relaxed) == 0
            && atomic_compare_exchange_weak_explicit(word, &expected, 1,
                                                     memory_order_acquire,
                                                     memory_order_relaxed)) {
            return;
        }
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    /* From here on the word says 2 while we may sleep, so that the
     * holder's unlock wakes someone. */
    while (atomic_exchange_explicit(word, 2, memory_order_acquire) != 0) {
        futex(word, FUTEX_WAIT, 2);
    }
}

void
ct_futex_wake__(_Atomic uint32_t *word)
{
    futex(word, FUTEX_WAKE, 1);
}
#endif

void
ct_mutex_init(struct ct_mutex *m)
{
#if CT_BUCKET_LOCK_KIND == 2
    atomic_init(&m->held, 0);
#elif CT_BUCKET_LOCK_KIND == 3
    atomic_init(&m->word, 0);
#else
    pthread_mutexattr_t attr;

    pthread_mutexattr_init(&attr);
#if CT_BUCKET_LOCK_KIND == 1 && defined(PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP)
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(&m->m, &attr);
    pthread_mutexattr_destroy(&attr);
#endif
}

void
ct_mutex_destroy(struct ct_mutex *m)
{
#if CT_BUCKET_LOCK_KIND < 2
    pthread_mutex_destroy(&m->m);
#else
    (void) m;
#endif
}

void
ct_wake_init(struct ct_wake *w)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&w->m, NULL);
}

void
ct_wake_destroy(struct ct_wake *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->m);
}

void
ct_bucket_lock(struct ovsct *ct, struct ct_bucket *b)
{
    if (!ct_mutex_trylock(&b->lock)) {
        ct_stat_inc(&ct_my_stat(ct)->lock_contended);
        ct_mutex_lock(&b->lock);
    }
}

/* Locks the buckets 'a' and 'b' in ascending index order, once if they are
 * the same bucket.  The only place that takes two bucket locks; released
 * by ct_double_unlock().  Counts contention (failed first attempts). */
void
ct_double_lock(struct ovsct *ct, struct ct_bucket *a, struct ct_bucket *b)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    /* The analysis cannot express "a == b locks once"; callers are still
     * checked against the CT_ACQUIRES(a->lock, b->lock) contract. */
    struct ct_bucket *lo = a < b ? a : b;
    struct ct_bucket *hi = a < b ? b : a;

    if (!ct_mutex_trylock(&lo->lock)) {
        ct_stat_inc(&ct_my_stat(ct)->lock_contended);
        ct_mutex_lock(&lo->lock);
    }
    if (hi != lo && !ct_mutex_trylock(&hi->lock)) {
        ct_stat_inc(&ct_my_stat(ct)->lock_contended);
        ct_mutex_lock(&hi->lock);
    }
}

void
ct_double_unlock(struct ovsct *ct OVSCT_UNUSED__, struct ct_bucket *a,
                 struct ct_bucket *b)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    /* Twin of ct_double_lock(); same reason for skipping the analysis. */
    if (a != b) {
        ct_mutex_unlock(&b->lock);
    }
    ct_mutex_unlock(&a->lock);
}

/* Takes every bucket lock in ascending order (bulk flush, zone-limit
 * activation).  The analysis does not follow lock arrays. */
void
ct_lock_all(struct ovsct *ct)
{
    for (uint32_t i = 0; i < ct->n_buckets; i++) {
        ct_mutex_lock(&ct->buckets[i].lock);
    }
}

void
ct_unlock_all(struct ovsct *ct)
{
    for (uint32_t i = ct->n_buckets; i-- > 0;) {
        ct_mutex_unlock(&ct->buckets[i].lock);
    }
}

/* Connections. */

/* Writes the key of 'c's node 'dir' to '*key'. */
void
ct_conn_key(const struct ct_conn *c, int dir, struct ct_key *key)
{
    const struct ct_key *nat;

    if (!dir) {
        *key = c->key;
    } else if ((nat = ct_conn_nat_rkey(c)) != NULL) {
        *key = *nat;
    } else {
        ct_key_reverse(&c->key, key);
    }
}

/* Claims 'c' for removal: the one caller that gets true must take it out
 * of the counts.  Call with the bucket lock of one of its linked nodes
 * held, so that a bulk flush cannot run at the same time. */
bool
ct_conn_claim(struct ovsct *ct, struct ct_conn *c)
{
    struct ct_tstat *st;

    if (c->gen != atomic_load_explicit(&ct->gen, memory_order_relaxed)
        || atomic_exchange(&c->dead, 1)) {
        return false;
    }
    ct_count_add(ct, c->key.zone, -1);
    atomic_fetch_add_explicit(&ct_conn_bucket(ct, c, 0)->n_claimed, 1,
                              memory_order_relaxed);
    if (c->ext & CT_EXT_ALG) {
        ct_exp_remove_parent(ct, c);    /* Before 'c' can be retired. */
    }
    st = ct_my_stat(ct);
    ct_stat_inc(&st->removed);
    if (ct_events_on(ct)) {
        ct_event_conn(ct, c, OVSCT_EVENT_DESTROY);
    }
    return true;
}

/* Maps. */

static inline uint32_t
ent_make(const struct ovsct *ct, const struct ct_conn *c, int dir)
{
    return ct_ent_make(ct, c, dir);
}

static inline int
ent_dir(uint32_t e)
{
    return ct_ent_dir(e);
}

static int
map_resize(struct ovsct *ct, struct ct_bucket *b, uint32_t capacity)
    CT_REQUIRES(b->lock)
{
    struct ct_slot *slots = NULL, *old;
    uint32_t mask = capacity ? capacity - 1 : 0;
    size_t old_size;

    if (capacity) {
        slots = ct_block_alloc(ct, (size_t) capacity * sizeof *slots);
        if (!slots) {
            return ENOMEM;
        }
        for (uint32_t i = 0; b->slots && i <= b->mask; i++) {
            uint32_t j;

            if (!b->slots[i].ent) {
                continue;
            }
            for (j = b->slots[i].hash & mask; slots[j].ent;
                 j = (j + 1) & mask) {
                continue;
            }
            slots[j] = b->slots[i];
        }
    }
    old = b->slots;
    old_size = (size_t) (b->mask + 1) * sizeof *slots;
    ct_map_publish(b, slots, mask);
    if (old) {
        /* Readers of the old array are threads inside a batch: with
         * none but us, it can be reused at once. */
        if (ct_epoch_alone()) {
            ct_block_free(ct, old, old_size);
        } else {
            ct_retire_block(ct, old, old_size);
        }
    }
    return 0;
}

/* Looks 'key' (hash 'hash') up in 'b'.  Returns the live connection and
 * sets '*dir', or NULL.  Nodes of dead or expired connections met on the
 * way are reaped (that is the lookup path's share of the sweeping). */
struct ct_conn *
ct_map_find(struct ovsct *ct, struct ct_bucket *b, uint32_t hash,
            const struct ct_key *key, int64_t now, int *dir)
{
    uint8_t gen = atomic_load_explicit(&ct->gen, memory_order_relaxed);

restart:
    if (!b->slots) {
        return NULL;
    }
    for (uint32_t i = hash & b->mask; b->slots[i].ent; i = (i + 1) & b->mask) {
        uint32_t e = b->slots[i].ent;
        struct ct_conn *c;

        if (b->slots[i].hash != hash) {
            continue;
        }
        c = ct_ent_conn(ct, e);
        if (!ct_conn_matches(c, ent_dir(e), key, dir)) {
            continue;
        }
        if (ct_conn_live(c, now, gen)) {
            return c;
        }
        /* Dead or expired: reap it and look again (a live twin with the
         * same key may sit further along after a force or a reopen).  The
         * removal unlinks this node, so the loop makes progress. */
        ct_stat_inc(&ct_my_stat(ct)->lookup_reaped);
        ct_remove_locked(ct, b, c, ent_dir(e));
        goto restart;
    }
    return NULL;
}

/* Stores slot 'i' of 'b', inside ct_map_write_begin() and _end().
 * 'hash' and 'ent' are read without the lock (ct_map_find_unlocked()):
 * release stores, the handle last, so that a reader that sees it also
 * sees the connection it names complete. */
static inline void
slot_store(struct ct_bucket *b, uint32_t i, uint32_t hash, uint32_t sweep_lb,
           uint32_t ent)
    CT_REQUIRES(b->lock)
{
    __atomic_store_n(&b->slots[i].hash, hash, __ATOMIC_RELEASE);
    b->slots[i].sweep_lb = sweep_lb;
    __atomic_store_n(&b->slots[i].ent, ent, __ATOMIC_RELEASE);
}

/* Links node 'dir' of 'c' with hash 'hash' in 'b'.  'slot' is
 * CT_SLOT_ANY, or the empty slot where a probe for the key ended with the
 * map unchanged since (struct ct_probe). */
int
ct_map_insert(struct ovsct *ct, struct ct_bucket *b, uint32_t hash,
              struct ct_conn *c, int dir, uint32_t sweep_lb, uint32_t slot)
{
    uint32_t i;

    if (!b->slots || (b->used + 1) * 4 > (b->mask + 1) * 3) {
        uint32_t cap = b->slots ? (b->mask + 1) * 2 : MAP_MIN_CAPACITY;
        int err = map_resize(ct, b, cap);

        if (err) {
            return err;
        }
        slot = CT_SLOT_ANY;
    }
    if (slot != CT_SLOT_ANY) {
        i = slot;
    } else {
        for (i = hash & b->mask; b->slots[i].ent; i = (i + 1) & b->mask) {
            continue;
        }
    }
    ct_map_write_begin(b);
    slot_store(b, i, hash, sweep_lb, ent_make(ct, c, dir));
    ct_map_write_end(b);
    b->used++;
    return 0;
}

/* Removes slot 'i' of 'b' by shifting the rest of its cluster back. */
static void
map_delete_slot(struct ovsct *ct, struct ct_bucket *b, uint32_t i)
    CT_REQUIRES(b->lock)
{
    uint32_t j = i;

    ct_map_write_begin(b);
    for (;;) {
        uint32_t home;

        j = (j + 1) & b->mask;
        if (!b->slots[j].ent) {
            break;
        }
        home = b->slots[j].hash & b->mask;
        /* Move j into the hole at i unless j's home lies in (i, j]. */
        if (((j - home) & b->mask) >= ((j - i) & b->mask)) {
            slot_store(b, i, b->slots[j].hash, b->slots[j].sweep_lb,
                       b->slots[j].ent);
            i = j;
        }
    }
    __atomic_store_n(&b->slots[i].ent, 0, __ATOMIC_RELEASE);
    ct_map_write_end(b);
    b->used--;
    if (b->used == 0) {
        map_resize(ct, b, 0);
    }
}

/* Halves 'b''s map while it is under 1/8 full, so that memory follows the
 * load down.  Not done on every delete: scans in progress rely on slots
 * staying put (ct_bucket_sweep(), flushes). */
void
ct_map_shrink(struct ovsct *ct, struct ct_bucket *b)
{
    while (b->slots && b->mask + 1 > MAP_MIN_CAPACITY
           && b->used * 8 < b->mask + 1) {
        if (map_resize(ct, b, (b->mask + 1) / 2)) {
            return;             /* Keeping the larger map is harmless. */
        }
    }
}

/* Unlinks node 'dir' of 'c' from 'b' (if it is still there) and retires
 * 'c' when that was its last node. */
void
ct_map_unlink(struct ovsct *ct, struct ct_bucket *b, struct ct_conn *c,
              int dir)
{
    uint32_t want = ent_make(ct, c, dir);
    uint32_t hash = ct_conn_hash(c, dir);

    if (!b->slots) {
        return;
    }
    for (uint32_t i = hash & b->mask; b->slots[i].ent; i = (i + 1) & b->mask) {
        if (b->slots[i].ent == want) {
            map_delete_slot(ct, b, i);
            if (atomic_fetch_sub(&c->n_linked, 1) == 1) {
                ct_retire(ct, c);
            }
            return;
        }
    }
}

/* Removes 'c', whose node 'dir' is linked in 'b' (locked).  Claims it if
 * nobody did, unlinks this node, and unlinks the other node too when its
 * bucket can be locked without breaking the lock order; otherwise that
 * node stays for the next visitor of its bucket to reap. */
void
ct_remove_locked(struct ovsct *ct, struct ct_bucket *b, struct ct_conn *c,
                 int dir)
{
    struct ct_bucket *ob = ct_conn_bucket(ct, c, !dir);

    if (ct_conn_claim(ct, c)
        && atomic_load_explicit(&c->expiration, memory_order_relaxed)
           <= ovsct_now(ct)) {
        ct_stat_inc(&ct_my_stat(ct)->expired);
    }
    if (!ct_conn_two_slots(c)) {
        /* One slot for both keys: nothing else to unlink. */
    } else if (ob == b) {
        ct_map_unlink(ct, b, c, !dir);
    } else if (atomic_load(&c->n_linked) == 2) {
        if (ct_mutex_trylock(&ob->lock)) {
            /* Any order is deadlock-free with a trylock. */
            ct_map_unlink(ct, ob, c, !dir);
            ct_mutex_unlock(&ob->lock);
        } else {
            atomic_fetch_add(&ob->n_lazy, 1);
        }
    }
    ct_map_unlink(ct, b, c, dir);
}

/* Removes 'c' from outside any bucket lock (force, TCP reopen, flush by
 * tuple): locks both of its buckets in order.  Returns true if this call
 * claimed it.  The caller must be inside an epoch or otherwise know that
 * 'c' cannot be freed under it. */
bool
ct_conn_kill(struct ovsct *ct, struct ct_conn *c)
{
    struct ct_bucket *b0 = ct_conn_bucket(ct, c, 0);
    struct ct_bucket *b1 = ct_conn_bucket(ct, c, 1);
    bool claimed;

    ct_double_lock(ct, b0, b1);
    claimed = ct_conn_claim(ct, c);
    if (claimed) {
        ct_map_unlink(ct, b0, c, 0);
        if (ct_conn_two_slots(c)) {
            ct_map_unlink(ct, b1, c, 1);
        }
    }
    ct_double_unlock(ct, b0, b1);
    return claimed;
}

static uint64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* Index of a lock hold of 'ns' in ovsct_counters' 'sweep_hold_hist':
 * < 1, 4, 16, 64, 256 us, < 1 ms, < 4 ms, >= 4 ms. */
static int
hold_class(uint64_t ns)
{
    static const uint64_t limits[OVSCT_SWEEP_HOLD_CLASSES - 1] = {
        1000, 4000, 16000, 64000, 256000, 1000000, 4000000,
    };
    int i = 0;

    while (i < OVSCT_SWEEP_HOLD_CLASSES - 1 && ns >= limits[i]) {
        i++;
    }
    return i;
}

/* The sweep lower bound of a connection whose expiry was just set at
 * 'now' (struct ct_slot 'sweep_lb'): its expiry is at least now plus the
 * shortest timeout, minus one unit of slack for batches whose clock
 * reading is a little older (a batch whose reading is older by more
 * clears every bound when it ends: ovsct_execute()). */
uint32_t
ct_sweep_lb(const struct ovsct *ct, int64_t now)
{
    int64_t lb = now + atomic_load_explicit(&ct->min_timeout_ms,
                                            memory_order_relaxed)
                 - ((int64_t) 1 << CT_LB_SHIFT);

    return lb <= 0 ? 0 : (uint32_t) ((uint64_t) lb >> CT_LB_SHIFT);
}

/* Removes from 'b' every node whose connection is dead or expired at 'now'.
 * Drops and retakes the lock every CT_SWEEP_HOLD_MAX removals so that no
 * hold grows with the bucket's size.  Adds the slots looked at to
 * '*scanned', raises '*hold_ns' to the longest hold, counts each hold in
 * 'hold_hist' (OVSCT_SWEEP_HOLD_CLASSES entries) unless it is NULL,
 * returns the number of nodes removed. */
#define CT_SWEEP_HOLD_MAX 64
size_t
ct_bucket_sweep(struct ovsct *ct, struct ct_bucket *b, int64_t now,
                size_t *scanned, uint64_t *hold_ns, uint64_t *hold_hist)
{
    size_t removed = 0;
    bool again;

    int64_t min_to = atomic_load_explicit(&ct->min_timeout_ms,
                                          memory_order_relaxed);
    uint32_t now_lb = now <= 0 ? 0 : (uint32_t) ((uint64_t) now
                                                 >> CT_LB_SHIFT);

    do {
        size_t this_hold = 0;
        uint64_t t0 = mono_ns(), held;
        bool all_nodes, set_bounds;
        uint8_t gen;

        again = false;
        ct_mutex_lock(&b->lock);
        /* The generation under the lock: a bulk flush bumps it holding
         * every bucket lock, and read before the lock it could call a
         * connection created after that flush not live, and remove it. */
        gen = atomic_load_explicit(&ct->gen, memory_order_relaxed);
        /* If the manual clock was set back since 'now' was read
         * (ovsct_set_time()), bounds computed from 'now' could lie after
         * expiries set from the new clock, and the clear that followed
         * the change may already have passed this bucket: set none.  The
         * clear takes this lock after changing the clock, so while we
         * hold it, either it is still to come or we see the change.
         * Found by the invariant check in tests/c/stress.c, whose rounds
         * each start the clock again. */
        set_bounds = !(atomic_load(&ct->manual_clock)
                       && atomic_load(&ct->manual_now) < now);
        /* A connection is judged through its forward node; reverse nodes
         * go with it.  Only lazily left reverse nodes need a look of
         * their own, and only where some were left. */
        all_nodes = atomic_exchange(&b->n_lazy, 0) != 0;
        for (uint32_t i = 0; b->slots && i <= b->mask; i++) {
            uint32_t e = b->slots[i].ent;
            struct ct_conn *c;
            int64_t exp;

            if (!e || (!all_nodes && (e & 1))) {
                continue;
            }
            (*scanned)++;
            if (now_lb < b->slots[i].sweep_lb) {
                continue;       /* Cannot have expired: not even touched. */
            }
            c = ct_ent_conn(ct, e);
            if (ct_conn_live(c, now, gen)) {
                /* Whatever packets come, the expiry stays at or after
                 * min(now's expiry, now + shortest timeout). */
                exp = atomic_load_explicit(&c->expiration,
                                           memory_order_relaxed);
                if (exp > now + min_to) {
                    exp = now + min_to;
                }
                /* One unit of slack for batches whose clock reading is a
                 * little older than ours. */
                exp -= (int64_t) 1 << CT_LB_SHIFT;
                if (set_bounds) {
                    b->slots[i].sweep_lb = exp <= 0 ? 0
                        : (uint32_t) ((uint64_t) exp >> CT_LB_SHIFT);
                }
                continue;
            }
            ct_remove_locked(ct, b, c, ent_dir(e));
            removed++;
            /* Deletions shift entries, possibly past the scan position:
             * rescan until a pass removes nothing, so that one call
             * leaves no expired node behind. */
            again = true;
            if (++this_hold >= CT_SWEEP_HOLD_MAX) {
                break;
            }
            i--;                /* Slot i now holds a shifted entry. */
        }
        if (again && all_nodes) {
            atomic_fetch_add(&b->n_lazy, 1);    /* Keep looking. */
        }
        if (!again) {
            ct_map_shrink(ct, b);
        }
        ct_mutex_unlock(&b->lock);
        held = mono_ns() - t0;
        if (held > *hold_ns) {
            *hold_ns = held;
        }
        if (hold_hist) {
            hold_hist[hold_class(held)]++;
        }
    } while (again);
    return removed;
}
