/*
 * afpacket.h -- the live datapath: AF_PACKET sockets around the engine.
 *
 * Plain C, without Python.  A 'struct ovsct_live' owns attachments, each run
 * by its own C worker threads that read frames from the kernel and hand
 * the engine batches of up to OVSCT_LIVE_BATCH frames (ovsct_execute());
 * no Python runs on the per-packet path.
 *
 *   monitor   one interface, passive: every frame it carries, in both
 *             directions, runs through the action; nothing is sent.  Read
 *             from a TPACKET_V3 memory-mapped ring per worker.
 *   bridge    two interfaces INSIDE and OUTSIDE (both promiscuous), L2
 *             forwarding after tracking; with 'firewall' frames from
 *             INSIDE run the action and pass unless +inv, frames from
 *             OUTSIDE run ct() in the same zone (with nat if the action
 *             has NAT) and pass only if +est or +rel.  ARP, other non-IP
 *             frames and ICMPv6 neighbour discovery (133-137) always pass,
 *             untracked.  Read with recvmmsg() (no ring block timeout on
 *             the latency path), sent with sendmmsg() and a virtio-net
 *             header so that GSO segments and checksum offload survive.
 *
 * With n_workers > 1 the sockets of one interface form a PACKET_FANOUT
 * group (symmetric flow hash), one socket per worker.
 *
 * Thread safety: every function may be called from any thread; calls are
 * serialised by the datapath's mutex.  ovsct_live_destroy() stops and joins
 * every worker; the engine must outlive the datapath.
 *
 * Errors: 0 or a positive errno, with a message in 'err' (never empty on
 * failure).
 */
#ifndef OVSCT_AFPACKET_H
#define OVSCT_AFPACKET_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ovsct.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OVSCT_LIVE_BATCH 32         /* Frames per ovsct_execute(). */
#define OVSCT_LIVE_MAX_WORKERS 64
#define OVSCT_LIVE_NAME_SIZE 16     /* IFNAMSIZ. */

/* Role of an interface: THE names are ovsct_live_role_names[]. */
enum ovsct_live_role {
    OVSCT_LIVE_MONITOR,
    OVSCT_LIVE_INSIDE,
    OVSCT_LIVE_OUTSIDE,
    OVSCT_LIVE_ROLE_N
};
extern const char *const ovsct_live_role_names[OVSCT_LIVE_ROLE_N];

/* Reasons a bridge drops a frame: THE names are ovsct_live_drop_names[]. */
enum ovsct_live_drop {
    OVSCT_LIVE_DROP_INVALID,        /* INSIDE frame got +inv (firewall). */
    OVSCT_LIVE_DROP_NOT_EST,        /* OUTSIDE frame neither +est nor +rel
                                     * (firewall). */
    OVSCT_LIVE_DROP_TRUNCATED,      /* Larger than the receive buffer. */
    OVSCT_LIVE_DROP_TX_ERROR,       /* The kernel refused to send it. */
    OVSCT_LIVE_DROP_N
};
extern const char *const ovsct_live_drop_names[OVSCT_LIVE_DROP_N];

/* One interface as ovsct_live_list() reports it.  Counters are frames
 * received on this interface: 'received' = all of them, 'tracked' = those
 * run through the engine that got their final state, 'held' = IP
 * fragments held by reassembly now (run through the engine, their state
 * not known yet: each one is then tracked, and in a bridge forwarded or
 * dropped, when its datagram completes or its list times out, within
 * 15 s), 'ring_drops' = lost by the kernel before we read them
 * (PACKET_STATISTICS), 'forwarded' = sent out of the peer interface,
 * 'dropped' = not forwarded, by reason.  In a bridge, received + ring drops
 * = forwarded + sum(dropped) + held once the traffic has stopped; in
 * monitor mode, received = tracked + held + truncated + the non-IP frames
 * (not counted separately). */
struct ovsct_live_iface {
    char name[OVSCT_LIVE_NAME_SIZE];
    char peer[OVSCT_LIVE_NAME_SIZE];    /* Bridge: the other side, else "". */
    uint8_t role;                       /* enum ovsct_live_role. */
    bool firewall;
    uint32_t n_workers;
    uint64_t received;
    uint64_t tracked;
    uint64_t held;
    uint64_t ring_drops;
    uint64_t forwarded;
    uint64_t dropped[OVSCT_LIVE_DROP_N];
};

struct ovsct_live;

/* Creates a datapath for 'ct' whose attachments use 'n_workers' threads
 * each (1..OVSCT_LIVE_MAX_WORKERS). */
int ovsct_live_create(struct ovsct *ct, uint32_t n_workers,
                      struct ovsct_live **livep, char *err, size_t err_size);
void ovsct_live_destroy(struct ovsct_live *);

/* Starts monitoring 'ifname' with 'action'.  EEXIST if it is attached,
 * ENODEV if there is no such interface, EPERM without CAP_NET_RAW. */
int ovsct_live_add_monitor(struct ovsct_live *, const char *ifname,
                           const struct ovsct_action *action,
                           char *err, size_t err_size);

/* Starts a bridge between 'inside' and 'outside'. */
int ovsct_live_add_bridge(struct ovsct_live *, const char *inside,
                          const char *outside, bool firewall,
                          const struct ovsct_action *action,
                          char *err, size_t err_size);

/* Stops the attachment 'ifname' belongs to (for a bridge: both sides).
 * ENOENT if it is not attached. */
int ovsct_live_remove(struct ovsct_live *, const char *ifname,
                      char *err, size_t err_size);

/* Writes up to 'max' interfaces, in attachment order, and returns how many
 * there are (may exceed 'max'). */
size_t ovsct_live_list(struct ovsct_live *, struct ovsct_live_iface *out,
                       size_t max);

#ifdef __cplusplus
}
#endif

#endif /* afpacket.h */
