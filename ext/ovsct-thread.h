/*
 * ovsct-thread.h -- lock annotations and the annotated lock types.
 *
 * Clang's -Wthread-safety checks that every access to a CT_GUARDED_BY field
 * happens with its lock held and that functions marked CT_REQUIRES are only
 * called with the named lock held.  The macros expand to nothing for other
 * compilers.  Code outside this file never calls pthread_mutex_* or touches
 * a raw lock: it uses struct ct_mutex and struct ct_spin below, so that the
 * analysis sees every acquire and release.
 *
 * Lock kinds.  Bucket locks are 'struct ct_mutex'.  The kind of mutex is
 * chosen at build time with -DCT_BUCKET_LOCK_KIND=
 *     0  plain pthread mutex,
 *     1  adaptive pthread mutex (spins briefly before sleeping; default),
 *     2  spinlock (test-and-test-and-set on one atomic byte),
 *     3  futex mutex (Drepper's "Futexes Are Tricky" mutex 2: one 32-bit
 *        word, 0 free, 1 held, 2 held with sleepers; the uncontended lock
 *        and unlock are one atomic instruction each, inline; a waiter
 *        spins briefly, then sleeps in the kernel; default).
 * docs/benchmarks.md records the measurements behind the default.
 * Per-connection state is guarded by 'struct ct_spin', a one-byte
 * spinlock: held for a few dozen instructions at most, never while taking
 * another lock.  The sweeper sleeps on a 'struct ct_wake' (a mutex and a
 * CLOCK_MONOTONIC condition variable), which whoever changes the sweep
 * interval, stops the sweeper or takes a slab from its pool signals.
 */
#ifndef OVSCT_THREAD_H
#define OVSCT_THREAD_H 1

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#if defined(__clang__)
#define CT_TSA(x) __attribute__((x))
#else
#define CT_TSA(x)
#endif

#define CT_LOCKABLE CT_TSA(capability("mutex"))
/* In C, an attribute on a struct member cannot name a sibling member, so
 * members use CT_GUARDED ("only with a lock held"; the comment beside the
 * member names which one) and functions name the exact lock with
 * CT_REQUIRES(b->lock), which C allows.  CT_GUARDED_BY is for globals. */
#define CT_GUARDED CT_TSA(guarded_var)
#define CT_GUARDED_BY(x) CT_TSA(guarded_by(x))
#define CT_PT_GUARDED_BY(x) CT_TSA(pt_guarded_by(x))
#define CT_REQUIRES(...) CT_TSA(requires_capability(__VA_ARGS__))
#define CT_ACQUIRES(...) CT_TSA(acquire_capability(__VA_ARGS__))
#define CT_RELEASES(...) CT_TSA(release_capability(__VA_ARGS__))
#define CT_TRY_ACQUIRE(...) CT_TSA(try_acquire_capability(__VA_ARGS__))
#define CT_EXCLUDED(...) CT_TSA(locks_excluded(__VA_ARGS__))
#define CT_NO_THREAD_SAFETY_ANALYSIS CT_TSA(no_thread_safety_analysis)

#ifndef CT_BUCKET_LOCK_KIND
#define CT_BUCKET_LOCK_KIND 3
#endif

/* A mutex that clang's analysis can follow. */
struct CT_LOCKABLE ct_mutex {
#if CT_BUCKET_LOCK_KIND == 2
    atomic_uchar held;
#elif CT_BUCKET_LOCK_KIND == 3
    _Atomic uint32_t word;      /* 0 free, 1 held, 2 held with sleepers. */
#else
    pthread_mutex_t m;
#endif
};

/* Kind 3's contended paths (table.c). */
void ct_futex_lock_slow__(_Atomic uint32_t *word);
void ct_futex_wake__(_Atomic uint32_t *word);

/* A one-byte spinlock for per-connection state. */
struct CT_LOCKABLE ct_spin {
    atomic_uchar held;
};

void ct_mutex_init(struct ct_mutex *);
void ct_mutex_destroy(struct ct_mutex *);

static inline void
ct_spin_raw_lock__(atomic_uchar *held)
{
    for (;;) {
        if (!atomic_exchange_explicit(held, 1, memory_order_acquire)) {
            return;
        }
        while (atomic_load_explicit(held, memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}

static inline void
ct_mutex_lock(struct ct_mutex *m)
    CT_ACQUIRES(*m) CT_NO_THREAD_SAFETY_ANALYSIS
{
    /* No analysis inside: this is the primitive the analysis trusts. */
#if CT_BUCKET_LOCK_KIND == 2
    ct_spin_raw_lock__(&m->held);
#elif CT_BUCKET_LOCK_KIND == 3
    uint32_t expected = 0;

    if (!atomic_compare_exchange_strong_explicit(&m->word, &expected, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed)) {
        ct_futex_lock_slow__(&m->word);
    }
#else
    pthread_mutex_lock(&m->m);
#endif
}

static inline bool
ct_mutex_trylock(struct ct_mutex *m)
    CT_TRY_ACQUIRE(true, *m) CT_NO_THREAD_SAFETY_ANALYSIS
{
#if CT_BUCKET_LOCK_KIND == 2
    return !atomic_load_explicit(&m->held, memory_order_relaxed)
           && !atomic_exchange_explicit(&m->held, 1, memory_order_acquire);
#elif CT_BUCKET_LOCK_KIND == 3
    uint32_t expected = 0;

    return atomic_compare_exchange_strong_explicit(&m->word, &expected, 1,
                                                   memory_order_acquire,
                                                   memory_order_relaxed);
#else
    return pthread_mutex_trylock(&m->m) == 0;
#endif
}

static inline void
ct_mutex_unlock(struct ct_mutex *m)
    CT_RELEASES(*m) CT_NO_THREAD_SAFETY_ANALYSIS
{
#if CT_BUCKET_LOCK_KIND == 2
    atomic_store_explicit(&m->held, 0, memory_order_release);
#elif CT_BUCKET_LOCK_KIND == 3
    if (atomic_exchange_explicit(&m->word, 0, memory_order_release) == 2) {
        ct_futex_wake__(&m->word);
    }
#else
    pthread_mutex_unlock(&m->m);
#endif
}

static inline void
ct_spin_init(struct ct_spin *s)
{
    atomic_init(&s->held, 0);
}

static inline void
ct_spin_lock(struct ct_spin *s)
    CT_ACQUIRES(*s) CT_NO_THREAD_SAFETY_ANALYSIS
{
    ct_spin_raw_lock__(&s->held);
}

static inline void
ct_spin_unlock(struct ct_spin *s)
    CT_RELEASES(*s) CT_NO_THREAD_SAFETY_ANALYSIS
{
    atomic_store_explicit(&s->held, 0, memory_order_release);
}

/* A wake-up channel: a sleeper waits on it with a deadline, others wake
 * it.  The mutex guards only the check-then-sleep of the sleeper against
 * a concurrent signal; nothing else is taken under it. */
struct CT_LOCKABLE ct_wake {
    pthread_mutex_t m;
    pthread_cond_t cond;        /* On CLOCK_MONOTONIC. */
};

void ct_wake_init(struct ct_wake *);
void ct_wake_destroy(struct ct_wake *);

static inline void
ct_wake_lock(struct ct_wake *w)
    CT_ACQUIRES(*w) CT_NO_THREAD_SAFETY_ANALYSIS
{
    pthread_mutex_lock(&w->m);
}

static inline void
ct_wake_unlock(struct ct_wake *w)
    CT_RELEASES(*w) CT_NO_THREAD_SAFETY_ANALYSIS
{
    pthread_mutex_unlock(&w->m);
}

/* Wakes one sleeper on 'w'. */
static inline void
ct_wake_signal(struct ct_wake *w)
    CT_REQUIRES(*w) CT_NO_THREAD_SAFETY_ANALYSIS
{
    pthread_cond_signal(&w->cond);
}

/* Sleeps until woken or until 'deadline' (CLOCK_MONOTONIC), releasing 'w'
 * meanwhile and holding it again on return.  Returns true if the deadline
 * passed. */
static inline bool
ct_wake_wait_until(struct ct_wake *w, const struct timespec *deadline)
    CT_REQUIRES(*w) CT_NO_THREAD_SAFETY_ANALYSIS
{
    return pthread_cond_timedwait(&w->cond, &w->m, deadline) == ETIMEDOUT;
}

#endif /* ovsct-thread.h */
