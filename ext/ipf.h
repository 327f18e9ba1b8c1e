/*
 * ipf.h -- IP fragment reassembly in front of the tracker (ipf.c).
 *
 * The engine's hooks into ipf.c; only ext/ files include this header.  The
 * public side (settings, status, fragments that leave later) is in
 * ovsct.h.  Neighbours: conntrack.c (calls the hooks from
 * ovsct_execute()), sweep.c (expiry), config.c (life cycle).
 */
#ifndef OVSCT_IPF_H
#define OVSCT_IPF_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ovsct;
struct ct_ipf;

/* A datagram completed during one ovsct_execute() call, reassembled and
 * waiting to be tracked after the call's other frames (OVS appends it to
 * the batch: ipf_execute_reass_pkts()). */
struct ct_ipf_done {
    struct ct_ipf_done *next;
    struct ct_ipf_list *list;   /* Owned by the call from now on. */
    uint8_t *frame;             /* The reassembled frame (malloc). */
    uint32_t len;
};

/* Per-call context of the hooks. */
struct ct_ipf_call {
    uint64_t serial;            /* Unique per ovsct_execute() call that
                                 * holds a fragment; 0 until then. */
    uint64_t tag_base;          /* ovsct_batch's. */
    uint16_t zone;
    int64_t now;
    struct ct_ipf_done *done;   /* Completed in this call, in order. */
    struct ct_ipf_done **done_tail;
};

int ct_ipf_create(struct ovsct *);
void ct_ipf_destroy(struct ovsct *);

/* Whether ovsct_execute() must call the hooks (reassembly enabled for a
 * family, or fragments still held). */
bool ct_ipf_active(const struct ovsct *);

void ct_ipf_call_init(struct ct_ipf_call *, uint16_t zone, uint64_t tag_base,
                      int64_t now);

/* Offers frame 'idx' of the call ('frame', 'len' bytes), which ct_parse()
 * refused, to reassembly.  Returns 0 if reassembly holds it now (its state
 * comes later), else the ct_state it gets: inv|trk (refused, duplicate,
 * overlapping, too small, or not a fragment at all). */
uint8_t ct_ipf_offer(struct ovsct *, struct ct_ipf_call *, size_t idx,
                     const uint8_t *frame, uint32_t len);

/* After tracking the reassembled frame of 'd' (which NAT may have
 * rewritten) with state 'state': gives every fragment of it that state,
 * rewrites them as the reassembled frame was rewritten (addresses, and
 * the first fragment's L4 bytes), writes the state of fragments of this
 * call to states[] and their bytes to 'data' + offsets[], and queues the
 * fragments of earlier calls for ovsct_ipf_drain().  Frees 'd'. */
void ct_ipf_finish(struct ovsct *, struct ct_ipf_call *,
                   struct ct_ipf_done *d, uint8_t state, uint8_t *data,
                   const uint32_t *offsets, uint8_t *states);

/* End of a call: expires at most one timed-out list (as OVS sends one per
 * batch, ipf_send_expired_frags()). */
void ct_ipf_call_end(struct ovsct *, struct ct_ipf_call *);

/* Sweeper: expires every timed-out list and purges fragments nobody took
 * within OVS's purge delay. */
void ct_ipf_sweep(struct ovsct *, int64_t now);

#endif /* ipf.h */
