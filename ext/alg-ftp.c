/*
 * alg-ftp.c -- the FTP helper (ct(alg=ftp)), after OVS's lib/conntrack.c
 * handle_ftp_ctl(), detect_ftp_ctl_type(), process_ftp_ctl_v4(),
 * process_ftp_ctl_v6(), repl_ftp_v4_addr(), repl_ftp_v6_addr(),
 * replace_substring() and adj_seqnum(), with the same parsing rules and
 * limits:
 *
 *   - only the first 127 bytes of a segment's payload are read (OVS
 *     copies at most LARGEST_FTP_MSG_OF_INTEREST = 128 bytes with
 *     ovs_strlcpy(), which keeps one for the terminating NUL); the text
 *     ends at the first NUL byte;
 *   - IPv4: "PORT" (active) and "227" (passive reply) at the start of the
 *     payload, case-insensitive: h1,h2,h3,h4,p1,p2 after the first space,
 *     each port byte at most 4 digits and 255; the address must be one of
 *     the control connection's two addresses of that side (before or
 *     after NAT), else the packet is "inv";
 *   - IPv6: "EPRT" (active) with family 2, or any other segment holding
 *     "EXTENDED PASSIVE" (the 229 reply): the port is the first number
 *     after the first "(", at most 6 digits and 65535;
 *   - with NAT on the control connection, the address in PORT, 227 and
 *     EPRT is replaced by the translated one (not in EPSV replies, which
 *     carry none), the frame grows or shrinks, and the length change is
 *     kept as the connection's sequence skew: later segments of that
 *     direction have their sequence number moved by it, and the other
 *     direction's acknowledgements moved back.  OVS replaces only when
 *     the packet has room for the largest change (8 bytes for IPv4, 45
 *     for IPv6) and moves at most 255 bytes after the address (its
 *     replace_substring() takes 8-bit sizes); the TCP checksum is then
 *     computed again over the segment.
 *
 * Neighbours: expect.c (the expectations made here), conntrack.c (calls
 * these hooks around the state update, OVS's conn_update_state_alg() and
 * handle_alg_ctl()).
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "ovsct-private.h"

#define FTP_MSG_MAX 128         /* OVS's LARGEST_FTP_MSG_OF_INTEREST. */
#define FTP_PORT_DIGITS 3       /* MAX_FTP_PORT_DGTS. */
#define FTP_EXT_PORT_DIGITS 5   /* MAX_EXT_FTP_PORT_DGTS. */
#define FTP_V4_DELTA_MAX OVSCT_ALG_ROOM_V4
#define FTP_V6_DELTA_MAX OVSCT_ALG_ROOM_V6

enum ftp_ctl { FTP_INTEREST, FTP_OTHER, FTP_INVALID };
enum ftp_mode { FTP_ACTIVE, FTP_PASSIVE };

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_xdigit(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static uint32_t
tcp_hdr_len(const uint8_t *frame, const struct ct_pkt *pkt)
{
    return (uint32_t) (frame[pkt->l4_ofs + 12] >> 4) * 4;
}

/* get_ftp_ctl_msg(): the payload's first bytes as a C string. */
static void
ftp_msg(const uint8_t *frame, const struct ct_pkt *pkt,
        char msg[FTP_MSG_MAX + 1])
{
    uint32_t n = pkt->tcp_payload_len < FTP_MSG_MAX ? pkt->tcp_payload_len
                                                     : FTP_MSG_MAX;
    const uint8_t *p = frame + pkt->l4_ofs + tcp_hdr_len(frame, pkt);

    memset(msg, 0, FTP_MSG_MAX + 1);
    for (uint32_t i = 0; i + 1 < n && p[i]; i++) {
        msg[i] = (char) p[i];
    }
}

/* detect_ftp_ctl_type(). */
static enum ftp_ctl
ftp_classify(const char *msg, uint8_t l3)
{
    if (l3 == 6) {
        if (strncasecmp(msg, "EPRT", 4) && !strcasestr(msg,
                                                      "EXTENDED PASSIVE")) {
            return FTP_OTHER;
        }
    } else if (strncasecmp(msg, "PORT", 4) && strncasecmp(msg, "227", 3)) {
        return FTP_OTHER;
    }
    return FTP_INTEREST;
}

static char *
skip_non_digits(char *s)
{
    while (!is_digit(*s) && *s) {
        s++;
    }
    return s;
}

/* terminate_number_str(): ends the number at 's' after at most
 * 'max' + 1 digits. */
static char *
terminate_number(char *s, int max)
{
    int n = 0;

    while (is_digit(*s) && n <= max) {
        s++;
        n++;
    }
    *s = 0;
    return s;
}

/* str_to_int() on a string of digits: fails only when it is empty. */
static bool
digits_value(const char *s, int *value)
{
    long v = 0;

    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (!is_digit(*s)) {
            return false;
        }
        v = v * 10 + (*s - '0');
        if (v > 0x7fffffff) {
            return false;
        }
    }
    *value = (int) v;
    return true;
}

/* What a control segment asks for: the port, and where the address to
 * rewrite is in the payload. */
struct ftp_req {
    uint16_t port;              /* Network order. */
    size_t addr_ofs;            /* From the start of the payload. */
    size_t addr_size;
    uint32_t rep[4];            /* The address to write (NAT). */
    enum ftp_mode mode;
};

/* process_ftp_ctl_v4(), up to expectation_create(). */
static enum ftp_ctl
parse_v4(char *msg, struct ct_conn *c, struct ftp_req *r)
{
    struct ct_key rkey;
    char *ftp, *start, *save;
    struct in_addr ip;
    int commas = 0, value;
    uint16_t port;
    const uint32_t *conn_addr;

    if (!strncasecmp(msg, "PORT", 4)) {
        ftp = msg + 4;
        r->mode = FTP_ACTIVE;
    } else {
        ftp = msg + 3;
        r->mode = FTP_PASSIVE;
    }
    ftp = strchr(ftp, ' ');
    if (!ftp) {
        return FTP_INVALID;
    }
    ftp = skip_non_digits(ftp);
    if (!*ftp) {
        return FTP_INVALID;
    }
    start = ftp;
    r->addr_ofs = (size_t) (start - msg);
    while (commas < 4 && *ftp) {
        if (*ftp == ',') {
            commas++;
            *ftp = commas == 4 ? 0 : '.';
        }
        ftp++;
    }
    if (commas != 4 || inet_pton(AF_INET, start, &ip) != 1) {
        return FTP_INVALID;
    }
    r->addr_size = (size_t) (ftp - start - 1);
    save = ftp;
    ftp = terminate_number(ftp, FTP_PORT_DIGITS);
    if (!digits_value(save, &value) || value > 255) {
        return FTP_INVALID;
    }
    port = (uint16_t) (value << 8);
    ftp++;                      /* Over the comma. */
    save = ftp;
    while (is_digit(*ftp)) {
        ftp++;
    }
    if (ftp == save) {
        return FTP_INVALID;
    }
    *ftp = 0;
    if (!digits_value(save, &value) || value > 255) {
        return FTP_INVALID;
    }
    port |= (uint16_t) value;
    r->port = htons(port);

    ct_conn_key(c, 1, &rkey);
    memset(r->rep, 0, sizeof r->rep);
    if (r->mode == FTP_ACTIVE) {
        r->rep[0] = rkey.dst[0];
        conn_addr = c->key.src;
    } else {
        r->rep[0] = c->key.dst[0];
        conn_addr = rkey.src;
    }
    /* "Although most servers will block this exploit, there may be some
     * less well managed." */
    if (ip.s_addr != conn_addr[0] && ip.s_addr != r->rep[0]) {
        return FTP_INVALID;
    }
    return FTP_INTEREST;
}

/* process_ftp_ctl_v6(), up to expectation_create(). */
static enum ftp_ctl
parse_v6(char *msg, struct ct_conn *c, struct ftp_req *r)
{
    struct ct_key rkey;
    struct in6_addr ip6;
    char *ftp = msg, *save;
    int value;

    memset(&ip6, 0, sizeof ip6);
    if (!strncasecmp(ftp, "EPRT", 4)) {
        char *start;

        ftp = skip_non_digits(msg + 4);
        if (*ftp != '2' || is_digit(ftp[1])) {
            return FTP_INVALID;
        }
        ftp += 2;               /* The family and the delimiter. */
        start = ftp;
        r->addr_ofs = (size_t) (start - msg);
        while (is_xdigit(*ftp) || *ftp == ':' || *ftp == '.') {
            ftp++;
        }
        /* OVS writes the terminator even past the copied text, into the
         * buffer's final NUL: the same here (msg has FTP_MSG_MAX + 1). */
        *ftp = 0;
        r->addr_size = (size_t) (ftp - start);
        if (inet_pton(AF_INET6, start, &ip6) != 1) {
            return FTP_INVALID;
        }
        ftp++;
        r->mode = FTP_ACTIVE;
    } else {
        ftp = skip_non_digits(msg + strcspn(msg, "("));
        if (!is_digit(*ftp)) {
            return FTP_INVALID;
        }
        r->addr_ofs = 0;
        r->addr_size = 0;
        r->mode = FTP_PASSIVE;
    }
    if (ftp > msg + FTP_MSG_MAX) {
        return FTP_INVALID;     /* Past the text: no number can follow. */
    }
    save = ftp;
    terminate_number(ftp, FTP_EXT_PORT_DIGITS);
    if (!digits_value(save, &value) || value > 65535) {
        return FTP_INVALID;
    }
    r->port = htons((uint16_t) value);

    ct_conn_key(c, 1, &rkey);
    if (r->mode == FTP_ACTIVE) {
        memcpy(r->rep, rkey.dst, sizeof r->rep);
        if (memcmp(&ip6, r->rep, 16) && memcmp(&ip6, c->key.src, 16)) {
            return FTP_INVALID;
        }
    } else {
        memcpy(r->rep, c->key.dst, sizeof r->rep);
    }
    return FTP_INTEREST;
}

/* Replaces the address of 'r' in the frame's payload with r->rep
 * (repl_ftp_v4_addr(), repl_ftp_v6_addr(), modify_packet(),
 * replace_substring()).  Returns the length change. */
static int
replace_addr(struct ct_alg_pkt *ap, const struct ftp_req *r)
{
    uint8_t l3 = ap->pkt->key.l3;
    char text[INET6_ADDRSTRLEN] = { 0 };
    uint32_t len = *ap->len;
    uint8_t *at;
    size_t rep_size;
    int rest;

    if (l3 == 6 && r->mode == FTP_PASSIVE) {
        return 0;
    }
    if (len + (l3 == 4 ? FTP_V4_DELTA_MAX : FTP_V6_DELTA_MAX) > ap->cap) {
        return 0;               /* "Unsupported effective MTU". */
    }
    if (l3 == 4) {
        inet_ntop(AF_INET, r->rep, text, sizeof text);
        for (char *p = text; *p; p++) {
            if (*p == '.') {
                *p = ',';
            }
        }
    } else {
        inet_ntop(AF_INET6, r->rep, text, sizeof text);
    }
    rep_size = strlen(text);
    at = ap->frame + ap->pkt->l4_ofs + tcp_hdr_len(ap->frame, ap->pkt)
         + r->addr_ofs;
    /* replace_substring()'s sizes are 8-bit: OVS moves the rest of the
     * frame modulo 256 bytes. */
    rest = (int) (uint8_t) (ap->frame + len - at) - (int) (uint8_t) r->addr_size;
    if (rest < 0) {
        return 0;
    }
    memmove(at + rep_size, at + r->addr_size, (size_t) rest);
    memcpy(at, text, rep_size);
    *ap->len = (uint32_t) ((int64_t) len + (int64_t) rep_size
                           - (int64_t) r->addr_size);
    return (int) rep_size - (int) r->addr_size;
}

/* Checksum of 'n' bytes at 'p' added to 'sum' (ones' complement, not
 * folded). */
static uint64_t
csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2) {
        sum += get_be16(p + i);
    }
    if (i < n) {
        sum += (uint32_t) p[i] << 8;
    }
    return sum;
}

/* Computes the TCP checksum of 'pkt' in 'frame' again, from scratch. */
void
ct_tcp_csum_fix(uint8_t *frame, uint32_t len OVSCT_UNUSED__,
                const struct ct_pkt *pkt)
{
    const uint8_t *ip = frame + pkt->l3_ofs;
    uint8_t *th = frame + pkt->l4_ofs;
    uint64_t sum = 0;

    if (pkt->key.l3 == 4) {
        sum = csum_add(sum, ip + 12, 8);
    } else {
        sum = csum_add(sum, ip + 8, 32);
    }
    sum += 6 + pkt->l4_len;
    put_be16(th + 16, 0);
    sum = csum_add(sum, th, pkt->l4_len);
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    put_be16(th + 16, (uint16_t) ~sum);
}

/* Sets the IP length fields after the payload changed by 'delta'. */
static void
fix_ip_len(struct ct_alg_pkt *ap, int delta)
{
    uint8_t *ip = ap->frame + ap->pkt->l3_ofs;

    if (ap->pkt->key.l3 == 4) {
        uint16_t old = get_be16(ip + 2), new = (uint16_t) (old + delta);
        uint32_t sum = (uint16_t) ~get_be16(ip + 10);

        /* recalc_csum16(). */
        sum += (uint16_t) ~old;
        sum += new;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        put_be16(ip + 10, (uint16_t) ~sum);
        put_be16(ip + 2, new);
    } else {
        put_be16(ip + 4, (uint16_t) (get_be16(ip + 4) + delta));
    }
    ap->pkt->l4_len = (uint16_t) (ap->pkt->l4_len + delta);
    ap->pkt->tcp_payload_len = (uint16_t) (ap->pkt->tcp_payload_len + delta);
}

/* The sequence adjustment of handle_ftp_ctl(): with NAT and a skew, a
 * segment against the skew's direction has its ack moved back, one in
 * that direction its sequence number moved on.  Called with c->lock. */
static void
adjust_seq(struct ct_alg *alg, struct ct_alg_pkt *ap)
{
    uint8_t *th = ap->frame + ap->pkt->l4_ofs;

    if (!ap->nat || !alg->seq_skew) {
        return;
    }
    if ((ap->dir != 0) != alg->seq_skew_dir) {
        ap->pkt->tcp_ack -= (uint32_t) alg->seq_skew;
        put_be32(th + 8, ap->pkt->tcp_ack);
    } else {
        ap->pkt->tcp_seq += (uint32_t) alg->seq_skew;
        put_be32(th + 4, ap->pkt->tcp_seq);
    }
}

/* handle_ftp_ctl() for a CT_FTP_CTL_OTHER segment. */
static void
ftp_other(struct ct_conn *c, struct ct_alg *alg, struct ct_alg_pkt *ap)
{
    char msg[FTP_MSG_MAX + 1];
    bool changed;

    ftp_msg(ap->frame, ap->pkt, msg);
    if (ftp_classify(msg, ap->pkt->key.l3) != FTP_OTHER) {
        return;
    }
    ct_spin_lock(&c->lock);
    changed = ap->nat && alg->seq_skew;
    adjust_seq(alg, ap);
    ct_spin_unlock(&c->lock);
    if (changed) {
        ct_tcp_csum_fix(ap->frame, *ap->len, ap->pkt);
    }
}

bool
ct_ftp_before_update(struct ovsct *ct OVSCT_UNUSED__, struct ct_conn *c,
                     struct ct_alg_pkt *ap)
{
    struct ct_alg *alg = ct_conn_alg(c);
    bool before;

    if (!alg) {
        return false;           /* No skew: the helper changes nothing. */
    }
    ct_spin_lock(&c->lock);
    before = (ap->dir != 0) != alg->seq_skew_dir;
    ct_spin_unlock(&c->lock);
    if (before) {
        ftp_other(c, alg, ap);
    }
    return before;
}

void
ct_ftp_after_update(struct ovsct *ct OVSCT_UNUSED__, struct ct_conn *c,
                    struct ct_alg_pkt *ap)
{
    struct ct_alg *alg = ct_conn_alg(c);

    if (alg) {
        ftp_other(c, alg, ap);
    }
}

void
ct_ftp_ctl(struct ovsct *ct, struct ct_conn *c, struct ct_alg_pkt *ap,
           uint8_t *state)
{
    struct ct_alg *alg = ct_conn_alg(c);
    char msg[FTP_MSG_MAX + 1];
    struct ftp_req r;
    enum ftp_ctl rc;
    int skew = 0;

    if (!alg) {
        return;
    }
    ftp_msg(ap->frame, ap->pkt, msg);
    if (ftp_classify(msg, ap->pkt->key.l3) != FTP_INTEREST) {
        return;
    }
    memset(&r, 0, sizeof r);
    rc = ap->pkt->key.l3 == 6 ? parse_v6(msg, c, &r) : parse_v4(msg, c, &r);
    if (rc == FTP_INVALID) {
        *state |= OVSCT_CS_TRACKED | OVSCT_CS_INVALID;
        return;
    }
    ct_exp_create(ct, c, (*state & OVSCT_CS_REPLY_DIR) != 0, r.port);
    if (ap->nat) {
        skew = replace_addr(ap, &r);
        if (skew) {
            fix_ip_len(ap, skew);
        }
    }
    ct_spin_lock(&c->lock);
    adjust_seq(alg, ap);
    if (skew && alg->seq_skew + skew) {
        /* conn_seq_skew_set(): the total, in this segment's direction. */
        alg->seq_skew += skew;
        alg->seq_skew_dir = ap->dir != 0;
    }
    ct_spin_unlock(&c->lock);
    ct_tcp_csum_fix(ap->frame, *ap->len, ap->pkt);
}
