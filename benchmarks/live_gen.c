/*
 * live_gen.c -- bounded frame generator for benchmarks/live_bench.py.
 *
 *   live_gen IFACE COUNT FLOWS [PPS]
 *
 * Sends COUNT Ethernet/IPv4/UDP frames (64 bytes, valid checksums) over
 * FLOWS distinct source ports out of IFACE, with an AF_PACKET socket in
 * PACKET_QDISC_BYPASS mode and sendmmsg() batches of 64, at most PPS frames
 * per second (0: as fast as it can).  Prints "sent N seconds S" on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "framegen.h"

#define BATCH 64
#define FRAME 60

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s IFACE COUNT FLOWS [PPS]\n", argv[0]);
        return 2;
    }
    unsigned long count = strtoul(argv[2], NULL, 10);
    unsigned flows = (unsigned) strtoul(argv[3], NULL, 10);
    double pps = argc > 4 ? strtod(argv[4], NULL) : 0;
    if (!flows) {
        flows = 1;
    }
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    int one = 1;
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET, .sll_ifindex = (int) if_nametoindex(argv[1]),
    };
    if (fd < 0 || !sll.sll_ifindex
        || setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one)
        || bind(fd, (struct sockaddr *) &sll, sizeof sll)) {
        perror(argv[1]);
        return 1;
    }
    uint8_t *frames = calloc(flows, FRAME);
    for (unsigned f = 0; f < flows; f++) {
        uint8_t *p = frames + (size_t) f * FRAME;
        memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00",
               14);
        uint8_t *ip = p + 14, *udp = ip + 20;
        ip[0] = 0x45;
        ip[3] = 46;                     /* 20 + 8 + 18 */
        ip[8] = 64;
        ip[9] = 17;
        memcpy(ip + 12, "\x0a\x52\x00\x01\x0a\x52\x00\x02", 8);
        fg_put16(ip + 10, fg_csum(fg_ref_sum(0, ip, 20)));
        uint16_t sport = (uint16_t) (10000 + f % 50000);
        udp[0] = (uint8_t) (sport >> 8);
        udp[1] = (uint8_t) sport;
        udp[2] = 0x13;
        udp[3] = 0x89;                  /* 5001 */
        udp[5] = 26;
        uint32_t pseudo = 0x0a52 + 0x0001 + 0x0a52 + 0x0002 + 17 + 26;
        fg_put16(udp + 6, fg_csum(fg_ref_sum(pseudo, udp, 26)));
    }
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    unsigned long sent = 0, next = 0;
    double t0 = now();
    while (sent < count) {
        unsigned n = count - sent < BATCH ? (unsigned) (count - sent) : BATCH;
        for (unsigned i = 0; i < n; i++, next++) {
            iov[i].iov_base = frames + (size_t) (next % flows) * FRAME;
            iov[i].iov_len = FRAME;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, msgs, n, 0);
        if (r < 0) {
            next -= n;
            usleep(50);
            continue;
        }
        next -= n - (unsigned) r;
        sent += (unsigned long) r;
        if (pps > 0) {
            double due = t0 + sent / pps;
            while (now() < due) {
            }
        }
    }
    printf("sent %lu seconds %.6f\n", sent, now() - t0);
    return 0;
}
