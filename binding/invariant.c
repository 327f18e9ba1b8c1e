/*
 * invariant.c -- Conntrack.check_invariants() for the Python tests: runs
 * ovsct_check_invariants() (ext/invariant.c) with the GIL released and
 * raises the module's OvsctError with its message.
 */
#include "binding.h"

#include <errno.h>

PyObject *
ct_check_invariants(CtObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct *ct = ct_get(self);
    char why[1024];
    int err;

    if (!ct) {
        return NULL;
    }
    CT_BEGIN(self);
    err = ovsct_check_invariants(ct, why, sizeof why);
    CT_END(self);
    if (err == ENOMEM) {
        return PyErr_NoMemory();
    } else if (err) {
        PyErr_Format(ct_state(self)->ovsct_error,
                     "table invariant broken: %s", why);
        return NULL;
    }
    Py_RETURN_NONE;
}
