/*
 * pcap.h -- capture files in and out (pcap.c), in the batch layout of the
 * engine's struct ovsct_batch (ext/ovsct.h): one buffer of concatenated
 * frames and n + 1 offsets.  Plain C, no engine state: a reader and a
 * writer of files; dpio/replay.h runs what is read through an engine.
 *
 * Link types read (converted in C to the Ethernet frames the engine
 * parses, by putting a synthetic 14-byte Ethernet header in place of the
 * original link-layer header): Ethernet (1), BSD null (0) and loopback
 * (108), raw IP (101, 228 IPv4, 229 IPv6), Linux cooked captures v1 (113)
 * and v2 (276).  The original headers are kept so that the writer puts
 * every frame back in its own link type.
 */
#ifndef OVSCT_DPIO_PCAP_H
#define OVSCT_DPIO_PCAP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest frame accepted (libpcap's MAXIMUM_SNAPLEN). */
#define OVSCT_PCAP_MAX_FRAME 262144

/* Capture time of a frame without one (pcapng Simple Packet Block). */
#define OVSCT_PCAP_NO_TIME INT64_MIN

/* Per frame: what the writer needs to put it back as it was read. */
struct ovsct_pcap_meta {
    uint64_t ts_raw;        /* pcap: seconds << 32 | fraction; pcapng: the
                             * 64-bit time stamp in its interface's units. */
    uint32_t iface;         /* Interface, counted over the whole file. */
    uint32_t orig_len;      /* Length on the wire. */
    uint32_t hdr_off;       /* Original link header in 'hdrs'... */
    uint16_t hdr_len;       /* ...of this many bytes (0: none replaced). */
    uint16_t synth_len;     /* Synthetic header at the frame's start. */
};

/* Frames read by one ovsct_pcap_read() call (buffers reused by the next;
 * zero-initialise, release with ovsct_pcap_frames_free()). */
struct ovsct_pcap_frames {
    uint8_t *data;          /* Ethernet frames, concatenated. */
    size_t size, data_cap;
    uint32_t *offsets;      /* n + 1 entries. */
    int64_t *ts_ns;         /* Capture time, ns since the epoch, or
                             * OVSCT_PCAP_NO_TIME. */
    struct ovsct_pcap_meta *meta;
    size_t n, cap;
    uint8_t *hdrs;          /* Original link headers replaced. */
    size_t hdrs_size, hdrs_cap;
};

struct ovsct_pcap;

/* Opens 'path' ("-": standard input, read as a stream) and reads its file
 * header (pcap) or first block (pcapng).  Returns 0, or an errno with a
 * message in 'err' (*rp is then NULL). */
int ovsct_pcap_open(const char *path, struct ovsct_pcap **rp, char *err,
                    size_t err_size);

/* Reads up to 'max' frames into 'f' (replacing what it held).  With
 * 'stream', returns as soon as one frame has been read and no more data is
 * ready without waiting (a pipe whose writer is slow).  Returns 0 with
 * f->n == 0 at the end of the capture; else an errno, with the message in
 * ovsct_pcap_error(): a damaged or truncated file, a link type that is not
 * read, a frame over OVSCT_PCAP_MAX_FRAME bytes.  Frames read before an
 * error are in 'f'. */
int ovsct_pcap_read(struct ovsct_pcap *, struct ovsct_pcap_frames *f,
                    size_t max, bool stream);
const char *ovsct_pcap_error(const struct ovsct_pcap *);
void ovsct_pcap_close(struct ovsct_pcap *);
void ovsct_pcap_frames_free(struct ovsct_pcap_frames *);

/* Writes frames read from 'src' to 'path' in the same container (pcap with
 * the same link type and time resolution, or pcapng with the same
 * interfaces), with their original time stamps and link-layer headers. */
struct ovsct_pcap_writer;
int ovsct_pcap_writer_open(const char *path, const struct ovsct_pcap *src,
                           struct ovsct_pcap_writer **wp);
int ovsct_pcap_writer_put(struct ovsct_pcap_writer *,
                          const struct ovsct_pcap *src,
                          const struct ovsct_pcap_frames *);
int ovsct_pcap_writer_close(struct ovsct_pcap_writer *);

/* Loads every frame of a capture into one malloc'd buffer with n + 1
 * offsets (caller frees both with free()).  Returns 0, or an errno with a
 * message in 'err'. */
int ovsct_pcap_load(const char *path, uint8_t **data, size_t *size,
                    uint32_t **offsets, size_t *n, char *err,
                    size_t err_size);

/* Writes frames as a classic pcap file (Ethernet link type), frame i
 * stamped i microseconds after the epoch. */
int ovsct_pcap_write(const char *path, const uint8_t *data,
                     const uint32_t *offsets, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* pcap.h */
