/*
 * slab.c -- connection memory.
 *
 * Why not malloc: every packet-path thread allocates connections while the
 * reclaimer (another thread) frees them, and glibc then takes the owning
 * arena's lock on each cross-thread free; map arrays growing under two
 * inserting threads add more cross-arena frees.  Measured here, that lock
 * made two inserting threads no faster than one.  malloc also adds a
 * header to each 104-byte object and keeps freed memory.
 *
 * How: objects of fixed size classes -- four for connections (plain, TCP,
 * NAT, TCP+NAT) and one per power of two from 128 B to 128 KiB for map
 * arrays -- are carved from 2 MiB slabs (or eight objects for the big
 * classes); bigger map arrays are mapped directly.  Slabs are cut from
 * 64 MiB arenas, slices of one 32 GiB address-space reservation per table
 * (mmap() takes the process's memory-map lock for writing, which stalls
 * every other thread's page faults, so it is done once), which also lets
 * a map slot name a connection in 32 bits (ct_ent_make()).  A new slab
 * is faulted in with one MADV_POPULATE_WRITE call instead of 512 page
 * faults on the packet path, and ahead of time, outside any lock
 * (ct_slab_prepare()).  (Transparent huge pages were tried and dropped:
 * with them, one run in three stalled for hundreds of milliseconds.)
 *
 * Each thread slot has a private cache per class, used without any lock:
 * two magazines (arrays of up to MAG_SIZE free objects, Bonwick's
 * magazine layer) and the uncarved rest of its current slab.  Free
 * objects are never written to: a free stores a pointer, an allocation
 * pops one and prefetches the next, so a reclaimer freeing a million
 * connections touches none of them and an allocation never waits on a
 * dependent cache miss.  Full magazines go to the class's depot and empty
 * ones come back through it; the depot and the arena list are under
 * 'slab_lock', taken once per MAG_SIZE objects or per slab.
 *
 * Giving memory back: when the table is empty (after a flush, once the
 * reclaimer has freed everything), ct_slab_release() bumps the slab
 * generation, waits until no thread is inside a batch, and unmaps every
 * arena of the old generation if the table is still empty; with no arena
 * of the new generation laid meanwhile, the region starts again at offset
 * 0.  Caches notice the new generation on their next use and forget
 * their old lists without touching them.
 *
 * Generations: the release waits for batches, not for frees.  Between
 * its bump and its unmap, other threads free objects of the old
 * generation (a reclaimer, a map that grew or shrank, a tuple another
 * thread created first) into caches that may already be of the new one,
 * and allocate for the new one while the depot still holds magazines of
 * old objects.  Kept, such an object would be handed out again once the
 * region restarted, over memory a new arena hands out too: two owners
 * (tests/c/test_slab.c forces each way).  So every object knows its
 * generation: arenas are 64 MiB slices of the region at multiples of 64
 * MiB, 'arena_gen' holds the generation of the arena at each slice, and
 * a free keeps an object only if its arena is of the cache's generation
 * (one load from a 2 KiB table; allocations pay nothing); a depot
 * magazine carries the generation of the cache that left it, and a cache
 * takes only its own.  A cache thus holds objects of its generation only,
 * and whatever a thread allocates after it saw the bump lies in an arena
 * the release keeps.  Objects of the old generation still referenced
 * when the release checks the table are not freed later: the table and
 * the reclaimer's lists are checked under their locks (a bucket has a
 * map exactly when it has nodes), and threads in a batch are waited for.
 * A release that finds the table in use again keeps every arena and
 * counts the old ones, and the depot's magazines, as of the new
 * generation: nothing was unmapped, so their objects are reused.
 * Neighbours: conntrack.c (conn_alloc), epoch.c (frees), invariant.c
 * (every connection and map lies in a laid arena).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ovsct-private.h"

#define SLAB_MIN_SIZE (2 * 1024 * 1024)
#define ARENA_SIZE (64 * 1024 * 1024)
#ifndef MADV_POPULATE_WRITE
#define CT_MADV_POPULATE_WRITE 23
#else
#define CT_MADV_POPULATE_WRITE MADV_POPULATE_WRITE
#endif
#define MAG_SIZE 64
#define BLOCK_MIN_SHIFT 3       /* Map arrays of 8 slots ... */
#define BLOCK_MAX_SHIFT 13      /* ... to 8192 from slabs, bigger mapped. */

/* An arena: reserved address space that slabs are cut from. */
struct arena {
    struct arena *next;         /* In 'arenas', under 'slab_lock'. */
    char *base;                 /* A slice of the table's region. */
    size_t size;
    size_t used;                /* Bytes handed out as slabs. */
    uint32_t gen;               /* Slab generation it was mapped in. */
};

/* A magazine of free objects. */
struct ct_magazine {
    struct ct_magazine *next;   /* In a depot list. */
    uint32_t n;                 /* Objects in 'objs'. */
    uint32_t gen;               /* In the depot: slab generation of the
                                 * objects (of the cache that left it). */
    void *objs[MAG_SIZE];
};

/* The slab generation of the arena that holds 'p' (stale if none does:
 * a release gave it back).  One load from a small table that frees keep
 * in cache. */
static inline uint32_t
arena_gen_of(const struct ovsct *ct, const void *p)
{
    size_t i = (size_t) ((const char *) p - ct->region) >> CT_ARENA_SHIFT;

    return atomic_load_explicit(&ct->arena_gen[i], memory_order_relaxed);
}

/* Records that arena 'a' belongs to generation 'gen' from now on.  Call
 * with 'slab_lock' held. */
static void
arena_set_gen(struct ovsct *ct, struct arena *a, uint32_t gen)
{
    size_t first = (size_t) (a->base - ct->region) >> CT_ARENA_SHIFT;
    size_t end = first + (a->size >> CT_ARENA_SHIFT);

    a->gen = gen;
    for (size_t i = first; i < end; i++) {
        atomic_store_explicit(&ct->arena_gen[i], gen, memory_order_relaxed);
    }
}

static inline size_t
obj_size(int cls)
{
    size_t size = sizeof(struct ct_conn);

    if (cls >= CT_CONN_CLASSES) {
        return sizeof(struct ct_slot)
               << (cls - CT_CONN_CLASSES + BLOCK_MIN_SHIFT);
    }
    if (cls & CT_EXT_TCP) {
        size += 2 * sizeof(struct ct_tcp_peer);
    }
    if (cls & CT_EXT_NAT) {
        size += sizeof(struct ct_nat_ext);
    }
    if (cls & CT_EXT_ALG) {
        size += sizeof(struct ct_alg);
    }
    return (size + 15) & ~(size_t) 15;     /* ct_ent_make() needs 16. */
}

size_t
ct_slab_obj_size(int cls)
{
    return obj_size(cls);
}

/* Forgets 'c''s contents after a slab generation change: its pointers
 * are into unmapped memory, so only the magazines themselves go. */
static void
cache_reset(struct ct_slab_cache *c, uint32_t gen)
{
    free(c->loaded);
    free(c->prev);
    c->loaded = c->prev = NULL;
    c->carve = c->carve_end = NULL;
    c->gen = gen;
}

static size_t
slab_size(size_t obj_size)
{
    return obj_size * 8 > SLAB_MIN_SIZE ? obj_size * 8 : SLAB_MIN_SIZE;
}

/* Returns 'size' bytes (a multiple of 2 MiB) of generation 'gen' memory
 * for a slab, from the current arena or a new one.  With 'current_only',
 * returns NULL if 'gen' is no longer the current generation (a release
 * came between), so that no arena of an old generation is made for it. */
static void *
slab_memory(struct ovsct *ct, size_t size, uint32_t gen, bool current_only)
{
    struct arena *a;
    void *p = NULL;

    ct_mutex_lock(&ct->slab_lock);
    if (current_only
        && gen != atomic_load_explicit(&ct->slab_gen, memory_order_relaxed)) {
        goto out;
    }
    a = ct->arenas;
    if (!a || a->gen != gen || a->size - a->used < size) {
        size_t asize = size > ARENA_SIZE ? size : ARENA_SIZE;

        /* Arenas start at multiples of ARENA_SIZE (arena_gen_of()). */
        asize = (asize + ARENA_SIZE - 1) & ~(size_t) (ARENA_SIZE - 1);
        if (ct->region_used + asize > CT_REGION_SIZE
            || !(a = malloc(sizeof *a))) {
            goto out;
        }
        a->base = ct->region + ct->region_used;
        ct->region_used += asize;
        a->size = asize;
        a->used = 0;
        arena_set_gen(ct, a, gen);
        a->next = ct->arenas;
        ct->arenas = a;
    }
    p = a->base + a->used;
    a->used += size;
out:
    ct_mutex_unlock(&ct->slab_lock);
    if (p) {
        /* Fault the slab in with one call (mmap read lock only) rather
         * than page by page on the packet path.  Best effort: kernels
         * before 5.14 lack it and fault lazily. */
        madvise(p, size, CT_MADV_POPULATE_WRITE);
    }
    return p;
}

/* Before a batch that may allocate, with no lock held: gives this thread
 * a faulted-in spare slab, so that a slab needed under a bucket lock
 * costs no page faults there (populating 2 MiB takes a few hundred
 * microseconds, which another thread waiting for that bucket would sleep
 * through).  The spare comes from the pool the sweeper fills, so that
 * the packet thread does not spend its time in the kernel clearing
 * pages, or is faulted in here when the pool is empty (no sweeper, or
 * it fell behind). */
void
ct_slab_prepare(struct ovsct *ct)
{
    struct ct_slab_spare *sp = &ct->slab_spare[ct_thread_slot()];
    uint32_t gen = atomic_load_explicit(&ct->slab_gen, memory_order_acquire);
    void *mem = NULL;

    if (sp->mem && sp->gen == gen) {
        return;
    }
    /* A spare of an old generation was unmapped with its arena. */
    ct_mutex_lock(&ct->slab_lock);
    if (ct->slab_pool_n && ct->slab_pool_gen == gen) {
        mem = ct->slab_pool[--ct->slab_pool_n];
    }
    ct_mutex_unlock(&ct->slab_lock);
    if (!atomic_fetch_add_explicit(&ct->slab_pool_taken, 1,
                                   memory_order_relaxed)
        && ct->has_sweeper && ct_epoch_active() + 1 < ct->n_cpus) {
        /* The first spare since the last refill, and a CPU is free (this
         * thread is about to run a batch; the others running one are
         * counted): have the sweeper fault the next ones in now
         * (sweep.c), not at its next tick, so that a thread inserting
         * fast finds the pool full.  When every CPU runs a batch, the
         * sweeper would only take one from a packet thread (which may
         * hold a bucket lock another one waits for): the packet threads
         * then fault their own slabs, as without a sweeper. */
        atomic_store(&ct->refill_now, true);
        ct_wake_lock(&ct->wake);
        ct_wake_signal(&ct->wake);
        ct_wake_unlock(&ct->wake);
    }
    /* Not for a generation that a release has ended meanwhile: its arena
     * would be laid where the region restarts, for nobody. */
    sp->mem = mem ? mem : slab_memory(ct, SLAB_MIN_SIZE, gen, true);
    sp->gen = gen;
}

/* Called by the sweeper on each wake-up: if spares were wanted since the
 * last call, fills the pool again (faulting the slabs in on the
 * sweeper's time).  Nothing is kept ready for a table nobody inserts
 * into, and a flush's release empties the pool. */
void
ct_slab_refill(struct ovsct *ct)
{
    uint32_t gen = atomic_load_explicit(&ct->slab_gen, memory_order_acquire);

    if (!atomic_exchange_explicit(&ct->slab_pool_taken, 0,
                                  memory_order_relaxed)) {
        return;
    }
    for (int i = 0; i < CT_SLAB_POOL; i++) {
        bool full;
        void *p;

        ct_mutex_lock(&ct->slab_lock);
        if (ct->slab_pool_gen != gen) {
            ct->slab_pool_n = 0;        /* Old slabs go with their arenas. */
            ct->slab_pool_gen = gen;
        }
        full = ct->slab_pool_n >= CT_SLAB_POOL;
        ct_mutex_unlock(&ct->slab_lock);
        if (full || !(p = slab_memory(ct, SLAB_MIN_SIZE, gen, true))) {
            return;
        }
        ct_mutex_lock(&ct->slab_lock);
        if (ct->slab_pool_gen == gen && ct->slab_pool_n < CT_SLAB_POOL) {
            ct->slab_pool[ct->slab_pool_n++] = p;
        }
        /* Else a release or another filler came between: 'p' stays
         * unused in its arena until the arena goes. */
        ct_mutex_unlock(&ct->slab_lock);
    }
}

/* Gives 'c' a new slab for class 'cls' to carve. */
static int
slab_new(struct ovsct *ct, struct ct_slab_cache *c, int cls)
{
    struct ct_slab_spare *sp = &ct->slab_spare[ct_thread_slot()];
    size_t size = slab_size(ct_slab_obj_size(cls));
    char *base;

    if (size == SLAB_MIN_SIZE && sp->mem && sp->gen == c->gen) {
        base = sp->mem;         /* Faulted in already, outside any lock. */
        sp->mem = NULL;
    } else {
        base = slab_memory(ct, size, c->gen, false);
    }
    if (!base) {
        return ENOMEM;
    }
    c->carve = base;
    c->carve_end = base + size;
    return 0;
}

/* Whether the depot of class 'cls' may hold a full magazine: an unlocked
 * read, kept exact enough by relaxed atomic stores under 'slab_lock'.
 * It only decides whether the lock is worth taking. */
static inline bool
depot_hint(struct ovsct *ct, int cls) CT_NO_THREAD_SAFETY_ANALYSIS
{
    return __atomic_load_n(&ct->depot_full[cls], __ATOMIC_RELAXED) != NULL;
}

/* Takes a full magazine of generation 'gen' from the depot of class
 * 'cls', or returns NULL.  Magazines of an older generation met on top
 * are dropped with their objects: a release may be giving their arenas
 * back (those go at the next release anyway).  Call with 'slab_lock'
 * held. */
static struct ct_magazine *
depot_pop(struct ovsct *ct, int cls, uint32_t gen) CT_REQUIRES(ct->slab_lock)
{
    struct ct_magazine *full;

    while ((full = ct->depot_full[cls]) != NULL
           && (int32_t) (full->gen - gen) < 0) {
        __atomic_store_n(&ct->depot_full[cls], full->next, __ATOMIC_RELAXED);
        free(full);
    }
    if (!full || full->gen != gen) {
        return NULL;            /* None, or newer than this cache. */
    }
    __atomic_store_n(&ct->depot_full[cls], full->next, __ATOMIC_RELAXED);
    return full;
}

/* Pops a free object of class 'cls' from 'c' (or, through the depot,
 * from another thread's frees), or returns NULL.  Never carves. */
static void *
cache_pop(struct ovsct *ct, struct ct_slab_cache *c, int cls)
{
    struct ct_magazine *m = c->loaded, *full;
    void *o;

    if (!m || !m->n) {
        if (c->prev && c->prev->n) {
            c->loaded = c->prev;
            c->prev = m;
        } else {
            /* While a table fills, the depot is empty and every
             * allocation carves: look before taking the global lock.  The
             * unlocked read is a hint; the locked one decides. */
            if (!depot_hint(ct, cls)) {
                return NULL;
            }
            ct_mutex_lock(&ct->slab_lock);
            full = depot_pop(ct, cls, c->gen);
            if (full) {
                if (m) {
                    m->next = ct->depot_empty;
                    ct->depot_empty = m;
                }
                c->loaded = full;
            }
            ct_mutex_unlock(&ct->slab_lock);
            if (!full) {
                return NULL;
            }
        }
        m = c->loaded;
    }
    o = m->objs[--m->n];
    if (m->n) {
        /* Freed objects come back in no order: warm the next one. */
        __builtin_prefetch(m->objs[m->n - 1], 1);
    }
    return o;
}

/* Gives connection cache 'c' a free map block of 1 KiB or more to carve
 * connections from.  Map arrays grow by doubling, so once the buckets
 * have grown, their old smaller arrays would lie unused in the caches
 * (as much memory again as the maps): they become connections instead.
 * Returns false if there is none. */
static bool
carve_from_map_block(struct ovsct *ct, struct ct_slab_cache *c)
{
    struct ct_slab_cache *own = ct->slab_cache[ct_thread_slot()];
    void *o = NULL;
    int cls;

    for (cls = CT_SLAB_CLASSES - 1; !o && cls >= CT_CONN_CLASSES + 3;
         cls--) {
        if (own[cls].gen == c->gen) {
            o = cache_pop(ct, &own[cls], cls);
        }
    }
    cls++;
    if (!o) {
        return false;
    }
    c->carve = (char *) o;
    c->carve_end = (char *) o + ct_slab_obj_size(cls);
    return true;
}

void *
ct_slab_alloc(struct ovsct *ct, int cls)
{
    struct ct_slab_cache *c = &ct->slab_cache[ct_thread_slot()][cls];
    uint32_t gen = atomic_load_explicit(&ct->slab_gen, memory_order_acquire);
    size_t size = obj_size(cls);
    struct ct_magazine *m = c->loaded;
    void *o;

    if (__builtin_expect(c->gen != gen, 0)) {
        cache_reset(c, gen);
        m = NULL;
    }
    /* The two common cases inline: a loaded magazine with objects (a
     * table in steady state), and carving with no magazine of this
     * thread nor the depot holding any (a table filling up). */
    if (m && m->n) {
        o = m->objs[--m->n];
        if (m->n) {
            __builtin_prefetch(m->objs[m->n - 1], 1);
        }
        return o;
    }
    /* Room compared as a length: 'carve' is NULL before the first slab
     * (NULL + size is undefined). */
    if (!(c->prev && c->prev->n)
        && (size_t) (c->carve_end - c->carve) >= size
        && !depot_hint(ct, cls)) {
        o = c->carve;
        c->carve += size;
        /* The objects after it come next, in order: fetch their lines
         * now, so that their first writes (under a bucket lock) do not
         * wait for memory. */
        __builtin_prefetch(c->carve + 2 * size, 1);
        return o;
    }
    o = cache_pop(ct, c, cls);
    if (o) {
        return o;
    }
    /* Compared as a length: 'carve' is NULL before the first slab, and
     * NULL + size is undefined (clang's UBSan flags it). */
    if ((size_t) (c->carve_end - c->carve) < size
        && !(cls < CT_CONN_CLASSES && carve_from_map_block(ct, c))
        && slab_new(ct, c, cls)) {
        return NULL;
    }
    o = c->carve;
    c->carve += size;
    return o;
}

void
ct_slab_free(struct ovsct *ct, void *p, int cls)
{
    struct ct_slab_cache *c = &ct->slab_cache[ct_thread_slot()][cls];
    uint32_t gen = atomic_load_explicit(&ct->slab_gen, memory_order_acquire);
    struct ct_magazine *m, *empty;

    if (__builtin_expect(c->gen != gen, 0)) {
        cache_reset(c, gen);
    }
    if (__builtin_expect(arena_gen_of(ct, p) != gen, 0)) {
        /* 'p' belongs to an older generation, which ct_slab_release() may
         * be giving back: the release waits for batches, not for frees
         * (a reclaimer, a map that grew or shrank, a tuple another
         * thread created first), so an old object may be freed after
         * its bump, into a cache that has already moved on.  Kept, it
         * would be handed out again once the region restarts at 0, over
         * memory a new arena hands out too.  Drop it: its arena goes
         * with that release, or at the next one. */
        return;
    }
    m = c->loaded;
    if (!m || m->n == MAG_SIZE) {
        if (c->prev && c->prev->n < MAG_SIZE) {
            c->loaded = c->prev;
            c->prev = m;
        } else {
            /* Both full (or none yet): the previous one goes to the
             * depot, the loaded one becomes previous, an empty one is
             * loaded. */
            ct_mutex_lock(&ct->slab_lock);
            if (c->prev) {
                c->prev->gen = c->gen;
                c->prev->next = ct->depot_full[cls];
                __atomic_store_n(&ct->depot_full[cls], c->prev,
                                 __ATOMIC_RELAXED);
            }
            empty = ct->depot_empty;
            if (empty) {
                ct->depot_empty = empty->next;
            }
            ct_mutex_unlock(&ct->slab_lock);
            if (!empty) {
                empty = malloc(sizeof *empty);
            }
            c->prev = m;
            c->loaded = empty;
            if (!empty) {
                return;         /* Out of memory: the object is lost. */
            }
            empty->n = 0;
        }
        m = c->loaded;
    }
    m->objs[m->n++] = p;
}

/* Frees a depot list of magazines.  Call with 'slab_lock' held. */
static void
free_magazines(struct ct_magazine *m)
{
    while (m) {
        struct ct_magazine *next = m->next;

        free(m);
        m = next;
    }
}

/* Unmaps every slab if the table holds no connection.  Call with no
 * bucket lock held, outside a batch, with nothing left to reclaim.
 * Returns the number of bytes given back. */
size_t
ct_slab_release(struct ovsct *ct)
{
    struct arena *a, *next, *keep = NULL;
    uint32_t old;
    size_t n = 0;

    old = atomic_fetch_add(&ct->slab_gen, 1);
    /* Threads inside a batch may still carve from old slabs: wait for
     * them; later batches see the new generation.  Then nothing can reach
     * an old object unless the table holds one. */
    ct_epoch_wait_quiescent();
    if (!ct_table_empty(ct)) {
        /* Some were created meanwhile: keep everything, and count the
         * old arenas and the depot's magazines as of the new generation,
         * so that their objects are reused rather than dropped when they
         * are freed (their memory stays mapped until a later release
         * bumps the generation past them). */
        ct_mutex_lock(&ct->slab_lock);
        for (a = ct->arenas; a; a = a->next) {
            if ((int32_t) (a->gen - old) <= 0) {
                arena_set_gen(ct, a, old + 1);
            }
        }
        for (int i = 0; i < CT_SLAB_CLASSES; i++) {
            for (struct ct_magazine *m = ct->depot_full[i]; m; m = m->next) {
                if ((int32_t) (m->gen - old) <= 0) {
                    m->gen = old + 1;
                }
            }
        }
        if (ct->slab_pool_gen == old) {
            ct->slab_pool_gen = old + 1;
        }
        ct_mutex_unlock(&ct->slab_lock);
        return 0;
    }
    ct_mutex_lock(&ct->slab_lock);
    for (int i = 0; i < CT_SLAB_CLASSES; i++) {
        free_magazines(ct->depot_full[i]);
        __atomic_store_n(&ct->depot_full[i], NULL, __ATOMIC_RELAXED);
    }
    free_magazines(ct->depot_empty);
    ct->depot_empty = NULL;
    ct->slab_pool_n = 0;        /* Old generation: released below. */
    /* Spares taken before the flush are no reason to fill the pool of an
     * empty table again. */
    atomic_store_explicit(&ct->slab_pool_taken, 0, memory_order_relaxed);
    for (a = ct->arenas; a; a = next) {
        next = a->next;
        if ((int32_t) (a->gen - old) <= 0) {
            n += a->used;
            madvise(a->base, a->size, MADV_DONTNEED);
            free(a);
        } else {
            a->next = keep;
            keep = a;
        }
    }
    ct->arenas = keep;
    if (!keep) {
        ct->region_used = 0;    /* Nothing lives in the region: reuse it. */
    }
    ct_mutex_unlock(&ct->slab_lock);
    return n;
}

/* Whether [p, p + size) lies in one arena that is laid now; sets '*gen'
 * to its generation.  For checks (ovsct_check_invariants(), tests). */
bool
ct_slab_arena_gen(struct ovsct *ct, const void *p, size_t size,
                  uint32_t *gen)
{
    const char *q = p;

    for (const struct arena *a = ct->arenas; a; a = a->next) {
        if (q >= a->base && q + size <= a->base + a->size) {
            *gen = a->gen;
            return true;
        }
    }
    return false;
}

/* Reserves the table's region (address space only: pages come when
 * touched).  Returns 0 or ENOMEM. */
int
ct_slab_init(struct ovsct *ct)
{
    void *r = mmap(NULL, CT_REGION_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (r == MAP_FAILED) {
        return ENOMEM;
    }
    ct->region = r;
    return 0;
}

/* Unmaps everything (ovsct_destroy()). */
void
ct_slab_destroy(struct ovsct *ct)
{
    struct arena *a, *next;

    ct_mutex_lock(&ct->slab_lock);
    for (a = ct->arenas; a; a = next) {
        next = a->next;
        free(a);
    }
    ct->arenas = NULL;
    ct->region_used = 0;
    for (int i = 0; i < CT_SLAB_CLASSES; i++) {
        free_magazines(ct->depot_full[i]);
        __atomic_store_n(&ct->depot_full[i], NULL, __ATOMIC_RELAXED);
    }
    free_magazines(ct->depot_empty);
    ct->depot_empty = NULL;
    ct_mutex_unlock(&ct->slab_lock);
    for (int t = 0; t < CT_MAX_THREADS; t++) {
        for (int i = 0; i < CT_SLAB_CLASSES; i++) {
            free(ct->slab_cache[t][i].loaded);
            free(ct->slab_cache[t][i].prev);
            ct->slab_cache[t][i].loaded = ct->slab_cache[t][i].prev = NULL;
        }
    }
    if (ct->region) {
        munmap(ct->region, CT_REGION_SIZE);
        ct->region = NULL;
    }
}

/* Map arrays. */

static int
block_class(size_t size)
{
    int shift = BLOCK_MIN_SHIFT;

    while ((sizeof(struct ct_slot) << shift) < size) {
        shift++;
    }
    return shift > BLOCK_MAX_SHIFT ? -1
                                   : CT_CONN_CLASSES + shift - BLOCK_MIN_SHIFT;
}

/* Returns 'size' zeroed bytes for a map array, or NULL. */
void *
ct_block_alloc(struct ovsct *ct, size_t size)
{
    int cls = block_class(size);
    void *p;

    if (cls < 0) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;      /* Already zero. */
    }
    p = ct_slab_alloc(ct, cls);
    if (p) {
        memset(p, 0, size);
    }
    return p;
}

void
ct_block_free(struct ovsct *ct, void *p, size_t size)
{
    int cls = block_class(size);

    if (!p) {
        return;
    }
    if (cls < 0) {
        munmap(p, size);
    } else {
        ct_slab_free(ct, p, cls);
    }
}
