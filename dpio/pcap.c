/*
 * pcap.c -- capture files in and out: ovsct_pcap_load(), ovsct_pcap_write().
 *
 * Reads classic pcap (either byte order, microsecond or nanosecond magic)
 * and pcapng (any number of sections, each in its own byte order; Interface
 * Description, Enhanced Packet, Simple Packet and the obsolete Packet
 * blocks; every other block is skipped) into the batch layout of struct
 * ovsct_batch (ext/ovsct.h): one buffer of concatenated frames and n + 1
 * offsets.  Only Ethernet (link type 1) is accepted.  Timestamps are
 * ignored: the engine clock is driven by the caller.
 *
 * The file is streamed through stdio and frames are read straight into the
 * output buffer, which grows geometrically, so a capture of a few hundred
 * MB costs about its own size in memory.  Every length in the file is
 * checked before it is used; a damaged or truncated file gives an error
 * with a message naming the byte offset, never a crash.
 *
 * Neighbours: pcap.h (this file's contract), binding/module.c
 * (execute_pcap, pcap_load, pcap_write), tests/c/test_packet.c and
 * tests/gen_pcaps.py (the test captures).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcap.h"

/* Largest frame accepted (libpcap's MAXIMUM_SNAPLEN).  A larger captured
 * length means a corrupt file rather than a real Ethernet frame. */
#define MAX_FRAME 262144

#define LINKTYPE_ETHERNET 1

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

/* A capture being loaded. */
struct reader {
    FILE *f;
    const char *path;
    uint64_t pos;               /* Bytes consumed so far. */
    char *err;                  /* Caller's message buffer, may be NULL. */
    size_t err_size;

    /* pcapng state of the current section. */
    bool swap;                  /* Section is big-endian. */
    struct iface {
        uint16_t linktype;
        uint32_t snaplen;       /* 0: no limit. */
    } *ifaces;
    size_t n_ifaces, ifaces_cap;

    /* Output, in the ovsct_batch layout. */
    uint8_t *data;
    size_t size, cap;           /* Bytes used and allocated in 'data'. */
    uint32_t *offsets;          /* 'n' + 1 entries used. */
    size_t n, offsets_cap;
};

static int load_pcap(struct reader *, const uint8_t magic[4]);
static int load_pcapng(struct reader *, const uint8_t first[4]);

static int
fail(struct reader *r, int error, const char *format, ...)
{
    if (r->err && r->err_size) {
        int len = snprintf(r->err, r->err_size, "%s: ", r->path);
        if (len >= 0 && (size_t) len < r->err_size) {
            va_list args;

            va_start(args, format);
            vsnprintf(r->err + len, r->err_size - (size_t) len, format,
                      args);
            va_end(args);
        }
    }
    return error;
}

/* Text for the errors fopen() and fread() commonly give (strerror() is not
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

/* Reads exactly 'n' bytes into 'buf'.  Returns 0 on success, EOF if the
 * file ended before the first byte, otherwise a positive errno with a
 * message ('what' names the truncated item). */
static int
read_exact(struct reader *r, void *buf, size_t n, const char *what)
{
    size_t got = n ? fread(buf, 1, n, r->f) : 0;

    r->pos += got;
    if (got == n) {
        return 0;
    } else if (ferror(r->f)) {
        int error = errno ? errno : EIO;
        return fail(r, error, "read error at byte %llu: %s",
                    (unsigned long long) r->pos, error_text(error));
    } else if (!got) {
        return EOF;
    }
    return fail(r, EINVAL, "truncated file: %s cut at byte %llu", what,
                (unsigned long long) r->pos);
}

/* Like read_exact(), but the end of the file is an error too. */
static int
read_all(struct reader *r, void *buf, size_t n, const char *what)
{
    int error = read_exact(r, buf, n, what);

    if (error == EOF) {
        return fail(r, EINVAL, "truncated file: %s missing at byte %llu",
                    what, (unsigned long long) r->pos);
    }
    return error;
}

/* Reads and discards 'n' bytes. */
static int
skip(struct reader *r, uint64_t n, const char *what)
{
    uint8_t scratch[4096];

    while (n) {
        size_t chunk = n < sizeof scratch ? (size_t) n : sizeof scratch;
        int error = read_all(r, scratch, chunk, what);
        if (error) {
            return error;
        }
        n -= chunk;
    }
    return 0;
}

/* Appends one frame of 'len' bytes, read from the file, to the output. */
static int
read_frame(struct reader *r, uint32_t len)
{
    if (len > MAX_FRAME) {
        return fail(r, EINVAL, "frame of %lu bytes at byte %llu is too "
                    "large (corrupt file?)", (unsigned long) len,
                    (unsigned long long) r->pos);
    }
    if (r->size + len > UINT32_MAX) {
        return fail(r, EFBIG, "more than 4 GiB of frames");
    }
    if (r->size + len > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < r->size + len) {
            cap *= 2;
        }
        uint8_t *data = realloc(r->data, cap);
        if (!data) {
            return fail(r, ENOMEM, "out of memory");
        }
        r->data = data;
        r->cap = cap;
    }
    if (r->n + 2 > r->offsets_cap) {
        size_t cap = r->offsets_cap * 2;
        uint32_t *offsets = realloc(r->offsets, cap * sizeof *offsets);
        if (!offsets) {
            return fail(r, ENOMEM, "out of memory");
        }
        r->offsets = offsets;
        r->offsets_cap = cap;
    }

    /* A frame of length 0 reads nothing: 'data' may still be NULL, and
     * NULL + 0 is undefined (clang's UBSan flags it). */
    int error = len ? read_all(r, r->data + r->size, len, "frame") : 0;
    if (error) {
        return error;
    }
    r->size += len;
    r->offsets[++r->n] = (uint32_t) r->size;
    return 0;
}

/* Errors: the errno of fopen() or fread(); EINVAL for anything wrong with
 * the contents (unknown magic, truncation, bad block, link type other than
 * Ethernet, a frame over 262144 bytes); EFBIG past 4 GiB of frames;
 * ENOMEM.  The outputs are NULL/0 after an error. */
int
ovsct_pcap_load(const char *path, uint8_t **data, size_t *size,
                uint32_t **offsets, size_t *n, char *err, size_t err_size)
{
    struct reader r = {
        .path = path,
        .err = err,
        .err_size = err_size,
        .offsets_cap = 1024,
    };
    int error;

    *data = NULL;
    *size = 0;
    *offsets = NULL;
    *n = 0;
    if (err && err_size) {
        err[0] = '\0';
    }

    r.f = fopen(path, "rb");
    if (!r.f) {
        error = errno ? errno : EIO;
        return fail(&r, error, "%s", error_text(error));
    }

    r.offsets = malloc(r.offsets_cap * sizeof *r.offsets);
    if (!r.offsets) {
        error = fail(&r, ENOMEM, "out of memory");
        goto out;
    }
    r.offsets[0] = 0;

    uint8_t magic[4];
    error = read_exact(&r, magic, sizeof magic, "file header");
    if (error == EOF) {
        error = fail(&r, EINVAL, "empty file");
    } else if (!error) {
        if (get_le32(magic) == PCAPNG_SHB) {
            error = load_pcapng(&r, magic);
        } else {
            error = load_pcap(&r, magic);
        }
    }

out:
    fclose(r.f);
    free(r.ifaces);
    if (error) {
        free(r.data);
        free(r.offsets);
        return error;
    }
    if (!r.data) {
        r.data = malloc(1);     /* Never hand out NULL on success. */
        if (!r.data) {
            free(r.offsets);
            return fail(&r, ENOMEM, "out of memory");
        }
    }
    *data = r.data;
    *size = r.size;
    *offsets = r.offsets;
    *n = r.n;
    return 0;
}

/* Classic pcap: a 24-byte header whose first 4 bytes ('magic') are already
 * read, then records of a 16-byte header and the captured bytes. */
static int
load_pcap(struct reader *r, const uint8_t magic[4])
{
    uint32_t le = get_le32(magic);
    uint32_t be = get_be32(magic);
    bool swap;

    if (le == PCAP_MAGIC_US || le == PCAP_MAGIC_NS) {
        swap = false;
    } else if (be == PCAP_MAGIC_US || be == PCAP_MAGIC_NS) {
        swap = true;
    } else {
        return fail(r, EINVAL, "not a pcap or pcapng file (magic "
                    "%02x%02x%02x%02x)", magic[0], magic[1], magic[2],
                    magic[3]);
    }

    uint8_t hdr[20];
    int error = read_all(r, hdr, sizeof hdr, "file header");
    if (error) {
        return error;
    }
    if (get16(swap, hdr) != 2) {
        return fail(r, EINVAL, "unsupported pcap version %u.%u",
                    get16(swap, hdr), get16(swap, hdr + 2));
    }
    /* The link-type field keeps FCS information in its top bits. */
    uint32_t linktype = get32(swap, hdr + 16) & 0xffff;
    if (linktype != LINKTYPE_ETHERNET) {
        return fail(r, EINVAL, "unsupported link type %lu (only Ethernet, "
                    "1, is supported)", (unsigned long) linktype);
    }

    for (;;) {
        uint8_t rec[16];

        error = read_exact(r, rec, sizeof rec, "record header");
        if (error) {
            return error == EOF ? 0 : error;
        }
        error = read_frame(r, get32(swap, rec + 8));
        if (error) {
            return error;
        }
    }
}

/* Returns the link type check for pcapng interface 'id'. */
static int
check_iface(struct reader *r, uint32_t id)
{
    if (id >= r->n_ifaces) {
        return fail(r, EINVAL, "packet at byte %llu refers to undefined "
                    "interface %lu", (unsigned long long) r->pos,
                    (unsigned long) id);
    }
    if (r->ifaces[id].linktype != LINKTYPE_ETHERNET) {
        return fail(r, EINVAL, "interface %lu has unsupported link type %u "
                    "(only Ethernet, 1, is supported)", (unsigned long) id,
                    r->ifaces[id].linktype);
    }
    return 0;
}

/* Handles the body of one pcapng block of type 'type' ('body' bytes,
 * without the 8-byte header and the 4-byte trailer), leaving the file at
 * the trailer. */
static int
pcapng_block(struct reader *r, uint32_t type, uint32_t body)
{
    uint8_t buf[20];
    uint32_t used = 0;
    int error = 0;

    switch (type) {
    case PCAPNG_IDB:
        if (body < 8) {
            return fail(r, EINVAL, "short interface block at byte %llu",
                        (unsigned long long) r->pos);
        }
        error = read_all(r, buf, 8, "interface block");
        if (error) {
            return error;
        }
        used = 8;
        if (r->n_ifaces == r->ifaces_cap) {
            if (r->ifaces_cap >= PCAPNG_MAX_IFACES) {
                return fail(r, EINVAL, "too many interfaces");
            }
            size_t cap = r->ifaces_cap ? 2 * r->ifaces_cap : 4;
            struct iface *ifaces = realloc(r->ifaces, cap * sizeof *ifaces);
            if (!ifaces) {
                return fail(r, ENOMEM, "out of memory");
            }
            r->ifaces = ifaces;
            r->ifaces_cap = cap;
        }
        r->ifaces[r->n_ifaces++] = (struct iface) {
            .linktype = get16(r->swap, buf),
            .snaplen = get32(r->swap, buf + 4),
        };
        break;

    case PCAPNG_EPB:
    case PCAPNG_PB: {
        if (body < 20) {
            return fail(r, EINVAL, "short packet block at byte %llu",
                        (unsigned long long) r->pos);
        }
        error = read_all(r, buf, 20, "packet block");
        if (error) {
            return error;
        }
        uint32_t id = (type == PCAPNG_EPB ? get32(r->swap, buf)
                       : get16(r->swap, buf));
        uint32_t caplen = get32(r->swap, buf + 12);
        if (caplen > body - 20) {
            return fail(r, EINVAL, "packet block at byte %llu: captured "
                        "length %lu exceeds the block",
                        (unsigned long long) r->pos,
                        (unsigned long) caplen);
        }
        error = check_iface(r, id);
        if (!error) {
            error = read_frame(r, caplen);
        }
        used = 20 + caplen;
        break;
    }

    case PCAPNG_SPB: {
        /* The captured length is implicit: the original length, cut to
         * the interface's snap length and to the block. */
        if (body < 4) {
            return fail(r, EINVAL, "short simple packet block at byte %llu",
                        (unsigned long long) r->pos);
        }
        error = read_all(r, buf, 4, "simple packet block");
        if (error) {
            return error;
        }
        error = check_iface(r, 0);
        if (error) {
            return error;
        }
        uint32_t caplen = get32(r->swap, buf);
        if (caplen > body - 4) {
            caplen = body - 4;
        }
        if (r->ifaces[0].snaplen && caplen > r->ifaces[0].snaplen) {
            caplen = r->ifaces[0].snaplen;
        }
        error = read_frame(r, caplen);
        used = 4 + caplen;
        break;
    }

    default:
        break;
    }

    return error ? error : skip(r, body - used, "block");
}

/* pcapng: blocks of a 4-byte type, a 4-byte total length, the body and the
 * total length again.  'first' is the type of the first block (a Section
 * Header Block), already read. */
static int
load_pcapng(struct reader *r, const uint8_t first[4])
{
    uint8_t hdr[8];
    bool have_first = true;

    for (;;) {
        uint64_t start = r->pos;
        int error;

        if (have_first) {
            memcpy(hdr, first, 4);
            start -= 4;
            error = read_all(r, hdr + 4, 4, "block header");
            have_first = false;
        } else {
            error = read_exact(r, hdr, sizeof hdr, "block header");
            if (error == EOF) {
                return 0;
            }
        }
        if (error) {
            return error;
        }

        /* A Section Header Block sets the byte order of its section with
         * its first body field; its type reads the same either way. */
        uint32_t type = get32(r->swap, hdr);
        uint32_t consumed = 8;
        if (get_le32(hdr) == PCAPNG_SHB) {
            uint8_t shb[8];

            error = read_all(r, shb, sizeof shb, "section header");
            if (error) {
                return error;
            }
            if (get_le32(shb) == PCAPNG_BYTE_ORDER) {
                r->swap = false;
            } else if (get_be32(shb) == PCAPNG_BYTE_ORDER) {
                r->swap = true;
            } else {
                return fail(r, EINVAL, "bad section byte-order magic at "
                            "byte %llu", (unsigned long long) start);
            }
            if (get16(r->swap, shb + 4) != 1) {
                return fail(r, EINVAL, "unsupported pcapng version %u",
                            get16(r->swap, shb + 4));
            }
            type = PCAPNG_SHB;
            consumed = 16;
            r->n_ifaces = 0;    /* Interface ids restart per section. */
        }

        uint32_t len = get32(r->swap, hdr + 4);
        if (len % 4 || len < consumed + 4) {
            return fail(r, EINVAL, "bad block length %lu at byte %llu",
                        (unsigned long) len, (unsigned long long) start);
        }
        if (type == PCAPNG_SHB) {
            error = skip(r, len - consumed - 4, "section header");
        } else {
            error = pcapng_block(r, type, len - consumed - 4);
        }
        if (error) {
            return error;
        }

        uint8_t trailer[4];
        error = read_all(r, trailer, sizeof trailer, "block trailer");
        if (error) {
            return error;
        }
        if (get32(r->swap, trailer) != len) {
            return fail(r, EINVAL, "block at byte %llu: trailing length "
                        "%lu does not match %lu", (unsigned long long) start,
                        (unsigned long) get32(r->swap, trailer),
                        (unsigned long) len);
        }
    }
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
