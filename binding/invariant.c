/*
 * invariant.c -- Conntrack.check_invariants() for the Python tests: runs
 * ovsct_check_invariants() (ext/invariant.c) and raises the module's
 * OvsctError with its message.
 *
 * The method lives in module.c's method table (one line and the call
 * below); this file holds the part that knows what the check returns.
 * The caller passes the engine of an open Conntrack and keeps it alive
 * (its 'busy' count) while the GIL is released here.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>

#include "ovsct.h"

PyObject *ovsct_py_check_invariants(struct ovsct *, PyObject *error);

PyObject *
ovsct_py_check_invariants(struct ovsct *ct, PyObject *error)
{
    char why[1024];
    int err;

    Py_BEGIN_ALLOW_THREADS
    err = ovsct_check_invariants(ct, why, sizeof why);
    Py_END_ALLOW_THREADS
    if (err == ENOMEM) {
        return PyErr_NoMemory();
    } else if (err) {
        PyErr_Format(error, "table invariant broken: %s", why);
        return NULL;
    }
    Py_RETURN_NONE;
}
