/*
 * live.h -- what binding/live.c (the Python face of dpio/afpacket.c) and
 * the rest of the binding share.  Python.h side only.
 */
#ifndef OVSCT_BINDING_LIVE_H
#define OVSCT_BINDING_LIVE_H 1

#include <Python.h>

#include "ovsct.h"

/* Adds _engine.Live, LIVE_ROLE_NAMES and LIVE_DROP_NAMES to 'module'
 * (called from module_exec()).  0, or -1 with an exception. */
int ovsct_live_add_to_module(PyObject *module);

/* Provided by the Conntrack binding (module.c). */
/* The ct() action tuple converter (engine.py's action_to_c() layout). */
int ovsct_binding_parse_action(PyObject *obj, struct ovsct_action *);
/* The engine of the open _engine.Conntrack 'obj' of 'module', held busy
 * (Conntrack.close() refuses) until ovsct_binding_release(); NULL with an
 * exception otherwise.  GIL held for both. */
struct ovsct *ovsct_binding_hold(PyObject *module, PyObject *obj);
void ovsct_binding_release(PyObject *obj);

#endif /* live.h */
