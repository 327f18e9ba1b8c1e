/*
 * packet_path.c -- libFuzzer harness over the engine's public API (ovsct.h):
 * random batches of frames through ovsct_execute() with random ct()
 * actions (zones, commit, force, mark, labels, SNAT/DNAT with small
 * address and port ranges so that they collide and run out), interleaved
 * with clock moves (forward and back), flushes (all, zone, tuple, filter),
 * zone limits, maxconns, timeout policies, sequence checking, sweeps and
 * read-outs (counts, dumps formatted as OVS text, stats, bucket counts).
 *
 * Frames are built from the input with right checksums (so that they get
 * past the parser and reach the state machines), over small pools of
 * addresses and ports (so that flows meet again, in both directions and
 * through NAT), with a few raw or damaged ones mixed in.  Every input runs
 * on a fresh table (manual clock, no sweeper thread, 1 to 8 buckets so
 * that NAT nodes land in different buckets) and ends with
 * ovsct_check_invariants() (ext/invariant.c), which aborts on a violation.
 *
 * Built and run by mk/fuzz.mk (`make fuzz-packet_path`); seed corpus in
 * tests/fuzz/corpus/packet_path/.
 */
#include <arpa/inet.h>
#include <errno.h>

#include "ovsct.h"
#include "framegen.h"
#include "fuzzlib.h"

#define MAX_OPS 48
#define MAX_BATCH 16
#define FRAME_MAX 256

/* Frames, built with the one C frame builder (bench/framegen.h). */

/* Address 'i' of the pool for 'l3' (network order, 16 bytes). */
static void
pool_addr(int l3, unsigned i, uint8_t addr[16])
{
    memset(addr, 0, 16);
    if (l3 == 4) {
        addr[0] = 10;
        addr[2] = (uint8_t) (i / 4);    /* 10.0.0.x hosts, 10.0.1.x NAT */
        addr[3] = (uint8_t) (1 + i % 4);
    } else {
        addr[0] = 0xfc;
        addr[14] = (uint8_t) (i / 4);
        addr[15] = (uint8_t) (1 + i % 4);
    }
}

static const uint16_t port_pool[8] = { 1, 2, 53, 80, 1000, 1001, 1002,
                                       65535 };

/* Starts 'f' with Ethernet (one 802.1Q tag if 'tag') and the IP header of
 * family 'l3'. */
static void
start_frame(struct fg_frame *f, bool tag, int l3, const uint8_t src[16],
            const uint8_t dst[16], uint8_t proto)
{
    if (l3 == 4) {
        fg_ip4_raw(f, tag ? 0x8100 : 0, src, dst, proto);
    } else {
        fg_ip6_raw(f, tag ? 0x8100 : 0, src, dst, proto);
    }
}

/* Appends 'n' zero bytes (payloads are zeros). */
static void
put_zeros(struct fg_frame *f, size_t n)
{
    static const uint8_t zeros[64];

    fg_put(f, zeros, n);
}

/* Builds one frame from the input into 'out'; returns its length. */
static size_t
make_frame(struct fz *z, uint8_t *out)
{
    unsigned kind = fz_pick(z, 16);
    int l3 = kind & 1 ? 6 : 4;
    uint8_t src[16], dst[16], proto;
    struct fg_frame f;
    size_t n;
    uint8_t sel = fz_u8(z);
    uint16_t sport = port_pool[sel & 7], dport = port_pool[(sel >> 3) & 7];
    uint8_t flags = fz_u8(z);

    if (kind >= 14) {           /* Raw bytes: anything at all. */
        memset(out, 0, FRAME_MAX);
        n = fz_u8(z) % FRAME_MAX;
        return fz_bytes(z, out, n);
    }
    pool_addr(l3, fz_pick(z, 8), src);
    pool_addr(l3, fz_pick(z, 8), dst);
    proto = kind >> 1 <= 2 ? 6 : kind >> 1 <= 4 ? 17 : l3 == 4 ? 1 : 58;
    start_frame(&f, flags & 0x80, l3, src, dst, proto);

    switch (kind >> 1) {
    case 0: case 1: case 2: {   /* TCP, with options on SYN. */
        size_t hdr = 20;

        fg_put_u16(&f, sport);
        fg_put_u16(&f, dport);
        fg_put_u32(&f, fz_u8(z) & 1 ? fz_u32(z) : 1000u + fz_u8(z));
        fg_put_u32(&f, fz_u8(z) & 1 ? fz_u32(z) : 5000u + fz_u8(z));
        fg_put_u8(&f, 0);                   /* Data offset, below. */
        uint8_t tcp_flags = fz_u8(z) & 0x3f;   /* FIN SYN RST PSH ACK URG */
        fg_put_u8(&f, tcp_flags);
        fg_put_u16(&f, fz_u8(z) & 1 ? fz_u16(z) : 65535);
        fg_put_u16(&f, 0);                  /* Checksum. */
        fg_put_u16(&f, 0);                  /* Urgent pointer. */
        if (tcp_flags & 0x02) {
            uint8_t opts[12] = { 2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7, 0, 0 };

            opts[9] = fz_u8(z) % 16;        /* Window scale. */
            fg_put(&f, opts, sizeof opts);
            hdr = 32;
        }
        f.b[f.l4 + 12] = (uint8_t) ((hdr / 4) << 4);
        put_zeros(&f, fz_u8(z) % 24);       /* Payload. */
        fg_finish_csum(&f, 16);
        break;
    }
    case 3: case 4: {           /* UDP, checksum or none. */
        size_t len = 8 + fz_u8(z) % 24;

        fg_put_u16(&f, sport);
        fg_put_u16(&f, dport);
        fg_put_u16(&f, (uint16_t) len);
        fg_put_u16(&f, 0);
        put_zeros(&f, len - 8);
        fg_finish_csum(&f, l3 == 6 || !(flags & 2) ? 6 : -1);
        break;
    }
    case 5: {                   /* ICMP echo / reply / other. */
        static const uint8_t t4[] = { 8, 0, 13, 14, 3, 11, 5, 42 };
        static const uint8_t t6[] = { 128, 129, 1, 3, 2, 4, 135, 42 };

        fg_put_u8(&f, (l3 == 4 ? t4 : t6)[fz_pick(z, 8)]);
        fg_put_u8(&f, 0);
        fg_put_u16(&f, 0);                  /* Checksum. */
        fg_put_u16(&f, sport);
        fg_put_u16(&f, fz_u16(z));
        put_zeros(&f, fz_u8(z) % 16);
        fg_finish_csum(&f, 2);
        break;
    }
    default: {                  /* ICMP error quoting a UDP/TCP packet. */
        struct fg_frame in;

        fg_put_u8(&f, l3 == 4 ? 3 : 1);
        fg_put_u8(&f, l3 == 4 ? 3 : 4);
        fg_put_u16(&f, 0);                  /* Checksum. */
        fg_put_u32(&f, 0);
        start_frame(&in, false, l3, dst, src, flags & 1 ? 6 : 17);
        fg_put_u16(&in, dport);
        fg_put_u16(&in, sport);
        fg_put_u16(&in, 8);
        fg_put_u16(&in, 0);
        fg_finish_csum(&in, -1);            /* IP lengths and checksum. */
        fg_put(&f, in.b + in.l3, in.len - in.l3);
        fg_finish_csum(&f, 2);
        break;
    }
    }
    n = f.len;
    memcpy(out, f.b, n);
    if (flags & 0x40) {         /* Damage one byte, or cut the frame. */
        uint8_t where = fz_u8(z);
        if (where & 1) {
            out[where % n] ^= fz_u8(z) | 1;
        } else {
            n = where % n;
        }
    }
    return n;
}

/* Actions. */

static void
make_action(struct fz *z, struct ovsct_action *a)
{
    uint8_t b = fz_u8(z);

    memset(a, 0, sizeof *a);
    a->zone = (uint16_t) (b & 3);
    a->commit = (b & 4) != 0;
    a->force = (b & 0x18) == 0x18;
    if (b & 0x20) {
        a->set_mark = true;
        a->mark = fz_u8(z);
        a->mark_mask = fz_u8(z) & 1 ? 0xff : UINT32_MAX;
    }
    if (b & 0x40) {
        a->set_labels = true;
        a->labels.lo = fz_u8(z);
        a->labels.hi = fz_u8(z) & 1 ? 1 : 0;
        a->labels_mask.lo = UINT64_MAX;
        a->labels_mask.hi = fz_u8(z) & 1 ? UINT64_MAX : 0;
    }
    if (b & 0x80) {
        uint8_t n = fz_u8(z);
        unsigned lo = fz_pick(z, 4), span = fz_pick(z, 3);
        struct ovsct_nat *nat = &a->nat;

        static const uint8_t kinds[4] = { OVSCT_CS_SRC_NAT, OVSCT_CS_DST_NAT,
                                          0xff, OVSCT_CS_SRC_NAT };
        nat->kind = kinds[n & 3];
        nat->l3 = n & 4 ? 6 : 4;
        if (nat->kind != 0xff && !(n & 8)) {
            pool_addr(nat->l3, 4 + lo, nat->addr_min);
            pool_addr(nat->l3, 4 + lo + span, nat->addr_max);
        }
        if (n & 0x10) {
            nat->port_min = (uint16_t) (1000 + fz_pick(z, 3));
            nat->port_max = (uint16_t) (nat->port_min + fz_pick(z, 3));
        }
        nat->flags = (uint8_t) ((n >> 5) & 7);
    }
}

/* Read-outs: a dump of everything (each entry formatted), stats, bucket
 * counts.  Returns the dumped entries (caller frees) and their number. */
static size_t
dump_all(struct ovsct *ct, const uint16_t *zone, struct ovsct_entry **out)
{
    struct ovsct_dump *d;
    struct ovsct_entry *e = NULL;
    size_t n = 0, cap = 0, got;
    char line[1024];

    struct ovsct_filter f;

    memset(&f, 0, sizeof f);
    if (zone) {
        f.has_zone = true;
        f.zone = *zone;
    }
    *out = NULL;
    if (ovsct_dump_start(ct, zone ? &f : NULL, &d)) {
        return 0;
    }
    for (;;) {
        if (n + 16 > cap) {
            cap = cap ? cap * 2 : 64;
            e = realloc(e, cap * sizeof *e);
            if (!e) {
                fz_fail("out of memory");
            }
        }
        if (ovsct_dump_next(d, e + n, 16, &got) || !got) {
            break;
        }
        for (size_t i = n; i < n + got; i++) {
            int len = ovsct_format_entry(&e[i], i & 1, i & 2, ovsct_now(ct),
                                         line, sizeof line);
            if (len < 0 || (size_t) len >= sizeof line
                || strlen(line) != (size_t) len) {
                fz_fail("format_entry gave %d", len);
            }
        }
        n += got;
    }
    ovsct_dump_done(d);
    *out = e;
    return n;
}

static void
read_out(struct ovsct *ct)
{
    struct ovsct_entry *e;
    struct ovsct_stats st;
    uint32_t n = ovsct_nconns(ct);
    size_t dumped = dump_all(ct, NULL, &e);
    uint32_t nb = ovsct_n_buckets(ct), counts[8];
    uint64_t sum = 0;

    free(e);
    if (dumped != n) {
        fz_fail("nconns %u, dump %zu", n, dumped);
    }
    if (ovsct_stats(ct, NULL, &st) || st.total != n) {
        fz_fail("stats total %llu, nconns %u",
                (unsigned long long) st.total, n);
    }
    if (nb <= 8 && !ovsct_bucket_counts(ct, counts)) {
        for (uint32_t i = 0; i < nb; i++) {
            sum += counts[i];
        }
        if (sum != n) {
            fz_fail("bucket counts %llu, nconns %u",
                    (unsigned long long) sum, n);
        }
    }
}

static void
flush_some(struct fz *z, struct ovsct *ct)
{
    unsigned how = fz_pick(z, 4);
    uint16_t zone = (uint16_t) fz_pick(z, 4);
    size_t n;

    if (how == 0) {
        ovsct_flush(ct, fz_u8(z) & 1 ? &zone : NULL, &n);
    } else if (how == 1) {
        /* A tuple of a live connection (either direction) or a made-up
         * one. */
        struct ovsct_entry *e;
        size_t m = dump_all(ct, NULL, &e);
        struct ovsct_tuple t;
        uint8_t pick = fz_u8(z);

        if (m && pick < 200) {
            t = pick & 1 ? e[pick % m].reply : e[pick % m].orig;
            zone = e[pick % m].zone;
        } else {
            memset(&t, 0, sizeof t);
            t.l3 = pick & 1 ? 6 : 4;
            pool_addr(t.l3, fz_pick(z, 8), t.src);
            pool_addr(t.l3, fz_pick(z, 8), t.dst);
            t.proto = pick & 2 ? 6 : 17;
            t.sport = port_pool[fz_pick(z, 8)];
            t.dport = port_pool[fz_pick(z, 8)];
        }
        free(e);
        int err = ovsct_flush_tuple(ct, zone, &t);
        if (err && err != ENOENT) {
            fz_fail("flush_tuple: %d", err);
        }
    } else {
        struct ovsct_filter ff;
        uint8_t b = fz_u8(z);

        memset(&ff, 0, sizeof ff);
        ff.tcp_states = fz_u8(z) & 1 ? (uint16_t) fz_u8(z) << 2 : 0;
        ff.has_zone = b & 1;
        ff.zone = zone;
        if (b & 2) {
            ff.mark = fz_u8(z);
            ff.mark_mask = 0xff;
        }
        if (b & 4) {
            ff.labels.lo = fz_u8(z);
            ff.labels_mask.lo = 0xff;
        }
        if (b & 8) {
            struct ovsct_tuple_match *m = b & 16 ? &ff.reply : &ff.orig;

            *(b & 16 ? &ff.has_reply : &ff.has_orig) = true;
            m->l3 = b & 32 ? 6 : 4;
            m->has_src = fz_u8(z) & 1;
            pool_addr(m->l3, fz_pick(z, 8), m->src);
            m->has_dst = fz_u8(z) & 1;
            pool_addr(m->l3, fz_pick(z, 8), m->dst);
            m->has_proto = b & 64;
            m->proto = b & 128 ? 17 : 6;
            m->sport = fz_u8(z) & 1 ? port_pool[fz_pick(z, 8)] : 0;
            m->dport = fz_u8(z) & 1 ? port_pool[fz_pick(z, 8)] : 0;
        }
        int err = ovsct_flush_filter(ct, &ff, &n);
        if (err && err != EINVAL) {
            fz_fail("flush_filter: %d", err);
        }
    }
}

static void
run_batch(struct fz *z, struct ovsct *ct)
{
    static uint8_t data[MAX_BATCH * FRAME_MAX];
    uint32_t offsets[MAX_BATCH + 1];
    uint8_t states[MAX_BATCH];
    struct ovsct_action action;
    struct ovsct_batch batch = { .l4_csum_ok = NULL };
    size_t n = 1 + fz_pick(z, MAX_BATCH), size = 0;

    make_action(z, &action);
    offsets[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size += make_frame(z, data + size);
        offsets[i + 1] = (uint32_t) size;
    }
    batch.data = data;
    batch.size = size;
    batch.offsets = offsets;
    batch.n = n;
    if (ovsct_execute(ct, &batch, &action, states)) {
        fz_fail("execute refused a well-formed batch");
    }
    for (size_t i = 0; i < n; i++) {
        if (!(states[i] & OVSCT_CS_TRACKED)) {
            fz_fail("frame %zu without +trk (state %#x)", i, states[i]);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz z = { data, size, 0 };
    uint8_t hdr = fz_u8(&z);
    struct ovsct_config cfg = {
        .n_buckets = 1u << (hdr & 3),
        .manual_clock = true,
        .start_ms = 1000000,
        .no_sweeper = true,
    };
    struct ovsct *ct;
    char why[512];

    if (ovsct_create(&cfg, &ct)) {
        fz_fail("ovsct_create");
    }
    if (hdr & 4) {
        ovsct_set_tcp_seq_chk(ct, false);
    }
    for (int op = 0; op < MAX_OPS && fz_more(&z); op++) {
        switch (fz_pick(&z, 16)) {
        default:
            run_batch(&z, ct);
            break;
        case 8: case 9: {       /* Clock: mostly forward, sometimes back. */
            uint8_t b = fz_u8(&z);
            int64_t step = b & 0x80 ? (int64_t) (b & 0x7f) * 1000
                                    : (int64_t) b * 7;
            int64_t now = ovsct_now(ct);

            ovsct_set_time(ct, fz_u8(&z) < 16 && now > step ? now - step
                                                           : now + step);
            break;
        }
        case 10:
            flush_some(&z, ct);
            break;
        case 11: {              /* Zone limits, maxconns. */
            uint8_t b = fz_u8(&z);
            int32_t zone = (int32_t) (b & 3) - 1;

            if (b & 4) {
                ovsct_del_zone_limit(ct, zone);
            } else if (b & 8) {
                ovsct_set_maxconns(ct, b & 16 ? OVSCT_DEFAULT_MAXCONNS
                                              : (uint32_t) (b >> 5) + 1);
            } else {
                ovsct_set_zone_limit(ct, zone, (uint32_t) (b >> 4) % 5);
            }
            break;
        }
        case 12: {              /* Timeout policies, in seconds. */
            uint32_t values[OVSCT_TP_N];
            bool present[OVSCT_TP_N];
            uint16_t zone = (uint16_t) fz_pick(&z, 4);

            if (fz_u8(&z) & 1) {
                ovsct_del_zone_tp(ct, zone);
                break;
            }
            for (int i = 0; i < OVSCT_TP_N; i++) {
                uint8_t v = fz_u8(&z);
                present[i] = v & 1;
                values[i] = v >> 1;
            }
            ovsct_set_zone_tp(ct, zone, values, present);
            break;
        }
        case 13:
            read_out(ct);
            break;
        case 14:
            ovsct_sweep_now(ct);
            break;
        case 15:
            if (ovsct_check_invariants(ct, why, sizeof why)) {
                fz_fail("invariants (op %d): %s", op, why);
            }
            break;
        }
    }
    if (ovsct_check_invariants(ct, why, sizeof why)) {
        fz_fail("invariants: %s", why);
    }
    read_out(ct);
    ovsct_destroy(ct);
    return 0;
}
