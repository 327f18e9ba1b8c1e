/*
 * floor.c -- what inserting and looking up 1M connections costs with no
 * connection tracking at all: the floor that ovsct's packet path is
 * measured against (docs/benchmarks.md, "Packet path at the floor").
 *
 *     floor [CONNS [REPEAT]]          (defaults 1000000, 5)
 *
 * The bare work, done as well as we know how on one thread:
 *   - keys: the engine's 40-byte struct ct_key (ext/packet.h), built
 *     directly for connection 'id' as the benchmark frames would parse
 *     (fg_endpoint() in bench/framegen.h: 10.x.y.z:sport -> 192.168.0.1:
 *     5000, UDP), so no frame is built or parsed;
 *   - hash: the engine's own key hash (ct_key_hash(), ext/keyhash.h);
 *   - memory: objects of the size of a plain struct ct_conn (80 bytes)
 *     carved in order from 2 MiB slabs, each faulted in with one
 *     MADV_POPULATE_WRITE as the engine's slab.c does; the key is copied
 *     into the object;
 *   - table: one open-addressing array (linear probing) of 12-byte slots
 *     {hash, spare, 32-bit handle}, like a map slot of the engine, sized
 *     up front to 2x the connections (no resize, no buckets, no locks);
 *   - batches of 32 keys in stages: hash all, prefetch their slots, then
 *     insert (or, for look-ups, read the slots, prefetch the objects,
 *     then compare the keys).
 * No state, no expiry, no counters, no admission.
 *
 * Prints one JSON object: median and best of REPEAT runs (fresh table and
 * memory each time) of the insert and of the look-up pass, in ms.  Built
 * against the engine sources for the key layout and the hash:
 *
 *     cc -std=gnu11 -O2 -D_GNU_SOURCE -pthread -Iext -Ibench \
 *         benchmarks/floor.c ext/[a-z]*.c -lm -o build/c/floor
 *
 * (`make check-ext` builds it as build/c/floor.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "framegen.h"
#include "ovsct-private.h"
#include "probes.h"

#define BATCH 32
#define OBJ_SIZE sizeof(struct ct_conn)
#define SLAB_SIZE (2 * 1024 * 1024)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct slot {
    uint32_t hash;
    uint32_t spare;
    uint32_t ent;               /* Object index + 1; 0: empty. */
};

struct floor {
    const struct ovsct *ct;     /* For its hash seed only. */
    struct slot *slots;
    uint32_t mask;
    char *mem;                  /* Object memory, reserved. */
    size_t carved, populated, reserved;
};

static void
key_of(uint32_t id, struct ct_key *k)
{
    uint32_t src;
    uint16_t sport;

    fg_endpoint(id, &src, &sport);
    memset(k, 0, sizeof *k);
    k->src[0] = htonl(src);
    k->dst[0] = htonl(0xc0a80001);
    k->sport = htons(sport);
    k->dport = htons(5000);
    k->nw_proto = 17;
    k->l3 = 4;
}

static void *
obj_alloc(struct floor *f)
{
    if (f->carved + OBJ_SIZE > f->populated) {
        madvise(f->mem + f->populated, SLAB_SIZE, MADV_POPULATE_WRITE);
        f->populated += SLAB_SIZE;
    }
    f->carved += OBJ_SIZE;
    return f->mem + f->carved - OBJ_SIZE;
}

static void
insert_batch(struct floor *f, uint32_t id, uint32_t n)
{
    struct ct_key keys[BATCH];
    uint32_t hashes[BATCH];

    for (uint32_t i = 0; i < n; i++) {
        key_of(id + i, &keys[i]);
        hashes[i] = ct_key_hash(f->ct, &keys[i]);
        __builtin_prefetch(&f->slots[hashes[i] & f->mask], 1);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = hashes[i] & f->mask;
        char *o;

        while (f->slots[j].ent) {
            j = (j + 1) & f->mask;
        }
        o = obj_alloc(f);
        memcpy(o, &keys[i], sizeof keys[i]);
        f->slots[j].hash = hashes[i];
        f->slots[j].ent = (uint32_t) ((o - f->mem) / OBJ_SIZE + 1);
    }
}

static uint32_t
lookup_batch(struct floor *f, uint32_t id, uint32_t n)
{
    struct ct_key keys[BATCH];
    uint32_t hashes[BATCH];
    uint32_t found = 0;

    for (uint32_t i = 0; i < n; i++) {
        key_of(id + i, &keys[i]);
        hashes[i] = ct_key_hash(f->ct, &keys[i]);
        __builtin_prefetch(&f->slots[hashes[i] & f->mask]);
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct slot *s = &f->slots[hashes[i] & f->mask];

        if (s->ent && s->hash == hashes[i]) {
            __builtin_prefetch(f->mem + (size_t) (s->ent - 1) * OBJ_SIZE);
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t j = hashes[i] & f->mask; f->slots[j].ent;
             j = (j + 1) & f->mask) {
            const char *o = f->mem + (size_t) (f->slots[j].ent - 1)
                            * OBJ_SIZE;

            if (f->slots[j].hash == hashes[i]
                && !memcmp(o, &keys[i], sizeof keys[i])) {
                found++;
                break;
            }
        }
    }
    return found;
}

static int
cmp_u64(const void *a_, const void *b_)
{
    uint64_t a = *(const uint64_t *) a_, b = *(const uint64_t *) b_;

    return a < b ? -1 : a > b;
}

int
main(int argc, char *argv[])
{
    uint32_t conns = argc > 1 ? (uint32_t) strtoul(argv[1], NULL, 0)
                              : 1000000;
    uint32_t repeat = argc > 2 ? (uint32_t) strtoul(argv[2], NULL, 0) : 5;
    struct ovsct *ct = calloc(1, sizeof *ct);
    uint64_t *ins = calloc(repeat, sizeof *ins);
    uint64_t *look = calloc(repeat, sizeof *look);
    uint64_t found = 0;

    if (!conns || !repeat || !ct || !ins || !look) {
        fprintf(stderr, "usage: %s [CONNS [REPEAT]]\n", argv[0]);
        return 2;
    }
    fg_init();
    ct->seed = 0x5eed5eed12345678ULL;
    for (uint32_t r = 0; r < repeat; r++) {
        struct floor f = { .ct = ct };
        uint32_t cap = 1;
        uint64_t t0;

        while (cap < 2 * conns) {
            cap <<= 1;
        }
        f.mask = cap - 1;
        f.reserved = ((size_t) conns * OBJ_SIZE / SLAB_SIZE + 2) * SLAB_SIZE;
        f.mem = mmap(NULL, f.reserved, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        f.slots = mmap(NULL, (size_t) cap * sizeof *f.slots,
                       PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (f.mem == MAP_FAILED || f.slots == MAP_FAILED) {
            fprintf(stderr, "%s: out of memory\n", argv[0]);
            return 1;
        }
        t0 = probe_now_ns();
        for (uint32_t id = 0; id < conns; id += BATCH) {
            insert_batch(&f, id, conns - id < BATCH ? conns - id : BATCH);
        }
        ins[r] = probe_now_ns() - t0;
        t0 = probe_now_ns();
        found = 0;
        for (uint32_t id = 0; id < conns; id += BATCH) {
            found += lookup_batch(&f, id,
                                  conns - id < BATCH ? conns - id : BATCH);
        }
        look[r] = probe_now_ns() - t0;
        munmap(f.mem, f.reserved);
        munmap(f.slots, (size_t) cap * sizeof *f.slots);
        if (found != conns) {
            fprintf(stderr, "%s: found %llu of %u\n", argv[0],
                    (unsigned long long) found, conns);
            return 1;
        }
    }
    qsort(ins, repeat, sizeof *ins, cmp_u64);
    qsort(look, repeat, sizeof *look, cmp_u64);
    printf("{\"phase\": \"floor\", \"connections\": %u, \"repeat\": %u, "
           "\"insert_ms_median\": %.1f, \"insert_ms_best\": %.1f, "
           "\"lookup_ms_median\": %.1f, \"lookup_ms_best\": %.1f}\n",
           conns, repeat, ins[repeat / 2] / 1e6, ins[0] / 1e6,
           look[repeat / 2] / 1e6, look[0] / 1e6);
    free(ins);
    free(look);
    free(ct);
    return 0;
}
