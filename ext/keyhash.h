/*
 * keyhash.h -- the connection key hash.
 *
 * Inline, so that the packet path (conntrack.c's execute_chunk(), which
 * hashes every frame of a chunk before prefetching its bucket) does not
 * call a function per frame for it.  The values are part of the table's
 * layout (bucket and slot choice, dump order): they must not change
 * without a reason.  The table's users call ct_key_hash()
 * (ovsct-private.h), which passes the table's seed.  Neighbours: packet.h
 * (struct ct_key), table.c (the buckets and maps the hash picks).
 */
#ifndef OVSCT_KEYHASH_H
#define OVSCT_KEYHASH_H 1

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "packet.h"

static inline uint64_t
ct_hash_mix64__(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

/* Hash of one endpoint: address and port (or ICMP id). */
static inline uint64_t
ct_hash_endpoint__(const uint32_t addr[4], uint16_t port, uint64_t seed)
{
    uint64_t w0, w1, h;

    memcpy(&w0, addr, 8);
    memcpy(&w1, addr + 2, 8);
    h = (w0 ^ seed) * 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 29) ^ w1) * 0xc2b2ae3d27d4eb4fULL;
    h = (h ^ (h >> 32) ^ port) * 0x165667b19e3779f9ULL;
    return h ^ (h >> 31);
}

/* Symmetric key hash: a key and its plain reverse hash alike, so that a
 * connection's two nodes share one bucket and creating one takes a single
 * bucket lock.  Only NAT connections, whose reverse key is not the plain
 * reverse, have nodes in two buckets.  The two endpoint hashes are
 * combined with both XOR and addition so that equal endpoints do not
 * cancel out.  For ICMP the type/code (which differs between the
 * directions) is left out and the echo id stands for both ports.  Every
 * input bit reaches both the high bits (bucket choice) and the low bits
 * (slot choice). */
static inline uint32_t
ct_key_hash_seeded(uint64_t seed, const struct ct_key *key)
{
    bool icmp = key->nw_proto == 1 || key->nw_proto == 58;
    uint64_t a = ct_hash_endpoint__(key->src, key->sport, seed);
    uint64_t b = ct_hash_endpoint__(key->dst, icmp ? key->sport : key->dport,
                                    seed);
    uint64_t rest = (uint64_t) key->zone << 16 | (uint64_t) key->nw_proto << 8
                    | key->l3;
    uint64_t h = (a ^ b) + ((a + b) << 23 | (a + b) >> 41);

    return (uint32_t) ct_hash_mix64__(h ^ (rest * 0xd6e8feb86659fd93ULL));
}

#endif /* keyhash.h */
