/*
 * pcap_reader.c -- libFuzzer harness for the capture reader
 * (ovsct_pcap_load(): classic pcap in both byte orders and both time
 * resolutions, pcapng with any number of sections and interfaces).
 *
 * The input is the file's bytes, handed over through a memfd so that the
 * reader runs its real stdio path.  Besides "no crash, no leak": an error
 * comes with a message naming the file and leaves the outputs empty; a
 * success gives offsets that start at 0, never decrease and end at the
 * size, and the frames then go through the engine (a table with a manual
 * clock) and the invariant check.  Frames loaded from a file and written
 * back with ovsct_pcap_write() must load again to the same bytes.
 *
 * Built and run by mk/fuzz.mk (`make fuzz-pcap_reader`); seed corpus in
 * tests/fuzz/corpus/pcap_reader/ (the test captures and crafted damaged
 * ones).
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ovsct.h"
#include "pcap.h"
#include "fuzzlib.h"

static int mem_fd = -1;
static char mem_path[64];

/* Loads 'size' bytes of 'data' as a capture file. */
static int
load_bytes(const uint8_t *data, size_t size, uint8_t **frames,
           size_t *frames_size, uint32_t **offsets, size_t *n, char *err,
           size_t err_size)
{
    if (mem_fd < 0) {
        mem_fd = memfd_create("fuzz-pcap", 0);
        if (mem_fd < 0) {
            fz_fail("memfd_create: %d", errno);
        }
        snprintf(mem_path, sizeof mem_path, "/proc/self/fd/%d", mem_fd);
    }
    if (ftruncate(mem_fd, 0) || (size && pwrite(mem_fd, data, size, 0)
                                 != (ssize_t) size)) {
        fz_fail("memfd write: %d", errno);
    }
    return ovsct_pcap_load(mem_path, frames, frames_size, offsets, n, err,
                           err_size);
}

static void
run_frames(uint8_t *frames, size_t size, const uint32_t *offsets, size_t n)
{
    struct ovsct_config cfg = {
        .n_buckets = 4, .manual_clock = true, .start_ms = 1000,
        .no_sweeper = true,
    };
    struct ovsct_action action = { .commit = true };
    struct ovsct_batch batch = {
        .data = frames, .size = size, .offsets = offsets, .n = n,
    };
    uint8_t *states = malloc(n ? n : 1);
    struct ovsct *ct;
    char why[512];

    if (!states || ovsct_create(&cfg, &ct)) {
        fz_fail("setup");
    }
    if (ovsct_execute(ct, &batch, &action, states)) {
        fz_fail("execute refused the loaded batch");
    }
    if (ovsct_check_invariants(ct, why, sizeof why)) {
        fz_fail("invariants: %s", why);
    }
    ovsct_destroy(ct);
    free(states);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *frames = (uint8_t *) 1, *again = NULL;
    uint32_t *offsets = (uint32_t *) 1, *offsets2 = NULL;
    size_t fsize = 1, n = 1, fsize2, n2;
    char err[256] = "";
    int error;

    error = load_bytes(data, size, &frames, &fsize, &offsets, &n, err,
                       sizeof err);
    if (error) {
        if (frames || offsets || fsize || n) {
            fz_fail("error %d left outputs behind", error);
        }
        if (!strstr(err, "/proc/self/fd/")) {
            fz_fail("error %d without a message naming the file: '%s'",
                    error, err);
        }
        return 0;
    }
    if (!offsets || offsets[0] != 0 || offsets[n] != fsize) {
        fz_fail("offsets do not span the %zu bytes", fsize);
    }
    for (size_t i = 0; i < n; i++) {
        if (offsets[i + 1] < offsets[i]) {
            fz_fail("offset %zu decreases", i + 1);
        }
    }

    /* Round trip through the writer, into a second memfd. */
    static char out_path[64];
    if (!out_path[0]) {
        int fd = memfd_create("fuzz-pcap-out", 0);
        if (fd < 0) {
            fz_fail("memfd_create: %d", errno);
        }
        snprintf(out_path, sizeof out_path, "/proc/self/fd/%d", fd);
    }
    if (ovsct_pcap_write(out_path, frames, offsets, n)) {
        fz_fail("pcap_write failed");
    }
    error = ovsct_pcap_load(out_path, &again, &fsize2, &offsets2, &n2, err,
                            sizeof err);
    if (error || n2 != n || fsize2 != fsize
        || (fsize && memcmp(again, frames, fsize))
        || memcmp(offsets2, offsets, (n + 1) * sizeof *offsets)) {
        fz_fail("write + load changed the frames (%d: %s)", error, err);
    }
    free(again);
    free(offsets2);

    run_frames(frames, fsize, offsets, n);
    free(frames);
    free(offsets);
    return 0;
}
