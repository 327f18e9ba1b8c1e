/*
 * fuzz_packet.c -- libFuzzer entry point for ct_parse() (ext/packet.c).
 *
 * The input is one Ethernet frame, copied to a heap buffer of exactly its
 * size so that ASan flags any read past the end.  Besides "no crash", the
 * harness checks what ct_parse() promises about a valid result: offsets
 * inside the frame and in order, an L4 length that fits, and a key that
 * ct_key_reverse() maps back to itself.  It also checks that the fast
 * path of ct_parse_csum() changes nothing: with the L4 checksum tested or
 * not, the whole parser and the general parser alone
 * (ct_parse_general()) must agree on validity and, for a valid frame, on
 * every byte of struct ct_pkt.
 *
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -DOVSCT_LIBFUZZER -Iext tests/c/fuzz_packet.c ext/packet.c \
 *       -o /tmp/fuzz_packet
 *   /tmp/fuzz_packet -max_total_time=60 [CORPUS_DIR]
 *
 * A corpus to start from: the frames of the captures in tests/data (any
 * frame works, but valid ones reach the deep paths sooner).
 *
 * Without OVSCT_LIBFUZZER the file has its own main(), so that `make asan`
 * (which builds every tests/c driver as a program) runs it as a smoke test:
 * each file named on the command line is one input; with no arguments it
 * runs a fixed number of deterministic random mutations of a few seed
 * frames.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framegen.h"
#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long n_valid;   /* Valid frames so far. */

/* Aborts unless ct_parse_csum() (fast path first) and ct_parse_general()
 * agree on 'frame'. */
static void
check_fast_path(const uint8_t *frame, uint32_t len)
{
    for (int csum_ok = 0; csum_ok < 2; csum_ok++) {
        struct ct_pkt a, b;
        bool va = ct_parse_csum(frame, len, csum_ok, &a);
        bool vb = ct_parse_general(frame, len, csum_ok, &b);

        if (va != vb || va != a.valid || vb != b.valid
            || (va && memcmp(&a, &b, sizeof a))) {
            fprintf(stderr, "fuzz_packet: fast path differs (%u bytes, "
                    "l4_csum_ok %d)\n", len, csum_ok);
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *frame = malloc(size ? size : 1);
    struct ct_pkt pkt;

    if (!frame) {
        return 0;
    }
    if (size) {
        memcpy(frame, data, size);
    }
    check_fast_path(frame, (uint32_t) size);
    if (ct_parse(frame, (uint32_t) size, &pkt)) {
        struct ct_key rev, back;

        n_valid++;
        if (pkt.l3_ofs >= pkt.l4_ofs
            || (size_t) pkt.l4_ofs + pkt.l4_len > size
            || (pkt.key.l3 != 4 && pkt.key.l3 != 6)) {
            abort();
        }
        if (pkt.icmp_related
            && (pkt.inner_l3_ofs <= pkt.l4_ofs
                || pkt.inner_l4_ofs <= pkt.inner_l3_ofs
                || pkt.inner_l4_ofs > size)) {
            abort();
        }
        ct_key_reverse(&pkt.key, &rev);
        ct_key_reverse(&rev, &back);
        if (memcmp(&back, &pkt.key, sizeof back)) {
            abort();
        }
    }
    free(frame);
    return 0;
}

#ifndef OVSCT_LIBFUZZER
/* Seed frames: IPv4 UDP, an ICMP port unreachable quoting it, IPv6 with a
 * hop-by-hop header and an ICMPv6 echo request, IPv4 TCP SYN with options.
 * Checksums need not be right: mutations break them anyway. */
static const uint8_t seed_udp4[] = {
    2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
    0x45, 0, 0, 36, 0, 1, 0x40, 0, 64, 17, 0x26, 0xb6,
    10, 0, 0, 1, 10, 0, 0, 2,
    0x9c, 0x40, 0, 53, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
};
static const uint8_t seed_icmp4[] = {
    2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0, 100, 0x08, 0x00,
    0x45, 0, 0, 56, 0, 1, 0x40, 0, 64, 1, 0, 0,
    10, 0, 0, 2, 10, 0, 0, 1,
    3, 3, 0, 0, 0, 0, 0, 0,
    0x45, 0, 0, 36, 0, 1, 0x40, 0, 64, 17, 0, 0,
    10, 0, 0, 1, 10, 0, 0, 2,
    0x9c, 0x40, 0, 53, 0, 16, 0, 0,
};
static const uint8_t seed_icmp6[] = {
    2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd,
    0x60, 0, 0, 0, 0, 24, 0, 64,
    0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    0xfc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    58, 0, 1, 4, 0, 0, 0, 0,
    128, 0, 0, 0, 0, 7, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8,
};
static const uint8_t seed_tcp4[] = {
    2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
    0x45, 0, 0, 52, 0, 1, 0x40, 0, 64, 6, 0, 0,
    10, 0, 0, 1, 10, 0, 0, 2,
    0xaf, 0xc8, 0, 80, 0, 0, 3, 0xe8, 0, 0, 0, 0, 0x80, 0x02, 0xfa, 0xf0,
    0, 0, 0, 0, 2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0,
};

static const uint8_t seed_udp4_vlan[] = {
    2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xa8, 0, 7, 0x08, 0x00,
    0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 17, 0, 0,
    10, 0, 0, 1, 10, 0, 0, 2,
    0x9c, 0x40, 0, 53, 0, 20, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    12, 0, 0, 0, 0,
};

/* Makes the IPv4 header checksum of 'f' right and, if 'l4', the TCP or
 * UDP one too, where the frame looks like IPv4 (one tag or none), so that
 * mutated frames also get past the checksums, into the fast path. */
static void
fix_csums(uint8_t *f, size_t n, bool l4)
{
    size_t l3 = 14;

    if (n < 18) {
        return;
    }
    if ((f[12] == 0x81 && f[13] == 0x00) || (f[12] == 0x88 && f[13] == 0xa8)) {
        l3 = 18;
    }
    if (n < l3 + 20 || f[l3 - 2] != 0x08 || f[l3 - 1] != 0x00) {
        return;
    }
    uint8_t *ip = f + l3;
    size_t ihl = (size_t) (ip[0] & 0x0f) * 4;
    size_t tot = (size_t) (ip[2] << 8 | ip[3]);
    if (ihl < 20 || l3 + ihl > n) {
        return;
    }
    ip[10] = ip[11] = 0;
    fg_put16(ip + 10, fg_csum(fg_ref_sum(0, ip, ihl)));

    size_t ofs = ip[9] == 6 ? 16 : ip[9] == 17 ? 6 : 0;
    if (!l4 || !ofs || tot < ihl || l3 + tot > n || tot - ihl < ofs + 2) {
        return;
    }
    uint8_t *th = ip + ihl;
    size_t l4_len = tot - ihl;
    /* Pseudo-header: the addresses, the protocol and the L4 length. */
    uint32_t sum = fg_ref_sum(ip[9] + (uint32_t) l4_len, ip + 12, 8);
    th[ofs] = th[ofs + 1] = 0;
    fg_put16(th + ofs, fg_csum(fg_ref_sum(sum, th, l4_len)));
}

int
main(int argc, char *argv[])
{
    static const struct {
        const uint8_t *data;
        size_t size;
    } seeds[] = {
        { seed_udp4, sizeof seed_udp4 },
        { seed_icmp4, sizeof seed_icmp4 },
        { seed_icmp6, sizeof seed_icmp6 },
        { seed_tcp4, sizeof seed_tcp4 },
        { seed_udp4_vlan, sizeof seed_udp4_vlan },
    };
    uint8_t buf[2048];

    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    if (argc > 1) {
        return 0;
    }

    uint32_t x = 88172645u;
    for (int i = 0; i < 500000; i++) {
        size_t s = (size_t) i % (sizeof seeds / sizeof seeds[0]);
        size_t n = seeds[s].size;
        memcpy(buf, seeds[s].data, n);
        for (int k = 0; k < 1 + i % 4; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[x % n] = (uint8_t) (x >> 24);
        }
        if (x % 7 == 0) {
            n = (x >> 8) % (n + 1);
        }
        if (x % 3) {
            fix_csums(buf, n, x % 3 == 2);
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("fuzz_packet: 500000 mutated frames parsed, %lu valid\n",
           n_valid);
    return 0;
}
#endif /* OVSCT_LIBFUZZER */
