/*
 * persist.c -- the binding of ovsct_save() and ovsct_restore() as
 * Conntrack.save(path) and Conntrack.restore(path).
 *
 * Both run with the GIL released (file I/O and a walk of the whole table)
 * and return their statistics as a dict.  Errors: a file the engine
 * refuses (EINVAL: truncated, corrupt, other version or byte order)
 * raises ValueError("PATH: reason"); a system error raises the OSError
 * subclass of its errno with the engine's message and the file name.
 * Neighbours: ext/persist.c (the engine side), ext/ovsct.h (the contract),
 * binding/module.c (the method table), ovsct/engine.py (the Python
 * wrapper).
 */
#include "binding.h"

#include <errno.h>
#include <string.h>

#define PERSIST_ERR_SIZE 512

static PyObject *
persist_error(int err, const char *msg, PyObject *path)
{
    if (err == ENOMEM && !msg[0]) {
        return PyErr_NoMemory();
    }
    if (err == EINVAL) {
        PyErr_Format(PyExc_ValueError, "%S: %s", path, msg);
        return NULL;
    }
    PyObject *exc = PyObject_CallFunction(PyExc_OSError, "isO", err,
                                          msg[0] ? msg : strerror(err),
                                          path);
    if (exc) {
        PyErr_SetObject((PyObject *) Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* Runs ovsct_save() (SAVE_ST set) or ovsct_restore() (RESTORE_ST set) on the
 * file named by ARG with the GIL released; 0, or -1 with the Python error
 * set. */
static int
persist_run(CtObject *self, PyObject *arg, struct ovsct_save_stats *save_st,
            struct ovsct_restore_stats *restore_st)
{
    char msg[PERSIST_ERR_SIZE] = "";
    PyObject *path = NULL;
    struct ovsct *ct;
    int err;

    if (!PyUnicode_FSConverter(arg, &path)) {
        return -1;
    }
    ct = ct_get(self);
    if (!ct) {
        Py_DECREF(path);
        return -1;
    }
    const char *cpath = PyBytes_AS_STRING(path);
    CT_BEGIN(self);
    err = save_st ? ovsct_save(ct, cpath, msg, sizeof msg, save_st)
                  : ovsct_restore(ct, cpath, msg, sizeof msg, restore_st);
    CT_END(self);
    Py_DECREF(path);
    if (err) {
        persist_error(err, msg, arg);
        return -1;
    }
    return 0;
}

PyObject *
ct_save(CtObject *self, PyObject *arg)
{
    struct ovsct_save_stats st;

    if (persist_run(self, arg, &st, NULL)) {
        return NULL;
    }
    return Py_BuildValue("{s:K,s:I,s:I,s:K}",
                         "connections", (unsigned long long) st.n_conns,
                         "zone_limits", (unsigned) st.n_zone_limits,
                         "timeout_policies", (unsigned) st.n_tps,
                         "bytes", (unsigned long long) st.bytes);
}

PyObject *
ct_restore(CtObject *self, PyObject *arg)
{
    struct ovsct_restore_stats st;

    if (persist_run(self, arg, NULL, &st)) {
        return NULL;
    }
    return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:I,s:I,s:K,s:L}",
                         "connections", (unsigned long long) st.n_conns,
                         "restored", (unsigned long long) st.restored,
                         "duplicates", (unsigned long long) st.duplicates,
                         "expired", (unsigned long long) st.expired,
                         "refused", (unsigned long long) st.refused,
                         "zone_limits", (unsigned) st.n_zone_limits,
                         "timeout_policies", (unsigned) st.n_tps,
                         "bytes", (unsigned long long) st.bytes,
                         "age_ms", (long long) st.age_ms);
}
