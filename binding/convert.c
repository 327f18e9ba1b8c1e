/*
 * convert.c -- argument conversion of the ovsct._engine binding: Python
 * values in (zones, addresses, actions, tuples, filters, frame batches and
 * their offsets) and engine errors out (the one errno -> exception
 * helper, set_error()), and u128_to_int() (a label as an int).
 *
 * Every converter checks ranges itself ('H' and 'I' formats would wrap
 * silently) and raises a clear exception on bad input.  Neighbours:
 * binding.h (declarations), module.c and dumpobj.c (the callers),
 * ovsct/engine.py (builds the tuples parsed here).
 */
#include "binding.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Values out. */

/* The 128-bit value hi:lo (a connection label) as a Python int. */
PyObject *
u128_to_int(uint64_t hi, uint64_t lo)
{
    if (!hi) {
        return PyLong_FromUnsignedLongLong(lo);
    }
    PyObject *h = PyLong_FromUnsignedLongLong(hi);
    PyObject *l = PyLong_FromUnsignedLongLong(lo);
    PyObject *sh = PyLong_FromLong(64);
    PyObject *hs = h && sh ? PyNumber_Lshift(h, sh) : NULL;
    PyObject *r = hs && l ? PyNumber_Or(hs, l) : NULL;

    Py_XDECREF(h);
    Py_XDECREF(l);
    Py_XDECREF(sh);
    Py_XDECREF(hs);
    return r;
}

/* Errors. */

/* The one errno -> exception helper.  'err' is a positive errno value from
 * the engine; 'msg' an optional message (else strerror()); 'filename' an
 * optional path, given for file operations: then ENOENT and any errno
 * without a dedicated class raise the matching OSError subclass
 * (FileNotFoundError, PermissionError, ...).  Always returns NULL. */
PyObject *
set_error(module_state *st, int err, const char *msg, PyObject *filename)
{
    const char *text = msg && msg[0] ? msg : strerror(err);

    switch (err) {
    case ENOMEM:
        if (!msg || !msg[0]) {
            return PyErr_NoMemory();
        }
        PyErr_SetString(PyExc_MemoryError, text);
        return NULL;
    case EINVAL:
        PyErr_SetString(PyExc_ValueError, text);
        return NULL;
    case ENOSPC:
        if (!filename) {
            PyErr_SetString(st->table_full, text);
            return NULL;
        }
        break;
    case ENOENT:
        if (!filename) {
            PyErr_SetString(st->not_found, text);
            return NULL;
        }
        break;
    default:
        break;
    }

    /* OSError(errno, strerror[, filename]) picks the errno's subclass and
     * prints like Python's own file errors. */
    if (filename) {
        text = strerror(err);
    }
    PyObject *exc = filename
        ? PyObject_CallFunction(PyExc_OSError, "isO", err, text, filename)
        : PyObject_CallFunction(PyExc_OSError, "is", err, text);
    if (exc) {
        PyErr_SetObject((PyObject *) Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}


/* Argument conversion. */

/* O& converters with range checks ('H' and 'I' would wrap silently). */
int
conv_uint(PyObject *obj, unsigned long max, unsigned long *out)
{
    unsigned long v = PyLong_AsUnsignedLong(obj);
    if (v == (unsigned long) -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "value out of range 0..%lu", max);
        }
        return 0;
    }
    if (v > max) {
        PyErr_Format(PyExc_ValueError, "value %lu out of range 0..%lu", v,
                     max);
        return 0;
    }
    *out = v;
    return 1;
}

int
conv_u8(PyObject *obj, void *out)
{
    unsigned long v;
    if (!conv_uint(obj, UINT8_MAX, &v)) {
        return 0;
    }
    *(uint8_t *) out = (uint8_t) v;
    return 1;
}

int
conv_u16(PyObject *obj, void *out)
{
    unsigned long v;
    if (!conv_uint(obj, UINT16_MAX, &v)) {
        return 0;
    }
    *(uint16_t *) out = (uint16_t) v;
    return 1;
}

int
conv_u32(PyObject *obj, void *out)
{
    unsigned long v;
    if (!conv_uint(obj, UINT32_MAX, &v)) {
        return 0;
    }
    *(uint32_t *) out = (uint32_t) v;
    return 1;
}

int
conv_u64(PyObject *obj, void *out)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(obj);
    if (v == (unsigned long long) -1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "value out of range 0..%llu",
                         (unsigned long long) UINT64_MAX);
        }
        return 0;
    }
    *(uint64_t *) out = (uint64_t) v;
    return 1;
}

/* Parses an optional zone: None -> '*has' false, else 0..65535. */
int
parse_opt_zone(PyObject *obj, uint16_t *zone, bool *has)
{
    if (!obj || obj == Py_None) {
        *has = false;
        *zone = 0;
        return 0;
    }
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v < 0 || v > 65535) {
        PyErr_Format(PyExc_ValueError, "zone %ld out of range 0..65535", v);
        return -1;
    }
    *zone = (uint16_t) v;
    *has = true;
    return 0;
}

/* Parses a zone 0..65535 (-1 allowed if 'allow_default'). */
int
parse_zone(PyObject *obj, bool allow_default, int32_t *zone)
{
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v < (allow_default ? -1 : 0) || v > 65535) {
        PyErr_Format(PyExc_ValueError, "zone %ld out of range", v);
        return -1;
    }
    *zone = (int32_t) v;
    return 0;
}

/* Copies a bytes-like object of exactly 16 bytes (or None: zeros). */
int
parse_addr(PyObject *obj, uint8_t addr[16], bool *has)
{
    if (obj == Py_None) {
        memset(addr, 0, 16);
        if (has) {
            *has = false;
        }
        return 0;
    }
    Py_buffer b;
    if (PyObject_GetBuffer(obj, &b, PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    int ret = 0;
    if (b.len != 16) {
        PyErr_SetString(PyExc_ValueError, "address must be 16 bytes");
        ret = -1;
    } else {
        memcpy(addr, b.buf, 16);
        if (has) {
            *has = true;
        }
    }
    PyBuffer_Release(&b);
    return ret;
}

/* Action tuple, built by engine.py:
 *   (zone, commit, force, set_mark, mark, mark_mask,
 *    set_labels, labels_lo, labels_hi, labels_mask_lo, labels_mask_hi, nat
 *    [, alg])
 * alg: OVSCT_ALG_* (0 none, 1 ftp, 2 tftp);
 * nat: None or (kind, l3, flags, port_min, port_max, addr_min, addr_max)
 * with 16-byte network-order addresses. */
int
parse_action(PyObject *obj, struct ovsct_action *a)
{
    PyObject *nat;
    int commit, force, set_mark, set_labels;
    unsigned long long l_lo, l_hi, m_lo, m_hi;

    memset(a, 0, sizeof *a);
    if (!PyTuple_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "action must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(obj, "O&pppO&O&pKKKKO|O&;bad action tuple",
                          conv_u16, &a->zone, &commit, &force, &set_mark,
                          conv_u32, &a->mark, conv_u32, &a->mark_mask,
                          &set_labels, &l_lo, &l_hi, &m_lo, &m_hi, &nat,
                          conv_u8, &a->alg)) {
        return -1;
    }
    if (a->alg > OVSCT_ALG_TFTP) {
        PyErr_SetString(PyExc_ValueError, "bad alg in action tuple");
        return -1;
    }
    a->commit = commit;
    a->force = force;
    a->set_mark = set_mark;
    a->set_labels = set_labels;
    a->labels.lo = l_lo;
    a->labels.hi = l_hi;
    a->labels_mask.lo = m_lo;
    a->labels_mask.hi = m_hi;
    if (nat != Py_None) {
        PyObject *amin, *amax;
        if (!PyTuple_Check(nat)) {
            PyErr_SetString(PyExc_TypeError, "nat must be a tuple or None");
            return -1;
        }
        if (!PyArg_ParseTuple(nat, "O&O&O&O&O&OO;bad nat tuple",
                              conv_u8, &a->nat.kind, conv_u8, &a->nat.l3,
                              conv_u8, &a->nat.flags,
                              conv_u16, &a->nat.port_min,
                              conv_u16, &a->nat.port_max, &amin, &amax)
            || parse_addr(amin, a->nat.addr_min, NULL)
            || parse_addr(amax, a->nat.addr_max, NULL)) {
            return -1;
        }
    }
    return 0;
}

/* Tuple: (l3, proto, src16, dst16, sport, dport, icmp_type, icmp_code). */
int
parse_tuple(PyObject *obj, struct ovsct_tuple *t)
{
    PyObject *src, *dst;

    memset(t, 0, sizeof *t);
    if (!PyTuple_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "tuple must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(obj, "O&O&OOO&O&O&O&;bad tuple", conv_u8, &t->l3,
                          conv_u8, &t->proto, &src, &dst, conv_u16, &t->sport,
                          conv_u16, &t->dport, conv_u8, &t->icmp_type,
                          conv_u8, &t->icmp_code)
        || parse_addr(src, t->src, NULL) || parse_addr(dst, t->dst, NULL)) {
        return -1;
    }
    if (t->l3 != 4 && t->l3 != 6) {
        PyErr_SetString(PyExc_ValueError, "l3 must be 4 or 6");
        return -1;
    }
    return 0;
}

/* Tuple match: (src16|None, dst16|None, l3, proto|None, sport, dport,
 *               icmp_id, icmp_type, icmp_code, src_plen, dst_plen). */
int
parse_tuple_match(PyObject *obj, struct ovsct_tuple_match *m)
{
    PyObject *src, *dst, *proto;

    memset(m, 0, sizeof *m);
    if (!PyTuple_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "tuple match must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(obj, "OOO&OO&O&O&O&O&O&O&;bad tuple match", &src,
                          &dst, conv_u8, &m->l3, &proto, conv_u16, &m->sport,
                          conv_u16, &m->dport, conv_u16, &m->icmp_id,
                          conv_u8, &m->icmp_type, conv_u8, &m->icmp_code,
                          conv_u8, &m->src_plen, conv_u8, &m->dst_plen)
        || parse_addr(src, m->src, &m->has_src)
        || parse_addr(dst, m->dst, &m->has_dst)) {
        return -1;
    }
    if (m->l3 != 0 && m->l3 != 4 && m->l3 != 6) {
        PyErr_SetString(PyExc_ValueError, "l3 must be 0, 4 or 6");
        return -1;
    }
    if ((m->has_src || m->has_dst) && !m->l3) {
        PyErr_SetString(PyExc_ValueError, "an address needs l3 4 or 6");
        return -1;
    }
    if (m->src_plen > (m->l3 == 6 ? 128 : 32)
        || m->dst_plen > (m->l3 == 6 ? 128 : 32)) {
        PyErr_SetString(PyExc_ValueError, "prefix length out of range");
        return -1;
    }
    if (proto != Py_None) {
        long p = PyLong_AsLong(proto);
        if (p == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (p < 0 || p > 255) {
            PyErr_SetString(PyExc_ValueError, "proto out of range");
            return -1;
        }
        m->has_proto = true;
        m->proto = (uint8_t) p;
    }
    return 0;
}

/* The filter argument of the dumps, stats() and flush_filter(), the one
 * conversion of ovsct.types.FlushFilter (ovsct/engine.py _filter_to_c()
 * makes the tuple):
 *
 *   None                   no filter ('*has' false)
 *   int                    that zone only
 *   (zone|None, mark, mark_mask, labels_lo, labels_hi, labels_mask_lo,
 *    labels_mask_hi, orig|None, reply|None, tcp_states)
 *
 * 'tcp_states' is the bit set of struct ovsct_filter. */
int
parse_filter(PyObject *obj, struct ovsct_filter *f, bool *has)
{
    PyObject *zone, *orig, *reply;
    unsigned long long l_lo, l_hi, m_lo, m_hi;
    unsigned long states;

    memset(f, 0, sizeof *f);
    *has = obj && obj != Py_None;
    if (!*has) {
        return 0;
    }
    if (PyLong_Check(obj)) {
        return parse_opt_zone(obj, &f->zone, &f->has_zone);
    }
    if (!PyTuple_Check(obj)) {
        PyErr_SetString(PyExc_TypeError,
                        "filter must be None, a zone or a filter tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(obj, "OO&O&KKKKOOk;bad filter tuple", &zone,
                          conv_u32, &f->mark, conv_u32, &f->mark_mask, &l_lo,
                          &l_hi, &m_lo, &m_hi, &orig, &reply, &states)
        || parse_opt_zone(zone, &f->zone, &f->has_zone)) {
        return -1;
    }
    if (states >> OVSCT_TCPS_N) {
        PyErr_SetString(PyExc_ValueError, "bad TCP state set");
        return -1;
    }
    f->tcp_states = (uint16_t) states;
    f->labels.lo = l_lo;
    f->labels.hi = l_hi;
    f->labels_mask.lo = m_lo;
    f->labels_mask.hi = m_hi;
    if (orig != Py_None) {
        if (parse_tuple_match(orig, &f->orig)) {
            return -1;
        }
        f->has_orig = true;
    }
    if (reply != Py_None) {
        if (parse_tuple_match(reply, &f->reply)) {
            return -1;
        }
        f->has_reply = true;
    }
    return 0;
}

/* Frames: a C-contiguous buffer of bytes.  A writable buffer is used in
 * place (NAT rewrites land in it); for a read-only one (bytes) '*readonly'
 * is set, and execute() copies it only if the action has NAT, so that the
 * rewrites land in the copy and are lost: pass a bytearray or a writable
 * memoryview to get them. */
int
get_frames(PyObject *obj, Py_buffer *view, bool *readonly)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS
                                      | PyBUF_FORMAT) == 0) {
        *readonly = false;
    } else {
        if (!PyErr_ExceptionMatches(PyExc_BufferError)
            && !PyErr_ExceptionMatches(PyExc_TypeError)) {
            return -1;
        }
        PyErr_Clear();
        if (PyObject_GetBuffer(obj, view,
                               PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            return -1;
        }
        *readonly = true;
    }
    if (view->itemsize != 1) {
        PyErr_SetString(PyExc_TypeError, "frames must be a buffer of bytes "
                        "(itemsize 1)");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* Offsets: a C-contiguous buffer with 4-byte items of format I/i/L/l
 * (array('I'), numpy uint32), raw bytes holding native-order uint32 values,
 * or any iterable of ints.  On success '*offs' points to '*n_offs' values
 * that live in 'view' (then 'view->obj' is set) or in '*owned' (free()). */
int
get_offsets(PyObject *obj, Py_buffer *view, const uint32_t **offs,
            size_t *n_offs, uint32_t **owned)
{
    *owned = NULL;
    view->obj = NULL;
    if (PyObject_CheckBuffer(obj)) {
        if (PyObject_GetBuffer(obj, view,
                               PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            return -1;
        }
        const char *fmt = view->format ? view->format : "B";
        if (*fmt == '@' || *fmt == '=' || *fmt == '<') {
            fmt++;
        }
        bool ok;
        if (view->itemsize == 1) {
            ok = view->len % 4 == 0;
        } else {
            ok = view->itemsize == 4 && strlen(fmt) == 1
                 && strchr("IiLl", fmt[0]);
        }
        if (!ok || ((uintptr_t) view->buf) % _Alignof(uint32_t)) {
            /* Unaligned raw bytes (a memoryview slice): copy below. */
            if (ok) {
                uint32_t *copy = PyMem_RawMalloc(view->len ? view->len : 1);
                if (!copy) {
                    PyBuffer_Release(view);
                    PyErr_NoMemory();
                    return -1;
                }
                memcpy(copy, view->buf, view->len);
                *owned = copy;
                *offs = copy;
                *n_offs = view->len / 4;
                PyBuffer_Release(view);
                view->obj = NULL;
                return 0;
            }
            PyBuffer_Release(view);
            view->obj = NULL;
            PyErr_SetString(PyExc_TypeError, "offsets must be a buffer of "
                            "uint32 (or of bytes, a multiple of 4 long) or "
                            "a sequence of ints");
            return -1;
        }
        *offs = view->buf;
        *n_offs = view->len / 4;
        return 0;
    }

    PyObject *seq = PySequence_Fast(obj, "offsets must be a buffer or a "
                                    "sequence of ints");
    if (!seq) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint32_t *a = PyMem_RawMalloc(n ? n * sizeof *a : 1);
    if (!a) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned long v = PyLong_AsUnsignedLong(items[i]);
        if (v == (unsigned long) -1 && PyErr_Occurred()) {
            goto bad;
        }
        if (v > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "offset exceeds uint32");
            goto bad;
        }
        a[i] = (uint32_t) v;
    }
    Py_DECREF(seq);
    *owned = a;
    *offs = a;
    *n_offs = n;
    return 0;

bad:
    Py_DECREF(seq);
    PyMem_RawFree(a);
    return -1;
}

/* Releases what get_offsets() acquired. */
void
put_offsets(Py_buffer *view, uint32_t *owned)
{
    if (view->obj) {
        PyBuffer_Release(view);
    }
    PyMem_RawFree(owned);
}

/* Checks that 'offs' (n + 1 entries) describe frames within 'size'. */
bool
offsets_valid(const uint32_t *offs, size_t n_offs, size_t size)
{
    for (size_t i = 0; i + 1 < n_offs; i++) {
        if (offs[i] > offs[i + 1]) {
            return false;
        }
    }
    return !n_offs || offs[n_offs - 1] <= size;
}
