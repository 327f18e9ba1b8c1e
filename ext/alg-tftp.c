/*
 * alg-tftp.c -- the TFTP helper (ct(alg=tftp)), as OVS's lib/conntrack.c
 * handle_tftp_ctl(): every request of a control connection (UDP to port
 * 69) with the helper expects the server's answer, which comes from a new
 * port: a connection from the server to the client's port, any source
 * port.  Neighbours: expect.c (storage), conntrack.c (the caller).
 */
#include "ovsct-private.h"

void
ct_tftp_ctl(struct ovsct *ct, struct ct_conn *c, uint8_t state)
{
    ct_exp_create(ct, c, (state & OVSCT_CS_REPLY_DIR) != 0, c->key.sport);
}
