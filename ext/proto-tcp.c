/*
 * proto-tcp.c -- TCP connection tracking with OVS's (pf-derived) rules.
 *
 * Each connection keeps one struct ct_tcp_peer per direction ([0] is the
 * side that opened it).  A packet is checked against the sequence window
 * of its sender (Guido van Rooij's "Real Stateful TCP Packet Filtering"
 * algorithm as pf and OVS's conntrack-tcp.c apply it): its last byte must
 * fit the receiver's advertised window, it may not go back more than one
 * window, and its ACK may not skew more than MAX_ACK_WINDOW.  Packets that
 * fail are tried against a loose window that tolerates shotgun SYNs,
 * pick-ups and noise after a close; those pass without refreshing the
 * timer.  The outcome also moves the per-peer states and picks the
 * timeout, exactly as OVS does, so that dumps and ct_state match.
 *
 * Everything here runs with the connection's 'lock' held (the callers in
 * conntrack.c take it); no bucket lock is held.  Neighbours: conntrack.c,
 * packet.c (fills the TCP fields of struct ct_pkt).
 */
#include <string.h>

#include "ovsct-private.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

#define MAX_WSCALE 14
#define MAX_ACK_WINDOW (0xffff + 1500)  /* pf's fudge: one max window plus
                                         * one MTU. */

/* Sequence-space comparisons, modulo 2**32. */
static inline bool
seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t) (a - b) > 0;
}

static inline bool
seq_geq(uint32_t a, uint32_t b)
{
    return (int32_t) (a - b) >= 0;
}

static uint32_t
max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

/* SYN with RST or FIN, no SYN/ACK/RST at all, or FIN/PSH/URG without ACK:
 * never valid (OVS's tcp_invalid_flags()). */
static bool
invalid_flags(uint8_t flags)
{
    if (flags & TCP_SYN) {
        if (flags & (TCP_RST | TCP_FIN)) {
            return true;
        }
    } else if (!(flags & (TCP_ACK | TCP_RST))) {
        return true;
    }
    return !(flags & TCP_ACK) && (flags & (TCP_FIN | TCP_PSH | TCP_URG));
}

/* The window-scale byte as pf keeps it: the shift with CT_WSCALE_FLAG
 * when the option was present, 0 otherwise. */
static uint8_t
pkt_wscale(const struct ct_pkt *pkt)
{
    if (pkt->tcp_wscale < 0) {
        return 0;
    }
    return (uint8_t) ((pkt->tcp_wscale > MAX_WSCALE ? MAX_WSCALE
                                                    : pkt->tcp_wscale)
                      | CT_WSCALE_FLAG);
}

static void
set_expiry(struct ct_conn *c, const uint32_t *tp, int attr, int64_t now)
{
    atomic_store_explicit(&c->expiration, now + (int64_t) tp[attr] * 1000,
                          memory_order_relaxed);
}

bool
ct_tcp_valid_new(const struct ct_pkt *pkt)
{
    /* A SYN+ACK may not open a connection: only a SYN, or a packet of an
     * established stream being picked up. */
    return !invalid_flags(pkt->tcp_flags)
           && (pkt->tcp_flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK);
}

void
ct_tcp_init(struct ct_conn *c, const struct ct_pkt *pkt, const uint32_t *tp,
            int64_t now)
{
    struct ct_tcp_peer *peer = ct_conn_tcp(c);
    struct ct_tcp_peer *src = &peer[0], *dst = &peer[1];
    uint8_t flags = pkt->tcp_flags;

    memset(peer, 0, 2 * sizeof *peer);
    src->seqlo = pkt->tcp_seq;
    src->seqhi = src->seqlo + pkt->tcp_payload_len + 1;
    if (flags & TCP_SYN) {
        src->seqhi++;
        src->wscale = pkt_wscale(pkt);
    } else {
        /* Picked up mid-stream: the scales were in SYNs we never saw. */
        src->wscale = CT_WSCALE_UNKNOWN;
        dst->wscale = CT_WSCALE_UNKNOWN;
    }
    src->max_win = pkt->tcp_win ? pkt->tcp_win : 1;
    if (src->wscale & CT_WSCALE_MASK) {
        uint32_t sws = src->wscale & CT_WSCALE_MASK;

        src->max_win = (uint16_t) (((uint32_t) src->max_win
                                    + (1u << sws) - 1) >> sws);
    }
    if (flags & TCP_FIN) {
        src->seqhi++;
    }
    dst->seqhi = 1;
    dst->max_win = 1;
    src->state = OVSCT_TCPS_SYN_SENT;
    dst->state = OVSCT_TCPS_CLOSED;
    set_expiry(c, tp, OVSCT_TP_TCP_SYN_SENT, now);
}

/* Picks the timer from the two peer states (OVS's order of tests). */
static int
timer_for(const struct ct_tcp_peer *src, const struct ct_tcp_peer *dst)
{
    if (src->state >= OVSCT_TCPS_FIN_WAIT_2
        && dst->state >= OVSCT_TCPS_FIN_WAIT_2) {
        return OVSCT_TP_TCP_CLOSE;
    } else if (src->state >= OVSCT_TCPS_CLOSING
               && dst->state >= OVSCT_TCPS_CLOSING) {
        return OVSCT_TP_TCP_TIME_WAIT;
    } else if (src->state < OVSCT_TCPS_ESTABLISHED
               || dst->state < OVSCT_TCPS_ESTABLISHED) {
        return OVSCT_TP_TCP_SYN_RECV;
    } else if (src->state >= OVSCT_TCPS_CLOSING
               || dst->state >= OVSCT_TCPS_CLOSING) {
        return OVSCT_TP_TCP_FIN_WAIT;
    }
    return OVSCT_TP_TCP_ESTABLISHED;
}

/* Learns from a packet that passed a window check: window sizes, the
 * sender's highest sequence, and how far the receiver may send. */
static void
learn(struct ct_tcp_peer *src, struct ct_tcp_peer *dst, uint16_t win,
      uint32_t end, uint32_t ack, uint8_t sws)
{
    if (src->max_win < win) {
        src->max_win = win;
    }
    if (seq_gt(end, src->seqlo)) {
        src->seqlo = end;
    }
    if (seq_geq(ack + ((uint32_t) win << sws), dst->seqhi)) {
        dst->seqhi = ack + max_u32((uint32_t) win << sws, 1);
    }
}

enum ct_update_res
ct_tcp_update(struct ovsct *ct, struct ct_conn *c, int reply,
              const struct ct_pkt *pkt, const uint32_t *tp, int64_t now)
{
    struct ct_tcp_peer *peer = ct_conn_tcp(c);
    struct ct_tcp_peer *src = &peer[reply ? 1 : 0];
    struct ct_tcp_peer *dst = &peer[reply ? 0 : 1];
    uint8_t flags = pkt->tcp_flags;
    uint16_t win = pkt->tcp_win;
    uint8_t sws = 0, dws = 0;
    uint32_t seq, orig_seq, end, ack;
    bool check_ackskew = true;
    int64_t ackskew;
    bool in_window;

    if (invalid_flags(flags)) {
        return CT_UPDATE_INVALID;
    }
    if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
        if (dst->state >= OVSCT_TCPS_FIN_WAIT_2
            && src->state >= OVSCT_TCPS_FIN_WAIT_2) {
            /* Both sides closed: this SYN opens a new connection. */
            src->state = dst->state = OVSCT_TCPS_CLOSED;
            return CT_UPDATE_NEW;
        } else if (src->state <= OVSCT_TCPS_SYN_SENT) {
            /* A retransmitted (or shotgun) SYN. */
            src->state = OVSCT_TCPS_SYN_SENT;
            set_expiry(c, tp, OVSCT_TP_TCP_SYN_SENT, now);
            return CT_UPDATE_VALID_NEW;
        }
    }

    if (!(flags & TCP_SYN)) {
        if (src->wscale & CT_WSCALE_FLAG && dst->wscale & CT_WSCALE_FLAG) {
            sws = src->wscale & CT_WSCALE_MASK;
            dws = dst->wscale & CT_WSCALE_MASK;
        } else if (src->wscale & CT_WSCALE_UNKNOWN
                   && dst->wscale & CT_WSCALE_UNKNOWN) {
            sws = dws = MAX_WSCALE;
        }
    }

    orig_seq = seq = pkt->tcp_seq;
    ack = pkt->tcp_ack;
    end = seq + pkt->tcp_payload_len;
    if (src->state < OVSCT_TCPS_SYN_SENT) {
        /* The first packet from this side. */
        if (flags & TCP_SYN) {
            end++;
            if (dst->wscale & CT_WSCALE_FLAG) {
                src->wscale = pkt_wscale(pkt);
                if (src->wscale & CT_WSCALE_FLAG) {
                    /* Unscale the initial window. */
                    sws = src->wscale & CT_WSCALE_MASK;
                    win = (uint16_t) (((uint32_t) win + (1u << sws) - 1)
                                      >> sws);
                    dws = dst->wscale & CT_WSCALE_MASK;
                } else {
                    /* The other side offered a scale, this one did not:
                     * neither is used, undo the other's. */
                    dst->max_win = (uint16_t) (dst->max_win
                                               << (dst->wscale
                                                   & CT_WSCALE_MASK));
                    dst->wscale = 0;
                }
            }
        }
        if (flags & TCP_FIN) {
            end++;
        }
        src->seqlo = seq;
        src->state = OVSCT_TCPS_SYN_SENT;
        /* Slide the window if needed (a pick-up, or seqhi set by the
         * other side's first packet): then be lenient on ACK skew. */
        if (src->seqhi == 1
            || seq_geq(end + max_u32(1, (uint32_t) dst->max_win << dws),
                       src->seqhi)) {
            src->seqhi = end + max_u32(1, (uint32_t) dst->max_win << dws);
            check_ackskew = false;
        }
        if (win > src->max_win) {
            src->max_win = win;
        }
    } else {
        if (flags & TCP_SYN) {
            end++;
        }
        if (flags & TCP_FIN) {
            end++;
        }
    }

    if (!(flags & TCP_ACK)) {
        ack = dst->seqlo;       /* Nothing acknowledged: no skew. */
    } else if (ack == 0 && (flags & (TCP_ACK | TCP_RST))
                           == (TCP_ACK | TCP_RST)) {
        ack = dst->seqlo;       /* Stacks that send RST|ACK with ack 0. */
    }
    if (seq == end) {
        /* No data: relax sequencing. */
        seq = src->seqlo;
        end = seq;
    }

    ackskew = check_ackskew ? (int32_t) (dst->seqlo - ack) : 0;
    in_window = seq_geq(src->seqhi, end)
                && seq_geq(seq, src->seqlo - ((uint32_t) dst->max_win << dws))
                && ackskew >= -MAX_ACK_WINDOW
                && ackskew <= ((int64_t) MAX_ACK_WINDOW << sws)
                && (!(flags & TCP_RST) || orig_seq == src->seqlo
                    || orig_seq == src->seqlo + 1
                    || orig_seq + 1 == src->seqlo);

    if (in_window || !atomic_load_explicit(&ct->tcp_seq_chk,
                                           memory_order_relaxed)) {
        learn(src, dst, win, end, ack, sws);
        if (flags & TCP_SYN && src->state < OVSCT_TCPS_SYN_SENT) {
            src->state = OVSCT_TCPS_SYN_SENT;
        }
        if (flags & TCP_FIN && src->state < OVSCT_TCPS_CLOSING) {
            src->state = OVSCT_TCPS_CLOSING;
        }
        if (flags & TCP_ACK) {
            if (dst->state == OVSCT_TCPS_SYN_SENT) {
                dst->state = OVSCT_TCPS_ESTABLISHED;
            } else if (dst->state == OVSCT_TCPS_CLOSING) {
                dst->state = OVSCT_TCPS_FIN_WAIT_2;
            }
        }
        if (flags & TCP_RST) {
            src->state = dst->state = OVSCT_TCPS_TIME_WAIT;
        }
        set_expiry(c, tp, timer_for(src, dst), now);
    } else if ((dst->state < OVSCT_TCPS_SYN_SENT
                || dst->state >= OVSCT_TCPS_FIN_WAIT_2
                || src->state >= OVSCT_TCPS_FIN_WAIT_2)
               && seq_geq(src->seqhi + MAX_ACK_WINDOW, end)
               && seq_geq(seq, src->seqlo - MAX_ACK_WINDOW)) {
        /* Loose window: shotgun SYNs, pick-ups after a flush, noise
         * after a close.  The timer is deliberately not refreshed. */
        learn(src, dst, win, end, ack, sws);
        if (flags & TCP_FIN && src->state < OVSCT_TCPS_CLOSING) {
            src->state = OVSCT_TCPS_CLOSING;
        }
        if (flags & TCP_RST) {
            src->state = dst->state = OVSCT_TCPS_TIME_WAIT;
        }
    } else {
        return CT_UPDATE_INVALID;
    }
    return CT_UPDATE_VALID;
}
