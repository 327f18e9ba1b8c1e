/*
 * replay.h -- runs frames read by dpio/pcap.h through an engine, the
 * capture's time stamps driving the engine's clock (replay.c).
 */
#ifndef OVSCT_DPIO_REPLAY_H
#define OVSCT_DPIO_REPLAY_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ovsct.h"
#include "pcap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One replay: set the first four fields (and 'late', 'late_aux' if
 * wanted), zero the rest. */
struct ovsct_replay {
    struct ovsct *ct;
    const struct ovsct_action *action;
    size_t batch;               /* Most frames per ovsct_execute() call. */
    bool capture_clock;         /* Drive the engine's manual clock with the
                                 * frames' time stamps; else leave the
                                 * clock alone. */
    /* Gets the fragments that leave reassembly after the call of
     * ovsct_replay_frames() that ran them (their tag: their index in the
     * whole replay, counted from 0); NULL to drop them. */
    ovsct_ipf_out_fn *late;
    void *late_aux;

    /* State. */
    bool started;               /* The clock has been set once. */
    int64_t clock_ms;           /* Engine time set last. */
    int64_t swept_ms;           /* Engine time of the last sweep. */
    uint64_t n_done;            /* Frames run by earlier calls. */
    struct ovsct_pcap_frames *cur;  /* The frames of the running call. */
    uint8_t *cur_states;
    bool cur_room;              /* Its frames are in 'room'. */

    /* Frames laid out with room to grow (an action with NAT, see
     * ovsct_replay_frames()): 'room' holds frame i in the slot
     * room_offs[i] .. room_offs[i + 1], room_lens[i] bytes long.  Released
     * by ovsct_replay_release(). */
    uint8_t *room;
    size_t room_cap;
    uint32_t *room_offs;
    uint32_t *room_lens;
    size_t room_n_cap;
};

/* Room given to each frame of an action with NAT: the FTP helper's
 * largest growth of a frame, when it rewrites the address of an EPRT
 * command, which is also the room OVS requires before rewriting at all
 * (ext/ovsct.h, struct ovsct_batch). */
#define OVSCT_REPLAY_ROOM OVSCT_ALG_ROOM_V6

/* Runs the frames of 'f' through r->ct, writing one ct_state per frame to
 * 'states'.  With a capture clock, before each engine call the clock is
 * moved to the time stamp of the call's frames (ms since the epoch); a
 * batch is split where that time changes; a time stamp earlier than the
 * clock (capture reordering) or missing counts as the clock's time: the
 * clock never goes back.  Each time the clock passes a sweep interval
 * (ovsct_get_sweep_interval()) since the last sweep, expired connections
 * are swept (ovsct_sweep_now()), as the sweeper thread would have on a
 * live clock.  Frame i's reassembly tag is its index in the whole
 * replay: a fragment that reassembly holds (OVSCT_STATE_HELD) and that
 * leaves during this call gets its final state in 'states' and its frame
 * rewritten in 'f' as NAT rewrote its datagram; one that leaves during a
 * later call, or at ovsct_replay_finish(), goes to r->late.
 *
 * With NAT in the action (any nat, with or without alg=ftp: the FTP
 * helper is the connection's, possibly attached by an earlier commit),
 * each frame runs in a slot of OVSCT_REPLAY_ROOM more bytes, with its
 * length in struct ovsct_batch 'lens', so that the FTP helper can rewrite
 * the address of a PORT, 227 or EPRT line (and the frame grow or shrink);
 * the frames are then put back in 'f' with their new lengths, and each
 * frame's f->meta[i].orig_len moved by its change, so that the writer
 * (ovsct_pcap_writer_put()) writes their new lengths.  Without NAT frames
 * run where they are, without a copy.  Returns 0, the errno of
 * ovsct_execute(), ENOMEM, or EFBIG if the frames and their room would
 * exceed 4 GiB. */
int ovsct_replay_frames(struct ovsct_replay *, struct ovsct_pcap_frames *f,
                        uint8_t *states);

/* The end of the replay: the lists of fragments never completed expire
 * (ovsct_ipf_expire_all()), their fragments leave as inv through
 * r->late. */
void ovsct_replay_finish(struct ovsct_replay *);

/* Frees what the replay allocated (after ovsct_replay_finish(), or
 * instead of it when the replay is abandoned). */
void ovsct_replay_release(struct ovsct_replay *);

/* The engine time of capture time 'ts_ns' (ns since the epoch). */
int64_t ovsct_replay_ms(int64_t ts_ns);

#ifdef __cplusplus
}
#endif

#endif /* replay.h */
