/*
 * events.c -- connection events: a bounded ring per table that writers
 * never wait on (ovsct.h "Connection events").
 *
 * The ring
 * ========
 *
 * 'size' slots (a power of two), each a sequence stamp and the event as
 * 64-bit words.  Event number 'seq' (1, 2, ...) lives in slot seq & mask.
 * A writer takes the ring's writer lock (one atomic byte, a leaf: see
 * ovsct-private.h "Lock order"), assigns seq = head, and publishes:
 *
 *     stamp = 2 * seq + 1          (odd: being written)
 *     words = the event            (release stores)
 *     stamp = 2 * seq + 2          (release: done)
 *     head = seq + 1               (release)
 *
 * Readers take no lock.  A reader at 'seq' < head loads the stamp
 * (acquire), which must be 2 * seq + 2, copies the words (acquire loads),
 * and loads the stamp again: if a writer a lap ahead started on the slot
 * in the meantime, the reader saw its odd stamp or a newer one and counts
 * the event lost.  On x86 every one of these loads and stores is a plain
 * move; all payload accesses are atomic, so the checkers see no race.
 *
 * Overflow: a reader more than 'size' events behind skips to the oldest
 * event still in the ring and counts the skipped ones lost.  A writer
 * that finds the writer lock busy spins a bounded number of times and then
 * drops its event, adding it to 'dropped'; each reader's cursor remembers
 * how much of 'dropped' it has been told about, so every reader learns of
 * every drop.  Sequence numbers are assigned under the lock, so drops
 * leave no holes.
 *
 * Ordering: NEW is posted under the new connection's bucket lock(s), so
 * no other thread can find the connection, let alone post an event for
 * it, before its NEW; DESTROY is posted by the one thread that claims the
 * connection (table.c ct_conn_claim()), under a bucket lock.  An UPDATE
 * is posted after the connection's own lock is released and is skipped
 * when the connection is already claimed, so it normally precedes the
 * DESTROY; a packet racing with a removal may still post its UPDATE just
 * after the DESTROY.
 *
 * Neighbours: conntrack.c (NEW, UPDATE hooks), table.c (DESTROY hook in
 * ct_conn_claim()), flush.c (flushing everything walks the buckets while
 * events are on, so that each connection gets its DESTROY), filter.c
 * (ovsct_filter_match(), the one matcher), dump.c (ct_entry_fill()),
 * config.c (life cycle).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ovsct-private.h"

#define EV_WORDS (sizeof(struct ovsct_event) / sizeof(uint64_t))
_Static_assert(sizeof(struct ovsct_event) % sizeof(uint64_t) == 0,
               "struct ovsct_event is a whole number of words");

/* Attempts at the writer lock before an event is dropped. */
#define EV_SPIN 256

struct ev_slot {
    _Atomic uint64_t stamp;
    _Atomic uint64_t w[EV_WORDS];
};

struct ct_events {
    atomic_uchar wlock __attribute__((aligned(64)));
    _Atomic uint64_t head;      /* Next sequence number; from 1. */
    _Atomic uint64_t dropped;   /* Events writers could not post. */
    uint64_t mask;
    struct ev_slot slots[];
};

void
ct_events_init(struct ovsct *ct, uint32_t ring_size)
{
    uint32_t n = 16;

    if (!ring_size) {
        ring_size = OVSCT_EVENTS_DEFAULT_RING;
    }
    if (ring_size > OVSCT_EVENTS_MAX_RING) {
        ring_size = OVSCT_EVENTS_MAX_RING;
    }
    while (n < ring_size) {
        n <<= 1;
    }
    ct->ev_ring_size = n;
    atomic_init(&ct->events, NULL);
    atomic_init(&ct->ev_subscribers, 0);
    ct_mutex_init(&ct->ev_sub_lock);
}

void
ct_events_destroy(struct ovsct *ct)
{
    atomic_store(&ct->ev_subscribers, 0);
    free(atomic_load(&ct->events));
    atomic_store(&ct->events, NULL);
    ct_mutex_destroy(&ct->ev_sub_lock);
}

int
ovsct_events_subscribe(struct ovsct *ct, struct ovsct_events_cursor *cursor)
{
    struct ct_events *ev;

    ct_mutex_lock(&ct->ev_sub_lock);
    ev = atomic_load_explicit(&ct->events,
                              memory_order_relaxed);
    if (!ev) {
        size_t size = sizeof *ev + ct->ev_ring_size * sizeof ev->slots[0];

        ev = aligned_alloc(64, (size + 63) & ~(size_t) 63);
        if (!ev) {
            ct_mutex_unlock(&ct->ev_sub_lock);
            return ENOMEM;
        }
        atomic_init(&ev->wlock, 0);
        atomic_init(&ev->head, 1);
        atomic_init(&ev->dropped, 0);
        ev->mask = ct->ev_ring_size - 1;
        for (uint32_t i = 0; i < ct->ev_ring_size; i++) {
            atomic_init(&ev->slots[i].stamp, 0);
            for (size_t j = 0; j < EV_WORDS; j++) {
                atomic_init(&ev->slots[i].w[j], 0);
            }
        }
        /* Published before the subscriber count can be seen non-zero. */
        atomic_store_explicit(&ct->events, ev,
                              memory_order_release);
    }
    cursor->seq = atomic_load_explicit(&ev->head, memory_order_acquire);
    cursor->dropped = atomic_load_explicit(&ev->dropped,
                                           memory_order_relaxed);
    atomic_fetch_add_explicit(&ct->ev_subscribers, 1, memory_order_release);
    ct_mutex_unlock(&ct->ev_sub_lock);
    return 0;
}

void
ovsct_events_unsubscribe(struct ovsct *ct)
{
    ct_mutex_lock(&ct->ev_sub_lock);
    if (atomic_load(&ct->ev_subscribers)) {
        atomic_fetch_sub(&ct->ev_subscribers, 1);
    }
    ct_mutex_unlock(&ct->ev_sub_lock);
}

bool
ovsct_events_enabled(const struct ovsct *ct)
{
    return atomic_load(&ct->ev_subscribers) != 0;
}

static struct ct_events *
events_of(struct ovsct *ct)
{
    return atomic_load_explicit(&ct->events,
                                memory_order_acquire);
}

/* Posts 'e' (its 'seq' is assigned here), or counts it dropped. */
static void
event_post(struct ct_events *ev, struct ovsct_event *e)
{
    uint64_t words[EV_WORDS];
    struct ev_slot *slot;
    uint64_t seq;

    for (int i = 0;
         atomic_load_explicit(&ev->wlock, memory_order_relaxed)
         || atomic_exchange_explicit(&ev->wlock, 1, memory_order_acquire);
         i++) {
        if (i >= EV_SPIN) {
            atomic_fetch_add_explicit(&ev->dropped, 1, memory_order_relaxed);
            return;
        }
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    seq = atomic_load_explicit(&ev->head, memory_order_relaxed);
    e->seq = seq;
    memcpy(words, e, sizeof words);
    slot = &ev->slots[seq & ev->mask];
    atomic_store_explicit(&slot->stamp, 2 * seq + 1, memory_order_relaxed);
    for (size_t j = 0; j < EV_WORDS; j++) {
        /* Release: a reader that sees a new word also sees the odd
         * stamp when it checks again. */
        atomic_store_explicit(&slot->w[j], words[j], memory_order_release);
    }
    atomic_store_explicit(&slot->stamp, 2 * seq + 2, memory_order_release);
    atomic_store_explicit(&ev->head, seq + 1, memory_order_release);
    atomic_store_explicit(&ev->wlock, 0, memory_order_release);
}

void
ct_event_conn(struct ovsct *ct, struct ct_conn *c, int type)
{
    struct ct_events *ev = events_of(ct);
    struct ovsct_event e;

    if (!ev) {
        return;
    }
    if (type == OVSCT_EVENT_UPDATE
        && atomic_load_explicit(&c->dead, memory_order_relaxed)) {
        return;                 /* Its DESTROY is (being) posted. */
    }
    memset(&e, 0, sizeof e);
    e.type = (uint8_t) type;
    ct_entry_fill(ct, c, &e.entry);
    event_post(ev, &e);
}

int
ovsct_events_read(struct ovsct *ct, struct ovsct_events_cursor *cursor,
                  const struct ovsct_filter *filter,
                  struct ovsct_event *buf, size_t max, size_t *np,
                  uint64_t *lost)
{
    struct ct_events *ev = events_of(ct);
    uint64_t head, seq, dropped, n_lost = 0;
    size_t n = 0;

    *np = 0;
    if (!ev) {
        return EINVAL;
    }
    head = atomic_load_explicit(&ev->head, memory_order_acquire);
    seq = cursor->seq;
    if (seq > head || seq == 0) {
        seq = head;
    }
    if (head - seq > ev->mask + 1) {
        n_lost += head - seq - (ev->mask + 1);
        seq = head - (ev->mask + 1);
    }
    while (n < max && seq < head) {
        struct ev_slot *slot = &ev->slots[seq & ev->mask];
        uint64_t want = 2 * seq + 2, words[EV_WORDS];
        uint64_t s1 = atomic_load_explicit(&slot->stamp,
                                           memory_order_acquire);

        if (s1 == want) {
            for (size_t j = 0; j < EV_WORDS; j++) {
                words[j] = atomic_load_explicit(&slot->w[j],
                                                memory_order_acquire);
            }
        }
        if (s1 != want
            || atomic_load_explicit(&slot->stamp,
                                    memory_order_relaxed) != want) {
            n_lost++;           /* Overwritten by a writer a lap ahead. */
            seq++;
            continue;
        }
        seq++;
        memcpy(&buf[n], words, sizeof words);
        if (!filter || ovsct_filter_match(filter, &buf[n].entry)) {
            n++;
        }
    }
    dropped = atomic_load_explicit(&ev->dropped, memory_order_relaxed);
    if (dropped > cursor->dropped) {
        n_lost += dropped - cursor->dropped;
    }
    cursor->dropped = dropped;
    cursor->seq = seq;
    *np = n;
    *lost += n_lost;
    return 0;
}
