/*
 * events.c -- connection events in the ovsct._engine binding:
 * Conntrack.events_subscribe(), events_unsubscribe(), events_read().
 *
 * events_read() copies events out of the engine's ring and formats each
 * entry's dump line (ovsct_format_entry(), as dump-conntrack does) and
 * its JSON object (ovsct_format_entry_json() plus "event") with the GIL
 * released, then makes (seq, type, Entry, line, json) tuples; the type is
 * a name of EVENT_NAMES (ext/names.c).  The cursor crosses the
 * boundary as a (seq, dropped) pair of ints.  Neighbours: binding.h,
 * dumpobj.c (Entry objects), ext/events.c (the ring), ovsct/engine.py.
 */
#include "binding.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* Events copied per call at most. */
#define EVENTS_MAX 16384
/* Room for one formatted line (format.c lines stay well below). */
#define LINE_MAX_LEN 1024
/* Room for one event's JSON object (format.c objects stay well below). */
#define JSON_MAX_LEN 2048

/* Writes the JSON object of 'ev' to 'buf': the dump's object with
 * "event":TYPE inserted after "bucket" (its first key, a number), so that
 * the keys stay sorted as ovsct_format_entry_json() writes them.  Returns
 * 0, or ENOSPC if it does not fit. */
static int
format_event_json(const struct ovsct_event *ev, int64_t now, char *buf,
                  size_t size)
{
    uint8_t type = ev->type < OVSCT_EVENT_TYPES_N ? ev->type : 0;
    const char *name = ovsct_event_names[type];
    char obj[JSON_MAX_LEN];
    int len = ovsct_format_entry_json(&ev->entry, now, obj, sizeof obj);
    const char *comma = len > 0 && (size_t) len < sizeof obj
                        ? strchr(obj, ',') : NULL;
    int n;

    if (!comma) {
        return ENOSPC;
    }
    n = snprintf(buf, size, "%.*s\"event\":\"%s\",%s",
                 (int) (comma - obj + 1), obj, name, comma + 1);
    return n < 0 || (size_t) n >= size ? ENOSPC : 0;
}

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
 *             tcp_state_names) -> ([(seq, type, Entry, line, json)],
 *             cursor, lost)
 *
 * 'filter' is the dumps' (convert.c parse_filter()); 'json' is bytes. */
PyObject *
ct_events_read(CtObject *self, PyObject *args)
{
    struct ovsct *ct = ct_get(self);
    struct ovsct_filter filter;
    struct ovsct_events_cursor cur;
    struct ovsct_event *buf = NULL;
    PyObject *filter_obj, *tuple_type, *entry_type, *tcp_names;
    PyObject *list = NULL, *result = NULL;
    unsigned long long seq, dropped;
    Py_ssize_t max;
    int verbose, stats, err;
    bool has_filter;
    struct builder *b = NULL;
    char *text = NULL, *jtext = NULL;
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
    if (parse_filter(filter_obj, &filter, &has_filter)) {
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
    err = ovsct_events_read(ct, &cur, has_filter ? &filter : NULL,
                            buf, (size_t) max, &n, &lost);
    now = ovsct_now(ct);
    if (!err && n) {
        text = malloc(n * LINE_MAX_LEN);
        jtext = malloc(n * JSON_MAX_LEN);
        err = text && jtext ? 0 : ENOMEM;
    }
    for (size_t i = 0; !err && i < n; i++) {
        ovsct_format_entry(&buf[i].entry, verbose, stats, now,
                           text + i * LINE_MAX_LEN, LINE_MAX_LEN);
        err = format_event_json(&buf[i], now, jtext + i * JSON_MAX_LEN,
                                JSON_MAX_LEN);
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
            "(KsNsy)", (unsigned long long) buf[i].seq,
            ovsct_event_names[type], entry, text + i * LINE_MAX_LEN,
            jtext + i * JSON_MAX_LEN) : NULL;

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
    free(jtext);
    return result;
}
