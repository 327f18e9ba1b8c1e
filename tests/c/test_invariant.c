/*
 * test_invariant.c -- ovsct_check_invariants() while the sweeper runs,
 * with the sweeper's move made to happen at the worst moment (the race
 * behind the rare "zone N: count k before a count query, the walk finds
 * k+1" of tests/c/stress.c's mixed phase, docs/reliability.md).
 *
 * The checker may run while the sweeper does (ext/invariant.c): it walks
 * the maps under every bucket lock and compares what it found with the
 * counts.  The sweeper, blocked on a bucket lock during the walk, claims
 * the expired connections the walk has just counted as soon as the locks
 * are released; a claim takes its connection out of n_conns and, while
 * zone limits are active, out of its zone's count.  n_conns was read
 * under the walk's locks, the zone counts after them: a claim in between
 * made a zone count one below the walk's figure, although the engine's
 * counts were right.  The checker now reads every count it compares under
 * the walk's locks.
 *
 * The interleaving is forced, not hoped for: the engine's test hook
 * 'inv_after_walk' (ovsct-private.h) runs ovsct_sweep_now() -- the
 * sweeper's own reap, by the public API -- right after each walk, once
 * the walk's locks are released.  The scenario itself is checked (the
 * connections were counted in their zone and expired, the sweep in the
 * hook did remove them), so a change that avoids it fails loudly instead
 * of passing vacuously.
 *
 * Includes ovsct-private.h for the hook and the counts only.  Run by
 * `make asan` (every tests/c driver) and `make asan-clang`.  Prints "N
 * passed, M failed" and exits non-zero if M > 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "framegen.h"
#include "ovsct.h"
#include "ovsct-private.h"

#define T1 1000000                      /* ms: the table's start. */
#define DAY (86400 * 1000)              /* ms: past every UDP timeout. */
#define ZONE 1
#define N_FLOWS 3

/* Commits UDP flow 'i' (10.0.0.(i+1):(1000+i) -> 10.1.0.1:53) in 'zone';
 * 0 or an errno. */
static int
commit_flow(struct ovsct *ct, uint16_t zone, uint32_t i)
{
    const struct ovsct_action commit = { .zone = zone, .commit = true };
    struct fg_frame fr;
    uint8_t s[4] = { 10, 0, 0, (uint8_t) (i + 1) }, d[4] = { 10, 1, 0, 1 };
    uint8_t data[FG_FRAME_LEN], state;
    uint32_t offsets[2] = { 0, FG_FRAME_LEN };
    struct ovsct_batch batch = {
        .data = data, .size = FG_FRAME_LEN, .offsets = offsets, .n = 1,
    };

    fg_ip4_raw(&fr, 0, s, d, 17);
    fg_udp_hdr(&fr, (uint16_t) (1000 + i), 53, 0, 0);
    fg_finish_csum(&fr, -1);
    memcpy(data, fr.b, FG_FRAME_LEN);
    return ovsct_execute(ct, &batch, &commit, &state);
}

/* What the hook did: calls, and connections each call's sweep removed. */
static int hook_calls;
static size_t hook_removed[4];

/* The sweeper's move, right after a walk of the checker. */
static void
sweep_after_walk(struct ovsct *ct)
{
    size_t removed = ovsct_sweep_now(ct);

    if (hook_calls < 4) {
        hook_removed[hook_calls] = removed;
    }
    hook_calls++;
}

/* Connections of zone ZONE, counted while zone limits are active, have
 * expired but are not reaped yet; the sweeper reaps them just after the
 * checker's first walk, which counted them.  The check must pass: the
 * table was consistent at the walk's instant and after the sweep. */
static void
test_sweep_after_the_walk(void)
{
    struct ovsct_config cfg = {
        .n_buckets = 4, .manual_clock = true, .start_ms = T1,
        .no_sweeper = true,
    };
    struct ovsct *ct;
    char why[512];
    int err;

    if (ovsct_create(&cfg, &ct)) {
        fprintf(stderr, "create failed\n");
        exit(1);
    }
    /* A limit starts the per-zone counts (limits_activate()). */
    CHECK(!ovsct_set_zone_limit(ct, ZONE, 100), "set_zone_limit");
    for (uint32_t i = 0; i < N_FLOWS; i++) {
        CHECK(!commit_flow(ct, ZONE, i), "commit %u", i);
    }
    /* The clock passes their expiry; nothing reaps them yet (no sweeper
     * thread, no count query). */
    ovsct_set_time(ct, T1 + DAY);
    CHECK(atomic_load(&ct->limits_active), "zone limits not active");
    CHECK(atomic_load(&ct->zone_count[ZONE]) == N_FLOWS,
          "zone count %d before the check, want %d",
          (int) atomic_load(&ct->zone_count[ZONE]), N_FLOWS);
    CHECK(atomic_load(&ct->n_conns) == N_FLOWS, "n_conns %lld, want %d",
          (long long) atomic_load(&ct->n_conns), N_FLOWS);

    ct->inv_after_walk = sweep_after_walk;
    err = ovsct_check_invariants(ct, why, sizeof why);
    ct->inv_after_walk = NULL;
    CHECK(!err, "invariants with a sweep after the walk: %s", why);

    /* The scenario happened: the first walk found the expired connections
     * unclaimed, the sweep right after it removed them all; the second
     * walk (after the count query, which reaped nothing more) found none,
     * and the hook's second sweep had nothing left. */
    CHECK(hook_calls == 2, "hook called %d times, want 2", hook_calls);
    CHECK(hook_removed[0] == N_FLOWS, "the sweep after the first walk "
          "removed %zu, want %d", hook_removed[0], N_FLOWS);
    CHECK(hook_removed[1] == 0, "the sweep after the second walk removed "
          "%zu", hook_removed[1]);
    CHECK(atomic_load(&ct->zone_count[ZONE]) == 0, "zone count %d after",
          (int) atomic_load(&ct->zone_count[ZONE]));
    CHECK(ovsct_nconns(ct) == 0, "connections left: %u", ovsct_nconns(ct));

    /* And with nothing moving, the check passes as before. */
    CHECK(!ovsct_check_invariants(ct, why, sizeof why), "invariants: %s",
          why);
    ovsct_destroy(ct);
}

int
main(void)
{
    test_sweep_after_the_walk();
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}
