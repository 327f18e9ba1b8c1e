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
 * arrays -- are carved from slabs obtained with mmap() (256 KiB, or eight
 * objects for the big classes); bigger map arrays are mapped directly.  Each thread slot
 * has a private cache per class: a free list and the uncarved rest of its
 * current slab, used without any lock.  A thread that frees more than
 * CACHE_HIGH objects moves a batch of BATCH to the class's depot, and a
 * thread whose cache is empty takes a batch from there; the depot and the
 * slab list are under 'lock', taken once per BATCH objects.
 *
 * Giving memory back: when the table is empty (after a flush, once the
 * reclaimer has freed everything), ct_slab_release() bumps the slab
 * generation, waits until no thread is inside a batch, and unmaps every
 * slab of the old generation if the table is still empty.  Caches notice
 * the new generation on their next use and forget their old lists without
 * touching them.  Neighbours: conntrack.c (conn_alloc), epoch.c (frees).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ovsct-private.h"

#define SLAB_MIN_SIZE (256 * 1024)
#define CACHE_HIGH 256
#define BATCH 64
#define BLOCK_MIN_SHIFT 7       /* Map arrays: 128 B ... */
#define BLOCK_MAX_SHIFT 17      /* ... 128 KiB from slabs, bigger mapped. */

/* A slab (descriptor kept outside the slab so that all of it is usable). */
struct slab {
    struct slab *next;          /* In 'slabs', under 'slab_lock'. */
    void *base;
    size_t size;
    uint32_t gen;               /* Generation it was mapped in. */
};

/* Links of a free object (overlaid on the object's first bytes). */
struct free_obj {
    struct free_obj *next;      /* Next in a free list or batch. */
    struct free_obj *next_batch;        /* Depot only: next batch. */
};

size_t
ct_slab_obj_size(int cls)
{
    size_t size = sizeof(struct ct_conn);

    if (cls >= CT_CONN_CLASSES) {
        return (size_t) 1 << (cls - CT_CONN_CLASSES + BLOCK_MIN_SHIFT);
    }
    if (cls & CT_EXT_TCP) {
        size += 2 * sizeof(struct ct_tcp_peer);
    }
    if (cls & CT_EXT_NAT) {
        size += sizeof(struct ct_key);
    }
    return (size + 7) & ~(size_t) 7;
}

static void
cache_reset(struct ct_slab_cache *c, uint32_t gen)
{
    c->free = NULL;
    c->n_free = 0;
    c->carve = c->carve_end = NULL;
    c->gen = gen;
}

static size_t
slab_size(size_t obj_size)
{
    return obj_size * 8 > SLAB_MIN_SIZE ? obj_size * 8 : SLAB_MIN_SIZE;
}

/* Maps a new slab for class 'cls' and makes it 'c''s carving area. */
static int
slab_new(struct ovsct *ct, struct ct_slab_cache *c, int cls)
{
    size_t size = slab_size(ct_slab_obj_size(cls));
    struct slab *s = malloc(sizeof *s);
    void *base;

    if (!s) {
        return ENOMEM;
    }
    /* MAP_POPULATE: one fault-in for the whole slab instead of one page
     * fault per 4 KiB on the packet path. */
    base = mmap(NULL, size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (base == MAP_FAILED) {
        free(s);
        return ENOMEM;
    }
    s->base = base;
    s->size = size;
    s->gen = c->gen;
    ct_mutex_lock(&ct->slab_lock);
    s->next = ct->slabs;
    ct->slabs = s;
    ct->n_slabs++;
    ct_mutex_unlock(&ct->slab_lock);
    c->carve = base;
    c->carve_end = (char *) base + size;
    return 0;
}

void *
ct_slab_alloc(struct ovsct *ct, int cls)
{
    struct ct_slab_cache *c = &ct->slab_cache[ct_thread_slot()][cls];
    uint32_t gen = atomic_load_explicit(&ct->slab_gen, memory_order_acquire);
    size_t size = ct_slab_obj_size(cls);
    struct free_obj *o;

    if (c->gen != gen) {
        cache_reset(c, gen);
    }
    if (!c->free) {
        ct_mutex_lock(&ct->slab_lock);
        o = ct->depot[cls];
        if (o) {
            ct->depot[cls] = o->next_batch;
            c->free = o;
            c->n_free = BATCH;
        }
        ct_mutex_unlock(&ct->slab_lock);
    }
    if (c->free) {
        o = c->free;
        c->free = o->next;
        c->n_free--;
        return o;
    }
    if (c->carve + size > c->carve_end && slab_new(ct, c, cls)) {
        return NULL;
    }
    o = (struct free_obj *) c->carve;
    c->carve += size;
    return o;
}

void
ct_slab_free(struct ovsct *ct, void *p, int cls)
{
    struct ct_slab_cache *c = &ct->slab_cache[ct_thread_slot()][cls];
    uint32_t gen = atomic_load_explicit(&ct->slab_gen, memory_order_acquire);
    struct free_obj *o = p;

    if (c->gen != gen) {
        cache_reset(c, gen);
    }
    o->next = c->free;
    c->free = o;
    if (++c->n_free >= CACHE_HIGH) {
        /* Move BATCH objects to the depot as one batch. */
        struct free_obj *head = c->free, *tail = head;

        for (int i = 1; i < BATCH; i++) {
            tail = tail->next;
        }
        c->free = tail->next;
        c->n_free -= BATCH;
        tail->next = NULL;
        ct_mutex_lock(&ct->slab_lock);
        head->next_batch = ct->depot[cls];
        ct->depot[cls] = head;
        ct_mutex_unlock(&ct->slab_lock);
    }
}

/* Unmaps every slab if the table holds no connection.  Call with no
 * bucket lock held, outside a batch, with nothing left to reclaim.
 * Returns the number of bytes given back. */
size_t
ct_slab_release(struct ovsct *ct)
{
    struct slab *s, *next, *keep = NULL;
    uint32_t old;
    size_t n = 0;

    old = atomic_fetch_add(&ct->slab_gen, 1);
    /* Threads inside a batch may still carve from old slabs: wait for
     * them; later batches see the new generation.  Then nothing can reach
     * an old object unless the table holds one. */
    ct_epoch_wait_quiescent();
    if (!ct_table_empty(ct)) {
        return 0;               /* Some were created meanwhile: keep. */
    }
    ct_mutex_lock(&ct->slab_lock);
    for (int i = 0; i < CT_SLAB_CLASSES; i++) {
        ct->depot[i] = NULL;
    }
    for (s = ct->slabs; s; s = next) {
        next = s->next;
        if ((int32_t) (s->gen - old) <= 0) {
            munmap(s->base, s->size);
            ct->n_slabs--;
            n += s->size;
            free(s);
        } else {
            s->next = keep;
            keep = s;
        }
    }
    ct->slabs = keep;
    ct_mutex_unlock(&ct->slab_lock);
    return n;
}

/* Unmaps everything (ovsct_destroy()). */
void
ct_slab_destroy(struct ovsct *ct)
{
    struct slab *s, *next;

    ct_mutex_lock(&ct->slab_lock);
    for (s = ct->slabs; s; s = next) {
        next = s->next;
        munmap(s->base, s->size);
        free(s);
    }
    ct->slabs = NULL;
    ct->n_slabs = 0;
    ct_mutex_unlock(&ct->slab_lock);
}

/* Map arrays. */

static int
block_class(size_t size)
{
    int shift = BLOCK_MIN_SHIFT;

    while (((size_t) 1 << shift) < size) {
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
