/*
 * afpacket.c -- the live datapath (contract in afpacket.h).
 *
 * Layout.  An attachment ('struct live_group') is one monitored interface
 * or one bridge (two 'struct live_port's).  It has n_workers threads; worker
 * w owns socket w of each of its ports (a PACKET_FANOUT group per port when
 * n_workers > 1) and an eventfd tells every worker to stop.
 *
 * Per-packet path, all C: a worker copies up to OVSCT_LIVE_BATCH IP frames
 * into one packed buffer (the layout struct ovsct_batch wants), with a flag
 * per frame for "L4 checksum verified or left to offload" (the kernel's
 * TP_STATUS_CSUM_VALID / TP_STATUS_CSUMNOTREADY), and calls
 * ovsct_execute().  A VLAN tag the kernel stripped into tp_vlan_tci is not
 * in the copy, so the frame is tracked untagged, as OVS tracks it after
 * pop_vlan; a bridge puts the tag back when it sends the frame.
 *
 * Monitor: TPACKET_V3 ring (blocks retired after RING_BLOCK_TOV_MS).
 * Bridge: recvmmsg() with PACKET_AUXDATA (status and VLAN) and
 * PACKET_VNET_HDR (GSO facts), then sendmmsg() on the peer's socket with a
 * virtio-net header: GSO segments (veth hands us TCP segments up to 64 KiB)
 * go out intact and the kernel (or the NIC) segments them; frames whose
 * checksum was left to offload keep it left to offload.  NAT has rewritten
 * such frames in the engine with the complete-checksum rule (ext/
 * nat-rewrite.c), which is wrong for a field that holds only the
 * pseudo-header sum, so that sum is recomputed from the rewritten header
 * before sending.  PACKET_IGNORE_OUTGOING keeps a bridge's own output out
 * of its capture; each received frame is sent at most once.
 *
 * IP fragments.  Reassembly (ext/ipf.c) holds a fragment until its
 * datagram is complete: ovsct_execute() gives it OVSCT_STATE_HELD, and the
 * worker neither sends nor drops it.  When the datagram completes, the
 * fragments of that call get its state in the batch; those held from
 * earlier calls, possibly of another worker (PACKET_FANOUT_HASH hashes a
 * fragment on its addresses only, not the flow's ports) or another
 * attachment, leave through ovsct_ipf_drain() with their final state and
 * their bytes, already rewritten by NAT.  Every worker drains after each
 * batch and at least every IDLE_POLL_MS when idle (lists that time out
 * leave as inv), and whoever drains a fragment sends it (or counts it)
 * under the same rules as any frame: the bytes come from the drain, so no
 * copy is kept here.  What the worker needs besides the bytes is in the
 * fragment's tag (batch.tag_base + index, the TAG_* layout): the
 * attachment, the port it came in on and its VLAN tag; a bridge batch
 * therefore never mixes VLAN tags (a change of tag starts a new
 * ovsct_execute() call).  'held' counts a port's fragments in between.
 * Fragments of another attachment are sent under the datapath's mutex, so
 * that attachment cannot be stopped meanwhile; fragments whose attachment
 * is gone are dropped.  The workers drain only live tags
 * (ovsct_ipf_drain_owned() on TAG_LIVE): a capture replayed into the same
 * table drains its fragments itself.
 */
#include "afpacket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

const char *const ovsct_live_role_names[OVSCT_LIVE_ROLE_N] = {
    "monitor", "inside", "outside",
};
const char *const ovsct_live_drop_names[OVSCT_LIVE_DROP_N] = {
    "invalid", "not_established", "truncated", "tx_error",
};

#define RING_BLOCK_SIZE (1u << 18)      /* Holds a 64 KiB GSO frame. */
#define RING_BLOCK_NR 16u
#define RING_FRAME_SIZE (1u << 11)
#define RING_BLOCK_TOV_MS 1
#define SLOT_SIZE (65536u + 512u)       /* One received frame, any GSO. */
#define VLAN_LEN 4
#define IDLE_POLL_MS 500                /* Drain held fragments this often
                                         * when no frame arrives. */

#define ETH_P_8021AD_ 0x88A8
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

struct live_ring {
    uint8_t *map;
    size_t size;
    uint32_t cur;                       /* Next block to read. */
};

struct live_port {
    char name[OVSCT_LIVE_NAME_SIZE];
    int ifindex;
    enum ovsct_live_role role;
    int fds[OVSCT_LIVE_MAX_WORKERS];
    struct live_ring rings[OVSCT_LIVE_MAX_WORKERS];
    _Atomic uint64_t received;
    _Atomic uint64_t tracked;
    _Atomic uint64_t forwarded;
    _Atomic uint64_t dropped[OVSCT_LIVE_DROP_N];
    uint64_t ring_drops;                /* Under the datapath mutex. */
    _Atomic int64_t held;               /* Fragments held by reassembly
                                         * now (received, not yet tracked
                                         * to a final state). */
};

struct live_group {
    struct ovsct_live *live;
    struct ovsct *ct;
    struct ovsct_action action;         /* Monitor, INSIDE (and OUTSIDE
                                         * without firewall). */
    struct ovsct_action reply_action;   /* OUTSIDE with firewall. */
    bool bridge;
    bool firewall;
    uint16_t id;                        /* In fragment tags (TAG_*). */
    uint32_t n_ports;
    struct live_port ports[2];
    uint32_t n_workers;
    uint32_t n_started;
    pthread_t threads[OVSCT_LIVE_MAX_WORKERS];
    int stop_fd;
    struct live_group *next;
};

struct ovsct_live {
    struct ovsct *ct;
    uint32_t n_workers;
    pthread_mutex_t mutex;
    struct live_group *groups;          /* In attachment order. */
    uint16_t next_id;                   /* Under the mutex. */
};

/* Per-worker buffers. */
struct worker {
    struct live_group *g;
    uint32_t idx;
    uint8_t *pack;                      /* Packed batch. */
    uint32_t offsets[OVSCT_LIVE_BATCH + 1];
    uint8_t csum_ok[OVSCT_LIVE_BATCH];
    uint8_t states[OVSCT_LIVE_BATCH];
    uint32_t vkey[OVSCT_LIVE_BATCH];    /* VLAN of packed frame k
                                         * (vlan_key()). */
    uint32_t serial;                    /* Tags: frames run so far, mod
                                         * TAG_SERIAL_SPAN. */
    /* Bridge only. */
    uint8_t *slots;                     /* OVSCT_LIVE_BATCH x SLOT_SIZE. */
    struct virtio_net_hdr vnet[OVSCT_LIVE_BATCH];
    struct mmsghdr msgs[OVSCT_LIVE_BATCH];
    struct iovec iov[OVSCT_LIVE_BATCH][2];
    union {
        struct cmsghdr align;
        uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } cmsg[OVSCT_LIVE_BATCH];
    struct virtio_net_hdr tx_vnet[OVSCT_LIVE_BATCH];
    uint8_t tx_tag[OVSCT_LIVE_BATCH][VLAN_LEN];
    struct iovec tx_iov[OVSCT_LIVE_BATCH][4];
    struct mmsghdr tx_msgs[OVSCT_LIVE_BATCH];
};

static void
set_err(char *err, size_t size, const char *fmt, const char *a,
        const char *b)
{
    if (err && size) {
        snprintf(err, size, fmt, a, b ? b : "");
    }
}

static inline uint16_t
be16_at(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

/* ---------------------------------------------------------------------- */
/* Frame facts. */

/* L3 offset and EtherType of an untagged or once-tagged frame. */
static uint16_t
frame_ethertype(const uint8_t *f, uint32_t len, uint32_t *l3_ofs)
{
    *l3_ofs = ETH_HLEN;
    if (len < ETH_HLEN) {
        return 0;
    }
    uint16_t type = be16_at(f + 12);
    if ((type == ETH_P_8021Q || type == ETH_P_8021AD_)
        && len >= ETH_HLEN + VLAN_LEN) {
        type = be16_at(f + 16);
        *l3_ofs += VLAN_LEN;
    }
    return type;
}

/* Finds the L4 header of an IPv4 frame or an IPv6 frame without extension
 * headers: sets '*proto', '*l4_ofs' and '*l4_len'.  False otherwise. */
static bool
frame_l4(const uint8_t *f, uint32_t len, uint8_t *proto, uint32_t *l4_ofs,
         uint32_t *l4_len)
{
    uint32_t l3;
    uint16_t type = frame_ethertype(f, len, &l3);

    if (type == ETH_P_IP && len >= l3 + 20) {
        uint32_t ihl = (uint32_t) (f[l3] & 0x0f) * 4;
        uint32_t tot = be16_at(f + l3 + 2);
        if (ihl < 20 || tot < ihl || l3 + tot > len) {
            return false;
        }
        *proto = f[l3 + 9];
        *l4_ofs = l3 + ihl;
        *l4_len = tot - ihl;
        return true;
    }
    if (type == ETH_P_IPV6 && len >= l3 + 40) {
        uint32_t plen = be16_at(f + l3 + 4);
        if (l3 + 40 + plen > len) {
            return false;
        }
        *proto = f[l3 + 6];
        *l4_ofs = l3 + 40;
        *l4_len = plen;
        return true;
    }
    return false;
}

/* True for frames a bridge passes without tracking: non-IP (ARP, LLDP...)
 * and ICMPv6 router/neighbour discovery (types 133-137). */
static bool
frame_passes_untracked(const uint8_t *f, uint32_t len)
{
    uint32_t l3;
    uint16_t type = frame_ethertype(f, len, &l3);
    if (type != ETH_P_IP && type != ETH_P_IPV6) {
        return true;
    }
    uint8_t proto;
    uint32_t l4, l4_len;
    if (type == ETH_P_IPV6 && frame_l4(f, len, &proto, &l4, &l4_len)
        && proto == PROTO_ICMPV6 && l4_len >= 1) {
        return f[l4] >= 133 && f[l4] <= 137;
    }
    return false;
}

static uint32_t
sum16(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += be16_at(p + i);
    }
    if (n & 1) {
        sum += (uint32_t) p[n - 1] << 8;
    }
    return sum;
}

/* Writes the pseudo-header sum (folded, not inverted: what the Linux stack
 * leaves in a CHECKSUM_PARTIAL TCP/UDP header) into the L4 checksum field
 * of frame 'f', and fills the virtio-net checksum fields.  False if the
 * frame is not TCP or UDP over IPv4 or plain IPv6. */
static bool
frame_partial_csum(uint8_t *f, uint32_t len, struct virtio_net_hdr *vh,
                   uint32_t *hdr_len)
{
    uint8_t proto;
    uint32_t l4, l4_len, l3 = 0;
    uint16_t type = frame_ethertype(f, len, &l3);

    if (!frame_l4(f, len, &proto, &l4, &l4_len)
        || (proto != PROTO_TCP && proto != PROTO_UDP)) {
        return false;
    }
    uint32_t field = proto == PROTO_TCP ? 16 : 6;
    if (l4_len < field + 2) {
        return false;
    }
    uint32_t sum = proto + l4_len;
    sum = type == ETH_P_IP ? sum16(sum, f + l3 + 12, 8)
                           : sum16(sum, f + l3 + 8, 32);
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    f[l4 + field] = (uint8_t) (sum >> 8);
    f[l4 + field + 1] = (uint8_t) sum;
    vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh->csum_start = (uint16_t) l4;
    vh->csum_offset = (uint16_t) field;
    *hdr_len = l4 + (proto == PROTO_TCP && l4_len >= 13
                     ? (uint32_t) (f[l4 + 12] >> 4) * 4 : 8);
    return true;
}

/* ---------------------------------------------------------------------- */
/* Sockets. */

static int
open_socket(struct live_group *g, struct live_port *p, uint32_t w,
            uint16_t fanout_id, char *err, size_t err_size)
{
    int one = 1;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        set_err(err, err_size, "%s: cannot open a packet socket (%s)",
                p->name, strerror(e));
        return -e;
    }
    const char *what = NULL;
    if (!g->bridge) {
        int v = TPACKET_V3;
        struct tpacket_req3 req = {
            .tp_block_size = RING_BLOCK_SIZE,
            .tp_block_nr = RING_BLOCK_NR,
            .tp_frame_size = RING_FRAME_SIZE,
            .tp_frame_nr = RING_BLOCK_SIZE / RING_FRAME_SIZE * RING_BLOCK_NR,
            .tp_retire_blk_tov = RING_BLOCK_TOV_MS,
        };
        if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v)) {
            what = "PACKET_VERSION";
        } else if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req,
                              sizeof req)) {
            what = "PACKET_RX_RING";
        } else {
            size_t size = (size_t) RING_BLOCK_SIZE * RING_BLOCK_NR;
            void *map = mmap(NULL, size, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_POPULATE, fd, 0);
            if (map == MAP_FAILED) {
                what = "mmap";
            } else {
                p->rings[w].map = map;
                p->rings[w].size = size;
                p->rings[w].cur = 0;
            }
        }
    } else if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one)) {
        what = "PACKET_AUXDATA";
    } else if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one,
                          sizeof one)) {
        what = "PACKET_VNET_HDR";
    } else if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
                          sizeof one)) {
        what = "PACKET_IGNORE_OUTGOING";
    } else {
        int size = 4 << 20;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }

    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ALL),
        .sll_ifindex = p->ifindex,
    };
    struct packet_mreq mr = {
        .mr_ifindex = p->ifindex,
        .mr_type = PACKET_MR_PROMISC,
    };
    if (!what && bind(fd, (struct sockaddr *) &sll, sizeof sll)) {
        what = "bind";
    }
    if (!what && setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
                            sizeof mr)) {
        what = "promiscuous mode";
    }
    if (!what && g->n_workers > 1) {
        int arg = fanout_id | (PACKET_FANOUT_HASH << 16);
        if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg)) {
            what = "PACKET_FANOUT";
        }
    }
    if (what) {
        int e = errno;
        char buf[64];
        snprintf(buf, sizeof buf, "%s (%s)", what, strerror(e));
        set_err(err, err_size, "%s: %s", p->name, buf);
        if (p->rings[w].map) {
            munmap(p->rings[w].map, p->rings[w].size);
            p->rings[w].map = NULL;
        }
        close(fd);
        return -e;
    }
    return fd;
}

/* Adds what the kernel dropped since the last call to 'p->ring_drops'
 * (PACKET_STATISTICS resets on read).  Caller holds the mutex. */
static void
port_poll_drops(struct live_port *p, uint32_t n_workers)
{
    for (uint32_t w = 0; w < n_workers; w++) {
        struct tpacket_stats_v3 st;
        socklen_t len = sizeof st;
        memset(&st, 0, sizeof st);
        if (p->fds[w] >= 0
            && !getsockopt(p->fds[w], SOL_PACKET, PACKET_STATISTICS, &st,
                           &len)) {
            p->ring_drops += st.tp_drops;
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Workers. */

/* Fragment tags (struct ovsct_batch.tag_base + index in the batch):
 *
 *   bit 63     set: a live frame (a capture replay tags by capture index)
 *   62..47     attachment (live_group.id)
 *   46         port index in the attachment
 *   45..44     VLAN TPID stripped by the kernel: 0 none, 1 802.1Q,
 *              2 802.1ad (vlan_key())
 *   43..28     VLAN TCI
 *   27..22     worker index (< OVSCT_LIVE_MAX_WORKERS = 64)
 *   21..0      the worker's frame serial: unique per worker until it
 *              wraps (4 Mi frames), which nothing relies on
 */
#define TAG_LIVE OVSCT_TAG_LIVE
#define TAG_GROUP_SHIFT 47
#define TAG_PORT_SHIFT 46
#define TAG_VLAN_SHIFT 28
#define TAG_WORKER_SHIFT 22
#define TAG_SERIAL_SPAN (UINT32_C(1) << TAG_WORKER_SHIFT)
#define VLAN_KIND_8021Q 1u
#define VLAN_KIND_8021AD 2u

static uint32_t
vlan_key(uint16_t tci, uint16_t tpid)
{
    uint32_t kind = !tci && !tpid ? 0
                    : tpid == ETH_P_8021AD_ ? VLAN_KIND_8021AD
                    : VLAN_KIND_8021Q;
    return kind << 16 | tci;
}

static void
vlan_unkey(uint32_t key, uint16_t *tci, uint16_t *tpid)
{
    uint32_t kind = key >> 16 & 3;
    *tci = (uint16_t) key;
    *tpid = kind == VLAN_KIND_8021AD ? ETH_P_8021AD_
            : kind == VLAN_KIND_8021Q ? ETH_P_8021Q : 0;
}

static void
add_frame(struct worker *wk, size_t *n, const uint8_t *f, uint32_t len,
          bool csum_ok, uint32_t vkey)
{
    uint32_t ofs = wk->offsets[*n];
    memcpy(wk->pack + ofs, f, len);
    wk->csum_ok[*n] = csum_ok;
    wk->vkey[*n] = vkey;
    wk->offsets[++*n] = ofs + len;
}

/* Runs packed frames [from, to) of port 'pi' (all with the same VLAN key)
 * through the engine.  Frames held by reassembly are counted 'held', the
 * others 'tracked'. */
static void
execute(struct worker *wk, size_t from, size_t to,
        const struct ovsct_action *action, uint32_t pi)
{
    struct live_group *g = wk->g;
    struct live_port *p = &g->ports[pi];
    size_t n = to - from;
    uint8_t *states = wk->states + from;

    if (!n) {
        return;
    }
    if (wk->serial > TAG_SERIAL_SPAN - OVSCT_LIVE_BATCH) {
        wk->serial = 0;
    }
    struct ovsct_batch b = {
        .data = wk->pack, .size = wk->offsets[to],
        .offsets = wk->offsets + from, .n = n,
        .l4_csum_ok = wk->csum_ok + from,
        .tag_base = TAG_LIVE | (uint64_t) g->id << TAG_GROUP_SHIFT
                    | (uint64_t) pi << TAG_PORT_SHIFT
                    | (uint64_t) wk->vkey[from] << TAG_VLAN_SHIFT
                    | (uint64_t) wk->idx << TAG_WORKER_SHIFT | wk->serial,
    };
    wk->serial += (uint32_t) n;
    if (ovsct_execute(g->ct, &b, action, states)) {
        memset(states, OVSCT_CS_INVALID | OVSCT_CS_TRACKED, n);
    }
    uint64_t held = 0;
    for (size_t i = 0; i < n; i++) {
        held += states[i] == OVSCT_STATE_HELD;
    }
    atomic_fetch_add_explicit(&p->tracked, n - held, memory_order_relaxed);
    if (held) {
        atomic_fetch_add_explicit(&p->held, (int64_t) held,
                                  memory_order_relaxed);
    }
}

/* What a bridge does with a frame from port 'pi' in state 'st': -1 to
 * forward it, else the enum ovsct_live_drop reason. */
static int
bridge_verdict(const struct live_group *g, uint32_t pi, uint8_t st)
{
    bool reply_side = g->firewall
                      && g->ports[pi].role == OVSCT_LIVE_OUTSIDE;

    if (g->firewall && !reply_side && st & OVSCT_CS_INVALID) {
        return OVSCT_LIVE_DROP_INVALID;
    }
    if (reply_side && (st & OVSCT_CS_INVALID
                       || !(st & (OVSCT_CS_ESTABLISHED | OVSCT_CS_RELATED)))) {
        return OVSCT_LIVE_DROP_NOT_EST;
    }
    return -1;
}

/* Fills 'iov' with the message for frame 'f': the virtio-net header 'vh'
 * and the frame, with the VLAN tag the kernel stripped ('tci', 'tpid')
 * put back after the MAC addresses (in 'tag', VLAN_LEN bytes).  Returns
 * the number of iovecs (at most 4). */
static size_t
frame_iov(struct iovec *iov, struct virtio_net_hdr *vh, uint8_t *f,
          uint32_t len, uint16_t tci, uint16_t tpid, uint8_t *tag)
{
    size_t n_iov = 0;

    iov[n_iov++] = (struct iovec) { vh, sizeof *vh };
    if (tci || tpid) {
        tag[0] = (uint8_t) (tpid >> 8);
        tag[1] = (uint8_t) tpid;
        tag[2] = (uint8_t) (tci >> 8);
        tag[3] = (uint8_t) tci;
        if (vh->flags) {
            vh->csum_start = (uint16_t) (vh->csum_start + VLAN_LEN);
        }
        if (vh->hdr_len) {
            vh->hdr_len = (uint16_t) (vh->hdr_len + VLAN_LEN);
        }
        uint32_t mac = len < 12 ? len : 12;
        iov[n_iov++] = (struct iovec) { f, mac };
        iov[n_iov++] = (struct iovec) { tag, VLAN_LEN };
        iov[n_iov++] = (struct iovec) { f + mac, len - mac };
    } else {
        iov[n_iov++] = (struct iovec) { f, len };
    }
    return n_iov;
}

/* A fragment that left reassembly, of port 'pi' of 'g' (the caller's
 * attachment, or another one with the datapath mutex held): counted
 * tracked and, in a bridge, forwarded or dropped as any frame in its
 * final state.  Its bytes are NAT-rewritten already; fragments never carry
 * GSO or a checksum left to offload (the kernel completes the checksum
 * before it fragments). */
static void
fragment_route(struct worker *wk, struct live_group *g, uint32_t pi,
               uint64_t tag, uint8_t state, const uint8_t *frame,
               uint32_t len)
{
    struct live_port *p = &g->ports[pi];

    atomic_fetch_sub_explicit(&p->held, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->tracked, 1, memory_order_relaxed);
    if (!g->bridge) {
        return;
    }
    int why = bridge_verdict(g, pi, state);
    if (why >= 0) {
        atomic_fetch_add_explicit(&p->dropped[why], 1, memory_order_relaxed);
        return;
    }

    struct virtio_net_hdr vh;
    struct iovec iov[4];
    uint8_t vtag[VLAN_LEN];
    uint16_t tci, tpid;
    memset(&vh, 0, sizeof vh);
    vlan_unkey((uint32_t) (tag >> TAG_VLAN_SHIFT), &tci, &tpid);
    struct msghdr mh = {
        .msg_iov = iov,
        .msg_iovlen = frame_iov(iov, &vh, (uint8_t *) (uintptr_t) frame,
                                len, tci, tpid, vtag),
    };
    int fd = g->ports[pi ^ 1].fds[wk->idx % g->n_workers];
    ssize_t r;
    do {
        r = sendmsg(fd, &mh, 0);
    } while (r < 0 && errno == EINTR);
    if (r >= 0) {
        atomic_fetch_add_explicit(&p->forwarded, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&p->dropped[OVSCT_LIVE_DROP_TX_ERROR], 1,
                                  memory_order_relaxed);
    }
}

/* ovsct_ipf_out_fn for the workers: routes a fragment by its tag. */
static void
fragment_out(void *wk_, uint64_t tag, uint8_t state, const uint8_t *frame,
             uint32_t len)
{
    struct worker *wk = wk_;
    struct live_group *g = wk->g;
    uint16_t id = (uint16_t) (tag >> TAG_GROUP_SHIFT);
    uint32_t pi = (uint32_t) (tag >> TAG_PORT_SHIFT) & 1;

    if (id == g->id) {
        /* Our attachment: it stops only after joining this thread. */
        if (pi < g->n_ports) {
            fragment_route(wk, g, pi, tag, state, frame, len);
        }
        return;
    }
    /* Another attachment: the mutex keeps it (and its sockets) alive; it
     * is unlinked under the mutex before it is stopped. */
    struct ovsct_live *live = g->live;
    pthread_mutex_lock(&live->mutex);
    for (g = live->groups; g && g->id != id; g = g->next) {
        continue;
    }
    if (g && pi < g->n_ports) {
        fragment_route(wk, g, pi, tag, state, frame, len);
    }
    pthread_mutex_unlock(&live->mutex);
}

/* Sends or counts the live fragments that left reassembly since the last
 * drain, of any attachment; a capture replay's stay for its drain. */
static void
drain_fragments(struct worker *wk)
{
    ovsct_ipf_drain_owned(wk->g->ct, TAG_LIVE, TAG_LIVE, fragment_out, wk);
}

static bool
csum_status_ok(uint32_t status)
{
    return status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID);
}

/* Monitor: reads every retired block of the ring. */
static void
monitor_drain(struct worker *wk, struct live_port *p)
{
    struct live_ring *r = &p->rings[wk->idx];
    struct live_group *g = wk->g;

    for (;;) {
        struct tpacket_block_desc *bd = (struct tpacket_block_desc *)
            (r->map + (size_t) r->cur * RING_BLOCK_SIZE);
        if (!(atomic_load_explicit((_Atomic uint32_t *)
                                   &bd->hdr.bh1.block_status,
                                   memory_order_acquire) & TP_STATUS_USER)) {
            return;
        }
        uint32_t n_pkts = bd->hdr.bh1.num_pkts;
        uint8_t *ptr = (uint8_t *) bd + bd->hdr.bh1.offset_to_first_pkt;
        size_t n = 0;
        uint64_t received = 0, truncated = 0;
        wk->offsets[0] = 0;
        for (uint32_t i = 0; i < n_pkts; i++) {
            struct tpacket3_hdr *h = (struct tpacket3_hdr *) ptr;
            const uint8_t *f = ptr + h->tp_mac;
            uint32_t l3;
            received++;
            if (h->tp_snaplen < h->tp_len) {
                truncated++;
            } else if (frame_ethertype(f, h->tp_snaplen, &l3) == ETH_P_IP
                       || frame_ethertype(f, h->tp_snaplen, &l3)
                          == ETH_P_IPV6) {
                add_frame(wk, &n, f, h->tp_snaplen,
                          csum_status_ok(h->tp_status), 0);
                if (n == OVSCT_LIVE_BATCH) {
                    execute(wk, 0, n, &g->action, 0);
                    n = 0;
                }
            }
            ptr += h->tp_next_offset;
        }
        execute(wk, 0, n, &g->action, 0);
        drain_fragments(wk);
        atomic_fetch_add_explicit(&p->received, received,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&p->dropped[OVSCT_LIVE_DROP_TRUNCATED],
                                  truncated, memory_order_relaxed);
        atomic_store_explicit((_Atomic uint32_t *) &bd->hdr.bh1.block_status,
                              TP_STATUS_KERNEL, memory_order_release);
        r->cur = (r->cur + 1) % RING_BLOCK_NR;
    }
}

/* Sends the 'n' prepared messages on 'fd', each at most once. */
static void
send_all(struct worker *wk, int fd, size_t n, struct live_port *from)
{
    size_t done = 0;
    uint64_t sent = 0, failed = 0;
    while (done < n) {
        int r = sendmmsg(fd, wk->tx_msgs + done, (unsigned) (n - done), 0);
        if (r > 0) {
            done += (size_t) r;
            sent += (uint64_t) r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            done++;                     /* That one failed: skip it. */
            failed++;
        }
    }
    atomic_fetch_add_explicit(&from->forwarded, sent, memory_order_relaxed);
    atomic_fetch_add_explicit(&from->dropped[OVSCT_LIVE_DROP_TX_ERROR],
                              failed, memory_order_relaxed);
}

/* Bridge: one recvmmsg() batch from port 'pi', tracked, filtered and sent
 * out of the other port.  Returns the number of frames read. */
static int
bridge_step(struct worker *wk, uint32_t pi)
{
    struct live_group *g = wk->g;
    struct live_port *p = &g->ports[pi];
    struct live_port *out = &g->ports[pi ^ 1];
    int fd = p->fds[wk->idx];

    for (size_t i = 0; i < OVSCT_LIVE_BATCH; i++) {
        wk->iov[i][0] = (struct iovec) { &wk->vnet[i], sizeof wk->vnet[i] };
        wk->iov[i][1] = (struct iovec) { wk->slots + i * SLOT_SIZE,
                                         SLOT_SIZE };
        wk->msgs[i].msg_hdr = (struct msghdr) {
            .msg_iov = wk->iov[i], .msg_iovlen = 2,
            .msg_control = wk->cmsg[i].buf,
            .msg_controllen = sizeof wk->cmsg[i].buf,
        };
    }
    int r = recvmmsg(fd, wk->msgs, OVSCT_LIVE_BATCH, MSG_DONTWAIT, NULL);
    if (r <= 0) {
        return 0;
    }

    /* Which frames are tracked, and where they are in the packed batch. */
    int8_t packed[OVSCT_LIVE_BATCH];
    uint32_t status[OVSCT_LIVE_BATCH];
    uint16_t tci[OVSCT_LIVE_BATCH], tpid[OVSCT_LIVE_BATCH];
    size_t n = 0;
    uint64_t truncated = 0;
    wk->offsets[0] = 0;
    for (int i = 0; i < r; i++) {
        struct msghdr *mh = &wk->msgs[i].msg_hdr;
        uint32_t len = wk->msgs[i].msg_len;
        const uint8_t *f = wk->slots + (size_t) i * SLOT_SIZE;

        status[i] = 0;
        tci[i] = 0;
        tpid[i] = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c;
             c = CMSG_NXTHDR(mh, c)) {
            if (c->cmsg_level == SOL_PACKET
                && c->cmsg_type == PACKET_AUXDATA) {
                struct tpacket_auxdata aux;
                memcpy(&aux, CMSG_DATA(c), sizeof aux);
                status[i] = aux.tp_status;
                if (aux.tp_status & TP_STATUS_VLAN_VALID) {
                    tci[i] = aux.tp_vlan_tci;
                    tpid[i] = aux.tp_status & TP_STATUS_VLAN_TPID_VALID
                              ? aux.tp_vlan_tpid : ETH_P_8021Q;
                }
            }
        }
        packed[i] = -1;
        if (mh->msg_flags & MSG_TRUNC || len < sizeof wk->vnet[i]) {
            packed[i] = -2;
            truncated++;
            continue;
        }
        len -= (uint32_t) sizeof wk->vnet[i];
        wk->msgs[i].msg_len = len;
        if (!frame_passes_untracked(f, len)) {
            packed[i] = (int8_t) n;
            bool partial = status[i] & TP_STATUS_CSUMNOTREADY
                           || wk->vnet[i].flags
                              & VIRTIO_NET_HDR_F_NEEDS_CSUM;
            add_frame(wk, &n, f, len,
                      partial || csum_status_ok(status[i]),
                      vlan_key(tci[i], tpid[i]));
        }
    }
    atomic_fetch_add_explicit(&p->received, (uint64_t) r,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&p->dropped[OVSCT_LIVE_DROP_TRUNCATED],
                              truncated, memory_order_relaxed);

    /* One engine call per run of frames with the same VLAN tag: the tag
     * must be in the fragment tags (TAG_* layout above). */
    bool reply_side = g->firewall && p->role == OVSCT_LIVE_OUTSIDE;
    const struct ovsct_action *action = reply_side ? &g->reply_action
                                                   : &g->action;
    size_t from = 0;
    for (size_t k = 1; k <= n; k++) {
        if (k == n || wk->vkey[k] != wk->vkey[from]) {
            execute(wk, from, k, action, pi);
            from = k;
        }
    }

    /* Verdicts, then the messages to send, in arrival order.  A fragment
     * held by reassembly is neither sent nor dropped: it leaves later
     * through drain_fragments(). */
    size_t m = 0;
    uint64_t drops[OVSCT_LIVE_DROP_N] = { 0 };
    for (int i = 0; i < r; i++) {
        if (packed[i] == -2) {
            continue;
        }
        uint8_t *f;
        uint32_t len;
        if (packed[i] >= 0) {
            int k = packed[i];
            uint8_t st = wk->states[k];
            if (st == OVSCT_STATE_HELD) {
                continue;
            }
            int why = bridge_verdict(g, pi, st);
            if (why >= 0) {
                drops[why]++;
                continue;
            }
            f = wk->pack + wk->offsets[k];
            len = wk->offsets[k + 1] - wk->offsets[k];
        } else {
            f = wk->slots + (size_t) i * SLOT_SIZE;
            len = wk->msgs[i].msg_len;
        }

        /* virtio-net header: GSO as received, checksum left to offload
         * as received (with the pseudo-header sum made right again). */
        struct virtio_net_hdr *vh = &wk->tx_vnet[m];
        const struct virtio_net_hdr *rx = &wk->vnet[i];
        uint32_t hdr_len = 0;
        memset(vh, 0, sizeof *vh);
        bool partial = status[i] & TP_STATUS_CSUMNOTREADY
                       || rx->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
        if (partial && !frame_partial_csum(f, len, vh, &hdr_len)) {
            vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
            vh->csum_start = rx->csum_start;
            vh->csum_offset = rx->csum_offset;
        }
        if (rx->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
            vh->gso_type = rx->gso_type;
            vh->gso_size = rx->gso_size;
            vh->hdr_len = (uint16_t) (hdr_len ? hdr_len : rx->hdr_len);
        }

        struct iovec *iov = wk->tx_iov[m];
        wk->tx_msgs[m].msg_hdr = (struct msghdr) {
            .msg_iov = iov,
            .msg_iovlen = frame_iov(iov, vh, f, len, tci[i], tpid[i],
                                    wk->tx_tag[m]),
        };
        m++;
    }
    for (int d = 0; d < OVSCT_LIVE_DROP_N; d++) {
        if (drops[d]) {
            atomic_fetch_add_explicit(&p->dropped[d], drops[d],
                                      memory_order_relaxed);
        }
    }
    send_all(wk, out->fds[wk->idx], m, p);
    drain_fragments(wk);
    return r;
}

static void *
worker_main(void *wk_)
{
    struct worker *wk = wk_;
    struct live_group *g = wk->g;
    struct pollfd pfd[3];
    uint32_t np = g->n_ports;

    for (uint32_t i = 0; i < np; i++) {
        pfd[i] = (struct pollfd) { .fd = g->ports[i].fds[wk->idx],
                                   .events = POLLIN };
    }
    pfd[np] = (struct pollfd) { .fd = g->stop_fd, .events = POLLIN };
    for (;;) {
        if (!g->bridge) {
            monitor_drain(wk, &g->ports[0]);
        }
        /* Idle too: lists that time out leave (as inv) without traffic. */
        drain_fragments(wk);
        int ready = poll(pfd, np + 1, IDLE_POLL_MS);
        if (ready < 0 && errno != EINTR) {
            break;
        }
        if (pfd[np].revents) {
            break;
        }
        if (!g->bridge || ready <= 0) {
            continue;
        }
        /* Alternate the sides until both are empty. */
        int got;
        do {
            got = 0;
            for (uint32_t i = 0; i < np; i++) {
                got += bridge_step(wk, i);
            }
        } while (got);
    }
    free(wk->pack);
    free(wk->slots);
    free(wk);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Attachments. */

static void
group_stop(struct live_group *g)
{
    if (g->stop_fd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(g->stop_fd, &one, sizeof one);
        (void) r;
    }
    for (uint32_t w = 0; w < g->n_started; w++) {
        pthread_join(g->threads[w], NULL);
    }
    for (uint32_t i = 0; i < g->n_ports; i++) {
        struct live_port *p = &g->ports[i];
        for (uint32_t w = 0; w < g->n_workers; w++) {
            if (p->rings[w].map) {
                munmap(p->rings[w].map, p->rings[w].size);
            }
            if (p->fds[w] >= 0) {
                close(p->fds[w]);
            }
        }
    }
    if (g->stop_fd >= 0) {
        close(g->stop_fd);
    }
    free(g);
}

static struct live_port *
find_port(struct ovsct_live *live, const char *name,
          struct live_group **gp)
{
    for (struct live_group *g = live->groups; g; g = g->next) {
        for (uint32_t i = 0; i < g->n_ports; i++) {
            if (!strcmp(g->ports[i].name, name)) {
                if (gp) {
                    *gp = g;
                }
                return &g->ports[i];
            }
        }
    }
    return NULL;
}

static uint16_t
next_fanout_id(void)
{
    static _Atomic uint32_t counter;
    uint32_t c = atomic_fetch_add(&counter, 1);
    return (uint16_t) ((uint32_t) getpid() * 2654435761u + c * 40503u);
}

/* Creates and starts an attachment of 'n_names' interfaces.  Caller holds
 * the mutex.  On failure, '*failed' is an attachment the caller must stop
 * with group_stop() once it has released the mutex (its workers may be
 * waiting for the mutex to route a fragment), or NULL. */
static int
group_start(struct ovsct_live *live, const char *const *names,
            uint32_t n_names, bool firewall,
            const struct ovsct_action *action, struct live_group **failed,
            char *err, size_t err_size)
{
    *failed = NULL;
    for (uint32_t i = 0; i < n_names; i++) {
        if (!names[i] || !names[i][0]
            || strlen(names[i]) >= OVSCT_LIVE_NAME_SIZE) {
            set_err(err, err_size, "%s: invalid interface name%s",
                    names[i] ? names[i] : "", NULL);
            return EINVAL;
        }
        if (find_port(live, names[i], NULL)) {
            set_err(err, err_size, "%s: interface already attached%s",
                    names[i], NULL);
            return EEXIST;
        }
        if (!if_nametoindex(names[i])) {
            set_err(err, err_size, "%s: no such interface%s", names[i],
                    NULL);
            return ENODEV;
        }
    }
    if (n_names == 2 && !strcmp(names[0], names[1])) {
        set_err(err, err_size, "%s: cannot bridge an interface to itself%s",
                names[0], NULL);
        return EINVAL;
    }

    struct live_group *g = calloc(1, sizeof *g);
    if (!g) {
        set_err(err, err_size, "out of memory%s%s", "", NULL);
        return ENOMEM;
    }
    g->live = live;
    g->ct = live->ct;
    /* An id no running attachment has (fragment tags name it). */
    for (bool used = true; used;) {
        g->id = live->next_id++;
        used = false;
        for (struct live_group *o = live->groups; o; o = o->next) {
            used |= o->id == g->id;
        }
    }
    g->action = *action;
    g->reply_action = (struct ovsct_action) { .zone = action->zone };
    if (action->nat.kind) {
        g->reply_action.nat.kind = 0xff;
        g->reply_action.nat.l3 = action->nat.l3;
    }
    g->bridge = n_names == 2;
    g->firewall = g->bridge && firewall;
    g->n_ports = n_names;
    g->n_workers = live->n_workers;
    g->stop_fd = -1;
    for (uint32_t i = 0; i < n_names; i++) {
        struct live_port *p = &g->ports[i];
        strcpy(p->name, names[i]);
        p->ifindex = (int) if_nametoindex(names[i]);
        p->role = !g->bridge ? OVSCT_LIVE_MONITOR
                  : i == 0 ? OVSCT_LIVE_INSIDE : OVSCT_LIVE_OUTSIDE;
        for (uint32_t w = 0; w < OVSCT_LIVE_MAX_WORKERS; w++) {
            p->fds[w] = -1;
        }
    }

    int error = 0;
    g->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (g->stop_fd < 0) {
        error = errno;
        set_err(err, err_size, "eventfd: %s%s", strerror(error), NULL);
        goto fail;
    }
    for (uint32_t i = 0; i < n_names; i++) {
        uint16_t fanout_id = next_fanout_id();
        for (uint32_t w = 0; w < g->n_workers; w++) {
            int fd = open_socket(g, &g->ports[i], w, fanout_id, err,
                                 err_size);
            if (fd < 0) {
                error = -fd;
                goto fail;
            }
            g->ports[i].fds[w] = fd;
        }
        /* Frames counted before we read any are not ours to report. */
        uint64_t before = g->ports[i].ring_drops;
        port_poll_drops(&g->ports[i], g->n_workers);
        g->ports[i].ring_drops = before;
    }
    for (uint32_t w = 0; w < g->n_workers; w++) {
        struct worker *wk = calloc(1, sizeof *wk);
        if (wk) {
            wk->g = g;
            wk->idx = w;
            wk->pack = malloc((size_t) OVSCT_LIVE_BATCH * SLOT_SIZE);
            wk->slots = g->bridge
                ? malloc((size_t) OVSCT_LIVE_BATCH * SLOT_SIZE) : NULL;
        }
        if (!wk || !wk->pack || (g->bridge && !wk->slots)) {
            if (wk) {
                free(wk->pack);
                free(wk->slots);
                free(wk);
            }
            error = ENOMEM;
            set_err(err, err_size, "out of memory%s%s", "", NULL);
            goto fail;
        }
        error = pthread_create(&g->threads[w], NULL, worker_main, wk);
        if (error) {
            free(wk->pack);
            free(wk->slots);
            free(wk);
            set_err(err, err_size, "cannot start a worker thread (%s)%s",
                    strerror(error), NULL);
            goto fail;
        }
        g->n_started++;
    }

    struct live_group **tail = &live->groups;
    while (*tail) {
        tail = &(*tail)->next;
    }
    *tail = g;
    return 0;

fail:
    *failed = g;
    return error;
}

/* ---------------------------------------------------------------------- */
/* Public functions. */

int
ovsct_live_create(struct ovsct *ct, uint32_t n_workers,
                  struct ovsct_live **livep, char *err, size_t err_size)
{
    *livep = NULL;
    if (!ct || n_workers < 1 || n_workers > OVSCT_LIVE_MAX_WORKERS) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", OVSCT_LIVE_MAX_WORKERS);
        set_err(err, err_size, "workers must be 1..%s%s", buf, NULL);
        return EINVAL;
    }
    struct ovsct_live *live = calloc(1, sizeof *live);
    if (!live) {
        set_err(err, err_size, "out of memory%s%s", "", NULL);
        return ENOMEM;
    }
    live->ct = ct;
    live->n_workers = n_workers;
    pthread_mutex_init(&live->mutex, NULL);
    *livep = live;
    return 0;
}

void
ovsct_live_destroy(struct ovsct_live *live)
{
    if (!live) {
        return;
    }
    for (;;) {
        /* Unlinked under the mutex: the other attachments' workers look
         * attachments up under it (fragment_out()). */
        pthread_mutex_lock(&live->mutex);
        struct live_group *g = live->groups;
        if (g) {
            live->groups = g->next;
        }
        pthread_mutex_unlock(&live->mutex);
        if (!g) {
            break;
        }
        group_stop(g);
    }
    pthread_mutex_destroy(&live->mutex);
    free(live);
}

int
ovsct_live_add_monitor(struct ovsct_live *live, const char *ifname,
                       const struct ovsct_action *action, char *err,
                       size_t err_size)
{
    struct live_group *failed;
    pthread_mutex_lock(&live->mutex);
    int error = group_start(live, &ifname, 1, false, action, &failed, err,
                            err_size);
    pthread_mutex_unlock(&live->mutex);
    if (failed) {
        group_stop(failed);
    }
    return error;
}

int
ovsct_live_add_bridge(struct ovsct_live *live, const char *inside,
                      const char *outside, bool firewall,
                      const struct ovsct_action *action, char *err,
                      size_t err_size)
{
    const char *names[2] = { inside, outside };
    struct live_group *failed;
    pthread_mutex_lock(&live->mutex);
    int error = group_start(live, names, 2, firewall, action, &failed, err,
                            err_size);
    pthread_mutex_unlock(&live->mutex);
    if (failed) {
        group_stop(failed);
    }
    return error;
}

int
ovsct_live_remove(struct ovsct_live *live, const char *ifname, char *err,
                  size_t err_size)
{
    struct live_group *g = NULL;
    pthread_mutex_lock(&live->mutex);
    if (!find_port(live, ifname, &g)) {
        pthread_mutex_unlock(&live->mutex);
        set_err(err, err_size, "%s: interface not attached%s", ifname, NULL);
        return ENOENT;
    }
    struct live_group **pp = &live->groups;
    while (*pp != g) {
        pp = &(*pp)->next;
    }
    *pp = g->next;
    pthread_mutex_unlock(&live->mutex);
    group_stop(g);
    return 0;
}

size_t
ovsct_live_list(struct ovsct_live *live, struct ovsct_live_iface *out,
                size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&live->mutex);
    for (struct live_group *g = live->groups; g; g = g->next) {
        for (uint32_t i = 0; i < g->n_ports; i++, n++) {
            struct live_port *p = &g->ports[i];
            port_poll_drops(p, g->n_workers);
            if (n >= max) {
                continue;
            }
            struct ovsct_live_iface *o = &out[n];
            memset(o, 0, sizeof *o);
            strcpy(o->name, p->name);
            if (g->bridge) {
                strcpy(o->peer, g->ports[i ^ 1].name);
            }
            o->role = (uint8_t) p->role;
            o->firewall = g->firewall;
            o->n_workers = g->n_workers;
            o->received = atomic_load(&p->received);
            o->tracked = atomic_load(&p->tracked);
            int64_t held = atomic_load(&p->held);
            o->held = held > 0 ? (uint64_t) held : 0;
            o->ring_drops = p->ring_drops;
            o->forwarded = atomic_load(&p->forwarded);
            for (int d = 0; d < OVSCT_LIVE_DROP_N; d++) {
                o->dropped[d] = atomic_load(&p->dropped[d]);
            }
        }
    }
    pthread_mutex_unlock(&live->mutex);
    return n;
}
