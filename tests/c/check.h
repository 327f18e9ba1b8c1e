/*
 * check.h -- what the C test drivers that force interleavings share
 * (test_clock.c, test_invariant.c, test_slab.c): the counting CHECK() (a
 * failed check prints where and why and is counted; the driver prints
 * the totals and exits non-zero if any failed), a millisecond sleep, and
 * the wait for a thread to block on a bucket lock the test holds.
 */
#ifndef OVSCT_TESTS_CHECK_H
#define OVSCT_TESTS_CHECK_H 1

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ovsct.h"

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

static inline void
sleep_ms(long ms)
{
    nanosleep(&(struct timespec) { .tv_sec = ms / 1000,
                                   .tv_nsec = (ms % 1000) * 1000000L },
              NULL);
}

/* How often a thread of 'ct' found a bucket lock taken. */
static inline uint64_t
lock_contended(struct ovsct *ct)
{
    struct ovsct_counters c;

    ovsct_get_counters(ct, &c);
    return c.lock_contended;
}

/* Waits (10 s at most) until a thread of 'ct' has found a bucket lock
 * taken since the count was 'before' (lock_contended()): the thread the
 * test started is then stopped on the lock the test holds.  Checks that
 * it happened; 'who' names the thread in the failure. */
static inline void
wait_blocked(struct ovsct *ct, uint64_t before, const char *who)
{
    for (int ms = 0; lock_contended(ct) == before && ms < 10000; ms++) {
        sleep_ms(1);
    }
    CHECK(lock_contended(ct) != before, "%s never waited", who);
}

#endif /* check.h */
