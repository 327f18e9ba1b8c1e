/* fuzzlib.h -- shared by the libFuzzer harnesses of tests/fuzz/ (each is
 * its own program, built by mk/fuzz.mk; this header is included, never
 * built alone).
 *
 * A harness reads its input as a stream of decisions with the fz_*()
 * readers: past the end every read gives 0, so any byte string is a valid
 * input and a longer one only adds decisions.  A broken promise of the
 * engine is reported with fz_fail(), which prints and aborts so that
 * libFuzzer saves the input as a crash. */
#ifndef OVSCT_FUZZLIB_H
#define OVSCT_FUZZLIB_H 1

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
    const uint8_t *data;
    size_t size;
    size_t pos;
};

static inline bool
fz_more(const struct fz *f)
{
    return f->pos < f->size;
}

static inline uint8_t
fz_u8(struct fz *f)
{
    return f->pos < f->size ? f->data[f->pos++] : 0;
}

static inline uint16_t
fz_u16(struct fz *f)
{
    uint16_t hi = fz_u8(f);

    return (uint16_t) (hi << 8 | fz_u8(f));
}

static inline uint32_t
fz_u32(struct fz *f)
{
    uint32_t hi = fz_u16(f);

    return hi << 16 | fz_u16(f);
}

/* One of 'n' choices (n >= 1). */
static inline unsigned
fz_pick(struct fz *f, unsigned n)
{
    return fz_u8(f) % n;
}

/* Copies up to 'n' input bytes to 'buf' and returns how many. */
static inline size_t
fz_bytes(struct fz *f, uint8_t *buf, size_t n)
{
    size_t left = f->size - f->pos;

    if (n > left) {
        n = left;
    }
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    return n;
}

static inline void __attribute__((noreturn, format(printf, 1, 2)))
fz_fail(const char *format, ...)
{
    va_list args;

    fputs("FUZZ FAILURE: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    abort();
}

#endif /* fuzzlib.h */
