/*
 * check.h -- the counting CHECK() of the C test drivers that force
 * interleavings (test_clock.c, test_invariant.c, test_slab.c): a failed
 * check prints where and why and is counted; the driver prints the
 * totals and exits non-zero if any failed.
 */
#ifndef OVSCT_TESTS_CHECK_H
#define OVSCT_TESTS_CHECK_H 1

#include <stdio.h>

static int n_passed, n_failed;

#define CHECK(COND, ...)                                                \
    do {                                                                \
        if (COND) {                                                     \
            n_passed++;                                                 \
        } else {                                                        \
            n_failed++;                                                 \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,      \
                    __LINE__, #COND);                                   \
            fprintf(stderr, __VA_ARGS__);                               \
            fputc('\n', stderr);                                        \
        }                                                               \
    } while (0)

#endif /* check.h */
