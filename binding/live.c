/*
 * live.c -- _engine.Live: the Python face of the live datapath
 * (dpio/afpacket.h).  The only Python.h part of it; every call runs the C
 * side with the GIL released, and the per-packet path never sees Python.
 *
 *   Live(conntrack, workers=1)
 *   .add_monitor(ifname, action)              action: engine.py's tuple
 *   .add_bridge(inside, outside, firewall, action)
 *   .remove(ifname)
 *   .interfaces() -> [(name, role, peer, firewall, workers, received,
 *                      tracked, held, ring_drops, forwarded, dropped), ...]
 *                    role: a LIVE_ROLE_NAMES string, peer: str or None,
 *                    dropped: tuple in LIVE_DROP_NAMES order
 *   .close()                                  stops every worker
 *
 * Errors: OSError(errno, message) (ValueError for EINVAL).  The Live
 * object holds its Conntrack busy, so the engine cannot be closed under
 * the workers.
 */
#include "binding.h"

#include <errno.h>

#include "afpacket.h"

#define ERR_SIZE 256

typedef struct {
    PyObject_HEAD
    struct ovsct_live *live;    /* NULL once closed. */
    PyObject *conntrack;        /* Held busy while 'live' is open. */
} LiveObject;

static PyObject *
live_error(int err, const char *msg)
{
    if (err == EINVAL) {
        PyErr_SetString(PyExc_ValueError, msg);
        return NULL;
    }
    PyObject *exc = PyObject_CallFunction(PyExc_OSError, "is", err, msg);
    if (exc) {
        PyErr_SetObject((PyObject *) Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* The engine of the open Conntrack 'obj' of 'module', held busy (close()
 * refuses) until live_release(); NULL with an exception otherwise. */
static struct ovsct *
live_hold(PyObject *module, PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, get_state(module)->conntrack_type)) {
        PyErr_SetString(PyExc_TypeError, "a Conntrack is required");
        return NULL;
    }
    CtObject *ct_obj = (CtObject *) obj;
    struct ovsct *ct = ct_get(ct_obj);
    if (ct) {
        ct_obj->busy++;
    }
    return ct;
}

static void
live_release(PyObject *obj)
{
    ((CtObject *) obj)->busy--;
}

static struct ovsct_live *
live_get(LiveObject *self)
{
    if (!self->live) {
        PyErr_SetString(PyExc_ValueError, "Live is closed");
    }
    return self->live;
}

static PyObject *
live_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = { "conntrack", "workers", NULL };
    PyObject *conntrack;
    unsigned int workers = 1;
    char err[ERR_SIZE] = "";

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|I:Live", kwlist,
                                     &conntrack, &workers)) {
        return NULL;
    }
    PyObject *module = PyType_GetModule(type);
    if (!module) {
        return NULL;
    }
    struct ovsct *ct = live_hold(module, conntrack);
    if (!ct) {
        return NULL;
    }
    LiveObject *self = (LiveObject *) type->tp_alloc(type, 0);
    if (!self) {
        live_release(conntrack);
        return NULL;
    }
    int error = ovsct_live_create(ct, workers, &self->live, err, sizeof err);
    if (error) {
        live_release(conntrack);
        Py_DECREF(self);
        return live_error(error, err);
    }
    self->conntrack = Py_NewRef(conntrack);
    return (PyObject *) self;
}

static void
live_close_(LiveObject *self)
{
    struct ovsct_live *live = self->live;
    if (!live) {
        return;
    }
    self->live = NULL;
    Py_BEGIN_ALLOW_THREADS
    ovsct_live_destroy(live);
    Py_END_ALLOW_THREADS
    live_release(self->conntrack);
    Py_CLEAR(self->conntrack);
}

static void
live_dealloc(LiveObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    live_close_(self);
    tp->tp_free((PyObject *) self);
    Py_DECREF(tp);
}

static PyObject *
live_close(LiveObject *self, PyObject *Py_UNUSED(ignored))
{
    live_close_(self);
    Py_RETURN_NONE;
}

static PyObject *
live_add_monitor(LiveObject *self, PyObject *args)
{
    const char *ifname;
    PyObject *action_obj;
    struct ovsct_action action;
    char err[ERR_SIZE] = "";
    int error;

    struct ovsct_live *live = live_get(self);
    if (!live || !PyArg_ParseTuple(args, "sO:add_monitor", &ifname,
                                   &action_obj)
        || parse_action(action_obj, &action)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    error = ovsct_live_add_monitor(live, ifname, &action, err, sizeof err);
    Py_END_ALLOW_THREADS
    if (error) {
        return live_error(error, err);
    }
    Py_RETURN_NONE;
}

static PyObject *
live_add_bridge(LiveObject *self, PyObject *args)
{
    const char *inside, *outside;
    int firewall;
    PyObject *action_obj;
    struct ovsct_action action;
    char err[ERR_SIZE] = "";
    int error;

    struct ovsct_live *live = live_get(self);
    if (!live || !PyArg_ParseTuple(args, "sspO:add_bridge", &inside,
                                   &outside, &firewall, &action_obj)
        || parse_action(action_obj, &action)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    error = ovsct_live_add_bridge(live, inside, outside, firewall, &action,
                                  err, sizeof err);
    Py_END_ALLOW_THREADS
    if (error) {
        return live_error(error, err);
    }
    Py_RETURN_NONE;
}

static PyObject *
live_remove(LiveObject *self, PyObject *args)
{
    const char *ifname;
    char err[ERR_SIZE] = "";
    int error;

    struct ovsct_live *live = live_get(self);
    if (!live || !PyArg_ParseTuple(args, "s:remove", &ifname)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    error = ovsct_live_remove(live, ifname, err, sizeof err);
    Py_END_ALLOW_THREADS
    if (error) {
        return live_error(error, err);
    }
    Py_RETURN_NONE;
}

static PyObject *
iface_to_tuple(const struct ovsct_live_iface *o)
{
    PyObject *dropped = PyTuple_New(OVSCT_LIVE_DROP_N);
    for (int d = 0; dropped && d < OVSCT_LIVE_DROP_N; d++) {
        PyObject *v = PyLong_FromUnsignedLongLong(o->dropped[d]);
        if (!v) {
            Py_CLEAR(dropped);
            break;
        }
        PyTuple_SET_ITEM(dropped, d, v);
    }
    if (!dropped) {
        return NULL;
    }
    PyObject *peer = o->peer[0] ? PyUnicode_FromString(o->peer)
                                : Py_NewRef(Py_None);
    PyObject *t = peer ? Py_BuildValue(
        "(ssOOIKKKKKO)", o->name, ovsct_live_role_names[o->role], peer,
        o->firewall ? Py_True : Py_False, o->n_workers,
        (unsigned long long) o->received, (unsigned long long) o->tracked,
        (unsigned long long) o->held, (unsigned long long) o->ring_drops,
        (unsigned long long) o->forwarded, dropped) : NULL;
    Py_XDECREF(peer);
    Py_DECREF(dropped);
    return t;
}

static PyObject *
live_interfaces(LiveObject *self, PyObject *Py_UNUSED(ignored))
{
    struct ovsct_live *live = live_get(self);
    if (!live) {
        return NULL;
    }
    struct ovsct_live_iface *buf = NULL;
    size_t n, cap = 0;
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        n = ovsct_live_list(live, buf, cap);
        Py_END_ALLOW_THREADS
        if (n <= cap) {
            break;
        }
        PyMem_Free(buf);
        cap = n + 4;
        buf = PyMem_Calloc(cap, sizeof *buf);
        if (!buf) {
            return PyErr_NoMemory();
        }
    }
    PyObject *list = PyList_New((Py_ssize_t) n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *t = iface_to_tuple(&buf[i]);
        if (!t) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t) i, t);
    }
    PyMem_Free(buf);
    return list;
}

static PyObject *
live_get_closed(LiveObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->live == NULL);
}

static PyMethodDef live_methods[] = {
    {"add_monitor", (PyCFunction) live_add_monitor, METH_VARARGS,
     "add_monitor(ifname, action): track what 'ifname' carries."},
    {"add_bridge", (PyCFunction) live_add_bridge, METH_VARARGS,
     "add_bridge(inside, outside, firewall, action): bridge two "
     "interfaces."},
    {"remove", (PyCFunction) live_remove, METH_VARARGS,
     "remove(ifname): stop the attachment of 'ifname'."},
    {"interfaces", (PyCFunction) live_interfaces, METH_NOARGS,
     "interfaces() -> list of per-interface tuples with counters."},
    {"close", (PyCFunction) live_close, METH_NOARGS,
     "close(): stop every worker and release the Conntrack."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef live_getset[] = {
    {"closed", (getter) live_get_closed, NULL, "True once closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot live_slots[] = {
    {Py_tp_new, live_new},
    {Py_tp_dealloc, live_dealloc},
    {Py_tp_methods, live_methods},
    {Py_tp_getset, live_getset},
    {Py_tp_doc, "Live datapath: AF_PACKET interfaces feeding a Conntrack "
                "(dpio/afpacket.h)."},
    {0, NULL},
};

static PyType_Spec live_spec = {
    .name = "ovsct._engine.Live",
    .basicsize = sizeof(LiveObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = live_slots,
};

int
ovsct_live_add_to_module(PyObject *module)
{
    PyObject *type = PyType_FromModuleAndSpec(module, &live_spec, NULL);
    if (!type) {
        return -1;
    }
    int ret = PyModule_AddType(module, (PyTypeObject *) type);
    Py_DECREF(type);
    if (ret < 0
        || add_names(module, "LIVE_ROLE_NAMES", ovsct_live_role_names,
                     OVSCT_LIVE_ROLE_N) < 0
        || add_names(module, "LIVE_DROP_NAMES", ovsct_live_drop_names,
                     OVSCT_LIVE_DROP_N) < 0
        || PyModule_AddIntConstant(module, "LIVE_MAX_WORKERS",
                                   OVSCT_LIVE_MAX_WORKERS) < 0) {
        return -1;
    }
    return 0;
}
