/*
 * module.c -- the ovsct._engine extension: module init, the Conntrack
 * type and its methods for execution, settings, limits, timeout policies,
 * flushes and statistics, and the module functions (captures, names).
 *
 * A thin binding of ext/ovsct.h.  ovsct/engine.py is the public wrapper:
 * it turns its value types into the plain tuples this module takes and
 * the buffers it returns into Python values.  Neighbours: binding.h
 * (shared declarations), convert.c (argument conversion, set_error()),
 * dumpobj.c (dump objects and text streams), ext/ovsct.h (the contract
 * wrapped here), ext/names.h (the names exported as module constants),
 * dpio/pcap.h and dpio/replay.h (captures), ovsct/errors.py (exception classes).
 *
 * Rules:
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
#include "binding.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "pcap.h"
#include "replay.h"

/* Conntrack: creation, clock, execution. */

/* Read-only batches copied by execute() (see frame_copies()). */
static _Atomic unsigned long long frame_copies;

static PyObject *
ct_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"buckets", "manual_clock", "start_ms",
                             "sweeper", "bucket_low_bits", "event_ring",
                             NULL};
    module_state *st = PyType_GetModuleState(type);
    uint32_t buckets = 0, event_ring = 0;
    int manual_clock = 0, sweeper = 1, low_bits = 0;
    long long start_ms = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O&pLppO&:Conntrack",
                                     kwlist, conv_u32, &buckets,
                                     &manual_clock, &start_ms, &sweeper,
                                     &low_bits, conv_u32, &event_ring)) {
        return NULL;
    }

    struct ovsct_config cfg = {
        .n_buckets = buckets,
        .manual_clock = manual_clock,
        .start_ms = start_ms,
        .no_sweeper = !sweeper,
        .bucket_low_bits = low_bits,
        .event_ring = event_ring,
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

/* execute(frames, offsets, action[, lens[, tag_base]]) -> bytes of n
 * ct_state values.  'lens', a writable buffer of n native uint32
 * (array('I')) or None, gives each frame's length within its slot and
 * receives the new lengths (the FTP helper's NAT rewrites, struct
 * ovsct_batch).  'tag_base' (default 0): frame i's reassembly tag is
 * tag_base + i, every one below OVSCT_TAG_LIVE (ValueError otherwise). */
static PyObject *
ct_execute(CtObject *self, PyObject *args)
{
    module_state *st = ct_state(self);
    PyObject *frames_obj, *offsets_obj, *action_obj, *lens_obj = Py_None;
    Py_buffer lb = { .obj = NULL };
    uint32_t *lens = NULL;
    struct ovsct_action action;
    Py_buffer fb = { .obj = NULL }, ob = { .obj = NULL };
    uint32_t *owned = NULL;
    const uint32_t *offs = NULL;
    size_t n_offs = 0;
    uint8_t *states = NULL;
    bool readonly = false;
    PyObject *result = NULL;
    uint64_t tag_base = 0;
    int err = 0;

    struct ovsct *ct = ct_get(self);
    if (!ct || !PyArg_ParseTuple(args, "OOO|OO&:execute", &frames_obj,
                                 &offsets_obj, &action_obj, &lens_obj,
                                 conv_u64, &tag_base)
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
    if (tag_base >= OVSCT_TAG_LIVE || OVSCT_TAG_LIVE - tag_base < n) {
        PyErr_SetString(PyExc_ValueError, "tag_base: tags with TAG_LIVE "
                        "(bit 63) are the live datapath's");
        goto out;
    }
    if (lens_obj != Py_None) {
        if (PyObject_GetBuffer(lens_obj, &lb, PyBUF_WRITABLE
                               | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
            goto out;
        }
        if (lb.itemsize != 4 || (size_t) lb.len != 4 * n
            || ((uintptr_t) lb.buf) % _Alignof(uint32_t)) {
            PyErr_SetString(PyExc_ValueError, "lens must be a writable "
                            "buffer of one uint32 per frame");
            goto out;
        }
        lens = lb.buf;
        if (readonly) {
            PyErr_SetString(PyExc_ValueError, "lens needs writable frames");
            goto out;
        }
    }
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

    /* Only NAT rewrites frames (ovsct_execute() never writes to a frame
     * otherwise): a read-only buffer is used in place unless the action
     * translates, and then copied so that the caller's bytes stay as they
     * were. */
    bool need_copy = readonly && action.nat.kind != 0;
    if (need_copy) {
        atomic_fetch_add_explicit(&frame_copies, 1, memory_order_relaxed);
    }
    CT_BEGIN(self);
    uint8_t *data = fb.buf;
    uint8_t *copy = NULL;
    if (need_copy) {
        copy = malloc(fb.len ? fb.len : 1);
        if (copy) {
            memcpy(copy, fb.buf, fb.len);
        }
        data = copy;
    }
    if (data) {
        struct ovsct_batch batch = {
            .data = data, .size = fb.len, .offsets = offs, .n = n,
            .lens = lens, .tag_base = tag_base,
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
    if (lb.obj) {
        PyBuffer_Release(&lb);
    }
    PyBuffer_Release(&fb);
    return result;
}

/* dump_exp_text(zone=None) -> list of str: the ALG expectations as
 * dpctl/dump-conntrack-exp prints them (ovsct_format_exp()). */
static PyObject *
ct_dump_exp_text(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"zone", NULL};
    PyObject *zone_obj = Py_None, *list = NULL;
    struct ovsct_exp *exps = NULL;
    uint16_t zone;
    size_t n, cap = 64;
    struct ovsct *ct = ct_get(self);

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs,
                                            "|O:dump_exp_text", kwlist,
                                            &zone_obj)) {
        return NULL;
    }
    if (zone_obj != Py_None && !conv_u16(zone_obj, &zone)) {
        return NULL;
    }
    for (;;) {
        exps = PyMem_RawMalloc(cap * sizeof *exps);
        if (!exps) {
            return PyErr_NoMemory();
        }
        CT_BEGIN(self);
        n = ovsct_exp_dump(ct, zone_obj != Py_None ? &zone : NULL, exps, cap);
        CT_END(self);
        if (n <= cap) {
            break;
        }
        PyMem_RawFree(exps);
        cap = n + 64;
    }
    list = PyList_New((Py_ssize_t) n);
    for (size_t i = 0; list && i < n; i++) {
        char line[1024];
        PyObject *s;

        ovsct_format_exp(&exps[i], line, sizeof line);
        s = PyUnicode_FromString(line);
        if (!s) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t) i, s);
    }
    PyMem_RawFree(exps);
    return list;
}

/* A fragment that left reassembly after the group of frames it came in
 * (replay.late): its state replaces OVSCT_STATE_HELD in 'aux', the
 * bytearray of every state so far (owned by execute_pcap(), which holds
 * no lock on it: nobody else sees it yet). */
static void
late_state(void *aux, uint64_t tag, uint8_t state,
           const uint8_t *Py_UNUSED(frame), uint32_t Py_UNUSED(len))
{
    PyObject *all = aux;

    if (tag < (uint64_t) PyByteArray_GET_SIZE(all)) {
        PyByteArray_AS_STRING(all)[tag] = (char) state;
    }
}

/* execute_pcap(path, action, batch=32, capture_clock=False, write=None,
 *              on_batch=None)
 *   -> bytes of the ct_states of every frame, or with 'on_batch' the number
 *      of frames, on_batch(states) having been called with the states of
 *      each group of frames as soon as they were run.
 *
 * The loop is in C: the reader (dpio/pcap.c) hands over frames converted
 * to Ethernet with their time stamps, the replay loop (dpio/replay.c) sets
 * the engine's clock from them ('capture_clock') and runs them, and the
 * writer ('write': a path) puts them back, after NAT, in their original
 * container, link type and time stamps.  Python runs only between groups,
 * for 'on_batch'.  With 'on_batch', input is read as a stream: a group
 * ends as soon as no more frames are ready without waiting ("-" is
 * standard input).  On a read error the frames before it have been run
 * (and given to 'on_batch'); the error is raised after them.
 *
 * Each frame's reassembly tag is its index in the capture.  A fragment held
 * by reassembly (OVSCT_STATE_HELD) that leaves within its group gets its
 * final state and frame (as NAT rewrote its datagram) there; without
 * 'on_batch' one that leaves later, or at the end of the capture (lists
 * never completed expire then, their fragments as inv), gets its state in
 * the result, but 'write' has written its frame as it came in.  With
 * 'on_batch', it stays OVSCT_STATE_HELD in the states given.
 *
 * With NAT in the action, frames run with room to grow (dpio/replay.h), so
 * that the FTP helper rewrites PORT, 227 and EPRT lines; 'write' writes
 * each frame at its new length. */
static PyObject *
ct_execute_pcap(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path", "action", "batch", "capture_clock",
                             "write", "on_batch", NULL};
    module_state *st = ct_state(self);
    PyObject *path_obj, *path = NULL, *action_obj, *result = NULL;
    PyObject *write_obj = Py_None, *write = NULL, *on_batch = Py_None;
    PyObject *all = NULL;       /* bytearray of states, without on_batch */
    struct ovsct_action action;
    uint32_t batch = 32;
    int capture_clock = 0;
    char errbuf[256] = "";
    struct ovsct_pcap *reader = NULL;
    struct ovsct_pcap_writer *writer = NULL;
    struct ovsct_pcap_frames frames = { 0 };
    struct ovsct_replay replay = { 0 };
    uint8_t *states = NULL;
    size_t total = 0;
    int err = 0;

    struct ovsct *ct = ct_get(self);
    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs,
                                            "OO|O&pOO:execute_pcap", kwlist,
                                            &path_obj, &action_obj, conv_u32,
                                            &batch, &capture_clock,
                                            &write_obj, &on_batch)
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
    if (on_batch != Py_None && !PyCallable_Check(on_batch)) {
        PyErr_SetString(PyExc_TypeError, "on_batch must be callable");
        goto out;
    }
    if (write_obj != Py_None && !PyUnicode_FSConverter(write_obj, &write)) {
        goto out;
    }
    bool stream = on_batch != Py_None;
    size_t chunk = stream || batch >= 8192 ? batch : 8192;
    states = malloc(chunk);
    if (!stream) {
        all = PyByteArray_FromStringAndSize(NULL, 0);
    }
    if (!states || (!stream && !all)) {
        PyErr_NoMemory();
        goto out;
    }

    const char *cpath = PyBytes_AS_STRING(path);
    const char *wpath = write ? PyBytes_AS_STRING(write) : NULL;
    CT_BEGIN(self);
    err = ovsct_pcap_open(cpath, &reader, errbuf, sizeof errbuf);
    CT_END(self);
    if (err) {
        set_error(st, err, errbuf, path_obj);
        goto out;
    }
    if (wpath) {
        CT_BEGIN(self);
        err = ovsct_pcap_writer_open(wpath, reader, &writer);
        CT_END(self);
        if (err) {
            set_error(st, err, NULL, write_obj);
            goto out;
        }
    }

    replay = (struct ovsct_replay) {
        .ct = ct, .action = &action, .batch = batch,
        .capture_clock = capture_clock,
        .late = stream ? NULL : late_state, .late_aux = all,
    };
    for (;;) {
        int read_err, write_err = 0;

        CT_BEGIN(self);
        read_err = ovsct_pcap_read(reader, &frames, chunk, stream);
        err = ovsct_replay_frames(&replay, &frames, states);
        if (!err && writer) {
            write_err = ovsct_pcap_writer_put(writer, reader, &frames);
        }
        CT_END(self);

        if (err) {
            set_error(st, err, NULL, NULL);
            goto out;
        }
        if (write_err) {
            set_error(st, write_err, NULL, write_obj);
            goto out;
        }
        total += frames.n;
        if (frames.n) {
            if (stream) {
                PyObject *r = PyObject_CallFunction(on_batch, "y#",
                                                    (char *) states,
                                                    (Py_ssize_t) frames.n);
                if (!r) {
                    goto out;
                }
                Py_DECREF(r);
            } else if (PyByteArray_Resize(all, (Py_ssize_t) total)) {
                goto out;
            } else {
                memcpy(PyByteArray_AS_STRING(all) + total - frames.n,
                       states, frames.n);
            }
        }
        if (read_err) {
            set_error(st, read_err, ovsct_pcap_error(reader), path_obj);
            goto out;
        }
        if (!frames.n) {
            break;
        }
    }

    CT_BEGIN(self);
    ovsct_replay_finish(&replay);
    err = ovsct_pcap_writer_close(writer);
    CT_END(self);
    writer = NULL;
    if (err) {
        set_error(st, err, NULL, write_obj);
    } else if (stream) {
        result = PyLong_FromSize_t(total);
    } else {
        result = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(all),
                                           (Py_ssize_t) total);
    }

out:
    if (reader || writer) {
        CT_BEGIN(self);
        ovsct_pcap_writer_close(writer);
        ovsct_pcap_close(reader);
        CT_END(self);
    }
    ovsct_replay_release(&replay);
    ovsct_pcap_frames_free(&frames);
    free(states);
    Py_XDECREF(all);
    Py_XDECREF(path);
    Py_XDECREF(write);
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
    struct ovsct_filter filter;
    size_t n_flushed = 0;
    bool has;
    int err;

    if (!ct || parse_filter(arg, &filter, &has)) {
        return NULL;
    }
    CT_BEGIN(self);
    err = has ? ovsct_flush_filter(ct, &filter, &n_flushed)
              : ovsct_flush(ct, NULL, &n_flushed);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }
    return PyLong_FromSize_t(n_flushed);
}


/* stats(filter=None) -> (total, per_proto, tcp_states) */
static PyObject *
ct_stats(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"filter", NULL};
    struct ovsct *ct = ct_get(self);
    PyObject *filter_obj = Py_None;
    struct ovsct_filter filter;
    struct ovsct_stats s;
    bool has;
    int err;

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs, "|O:stats", kwlist,
                                            &filter_obj)
        || parse_filter(filter_obj, &filter, &has)) {
        return NULL;
    }
    memset(&s, 0, sizeof s);
    CT_BEGIN(self);
    err = ovsct_stats(ct, has ? &filter : NULL, &s);
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
    uint64_t v[OVSCT_N_COUNTERS];
    ovsct_counters_flatten(&c, v);
    PyObject *t = PyTuple_New(OVSCT_N_COUNTERS);
    for (int i = 0; t && i < OVSCT_N_COUNTERS; i++) {
        PyObject *x = PyLong_FromUnsignedLongLong(v[i]);
        if (!x) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
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
     "'frames' are used in place, or copied first if the action has NAT,\n"
     "so NAT rewrites need a writable buffer to be seen."},
    {"execute_pcap", (PyCFunction) (void (*)(void)) ct_execute_pcap,
     METH_VARARGS | METH_KEYWORDS,
     "execute_pcap(path, action, batch=32, capture_clock=False, "
     "write=None, on_batch=None)\n\n"
     "-> states, or with on_batch the number of frames."},
    {"nconns", (PyCFunction) ct_nconns, METH_NOARGS, "nconns() -> int"},
    {"dump_exp_text", (PyCFunction) (void (*)(void)) ct_dump_exp_text,
     METH_VARARGS | METH_KEYWORDS,
     "dump_exp_text(zone=None) -> list[str]: ALG expectations"},
    {"ipf_set_enabled", (PyCFunction) ct_ipf_set_enabled, METH_VARARGS,
     "ipf_set_enabled(v6, enabled)"},
    {"ipf_set_min_frag", (PyCFunction) ct_ipf_set_min_frag, METH_VARARGS,
     "ipf_set_min_frag(v6, size); ValueError below 400"},
    {"ipf_set_max_nfrags", (PyCFunction) ct_ipf_set_max_nfrags, METH_O,
     "ipf_set_max_nfrags(n); ValueError above 5000"},
    {"ipf_status", (PyCFunction) ct_ipf_status, METH_NOARGS,
     "ipf_status() -> dict"},
    {"ipf_lists", (PyCFunction) ct_ipf_lists, METH_NOARGS,
     "ipf_lists() -> list of OVS fragment list lines"},
    {"ipf_drain", (PyCFunction) (void (*)(void)) ct_ipf_drain,
     METH_VARARGS | METH_KEYWORDS,
     "ipf_drain(expire_all=False, mask=TAG_LIVE, value=0)\n"
     "  -> [(tag, state, frame)]\n\n"
     "Fragments that left reassembly since the last drain whose tag &\n"
     "mask == value (default: every tag but the live datapath's)."},
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
    {"events_subscribe", (PyCFunction) ct_events_subscribe, METH_NOARGS,
     "events_subscribe() -> (seq, dropped): a cursor at the next event"},
    {"events_unsubscribe", (PyCFunction) ct_events_unsubscribe, METH_NOARGS,
     "events_unsubscribe()"},
    {"events_read", (PyCFunction) ct_events_read, METH_VARARGS,
     "events_read(cursor, max, filter, verbose, stats, Tuple, Entry, "
     "tcp_state_names) -> ([(seq, type, Entry, line)], cursor, lost)"},
    {"dump_entries", (PyCFunction) ct_dump_entries, METH_VARARGS,
     "dump_entries(filter, Tuple, Entry, tcp_state_names) -> list"},
    {"dump_begin", (PyCFunction) (void (*)(void)) ct_dump_begin,
     METH_VARARGS | METH_KEYWORDS, "dump_begin(filter=None) -> cursor"},
    {"dump_entries_next",
     (PyCFunction) (void (*)(void)) ct_dump_entries_next,
     METH_VARARGS | METH_KEYWORDS,
     "dump_entries_next(cursor, Tuple, Entry, tcp_state_names, max=256)"},
    {"dump_text_next", (PyCFunction) (void (*)(void)) ct_dump_text_next,
     METH_VARARGS | METH_KEYWORDS,
     "dump_text_next(cursor, verbose=False, stats=False, size=1048576, "
     "escaped=False, json=False) -> str or bytes"},
    {"dump_text", (PyCFunction) (void (*)(void)) ct_dump_text,
     METH_VARARGS | METH_KEYWORDS,
     "dump_text(filter=None, verbose=False, stats=False, sort=True, "
     "json=False) -> str or bytes"},
    {"stats", (PyCFunction) (void (*)(void)) ct_stats,
     METH_VARARGS | METH_KEYWORDS,
     "stats(filter=None) -> (total, per_proto, tcp_states)"},
    {"bucket_counts", (PyCFunction) ct_bucket_counts, METH_NOARGS,
     "bucket_counts() -> bytes of uint32"},
    {"counters", (PyCFunction) ct_counters, METH_NOARGS,
     "counters() -> tuple (COUNTER_NAMES order)"},
    {"sweep_now", (PyCFunction) ct_sweep_now, METH_NOARGS,
     "sweep_now() -> int"},
    {"save", (PyCFunction) ct_save, METH_O,
     "save(path) -> dict\n\nWrites the whole state to 'path' atomically "
     "(see ovsct_save())."},
    {"restore", (PyCFunction) ct_restore, METH_O,
     "restore(path) -> dict\n\nAdds the state saved in 'path'; a bad "
     "file raises ValueError and changes nothing."},
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

static PyObject *
mod_trim(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    Py_BEGIN_ALLOW_THREADS
    ovsct_trim();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* tcp_state_coalesce(orig, reply) -> int: the one state OVS prints for
 * two peer states (names.h ovsct_tcp_state_coalesce()). */
static PyObject *
mod_tcp_state_coalesce(PyObject *Py_UNUSED(module), PyObject *args)
{
    uint8_t orig, reply;

    if (!PyArg_ParseTuple(args, "O&O&:tcp_state_coalesce", conv_u8, &orig,
                          conv_u8, &reply)) {
        return NULL;
    }
    return PyLong_FromLong(ovsct_tcp_state_coalesce(orig, reply));
}

/* frame_copies() -> int: read-only frame batches execute() had to copy
 * (only when the action may rewrite frames, i.e. has NAT). */
static PyObject *
mod_frame_copies(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromUnsignedLongLong(
        atomic_load_explicit(&frame_copies, memory_order_relaxed));
}

static PyMethodDef module_methods[] = {
    {"tcp_state_coalesce", mod_tcp_state_coalesce, METH_VARARGS,
     "tcp_state_coalesce(orig, reply) -> int\n\nThe single TCP state OVS "
     "prints for the two peer states (indexes of TCP_STATE_NAMES)."},
    {"frame_copies", mod_frame_copies, METH_NOARGS,
     "frame_copies() -> int\n\nRead-only frame batches copied by "
     "execute() because the action could rewrite them (NAT)."},
    {"pcap_load", mod_pcap_load, METH_O,
     "pcap_load(path) -> (frames, offsets)"},
    {"pcap_write", mod_pcap_write, METH_VARARGS,
     "pcap_write(path, frames, offsets)"},
    {"trim", mod_trim, METH_NOARGS,
     "trim()\n\nReturns free memory to the OS."},
    {NULL, NULL, 0, NULL},
};


/* Module init (multi-phase). */

/* Adds a tuple of the 'n' strings of 'names' (binding.h). */
int
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

/* PROTO_NAMES: {IP protocol number: name} for every named protocol. */
static int
add_proto_names(PyObject *module)
{
    PyObject *d = PyDict_New();
    for (int p = 0; d && p < 256; p++) {
        const char *name = ovsct_proto_name((uint8_t) p);
        if (!name) {
            continue;
        }
        PyObject *k = PyLong_FromLong(p);
        PyObject *v = PyUnicode_FromString(name);
        if (!k || !v || PyDict_SetItem(d, k, v) < 0) {
            Py_CLEAR(d);
        }
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    if (!d) {
        return -1;
    }
    int ret = PyModule_AddObjectRef(module, "PROTO_NAMES", d);
    Py_DECREF(d);
    return ret;
}

/* CT_STATE_NAMES: ((bit, name), ...) in OVS's print order. */
static int
add_ct_state_names(PyObject *module)
{
    PyObject *t = PyTuple_New(OVSCT_CS_N);
    for (int i = 0; t && i < OVSCT_CS_N; i++) {
        PyObject *pair = Py_BuildValue("(is)", ovsct_cs_names[i].bit,
                                       ovsct_cs_names[i].name);
        if (!pair) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, pair);
    }
    if (!t) {
        return -1;
    }
    int ret = PyModule_AddObjectRef(module, "CT_STATE_NAMES", t);
    Py_DECREF(t);
    return ret;
}

/* An unsigned 64-bit constant (PyModule_AddIntConstant() takes a long). */
static int
add_u64(PyObject *module, const char *attr, uint64_t v)
{
    PyObject *o = PyLong_FromUnsignedLongLong(v);
    if (!o) {
        return -1;
    }
    int ret = PyModule_AddObjectRef(module, attr, o);
    Py_DECREF(o);
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

    /* Kernel datapath decoder (binding/nfct.c, issue 11). */
    if (ovsct_nfct_add_to_module(module) < 0) {
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

    /* ALG_NAMES[i] is helper OVSCT_ALG_* i + 1 (0 is none). */
    if (add_names(module, "ALG_NAMES", ovsct_alg_names + 1,
                  OVSCT_ALG_N - 1) < 0
        || add_names(module, "TP_NAMES", ovsct_tp_names, OVSCT_TP_N) < 0
        || add_names(module, "EVENT_NAMES", ovsct_event_names,
                     OVSCT_EVENT_TYPES_N) < 0
        || add_names(module, "TCP_STATE_NAMES", ovsct_tcp_state_names,
                     OVSCT_TCPS_N) < 0
        || add_names(module, "TCP_FLAG_NAMES", ovsct_tcp_flag_names,
                     OVSCT_TCPF_N) < 0
        || add_names(module, "PROTO_CLASSES", ovsct_proto_class_names,
                     OVSCT_PC_N) < 0
        || add_names(module, "PROTO_CLASS_LABELS", ovsct_proto_class_labels,
                     OVSCT_PC_N) < 0
        || add_names(module, "COUNTER_NAMES", ovsct_counter_names,
                     OVSCT_N_COUNTERS) < 0
        || add_proto_names(module) < 0
        || add_ct_state_names(module) < 0
        || PyModule_AddIntConstant(module, "DEFAULT_BUCKETS",
                                   OVSCT_DEFAULT_BUCKETS) < 0
        || PyModule_AddIntConstant(module, "DEFAULT_MAXCONNS",
                                   OVSCT_DEFAULT_MAXCONNS) < 0
        || PyModule_AddIntConstant(module, "DEFAULT_SWEEP_MS",
                                   OVSCT_DEFAULT_SWEEP_MS) < 0
        || PyModule_AddIntConstant(module, "PC_N", OVSCT_PC_N) < 0
        || PyModule_AddIntConstant(module, "TCPS_N", OVSCT_TCPS_N) < 0
        || add_u64(module, "TAG_LIVE", OVSCT_TAG_LIVE) < 0) {
        return -1;
    }
    /* Live datapath (binding/live.c, issue 10): after the Conntrack type,
     * which Live(conntrack) checks. */
    if (ovsct_live_add_to_module(module) < 0) {
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
