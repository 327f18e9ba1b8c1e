/*
 * nat.c -- choosing the translated tuple of a new NAT connection.
 *
 * OVS's rules (lib/conntrack.c nat_get_unique_tuple()): exactly one
 * address is picked from the range, min + hash mod size (no iteration
 * over other addresses); an all-zero range keeps the packet's own
 * address.  Ports (the echo id for ICMP) are
 * searched only for TCP, UDP, SCTP and ICMP:
 *
 *   SNAT with a port range   that range, from min + (hash or random) mod n;
 *   SNAT without one         the source-port space holding the packet's
 *                            port (1-511, 600-1023, 1024-65535), its own
 *                            port first;
 *   DNAT                     the destination-port range if given, then the
 *                            source-port space as above.
 *
 * Each space is probed for at most min(n, 128) consecutive ports; while
 * the space is bigger than the budget and the budget is at least 16, the
 * budget halves and the probe restarts from a random port.
 *
 * ct_nat_search() only generates candidates; the caller's 'try' callback
 * checks one under the two bucket locks and links the connection if its
 * reverse key is free, so a candidate is never handed out twice.
 * Neighbours: conntrack.c (conn_create_nat()), nat-rewrite.c.
 */
#include <arpa/inet.h>
#include <string.h>

#include "ovsct-private.h"

static uint32_t
rand32(void)
{
    static _Thread_local uint64_t state;

    if (!state) {
        state = (uint64_t) (uintptr_t) &state * 0x9e3779b97f4a7c15ULL | 1;
    }
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t) (state >> 16);
}

static uint32_t
mix32(uint32_t h, uint32_t v)
{
    h ^= v;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

/* The hash that picks the address and the first port: endpoints, range,
 * protocol and zone; with 'persistent', only the source address. */
static uint32_t
range_hash(const struct ct_key *k, const struct ovsct_nat *nat,
           uint32_t basis)
{
    uint32_t h = basis;

    for (int i = 0; i < 4; i++) {
        h = mix32(h, k->src[i]);
    }
    if (!(nat->flags & OVSCT_NAT_F_PERSISTENT)) {
        for (int i = 0; i < 4; i++) {
            h = mix32(h, k->dst[i]);
        }
        h = mix32(h, (uint32_t) k->sport << 16 | k->dport);
    }
    for (int i = 0; i < 16; i += 4) {
        uint32_t a, b;

        memcpy(&a, nat->addr_min + i, 4);
        memcpy(&b, nat->addr_max + i, 4);
        h = mix32(h, a ^ (b * 31));
    }
    h = mix32(h, (uint32_t) k->nw_proto << 16 | k->zone);
    return h;
}

/* Writes min + off to 'out' (16 bytes, network order, big-endian add). */
static void
addr_add(const uint8_t *min, uint64_t off, uint8_t *out, int len)
{
    unsigned carry = 0;

    memcpy(out, min, 16);
    for (int i = len - 1; i >= 0; i--) {
        unsigned sum = out[i] + (unsigned) (off & 0xff) + carry;

        out[i] = (uint8_t) sum;
        carry = sum >> 8;
        off >>= 8;
    }
}

/* Size of the range [min, max] ('len' bytes each), capped at 2**32: only
 * the low 32 bits are ever used to pick an address. */
static uint64_t
addr_span(const uint8_t *min, const uint8_t *max, int len)
{
    uint32_t a, b;

    if (memcmp(min, max, len - 4)) {
        return UINT64_C(1) << 32;
    }
    memcpy(&a, min + len - 4, 4);
    memcpy(&b, max + len - 4, 4);
    a = ntohl(a);
    b = ntohl(b);
    return b >= a ? (uint64_t) (b - a) + 1 : 1;
}

static bool
is_zero(const uint8_t *p, int len)
{
    for (int i = 0; i < len; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static bool
has_ports(uint8_t proto)
{
    /* SCTP keys carry no ports here (packet.c), so it gets the address
     * rewrite only. */
    return proto == 6 || proto == 17 || proto == 1 || proto == 58;
}

/* Probes ports of [lo, hi] starting at 'first' under OVS's budget rules;
 * 'set' writes a port into the candidate.  Returns true if 'try'
 * accepted one. */
static bool
probe_ports(struct ct_key *cand, bool src_port, uint16_t lo, uint16_t hi,
            uint16_t first, ct_nat_try_fn *try, void *aux)
{
    uint32_t n = (uint32_t) hi - lo + 1;
    uint32_t budget = n < 128 ? n : 128;
    uint32_t start = first;

    for (;;) {
        for (uint32_t i = 0; i < budget; i++) {
            uint16_t port = (uint16_t) (lo + (start - lo + i) % n);

            if (src_port) {
                cand->sport = htons(port);
            } else {
                cand->dport = htons(port);
            }
            if (try(aux, cand)) {
                return true;
            }
        }
        if (n <= budget || budget < 16) {
            return false;
        }
        budget /= 2;
        if (budget < 16) {
            return false;
        }
        start = lo + rand32() % n;
    }
}

/* The source-port space holding 'port' (OVS: 1-511, 600-1023,
 * 1024-65535). */
static void
sport_space(uint16_t port, uint16_t *lo, uint16_t *hi)
{
    if (port < 512) {
        *lo = 1;
        *hi = 511;
    } else if (port < 1024) {
        *lo = 600;
        *hi = 1023;
    } else {
        *lo = 1024;
        *hi = 65535;
    }
}

bool
ct_nat_search(const struct ct_key *fwd, const struct ovsct_nat *nat,
              uint32_t basis, ct_nat_try_fn *try, void *aux)
{
    bool snat = nat->kind == OVSCT_CS_SRC_NAT;
    int len = fwd->l3 == 4 ? 4 : 16;
    struct ct_key cand = *fwd;
    uint32_t h = range_hash(fwd, nat, basis);
    uint8_t *target = (uint8_t *) (snat ? cand.src : cand.dst);
    bool icmp = fwd->nw_proto == 1 || fwd->nw_proto == 58;
    uint16_t lo, hi, orig;

    if (!is_zero(nat->addr_min, 16)) {
        uint64_t span = addr_span(nat->addr_min, nat->addr_max, len);

        addr_add(nat->addr_min, h % span, target, len);
    }
    if (!has_ports(fwd->nw_proto)) {
        return try(aux, &cand);
    }

    if (snat && nat->port_min) {
        uint32_t n = (uint32_t) nat->port_max - nat->port_min + 1;
        uint32_t r = nat->flags & OVSCT_NAT_F_RANDOM ? rand32() : h;

        return probe_ports(&cand, true, nat->port_min, nat->port_max,
                           (uint16_t) (nat->port_min + r % n), try, aux);
    }
    if (!snat && nat->port_min && !icmp) {
        uint32_t n = (uint32_t) nat->port_max - nat->port_min + 1;
        uint32_t r = nat->flags & OVSCT_NAT_F_RANDOM ? rand32() : h;

        if (probe_ports(&cand, false, nat->port_min, nat->port_max,
                        (uint16_t) (nat->port_min + r % n), try, aux)) {
            return true;
        }
        cand.dport = htons((uint16_t) (nat->port_min + r % n));
    }
    /* The source-port space, the packet's own port (or id) first. */
    orig = ntohs(fwd->sport);
    sport_space(orig ? orig : 1, &lo, &hi);
    if (orig < lo) {
        /* Only an echo id can be 0: try it unchanged first. */
        cand.sport = fwd->sport;
        if (try(aux, &cand)) {
            return true;
        }
        orig = lo;
    }
    return probe_ports(&cand, true, lo, hi, orig, try, aux);
}
