/*
 * bench.h -- the C benchmark driver behind `ovsct bench` (bench.c).
 *
 * The driver uses the engine's public contract (ext/ovsct.h) only.  It is
 * built into its own extension module, ovsct._bench (binding/bench.c,
 * with the engine sources compiled in), and into the plain C program
 * benchmarks/bench_main.c.  Neighbours: framegen.h (frames), probes.h
 * (timing and memory), benchmarks/ovs_driver.c (the same workload
 * against OVS).
 */
#ifndef OVSCT_BENCH_H
#define OVSCT_BENCH_H 1

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs 'phase' ("standard", "aging", ...) with C threads and writes one
 * JSON object with the results to 'json'.  Returns 0, EINVAL for bad
 * parameters (message in 'json'), or ENOMEM. */
struct ovsct_bench_params {
    const char *phase;
    uint32_t conns;
    uint32_t threads;
    uint32_t batch;
    uint32_t buckets;           /* 0: default. */
    uint32_t sweep_interval_ms; /* 0: default. */
    uint32_t spread_ms;         /* "aging": creation times spread over this
                                 * many ms (0: all at once). */
};
int ovsct_bench_run(const struct ovsct_bench_params *, char *json,
                    size_t json_size);

#ifdef __cplusplus
}
#endif

#endif /* bench.h */
