/*
 * binding/nfct.c -- Python glue of dpio/nfct.[ch], part of ovsct._engine.
 *
 * ovsct/kernel/ reads raw ctnetlink datagrams from a pyroute2 netlink
 * socket and hands each buffer to one of these functions:
 *
 *   nfct_dump_text(buf, verbose, stats, zone) -> (text, count, status, errno)
 *       The dump lines of the buffer's entries ("\n"-terminated), for
 *       entries of 'zone' only unless 'zone' is -1.  Decoded with the GIL
 *       released.
 *   nfct_entries(buf, verbose, stats, zone) -> (list, status, errno)
 *       One tuple per entry (see entry_tuple()), with its line.
 *
 * 'status' is NFCT_END (buffer used up, read on), NFCT_DONE (end of dump
 * or an ack) or NFCT_ERROR ('errno' then tells why); 'buf' is any
 * C-contiguous bytes-like object.
 *
 * ovsct_nfct_add_to_module() adds the functions and constants to the
 * module; module_exec() (binding/module.c) calls it.  The TCP state names
 * are the engine's (_engine.TCP_STATE_NAMES, ext/names.c).
 */
#include "binding.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nfct.h"

static const char *const event_names[] = { "NEW", "UPDATE", "DESTROY" };

static int
get_buffer(PyObject *obj, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    return 0;
}

static PyObject *
nfct_dump_text(PyObject *module, PyObject *args)
{
    PyObject *obj;
    int verbose, stats, zone;
    Py_buffer view;

    (void) module;
    if (!PyArg_ParseTuple(args, "Oppi:nfct_dump_text", &obj, &verbose,
                          &stats, &zone)
        || get_buffer(obj, &view) < 0) {
        return NULL;
    }

    const uint8_t *p = view.buf;
    size_t left = (size_t) view.len;
    size_t cap = 0, len = 0;
    char *out = NULL;
    Py_ssize_t count = 0;
    int status = OVSCT_NFCT_END, err = 0;
    bool nomem = false;
    struct ovsct_nfct_entry e;

    Py_BEGIN_ALLOW_THREADS
    for (;;) {
        status = ovsct_nfct_next(&p, &left, &e, &err);
        if (status != OVSCT_NFCT_ENTRY) {
            break;
        }
        if (zone >= 0 && e.zone != zone) {
            continue;
        }
        if (cap - len < OVSCT_NFCT_LINE_MAX + 1) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            char *n = realloc(out, ncap);
            if (!n) {
                nomem = true;
                break;
            }
            out = n;
            cap = ncap;
        }
        len += ovsct_nfct_format(&e, verbose, stats, out + len);
        out[len++] = '\n';
        count++;
    }
    Py_END_ALLOW_THREADS

    PyBuffer_Release(&view);
    if (nomem) {
        free(out);
        return PyErr_NoMemory();
    }
    PyObject *text = PyUnicode_DecodeASCII(out ? out : "", (Py_ssize_t) len,
                                           "replace");
    free(out);
    if (!text) {
        return NULL;
    }
    return Py_BuildValue("(Nnii)", text, count, status, err);
}

static PyObject *
addr_str(const struct ovsct_nfct_tuple *t, const uint8_t *a)
{
    char tmp[INET6_ADDRSTRLEN];
    if (!inet_ntop(t->l3 == 6 ? AF_INET6 : AF_INET, a, tmp, sizeof tmp)) {
        tmp[0] = '\0';
    }
    return PyUnicode_FromString(tmp);
}

/* (src, dst, sport, dport, icmp_id, icmp_type, icmp_code). */
static PyObject *
tuple_tuple(const struct ovsct_nfct_tuple *t)
{
    return Py_BuildValue("(NNiiiii)", addr_str(t, t->src),
                         addr_str(t, t->dst), t->sport, t->dport,
                         t->icmp_id, t->icmp_type, t->icmp_code);
}

/* The names of the bits of 'bits', lowest first; 'name' gives the name of
 * a bit (NULL past the last). */
static PyObject *
names_tuple(uint32_t bits, const char *(*name)(unsigned int))
{
    PyObject *list = PyList_New(0);
    for (unsigned int i = 0; list && name(i); i++) {
        if (bits & (1u << i)) {
            PyObject *s = PyUnicode_FromString(name(i));
            if (!s || PyList_Append(list, s) < 0) {
                Py_XDECREF(s);
                Py_CLEAR(list);
                break;
            }
            Py_DECREF(s);
        }
    }
    if (!list) {
        return NULL;
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

/* One entry: (event, line, zone, l3, proto, orig, reply, id, status names,
 * timeout, mark, labels, tcp, counters, start_ns, stop_ns, helper, master)
 * with tcp = None or (state, wscale_orig, wscale_reply, flags_orig names,
 * flags_reply names), counters = (packets_orig, bytes_orig, packets_reply,
 * bytes_reply), helper and master None when absent. */
static PyObject *
entry_tuple(const struct ovsct_nfct_entry *e, bool verbose, bool stats)
{
    char line[OVSCT_NFCT_LINE_MAX];
    size_t n = ovsct_nfct_format(e, verbose, stats, line);
    PyObject *tcp;

    if (e->has_tcp) {
        const char *state = ovsct_nfct_tcp_state_name(e->tcp_state);
        tcp = Py_BuildValue("(siiNN)", state ? state : "CLOSED",
                            e->tcp_wscale[0], e->tcp_wscale[1],
                            names_tuple(e->tcp_flags[0], ovsct_nfct_tcp_flag_name),
                            names_tuple(e->tcp_flags[1], ovsct_nfct_tcp_flag_name));
    } else {
        tcp = Py_NewRef(Py_None);
    }
    PyObject *helper = (e->helper[0] ? PyUnicode_FromString(e->helper)
                        : Py_NewRef(Py_None));
    PyObject *master = (e->master.l3 ? tuple_tuple(&e->master)
                        : Py_NewRef(Py_None));
    return Py_BuildValue(
        "(sNiiiNNkNkkNN(KKKK)KKNN)",
        event_names[e->event], PyUnicode_DecodeASCII(line, (Py_ssize_t) n,
                                                     "replace"),
        e->zone, e->orig.l3, e->orig.proto, tuple_tuple(&e->orig),
        tuple_tuple(&e->reply), (unsigned long) e->id,
        names_tuple(e->status, ovsct_nfct_status_name),
        (unsigned long) e->timeout, (unsigned long) e->mark, u128_to_int(e->labels_hi, e->labels_lo),
        tcp, (unsigned long long) e->packets[0],
        (unsigned long long) e->bytes[0], (unsigned long long) e->packets[1],
        (unsigned long long) e->bytes[1], (unsigned long long) e->start_ns,
        (unsigned long long) e->stop_ns, helper, master);
}

static PyObject *
nfct_entries(PyObject *module, PyObject *args)
{
    PyObject *obj;
    int verbose, stats, zone;
    Py_buffer view;

    (void) module;
    if (!PyArg_ParseTuple(args, "Oppi:nfct_entries", &obj, &verbose, &stats,
                          &zone)
        || get_buffer(obj, &view) < 0) {
        return NULL;
    }
    PyObject *list = PyList_New(0);
    const uint8_t *p = view.buf;
    size_t left = (size_t) view.len;
    int status = OVSCT_NFCT_END, err = 0;
    struct ovsct_nfct_entry e;

    while (list) {
        status = ovsct_nfct_next(&p, &left, &e, &err);
        if (status != OVSCT_NFCT_ENTRY) {
            break;
        }
        if (zone >= 0 && e.zone != zone) {
            continue;
        }
        PyObject *item = entry_tuple(&e, verbose, stats);
        if (!item || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(list);
        } else {
            Py_DECREF(item);
        }
    }
    PyBuffer_Release(&view);
    if (!list) {
        return NULL;
    }
    return Py_BuildValue("(Nii)", list, status, err);
}

static PyMethodDef nfct_methods[] = {
    {"nfct_dump_text", nfct_dump_text, METH_VARARGS,
     "nfct_dump_text(buf, verbose, stats, zone) -> "
     "(text, count, status, errno)"},
    {"nfct_entries", nfct_entries, METH_VARARGS,
     "nfct_entries(buf, verbose, stats, zone) -> (entries, status, errno)"},
    {NULL, NULL, 0, NULL},
};

int
ovsct_nfct_add_to_module(PyObject *module)
{
    if (PyModule_AddFunctions(module, nfct_methods) < 0
        || PyModule_AddIntConstant(module, "NFCT_END", OVSCT_NFCT_END) < 0
        || PyModule_AddIntConstant(module, "NFCT_DONE", OVSCT_NFCT_DONE) < 0
        || PyModule_AddIntConstant(module, "NFCT_ERROR",
                                   OVSCT_NFCT_ERROR) < 0) {
        return -1;
    }
    return 0;
}
