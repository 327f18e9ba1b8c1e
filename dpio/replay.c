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
 * one of them, else to r->late. */
static void
replay_out(void *aux, uint64_t tag, uint8_t state, const uint8_t *frame,
           uint32_t len)
{
    struct ovsct_replay *r = aux;
    struct ovsct_pcap_frames *f = r->cur;

    if (f && tag >= r->n_done && tag - r->n_done < f->n) {
        size_t i = (size_t) (tag - r->n_done);

        r->cur_states[i] = state;
        if (len <= f->offsets[i + 1] - f->offsets[i]) {
            memcpy(f->data + f->offsets[i], frame, len);
        }
    } else if (r->late) {
        r->late(r->late_aux, tag, state, frame, len);
    }
}

int
ovsct_replay_frames(struct ovsct_replay *r, struct ovsct_pcap_frames *f,
                    uint8_t *states)
{
    size_t batch = r->batch ? r->batch : 1;

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
            .data = f->data, .size = f->size, .offsets = f->offsets + i,
            .n = j - i, .tag_base = r->n_done + i,
        };
        int error = ovsct_execute(r->ct, &b, r->action, states + i);
        if (error) {
            return error;
        }
        r->cur = f;
        r->cur_states = states;
        ovsct_ipf_drain(r->ct, replay_out, r);
        r->cur = NULL;
        i = j;
    }
    r->n_done += f->n;
    return 0;
}

void
ovsct_replay_finish(struct ovsct_replay *r)
{
    ovsct_ipf_expire_all(r->ct);
    ovsct_ipf_drain(r->ct, replay_out, r);
}
