/*
 * epoch.c -- thread slots and epoch-based reclamation.
 *
 * Why: a packet-path thread looks a connection up under its bucket lock,
 * drops the lock, then updates the connection under the connection's own
 * lock.  Meanwhile another thread may remove that connection.  Removal
 * therefore only unlinks; the memory is freed later, once every thread that
 * might still hold the pointer has finished its batch.
 *
 * How: each thread that enters the engine owns a slot (ct_thread_slot()).
 * ovsct_execute() brackets a batch with ct_epoch_enter()/ct_epoch_exit(),
 * which publish the global epoch in the slot (0 = outside).  A retired
 * connection goes into its thread slot's chunk (an array); ct_reclaim()
 * takes the chunks, stamps them with the current epoch, advances the
 * global epoch and frees every pending chunk whose stamp is older than
 * the oldest epoch any thread is inside.  A thread that
 * entered before the removal published an epoch <= the stamp and blocks
 * the free; a thread that enters later cannot find the connection.
 *
 * Slots are process-wide (shared by every struct ovsct) and released when
 * their thread exits; per-instance counters indexed by slot survive that.
 * Epochs are 32 bits and compared with wrap-around arithmetic.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>

#include "ovsct-private.h"

struct epoch_slot {
    _Atomic uint32_t epoch;     /* 0: not inside a batch. */
    atomic_bool used;
} __attribute__((aligned(64)));

static struct epoch_slot slots[CT_MAX_THREADS];
static _Atomic uint32_t global_epoch = 1;
static _Atomic uint32_t n_slots_hint;   /* Highest slot used + 1. */
/* initial-exec: one TLS read, no __tls_get_addr() call, on the packet
 * path of the Python extension (a dlopen()ed object); glibc keeps spare
 * static TLS for such small variables. */
_Thread_local int ct_my_slot__
    __attribute__((tls_model("initial-exec"))) = -1;
#define my_slot ct_my_slot__
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

static void
slot_release(void *arg)
{
    int idx = (int) (intptr_t) arg - 1;

    atomic_store(&slots[idx].epoch, 0);
    atomic_store(&slots[idx].used, false);
}

static void
slot_key_init(void)
{
    pthread_key_create(&slot_key, slot_release);
}

/* ct_thread_slot()'s first call in a thread: claims a slot. */
int
ct_thread_slot_claim__(void)
{
    pthread_once(&slot_once, slot_key_init);
    for (int i = 0; i < CT_MAX_THREADS; i++) {
        bool expected = false;

        if (atomic_compare_exchange_strong(&slots[i].used, &expected,
                                           true)) {
            uint32_t hint = atomic_load(&n_slots_hint);

            while (hint < (uint32_t) i + 1
                   && !atomic_compare_exchange_weak(&n_slots_hint, &hint,
                                                    i + 1)) {
                continue;
            }
            my_slot = i;
            pthread_setspecific(slot_key, (void *) (intptr_t) (i + 1));
            return i;
        }
    }
    fprintf(stderr, "ovsct: more than %d threads use the engine\n",
            CT_MAX_THREADS);
    abort();
}

void
ct_epoch_enter(void)
{
    int idx = ct_thread_slot();

    atomic_store(&slots[idx].epoch, atomic_load(&global_epoch));
    /* seq_cst store then loads: pairs with the seq_cst load of the slot in
     * oldest_epoch() so a reclaimer either sees us or we see its unlink. */
    atomic_thread_fence(memory_order_seq_cst);
}

void
ct_epoch_exit(void)
{
    atomic_store_explicit(&slots[my_slot].epoch, 0, memory_order_release);
}

/* True if no thread but the caller is inside a batch.  Called after
 * publishing a pointer that batches read without a lock (a bucket's map,
 * ct_map_publish()), to know whether what it replaced may be freed at
 * once: the fence pairs with the one in ct_epoch_enter(), so a thread
 * seen outside will read the new pointer when it enters. */
bool
ct_epoch_alone(void)
{
    uint32_t n = atomic_load(&n_slots_hint);

    atomic_thread_fence(memory_order_seq_cst);
    for (uint32_t i = 0; i < n; i++) {
        if ((int) i != my_slot && atomic_load(&slots[i].epoch)) {
            return false;
        }
    }
    return true;
}

/* How many threads are inside a batch now (a snapshot). */
uint32_t
ct_epoch_active(void)
{
    uint32_t n = atomic_load(&n_slots_hint), active = 0;

    for (uint32_t i = 0; i < n; i++) {
        active += atomic_load_explicit(&slots[i].epoch,
                                       memory_order_relaxed) != 0;
    }
    return active;
}

/* One more than the highest thread slot ever used. */
uint32_t
ct_thread_slots_hint(void)
{
    return atomic_load(&n_slots_hint);
}

uint32_t
ct_epoch_now(void)
{
    return atomic_load(&global_epoch);
}

/* Oldest epoch some thread is inside, or 'now' + 1 if none. */
static uint32_t
oldest_epoch(uint32_t now)
{
    uint32_t n = atomic_load(&n_slots_hint);
    uint32_t oldest = now + 1;

    for (uint32_t i = 0; i < n; i++) {
        uint32_t e = atomic_load(&slots[i].epoch);

        if (e && (int32_t) (e - oldest) < 0) {
            oldest = e;
        }
    }
    return oldest;
}

/* Appends the 'n' items at 'items' to this thread's chunk.  Memory
 * failure leaks them rather than free them too early. */
static void
retire_items(struct ovsct *ct, void *const *items, uint32_t n)
{
    struct ct_retire_slot *rs = &ct->retire[ct_thread_slot()];
    struct ct_retire_chunk *ch;

    ct_spin_lock(&rs->lock);
    ch = rs->chunks;
    if (!ch || ch->n + n > CT_RETIRE_CHUNK) {
        struct ct_retire_chunk *fresh = malloc(sizeof *fresh);

        if (!fresh) {
            ct_spin_unlock(&rs->lock);
            return;
        }
        fresh->n = 0;
        fresh->next = ch;
        rs->chunks = ch = fresh;
    }
    for (uint32_t i = 0; i < n; i++) {
        ch->items[ch->n++] = items[i];
    }
    ct_spin_unlock(&rs->lock);
}

/* Retires 'c' (its last node was just unlinked) into this thread's
 * chunk. */
void
ct_retire(struct ovsct *ct, struct ct_conn *c)
{
    void *item = c;

    retire_items(ct, &item, 1);
}

/* Retires a map array of 'size' bytes that ct_map_publish() just
 * replaced: a packet-path thread may still be probing it without the
 * bucket lock (ct_map_find_unlocked()), so it goes back to ct_block_free()
 * only when every thread inside a batch now has left it. */
void
ct_retire_block(struct ovsct *ct, void *p, size_t size)
{
    void *items[2] = { (void *) ((uintptr_t) p | 1), (void *) size };

    retire_items(ct, items, 2);
}

/* True if no thread slot holds retired connections not yet taken by the
 * reclaimer, and the reclaimer holds none either. */
bool
ct_retire_empty(struct ovsct *ct)
{
    uint32_t n = atomic_load(&n_slots_hint);
    bool empty;

    for (uint32_t i = 0; i < n; i++) {
        struct ct_retire_slot *rs = &ct->retire[i];

        ct_spin_lock(&rs->lock);
        empty = !rs->chunks;
        ct_spin_unlock(&rs->lock);
        if (!empty) {
            return false;
        }
    }
    ct_mutex_lock(&ct->reclaim_lock);
    empty = !ct->pending && !ct->dead_maps;
    ct_mutex_unlock(&ct->reclaim_lock);
    return empty;
}

void
ct_retire_maps(struct ovsct *ct, struct ct_dead_map *dm)
{
    dm->epoch = atomic_load(&global_epoch);
    ct_mutex_lock(&ct->reclaim_lock);
    dm->next = ct->dead_maps;
    ct->dead_maps = dm;
    ct_mutex_unlock(&ct->reclaim_lock);
}

/* Frees the connections of a retired map.  Every node still in it was
 * linked when the map was retired, so each connection's 'n_linked' reaches
 * 0 exactly once over all retired maps. */
static size_t
free_dead_map(struct ovsct *ct, struct ct_dead_map *dm)
{
    size_t n = 0;

    for (uint32_t i = 0; i < dm->n; i++) {
        uint32_t e = dm->slots[i].ent;
        struct ct_conn *c = e ? ct_ent_conn(ct, e) : NULL;

        if (i + 8 < dm->n && dm->slots[i + 8].ent) {
            __builtin_prefetch(ct_ent_conn(ct, dm->slots[i + 8].ent), 1);
        }
        if (c && atomic_fetch_sub(&c->n_linked, 1) == 1) {
            ct_conn_free(ct, c);
            n++;
        }
    }
    ct_block_free(ct, dm->slots, (size_t) dm->n * sizeof *dm->slots);
    free(dm);
    return n;
}

/* Frees the connections and map arrays of chunk 'ch', prefetching ahead.
 * Returns the number of connections and arrays freed. */
static size_t
free_chunk(struct ovsct *ct, struct ct_retire_chunk *ch)
{
    size_t n = 0;

    for (uint32_t i = 0; i < ch->n; i++, n++) {
        uintptr_t item = (uintptr_t) ch->items[i];

        if (i + 8 < ch->n && !((uintptr_t) ch->items[i + 8] & 1)) {
            __builtin_prefetch(ch->items[i + 8], 1);
        }
        if (item & 1) {
            /* A map array (ct_retire_block()): address, then size. */
            ct_block_free(ct, (void *) (item & ~(uintptr_t) 1),
                          (size_t) (uintptr_t) ch->items[++i]);
        } else {
            ct_conn_free(ct, (struct ct_conn *) item);
        }
    }
    free(ch);
    return n;
}

/* Frees what is safe to free.  Returns the number of connections and map
 * arrays freed.  Must not be called from inside a batch
 * (ct_epoch_enter()). */
size_t
ct_reclaim(struct ovsct *ct)
{
    struct ct_retire_chunk *ch, *keep = NULL, *next;
    struct ct_dead_map *dm, *dm_keep = NULL, *dm_next;
    uint32_t n_slots = atomic_load(&n_slots_hint);
    uint32_t stamp, now, oldest;
    size_t n = 0;
    bool empty;

    ct_mutex_lock(&ct->reclaim_lock);
    /* Take every slot's chunks.  All they hold was retired before this
     * point, so the current epoch is a safe stamp for all of them. */
    stamp = atomic_load(&global_epoch);
    for (uint32_t i = 0; i < n_slots; i++) {
        struct ct_retire_slot *rs = &ct->retire[i];
        struct ct_retire_chunk *taken;

        ct_spin_lock(&rs->lock);
        taken = rs->chunks;
        rs->chunks = NULL;
        ct_spin_unlock(&rs->lock);
        for (ch = taken; ch; ch = next) {
            next = ch->next;
            ch->epoch = stamp;
            ch->next = ct->pending;
            ct->pending = ch;
        }
    }
    now = atomic_fetch_add(&global_epoch, 1) + 1;
    oldest = oldest_epoch(now);

    for (ch = ct->pending; ch; ch = next) {
        next = ch->next;
        if ((int32_t) (ch->epoch - oldest) < 0) {
            n += free_chunk(ct, ch);
        } else {
            ch->next = keep;
            keep = ch;
        }
    }
    ct->pending = keep;

    for (dm = ct->dead_maps; dm; dm = dm_next) {
        dm_next = dm->next;
        if ((int32_t) (dm->epoch - oldest) < 0) {
            n += free_dead_map(ct, dm);
        } else {
            dm->next = dm_keep;
            dm_keep = dm;
        }
    }
    ct->dead_maps = dm_keep;
    empty = !ct->pending && !ct->dead_maps;
    ct_mutex_unlock(&ct->reclaim_lock);
    if (n && empty) {
        /* Everything retired is freed: if the table is empty too, give
         * the connection memory back (a flush's memory returns). */
        ct_release_if_empty(ct);
    }
    return n;
}

/* Frees everything, waiting for threads inside a batch to leave it. */
void
ct_reclaim_all(struct ovsct *ct)
{
    for (;;) {
        ct_reclaim(ct);
        if (ct_retire_empty(ct)) {
            return;
        }
        sched_yield();
    }
}

/* Waits until every thread that is inside a batch now has left it. */
void
ct_epoch_wait_quiescent(void)
{
    uint32_t now = atomic_fetch_add(&global_epoch, 1) + 1;

    while ((int32_t) (oldest_epoch(now) - now) <= 0) {
        sched_yield();
    }
}

