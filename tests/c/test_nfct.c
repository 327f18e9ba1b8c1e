/*
 * test_nfct.c -- dpio/nfct.c on hand-built ctnetlink messages: a TCP entry
 * with zone, mark, labels, counters and status, an ICMP entry, NLMSG_DONE,
 * an NLMSG_ERROR, and truncated input (which must not crash).
 *
 * Built by the Makefile's explicit rule (it needs dpio/nfct.c, not the
 * engine objects) and run under ASan/UBSan with the other drivers.
 */
#include "nfct.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(COND) do { if (!(COND)) { \
    fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #COND); \
    failures++; } } while (0)

struct msg {
    uint8_t buf[1024];
    size_t len;
    size_t nest[8];
    int depth;
};

static void
put(struct msg *m, const void *data, size_t n)
{
    memcpy(m->buf + m->len, data, n);
    m->len += n;
    while (m->len % 4) {
        m->buf[m->len++] = 0;
    }
}

static void
attr(struct msg *m, uint16_t type, const void *data, uint16_t n)
{
    uint16_t hdr[2] = { (uint16_t) (4 + n), type };
    memcpy(m->buf + m->len, hdr, 4);
    m->len += 4;
    put(m, data, n);
}

static void
begin(struct msg *m, uint16_t type)
{
    m->nest[m->depth++] = m->len;
    uint16_t hdr[2] = { 0, (uint16_t) (type | 0x8000) };
    memcpy(m->buf + m->len, hdr, 4);
    m->len += 4;
}

static void
end(struct msg *m)
{
    size_t at = m->nest[--m->depth];
    uint16_t len = (uint16_t) (m->len - at);
    memcpy(m->buf + at, &len, 2);
}

static void
be16(struct msg *m, uint16_t type, uint16_t v)
{
    uint8_t b[2] = { (uint8_t) (v >> 8), (uint8_t) v };
    attr(m, type, b, 2);
}

static void
be32(struct msg *m, uint16_t type, uint32_t v)
{
    uint8_t b[4] = { (uint8_t) (v >> 24), (uint8_t) (v >> 16),
                     (uint8_t) (v >> 8), (uint8_t) v };
    attr(m, type, b, 4);
}

static void
be64(struct msg *m, uint16_t type, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t) (v >> (56 - 8 * i));
    }
    attr(m, type, b, 8);
}

static void
u8(struct msg *m, uint16_t type, uint8_t v)
{
    attr(m, type, &v, 1);
}

static void
tuple(struct msg *m, uint16_t type, const uint8_t *src, const uint8_t *dst,
      uint8_t proto, uint16_t sport, uint16_t dport)
{
    begin(m, type);
    begin(m, 1);                /* CTA_TUPLE_IP */
    attr(m, 1, src, 4);
    attr(m, 2, dst, 4);
    end(m);
    begin(m, 2);                /* CTA_TUPLE_PROTO */
    u8(m, 1, proto);
    if (proto == 1) {
        be16(m, 4, sport);      /* ICMP id */
        u8(m, 5, (uint8_t) dport);
        u8(m, 6, 0);
    } else {
        be16(m, 2, sport);
        be16(m, 3, dport);
    }
    end(m);
    end(m);
}

/* Starts a message: nlmsghdr + nfgenmsg. */
static size_t
header(struct msg *m, uint16_t type, uint16_t flags)
{
    size_t at = m->len;
    uint32_t len = 0, seq = 1, pid = 0;
    memcpy(m->buf + m->len, &len, 4);
    memcpy(m->buf + m->len + 4, &type, 2);
    memcpy(m->buf + m->len + 6, &flags, 2);
    memcpy(m->buf + m->len + 8, &seq, 4);
    memcpy(m->buf + m->len + 12, &pid, 4);
    m->len += 16;
    uint8_t nfg[4] = { 2, 0, 0, 0 };   /* AF_INET, v0 */
    put(m, nfg, 4);
    return at;
}

static void
finish(struct msg *m, size_t at)
{
    uint32_t len = (uint32_t) (m->len - at);
    memcpy(m->buf + at, &len, 4);
}

int
main(void)
{
    static const uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };
    struct msg m = { .len = 0 };
    struct ovsct_nfct_entry e;
    char line[OVSCT_NFCT_LINE_MAX + 1];
    int err;

    /* A TCP entry: NEW event (NLM_F_CREATE). */
    size_t at = header(&m, 1 << 8 | 0, 0x400);
    tuple(&m, 1, a, b, 6, 1000, 80);
    tuple(&m, 2, b, a, 6, 80, 1000);
    be32(&m, 3, 0xe | 1u << 13);    /* SEEN_REPLY|ASSURED|CONFIRMED|HELPER */
    be32(&m, 7, 42);
    be32(&m, 8, 7);
    be32(&m, 12, 1234);
    be16(&m, 18, 5);
    uint64_t labels[2] = { 0xabcd, 1 };
    attr(&m, 22, labels, 16);
    begin(&m, 9);
    be64(&m, 1, 3);
    be64(&m, 2, 180);
    end(&m);
    begin(&m, 4);
    begin(&m, 1);
    u8(&m, 1, 3);                   /* ESTABLISHED */
    u8(&m, 2, 7);
    u8(&m, 3, 0);
    uint8_t flags[2] = { 0x01, 0xff };
    attr(&m, 4, flags, 2);
    attr(&m, 5, (uint8_t[2]) { 0, 0 }, 2);
    end(&m);
    end(&m);
    finish(&m, at);

    /* An ICMP entry from a dump (no NLM_F_CREATE), then DONE. */
    at = header(&m, 1 << 8 | 0, 0x2);
    tuple(&m, 1, a, b, 1, 33, 8);
    tuple(&m, 2, b, a, 1, 33, 0);
    finish(&m, at);
    at = m.len;
    uint32_t hdr[4] = { 20, 3, 1, 0 };
    memcpy(m.buf + m.len, hdr, 16);
    m.len += 16;
    put(&m, (uint8_t[4]) { 0 }, 4);
    (void) at;

    const uint8_t *p = m.buf;
    size_t left = m.len;
    CHECK(ovsct_nfct_next(&p, &left, &e, &err) == OVSCT_NFCT_ENTRY);
    CHECK(e.event == OVSCT_NFCT_EV_NEW);
    line[ovsct_nfct_format(&e, false, false, line)] = '\0';
    CHECK(!strcmp(line, "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1000,"
                  "dport=80),reply=(src=10.0.0.2,dst=10.0.0.1,sport=80,"
                  "dport=1000),zone=5,mark=7,labels=0x1000000000000abcd,"
                  "protoinfo=(state=ESTABLISHED)"));
    line[ovsct_nfct_format(&e, true, true, line)] = '\0';
    CHECK(!strcmp(line, "tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1000,"
                  "dport=80,packets=3,bytes=180),reply=(src=10.0.0.2,"
                  "dst=10.0.0.1,sport=80,dport=1000),id=1234,zone=5,"
                  "status=SEEN_REPLY|ASSURED|CONFIRMED,timeout=42,mark=7,"
                  "labels=0x1000000000000abcd,protoinfo=(state_orig="
                  "ESTABLISHED,state_reply=ESTABLISHED,wscale_orig=7,"
                  "wscale_reply=0,flags_orig=WINDOW_SCALE,flags_reply=0)"));
    if (failures) {
        fprintf(stderr, "got: %s\n", line);
    }

    CHECK(ovsct_nfct_next(&p, &left, &e, &err) == OVSCT_NFCT_ENTRY);
    CHECK(e.event == OVSCT_NFCT_EV_UPDATE);
    line[ovsct_nfct_format(&e, false, false, line)] = '\0';
    CHECK(!strcmp(line, "icmp,orig=(src=10.0.0.1,dst=10.0.0.2,id=33,type=8,"
                  "code=0),reply=(src=10.0.0.2,dst=10.0.0.1,id=33,type=0,"
                  "code=0)"));
    CHECK(ovsct_nfct_next(&p, &left, &e, &err) == OVSCT_NFCT_DONE);
    CHECK(ovsct_nfct_next(&p, &left, &e, &err) == OVSCT_NFCT_END);

    /* Every truncation of the buffer: no crash, no read past the end. */
    for (size_t n = 0; n < m.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, m.buf, n);
        p = copy;
        left = n;
        for (int i = 0; i < 8; i++) {
            int r = ovsct_nfct_next(&p, &left, &e, &err);
            if (r == OVSCT_NFCT_ENTRY) {
                ovsct_nfct_format(&e, true, true, line);
            } else if (r != OVSCT_NFCT_DONE) {
                break;
            }
        }
        free(copy);
    }

    /* An error message. */
    struct msg em = { .len = 0 };
    uint32_t eh[4] = { 36, 2, 0, 1 };
    memcpy(em.buf, eh, 16);
    int32_t code = -2;
    memcpy(em.buf + 16, &code, 4);
    memset(em.buf + 20, 0, 16);
    em.len = 36;
    p = em.buf;
    left = em.len;
    CHECK(ovsct_nfct_next(&p, &left, &e, &err) == OVSCT_NFCT_ERROR);
    CHECK(err == 2);

    if (failures) {
        fprintf(stderr, "test_nfct: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_nfct: ok\n");
    return 0;
}
