/*
 * events.c -- connection events in the ovsct._engine binding:
 * Conntrack.events_subscribe(), events_unsubscribe(), events_read().
 *
 * events_read() copies events out of the engine's ring and formats each
 * entry's dump line (ovsct_format_entry(), as dump-conntrack does) with
 * the GIL released, then makes (seq, type, Entry, line) tuples; the type
 * is a name of EVENT_NAMES (ext/names.c).  The cursor crosses the
 * boundary as a (seq, dropped) pair of ints.  Neighbours: binding.h,
 * dumpobj.c (Entry objects), ext/events.c (the ring), ovsct/engine.py.
 */
#include "binding.h"

#include <errno.h>
#include <stdlib.h>

#include "names.h"

/* Events copied per call at most. */
#define EVENTS_MAX 16384
/* Room for one formatted line (format.c lines stay well below). */
#define LINE_MAX_LEN 1024

PyObject *
ct_events_subscribe(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    struct ovsct_events_cursor cur;
    int err;

    if (!ct) {
        return NULL;
    }
    CT_BEGIN(self);
    err = ovsct_events_subscribe(ct, &cur);
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }
    return Py_BuildValue("(KK)", (unsigned long long) cur.seq,
                         (unsigned long long) cur.dropped);
}

PyObject *
ct_events_unsubscribe(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);

    if (!ct) {
        return NULL;
    }
    ovsct_events_unsubscribe(ct);
    Py_RETURN_NONE;
}

/* events_read((seq, dropped), max, filter, verbose, stats, Tuple, Entry,
 *             tcp_state_names) -> ([(seq, type, Entry, line)], cursor,
 *             lost) */
PyObject *
ct_events_read(CtObject *self, PyObject *args)
{
    struct ovsct *ct = ct_get(self);
    struct ovsct_flush_filter filter;
    struct ovsct_events_cursor cur;
    struct ovsct_event *buf = NULL;
    PyObject *filter_obj, *tuple_type, *entry_type, *tcp_names;
    PyObject *list = NULL, *result = NULL;
    unsigned long long seq, dropped;
    Py_ssize_t max;
    int verbose, stats, err;
    struct builder *b = NULL;
    char *text = NULL;
    uint64_t lost = 0;
    int64_t now = 0;
    size_t n = 0;

    if (!ct || !PyArg_ParseTuple(args, "(KK)nOppOOO:events_read", &seq,
                                 &dropped, &max, &filter_obj, &verbose,
                                 &stats, &tuple_type, &entry_type,
                                 &tcp_names)) {
        return NULL;
    }
    if (max <= 0 || max > EVENTS_MAX) {
        PyErr_Format(PyExc_ValueError, "max must be 1..%d", EVENTS_MAX);
        return NULL;
    }
    if (filter_obj != Py_None && parse_filter(filter_obj, &filter)) {
        return NULL;
    }
    b = entry_builder_new(tuple_type, entry_type, tcp_names);
    buf = malloc((size_t) max * sizeof *buf);
    if (!b || !buf) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        goto out;
    }
    cur.seq = seq;
    cur.dropped = dropped;
    CT_BEGIN(self);
    err = ovsct_events_read(ct, &cur, filter_obj != Py_None ? &filter : NULL,
                            buf, (size_t) max, &n, &lost);
    now = ovsct_now(ct);
    if (!err && n) {
        text = malloc(n * LINE_MAX_LEN);
        err = text ? 0 : ENOMEM;
    }
    for (size_t i = 0; !err && i < n; i++) {
        ovsct_format_entry(&buf[i].entry, verbose, stats, now,
                           text + i * LINE_MAX_LEN, LINE_MAX_LEN);
    }
    CT_END(self);
    if (err) {
        set_error(ct_state(self), err, err == EINVAL
                  ? "events were never enabled on this table" : NULL, NULL);
        goto out;
    }
    list = PyList_New((Py_ssize_t) n);
    for (size_t i = 0; list && i < n; i++) {
        uint8_t type = buf[i].type < OVSCT_EVENT_TYPES_N ? buf[i].type : 0;
        PyObject *entry = entry_builder_make(b, &buf[i].entry, now);
        PyObject *item = entry ? Py_BuildValue(
            "(KsNs)", (unsigned long long) buf[i].seq,
            ovsct_event_names[type], entry, text + i * LINE_MAX_LEN) : NULL;

        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t) i, item);
    }
    if (list) {
        result = Py_BuildValue("(N(KK)K)", list,
                               (unsigned long long) cur.seq,
                               (unsigned long long) cur.dropped,
                               (unsigned long long) lost);
    }
out:
    entry_builder_free(b);
    free(buf);
    free(text);
    return result;
}
