/*
 * test_slab.c -- slab generations: no memory of a generation that
 * ct_slab_release() gives back comes out of the allocator again once
 * the release has begun (ext/slab.c, docs/reliability.md).
 *
 * A release bumps the table's slab generation, waits until no thread is
 * inside a batch, then, if the table is still empty, unmaps every arena
 * of the old generation and, with none of the new one laid yet, starts
 * the region again at offset 0.  While it waits, other threads go on:
 * they free objects of the old generation (a reclaimer, a map that
 * grows) and allocate (a batch that started after the bump).  An old
 * object that such a thread kept in its cache, or took from the depot
 * where an earlier thread left it, is handed out again later over the
 * address range that a new arena hands out too: two owners of the same
 * memory (docs/reliability.md: the hang of the ASan stress loop, a slot
 * naming an all-zero connection at a low region offset).
 *
 * The interleavings are forced, not hoped for: a thread inside a batch
 * on a second table (blocked on that table's bucket locks, which the
 * test holds; epochs are process-wide) keeps the release waiting between
 * its bump and its unmap for as long as the test needs.  Each test
 * checks that the scenario happened (the release began and, where that
 * matters, gave memory back or restarted the region), so that a change
 * that avoids it fails loudly instead of passing vacuously.
 *
 *   test_free_into_moved_on_cache()   map arrays of the old generation
 *       freed after the bump by a thread whose cache is already of the
 *       new one (the second of two frees; the first one made the cache
 *       notice the new generation);
 *   test_depot_after_bump()           a thread that allocates after the
 *       bump takes a magazine of old objects from the depot;
 *   test_connection_after_bump()      the same with public calls only
 *       (the test looks at the memory through the private header): a
 *       connection created while a release waits;
 *   test_release_kept()               a release that finds the table in
 *       use keeps the old arenas, and their objects are reused, not
 *       stranded; the release of a flush still restarts the region.
 *
 * Includes ovsct-private.h for the allocator, the bucket locks and the
 * slab generation.  Run by `make asan` (every tests/c driver) and `make
 * asan-clang`.  Prints "N passed, M failed" and exits non-zero if M > 0.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "framegen.h"
#include "ovsct.h"
#include "ovsct-private.h"

#define MAP8 (8 * sizeof(struct ct_slot))  /* The smallest map array. */
#define PLAIN 0                 /* Slab class of a plain connection. */
#define N_OLD 200               /* Old objects: > 2 magazines' worth. */
#define N_NEW 512               /* Objects a new slab hands out. */

static struct ovsct *
table(void)
{
    struct ovsct_config cfg = {
        .n_buckets = 64, .manual_clock = true, .start_ms = 1000000,
        .no_sweeper = true,
    };
    struct ovsct *ct;

    if (ovsct_create(&cfg, &ct)) {
        fprintf(stderr, "create failed\n");
        exit(1);
    }
    return ct;
}

/* Runs UDP connections [first, first + n) through 'ct' in batches of up
 * to 32 frames, committing them if 'commit'.  0 or an errno. */
static int
run_flows(struct ovsct *ct, uint32_t first, uint32_t n, bool commit)
{
    const struct ovsct_action action = { .commit = commit };
    uint8_t data[32 * FG_FRAME_LEN], states[32];
    uint32_t offsets[33];

    for (uint32_t done = 0; done < n;) {
        uint32_t k = n - done < 32 ? n - done : 32;
        struct ovsct_batch batch = {
            .data = data, .size = k * FG_FRAME_LEN, .offsets = offsets,
            .n = k,
        };
        int err;

        for (uint32_t i = 0; i <= k; i++) {
            offsets[i] = i * FG_FRAME_LEN;
            if (i < k) {
                fg_udp(data + i * FG_FRAME_LEN, first + done + i);
            }
        }
        err = ovsct_execute(ct, &batch, &action, states);
        if (err) {
            return err;
        }
        done += k;
    }
    return 0;
}

/* Every connection linked in 'ct' (up to 'max'), as addresses. */
static size_t
linked_conns(struct ovsct *ct, const void **out, size_t max)
{
    size_t n = 0;

    ct_lock_all(ct);
    for (uint32_t bi = 0; bi < ct->n_buckets; bi++) {
        const struct ct_bucket *b = &ct->buckets[bi];

        for (uint32_t i = 0; b->slots && i <= b->mask; i++) {
            if (b->slots[i].ent && !ct_ent_dir(b->slots[i].ent) && n < max) {
                out[n++] = ct_ent_conn(ct, b->slots[i].ent);
            }
        }
    }
    ct_unlock_all(ct);
    return n;
}

/* Whether [p, p + size) meets any of the 'n' objects of 'size_o' bytes
 * at 'objs'. */
static bool
overlaps(const void *p, size_t size, void *const *objs, size_t n,
         size_t size_o)
{
    for (size_t i = 0; i < n; i++) {
        const char *o = objs[i];

        if (o && (const char *) p < o + size_o && o < (const char *) p + size) {
            return true;
        }
    }
    return false;
}

static size_t
region_offset(const struct ovsct *ct, const void *p)
{
    return (size_t) ((const char *) p - ct->region);
}

/* The stall: a thread inside a batch on a second table, blocked on that
 * table's bucket locks (a look-up that misses takes its bucket's lock).
 * Epochs are process-wide: ct_slab_release() of any table waits for it. */
struct stall {
    struct ovsct *ct;
    pthread_t t;
    int err;
};

static void *
stall_main(void *arg)
{
    struct stall *s = arg;

    s->err = run_flows(s->ct, 0, 1, false);
    return NULL;
}

static void
stall_begin(struct stall *s)
{
    uint64_t before = lock_contended(s->ct);

    ct_lock_all(s->ct);
    pthread_create(&s->t, NULL, stall_main, s);
    /* It is inside its batch once it fails to take the lock. */
    wait_blocked(s->ct, before, "the stalling batch");
}

static void
stall_end(struct stall *s)
{
    ct_unlock_all(s->ct);
    pthread_join(s->t, NULL);
    CHECK(!s->err, "stalling batch: %d", s->err);
}

/* A release in its own thread: ct_slab_release() itself, or the public
 * way (ovsct_sweep_now(): the reclaimer frees what is retired and, the
 * table empty, gives the memory back). */
struct releaser {
    struct ovsct *ct;
    bool public;
    size_t result;
    pthread_t t;
};

static void *
release_main(void *arg)
{
    struct releaser *r = arg;

    r->result = r->public ? ovsct_sweep_now(r->ct) : ct_slab_release(r->ct);
    return NULL;
}

/* Starts 'r' and returns once it has bumped the generation (it then
 * waits for the stalled batch). */
static void
release_begin(struct releaser *r)
{
    uint32_t gen = atomic_load(&r->ct->slab_gen);

    pthread_create(&r->t, NULL, release_main, r);
    for (int ms = 0; atomic_load(&r->ct->slab_gen) == gen && ms < 10000;
         ms++) {
        sleep_ms(1);
    }
    CHECK(atomic_load(&r->ct->slab_gen) != gen, "the release never began");
}

/* Whether [p, p + size) lies in an arena of the current generation. */
static bool
in_current_arena(struct ovsct *ct, const void *p, size_t size)
{
    uint32_t gen;
    bool in;

    ct_mutex_lock(&ct->slab_lock);
    in = ct_slab_arena_gen(ct, p, size, &gen)
         && gen == atomic_load(&ct->slab_gen);
    ct_mutex_unlock(&ct->slab_lock);
    return in;
}

static size_t
region_used(struct ovsct *ct)
{
    size_t used;

    ct_mutex_lock(&ct->slab_lock);
    used = ct->region_used;
    ct_mutex_unlock(&ct->slab_lock);
    return used;
}

/* A thread that allocates 'n' objects with a cache of its own (a thread
 * slot nobody used on this table): map arrays of 'block' bytes, or if
 * 'block' is 0, objects of class 'cls'. */
struct allocator {
    struct ovsct *ct;
    size_t block;
    int cls;
    size_t n;
    void **objs;
};

static void *
alloc_main(void *arg)
{
    struct allocator *a = arg;

    for (size_t i = 0; i < a->n; i++) {
        a->objs[i] = a->block ? ct_block_alloc(a->ct, a->block)
                              : ct_slab_alloc(a->ct, a->cls);
    }
    return NULL;
}

static void
alloc_in_thread(struct ovsct *ct, size_t block, int cls, void **objs,
                size_t n)
{
    struct allocator a = { .ct = ct, .block = block, .cls = cls, .n = n,
                           .objs = objs };
    pthread_t t;

    pthread_create(&t, NULL, alloc_main, &a);
    pthread_join(t, NULL);
}

/* Two map arrays allocated long before a release and freed while it
 * waits: the first free makes this thread's cache notice the new
 * generation, the second one finds it of the new generation already.
 * Kept, that array comes back to this thread after the release gave its
 * arena back and restarted the region, while a new arena hands the same
 * bytes out to another thread. */
static void
test_free_into_moved_on_cache(void)
{
    struct ovsct *ct = table(), *other = table();
    struct stall s = { .ct = other };
    struct releaser r = { .ct = ct };
    void *old[2], *again, *fresh[N_NEW];

    old[0] = ct_block_alloc(ct, MAP8);
    old[1] = ct_block_alloc(ct, MAP8);
    CHECK(old[0] && old[1], "map arrays");

    stall_begin(&s);
    release_begin(&r);
    ct_block_free(ct, old[0], MAP8);
    ct_block_free(ct, old[1], MAP8);
    stall_end(&s);
    pthread_join(r.t, NULL);
    CHECK(r.result > 0, "the release gave nothing back");
    CHECK(region_used(ct) == 0, "the region did not restart: %zu bytes "
          "used", region_used(ct));

    again = ct_block_alloc(ct, MAP8);
    CHECK(again && in_current_arena(ct, again, MAP8),
          "a map array came out of the allocator outside every arena of "
          "the current generation (region offset %zu)",
          region_offset(ct, again));
    alloc_in_thread(ct, MAP8, 0, fresh, N_NEW);
    CHECK(fresh[N_NEW - 1], "allocations after the release");
    CHECK(!overlaps(again, MAP8, fresh, N_NEW, MAP8),
          "region offset %zu handed out twice: to this thread from its "
          "cache, and to another from a new slab", region_offset(ct, again));
    ovsct_destroy(ct);
    ovsct_destroy(other);
}

/* Objects of the old generation in the depot (more than two magazines
 * freed by one thread) when a release begins: a thread that allocates
 * while the release waits must not get one, nor keep one for later. */
struct depot_user {
    struct ovsct *ct;
    void *first, *later;
    atomic_int step;            /* 1: allocate again; 2: done. */
};

static void *
depot_user_main(void *arg)
{
    struct depot_user *u = arg;

    u->first = ct_slab_alloc(u->ct, PLAIN);
    ct_slab_free(u->ct, u->first, PLAIN);
    atomic_store(&u->step, 1);
    while (atomic_load(&u->step) != 2) {
        sleep_ms(1);
    }
    u->later = ct_slab_alloc(u->ct, PLAIN);
    return NULL;
}

static void
test_depot_after_bump(void)
{
    struct ovsct *ct = table(), *other = table();
    struct stall s = { .ct = other };
    struct releaser r = { .ct = ct };
    struct depot_user u = { .ct = ct };
    size_t size = ct_slab_obj_size(PLAIN);
    void *old[N_OLD], *fresh[N_NEW];
    pthread_t t;

    for (int i = 0; i < N_OLD; i++) {
        old[i] = ct_slab_alloc(ct, PLAIN);
    }
    CHECK(old[N_OLD - 1], "objects");
    for (int i = 0; i < N_OLD; i++) {
        ct_slab_free(ct, old[i], PLAIN);
    }
    ct_mutex_lock(&ct->slab_lock);
    CHECK(ct->depot_full[PLAIN], "no magazine in the depot");
    ct_mutex_unlock(&ct->slab_lock);

    stall_begin(&s);
    release_begin(&r);
    pthread_create(&t, NULL, depot_user_main, &u);
    while (atomic_load(&u.step) != 1) {
        sleep_ms(1);
    }
    CHECK(u.first && !overlaps(u.first, size, old, N_OLD, size)
          && in_current_arena(ct, u.first, size),
          "an object of the generation being given back came out of the "
          "allocator after the release began (region offset %zu)",
          region_offset(ct, u.first));
    stall_end(&s);
    pthread_join(r.t, NULL);
    CHECK(r.result > 0, "the release gave nothing back");

    atomic_store(&u.step, 2);
    pthread_join(t, NULL);
    alloc_in_thread(ct, 0, PLAIN, fresh, N_NEW);
    CHECK(u.later && fresh[N_NEW - 1], "allocations after the release");
    CHECK(!overlaps(u.later, size, fresh, N_NEW, size),
          "region offset %zu handed out twice: from a cache that took it "
          "from the depot while the release waited, and from a new slab",
          region_offset(ct, u.later));
    ovsct_destroy(ct);
    ovsct_destroy(other);
}

/* The depot case through the public API: connections flushed (their
 * memory retired while a batch ran, so that the flush could not free
 * it), then freed by the reclaimer of ovsct_sweep_now(), which finds
 * the table empty and releases; a connection created while the release
 * waits must not be laid in the memory of a flushed one. */
static void
test_connection_after_bump(void)
{
    struct ovsct *ct = table(), *other = table();
    struct stall s = { .ct = other };
    struct releaser r = { .ct = ct, .public = true };
    const void *old[N_OLD], *now[N_OLD + 1];
    size_t n_old, n_now, flushed, size = ct_slab_obj_size(PLAIN);
    char why[512] = "";

    CHECK(!run_flows(ct, 0, N_OLD, true), "create");
    n_old = linked_conns(ct, old, N_OLD);
    CHECK(n_old == N_OLD, "%zu connections linked", n_old);

    /* Flush with a batch running: the connections wait in the
     * reclaimer's lists. */
    stall_begin(&s);
    CHECK(!ovsct_flush(ct, NULL, &flushed) && flushed == N_OLD, "flush");
    stall_end(&s);
    CHECK(!ct_retire_empty(ct), "the flush freed its connections at once");

    /* A batch entered after the flush keeps the release waiting; the
     * reclaimer frees the flushed connections, then releases. */
    stall_begin(&s);
    release_begin(&r);
    CHECK(!run_flows(ct, 100000, 1, true), "create during the release");
    n_now = linked_conns(ct, now, N_OLD + 1);
    CHECK(n_now == 1, "%zu connections linked", n_now);
    for (size_t i = 0; i < n_now; i++) {
        CHECK(!overlaps(now[i], size, (void *const *) old, n_old, size)
              && in_current_arena(ct, now[i], size),
              "a connection created after the release began lies in the "
              "memory of a flushed one (region offset %zu)",
              region_offset(ct, now[i]));
    }
    stall_end(&s);
    pthread_join(r.t, NULL);
    CHECK(!ovsct_check_invariants(ct, why, sizeof why), "invariants: %s",
          why);
    CHECK(ovsct_nconns(ct) == 1, "%u connections", ovsct_nconns(ct));
    ovsct_destroy(ct);
    ovsct_destroy(other);
}

/* A release that finds the table in use again after its wait (a
 * connection was created while it waited) keeps every arena; an object of
 * the old generation freed after it is reused, not stranded (no new slab
 * is laid for the next allocation).  Once the table is empty again, its
 * release gives everything back and restarts the region. */
static void
test_release_kept(void)
{
    struct ovsct *ct = table(), *other = table();
    struct stall s = { .ct = other };
    struct releaser r = { .ct = ct };
    void *o, *again;
    size_t used, flushed;

    o = ct_slab_alloc(ct, PLAIN);
    CHECK(o, "object");

    stall_begin(&s);
    release_begin(&r);
    CHECK(!run_flows(ct, 0, 1, true), "create during the release");
    stall_end(&s);
    pthread_join(r.t, NULL);
    CHECK(r.result == 0, "a table in use gave %zu bytes back", r.result);
    CHECK(ovsct_nconns(ct) == 1, "%u connections", ovsct_nconns(ct));
    used = region_used(ct);

    ct_slab_free(ct, o, PLAIN);
    again = ct_slab_alloc(ct, PLAIN);
    CHECK(again == o, "the object freed after the kept release was not "
          "reused (region offset %zu, then %zu)", region_offset(ct, o),
          region_offset(ct, again));
    CHECK(region_used(ct) == used, "a new arena was laid: %zu bytes used, "
          "%zu before", region_used(ct), used);

    ct_slab_free(ct, again, PLAIN);
    CHECK(!ovsct_flush(ct, NULL, &flushed) && flushed == 1, "flush");
    CHECK(region_used(ct) == 0, "the flush's release did not restart the "
          "region: %zu bytes used", region_used(ct));
    ovsct_destroy(ct);
    ovsct_destroy(other);
}

int
main(void)
{
    fg_init();
    test_free_into_moved_on_cache();
    test_depot_after_bump();
    test_connection_after_bump();
    test_release_kept();
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}
