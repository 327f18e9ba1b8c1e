/*
 * bench_main.c -- ovsct's benchmark driver (bench/bench.c) as a plain C
 * program, without Python: for builds with other compile-time options,
 * such as the bucket lock kind (benchmarks/lock_kinds.py) or sanitizers.
 *
 *     bench_main PHASE [CONNS [THREADS [BATCH [BUCKETS [SWEEP_MS
 *                [SPREAD_MS]]]]]]
 *
 * Prints the driver's JSON object on stdout; exits 0 if every correctness
 * check passed, 1 otherwise, 2 on bad usage.  Build (`make check-ext`
 * builds it as build/c/bench_main):
 *
 *     cc -std=gnu11 -O2 -D_GNU_SOURCE -pthread -Iext -Ibench \
 *         benchmarks/bench_main.c ext/[a-z]*.c bench/[a-z]*.c -lm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define JSON_SIZE (1 << 16)

int
main(int argc, char *argv[])
{
    struct ovsct_bench_params p = {
        .phase = "standard", .conns = 1000000, .threads = 1, .batch = 32,
    };
    uint32_t *fields[] = {
        &p.conns, &p.threads, &p.batch, &p.buckets, &p.sweep_interval_ms,
        &p.spread_ms,
    };
    char *json;
    int error;

    if (argc < 2 || argc > 8 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: %s PHASE [CONNS [THREADS [BATCH [BUCKETS "
                "[SWEEP_MS [SPREAD_MS]]]]]]\n", argv[0]);
        return 2;
    }
    p.phase = argv[1];
    for (int i = 2; i < argc; i++) {
        char *end;
        unsigned long v = strtoul(argv[i], &end, 0);

        if (*end || !argv[i][0] || v > UINT32_MAX) {
            fprintf(stderr, "%s: bad number '%s'\n", argv[0], argv[i]);
            return 2;
        }
        *fields[i - 2] = v;
    }
    json = calloc(1, JSON_SIZE);
    if (!json) {
        return 1;
    }
    error = ovsct_bench_run(&p, json, JSON_SIZE);
    puts(json);
    error = error || !strstr(json, "\"ok\": true");
    free(json);
    return error ? 1 : 0;
}
