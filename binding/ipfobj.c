/*
 * ipfobj.c -- the Conntrack methods of IP fragment reassembly (ext/ipf.c):
 * settings, status, fragment lists, and fragments that leave later.
 * Neighbours: module.c (registers them), binding.h.
 */
#include "binding.h"

/* ipf_set_enabled(v6, enabled) */
PyObject *
ct_ipf_set_enabled(CtObject *self, PyObject *args)
{
    struct ovsct *ct = ct_get(self);
    int v6, on;

    if (!ct || !PyArg_ParseTuple(args, "pp:ipf_set_enabled", &v6, &on)) {
        return NULL;
    }
    ovsct_ipf_set_enabled(ct, v6, on);
    Py_RETURN_NONE;
}

/* ipf_set_min_frag(v6, size): ValueError below the bound. */
PyObject *
ct_ipf_set_min_frag(CtObject *self, PyObject *args)
{
    struct ovsct *ct = ct_get(self);
    uint32_t size;
    int v6;

    if (!ct || !PyArg_ParseTuple(args, "pO&:ipf_set_min_frag", &v6,
                                 conv_u32, &size)) {
        return NULL;
    }
    if (ovsct_ipf_set_min_frag(ct, v6, size)) {
        return set_error(ct_state(self), EINVAL,
                         "minimum fragment size too small", NULL);
    }
    Py_RETURN_NONE;
}

/* ipf_set_max_nfrags(n): ValueError above the bound. */
PyObject *
ct_ipf_set_max_nfrags(CtObject *self, PyObject *arg)
{
    struct ovsct *ct = ct_get(self);
    uint32_t n;

    if (!ct || !conv_u32(arg, &n)) {
        return NULL;
    }
    if (ovsct_ipf_set_max_nfrags(ct, n)) {
        return set_error(ct_state(self), EINVAL,
                         "maximum fragments too large", NULL);
    }
    Py_RETURN_NONE;
}

/* ipf_status() -> dict: enabled, min_frag (pairs v4, v6), max_nfrags,
 * nfrag, counters (pair of tuples in enum ovsct_ipf_counter order). */
PyObject *
ct_ipf_status(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    struct ovsct_ipf_status s;
    PyObject *c[2];

    if (!ct) {
        return NULL;
    }
    ovsct_ipf_get_status(ct, &s);
    for (int v6 = 0; v6 < 2; v6++) {
        c[v6] = PyTuple_New(OVSCT_IPF_N_COUNTERS);
        if (!c[v6]) {
            Py_XDECREF(c[0]);
            return NULL;
        }
        for (int i = 0; i < OVSCT_IPF_N_COUNTERS; i++) {
            PyObject *v = PyLong_FromUnsignedLongLong(s.counters[v6][i]);

            if (!v) {
                Py_DECREF(c[v6]);
                if (v6) {
                    Py_DECREF(c[0]);
                }
                return NULL;
            }
            PyTuple_SET_ITEM(c[v6], i, v);
        }
    }
    return Py_BuildValue("{s(OO)s(II)sIsIs(NN)}",
                         "enabled", s.enabled[0] ? Py_True : Py_False,
                         s.enabled[1] ? Py_True : Py_False,
                         "min_frag", s.min_frag[0], s.min_frag[1],
                         "max_nfrags", s.max_nfrags, "nfrag", s.nfrag,
                         "counters", c[0], c[1]);
}

static void
add_line(void *aux, const char *line)
{
    PyObject *list = aux, *s;

    if (PyErr_Occurred()) {
        return;
    }
    s = PyUnicode_FromString(line);
    if (s) {
        PyList_Append(list, s);
        Py_DECREF(s);
    }
}

/* ipf_lists() -> list of str, OVS's fragment list lines. */
PyObject *
ct_ipf_lists(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    PyObject *list;

    if (!ct || !(list = PyList_New(0))) {
        return NULL;
    }
    ovsct_ipf_dump_lists(ct, add_line, list);
    if (PyErr_Occurred()) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

static void
add_out(void *aux, uint64_t tag, uint8_t state, const uint8_t *frame,
        uint32_t len)
{
    PyObject *list = aux, *t;

    if (PyErr_Occurred()) {
        return;
    }
    t = Py_BuildValue("(KBy#)", (unsigned long long) tag, state,
                      (const char *) frame, (Py_ssize_t) len);
    if (t) {
        PyList_Append(list, t);
        Py_DECREF(t);
    }
}

/* ipf_drain(expire_all=False, mask=TAG_LIVE, value=0)
 *   -> [(tag, state, frame bytes)]: the fragments that left reassembly
 * since the last drain whose tag & mask == value (by default every one
 * but the live datapath's, which its workers drain); with 'expire_all',
 * every incomplete list is expired first.  mask=0 takes every fragment. */
PyObject *
ct_ipf_drain(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"expire_all", "mask", "value", NULL};
    struct ovsct *ct = ct_get(self);
    uint64_t mask = OVSCT_TAG_LIVE, value = 0;
    int expire_all = 0;
    PyObject *list;

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs, "|pO&O&:ipf_drain",
                                            kwlist, &expire_all, conv_u64,
                                            &mask, conv_u64, &value)) {
        return NULL;
    }
    if (value & ~mask) {
        PyErr_SetString(PyExc_ValueError,
                        "ipf_drain: value has bits outside mask");
        return NULL;
    }
    if (!(list = PyList_New(0))) {
        return NULL;
    }
    if (expire_all) {
        ovsct_ipf_expire_all(ct);
    }
    ovsct_ipf_drain_owned(ct, mask, value, add_out, list);
    if (PyErr_Occurred()) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}
