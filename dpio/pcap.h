/*
 * pcap.h -- capture files in and out (pcap.c), in the batch layout of the
 * engine's struct ovsct_batch (ext/ovsct.h): one buffer of concatenated
 * frames and n + 1 offsets.  Plain C, no engine state: a reader of files,
 * not part of the engine contract.
 */
#ifndef OVSCT_DPIO_PCAP_H
#define OVSCT_DPIO_PCAP_H 1

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Loads every frame of a pcap or pcapng file into one malloc'd buffer
 * with n + 1 offsets (caller frees both with free()).  Returns 0, or an
 * errno with a message in 'err'. */
int ovsct_pcap_load(const char *path, uint8_t **data, size_t *size,
                    uint32_t **offsets, size_t *n, char *err,
                    size_t err_size);

/* Writes frames as a classic pcap file (Ethernet link type). */
int ovsct_pcap_write(const char *path, const uint8_t *data,
                     const uint32_t *offsets, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* pcap.h */
