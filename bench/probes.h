/*
 * probes.h -- timing and memory probes shared by the benchmark driver
 * (bench/bench.c) and the OVS comparison driver
 * (benchmarks/ovs_driver.c), so that both measure the same way.
 *
 * Header only (static inline), C library only.  Times are CLOCK_MONOTONIC
 * (wall) or the thread's / process's CPU clock, in ns.  Memory is read
 * from /proc/self/statm (mapped size, resident set) and mallinfo2()
 * (malloc in-use bytes, blind to mmap()ed memory the allocator does not
 * manage).
 */
#ifndef OVSCT_PROBES_H
#define OVSCT_PROBES_H 1

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t
probe_ns__(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall clock. */
static inline uint64_t
probe_now_ns(void)
{
    return probe_ns__(CLOCK_MONOTONIC);
}

/* CPU time of the calling thread. */
static inline uint64_t
probe_thread_cpu_ns(void)
{
    return probe_ns__(CLOCK_THREAD_CPUTIME_ID);
}

/* CPU time of the whole process. */
static inline uint64_t
probe_process_cpu_ns(void)
{
    return probe_ns__(CLOCK_PROCESS_CPUTIME_ID);
}

/* Process memory: mapped size, resident set, malloc in-use bytes. */
struct probe_mem {
    int64_t mapped, rss, alloc;
};

static inline struct probe_mem
probe_mem_now(void)
{
    struct probe_mem m = { 0, 0, 0 };
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2) {
            size = resident = 0;
        }
        fclose(f);
    }
    m.mapped = (int64_t) size * sysconf(_SC_PAGESIZE);
    m.rss = (int64_t) resident * sysconf(_SC_PAGESIZE);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 mi = mallinfo2();

    m.alloc = (int64_t) mi.uordblks + (int64_t) mi.hblkhd;
#endif
    return m;
}

#endif /* probes.h */
