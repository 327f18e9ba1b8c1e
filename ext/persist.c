/*
 * persist.c -- the whole engine state to a file and back (ovsct_save(),
 * ovsct_restore()).
 *
 * Saving copies the table out bucket by bucket: each bucket's live
 * connections are serialized into a memory buffer under that bucket's lock
 * only (plus each connection's own lock for its mutable state, as a dump
 * does); the buffer is checksummed and written with no lock held.  The
 * file is written as PATH.tmp, fsync()ed, renamed over PATH and the
 * directory fsync()ed, so PATH is always either the old or the new state.
 * One save runs at a time in a process ('save_lock'), so that two saves
 * never share PATH.tmp.
 *
 * Restoring reads the whole file and validates all of it (header, sizes,
 * checksums, every record) before it changes anything: a truncated,
 * corrupt, other-version or other-byte-order file is refused as a whole
 * with a message saying what is wrong.  Then the settings are applied and
 * the connections inserted with their keys, NAT reverse keys, TCP peer
 * windows and states, marks, labels and ALG state; each restored one is
 * posted as a NEW event when event readers are subscribed (events.c), as
 * a commit posts it.  Into a table that already holds
 * connections, restored ones are added; one whose forward or reverse key
 * is already in use is skipped and counted as a duplicate.  Settings in
 * the file replace the table's (maxconns, sweep interval, tcp_seq_chk,
 * default zone limit); the file's zone limits and timeout policies are
 * set, others already in the table are kept.
 *
 * Time.  A connection's remaining time is stored relative to the engine
 * clock at the save, so the file does not depend on that clock (a restart
 * has a new CLOCK_MONOTONIC origin, a test may use a manual clock).  The
 * wall-clock time of the save is stored too: a restore subtracts the
 * wall-clock time elapsed since (never negative), so a connection does not
 * outlive its timeout by the time the daemon was down; connections whose
 * time ran out are not restored (counted as expired).
 *
 * File format, version 2, in the byte order of the writer (a byte-order
 * mark says which; another order is refused, not converted).  The first
 * 16 bytes (magic, byte-order mark, version) keep their place in every
 * version, so that any other version is refused whole, before anything
 * else is read, with "format version N, expected 2".  Version 1 files
 * (no ALG state; written before the ALG extension was saved) are refused
 * so too: they cannot be read by this build.
 *
 *   struct persist_header   (magic, version, byte-order mark, the sizes of
 *                            every record type, counts, settings, payload
 *                            size and checksum, its own checksum)
 *   payload:
 *     n_zone_limits x struct persist_limit
 *     n_tps         x struct persist_tp
 *     n_conns       x struct persist_conn, each followed by
 *                     2 x struct persist_peer   if CT_EXT_TCP
 *                     struct ct_key (NAT rkey)  if CT_EXT_NAT
 *                     struct persist_alg        if CT_EXT_ALG
 *
 * ALG state.  A connection's helper (alg=ftp / alg=tftp at its commit),
 * its FTP sequence skew (NAT), and for a data connection its related
 * flag and its control connection's key (parent=) are saved, so a
 * restored FTP control connection keeps creating expectations and a
 * restored data connection stays +rel.  The expectations themselves are
 * not saved: they are short-lived, and the next PORT / PASV / EPRT /
 * EPSV (or TFTP request) on the restored control connection creates them
 * again; a restored control connection starts with none ('has_exp'
 * false).
 *
 * Checksums are sum64(), a 64-bit four-lane multiply-rotate hash in the
 * manner of xxHash64 (a corruption detector, not a MAC).
 *
 * Neighbours: ovsct-private.h (layouts), table.c (maps), conntrack.c
 * (settings), dump.c (the same bucket-by-bucket copy).  No Python here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "names.h"
#include "ovsct-private.h"

#define PERSIST_MAGIC "OVSCTSTA"
#define PERSIST_VERSION 2u
#define PERSIST_BOM UINT32_C(0x01020304)

/* Write the buffer out once it holds this much. */
#define PERSIST_FLUSH_BYTES (1u << 20)
/* Connections inserted per epoch section on restore. */
#define PERSIST_RESTORE_CHUNK 256

struct persist_header {
    char magic[8];              /* PERSIST_MAGIC, no NUL. */
    uint32_t bom;               /* PERSIST_BOM in the writer's order. */
    uint32_t version;           /* PERSIST_VERSION. */
    uint32_t header_size;       /* sizeof(struct persist_header). */
    uint32_t conn_size;         /* sizeof(struct persist_conn). */
    uint32_t peer_size;         /* sizeof(struct persist_peer). */
    uint32_t key_size;          /* sizeof(struct ct_key). */
    uint32_t limit_size;        /* sizeof(struct persist_limit). */
    uint32_t tp_size;           /* sizeof(struct persist_tp). */
    uint32_t tp_n;              /* OVSCT_TP_N. */
    uint32_t tcps_n;            /* OVSCT_TCPS_N. */
    uint32_t alg_size;          /* sizeof(struct persist_alg). */
    uint32_t alg_n;             /* OVSCT_ALG_N. */
    int64_t saved_now;          /* Engine clock at the save, ms. */
    int64_t saved_wall;         /* CLOCK_REALTIME at the save, ms. */
    uint64_t n_conns;
    uint32_t n_zone_limits;
    uint32_t n_tps;
    uint32_t maxconns;
    uint32_t sweep_interval;    /* ms. */
    uint32_t default_limit;     /* 0: none. */
    uint8_t tcp_seq_chk;
    uint8_t pad_[3];
    uint64_t payload_size;      /* Bytes after the header. */
    uint64_t payload_sum;       /* sum64() of the payload. */
    uint64_t header_sum;        /* sum64() of this header, this field 0. */
};
_Static_assert(sizeof(struct persist_header) == 128,
               "struct persist_header has padding");

struct persist_limit {
    uint32_t zone;
    uint32_t limit;
};

struct persist_tp {
    uint32_t zone;
    uint32_t present;           /* Bit i: attribute i is set. */
    uint32_t v[OVSCT_TP_N];     /* Seconds. */
};

/* One connection; its extensions follow (see the file comment). */
struct persist_conn {
    struct ct_key key;          /* Forward key, zone included. */
    int64_t remaining;          /* ms to expiry at 'saved_now'. */
    uint64_t labels_lo;
    uint64_t labels_hi;
    uint32_t mark;
    uint8_t ext;                /* CT_EXT_*. */
    uint8_t nat;                /* OVSCT_CS_SRC_NAT / _DST_NAT / 0. */
    uint8_t state;              /* CT_OTHER_* / CT_ICMP_* (not TCP). */
    uint8_t pad_;
};
_Static_assert(sizeof(struct persist_conn) == 72,
               "struct persist_conn has padding");

struct persist_peer {
    uint32_t seqlo;
    uint32_t seqhi;
    uint16_t max_win;
    uint8_t wscale;
    uint8_t state;
};
_Static_assert(sizeof(struct persist_peer) == 12,
               "struct persist_peer has padding");

/* A connection's ALG extension (struct ct_alg without 'has_exp'). */
struct persist_alg {
    struct ct_key parent;       /* Control connection (if 'related'). */
    int32_t seq_skew;
    uint8_t helper;             /* OVSCT_ALG_*. */
    uint8_t related;
    uint8_t seq_skew_dir;
    uint8_t pad_;
};
_Static_assert(sizeof(struct persist_alg) == sizeof(struct ct_key) + 8,
               "struct persist_alg has padding");

#define PERSIST_CONN_MAX (sizeof(struct persist_conn) \
                          + 2 * sizeof(struct persist_peer) \
                          + sizeof(struct ct_key) \
                          + sizeof(struct persist_alg))

/* Bytes of a connection record's extensions after its struct
 * persist_conn. */
static size_t
persist_ext_size(uint8_t ext)
{
    return (ext & CT_EXT_TCP ? 2 * sizeof(struct persist_peer) : 0)
           + (ext & CT_EXT_NAT ? sizeof(struct ct_key) : 0)
           + (ext & CT_EXT_ALG ? sizeof(struct persist_alg) : 0);
}

static pthread_mutex_t save_lock = PTHREAD_MUTEX_INITIALIZER;


/* sum64(): four 64-bit lanes over 32-byte stripes, merged and avalanched
 * at the end; streaming, so data may come in pieces of any size. */

#define SUM_P1 UINT64_C(0x9E3779B185EBCA87)
#define SUM_P2 UINT64_C(0xC2B2AE3D27D4EB4F)
#define SUM_P3 UINT64_C(0x165667B19E3779F9)
#define SUM_P4 UINT64_C(0x85EBCA77C2B2AE63)
#define SUM_P5 UINT64_C(0x27D4EB2F165667C5)

struct sum64 {
    uint64_t v[4];
    uint64_t total;
    uint8_t buf[32];
    size_t n_buf;
};

static inline uint64_t
rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t
sum_round(uint64_t acc, uint64_t in)
{
    acc += in * SUM_P2;
    acc = rotl64(acc, 31);
    return acc * SUM_P1;
}

static inline uint64_t
load64(const uint8_t *p)
{
    uint64_t w;

    memcpy(&w, p, 8);
    return w;
}

static void
sum64_init(struct sum64 *s)
{
    s->v[0] = SUM_P1 + SUM_P2;
    s->v[1] = SUM_P2;
    s->v[2] = 0;
    s->v[3] = -SUM_P1;
    s->total = 0;
    s->n_buf = 0;
}

static inline void
sum64_stripe(struct sum64 *s, const uint8_t *p)
{
    s->v[0] = sum_round(s->v[0], load64(p));
    s->v[1] = sum_round(s->v[1], load64(p + 8));
    s->v[2] = sum_round(s->v[2], load64(p + 16));
    s->v[3] = sum_round(s->v[3], load64(p + 24));
}

static void
sum64_update(struct sum64 *s, const void *data, size_t len)
{
    const uint8_t *p = data;

    s->total += len;
    if (s->n_buf) {
        size_t k = 32 - s->n_buf < len ? 32 - s->n_buf : len;

        memcpy(s->buf + s->n_buf, p, k);
        s->n_buf += k;
        p += k;
        len -= k;
        if (s->n_buf < 32) {
            return;
        }
        sum64_stripe(s, s->buf);
        s->n_buf = 0;
    }
    for (; len >= 32; p += 32, len -= 32) {
        sum64_stripe(s, p);
    }
    memcpy(s->buf, p, len);
    s->n_buf = len;
}

static uint64_t
sum64_final(const struct sum64 *s)
{
    const uint8_t *p = s->buf;
    size_t len = s->n_buf;
    uint64_t h;

    h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) + rotl64(s->v[2], 12)
        + rotl64(s->v[3], 18);
    for (int i = 0; i < 4; i++) {
        h ^= sum_round(0, s->v[i]);
        h = h * SUM_P1 + SUM_P4;
    }
    h += s->total;
    for (; len >= 8; p += 8, len -= 8) {
        h ^= sum_round(0, load64(p));
        h = rotl64(h, 27) * SUM_P1 + SUM_P4;
    }
    for (; len; p++, len--) {
        h ^= *p * SUM_P5;
        h = rotl64(h, 11) * SUM_P1;
    }
    h ^= h >> 33;
    h *= SUM_P2;
    h ^= h >> 29;
    h *= SUM_P3;
    h ^= h >> 32;
    return h;
}

static uint64_t
sum64(const void *data, size_t len)
{
    struct sum64 s;

    sum64_init(&s);
    sum64_update(&s, data, len);
    return sum64_final(&s);
}

static uint64_t
header_sum(const struct persist_header *h)
{
    struct persist_header copy = *h;

    copy.header_sum = 0;
    return sum64(&copy, sizeof copy);
}


/* Messages. */

static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list args;

    if (!err || !errlen) {
        return;
    }
    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
}

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* Saving. */

struct writer {
    int fd;
    char *buf;
    size_t len, cap;
    struct sum64 sum;
    uint64_t payload;           /* Payload bytes written so far. */
};

static int
write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static int
pwrite_all(int fd, const void *data, size_t len, off_t ofs)
{
    const char *p = data;

    while (len) {
        ssize_t n = pwrite(fd, p, len, ofs);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        p += n;
        ofs += n;
        len -= (size_t) n;
    }
    return 0;
}

/* Makes room for 'more' bytes in 'w''s buffer (no lock held). */
static int
w_reserve(struct writer *w, size_t more)
{
    if (w->len + more > w->cap) {
        size_t cap = w->cap ? w->cap : PERSIST_FLUSH_BYTES * 2;
        char *buf;

        while (cap < w->len + more) {
            cap *= 2;
        }
        buf = realloc(w->buf, cap);
        if (!buf) {
            return ENOMEM;
        }
        w->buf = buf;
        w->cap = cap;
    }
    return 0;
}

/* Appends to the buffer, which w_reserve() made big enough. */
static inline void
w_put(struct writer *w, const void *data, size_t len)
{
    memcpy(w->buf + w->len, data, len);
    w->len += len;
}

/* Checksums and writes the buffer (no lock held). */
static int
w_flush(struct writer *w)
{
    int err;

    if (!w->len) {
        return 0;
    }
    sum64_update(&w->sum, w->buf, w->len);
    err = write_all(w->fd, w->buf, w->len);
    w->payload += w->len;
    w->len = 0;
    return err;
}

/* Serializes 'c' into the buffer.  Call with a bucket lock of 'c' held. */
static void
save_conn(struct writer *w, struct ct_conn *c, int64_t now)
{
    struct ct_tcp_peer *tcp = ct_conn_tcp(c);
    const struct ct_key *nat = ct_conn_nat_rkey(c);
    struct ct_alg *alg = ct_conn_alg(c);
    struct persist_conn rec;
    struct persist_peer peers[2];
    struct persist_alg prec;

    memset(&rec, 0, sizeof rec);
    rec.key = c->key;
    rec.remaining = atomic_load_explicit(&c->expiration,
                                         memory_order_relaxed) - now;
    rec.ext = c->ext;
    rec.nat = c->nat;
    ct_spin_lock(&c->lock);
    rec.labels_lo = c->labels.lo;
    rec.labels_hi = c->labels.hi;
    rec.mark = c->mark;
    rec.state = c->state;
    if (tcp) {
        for (int i = 0; i < 2; i++) {
            peers[i].seqlo = tcp[i].seqlo;
            peers[i].seqhi = tcp[i].seqhi;
            peers[i].max_win = tcp[i].max_win;
            peers[i].wscale = tcp[i].wscale;
            peers[i].state = tcp[i].state;
        }
    }
    if (alg) {
        memset(&prec, 0, sizeof prec);
        prec.parent = alg->parent;
        prec.helper = alg->helper;
        prec.related = alg->related;
        prec.seq_skew = alg->seq_skew;      /* Guarded by 'lock'. */
        prec.seq_skew_dir = alg->seq_skew_dir;
    }
    ct_spin_unlock(&c->lock);
    w_put(w, &rec, sizeof rec);
    if (tcp) {
        w_put(w, peers, sizeof peers);
    }
    if (nat) {
        w_put(w, nat, sizeof *nat);
    }
    if (alg) {
        w_put(w, &prec, sizeof prec);
    }
}

/* Copies the live connections of bucket 'b' into the buffer, under its
 * lock only.  Returns 0 or ENOMEM. */
static int
save_bucket(struct ovsct *ct, struct ct_bucket *b, struct writer *w,
            int64_t now, uint64_t *n_conns)
{
    for (;;) {
        size_t need;
        uint8_t gen;

        ct_mutex_lock(&b->lock);
        /* Under the lock (flush.c flush_all()). */
        gen = atomic_load(&ct->gen);
        need = (size_t) b->used * PERSIST_CONN_MAX;
        if (w->len + need > w->cap) {
            /* Grow with the lock dropped, then look again. */
            ct_mutex_unlock(&b->lock);
            if (w_reserve(w, need)) {
                return ENOMEM;
            }
            continue;
        }
        for (uint32_t i = 0; b->slots && i <= b->mask; i++) {
            uint32_t e = b->slots[i].ent;
            struct ct_conn *c;

            if (!e || ct_ent_dir(e)) {
                continue;       /* Each connection via its forward node. */
            }
            c = ct_ent_conn(ct, e);
            if (ct_conn_live(c, now, gen)) {
                save_conn(w, c, now);
                (*n_conns)++;
            }
        }
        ct_mutex_unlock(&b->lock);
        return 0;
    }
}

/* Writes the settings sections into the buffer and fills their part of
 * the header. */
static int
save_settings(struct ovsct *ct, struct writer *w, struct persist_header *h)
{
    uint16_t *zones = malloc(CT_N_ZONES * sizeof *zones);
    size_t n;
    uint32_t limit, count;
    bool is_explicit;

    if (!zones) {
        return ENOMEM;
    }
    h->maxconns = ovsct_get_maxconns(ct);
    h->sweep_interval = ovsct_get_sweep_interval(ct);
    h->tcp_seq_chk = ovsct_get_tcp_seq_chk(ct);
    ovsct_get_zone_limit(ct, OVSCT_ZONE_DEFAULT, &h->default_limit, &count,
                         &is_explicit);

    n = ovsct_list_zone_limits(ct, zones);
    if (w_reserve(w, n * sizeof(struct persist_limit))) {
        free(zones);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct persist_limit rec = { .zone = zones[i] };

        if (ovsct_get_zone_limit(ct, zones[i], &limit, &count, &is_explicit)
            || !is_explicit) {
            continue;           /* Deleted meanwhile. */
        }
        rec.limit = limit;
        w_put(w, &rec, sizeof rec);
        h->n_zone_limits++;
    }
    free(zones);

    for (uint32_t z = 0; z < CT_N_ZONES; z++) {
        struct persist_tp rec = { .zone = z };
        bool present[OVSCT_TP_N];

        if (!atomic_load_explicit(&ct->zone_tp[z], memory_order_relaxed)
            || !ovsct_get_zone_tp(ct, (uint16_t) z, rec.v, present)) {
            continue;
        }
        for (int i = 0; i < OVSCT_TP_N; i++) {
            rec.present |= (uint32_t) present[i] << i;
        }
        if (w_reserve(w, sizeof rec)) {
            return ENOMEM;
        }
        w_put(w, &rec, sizeof rec);
        h->n_tps++;
    }
    return 0;
}

/* fsync()s the directory that holds 'path'. */
static int
fsync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd, err = 0;

    if (!slash) {
        dir = strdup(".");
    } else if (slash == path) {
        dir = strdup("/");
    } else {
        dir = strndup(path, (size_t) (slash - path));
    }
    if (!dir) {
        return ENOMEM;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) {
        return errno;
    }
    if (fsync(fd) && errno != EINVAL) {
        err = errno;            /* EINVAL: a file system without it. */
    }
    close(fd);
    return err;
}

static int
save__(struct ovsct *ct, const char *path, const char *tmp, char *err,
       size_t errlen, struct ovsct_save_stats *stats)
{
    struct persist_header h;
    struct writer w = { .fd = -1 };
    int64_t now;
    int ret = 0;

    memset(&h, 0, sizeof h);
    memcpy(h.magic, PERSIST_MAGIC, sizeof h.magic);
    h.bom = PERSIST_BOM;
    h.version = PERSIST_VERSION;
    h.header_size = sizeof h;
    h.conn_size = sizeof(struct persist_conn);
    h.peer_size = sizeof(struct persist_peer);
    h.key_size = sizeof(struct ct_key);
    h.limit_size = sizeof(struct persist_limit);
    h.tp_size = sizeof(struct persist_tp);
    h.tp_n = OVSCT_TP_N;
    h.tcps_n = OVSCT_TCPS_N;
    h.alg_size = sizeof(struct persist_alg);
    h.alg_n = OVSCT_ALG_N;
    sum64_init(&w.sum);

    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w.fd < 0) {
        ret = errno;
        set_err(err, errlen, "%s: cannot create: %s", tmp, strerror(ret));
        return ret;
    }
    /* The header goes last, at offset 0, once the counts are known. */
    ret = write_all(w.fd, &h, sizeof h);
    if (!ret) {
        ret = w_reserve(&w, PERSIST_FLUSH_BYTES);
    }
    if (!ret) {
        ret = save_settings(ct, &w, &h);
    }
    now = ovsct_now(ct);
    h.saved_now = now;
    h.saved_wall = wall_ms();
    for (uint32_t i = 0; !ret && i < ct->n_buckets; i++) {
        ret = save_bucket(ct, &ct->buckets[i], &w, now, &h.n_conns);
        if (!ret && w.len >= PERSIST_FLUSH_BYTES) {
            ret = w_flush(&w);
        }
    }
    if (!ret) {
        ret = w_flush(&w);
    }
    if (!ret) {
        h.payload_size = w.payload;
        h.payload_sum = sum64_final(&w.sum);
        h.header_sum = header_sum(&h);
        ret = pwrite_all(w.fd, &h, sizeof h, 0);
    }
    if (ret) {
        set_err(err, errlen, "%s: cannot write: %s", tmp, strerror(ret));
    } else if (fsync(w.fd)) {
        ret = errno;
        set_err(err, errlen, "%s: fsync: %s", tmp, strerror(ret));
    }
    free(w.buf);
    if (close(w.fd) && !ret) {
        ret = errno;
        set_err(err, errlen, "%s: close: %s", tmp, strerror(ret));
    }
    if (!ret && rename(tmp, path)) {
        ret = errno;
        set_err(err, errlen, "cannot rename %s to %s: %s", tmp, path,
                strerror(ret));
    }
    if (ret) {
        unlink(tmp);
        return ret;
    }
    ret = fsync_dir(path);
    if (ret) {
        set_err(err, errlen, "%s: fsync of its directory: %s", path,
                strerror(ret));
        return ret;
    }
    if (stats) {
        stats->n_conns = h.n_conns;
        stats->n_zone_limits = h.n_zone_limits;
        stats->n_tps = h.n_tps;
        stats->bytes = sizeof h + h.payload_size;
    }
    return 0;
}

int
ovsct_save(struct ovsct *ct, const char *path, char *err, size_t errlen,
           struct ovsct_save_stats *stats)
{
    char *tmp;
    int ret;

    if (stats) {
        memset(stats, 0, sizeof *stats);
    }
    set_err(err, errlen, "%s", "");
    if (!path || !path[0]) {
        set_err(err, errlen, "empty file name");
        return EINVAL;
    }
    if (asprintf(&tmp, "%s.tmp", path) < 0) {
        return ENOMEM;
    }
    pthread_mutex_lock(&save_lock);
    ret = save__(ct, path, tmp, err, errlen, stats);
    pthread_mutex_unlock(&save_lock);
    free(tmp);
    return ret;
}


/* Restoring. */

static uint32_t
bswap32(uint32_t x)
{
    return __builtin_bswap32(x);
}

/* Checks the header of the 'size'-byte file in 'buf'.  Returns 0 or
 * EINVAL with the reason in 'err'. */
static int
check_header(const uint8_t *buf, size_t size, char *err, size_t errlen)
{
    struct persist_header h;

    if (size == 0) {
        set_err(err, errlen, "empty file");
        return EINVAL;
    }
    if (size < sizeof h.magic
        || memcmp(buf, PERSIST_MAGIC, sizeof h.magic)) {
        set_err(err, errlen, "not an ovsct state file (bad magic)");
        return EINVAL;
    }
    /* Magic, byte-order mark and version have the same place in every
     * version (see the file comment). */
    _Static_assert(offsetof(struct persist_header, bom) == 8
                   && offsetof(struct persist_header, version) == 12,
                   "the first 16 bytes of the header are fixed");
    memset(&h, 0, sizeof h);
    memcpy(&h, buf, size < sizeof h ? size : sizeof h);
    if (size < 16) {
        set_err(err, errlen, "truncated: %zu bytes, the header alone "
                "needs %zu", size, sizeof h);
        return EINVAL;
    }
    if (h.bom != PERSIST_BOM) {
        if (h.bom == bswap32(PERSIST_BOM)) {
            set_err(err, errlen, "written on a machine of the other byte "
                    "order (this one is %s-endian)",
                    *(const uint8_t *) &(uint32_t) { 1 } ? "little"
                                                         : "big");
        } else {
            set_err(err, errlen, "corrupt header (bad byte-order mark "
                    "0x%08" PRIx32 ")", h.bom);
        }
        return EINVAL;
    }
    if (h.version != PERSIST_VERSION) {
        set_err(err, errlen, "format version %" PRIu32 ", expected %u "
                "(this build reads only version %u)", h.version,
                PERSIST_VERSION, PERSIST_VERSION);
        return EINVAL;
    }
    if (size < sizeof h) {
        set_err(err, errlen, "truncated: %zu bytes, the header alone "
                "needs %zu", size, sizeof h);
        return EINVAL;
    }
#define CHECK_SIZE(FIELD, EXPECTED)                                       \
    if (h.FIELD != (EXPECTED)) {                                          \
        set_err(err, errlen, "written by a build with other layouts "     \
                "(%s %" PRIu32 ", expected %zu)", #FIELD, h.FIELD,        \
                (size_t) (EXPECTED));                                     \
        return EINVAL;                                                    \
    }
    CHECK_SIZE(header_size, sizeof(struct persist_header));
    CHECK_SIZE(conn_size, sizeof(struct persist_conn));
    CHECK_SIZE(peer_size, sizeof(struct persist_peer));
    CHECK_SIZE(key_size, sizeof(struct ct_key));
    CHECK_SIZE(limit_size, sizeof(struct persist_limit));
    CHECK_SIZE(tp_size, sizeof(struct persist_tp));
    CHECK_SIZE(tp_n, OVSCT_TP_N);
    CHECK_SIZE(tcps_n, OVSCT_TCPS_N);
    CHECK_SIZE(alg_size, sizeof(struct persist_alg));
    CHECK_SIZE(alg_n, OVSCT_ALG_N);
#undef CHECK_SIZE
    if (header_sum(&h) != h.header_sum) {
        set_err(err, errlen, "corrupt header (checksum mismatch)");
        return EINVAL;
    }
    if (size - sizeof h < h.payload_size) {
        set_err(err, errlen, "truncated: %zu bytes, expected %" PRIu64,
                size, sizeof h + h.payload_size);
        return EINVAL;
    }
    if (size - sizeof h > h.payload_size) {
        set_err(err, errlen, "%zu bytes of trailing garbage after the "
                "%" PRIu64 " expected", size - sizeof h - h.payload_size,
                sizeof h + h.payload_size);
        return EINVAL;
    }
    if (sum64(buf + sizeof h, (size_t) h.payload_size) != h.payload_sum) {
        set_err(err, errlen, "corrupt (checksum mismatch)");
        return EINVAL;
    }
    return 0;
}

static bool
key_valid(const struct ct_key *k)
{
    return k->l3 == 4 || k->l3 == 6;
}

/* Checks one connection record at 'p' (at most 'left' bytes) and returns
 * its length, or 0 with the reason in 'why'. */
static size_t
check_conn(const uint8_t *p, size_t left, const char **why)
{
    struct persist_conn rec;
    size_t len = sizeof rec;

    if (left < sizeof rec) {
        *why = "record runs past the end";
        return 0;
    }
    memcpy(&rec, p, sizeof rec);
    if (rec.ext & ~(CT_EXT_TCP | CT_EXT_NAT | CT_EXT_ALG)) {
        *why = "unknown extension bits";
        return 0;
    }
    if (!key_valid(&rec.key)) {
        *why = "bad address family";
        return 0;
    }
    if (!(rec.ext & CT_EXT_TCP) != (rec.key.nw_proto != 6)) {
        *why = "TCP state present for a non-TCP connection or missing";
        return 0;
    }
    if ((rec.ext & CT_EXT_NAT)
        ? rec.nat != OVSCT_CS_SRC_NAT && rec.nat != OVSCT_CS_DST_NAT
        : rec.nat != 0) {
        *why = "bad NAT kind";
        return 0;
    }
    if (!(rec.ext & CT_EXT_TCP) && rec.state > CT_OTHER_BIDIR) {
        *why = "bad protocol state";
        return 0;
    }
    if (rec.ext & CT_EXT_TCP) {
        struct persist_peer peers[2];

        if (left - len < sizeof peers) {
            *why = "record runs past the end";
            return 0;
        }
        memcpy(peers, p + len, sizeof peers);
        for (int i = 0; i < 2; i++) {
            if (peers[i].state >= OVSCT_TCPS_N
                || (peers[i].wscale & ~(CT_WSCALE_FLAG | CT_WSCALE_UNKNOWN
                                        | CT_WSCALE_MASK))
                || (peers[i].wscale & CT_WSCALE_MASK) > 14) {
                *why = "bad TCP peer state";
                return 0;
            }
        }
        len += sizeof peers;
    }
    if (rec.ext & CT_EXT_NAT) {
        struct ct_key rkey;

        if (left - len < sizeof rkey) {
            *why = "record runs past the end";
            return 0;
        }
        memcpy(&rkey, p + len, sizeof rkey);
        if (rkey.l3 != rec.key.l3 || rkey.nw_proto != rec.key.nw_proto
            || rkey.zone != rec.key.zone) {
            *why = "NAT key does not match the connection";
            return 0;
        }
        len += sizeof rkey;
    }
    if (rec.ext & CT_EXT_ALG) {
        struct persist_alg prec;

        if (left - len < sizeof prec) {
            *why = "record runs past the end";
            return 0;
        }
        memcpy(&prec, p + len, sizeof prec);
        if (prec.helper >= OVSCT_ALG_N || prec.related > 1
            || prec.seq_skew_dir > 1) {
            *why = "bad ALG state";
            return 0;
        }
        if (prec.related
            ? !key_valid(&prec.parent)
            : !!memcmp(&prec.parent, &(struct ct_key) { 0 },
                       sizeof prec.parent)) {
            *why = "bad ALG parent";
            return 0;
        }
        len += sizeof prec;
    }
    return len;
}

/* Checks every record of the payload.  Returns 0 or EINVAL. */
static int
check_payload(const struct persist_header *h, const uint8_t *p,
              char *err, size_t errlen)
{
    const uint8_t *end = p + h->payload_size;
    const char *why = NULL;

    if ((uint64_t) (end - p) / sizeof(struct persist_limit)
        < h->n_zone_limits) {
        set_err(err, errlen, "corrupt (zone limits run past the end)");
        return EINVAL;
    }
    for (uint32_t i = 0; i < h->n_zone_limits; i++) {
        struct persist_limit rec;

        memcpy(&rec, p, sizeof rec);
        p += sizeof rec;
        if (rec.zone >= CT_N_ZONES) {
            set_err(err, errlen, "corrupt (zone limit %" PRIu32 ": zone %"
                    PRIu32 " out of range)", i, rec.zone);
            return EINVAL;
        }
    }
    if ((uint64_t) (end - p) / sizeof(struct persist_tp) < h->n_tps) {
        set_err(err, errlen, "corrupt (timeout policies run past the end)");
        return EINVAL;
    }
    for (uint32_t i = 0; i < h->n_tps; i++) {
        struct persist_tp rec;

        memcpy(&rec, p, sizeof rec);
        p += sizeof rec;
        if (rec.zone >= CT_N_ZONES || rec.present >> OVSCT_TP_N) {
            set_err(err, errlen, "corrupt (timeout policy %" PRIu32 ")", i);
            return EINVAL;
        }
    }
    for (uint64_t i = 0; i < h->n_conns; i++) {
        size_t len = check_conn(p, (size_t) (end - p), &why);

        if (!len) {
            set_err(err, errlen, "corrupt (connection %" PRIu64 ": %s)", i,
                    why);
            return EINVAL;
        }
        p += len;
    }
    if (p != end) {
        set_err(err, errlen, "corrupt (%zu bytes after the last "
                "connection)", (size_t) (end - p));
        return EINVAL;
    }
    return 0;
}

/* Reads all of 'path' into a malloc'd buffer. */
static int
read_file(const char *path, uint8_t **bufp, size_t *sizep, char *err,
          size_t errlen)
{
    struct stat st;
    uint8_t *buf;
    size_t size, got = 0;
    int fd, ret = 0;

    *bufp = NULL;
    *sizep = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ret = errno;
        set_err(err, errlen, "cannot open: %s", strerror(ret));
        return ret;
    }
    if (fstat(fd, &st)) {
        ret = errno;
        set_err(err, errlen, "cannot stat: %s", strerror(ret));
        close(fd);
        return ret;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "not a regular file");
        close(fd);
        return EINVAL;
    }
    size = (size_t) st.st_size;
    buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        set_err(err, errlen, "out of memory reading %zu bytes", size);
        return ENOMEM;
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            ret = errno;
            set_err(err, errlen, "cannot read: %s", strerror(ret));
            break;
        }
        if (n == 0) {
            break;              /* Shrunk under us: checked as truncated. */
        }
        got += (size_t) n;
    }
    close(fd);
    if (ret) {
        free(buf);
        return ret;
    }
    *bufp = buf;
    *sizep = got;
    return 0;
}

static void
apply_settings(struct ovsct *ct, const struct persist_header *h,
               const uint8_t **pp)
{
    const uint8_t *p = *pp;

    ovsct_set_maxconns(ct, h->maxconns);
    if (h->sweep_interval) {
        ovsct_set_sweep_interval(ct, h->sweep_interval);
    }
    ovsct_set_tcp_seq_chk(ct, h->tcp_seq_chk != 0);
    if (h->default_limit) {
        ovsct_set_zone_limit(ct, OVSCT_ZONE_DEFAULT, h->default_limit);
    } else {
        ovsct_del_zone_limit(ct, OVSCT_ZONE_DEFAULT);
    }
    for (uint32_t i = 0; i < h->n_zone_limits; i++) {
        struct persist_limit rec;

        memcpy(&rec, p, sizeof rec);
        p += sizeof rec;
        ovsct_set_zone_limit(ct, (int32_t) rec.zone, rec.limit);
    }
    for (uint32_t i = 0; i < h->n_tps; i++) {
        struct persist_tp rec;
        bool present[OVSCT_TP_N];

        memcpy(&rec, p, sizeof rec);
        p += sizeof rec;
        for (int k = 0; k < OVSCT_TP_N; k++) {
            present[k] = (rec.present >> k) & 1;
        }
        ovsct_set_zone_tp(ct, (uint16_t) rec.zone, rec.v, present);
    }
    *pp = p;
}

enum restore_res {
    RESTORED,
    DUPLICATE,
    REFUSED,                    /* maxconns or a zone limit. */
    NOMEM,
};

/* Takes one connection's worth of admission for 'zone', as conntrack.c's
 * admit() does without a batch reservation. */
static bool
restore_admit(struct ovsct *ct, uint16_t zone)
{
    int64_t max = atomic_load_explicit(&ct->maxconns, memory_order_relaxed);

    if (atomic_fetch_add(&ct->n_conns, 1) - ct_reserved(ct) >= max) {
        atomic_fetch_sub(&ct->n_conns, 1);
        return false;
    }
    if (atomic_load_explicit(&ct->limits_active, memory_order_relaxed)) {
        bool expl = (atomic_load(&ct->zone_explicit[zone / 64])
                     >> (zone % 64)) & 1;
        int64_t limit = expl ? (int64_t) atomic_load(&ct->zone_limit[zone])
                        : atomic_load(&ct->default_limit)
                          ? (int64_t) atomic_load(&ct->default_limit) : -1;
        int32_t cur = atomic_fetch_add(&ct->zone_count[zone], 1);

        if (limit >= 0 && cur >= limit) {
            atomic_fetch_sub(&ct->zone_count[zone], 1);
            atomic_fetch_sub(&ct->n_conns, 1);
            return false;
        }
    }
    return true;
}

/* The sweeper's lower bound for a slot whose connection expires at
 * 'exp' (see ct_bucket_sweep()): never later than the expiry nor than
 * what any update from 'now' on could set. */
static uint32_t
restore_lb(const struct ovsct *ct, int64_t now, int64_t exp)
{
    int64_t min_to = atomic_load_explicit(&ct->min_timeout_ms,
                                          memory_order_relaxed);

    if (exp > now + min_to) {
        exp = now + min_to;
    }
    exp -= (int64_t) 1 << CT_LB_SHIFT;
    return exp <= 0 ? 0 : (uint32_t) ((uint64_t) exp >> CT_LB_SHIFT);
}

/* Fills a new, unlinked connection from its record: nobody else can see
 * it, so its guarded fields are written without its lock. */
static void
restore_fill(struct ct_conn *c, const struct persist_conn *rec,
             const uint8_t *ext_data, int64_t expiration)
    CT_NO_THREAD_SAFETY_ANALYSIS
{
    memset(c, 0, ct_slab_obj_size(rec->ext));
    c->key = rec->key;
    c->ext = rec->ext;
    c->nat = rec->nat;
    ct_spin_init(&c->lock);
    c->mark = rec->mark;
    c->labels.lo = rec->labels_lo;
    c->labels.hi = rec->labels_hi;
    c->state = rec->state;
    atomic_store_explicit(&c->expiration, expiration, memory_order_relaxed);
    if (rec->ext & CT_EXT_TCP) {
        struct ct_tcp_peer *tcp = ct_conn_tcp(c);
        struct persist_peer peers[2];

        memcpy(peers, ext_data, sizeof peers);
        ext_data += sizeof peers;
        for (int i = 0; i < 2; i++) {
            tcp[i].seqlo = peers[i].seqlo;
            tcp[i].seqhi = peers[i].seqhi;
            tcp[i].max_win = peers[i].max_win;
            tcp[i].wscale = peers[i].wscale;
            tcp[i].state = peers[i].state;
        }
    }
    if (rec->ext & CT_EXT_NAT) {
        memcpy((struct ct_key *) ct_conn_nat_rkey(c), ext_data,
               sizeof(struct ct_key));
        ext_data += sizeof(struct ct_key);
    }
    if (rec->ext & CT_EXT_ALG) {
        struct ct_alg *alg = ct_conn_alg(c);
        struct persist_alg prec;

        memcpy(&prec, ext_data, sizeof prec);
        alg->parent = prec.parent;
        alg->helper = prec.helper;
        alg->related = prec.related != 0;
        alg->seq_skew = prec.seq_skew;
        alg->seq_skew_dir = prec.seq_skew_dir != 0;
        atomic_init(&alg->has_exp, false);
    }
}

/* Inserts the connection of record 'rec' (extensions at 'ext_data'),
 * expiring at 'expiration'.  Call inside an epoch. */
static enum restore_res
restore_conn(struct ovsct *ct, const struct persist_conn *rec,
             const uint8_t *ext_data, int64_t now, int64_t expiration)
{
    struct ct_conn *c = ct_slab_alloc(ct, rec->ext);
    struct ct_bucket *b, *rb;
    struct ct_key rkey;
    uint32_t hash, rhash, lb;
    enum restore_res res = RESTORED;
    int dir;

    if (!c) {
        return NOMEM;
    }
    restore_fill(c, rec, ext_data, expiration);
    ct_conn_key(c, 1, &rkey);
    hash = ct_key_hash(ct, &c->key);
    rhash = ct_key_hash(ct, &rkey);
    b = &ct->buckets[ct_bucket_of(ct, hash)];
    rb = &ct->buckets[ct_bucket_of(ct, rhash)];
    lb = restore_lb(ct, now, expiration);

    ct_double_lock(ct, b, rb);
    if (ct_map_find(ct, b, hash, &c->key, now, &dir)
        || ct_map_find(ct, rb, rhash, &rkey, now, &dir)) {
        res = DUPLICATE;
    } else if (!restore_admit(ct, c->key.zone)) {
        res = REFUSED;
    } else {
        /* The node hashes are cached as conntrack.c conn_insert__()
         * caches them (the bucket follows from the hash). */
        c->hash = hash;
        if (c->ext & CT_EXT_NAT) {
            ct_conn_nat_ext(c)->rhash = rhash;
        }
        c->gen = atomic_load_explicit(&ct->gen, memory_order_relaxed);
        atomic_store_explicit(&c->n_linked, ct_conn_two_slots(c) ? 2 : 1,
                              memory_order_relaxed);
        if (ct_map_insert(ct, b, hash, c, 0, lb, CT_SLOT_ANY)) {
            res = NOMEM;
        } else if (ct_conn_two_slots(c)
                   && ct_map_insert(ct, rb, rhash, c, 1, lb, CT_SLOT_ANY)) {
            /* As conntrack.c conn_insert__(): n_linked 3 -> 2 keeps 'c'
             * from being retired by the unlink. */
            atomic_store(&c->n_linked, 3);
            ct_map_unlink(ct, b, c, 0);
            res = NOMEM;
        }
        if (res == NOMEM) {
            ct_count_add(ct, c->key.zone, -1);
        } else {
            ct_bucket_added(b);
            ct_stat_inc(&ct_my_stat(ct)->created);
            if (ct_events_on(ct)) {
                /* As conntrack.c conn_insert__() posts it: under the bucket
                 * lock(s), before anyone can post another for 'c'. */
                ct_event_conn(ct, c, OVSCT_EVENT_NEW);
            }
        }
    }
    ct_double_unlock(ct, b, rb);
    if (res != RESTORED) {
        ct_conn_free(ct, c);
    }
    return res;
}

static int
restore_conns(struct ovsct *ct, const struct persist_header *h,
              const uint8_t *p, int64_t elapsed, char *err, size_t errlen,
              struct ovsct_restore_stats *st)
{
    int64_t now = ovsct_now(ct);
    uint64_t i = 0;

    while (i < h->n_conns) {
        ct_slab_prepare(ct);
        ct_epoch_enter();
        for (int k = 0; k < PERSIST_RESTORE_CHUNK && i < h->n_conns;
             k++, i++) {
            struct persist_conn rec;
            const uint8_t *ext_data = p + sizeof rec;
            int64_t remaining;

            memcpy(&rec, p, sizeof rec);
            p += sizeof rec + persist_ext_size(rec.ext);
            remaining = rec.remaining - elapsed;
            if (remaining <= 0) {
                st->expired++;
                continue;
            }
            switch (restore_conn(ct, &rec, ext_data, now, now + remaining)) {
            case RESTORED:
                st->restored++;
                break;
            case DUPLICATE:
                st->duplicates++;
                break;
            case REFUSED:
                st->refused++;
                break;
            case NOMEM:
                ct_epoch_exit();
                set_err(err, errlen, "out of memory after restoring %"
                        PRIu64 " of %" PRIu64 " connections", st->restored,
                        h->n_conns);
                return ENOMEM;
            }
        }
        ct_epoch_exit();
    }
    return 0;
}

int
ovsct_restore(struct ovsct *ct, const char *path, char *err, size_t errlen,
              struct ovsct_restore_stats *stats)
{
    struct ovsct_restore_stats st;
    struct persist_header h;
    const uint8_t *p;
    uint8_t *buf;
    size_t size;
    int64_t elapsed;
    int ret;

    memset(&st, 0, sizeof st);
    if (stats) {
        *stats = st;
    }
    set_err(err, errlen, "%s", "");
    if (!path || !path[0]) {
        set_err(err, errlen, "empty file name");
        return EINVAL;
    }
    ret = read_file(path, &buf, &size, err, errlen);
    if (ret) {
        return ret;
    }
    ret = check_header(buf, size, err, errlen);
    if (!ret) {
        memcpy(&h, buf, sizeof h);
        ret = check_payload(&h, buf + sizeof h, err, errlen);
    }
    if (ret) {
        free(buf);
        return ret;
    }

    /* Everything checked: from here on the file is applied. */
    st.n_conns = h.n_conns;
    st.n_zone_limits = h.n_zone_limits;
    st.n_tps = h.n_tps;
    st.bytes = size;
    elapsed = wall_ms() - h.saved_wall;
    st.age_ms = elapsed;
    if (elapsed < 0) {
        elapsed = 0;            /* The wall clock went back: keep all. */
    }
    p = buf + sizeof h;
    apply_settings(ct, &h, &p);
    ret = restore_conns(ct, &h, p, elapsed, err, errlen, &st);
    free(buf);
    if (stats) {
        *stats = st;
    }
    return ret;
}
