/*
 * replay.c -- the replay loop: frames read from a capture (dpio/pcap.c)
 * through the engine (ext/ovsct.h), the engine's manual clock following
 * the capture's time stamps, so that expiry, the timeouts shown by dumps
 * and the sweeping of expired connections happen as they would have on the
 * network the capture was taken on.
 *
 * Neighbours: replay.h (contract), binding/module.c (execute_pcap, the
 * reading loop around this one), tests/test_capture.py.
 */
#include "replay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int64_t
ovsct_replay_ms(int64_t ts_ns)
{
    return ts_ns / 1000000;
}

/* The engine time frame 'i' runs at: its own, never before the clock. */
static int64_t
frame_ms(const struct ovsct_replay *r, const struct ovsct_pcap_frames *f,
         size_t i)
{
    if (f->ts_ns[i] == OVSCT_PCAP_NO_TIME) {
        return r->clock_ms;
    }
    int64_t ms = ovsct_replay_ms(f->ts_ns[i]);
    return r->started && ms < r->clock_ms ? r->clock_ms : ms;
}

/* A fragment that left reassembly: into the running call's frames if it is
 * one of them (in their room layout if they have one), else to r->late. */
static void
replay_out(void *aux, uint64_t tag, uint8_t state, const uint8_t *frame,
           uint32_t len)
{
    struct ovsct_replay *r = aux;
    struct ovsct_pcap_frames *f = r->cur;

    if (f && tag >= r->n_done && tag - r->n_done < f->n) {
        size_t i = (size_t) (tag - r->n_done);
        uint8_t *data = r->cur_room ? r->room : f->data;
        const uint32_t *offs = r->cur_room ? r->room_offs : f->offsets;

        r->cur_states[i] = state;
        if (len <= offs[i + 1] - offs[i]) {
            memcpy(data + offs[i], frame, len);
            if (r->cur_room) {
                r->room_lens[i] = len;
            }
        }
    } else if (r->late) {
        r->late(r->late_aux, tag, state, frame, len);
    }
}

/* Takes the replay's fragments that left reassembly (its tags, never
 * OVSCT_TAG_LIVE): the live datapath's on the same table stay for it. */
static void
replay_drain(struct ovsct_replay *r)
{
    ovsct_ipf_drain_owned(r->ct, OVSCT_TAG_LIVE, 0, replay_out, r);
}

/* Grows '*p' (of '*cap' elements of 'size' bytes) to hold 'need'. */
static bool
grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return true;
    }
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        n *= 2;
    }
    void *q = realloc(*(void **) p, n * size);
    if (!q) {
        return false;
    }
    *(void **) p = q;
    *cap = n;
    return true;
}

/* Copies the frames of 'f' into r->room, each in a slot of
 * OVSCT_REPLAY_ROOM more bytes, their lengths in r->room_lens. */
static int
room_layout(struct ovsct_replay *r, const struct ovsct_pcap_frames *f)
{
    uint64_t size = (uint64_t) f->offsets[f->n]
                    + (uint64_t) f->n * OVSCT_REPLAY_ROOM;

    if (size > UINT32_MAX) {
        return EFBIG;
    }
    size_t n_cap = r->room_n_cap, n_cap2 = r->room_n_cap;
    if (!grow(&r->room, &r->room_cap, (size_t) size, 1)
        || !grow(&r->room_offs, &n_cap, f->n + 1, sizeof *r->room_offs)
        || !grow(&r->room_lens, &n_cap2, f->n + 1, sizeof *r->room_lens)) {
        return ENOMEM;
    }
    r->room_n_cap = n_cap < n_cap2 ? n_cap : n_cap2;

    uint32_t at = 0;
    r->room_offs[0] = 0;
    for (size_t i = 0; i < f->n; i++) {
        uint32_t len = f->offsets[i + 1] - f->offsets[i];

        memcpy(r->room + at, f->data + f->offsets[i], len);
        r->room_lens[i] = len;
        at += len + OVSCT_REPLAY_ROOM;
        r->room_offs[i + 1] = at;
    }
    return 0;
}

/* Puts the frames of r->room back into 'f' at their new lengths, each
 * frame's length on the wire moved by its change. */
static int
room_restore(struct ovsct_replay *r, struct ovsct_pcap_frames *f)
{
    size_t size = 0;

    for (size_t i = 0; i < f->n; i++) {
        size += r->room_lens[i];
    }
    if (!grow(&f->data, &f->data_cap, size, 1)) {
        return ENOMEM;
    }
    uint32_t at = 0;
    for (size_t i = 0; i < f->n; i++) {
        uint32_t len = r->room_lens[i];
        uint32_t old = f->offsets[i + 1] - f->offsets[i];
        struct ovsct_pcap_meta *m = &f->meta[i];

        memcpy(f->data + at, r->room + r->room_offs[i], len);
        f->offsets[i] = at;
        at += len;
        m->orig_len = (uint32_t) ((int64_t) m->orig_len + len - old);
    }
    f->offsets[f->n] = at;
    f->size = size;
    return 0;
}

int
ovsct_replay_frames(struct ovsct_replay *r, struct ovsct_pcap_frames *f,
                    uint8_t *states)
{
    size_t batch = r->batch ? r->batch : 1;
    uint8_t *data = f->data;
    size_t size = f->size;
    const uint32_t *offsets = f->offsets;
    uint32_t *lens = NULL;
    int error = 0;

    if (r->action->nat.kind && f->n) {
        error = room_layout(r, f);
        if (error) {
            return error;
        }
        data = r->room;
        offsets = r->room_offs;
        size = offsets[f->n];
        lens = r->room_lens;
    }
    for (size_t i = 0; i < f->n;) {
        size_t j = i + 1;

        if (r->capture_clock) {
            if (!r->started && f->ts_ns[i] == OVSCT_PCAP_NO_TIME) {
                /* No time yet: the engine's, whatever it is. */
                r->clock_ms = ovsct_now(r->ct);
                r->swept_ms = r->clock_ms;
                r->started = true;
            }
            int64_t ms = frame_ms(r, f, i);
            if (!r->started || ms != r->clock_ms) {
                ovsct_set_time(r->ct, ms);
                if (!r->started) {
                    r->swept_ms = ms;
                }
                r->clock_ms = ms;
                r->started = true;
                if (ms - r->swept_ms
                    >= (int64_t) ovsct_get_sweep_interval(r->ct)) {
                    ovsct_sweep_now(r->ct);
                    r->swept_ms = ms;
                }
            }
            while (j < f->n && j - i < batch && frame_ms(r, f, j) == ms) {
                j++;
            }
        } else {
            j = f->n - i < batch ? f->n : i + batch;
        }

        struct ovsct_batch b = {
            .data = data, .size = size, .offsets = offsets + i,
            .lens = lens ? lens + i : NULL,
            .n = j - i, .tag_base = r->n_done + i,
        };
        error = ovsct_execute(r->ct, &b, r->action, states + i);
        if (error) {
            break;
        }
        r->cur = f;
        r->cur_states = states;
        r->cur_room = lens != NULL;
        replay_drain(r);
        r->cur = NULL;
        i = j;
    }
    if (lens && !error) {
        error = room_restore(r, f);
    }
    if (!error) {
        r->n_done += f->n;
    }
    return error;
}

void
ovsct_replay_finish(struct ovsct_replay *r)
{
    ovsct_ipf_expire_all(r->ct);
    replay_drain(r);
}

void
ovsct_replay_release(struct ovsct_replay *r)
{
    free(r->room);
    free(r->room_offs);
    free(r->room_lens);
    r->room = NULL;
    r->room_offs = NULL;
    r->room_lens = NULL;
    r->room_cap = r->room_n_cap = 0;
}
