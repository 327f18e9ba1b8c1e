/* testlib.h -- small helpers shared by the standalone C test drivers in
 * tests/c/ (each is its own program; this header is included, never
 * built alone). */
#ifndef OVSCT_TESTLIB_H
#define OVSCT_TESTLIB_H 1

#include <stddef.h>
#include <stdint.h>

/* Reference Internet checksum: byte pairs, one at a time, so that it
 * shares nothing with the engine's word-at-a-time sums.  Add with
 * ref_sum(), then fold with ref_fold() (complement it for the field). */
static inline uint32_t
ref_sum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t) (p[i] << 8 | p[i + 1]);
    }
    if (n % 2) {
        sum += (uint32_t) p[n - 1] << 8;
    }
    return sum;
}

static inline uint16_t
ref_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) sum;
}

#endif /* testlib.h */
