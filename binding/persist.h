/*
 * persist.h -- Conntrack.save() / restore() (binding/persist.c), hooked
 * into the Conntrack type of the binding's module.c.
 */
#ifndef OVSCT_BINDING_PERSIST_H
#define OVSCT_BINDING_PERSIST_H 1

#define PY_SSIZE_T_CLEAN
#include <Python.h>

struct ovsct;

/* Defined by the Conntrack type (module.c): the engine of Conntrack
 * 'self' for a call about to release the GIL (NULL with ValueError if it
 * is closed), kept alive against close() until ovsct_binding_exit(). */
struct ovsct *ovsct_binding_enter(PyObject *self);
void ovsct_binding_exit(PyObject *self);

PyObject *ovsct_persist_save(PyObject *self, PyObject *path);
PyObject *ovsct_persist_restore(PyObject *self, PyObject *path);

/* Entries of the Conntrack method table. */
#define OVSCT_PERSIST_METHODS                                             \
    {"save", (PyCFunction) ovsct_persist_save, METH_O,                    \
     "save(path) -> dict\n\nWrites the whole state to 'path' atomically "  \
     "(see ovsct_save())."},                                              \
    {"restore", (PyCFunction) ovsct_persist_restore, METH_O,              \
     "restore(path) -> dict\n\nAdds the state saved in 'path'; a bad "     \
     "file raises ValueError and changes nothing."},

#endif /* persist.h */
