/*
 * module.c -- the ovsct._engine extension: the only file that knows Python.
 *
 * A thin binding of ovsct.h.  ovsct/engine.py is the public wrapper: it turns
 * dataclasses into the plain tuples this module takes and the raw buffers it
 * returns into dataclasses.  Neighbours: ovsct.h (the contract wrapped here),
 * ovsct/engine.py (the only caller), ovsct/errors.py (exception classes).
 *
 * Rules (docs/STYLE.md 25-30):
 *
 *   - Module state, one heap type (Conntrack), multi-phase init.
 *   - Frame batches arrive as C-contiguous buffers with itemsize 1; offsets
 *     as a buffer of 4-byte items (or raw bytes in native order) or as a
 *     sequence of ints.
 *   - Every call into a 'struct ovsct *' that is not a plain const getter
 *     runs with the GIL released, because the engine may take its own locks
 *     there.  No PyObject is touched while the GIL is released, except the
 *     raw character storage of a string this thread just created and has
 *     not published (dump_text(), like zlib does for its output buffers).
 *   - One errno -> exception helper: set_error().
 *
 * Object lifetime: 'busy' counts calls on an object that are running with
 * the GIL released.  It is changed only with the GIL held, so close() can
 * refuse to destroy the engine under a running call (ovsct_destroy() must
 * not race with anything).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ovsct.h"

/* Frames fetched per ovsct_dump_next() call. */
#define DUMP_CHUNK 4096

/* Size of the JSON buffer handed to ovsct_bench_run(). */
#define BENCH_JSON_SIZE (1 << 16)

/* Module state. */
typedef struct {
    PyTypeObject *conntrack_type;   /* _engine.Conntrack. */
    PyObject *ovsct_error;          /* ovsct.errors.OvsctError. */
    PyObject *table_full;           /* ovsct.errors.TableFull (ENOSPC). */
    PyObject *not_found;            /* ovsct.errors.NotFound (ENOENT). */
} module_state;

/* A Conntrack instance. */
typedef struct {
    PyObject_HEAD
    struct ovsct *ct;       /* NULL once closed. */
    Py_ssize_t busy;        /* Calls running without the GIL (GIL-guarded). */
    Py_ssize_t n_cursors;   /* Open dump cursors (dump_begin()). */
    struct ovsct *doomed;   /* Closed while cursors were open: destroyed
                             * when the last one goes. */
} CtObject;

static inline module_state *
get_state(PyObject *module)
{
    return (module_state *) PyModule_GetState(module);
}

static inline module_state *
ct_state(CtObject *self)
{
    return (module_state *) PyType_GetModuleState(Py_TYPE(self));
}


/* Errors. */

/* The one errno -> exception helper.  'err' is a positive errno value from
 * the engine; 'msg' an optional message (else strerror()); 'filename' an
 * optional path, given for file operations: then ENOENT and any errno
 * without a dedicated class raise the matching OSError subclass
 * (FileNotFoundError, PermissionError, ...).  Always returns NULL. */
static PyObject *
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

/* Returns the engine of 'self', or NULL with ValueError if it is closed. */
static struct ovsct *
ct_get(CtObject *self)
{
    if (!self->ct) {
        PyErr_SetString(PyExc_ValueError, "Conntrack is closed");
    }
    return self->ct;
}


/* Argument conversion. */

/* O& converters with range checks ('H' and 'I' would wrap silently). */
static int
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

static int
conv_u8(PyObject *obj, void *out)
{
    unsigned long v;
    if (!conv_uint(obj, UINT8_MAX, &v)) {
        return 0;
    }
    *(uint8_t *) out = (uint8_t) v;
    return 1;
}

static int
conv_u16(PyObject *obj, void *out)
{
    unsigned long v;
    if (!conv_uint(obj, UINT16_MAX, &v)) {
        return 0;
    }
    *(uint16_t *) out = (uint16_t) v;
    return 1;
}

static int
conv_u32(PyObject *obj, void *out)
{
    unsigned long v;
    if (!conv_uint(obj, UINT32_MAX, &v)) {
        return 0;
    }
    *(uint32_t *) out = (uint32_t) v;
    return 1;
}

/* Parses an optional zone: None -> '*has' false, else 0..65535. */
static int
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
static int
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
static int
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
 *    set_labels, labels_lo, labels_hi, labels_mask_lo, labels_mask_hi, nat)
 * nat: None or (kind, l3, flags, port_min, port_max, addr_min, addr_max)
 * with 16-byte network-order addresses. */
static int
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
    if (!PyArg_ParseTuple(obj, "O&pppO&O&pKKKKO;bad action tuple",
                          conv_u16, &a->zone, &commit, &force, &set_mark,
                          conv_u32, &a->mark, conv_u32, &a->mark_mask,
                          &set_labels, &l_lo, &l_hi, &m_lo, &m_hi, &nat)) {
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
static int
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
 *               icmp_id, icmp_type, icmp_code). */
static int
parse_tuple_match(PyObject *obj, struct ovsct_tuple_match *m)
{
    PyObject *src, *dst, *proto;

    memset(m, 0, sizeof *m);
    if (!PyTuple_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "tuple match must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(obj, "OOO&OO&O&O&O&O&;bad tuple match", &src,
                          &dst, conv_u8, &m->l3, &proto, conv_u16, &m->sport,
                          conv_u16, &m->dport, conv_u16, &m->icmp_id,
                          conv_u8, &m->icmp_type, conv_u8, &m->icmp_code)
        || parse_addr(src, m->src, &m->has_src)
        || parse_addr(dst, m->dst, &m->has_dst)) {
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

/* Filter: (zone|None, mark, mark_mask, labels_lo, labels_hi,
 *          labels_mask_lo, labels_mask_hi, orig|None, reply|None). */
static int
parse_filter(PyObject *obj, struct ovsct_flush_filter *f)
{
    PyObject *zone, *orig, *reply;
    unsigned long long l_lo, l_hi, m_lo, m_hi;

    memset(f, 0, sizeof *f);
    if (!PyTuple_Check(obj)) {
        PyErr_SetString(PyExc_TypeError, "filter must be a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(obj, "OO&O&KKKKOO;bad filter tuple", &zone,
                          conv_u32, &f->mark, conv_u32, &f->mark_mask, &l_lo,
                          &l_hi, &m_lo, &m_hi, &orig, &reply)
        || parse_opt_zone(zone, &f->zone, &f->has_zone)) {
        return -1;
    }
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
 * place (NAT rewrites land in it); a read-only one (bytes) is copied before
 * executing, so rewrites are lost: pass a bytearray or a writable
 * memoryview to get them.  Sets '*readonly'. */
static int
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
static int
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
static void
put_offsets(Py_buffer *view, uint32_t *owned)
{
    if (view->obj) {
        PyBuffer_Release(view);
    }
    PyMem_RawFree(owned);
}

/* Checks that 'offs' (n + 1 entries) describe frames within 'size'. */
static bool
offsets_valid(const uint32_t *offs, size_t n_offs, size_t size)
{
    for (size_t i = 0; i + 1 < n_offs; i++) {
        if (offs[i] > offs[i + 1]) {
            return false;
        }
    }
    return !n_offs || offs[n_offs - 1] <= size;
}


/* Conntrack: creation, clock, execution. */

static PyObject *
ct_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"buckets", "manual_clock", "start_ms",
                             "sweeper", "bucket_low_bits", NULL};
    module_state *st = PyType_GetModuleState(type);
    uint32_t buckets = 0;
    int manual_clock = 0, sweeper = 1, low_bits = 0;
    long long start_ms = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O&pLpp:Conntrack",
                                     kwlist, conv_u32, &buckets,
                                     &manual_clock, &start_ms, &sweeper,
                                     &low_bits)) {
        return NULL;
    }

    struct ovsct_config cfg = {
        .n_buckets = buckets,
        .manual_clock = manual_clock,
        .start_ms = start_ms,
        .no_sweeper = !sweeper,
        .bucket_low_bits = low_bits,
    };
    struct ovsct *ct = NULL;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = ovsct_create(&cfg, &ct);
    Py_END_ALLOW_THREADS
    if (err) {
        return set_error(st, err, NULL, NULL);
    }

    CtObject *self = (CtObject *) type->tp_alloc(type, 0);
    if (!self) {
        Py_BEGIN_ALLOW_THREADS
        ovsct_destroy(ct);
        Py_END_ALLOW_THREADS
        return NULL;
    }
    self->ct = ct;
    self->busy = 0;
    return (PyObject *) self;
}

static void
ct_dealloc(CtObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    struct ovsct *ct = self->ct ? self->ct : self->doomed;

    self->ct = NULL;
    self->doomed = NULL;
    if (ct) {
        /* Joins the sweeper: may wait for a bucket lock. */
        Py_BEGIN_ALLOW_THREADS
        ovsct_destroy(ct);
        Py_END_ALLOW_THREADS
    }
    tp->tp_free((PyObject *) self);
    Py_DECREF(tp);
}

static PyObject *
ct_close(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = self->ct;

    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Conntrack.close() while a call is running");
        return NULL;
    }
    self->ct = NULL;
    if (ct && self->n_cursors) {
        self->doomed = ct;      /* The last cursor destroys it. */
    } else if (ct) {
        Py_BEGIN_ALLOW_THREADS
        ovsct_destroy(ct);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

/* Brackets around GIL-free calls: keep 'self->ct' alive against close().
 * 'ct' is a local copy of 'self->ct' read with the GIL held. */
#define CT_BEGIN(SELF) (SELF)->busy++; Py_BEGIN_ALLOW_THREADS
#define CT_END(SELF) Py_END_ALLOW_THREADS (SELF)->busy--

static PyObject *
ct_get_closed(CtObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->ct == NULL);
}

static PyObject *
ct_get_now(CtObject *self, void *Py_UNUSED(closure))
{
    struct ovsct *ct = ct_get(self);
    return ct ? PyLong_FromLongLong(ovsct_now(ct)) : NULL;
}

static PyObject *
ct_set_time(CtObject *self, PyObject *arg)
{
    struct ovsct *ct = ct_get(self);
    if (!ct) {
        return NULL;
    }
    long long ms = PyLong_AsLongLong(arg);
    if (ms == -1 && PyErr_Occurred()) {
        return NULL;
    }
    CT_BEGIN(self);
    ovsct_set_time(ct, ms);
    CT_END(self);
    Py_RETURN_NONE;
}

static PyObject *
ct_use_real_clock(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    if (!ct) {
        return NULL;
    }
    CT_BEGIN(self);
    ovsct_use_real_clock(ct);
    CT_END(self);
    Py_RETURN_NONE;
}

/* execute(frames, offsets, action) -> bytes of n ct_state values. */
static PyObject *
ct_execute(CtObject *self, PyObject *args)
{
    module_state *st = ct_state(self);
    PyObject *frames_obj, *offsets_obj, *action_obj;
    struct ovsct_action action;
    Py_buffer fb = { .obj = NULL }, ob = { .obj = NULL };
    uint32_t *owned = NULL;
    const uint32_t *offs = NULL;
    size_t n_offs = 0;
    uint8_t *states = NULL;
    bool readonly = false;
    PyObject *result = NULL;
    int err = 0;

    struct ovsct *ct = ct_get(self);
    if (!ct || !PyArg_ParseTuple(args, "OOO:execute", &frames_obj,
                                 &offsets_obj, &action_obj)
        || parse_action(action_obj, &action)) {
        return NULL;
    }
    if (get_frames(frames_obj, &fb, &readonly)) {
        return NULL;
    }
    if (get_offsets(offsets_obj, &ob, &offs, &n_offs, &owned)) {
        goto out;
    }

    size_t n = n_offs ? n_offs - 1 : 0;
    if (!n) {
        if (!offsets_valid(offs, n_offs, fb.len)) {
            set_error(st, EINVAL, "bad batch layout", NULL);
        } else {
            result = PyBytes_FromStringAndSize(NULL, 0);
        }
        goto out;
    }
    states = PyMem_RawMalloc(n);
    if (!states) {
        PyErr_NoMemory();
        goto out;
    }

    CT_BEGIN(self);
    uint8_t *data = fb.buf;
    uint8_t *copy = NULL;
    if (readonly) {
        copy = malloc(fb.len ? fb.len : 1);
        if (copy) {
            memcpy(copy, fb.buf, fb.len);
        }
        data = copy;
    }
    if (data) {
        struct ovsct_batch batch = {
            .data = data, .size = fb.len, .offsets = offs, .n = n,
        };
        err = ovsct_execute(ct, &batch, &action, states);
    } else {
        err = ENOMEM;
    }
    free(copy);
    CT_END(self);

    if (err) {
        set_error(st, err, err == EINVAL ? "bad batch layout" : NULL, NULL);
    } else {
        result = PyBytes_FromStringAndSize((char *) states, n);
    }

out:
    PyMem_RawFree(states);
    put_offsets(&ob, owned);
    PyBuffer_Release(&fb);
    return result;
}

/* execute_pcap(path, action, batch=32, frames=False)
 *   -> states, or (states, frames, offsets) if 'frames' is true ('offsets'
 *      as bytes of native uint32, ready for pcap_write()). */
static PyObject *
ct_execute_pcap(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path", "action", "batch", "frames", NULL};
    module_state *st = ct_state(self);
    PyObject *path_obj, *path = NULL, *action_obj, *result = NULL;
    struct ovsct_action action;
    uint32_t batch = 32;
    bool load_failed = false;
    int want_frames = 0;
    char errbuf[256] = "";
    uint8_t *data = NULL, *states = NULL;
    uint32_t *offsets = NULL;
    size_t size = 0, n = 0;
    int err;

    struct ovsct *ct = ct_get(self);
    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs,
                                            "OO|O&p:execute_pcap", kwlist,
                                            &path_obj, &action_obj, conv_u32,
                                            &batch, &want_frames)
        || !PyUnicode_FSConverter(path_obj, &path)) {
        return NULL;
    }
    if (parse_action(action_obj, &action)) {
        goto out;
    }
    if (!batch) {
        PyErr_SetString(PyExc_ValueError, "batch must be positive");
        goto out;
    }

    const char *cpath = PyBytes_AS_STRING(path);
    CT_BEGIN(self);
    err = ovsct_pcap_load(cpath, &data, &size, &offsets, &n, errbuf,
                          sizeof errbuf);
    load_failed = err != 0;
    if (!err) {
        states = malloc(n ? n : 1);
        if (!states) {
            err = ENOMEM;
        }
    }
    for (size_t i = 0; !err && i < n; i += batch) {
        struct ovsct_batch b = {
            .data = data, .size = size, .offsets = offsets + i,
            .n = n - i < batch ? n - i : batch,
        };
        err = ovsct_execute(ct, &b, &action, states + i);
    }
    CT_END(self);

    if (err) {
        set_error(st, err, errbuf, load_failed ? path_obj : NULL);
        goto out;
    }
    if (!want_frames) {
        result = PyBytes_FromStringAndSize((char *) states, n);
    } else {
        result = Py_BuildValue("(y#y#y#)", (char *) states, (Py_ssize_t) n,
                               (char *) data, (Py_ssize_t) size,
                               (char *) offsets,
                               (Py_ssize_t) ((n + 1) * sizeof *offsets));
    }

out:
    free(states);
    free(data);
    free(offsets);
    Py_XDECREF(path);
    return result;
}


/* Conntrack: counts and settings. */

static PyObject *
ct_nconns(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    uint32_t n;

    if (!ct) {
        return NULL;
    }
    CT_BEGIN(self);
    n = ovsct_nconns(ct);
    CT_END(self);
    return PyLong_FromUnsignedLong(n);
}

static PyObject *
ct_get_maxconns(CtObject *self, void *Py_UNUSED(closure))
{
    struct ovsct *ct = ct_get(self);
    return ct ? PyLong_FromUnsignedLong(ovsct_get_maxconns(ct)) : NULL;
}

/* Parses a settable uint32 attribute. */
static int
setter_u32(PyObject *value, uint32_t *out)
{
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    unsigned long v = PyLong_AsUnsignedLong(value);
    if (v == (unsigned long) -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "value exceeds uint32");
        return -1;
    }
    *out = (uint32_t) v;
    return 0;
}

static int
ct_set_maxconns(CtObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    struct ovsct *ct = ct_get(self);
    uint32_t v;

    if (!ct || setter_u32(value, &v)) {
        return -1;
    }
    CT_BEGIN(self);
    ovsct_set_maxconns(ct, v);
    CT_END(self);
    return 0;
}

static PyObject *
ct_get_sweep_interval(CtObject *self, void *Py_UNUSED(closure))
{
    struct ovsct *ct = ct_get(self);
    return ct ? PyLong_FromUnsignedLong(ovsct_get_sweep_interval(ct)) : NULL;
}

static int
ct_set_sweep_interval(CtObject *self, PyObject *value,
                      void *Py_UNUSED(closure))
{
    struct ovsct *ct = ct_get(self);
    uint32_t v;
    int err;

    if (!ct || setter_u32(value, &v)) {
        return -1;
    }
    CT_BEGIN(self);
    err = ovsct_set_sweep_interval(ct, v);
    CT_END(self);
    if (err) {
        set_error(ct_state(self), err, err == EINVAL
                  ? "sweep interval must be positive" : NULL, NULL);
        return -1;
    }
    return 0;
}

static PyObject *
ct_get_tcp_seq_chk(CtObject *self, void *Py_UNUSED(closure))
{
    struct ovsct *ct = ct_get(self);
    return ct ? PyBool_FromLong(ovsct_get_tcp_seq_chk(ct)) : NULL;
}

static int
ct_set_tcp_seq_chk(CtObject *self, PyObject *value, void *Py_UNUSED(closure))
{
    struct ovsct *ct = ct_get(self);
    int v;

    if (!ct) {
        return -1;
    }
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    v = PyObject_IsTrue(value);
    if (v < 0) {
        return -1;
    }
    CT_BEGIN(self);
    ovsct_set_tcp_seq_chk(ct, v);
    CT_END(self);
    return 0;
}

static PyObject *
ct_get_n_buckets(CtObject *self, void *Py_UNUSED(closure))
{
    struct ovsct *ct = ct_get(self);
    return ct ? PyLong_FromUnsignedLong(ovsct_n_buckets(ct)) : NULL;
}


/* Conntrack: zone limits and timeout policies. */

/* set_zone_limit(zone, limit); zone -1 is the default limit. */
static PyObject *
ct_set_zone_limit(CtObject *self, PyObject *args)
{
    struct ovsct *ct = ct_get(self);
    PyObject *zone_obj;
    uint32_t limit;
    int32_t zone;
    int err;

    if (!ct || !PyArg_ParseTuple(args, "OO&:set_zone_limit", &zone_obj,
                                 conv_u32, &limit)
        || parse_zone(zone_obj, true, &zone)) {
        return NULL;
    }
    CT_BEGIN(self);
    err = ovsct_set_zone_limit(ct, zone, limit);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }
    Py_RETURN_NONE;
}

static PyObject *
ct_del_zone_limit(CtObject *self, PyObject *arg)
{
    struct ovsct *ct = ct_get(self);
    int32_t zone;
    int err;

    if (!ct || parse_zone(arg, true, &zone)) {
        return NULL;
    }
    CT_BEGIN(self);
    err = ovsct_del_zone_limit(ct, zone);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, err == ENOENT
                         ? "zone has no limit" : NULL, NULL);
    }
    Py_RETURN_NONE;
}

/* get_zone_limit(zone) -> (limit, count, is_explicit). */
static PyObject *
ct_get_zone_limit(CtObject *self, PyObject *arg)
{
    struct ovsct *ct = ct_get(self);
    uint32_t limit = 0, count = 0;
    bool is_explicit = false;
    int32_t zone;
    int err;

    if (!ct || parse_zone(arg, true, &zone)) {
        return NULL;
    }
    CT_BEGIN(self);
    err = ovsct_get_zone_limit(ct, zone, &limit, &count, &is_explicit);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }
    return Py_BuildValue("(kkO)", (unsigned long) limit,
                         (unsigned long) count,
                         is_explicit ? Py_True : Py_False);
}

/* list_zone_limits() -> list of zones with an explicit limit, ascending. */
static PyObject *
ct_list_zone_limits(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    uint16_t *zones;
    size_t n;

    if (!ct) {
        return NULL;
    }
    zones = PyMem_RawMalloc(65536 * sizeof *zones);
    if (!zones) {
        return PyErr_NoMemory();
    }
    CT_BEGIN(self);
    n = ovsct_list_zone_limits(ct, zones);
    CT_END(self);

    PyObject *list = PyList_New(n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *z = PyLong_FromLong(zones[i]);
        if (!z) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, z);
    }
    PyMem_RawFree(zones);
    return list;
}

/* Builds a tuple of OVSCT_TP_N values with None for absent ones. */
static PyObject *
tp_to_tuple(const uint32_t values[OVSCT_TP_N], const bool present[OVSCT_TP_N])
{
    PyObject *t = PyTuple_New(OVSCT_TP_N);
    for (int i = 0; t && i < OVSCT_TP_N; i++) {
        PyObject *v = present[i] ? PyLong_FromUnsignedLong(values[i])
                                 : Py_NewRef(Py_None);
        if (!v) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

/* set_zone_tp(zone, values): 'values' has OVSCT_TP_N items, int or None
 * (absent), in ovsct_tp_names order. */
static PyObject *
ct_set_zone_tp(CtObject *self, PyObject *args)
{
    struct ovsct *ct = ct_get(self);
    uint32_t values[OVSCT_TP_N] = { 0 };
    bool present[OVSCT_TP_N] = { false };
    PyObject *zone_obj, *seq_obj;
    int32_t zone;
    int err;

    if (!ct || !PyArg_ParseTuple(args, "OO:set_zone_tp", &zone_obj, &seq_obj)
        || parse_zone(zone_obj, false, &zone)) {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(seq_obj, "values must be a sequence");
    if (!seq) {
        return NULL;
    }
    if (PySequence_Fast_GET_SIZE(seq) != OVSCT_TP_N) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "values must have %d items",
                     OVSCT_TP_N);
        return NULL;
    }
    for (int i = 0; i < OVSCT_TP_N; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (item == Py_None) {
            continue;
        }
        unsigned long v = PyLong_AsUnsignedLong(item);
        if (v == (unsigned long) -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return NULL;
        }
        if (v > UINT32_MAX) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "timeout exceeds uint32");
            return NULL;
        }
        values[i] = (uint32_t) v;
        present[i] = true;
    }
    Py_DECREF(seq);

    CT_BEGIN(self);
    err = ovsct_set_zone_tp(ct, (uint16_t) zone, values, present);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }
    Py_RETURN_NONE;
}

static PyObject *
ct_del_zone_tp(CtObject *self, PyObject *arg)
{
    struct ovsct *ct = ct_get(self);
    int32_t zone;
    int err;

    if (!ct || parse_zone(arg, false, &zone)) {
        return NULL;
    }
    CT_BEGIN(self);
    err = ovsct_del_zone_tp(ct, (uint16_t) zone);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, err == ENOENT
                         ? "zone has no timeout policy" : NULL, NULL);
    }
    Py_RETURN_NONE;
}

/* get_zone_tp(zone) -> tuple of OVSCT_TP_N (int or None), or None. */
static PyObject *
ct_get_zone_tp(CtObject *self, PyObject *arg)
{
    struct ovsct *ct = ct_get(self);
    uint32_t values[OVSCT_TP_N];
    bool present[OVSCT_TP_N];
    int32_t zone;
    bool found;

    if (!ct || parse_zone(arg, false, &zone)) {
        return NULL;
    }
    CT_BEGIN(self);
    found = ovsct_get_zone_tp(ct, (uint16_t) zone, values, present);
    CT_END(self);
    if (!found) {
        Py_RETURN_NONE;
    }
    return tp_to_tuple(values, present);
}

/* list_zone_tps() -> list of (zone, values) for zones with a policy. */
static PyObject *
ct_list_zone_tps(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct tp_row {
        uint16_t zone;
        uint32_t values[OVSCT_TP_N];
        bool present[OVSCT_TP_N];
    };
    struct ovsct *ct = ct_get(self);
    struct tp_row *rows = NULL;
    size_t n = 0, cap = 0;
    bool nomem = false;

    if (!ct) {
        return NULL;
    }
    /* The contract has no zone-policy iterator: probe all 65536 zones with
     * the GIL released (each probe is a short lookup). */
    CT_BEGIN(self);
    for (uint32_t z = 0; z <= UINT16_MAX; z++) {
        struct tp_row row;
        if (!ovsct_get_zone_tp(ct, (uint16_t) z, row.values, row.present)) {
            continue;
        }
        if (n == cap) {
            size_t new_cap = cap ? 2 * cap : 16;
            struct tp_row *r = realloc(rows, new_cap * sizeof *rows);
            if (!r) {
                nomem = true;
                break;
            }
            rows = r;
            cap = new_cap;
        }
        row.zone = (uint16_t) z;
        rows[n++] = row;
    }
    CT_END(self);

    PyObject *list = nomem ? PyErr_NoMemory() : PyList_New(n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *t = tp_to_tuple(rows[i].values, rows[i].present);
        PyObject *item = t ? Py_BuildValue("(iN)", rows[i].zone, t) : NULL;
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    free(rows);
    return list;
}


/* Conntrack: flush. */

/* flush(zone=None) -> number of connections flushed. */
static PyObject *
ct_flush(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"zone", NULL};
    struct ovsct *ct = ct_get(self);
    PyObject *zone_obj = Py_None;
    size_t n_flushed = 0;
    uint16_t zone;
    bool has_zone;
    int err;

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs, "|O:flush", kwlist,
                                            &zone_obj)
        || parse_opt_zone(zone_obj, &zone, &has_zone)) {
        return NULL;
    }
    CT_BEGIN(self);
    err = ovsct_flush(ct, has_zone ? &zone : NULL, &n_flushed);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }
    return PyLong_FromSize_t(n_flushed);
}

/* flush_tuple(zone, tuple); NotFound if no connection matches. */
static PyObject *
ct_flush_tuple(CtObject *self, PyObject *args)
{
    struct ovsct *ct = ct_get(self);
    struct ovsct_tuple tuple;
    PyObject *zone_obj, *tuple_obj;
    int32_t zone;
    int err;

    if (!ct || !PyArg_ParseTuple(args, "OO:flush_tuple", &zone_obj,
                                 &tuple_obj)
        || parse_zone(zone_obj, false, &zone)
        || parse_tuple(tuple_obj, &tuple)) {
        return NULL;
    }
    CT_BEGIN(self);
    err = ovsct_flush_tuple(ct, (uint16_t) zone, &tuple);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, err == ENOENT
                         ? "no connection matches the tuple" : NULL, NULL);
    }
    Py_RETURN_NONE;
}

/* flush_filter(filter) -> number of connections flushed. */
static PyObject *
ct_flush_filter(CtObject *self, PyObject *arg)
{
    struct ovsct *ct = ct_get(self);
    struct ovsct_flush_filter filter;
    size_t n_flushed = 0;
    int err;

    if (!ct || parse_filter(arg, &filter)) {
        return NULL;
    }
    CT_BEGIN(self);
    err = ovsct_flush_filter(ct, &filter, &n_flushed);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }
    return PyLong_FromSize_t(n_flushed);
}


/* Conntrack: dumps and statistics. */

/* Runs a whole dump into a malloc'd array.  Called without the GIL. */
static int
dump_all(struct ovsct *ct, const uint16_t *zone, struct ovsct_entry **out,
         size_t *n_out)
{
    struct ovsct_entry *entries = NULL;
    size_t n = 0, cap = 0;
    struct ovsct_dump *dump;
    int err;

    err = ovsct_dump_start(ct, zone, &dump);
    if (err) {
        return err;
    }
    for (;;) {
        size_t got = 0;
        if (cap - n < DUMP_CHUNK) {
            size_t new_cap = cap ? 2 * cap : DUMP_CHUNK;
            struct ovsct_entry *e = realloc(entries,
                                            new_cap * sizeof *entries);
            if (!e) {
                err = ENOMEM;
                break;
            }
            entries = e;
            cap = new_cap;
        }
        err = ovsct_dump_next(dump, entries + n, DUMP_CHUNK, &got);
        if (err || !got) {
            break;
        }
        n += got;
    }
    ovsct_dump_done(dump);
    if (err) {
        free(entries);
        return err;
    }
    *out = entries;
    *n_out = n;
    return 0;
}

/* dump(zone=None) -> bytes: packed struct ovsct_entry records
 * (ENTRY_SIZE bytes each, native order). */
static PyObject *
ct_dump(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"zone", NULL};
    struct ovsct *ct = ct_get(self);
    struct ovsct_entry *entries = NULL;
    PyObject *zone_obj = Py_None;
    size_t n = 0;
    uint16_t zone;
    bool has_zone;
    int err;

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs, "|O:dump", kwlist,
                                            &zone_obj)
        || parse_opt_zone(zone_obj, &zone, &has_zone)) {
        return NULL;
    }
    CT_BEGIN(self);
    err = dump_all(ct, has_zone ? &zone : NULL, &entries, &n);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }
    PyObject *result = PyBytes_FromStringAndSize((char *) entries,
                                                 n * sizeof *entries);
    free(entries);
    return result;
}

/* Building Entry objects.
 *
 * dump_entries() makes the ovsct.engine.Entry / Tuple dataclass instances
 * itself: a Python __init__ per object costs about a microsecond, three per
 * connection, which is seconds for a million-entry dump.  The classes are
 * slots dataclasses, so each field is a member descriptor: objects are
 * created with tp_new (no __init__) and fields are stored through the
 * descriptors' own setter, which is what object.__setattr__ ends up calling.
 * Address strings and port numbers are cached for the duration of a dump. */

/* Field names, in the dataclasses' order. */
static const char *const tuple_fields[] = {
    "l3", "proto", "src", "dst", "sport", "dport", "icmp_id", "icmp_type",
    "icmp_code",
};
#define N_TUPLE_FIELDS (sizeof tuple_fields / sizeof *tuple_fields)
static const char *const entry_fields[] = {
    "orig", "reply", "zone", "mark", "labels", "expiration", "timeout",
    "tcp_state", "tcp_wscale", "tcp_flags", "bucket", "nat",
};
#define N_ENTRY_FIELDS (sizeof entry_fields / sizeof *entry_fields)

/* Direct-mapped cache of address strings. */
#define ADDR_CACHE_SIZE 4096

struct builder {
    PyTypeObject *tuple_type, *entry_type;
    PyObject *tuple_descrs[N_TUPLE_FIELDS];
    PyObject *entry_descrs[N_ENTRY_FIELDS];
    PyObject *tcp_names;        /* Tuple of OVSCT_TCPS_N str. */
    PyObject *empty;            /* () for tp_new. */
    PyObject **ports;           /* 65536 lazily made ints. */
    struct {
        uint8_t key[17];        /* l3, then the address. */
        PyObject *str;
    } *addrs;
};

static void
builder_destroy(struct builder *b)
{
    for (size_t i = 0; i < N_TUPLE_FIELDS; i++) {
        Py_CLEAR(b->tuple_descrs[i]);
    }
    for (size_t i = 0; i < N_ENTRY_FIELDS; i++) {
        Py_CLEAR(b->entry_descrs[i]);
    }
    Py_CLEAR(b->empty);
    if (b->ports) {
        for (size_t i = 0; i < 65536; i++) {
            Py_XDECREF(b->ports[i]);
        }
        PyMem_Free(b->ports);
        b->ports = NULL;
    }
    if (b->addrs) {
        for (size_t i = 0; i < ADDR_CACHE_SIZE; i++) {
            Py_XDECREF(b->addrs[i].str);
        }
        PyMem_Free(b->addrs);
        b->addrs = NULL;
    }
}

/* Looks up the member descriptors of 'type' for 'names'. */
static int
get_descrs(PyTypeObject *type, const char *const *names, size_t n,
           PyObject **descrs)
{
    for (size_t i = 0; i < n; i++) {
        descrs[i] = PyObject_GetAttrString((PyObject *) type, names[i]);
        if (!descrs[i]) {
            return -1;
        }
        if (!PyObject_TypeCheck(descrs[i], &PyMemberDescr_Type)
            || !Py_TYPE(descrs[i])->tp_descr_set) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot",
                         type->tp_name, names[i]);
            return -1;
        }
    }
    return 0;
}

static int
builder_init(struct builder *b, PyObject *tuple_type, PyObject *entry_type,
             PyObject *tcp_names)
{
    memset(b, 0, sizeof *b);
    if (!PyType_Check(tuple_type) || !PyType_Check(entry_type)
        || !PyTuple_Check(tcp_names)
        || PyTuple_GET_SIZE(tcp_names) != OVSCT_TCPS_N) {
        PyErr_SetString(PyExc_TypeError, "bad Tuple/Entry/TCP names");
        return -1;
    }
    b->tuple_type = (PyTypeObject *) tuple_type;
    b->entry_type = (PyTypeObject *) entry_type;
    b->tcp_names = tcp_names;
    b->empty = PyTuple_New(0);
    b->ports = PyMem_Calloc(65536, sizeof *b->ports);
    b->addrs = PyMem_Calloc(ADDR_CACHE_SIZE, sizeof *b->addrs);
    if (!b->empty || !b->ports || !b->addrs) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        return -1;
    }
    if (get_descrs(b->tuple_type, tuple_fields, N_TUPLE_FIELDS,
                   b->tuple_descrs)
        || get_descrs(b->entry_type, entry_fields, N_ENTRY_FIELDS,
                      b->entry_descrs)) {
        return -1;
    }
    return 0;
}

/* New reference to the int 'port' (0..65535). */
static PyObject *
builder_port(struct builder *b, uint16_t port)
{
    PyObject **slot = &b->ports[port];
    if (!*slot) {
        *slot = PyLong_FromLong(port);
    }
    return Py_XNewRef(*slot);
}

/* New reference to the text form of address 'a' of family 'l3'. */
static PyObject *
builder_addr(struct builder *b, uint8_t l3, const uint8_t a[16])
{
    uint8_t key[17];
    uint32_t h = 2166136261u;
    size_t len = l3 == 4 ? 4 : 16;

    key[0] = l3;
    memcpy(key + 1, a, 16);
    for (size_t i = 0; i < 1 + len; i++) {
        h = (h ^ key[i]) * 16777619u;
    }
    h &= ADDR_CACHE_SIZE - 1;
    if (b->addrs[h].str && !memcmp(b->addrs[h].key, key, 1 + len)) {
        return Py_NewRef(b->addrs[h].str);
    }

    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(l3 == 4 ? AF_INET : AF_INET6, a, text, sizeof text)) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *s = PyUnicode_DecodeASCII(text, strlen(text), NULL);
    if (s) {
        Py_XSETREF(b->addrs[h].str, Py_NewRef(s));
        memcpy(b->addrs[h].key, key, sizeof key);
    }
    return s;
}

/* Creates an instance of 'type' without __init__ and sets its 'n' fields
 * from 'values' (stolen references; NULL means an error occurred while
 * making it). */
static PyObject *
builder_make(struct builder *b, PyTypeObject *type, PyObject **descrs,
             PyObject **values, size_t n)
{
    PyObject *obj = NULL;

    for (size_t i = 0; i < n; i++) {
        if (!values[i]) {
            goto out;
        }
    }
    obj = type->tp_new(type, b->empty, NULL);
    for (size_t i = 0; obj && i < n; i++) {
        if (Py_TYPE(descrs[i])->tp_descr_set(descrs[i], obj, values[i])) {
            Py_CLEAR(obj);
        }
    }
out:
    for (size_t i = 0; i < n; i++) {
        Py_XDECREF(values[i]);
    }
    return obj;
}

static PyObject *
builder_tuple(struct builder *b, const struct ovsct_tuple *t)
{
    bool icmp = t->proto == 1 || t->proto == 58;
    PyObject *v[N_TUPLE_FIELDS] = {
        PyLong_FromLong(t->l3),
        PyLong_FromLong(t->proto),
        builder_addr(b, t->l3, t->src),
        builder_addr(b, t->l3, t->dst),
        builder_port(b, icmp ? 0 : t->sport),
        builder_port(b, icmp ? 0 : t->dport),
        builder_port(b, icmp ? t->sport : 0),
        PyLong_FromLong(icmp ? t->icmp_type : 0),
        PyLong_FromLong(icmp ? t->icmp_code : 0),
    };
    return builder_make(b, b->tuple_type, b->tuple_descrs, v,
                        N_TUPLE_FIELDS);
}

/* 128-bit label as an int. */
static PyObject *
u128_to_int(ovsct_u128 v)
{
    if (!v.hi) {
        return PyLong_FromUnsignedLongLong(v.lo);
    }
    PyObject *hi = PyLong_FromUnsignedLongLong(v.hi);
    PyObject *lo = PyLong_FromUnsignedLongLong(v.lo);
    PyObject *sh = PyLong_FromLong(64);
    PyObject *hs = hi && sh ? PyNumber_Lshift(hi, sh) : NULL;
    PyObject *r = hs && lo ? PyNumber_Or(hs, lo) : NULL;
    Py_XDECREF(hi);
    Py_XDECREF(lo);
    Py_XDECREF(sh);
    Py_XDECREF(hs);
    return r;
}

static PyObject *
pair(PyObject *a, PyObject *b)
{
    PyObject *t = a && b ? PyTuple_Pack(2, a, b) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return t;
}

static PyObject *
builder_entry(struct builder *b, const struct ovsct_entry *e, int64_t now)
{
    int64_t left = e->expiration - now;
    PyObject *tcp_state;

    if (e->orig.proto == 6) {
        uint8_t s0 = e->tcp_state[0] < OVSCT_TCPS_N ? e->tcp_state[0] : 0;
        uint8_t s1 = e->tcp_state[1] < OVSCT_TCPS_N ? e->tcp_state[1] : 0;
        tcp_state = pair(Py_NewRef(PyTuple_GET_ITEM(b->tcp_names, s0)),
                         Py_NewRef(PyTuple_GET_ITEM(b->tcp_names, s1)));
    } else {
        tcp_state = Py_NewRef(Py_None);
    }

    PyObject *v[N_ENTRY_FIELDS] = {
        builder_tuple(b, &e->orig),
        builder_tuple(b, &e->reply),
        builder_port(b, e->zone),
        PyLong_FromUnsignedLong(e->mark),
        u128_to_int(e->labels),
        PyLong_FromLongLong(e->expiration),
        PyLong_FromLongLong(left > 0 ? left / 1000 : 0),
        tcp_state,
        pair(PyLong_FromLong(e->tcp_wscale[0]),
             PyLong_FromLong(e->tcp_wscale[1])),
        pair(PyLong_FromLong(e->tcp_flags[0]),
             PyLong_FromLong(e->tcp_flags[1])),
        PyLong_FromUnsignedLong(e->bucket),
        PyLong_FromLong(e->nat),
    };
    return builder_make(b, b->entry_type, b->entry_descrs, v,
                        N_ENTRY_FIELDS);
}

/* dump_entries(zone, Tuple, Entry, tcp_state_names) -> list[Entry]
 *
 * The whole dump runs with the GIL released; objects are made after. */
static PyObject *
ct_dump_entries(CtObject *self, PyObject *args)
{
    struct ovsct *ct = ct_get(self);
    struct ovsct_entry *entries = NULL;
    PyObject *zone_obj, *tuple_type, *entry_type, *tcp_names;
    PyObject *list = NULL;
    struct builder b;
    size_t n = 0;
    uint16_t zone;
    bool has_zone;
    int64_t now = 0;
    int err;

    if (!ct || !PyArg_ParseTuple(args, "OOOO:dump_entries", &zone_obj,
                                 &tuple_type, &entry_type, &tcp_names)
        || parse_opt_zone(zone_obj, &zone, &has_zone)) {
        return NULL;
    }
    if (builder_init(&b, tuple_type, entry_type, tcp_names)) {
        builder_destroy(&b);
        return NULL;
    }
    CT_BEGIN(self);
    now = ovsct_now(ct);
    err = dump_all(ct, has_zone ? &zone : NULL, &entries, &n);
    CT_END(self);
    if (err) {
        set_error(ct_state(self), err, NULL, NULL);
        goto out;
    }

    /* Three new container objects per entry would trigger a collection
     * every few hundred entries, each walking the ever larger young
     * generation: 5x the construction time.  None of them can form a cycle,
     * so the collector is paused while they are made (the GIL is held
     * throughout, so this is invisible to other threads). */
    int gc_was_enabled = PyGC_Disable();
    list = PyList_New(n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *obj = builder_entry(&b, &entries[i], now);
        if (!obj) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, obj);
    }
    if (gc_was_enabled) {
        PyGC_Enable();
    }

out:
    free(entries);
    builder_destroy(&b);
    return list;
}

/* One formatted line in a text buffer. */
struct line {
    size_t ofs;
    size_t len;
    const char *base;
};

static int
line_cmp(const void *a_, const void *b_)
{
    const struct line *a = a_, *b = b_;
    size_t len = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->base + a->ofs, b->base + b->ofs, len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Formats 'n' entries into '*textp' as lines (no separators) and records
 * them in '*linesp'.  Called without the GIL. */
static int
format_all(const struct ovsct_entry *entries, size_t n, bool verbose,
           bool print_stats, int64_t now, char **textp, struct line **linesp)
{
    size_t size = 0, cap = n * 160 + 1024;
    char *text = malloc(cap);
    struct line *lines = malloc((n ? n : 1) * sizeof *lines);

    if (!text || !lines) {
        goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        for (;;) {
            int len = ovsct_format_entry(&entries[i], verbose, print_stats,
                                         now, text + size, cap - size);
            if (len < 0) {
                free(text);
                free(lines);
                return EINVAL;
            }
            if ((size_t) len < cap - size) {
                lines[i].ofs = size;
                lines[i].len = len;
                size += len;
                break;
            }
            size_t new_cap = 2 * cap + len;
            char *t = realloc(text, new_cap);
            if (!t) {
                goto nomem;
            }
            text = t;
            cap = new_cap;
        }
    }
    for (size_t i = 0; i < n; i++) {
        lines[i].base = text;
    }
    *textp = text;
    *linesp = lines;
    return 0;

nomem:
    free(text);
    free(lines);
    return ENOMEM;
}

/* dump_text(zone=None, verbose=False, stats=False, sort=True) -> str
 *
 * The OVS dump-conntrack lines of every connection, each followed by "\n".
 * Dumping, formatting (ovsct_format_entry()) and sorting all run in C with
 * the GIL released.  'sort' orders lines bytewise, which makes the output
 * independent of the bucket layout; OVS itself prints in hash order. */
static PyObject *
ct_dump_text(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"zone", "verbose", "stats", "sort", NULL};
    struct ovsct *ct = ct_get(self);
    struct ovsct_entry *entries = NULL;
    struct line *lines = NULL;
    char *text = NULL;
    PyObject *zone_obj = Py_None, *result = NULL;
    int verbose = 0, print_stats = 0, sort = 1;
    size_t n = 0, total = 0;
    uint16_t zone;
    bool has_zone;
    int err;

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs, "|Oppp:dump_text",
                                            kwlist, &zone_obj, &verbose,
                                            &print_stats, &sort)
        || parse_opt_zone(zone_obj, &zone, &has_zone)) {
        return NULL;
    }
    CT_BEGIN(self);
    int64_t now = ovsct_now(ct);
    err = dump_all(ct, has_zone ? &zone : NULL, &entries, &n);
    if (!err) {
        err = format_all(entries, n, verbose, print_stats, now, &text,
                         &lines);
        free(entries);
    }
    if (!err) {
        if (sort) {
            qsort(lines, n, sizeof *lines, line_cmp);
        }
        for (size_t i = 0; i < n; i++) {
            total += lines[i].len + 1;
        }
    }
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }

    /* Formatted text is ASCII: build the str, then fill its storage with
     * the GIL released.  The object is not visible to any other thread
     * until this function returns it. */
    result = PyUnicode_New(total, 127);
    if (result) {
        char *dst = (char *) PyUnicode_1BYTE_DATA(result);
        CT_BEGIN(self);
        for (size_t i = 0; i < n; i++) {
            memcpy(dst, text + lines[i].ofs, lines[i].len);
            dst += lines[i].len;
            *dst++ = '\n';
        }
        CT_END(self);
    }
    free(text);
    free(lines);
    return result;
}

/* Dump cursors: dump_begin() and dump_text_next() let a caller stream a
 * dump in pieces (the daemon writes each piece while the next one is
 * formatted), instead of building the whole text first. */
#define CURSOR_NAME "ovsct._engine.dump_cursor"
#define CURSOR_ENTRIES 256

struct dump_cursor {
    struct ovsct_dump *dump;
    struct ovsct *ct;           /* Kept alive by 'owner'. */
    CtObject *owner;            /* Strong reference. */
    bool busy;                  /* A dump_text_next() is running. */
    struct ovsct_entry entries[CURSOR_ENTRIES];
};

static void
cursor_destroy(PyObject *capsule)
{
    struct dump_cursor *c = PyCapsule_GetPointer(capsule, CURSOR_NAME);
    CtObject *owner;

    if (!c) {
        PyErr_Clear();
        return;
    }
    owner = c->owner;
    ovsct_dump_done(c->dump);
    free(c);
    if (--owner->n_cursors == 0 && owner->doomed && !owner->busy) {
        struct ovsct *ct = owner->doomed;

        owner->doomed = NULL;
        Py_BEGIN_ALLOW_THREADS
        ovsct_destroy(ct);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(owner);
}

/* dump_begin(zone=None) -> cursor (an opaque capsule). */
static PyObject *
ct_dump_begin(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"zone", NULL};
    struct ovsct *ct = ct_get(self);
    PyObject *zone_obj = Py_None, *capsule;
    struct dump_cursor *c;
    uint16_t zone;
    bool has_zone;
    int err;

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs, "|O:dump_begin",
                                            kwlist, &zone_obj)
        || parse_opt_zone(zone_obj, &zone, &has_zone)) {
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        return PyErr_NoMemory();
    }
    err = ovsct_dump_start(ct, has_zone ? &zone : NULL, &c->dump);
    if (err) {
        free(c);
        return set_error(ct_state(self), err, NULL, NULL);
    }
    c->ct = ct;
    c->owner = self;
    capsule = PyCapsule_New(c, CURSOR_NAME, cursor_destroy);
    if (!capsule) {
        ovsct_dump_done(c->dump);
        free(c);
        return NULL;
    }
    Py_INCREF(self);
    self->n_cursors++;
    return capsule;
}

/* dump_text_next(cursor, verbose=False, stats=False, size=1 MiB,
 *                escaped=False) -> str or bytes
 *
 * The next OVS dump lines (each ending in "\n"), about 'size' bytes of
 * them, formatted with the GIL released; "" once the dump is over.  Lines
 * come in bucket (hash) order, as OVS prints them.  With 'escaped', bytes
 * ready to stand inside a JSON string: the lines are printable ASCII with
 * no quote or backslash, so only the newlines need escaping, done here
 * instead of in a second pass over the text. */
static PyObject *
ct_dump_text_next(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"cursor", "verbose", "stats", "size",
                             "escaped", NULL};
    PyObject *capsule, *result;
    struct dump_cursor *c;
    int verbose = 0, print_stats = 0, escaped = 0;
    Py_ssize_t want = 1 << 20;
    size_t len = 0, cap;
    char *text;
    int err = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|ppnp:dump_text_next",
                                     kwlist, &capsule, &verbose,
                                     &print_stats, &want, &escaped)) {
        return NULL;
    }
    c = PyCapsule_GetPointer(capsule, CURSOR_NAME);
    if (!c) {
        return NULL;
    }
    if (c->owner != self || c->busy) {
        PyErr_SetString(PyExc_ValueError,
                        "dump cursor of another Conntrack, or in use");
        return NULL;
    }
    if (want < 4096) {
        want = 4096;
    }
    cap = (size_t) want + 4096;
    text = malloc(cap);
    if (!text) {
        return PyErr_NoMemory();
    }
    c->busy = true;
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    int64_t now = ovsct_now(c->ct);
    while (len < (size_t) want) {
        size_t n = 0;

        err = ovsct_dump_next(c->dump, c->entries, CURSOR_ENTRIES, &n);
        if (err || !n) {
            break;
        }
        for (size_t i = 0; i < n && !err; i++) {
            for (;;) {
                int l = ovsct_format_entry(&c->entries[i], verbose,
                                           print_stats, now, text + len,
                                           cap - len);
                if (l < 0) {
                    err = EINVAL;
                    break;
                }
                if ((size_t) l + 2 < cap - len) {
                    len += (size_t) l;
                    if (escaped) {
                        text[len++] = '\\';
                        text[len++] = 'n';
                    } else {
                        text[len++] = '\n';
                    }
                    break;
                }
                char *t = realloc(text, cap * 2 + (size_t) l);
                if (!t) {
                    err = ENOMEM;
                    break;
                }
                text = t;
                cap = cap * 2 + (size_t) l;
            }
        }
    }
    Py_END_ALLOW_THREADS
    self->busy--;
    c->busy = false;
    if (err) {
        free(text);
        return set_error(ct_state(self), err, NULL, NULL);
    }
    result = escaped
             ? PyBytes_FromStringAndSize(text, (Py_ssize_t) len)
             : PyUnicode_DecodeASCII(text, (Py_ssize_t) len, NULL);
    free(text);
    return result;
}

/* stats(zone=None) -> (total, per_proto[OVSCT_PC_N], tcp_states[N]). */
static PyObject *
ct_stats(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"zone", NULL};
    struct ovsct *ct = ct_get(self);
    PyObject *zone_obj = Py_None;
    struct ovsct_stats s;
    uint16_t zone;
    bool has_zone;
    int err;

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs, "|O:stats", kwlist,
                                            &zone_obj)
        || parse_opt_zone(zone_obj, &zone, &has_zone)) {
        return NULL;
    }
    memset(&s, 0, sizeof s);
    CT_BEGIN(self);
    err = ovsct_stats(ct, has_zone ? &zone : NULL, &s);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }

    PyObject *protos = PyTuple_New(OVSCT_PC_N);
    PyObject *states = PyTuple_New(OVSCT_TCPS_N);
    if (!protos || !states) {
        goto error;
    }
    for (int i = 0; i < OVSCT_PC_N; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(s.per_proto[i]);
        if (!v) {
            goto error;
        }
        PyTuple_SET_ITEM(protos, i, v);
    }
    for (int i = 0; i < OVSCT_TCPS_N; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(s.tcp_states[i]);
        if (!v) {
            goto error;
        }
        PyTuple_SET_ITEM(states, i, v);
    }
    return Py_BuildValue("(KNN)", (unsigned long long) s.total, protos,
                         states);

error:
    Py_XDECREF(protos);
    Py_XDECREF(states);
    return NULL;
}

/* bucket_counts() -> bytes of n_buckets native uint32 values. */
static PyObject *
ct_bucket_counts(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    uint32_t *counts;
    uint32_t n;
    int err;

    if (!ct) {
        return NULL;
    }
    n = ovsct_n_buckets(ct);
    counts = PyMem_RawCalloc(n ? n : 1, sizeof *counts);
    if (!counts) {
        return PyErr_NoMemory();
    }
    CT_BEGIN(self);
    err = ovsct_bucket_counts(ct, counts);
    CT_END(self);
    PyObject *result = err
        ? set_error(ct_state(self), err, NULL, NULL)
        : PyBytes_FromStringAndSize((char *) counts, n * sizeof *counts);
    PyMem_RawFree(counts);
    return result;
}

/* counters() -> tuple in struct ovsct_counters order (COUNTER_NAMES). */
static PyObject *
ct_counters(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    struct ovsct_counters c;

    if (!ct) {
        return NULL;
    }
    memset(&c, 0, sizeof c);
    CT_BEGIN(self);
    ovsct_get_counters(ct, &c);
    CT_END(self);
    return Py_BuildValue("(KKKKKKKKKKKKKKKKKKKKK)",
                         (unsigned long long) c.packets,
                         (unsigned long long) c.invalid,
                         (unsigned long long) c.created,
                         (unsigned long long) c.removed,
                         (unsigned long long) c.expired,
                         (unsigned long long) c.full,
                         (unsigned long long) c.zone_full,
                         (unsigned long long) c.nat_exhausted,
                         (unsigned long long) c.lookup_reaped,
                         (unsigned long long) c.sweeps,
                         (unsigned long long) c.sweep_scanned,
                         (unsigned long long) c.lock_contended,
                         (unsigned long long) c.max_sweep_hold_ns,
                         (unsigned long long) c.sweep_hold_hist[0],
                         (unsigned long long) c.sweep_hold_hist[1],
                         (unsigned long long) c.sweep_hold_hist[2],
                         (unsigned long long) c.sweep_hold_hist[3],
                         (unsigned long long) c.sweep_hold_hist[4],
                         (unsigned long long) c.sweep_hold_hist[5],
                         (unsigned long long) c.sweep_hold_hist[6],
                         (unsigned long long) c.sweep_hold_hist[7]);
}

static PyObject *
ct_sweep_now(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    size_t n;

    if (!ct) {
        return NULL;
    }
    CT_BEGIN(self);
    n = ovsct_sweep_now(ct);
    CT_END(self);
    return PyLong_FromSize_t(n);
}

/* binding/invariant.c: check_invariants(), GIL released inside. */
PyObject *ovsct_py_check_invariants(struct ovsct *, PyObject *error);

static PyObject *
ct_check_invariants(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    PyObject *r;

    if (!ct) {
        return NULL;
    }
    self->busy++;
    r = ovsct_py_check_invariants(ct, ct_state(self)->ovsct_error);
    self->busy--;
    return r;
}

static PyMethodDef ct_methods[] = {
    {"check_invariants", (PyCFunction) ct_check_invariants, METH_NOARGS,
     "check_invariants(); raises OvsctError naming a broken invariant"},
    {"close", (PyCFunction) ct_close, METH_NOARGS,
     "close()\n\nStops the sweeper and frees the table (idempotent)."},
    {"set_time", (PyCFunction) ct_set_time, METH_O,
     "set_time(ms)\n\nSwitches to a manual clock at 'ms'."},
    {"use_real_clock", (PyCFunction) ct_use_real_clock, METH_NOARGS,
     "use_real_clock()\n\nReturns to CLOCK_MONOTONIC."},
    {"execute", (PyCFunction) ct_execute, METH_VARARGS,
     "execute(frames, offsets, action) -> bytes\n\n"
     "Runs 'action' (a tuple, see engine.py) on each frame; read-only\n"
     "'frames' are copied first, so NAT rewrites need a writable buffer."},
    {"execute_pcap", (PyCFunction) (void (*)(void)) ct_execute_pcap,
     METH_VARARGS | METH_KEYWORDS,
     "execute_pcap(path, action, batch=32, frames=False)\n\n"
     "-> states, or (states, frames, offsets) with the rewritten frames."},
    {"nconns", (PyCFunction) ct_nconns, METH_NOARGS, "nconns() -> int"},
    {"set_zone_limit", (PyCFunction) ct_set_zone_limit, METH_VARARGS,
     "set_zone_limit(zone, limit); zone -1: default"},
    {"del_zone_limit", (PyCFunction) ct_del_zone_limit, METH_O,
     "del_zone_limit(zone)"},
    {"get_zone_limit", (PyCFunction) ct_get_zone_limit, METH_O,
     "get_zone_limit(zone) -> (limit, count, is_explicit)"},
    {"list_zone_limits", (PyCFunction) ct_list_zone_limits, METH_NOARGS,
     "list_zone_limits() -> list[int]"},
    {"set_zone_tp", (PyCFunction) ct_set_zone_tp, METH_VARARGS,
     "set_zone_tp(zone, values)"},
    {"del_zone_tp", (PyCFunction) ct_del_zone_tp, METH_O,
     "del_zone_tp(zone)"},
    {"get_zone_tp", (PyCFunction) ct_get_zone_tp, METH_O,
     "get_zone_tp(zone) -> tuple | None"},
    {"list_zone_tps", (PyCFunction) ct_list_zone_tps, METH_NOARGS,
     "list_zone_tps() -> list[(zone, tuple)]"},
    {"flush", (PyCFunction) (void (*)(void)) ct_flush,
     METH_VARARGS | METH_KEYWORDS, "flush(zone=None) -> int"},
    {"flush_tuple", (PyCFunction) ct_flush_tuple, METH_VARARGS,
     "flush_tuple(zone, tuple)"},
    {"flush_filter", (PyCFunction) ct_flush_filter, METH_O,
     "flush_filter(filter) -> int"},
    {"dump", (PyCFunction) (void (*)(void)) ct_dump,
     METH_VARARGS | METH_KEYWORDS,
     "dump(zone=None) -> bytes of ENTRY_SIZE records"},
    {"dump_entries", (PyCFunction) ct_dump_entries, METH_VARARGS,
     "dump_entries(zone, Tuple, Entry, tcp_state_names) -> list"},
    {"dump_begin", (PyCFunction) (void (*)(void)) ct_dump_begin,
     METH_VARARGS | METH_KEYWORDS, "dump_begin(zone=None) -> cursor"},
    {"dump_text_next", (PyCFunction) (void (*)(void)) ct_dump_text_next,
     METH_VARARGS | METH_KEYWORDS,
     "dump_text_next(cursor, verbose=False, stats=False, size=1048576, "
     "escaped=False) -> str or bytes"},
    {"dump_text", (PyCFunction) (void (*)(void)) ct_dump_text,
     METH_VARARGS | METH_KEYWORDS,
     "dump_text(zone=None, verbose=False, stats=False, sort=True) -> str"},
    {"stats", (PyCFunction) (void (*)(void)) ct_stats,
     METH_VARARGS | METH_KEYWORDS,
     "stats(zone=None) -> (total, per_proto, tcp_states)"},
    {"bucket_counts", (PyCFunction) ct_bucket_counts, METH_NOARGS,
     "bucket_counts() -> bytes of uint32"},
    {"counters", (PyCFunction) ct_counters, METH_NOARGS,
     "counters() -> tuple (COUNTER_NAMES order)"},
    {"sweep_now", (PyCFunction) ct_sweep_now, METH_NOARGS,
     "sweep_now() -> int"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ct_getset[] = {
    {"closed", (getter) ct_get_closed, NULL, "True once closed", NULL},
    {"now", (getter) ct_get_now, NULL, "engine clock, ms", NULL},
    {"maxconns", (getter) ct_get_maxconns, (setter) ct_set_maxconns,
     "maximum number of connections", NULL},
    {"sweep_interval", (getter) ct_get_sweep_interval,
     (setter) ct_set_sweep_interval, "sweeper interval, ms", NULL},
    {"tcp_seq_chk", (getter) ct_get_tcp_seq_chk, (setter) ct_set_tcp_seq_chk,
     "TCP sequence checking", NULL},
    {"n_buckets", (getter) ct_get_n_buckets, NULL, "number of buckets",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot ct_slots[] = {
    {Py_tp_doc, "Conntrack(buckets=0, manual_clock=False, start_ms=0, "
                "sweeper=True)\n\nLow-level connection tracker; use "
                "ovsct.Conntrack."},
    {Py_tp_new, ct_new},
    {Py_tp_dealloc, ct_dealloc},
    {Py_tp_methods, ct_methods},
    {Py_tp_getset, ct_getset},
    {0, NULL},
};

static PyType_Spec ct_spec = {
    .name = "ovsct._engine.Conntrack",
    .basicsize = sizeof(CtObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = ct_slots,
};


/* Module functions. */

/* pcap_load(path) -> (frames bytes, offsets bytes of n + 1 uint32). */
static PyObject *
mod_pcap_load(PyObject *module, PyObject *arg)
{
    module_state *st = get_state(module);
    PyObject *path = NULL, *result = NULL;
    char errbuf[256] = "";
    uint8_t *data = NULL;
    uint32_t *offsets = NULL;
    size_t size = 0, n = 0;
    int err;

    if (!PyUnicode_FSConverter(arg, &path)) {
        return NULL;
    }
    const char *cpath = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    err = ovsct_pcap_load(cpath, &data, &size, &offsets, &n, errbuf,
                          sizeof errbuf);
    Py_END_ALLOW_THREADS
    if (err) {
        set_error(st, err, errbuf, arg);
    } else {
        result = Py_BuildValue("(y#y#)", (char *) data, (Py_ssize_t) size,
                               (char *) offsets,
                               (Py_ssize_t) ((n + 1) * sizeof *offsets));
    }
    free(data);
    free(offsets);
    Py_DECREF(path);
    return result;
}

/* pcap_write(path, frames, offsets): frames and offsets as for execute(). */
static PyObject *
mod_pcap_write(PyObject *module, PyObject *args)
{
    module_state *st = get_state(module);
    PyObject *path_obj, *path = NULL, *offsets_obj, *result = NULL;
    Py_buffer fb = { .obj = NULL }, ob = { .obj = NULL };
    uint32_t *owned = NULL;
    const uint32_t *offs;
    size_t n_offs;
    int err;

    if (!PyArg_ParseTuple(args, "Oy*O:pcap_write", &path_obj, &fb,
                          &offsets_obj)) {
        return NULL;
    }
    if (!PyUnicode_FSConverter(path_obj, &path)) {
        goto out;
    }
    if (fb.itemsize != 1) {
        PyErr_SetString(PyExc_TypeError, "frames must have itemsize 1");
        goto out;
    }
    if (get_offsets(offsets_obj, &ob, &offs, &n_offs, &owned)) {
        goto out;
    }
    if (!offsets_valid(offs, n_offs, fb.len)) {
        set_error(st, EINVAL, "bad batch layout", NULL);
        goto out_offsets;
    }
    static const uint32_t zero = 0;
    const char *cpath = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    err = ovsct_pcap_write(cpath, fb.buf, n_offs ? offs : &zero,
                           n_offs ? n_offs - 1 : 0);
    Py_END_ALLOW_THREADS
    if (err) {
        set_error(st, err, NULL, path_obj);
    } else {
        result = Py_NewRef(Py_None);
    }

out_offsets:
    put_offsets(&ob, owned);
out:
    PyBuffer_Release(&fb);
    Py_XDECREF(path);
    return result;
}

/* bench_run(phase, conns, threads, batch, buckets=0, sweep_interval=0,
 *           spread=0) -> JSON str. */
static PyObject *
mod_bench_run(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"phase", "conns", "threads", "batch", "buckets",
                             "sweep_interval", "spread", NULL};
    module_state *st = get_state(module);
    struct ovsct_bench_params p = { .buckets = 0 };
    PyObject *result;
    char *json;
    int err;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs,
                                     "sO&O&O&|O&O&O&:bench_run", kwlist,
                                     &p.phase, conv_u32, &p.conns,
                                     conv_u32, &p.threads, conv_u32, &p.batch,
                                     conv_u32, &p.buckets,
                                     conv_u32, &p.sweep_interval_ms,
                                     conv_u32, &p.spread_ms)) {
        return NULL;
    }
    json = PyMem_RawCalloc(1, BENCH_JSON_SIZE);
    if (!json) {
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    err = ovsct_bench_run(&p, json, BENCH_JSON_SIZE);
    Py_END_ALLOW_THREADS
    json[BENCH_JSON_SIZE - 1] = '\0';
    result = err ? set_error(st, err, json, NULL)
                 : PyUnicode_DecodeUTF8(json, strlen(json), "replace");
    PyMem_RawFree(json);
    return result;
}

static PyObject *
mod_trim(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    Py_BEGIN_ALLOW_THREADS
    ovsct_trim();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"pcap_load", mod_pcap_load, METH_O,
     "pcap_load(path) -> (frames, offsets)"},
    {"pcap_write", mod_pcap_write, METH_VARARGS,
     "pcap_write(path, frames, offsets)"},
    {"bench_run", (PyCFunction) (void (*)(void)) mod_bench_run,
     METH_VARARGS | METH_KEYWORDS,
     "bench_run(phase, conns, threads, batch, buckets=0) -> str (JSON)"},
    {"trim", mod_trim, METH_NOARGS,
     "trim()\n\nReturns free memory to the OS."},
    {NULL, NULL, 0, NULL},
};


/* Module init (multi-phase). */

/* Adds a tuple of the 'n' strings of 'names'. */
static int
add_names(PyObject *module, const char *attr, const char *const *names,
          int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        if (!s) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    if (!t) {
        return -1;
    }
    int ret = PyModule_AddObjectRef(module, attr, t);
    Py_DECREF(t);
    return ret;
}

static int
module_exec(PyObject *module)
{
    module_state *st = get_state(module);
    PyObject *errors = PyImport_ImportModule("ovsct.errors");
    if (!errors) {
        return -1;
    }
    st->ovsct_error = PyObject_GetAttrString(errors, "OvsctError");
    st->table_full = PyObject_GetAttrString(errors, "TableFull");
    st->not_found = PyObject_GetAttrString(errors, "NotFound");
    Py_DECREF(errors);
    if (!st->ovsct_error || !st->table_full || !st->not_found) {
        return -1;
    }

    st->conntrack_type = (PyTypeObject *) PyType_FromModuleAndSpec(
        module, &ct_spec, NULL);
    if (!st->conntrack_type
        || PyModule_AddType(module, st->conntrack_type) < 0) {
        return -1;
    }

    PyObject *defaults = PyTuple_New(OVSCT_TP_N);
    for (int i = 0; defaults && i < OVSCT_TP_N; i++) {
        PyObject *v = PyLong_FromUnsignedLong(ovsct_tp_defaults[i]);
        if (!v) {
            Py_CLEAR(defaults);
            break;
        }
        PyTuple_SET_ITEM(defaults, i, v);
    }
    if (!defaults || PyModule_AddObjectRef(module, "TP_DEFAULTS",
                                           defaults) < 0) {
        Py_XDECREF(defaults);
        return -1;
    }
    Py_DECREF(defaults);

    if (add_names(module, "TP_NAMES", ovsct_tp_names, OVSCT_TP_N) < 0
        || PyModule_AddIntConstant(module, "ENTRY_SIZE",
                                   sizeof(struct ovsct_entry)) < 0
        || PyModule_AddIntConstant(module, "TUPLE_SIZE",
                                   sizeof(struct ovsct_tuple)) < 0
        || PyModule_AddIntConstant(module, "DEFAULT_BUCKETS",
                                   OVSCT_DEFAULT_BUCKETS) < 0
        || PyModule_AddIntConstant(module, "DEFAULT_MAXCONNS",
                                   OVSCT_DEFAULT_MAXCONNS) < 0
        || PyModule_AddIntConstant(module, "DEFAULT_SWEEP_MS",
                                   OVSCT_DEFAULT_SWEEP_MS) < 0
        || PyModule_AddIntConstant(module, "PC_N", OVSCT_PC_N) < 0
        || PyModule_AddIntConstant(module, "TCPS_N", OVSCT_TCPS_N) < 0) {
        return -1;
    }
    return 0;
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    module_state *st = get_state(module);
    Py_VISIT(st->conntrack_type);
    Py_VISIT(st->ovsct_error);
    Py_VISIT(st->table_full);
    Py_VISIT(st->not_found);
    return 0;
}

static int
module_clear(PyObject *module)
{
    module_state *st = get_state(module);
    Py_CLEAR(st->conntrack_type);
    Py_CLEAR(st->ovsct_error);
    Py_CLEAR(st->table_full);
    Py_CLEAR(st->not_found);
    return 0;
}

static void
module_free(void *module)
{
    module_clear((PyObject *) module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef engine_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ovsct._engine",
    .m_doc = "C core of ovsct (see ovsct.h); use ovsct.engine.",
    .m_size = sizeof(module_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__engine(void)
{
    return PyModuleDef_Init(&engine_module);
}
