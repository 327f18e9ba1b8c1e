/*
 * pcap.c -- capture files in and out: the streaming reader
 * (ovsct_pcap_open/read/close), the writer that puts frames back as they
 * were read (ovsct_pcap_writer_*), and the whole-file helpers
 * ovsct_pcap_load() and ovsct_pcap_write().
 *
 * Reads classic pcap (either byte order, microsecond or nanosecond magic)
 * and pcapng (any number of sections, each in its own byte order; Interface
 * Description, Enhanced Packet, Simple Packet and the obsolete Packet
 * blocks; every other block is skipped; if_tsresol and if_tsoffset honoured
 * per interface) from a file descriptor through its own buffer, so that a
 * pipe is read as it fills ("-r -": tcpdump -w - | ovsct -r - states).
 * Frames of every link type listed in pcap.h become Ethernet frames, in C:
 * the engine parses nothing else.  Each frame carries its capture time in
 * ns (pcap.h, struct ovsct_pcap_frames); dpio/replay.c drives the engine's
 * clock with it.
 *
 * Every length in the file is checked before it is used; a damaged or
 * truncated file gives an error with a message naming the byte offset,
 * never a crash.  A capture cut inside a record (a writer killed mid-write)
 * reports "truncated file" with the frames before it still delivered.
 *
 * Neighbours: pcap.h (this file's contract), dpio/replay.c (the replay
 * loop), binding/module.c (execute_pcap, pcap_load, pcap_write),
 * tests/c/test_packet.c, tests/test_capture.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcap.h"

#define MAX_FRAME OVSCT_PCAP_MAX_FRAME
#define ETH_HLEN 14

/* Link types (https://www.tcpdump.org/linktypes.html). */
#define LINKTYPE_NULL 0
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101
#define LINKTYPE_LOOP 108
#define LINKTYPE_LINUX_SLL 113
#define LINKTYPE_IPV4 228
#define LINKTYPE_IPV6 229
#define LINKTYPE_LINUX_SLL2 276
#define LINKTYPES_READ "0, 1, 101, 108, 113, 228, 229, 276"

#define ETH_TYPE_IP 0x0800
#define ETH_TYPE_IPV6 0x86dd

/* Classic pcap magic numbers, as read little-endian. */
#define PCAP_MAGIC_US 0xa1b2c3d4
#define PCAP_MAGIC_NS 0xa1b23c4d

/* pcapng block types and the section byte-order magic. */
#define PCAPNG_SHB 0x0a0d0d0a
#define PCAPNG_IDB 0x00000001
#define PCAPNG_PB 0x00000002   /* Obsolete Packet Block. */
#define PCAPNG_SPB 0x00000003
#define PCAPNG_EPB 0x00000006
#define PCAPNG_BYTE_ORDER 0x1a2b3c4d
#define PCAPNG_MAX_IFACES 65536
#define PCAPNG_MAX_IDB 65536    /* Largest Interface Description Block. */
#define PCAPNG_OPT_TSRESOL 9
#define PCAPNG_OPT_TSOFFSET 14

/* An interface: the only one of a classic pcap, or one of a pcapng file's
 * (numbered over the whole file: ids restart in each section). */
struct iface {
    uint32_t linktype;          /* Classic pcap: with its FCS bits. */
    uint32_t snaplen;           /* 0: no limit. */
    uint8_t tsresol;            /* pcapng if_tsresol (default 6). */
    int64_t tsoffset;           /* pcapng if_tsoffset, seconds. */
};

struct ovsct_pcap {
    int fd;
    bool own_fd;
    bool ng;                    /* pcapng, else classic pcap. */
    bool swap;                  /* Classic pcap or current section is
                                 * big-endian. */
    bool nsec;                  /* Classic pcap with nanosecond magic. */
    bool eof;                   /* read() returned 0. */
    char name[128];

    /* Buffered input: bytes [start, end) of 'buf' are at file offset
     * 'pos' onwards. */
    uint8_t *buf;
    size_t start, end, cap;
    uint64_t pos;

    struct iface *ifaces;
    size_t n_ifaces, ifaces_cap;
    size_t section_base;        /* First interface of the current section. */

    char err[256];
};

static int
fail(struct ovsct_pcap *r, int error, const char *format, ...)
{
    int len = snprintf(r->err, sizeof r->err, "%s: ", r->name);
    if (len >= 0 && (size_t) len < sizeof r->err) {
        va_list args;

        va_start(args, format);
        vsnprintf(r->err + len, sizeof r->err - (size_t) len, format, args);
        va_end(args);
    }
    return error;
}

/* Text for the errors open() and read() commonly give (strerror() is not
 * thread-safe and strerror_r() is not portable). */
static const char *
error_text(int error)
{
    switch (error) {
    case ENOENT: return "No such file or directory";
    case EACCES: return "Permission denied";
    case EISDIR: return "Is a directory";
    case ENOMEM: return "Out of memory";
    case EMFILE: return "Too many open files";
    case ENAMETOOLONG: return "File name too long";
    default: return "I/O error";
    }
}

static uint32_t
get_le32(const uint8_t *p)
{
    return ((uint32_t) p[3] << 24 | (uint32_t) p[2] << 16
            | (uint32_t) p[1] << 8 | p[0]);
}

static uint32_t
get_be32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
            | (uint32_t) p[2] << 8 | p[3]);
}

static uint32_t
get32(bool swap, const uint8_t *p)
{
    return swap ? get_be32(p) : get_le32(p);
}

static uint16_t
get16(bool swap, const uint8_t *p)
{
    return (uint16_t) (swap ? p[0] << 8 | p[1] : p[1] << 8 | p[0]);
}

static uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static void
put_le32(uint8_t *p, uint32_t x)
{
    p[0] = (uint8_t) x;
    p[1] = (uint8_t) (x >> 8);
    p[2] = (uint8_t) (x >> 16);
    p[3] = (uint8_t) (x >> 24);
}

static void
put_le16(uint8_t *p, uint16_t x)
{
    p[0] = (uint8_t) x;
    p[1] = (uint8_t) (x >> 8);
}

/* Grows '*p' (of '*cap' items of 'size' bytes) to at least 'need' items
 * ('min' the first time, even if 'need' is 0): a grown array is never
 * NULL, so that 'p + 0' is defined (an empty first frame: NULL + 0 is
 * undefined, and clang's UBSan flags it). */
static bool
grow(void *p, size_t *cap, size_t need, size_t size, size_t min)
{
    if (need <= *cap && *cap) {
        return true;
    }
    size_t n = *cap ? *cap : min;
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

/* Buffered input. */

static size_t
avail(const struct ovsct_pcap *r)
{
    return r->end - r->start;
}

/* Makes 'n' bytes available at r->buf + r->start.  Returns 0, EOF if the
 * input ended before the first of them, otherwise a positive errno with a
 * message ('what' names the item cut short). */
static int
need(struct ovsct_pcap *r, size_t n, const char *what)
{
    if (avail(r) >= n) {
        return 0;
    }
    if (r->start) {
        memmove(r->buf, r->buf + r->start, avail(r));
        r->end -= r->start;
        r->start = 0;
    }
    if (!grow(&r->buf, &r->cap, n < 65536 ? 65536 : n, 1, 65536)) {
        return fail(r, ENOMEM, "out of memory");
    }
    while (r->end < n && !r->eof) {
        ssize_t got = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            int error = errno ? errno : EIO;
            return fail(r, error, "read error at byte %llu: %s",
                        (unsigned long long) (r->pos + r->end),
                        error_text(error));
        }
        if (!got) {
            r->eof = true;
        }
        r->end += (size_t) got;
    }
    if (r->end >= n) {
        return 0;
    } else if (!r->end) {
        return EOF;
    }
    return fail(r, EINVAL, "truncated file: %s cut at byte %llu", what,
                (unsigned long long) (r->pos + r->end));
}

/* Like need(), but the end of the input is an error too. */
static int
need_all(struct ovsct_pcap *r, size_t n, const char *what)
{
    int error = need(r, n, what);

    if (error == EOF) {
        return fail(r, EINVAL, "truncated file: %s missing at byte %llu",
                    what, (unsigned long long) r->pos);
    }
    return error;
}

static const uint8_t *
cur(const struct ovsct_pcap *r)
{
    return r->buf + r->start;
}

static void
consume(struct ovsct_pcap *r, size_t n)
{
    r->start += n;
    r->pos += n;
}

/* Discards 'n' bytes of input, not all of which need fit the buffer. */
static int
skip(struct ovsct_pcap *r, uint64_t n, const char *what)
{
    while (n) {
        size_t chunk = n < 65536 ? (size_t) n : 65536;
        int error = need_all(r, chunk, what);
        if (error) {
            return error;
        }
        consume(r, chunk);
        n -= chunk;
    }
    return 0;
}

/* True if more input can be read now without waiting. */
static bool
ready(struct ovsct_pcap *r)
{
    if (avail(r) || r->eof) {
        return true;
    }
    struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
    return poll(&pfd, 1, 0) > 0;
}

/* Interfaces. */

static int
add_iface(struct ovsct_pcap *r, uint32_t linktype, uint32_t snaplen)
{
    if (r->n_ifaces >= PCAPNG_MAX_IFACES) {
        return fail(r, EINVAL, "too many interfaces");
    }
    if (!grow(&r->ifaces, &r->ifaces_cap, r->n_ifaces + 1,
              sizeof *r->ifaces, 4)) {
        return fail(r, ENOMEM, "out of memory");
    }
    r->ifaces[r->n_ifaces++] = (struct iface) {
        .linktype = linktype,
        .snaplen = snaplen,
        .tsresol = 6,
    };
    return 0;
}

static bool
linktype_read(uint32_t linktype)
{
    switch (linktype & 0xffff) {
    case LINKTYPE_NULL: case LINKTYPE_ETHERNET: case LINKTYPE_RAW:
    case LINKTYPE_LOOP: case LINKTYPE_LINUX_SLL: case LINKTYPE_IPV4:
    case LINKTYPE_IPV6: case LINKTYPE_LINUX_SLL2:
        return true;
    default:
        return false;
    }
}

/* Nanoseconds since the epoch of time stamp 'ts' in the units of 'iface'
 * (if_tsresol: 10^-n or, with the top bit, 2^-n seconds), saturated. */
static int64_t
pcapng_ns(const struct iface *iface, uint64_t ts)
{
    uint8_t exp = iface->tsresol & 0x7f;
    uint64_t sec, ns;

    if (iface->tsresol & 0x80) {
        if (exp >= 64) {
            sec = 0;
            ns = 0;
        } else {
            sec = exp ? ts >> exp : ts;
            uint64_t frac = exp ? ts & ((UINT64_C(1) << exp) - 1) : 0;
            /* frac < 2^exp: keep frac * 10^9 below 2^64. */
            if (exp > 34) {
                frac >>= exp - 34;
                exp = 34;
            }
            ns = exp ? (frac * 1000000000u) >> exp : 0;
        }
    } else {
        uint64_t unit = 1;
        for (uint8_t i = 0; i < exp && i < 19; i++) {
            unit *= 10;
        }
        if (exp > 19) {
            return 0;           /* Sub-1e-19 s units: nonsense. */
        }
        sec = ts / unit;
        uint64_t frac = ts % unit;
        if (exp <= 9) {
            uint64_t mul = 1;
            for (uint8_t i = exp; i < 9; i++) {
                mul *= 10;
            }
            ns = frac * mul;
        } else {
            uint64_t div = 1;
            for (uint8_t i = 9; i < exp; i++) {
                div *= 10;
            }
            ns = frac / div;
        }
    }
    int64_t s = (int64_t) (sec > INT64_MAX / 2 ? INT64_MAX / 2 : sec);
    s += iface->tsoffset;
    if (s < 0) {
        return 0;
    }
    if (s >= INT64_MAX / 1000000000) {
        return INT64_MAX;
    }
    return s * 1000000000 + (int64_t) ns;
}

/* Opening. */

static int read_pcap_header(struct ovsct_pcap *);

int
ovsct_pcap_open(const char *path, struct ovsct_pcap **rp, char *err,
                size_t err_size)
{
    struct ovsct_pcap *r = calloc(1, sizeof *r);
    int error;

    *rp = NULL;
    if (err && err_size) {
        err[0] = '\0';
    }
    if (!r) {
        if (err && err_size) {
            snprintf(err, err_size, "%s: out of memory", path);
        }
        return ENOMEM;
    }
    snprintf(r->name, sizeof r->name, "%s", path);
    if (!strcmp(path, "-")) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            error = errno ? errno : EIO;
            fail(r, error, "%s", error_text(error));
            goto error;
        }
        r->own_fd = true;
    }
    error = read_pcap_header(r);
    if (!error) {
        *rp = r;
        return 0;
    }

error:
    if (err && err_size) {
        snprintf(err, err_size, "%s", r->err);
    }
    ovsct_pcap_close(r);
    return error;
}

void
ovsct_pcap_close(struct ovsct_pcap *r)
{
    if (r) {
        if (r->own_fd) {
            close(r->fd);
        }
        free(r->buf);
        free(r->ifaces);
        free(r);
    }
}

const char *
ovsct_pcap_error(const struct ovsct_pcap *r)
{
    return r->err;
}

void
ovsct_pcap_frames_free(struct ovsct_pcap_frames *f)
{
    free(f->data);
    free(f->offsets);
    free(f->ts_ns);
    free(f->meta);
    free(f->hdrs);
    memset(f, 0, sizeof *f);
}

/* Classic pcap: a 24-byte header; pcapng: the Section Header Block is read
 * by the block loop. */
static int
read_pcap_header(struct ovsct_pcap *r)
{
    int error = need(r, 4, "file header");
    if (error == EOF) {
        return fail(r, EINVAL, "empty file");
    } else if (error) {
        return error;
    }
    const uint8_t *magic = cur(r);
    if (get_le32(magic) == PCAPNG_SHB) {
        r->ng = true;
        return 0;
    }

    uint32_t le = get_le32(magic);
    uint32_t be = get_be32(magic);
    if (le == PCAP_MAGIC_US || le == PCAP_MAGIC_NS) {
        r->swap = false;
        r->nsec = le == PCAP_MAGIC_NS;
    } else if (be == PCAP_MAGIC_US || be == PCAP_MAGIC_NS) {
        r->swap = true;
        r->nsec = be == PCAP_MAGIC_NS;
    } else {
        return fail(r, EINVAL, "not a pcap or pcapng file (magic "
                    "%02x%02x%02x%02x)", magic[0], magic[1], magic[2],
                    magic[3]);
    }

    error = need_all(r, 24, "file header");
    if (error) {
        return error;
    }
    const uint8_t *hdr = cur(r);
    if (get16(r->swap, hdr + 4) != 2) {
        return fail(r, EINVAL, "unsupported pcap version %u.%u",
                    get16(r->swap, hdr + 4), get16(r->swap, hdr + 6));
    }
    /* The link-type field keeps FCS information in its top bits. */
    uint32_t linktype = get32(r->swap, hdr + 20);
    if (!linktype_read(linktype)) {
        return fail(r, EINVAL, "unsupported link type %lu (read: "
                    LINKTYPES_READ ")", (unsigned long) (linktype & 0xffff));
    }
    error = add_iface(r, linktype, get32(r->swap, hdr + 16));
    if (!error) {
        r->ifaces[0].tsresol = r->nsec ? 9 : 6;
        consume(r, 24);
    }
    return error;
}

/* Frames. */

/* The Ethernet type a BSD address family stands for (0: not IP). */
static uint16_t
af_ethertype(uint32_t af)
{
    switch (af) {
    case 2:
        return ETH_TYPE_IP;
    case 10: case 24: case 28: case 30:     /* Linux, *BSD, FreeBSD, macOS */
        return ETH_TYPE_IPV6;
    default:
        return 0;
    }
}

static uint16_t
ip_ethertype(const uint8_t *p, size_t len)
{
    if (!len) {
        return 0;
    }
    return (p[0] >> 4 == 4 ? ETH_TYPE_IP : p[0] >> 4 == 6 ? ETH_TYPE_IPV6
            : 0);
}

/* Appends frame 'raw' of 'caplen' bytes, of the link type of interface
 * 'id', to 'f' as an Ethernet frame. */
static int
add_frame(struct ovsct_pcap *r, struct ovsct_pcap_frames *f, uint32_t id,
          const uint8_t *raw, uint32_t caplen, uint32_t orig_len,
          uint64_t ts_raw, int64_t ts_ns)
{
    uint32_t linktype = r->ifaces[id].linktype & 0xffff;
    uint8_t eth[ETH_HLEN] = { 0 };
    uint32_t hlen = 0;          /* Original header bytes replaced. */
    uint16_t type = 0;

    if (caplen > MAX_FRAME) {
        return fail(r, EINVAL, "frame of %lu bytes at byte %llu is too "
                    "large (corrupt file?)", (unsigned long) caplen,
                    (unsigned long long) r->pos);
    }
    if (!linktype_read(linktype)) {
        return fail(r, EINVAL, "interface %lu has unsupported link type "
                    "%lu (read: " LINKTYPES_READ ")",
                    (unsigned long) (id - r->section_base),
                    (unsigned long) linktype);
    }

    switch (linktype) {
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
        hlen = 4;
        if (caplen >= 4) {
            uint32_t af = (linktype == LINKTYPE_LOOP ? get_be32(raw)
                           : get_le32(raw));
            if (linktype == LINKTYPE_NULL && af > 0xffff) {
                af = get_be32(raw);     /* Written on a big-endian host. */
            }
            type = af_ethertype(af);
        }
        break;
    case LINKTYPE_RAW:
        type = ip_ethertype(raw, caplen);
        break;
    case LINKTYPE_IPV4:
        type = ETH_TYPE_IP;
        break;
    case LINKTYPE_IPV6:
        type = ETH_TYPE_IPV6;
        break;
    case LINKTYPE_LINUX_SLL:
        /* Packet type, ARPHRD type, address length, 8 address bytes,
         * protocol. */
        hlen = 16;
        if (caplen >= 16) {
            uint16_t alen = get_be16(raw + 4);
            memcpy(eth + 6, raw + 6, alen < 6 ? alen : 6);
            type = get_be16(raw + 14);
        }
        break;
    case LINKTYPE_LINUX_SLL2:
        /* Protocol, reserved, interface index, ARPHRD type, packet type,
         * address length, 8 address bytes. */
        hlen = 20;
        if (caplen >= 20) {
            uint8_t alen = raw[11];
            memcpy(eth + 6, raw + 12, alen < 6 ? alen : 6);
            type = get_be16(raw);
        }
        break;
    default:                    /* LINKTYPE_ETHERNET */
        break;
    }
    if (hlen > caplen) {
        hlen = caplen;          /* Cut short: all header, no payload. */
        type = 0;
    }
    eth[12] = (uint8_t) (type >> 8);
    eth[13] = (uint8_t) type;

    bool synth = linktype != LINKTYPE_ETHERNET;
    size_t len = caplen - hlen + (synth ? ETH_HLEN : 0);
    if (f->size + len > UINT32_MAX) {
        return fail(r, EFBIG, "more than 4 GiB of frames");
    }
    if (!grow(&f->data, &f->data_cap, f->size + len, 1, 65536)
        || !grow(&f->hdrs, &f->hdrs_cap, f->hdrs_size + hlen, 1, 4096)) {
        return fail(r, ENOMEM, "out of memory");
    }
    if (f->n + 2 > f->cap) {
        /* Three arrays of one capacity: grown alike, they stay alike. */
        size_t cap = f->cap, cap2 = f->cap, cap3 = f->cap;
        if (!grow(&f->offsets, &cap, f->n + 2, sizeof *f->offsets, 64)
            || !grow(&f->ts_ns, &cap2, f->n + 2, sizeof *f->ts_ns, 64)
            || !grow(&f->meta, &cap3, f->n + 2, sizeof *f->meta, 64)
            || cap != cap2 || cap2 != cap3) {
            return fail(r, ENOMEM, "out of memory");
        }
        f->cap = cap;
    }
    uint8_t *out = f->data + f->size;
    if (synth) {
        memcpy(out, eth, ETH_HLEN);
        out += ETH_HLEN;
    }
    if (caplen > hlen) {
        memcpy(out, raw + hlen, caplen - hlen);
    }
    if (hlen) {
        memcpy(f->hdrs + f->hdrs_size, raw, hlen);
    }
    f->meta[f->n] = (struct ovsct_pcap_meta) {
        .ts_raw = ts_raw,
        .iface = id,
        .orig_len = orig_len,
        .hdr_off = (uint32_t) f->hdrs_size,
        .hdr_len = (uint16_t) hlen,
        .synth_len = synth ? ETH_HLEN : 0,
    };
    f->ts_ns[f->n] = ts_ns;
    f->hdrs_size += hlen;
    f->size += len;
    f->offsets[0] = 0;
    f->offsets[++f->n] = (uint32_t) f->size;
    return 0;
}

/* Classic pcap: one record of a 16-byte header and the captured bytes.
 * Returns 0 with one frame added, EOF at the end, or an errno. */
static int
read_pcap_record(struct ovsct_pcap *r, struct ovsct_pcap_frames *f)
{
    int error = need(r, 16, "record header");
    if (error) {
        return error;
    }
    uint32_t sec = get32(r->swap, cur(r));
    uint32_t frac = get32(r->swap, cur(r) + 4);
    uint32_t caplen = get32(r->swap, cur(r) + 8);
    uint32_t orig_len = get32(r->swap, cur(r) + 12);
    if (caplen > MAX_FRAME) {
        return fail(r, EINVAL, "frame of %lu bytes at byte %llu is too "
                    "large (corrupt file?)", (unsigned long) caplen,
                    (unsigned long long) r->pos);
    }
    error = need_all(r, 16 + (size_t) caplen, "frame");
    if (error) {
        return error;
    }
    int64_t ns = (int64_t) sec * 1000000000
                 + (r->nsec ? frac : (int64_t) frac * 1000);
    consume(r, 16);
    error = add_frame(r, f, 0, cur(r), caplen, orig_len,
                      (uint64_t) sec << 32 | frac, ns);
    if (!error) {
        consume(r, caplen);
    }
    return error;
}

/* The body of a pcapng Interface Description Block ('len' bytes, at the
 * buffer's start). */
static int
read_idb(struct ovsct_pcap *r, const uint8_t *body, uint32_t len)
{
    if (len < 8) {
        return fail(r, EINVAL, "short interface block at byte %llu",
                    (unsigned long long) r->pos);
    }
    int error = add_iface(r, get16(r->swap, body), get32(r->swap, body + 4));
    if (error) {
        return error;
    }
    struct iface *iface = &r->ifaces[r->n_ifaces - 1];
    for (uint32_t off = 8; off + 4 <= len;) {
        uint16_t code = get16(r->swap, body + off);
        uint16_t olen = get16(r->swap, body + off + 2);
        if (!code || olen > len - off - 4) {
            break;              /* opt_endofopt, or a damaged option. */
        }
        const uint8_t *v = body + off + 4;
        if (code == PCAPNG_OPT_TSRESOL && olen >= 1) {
            iface->tsresol = v[0];
        } else if (code == PCAPNG_OPT_TSOFFSET && olen >= 8) {
            uint64_t x = r->swap
                ? (uint64_t) get_be32(v) << 32 | get_be32(v + 4)
                : (uint64_t) get_le32(v + 4) << 32 | get_le32(v);
            iface->tsoffset = (int64_t) x;
        }
        off += 4 + ((olen + 3u) & ~3u);
    }
    return 0;
}

static int
check_iface(struct ovsct_pcap *r, uint32_t id, uint64_t start)
{
    if (id >= r->n_ifaces - r->section_base || r->n_ifaces == 0) {
        return fail(r, EINVAL, "packet at byte %llu refers to undefined "
                    "interface %lu", (unsigned long long) start,
                    (unsigned long) id);
    }
    return 0;
}

/* pcapng: blocks of a 4-byte type, a 4-byte total length, the body and the
 * total length again, until one frame is added.  Returns 0 with one frame
 * added, EOF at the end, or an errno. */
static int
read_pcapng_block(struct ovsct_pcap *r, struct ovsct_pcap_frames *f)
{
    for (;;) {
        uint64_t start = r->pos;
        int error = need(r, 8, "block header");
        if (error) {
            return error;
        }

        /* A Section Header Block sets the byte order of its section with
         * its first body field; its type reads the same either way. */
        bool shb = get_le32(cur(r)) == PCAPNG_SHB;
        if (shb) {
            error = need_all(r, 16, "section header");
            if (error) {
                return error;
            }
            const uint8_t *p = cur(r) + 8;
            if (get_le32(p) == PCAPNG_BYTE_ORDER) {
                r->swap = false;
            } else if (get_be32(p) == PCAPNG_BYTE_ORDER) {
                r->swap = true;
            } else {
                return fail(r, EINVAL, "bad section byte-order magic at "
                            "byte %llu", (unsigned long long) start);
            }
            if (get16(r->swap, p + 4) != 1) {
                return fail(r, EINVAL, "unsupported pcapng version %u",
                            get16(r->swap, p + 4));
            }
            r->section_base = r->n_ifaces;  /* Ids restart per section. */
        }
        uint32_t type = get32(r->swap, cur(r));
        uint32_t len = get32(r->swap, cur(r) + 4);
        uint32_t min = shb ? 28 : 12;
        if (len % 4 || len < min) {
            return fail(r, EINVAL, "bad block length %lu at byte %llu",
                        (unsigned long) len, (unsigned long long) start);
        }
        uint32_t body = len - 12;

        /* What must be in the buffer: the whole block for the packet and
         * interface blocks (bounded), else the header only. */
        size_t want = 8;
        bool packet = (type == PCAPNG_EPB || type == PCAPNG_PB
                       || type == PCAPNG_SPB) && !shb;
        if (packet || (type == PCAPNG_IDB && !shb)) {
            if (body > MAX_FRAME + PCAPNG_MAX_IDB) {
                return fail(r, EINVAL, "block of %lu bytes at byte %llu is "
                            "too large (corrupt file?)", (unsigned long) len,
                            (unsigned long long) start);
            }
            want = len;
        }
        error = need_all(r, want, "block");
        if (error) {
            return error;
        }
        const uint8_t *b = cur(r) + 8;
        bool added = false;

        if (shb) {
            /* Nothing more to read. */
        } else if (type == PCAPNG_IDB) {
            error = read_idb(r, b, body);
        } else if (type == PCAPNG_EPB || type == PCAPNG_PB) {
            if (body < 20) {
                return fail(r, EINVAL, "short packet block at byte %llu",
                            (unsigned long long) start);
            }
            uint32_t id = (type == PCAPNG_EPB ? get32(r->swap, b)
                           : get16(r->swap, b));
            uint64_t ts = ((uint64_t) get32(r->swap, b + 4) << 32
                           | get32(r->swap, b + 8));
            uint32_t caplen = get32(r->swap, b + 12);
            uint32_t orig_len = get32(r->swap, b + 16);
            if (caplen > body - 20) {
                return fail(r, EINVAL, "packet block at byte %llu: captured "
                            "length %lu exceeds the block",
                            (unsigned long long) start,
                            (unsigned long) caplen);
            }
            error = check_iface(r, id, start);
            if (!error) {
                id += (uint32_t) r->section_base;
                error = add_frame(r, f, id, b + 20, caplen, orig_len, ts,
                                  pcapng_ns(&r->ifaces[id], ts));
                added = true;
            }
        } else if (type == PCAPNG_SPB) {
            /* The captured length is implicit: the original length, cut
             * to the interface's snap length and to the block. */
            if (body < 4) {
                return fail(r, EINVAL, "short simple packet block at byte "
                            "%llu", (unsigned long long) start);
            }
            error = check_iface(r, 0, start);
            if (!error) {
                uint32_t id = (uint32_t) r->section_base;
                uint32_t orig_len = get32(r->swap, b);
                uint32_t caplen = orig_len;
                if (caplen > body - 4) {
                    caplen = body - 4;
                }
                if (r->ifaces[id].snaplen
                    && caplen > r->ifaces[id].snaplen) {
                    caplen = r->ifaces[id].snaplen;
                }
                error = add_frame(r, f, id, b + 4, caplen, orig_len, 0,
                                  OVSCT_PCAP_NO_TIME);
                added = true;
            }
        }
        if (error) {
            return error;
        }

        if (want == len) {
            if (get32(r->swap, cur(r) + len - 4) != len) {
                return fail(r, EINVAL, "block at byte %llu: trailing length "
                            "%lu does not match %lu",
                            (unsigned long long) start,
                            (unsigned long) get32(r->swap,
                                                  cur(r) + len - 4),
                            (unsigned long) len);
            }
            consume(r, len);
        } else {
            consume(r, 8);
            error = skip(r, len - 12, "block");
            if (!error) {
                error = need_all(r, 4, "block trailer");
            }
            if (error) {
                return error;
            }
            if (get32(r->swap, cur(r)) != len) {
                return fail(r, EINVAL, "block at byte %llu: trailing length "
                            "%lu does not match %lu",
                            (unsigned long long) start,
                            (unsigned long) get32(r->swap, cur(r)),
                            (unsigned long) len);
            }
            consume(r, 4);
        }
        if (added) {
            return 0;
        }
    }
}

int
ovsct_pcap_read(struct ovsct_pcap *r, struct ovsct_pcap_frames *f,
                size_t max, bool stream)
{
    f->size = 0;
    f->n = 0;
    f->hdrs_size = 0;
    r->err[0] = '\0';
    while (f->n < max) {
        if (stream && f->n && !ready(r)) {
            break;
        }
        size_t n = f->n;
        int error = r->ng ? read_pcapng_block(r, f) : read_pcap_record(r, f);
        if (error == EOF) {
            break;
        }
        if (error) {
            /* A frame added by a block whose trailer is bad stays out. */
            if (f->n > n) {
                f->n = n;
                f->size = f->offsets[n];
            }
            return error;
        }
    }
    return 0;
}

/* Writer. */

struct ovsct_pcap_writer {
    FILE *f;
    bool ng;
    uint32_t *out_id;           /* Per input interface: output id, or
                                 * UINT32_MAX before its IDB is written. */
    size_t n_out_id, n_written;
};

static bool
put_bytes(FILE *f, const void *p, size_t n)
{
    return !n || fwrite(p, n, 1, f) == 1;
}

int
ovsct_pcap_writer_open(const char *path, const struct ovsct_pcap *src,
                       struct ovsct_pcap_writer **wp)
{
    struct ovsct_pcap_writer *w = calloc(1, sizeof *w);

    *wp = NULL;
    if (!w) {
        return ENOMEM;
    }
    w->ng = src->ng;
    w->f = fopen(path, "wb");
    if (!w->f) {
        int error = errno ? errno : EIO;
        free(w);
        return error;
    }

    bool ok;
    if (w->ng) {
        /* Section Header Block: little-endian, version 1.0, unknown
         * section length, no options. */
        uint8_t shb[28];
        put_le32(shb, PCAPNG_SHB);
        put_le32(shb + 4, sizeof shb);
        put_le32(shb + 8, PCAPNG_BYTE_ORDER);
        put_le16(shb + 12, 1);
        put_le16(shb + 14, 0);
        memset(shb + 16, 0xff, 8);
        put_le32(shb + 24, sizeof shb);
        ok = put_bytes(w->f, shb, sizeof shb);
    } else {
        uint8_t hdr[24];
        const struct iface *iface = &src->ifaces[0];
        put_le32(hdr, src->nsec ? PCAP_MAGIC_NS : PCAP_MAGIC_US);
        put_le16(hdr + 4, 2);
        put_le16(hdr + 6, 4);
        put_le32(hdr + 8, 0);               /* GMT offset. */
        put_le32(hdr + 12, 0);              /* Timestamp accuracy. */
        put_le32(hdr + 16, iface->snaplen ? iface->snaplen : MAX_FRAME);
        put_le32(hdr + 20, iface->linktype);
        ok = put_bytes(w->f, hdr, sizeof hdr);
    }
    if (!ok) {
        int error = errno ? errno : EIO;
        ovsct_pcap_writer_close(w);
        return error;
    }
    *wp = w;
    return 0;
}

/* Writes the Interface Description Block of input interface 'id'. */
static bool
write_idb(struct ovsct_pcap_writer *w, const struct ovsct_pcap *src,
          uint32_t id)
{
    const struct iface *iface = &src->ifaces[id];
    uint8_t idb[48];
    size_t len = 16;

    if (!grow(&w->out_id, &w->n_out_id, src->n_ifaces, sizeof *w->out_id,
              4)) {
        return false;
    }
    put_le32(idb, PCAPNG_IDB);
    put_le16(idb + 8, (uint16_t) iface->linktype);
    put_le16(idb + 10, 0);
    put_le32(idb + 12, iface->snaplen);
    if (iface->tsresol != 6) {
        put_le16(idb + len, PCAPNG_OPT_TSRESOL);
        put_le16(idb + len + 2, 1);
        memset(idb + len + 4, 0, 4);
        idb[len + 4] = iface->tsresol;
        len += 8;
    }
    if (iface->tsoffset) {
        uint64_t x = (uint64_t) iface->tsoffset;
        put_le16(idb + len, PCAPNG_OPT_TSOFFSET);
        put_le16(idb + len + 2, 8);
        put_le32(idb + len + 4, (uint32_t) x);
        put_le32(idb + len + 8, (uint32_t) (x >> 32));
        len += 12;
    }
    if (len > 16) {
        put_le32(idb + len, 0);             /* opt_endofopt */
        len += 4;
    }
    len += 4;
    put_le32(idb + 4, (uint32_t) len);
    put_le32(idb + len - 4, (uint32_t) len);
    for (size_t i = w->n_written; i < w->n_out_id; i++) {
        w->out_id[i] = UINT32_MAX;
    }
    w->out_id[id] = (uint32_t) w->n_written++;
    return put_bytes(w->f, idb, len);
}

int
ovsct_pcap_writer_put(struct ovsct_pcap_writer *w,
                      const struct ovsct_pcap *src,
                      const struct ovsct_pcap_frames *f)
{
    static const uint8_t pad[4];

    for (size_t i = 0; i < f->n; i++) {
        const struct ovsct_pcap_meta *m = &f->meta[i];
        uint32_t len = f->offsets[i + 1] - f->offsets[i];
        const uint8_t *frame = f->data + f->offsets[i] + m->synth_len;
        uint32_t body = len - m->synth_len;
        uint32_t caplen = m->hdr_len + body;
        uint32_t orig_len = m->orig_len < caplen ? caplen : m->orig_len;
        bool ok;

        if (w->ng) {
            if ((m->iface >= w->n_out_id
                 || w->out_id[m->iface] == UINT32_MAX)
                && !write_idb(w, src, m->iface)) {
                return errno ? errno : EIO;
            }
            uint32_t padded = (caplen + 3u) & ~3u;
            uint32_t blen = 32 + padded;
            uint8_t h[28];
            put_le32(h, PCAPNG_EPB);
            put_le32(h + 4, blen);
            put_le32(h + 8, w->out_id[m->iface]);
            put_le32(h + 12, (uint32_t) (m->ts_raw >> 32));
            put_le32(h + 16, (uint32_t) m->ts_raw);
            put_le32(h + 20, caplen);
            put_le32(h + 24, orig_len);
            uint8_t t[4];
            put_le32(t, blen);
            ok = (put_bytes(w->f, h, sizeof h)
                  && put_bytes(w->f, f->hdrs + m->hdr_off, m->hdr_len)
                  && put_bytes(w->f, frame, body)
                  && put_bytes(w->f, pad, padded - caplen)
                  && put_bytes(w->f, t, sizeof t));
        } else {
            uint8_t h[16];
            put_le32(h, (uint32_t) (m->ts_raw >> 32));
            put_le32(h + 4, (uint32_t) m->ts_raw);
            put_le32(h + 8, caplen);
            put_le32(h + 12, orig_len);
            ok = (put_bytes(w->f, h, sizeof h)
                  && put_bytes(w->f, f->hdrs + m->hdr_off, m->hdr_len)
                  && put_bytes(w->f, frame, body));
        }
        if (!ok) {
            return errno ? errno : EIO;
        }
    }
    return 0;
}

int
ovsct_pcap_writer_close(struct ovsct_pcap_writer *w)
{
    int error = 0;

    if (w) {
        if (w->f && fclose(w->f)) {
            error = errno ? errno : EIO;
        }
        free(w->out_id);
        free(w);
    }
    return error;
}

/* Whole files. */

/* Errors: the errno of open() or read(); EINVAL for anything wrong with
 * the contents (unknown magic, truncation, bad block, unsupported link
 * type, a frame over 262144 bytes); EFBIG past 4 GiB of frames; ENOMEM.
 * The outputs are NULL/0 after an error. */
int
ovsct_pcap_load(const char *path, uint8_t **data, size_t *size,
                uint32_t **offsets, size_t *n, char *err, size_t err_size)
{
    struct ovsct_pcap *r;
    struct ovsct_pcap_frames f = { 0 };

    *data = NULL;
    *size = 0;
    *offsets = NULL;
    *n = 0;
    int error = ovsct_pcap_open(path, &r, err, err_size);
    if (error) {
        return error;
    }
    /* One call reads every frame. */
    error = ovsct_pcap_read(r, &f, SIZE_MAX, false);
    if (!error && !f.offsets) {
        f.offsets = malloc(sizeof *f.offsets);
        if (f.offsets) {
            f.offsets[0] = 0;
        } else {
            error = fail(r, ENOMEM, "out of memory");
        }
    }
    if (!error && !f.data) {
        f.data = malloc(1);     /* Never hand out NULL on success. */
        if (!f.data) {
            error = fail(r, ENOMEM, "out of memory");
        }
    }
    if (error) {
        if (err && err_size) {
            snprintf(err, err_size, "%s", r->err);
        }
        ovsct_pcap_close(r);
        ovsct_pcap_frames_free(&f);
        return error;
    }
    ovsct_pcap_close(r);
    *data = f.data;
    *size = f.size;
    *offsets = f.offsets;
    *n = f.n;
    free(f.ts_ns);
    free(f.meta);
    free(f.hdrs);
    return 0;
}

/* Writes a little-endian microsecond pcap, frame i stamped i microseconds
 * after the epoch, so that equal frames give equal files.  EINVAL if
 * 'offsets' decrease or a frame exceeds 262144 bytes, the snap length
 * written; else the errno of the failed write. */
int
ovsct_pcap_write(const char *path, const uint8_t *data,
                 const uint32_t *offsets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (offsets[i] > offsets[i + 1]
            || offsets[i + 1] - offsets[i] > MAX_FRAME) {
            return EINVAL;
        }
    }

    FILE *f = fopen(path, "wb");
    if (!f) {
        return errno ? errno : EIO;
    }

    /* Little-endian, microseconds, version 2.4, Ethernet. */
    uint8_t hdr[24];
    put_le32(hdr, PCAP_MAGIC_US);
    put_le16(hdr + 4, 2);
    put_le16(hdr + 6, 4);
    put_le32(hdr + 8, 0);               /* GMT offset. */
    put_le32(hdr + 12, 0);              /* Timestamp accuracy. */
    put_le32(hdr + 16, MAX_FRAME);      /* Snap length. */
    put_le32(hdr + 20, LINKTYPE_ETHERNET);
    bool ok = fwrite(hdr, sizeof hdr, 1, f) == 1;

    for (size_t i = 0; ok && i < n; i++) {
        uint32_t len = offsets[i + 1] - offsets[i];
        uint8_t rec[16];

        put_le32(rec, (uint32_t) (i / 1000000));
        put_le32(rec + 4, (uint32_t) (i % 1000000));
        put_le32(rec + 8, len);
        put_le32(rec + 12, len);
        ok = (fwrite(rec, sizeof rec, 1, f) == 1
              && (!len || fwrite(data + offsets[i], len, 1, f) == 1));
    }

    int error = ok ? 0 : (errno ? errno : EIO);
    if (fclose(f) && !error) {
        error = errno ? errno : EIO;
    }
    return error;
}
