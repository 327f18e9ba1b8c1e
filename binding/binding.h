/*
 * binding.h -- what the files of the ovsct._engine binding share: the
 * module state, the Conntrack object, the GIL brackets, the argument
 * converters (convert.c) and the dump methods (dumpobj.c).
 *
 * binding/ holds the only C files that include Python.h; the engine
 * (ext/) and the frame I/O (dpio/) never do.  Files: module.c (module
 * init, the Conntrack type and its table/settings methods), convert.c
 * (arguments in, errors out), dumpobj.c (dump objects and text streams),
 * events.c (connection events), persist.c (save / restore), invariant.c
 * (the invariant check), nfct.c (the kernel datapath's decoder), live.c
 * (the live datapath), bench.c (the separate ovsct._bench module around
 * bench/bench.c).
 */
#ifndef OVSCT_BINDING_H
#define OVSCT_BINDING_H 1

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdbool.h>
#include <stdint.h>

#include "ovsct.h"

/* Module state. */
typedef struct {
    PyTypeObject *conntrack_type;   /* _engine.Conntrack. */
    PyObject *ovsct_error;          /* ovsct.errors.OvsctError. */
    PyObject *table_full;           /* ovsct.errors.TableFull (ENOSPC). */
    PyObject *not_found;            /* ovsct.errors.NotFound (ENOENT). */
} module_state;

/* A Conntrack instance. */
typedef struct {
    PyObject_HEAD
    struct ovsct *ct;       /* NULL once closed. */
    Py_ssize_t busy;        /* Calls running without the GIL (GIL-guarded). */
    Py_ssize_t n_cursors;   /* Open dump cursors (dump_begin()). */
    struct ovsct *doomed;   /* Closed while cursors were open: destroyed
                             * when the last one goes. */
} CtObject;

static inline module_state *
get_state(PyObject *module)
{
    return (module_state *) PyModule_GetState(module);
}

static inline module_state *
ct_state(CtObject *self)
{
    return (module_state *) PyType_GetModuleState(Py_TYPE(self));
}

/* Returns the engine of 'self', or NULL with ValueError if it is closed. */
static inline struct ovsct *
ct_get(CtObject *self)
{
    if (!self->ct) {
        PyErr_SetString(PyExc_ValueError, "Conntrack is closed");
    }
    return self->ct;
}

/* Brackets around GIL-free calls: keep 'self->ct' alive against close().
 * 'ct' is a local copy of 'self->ct' read with the GIL held. */
#define CT_BEGIN(SELF) (SELF)->busy++; Py_BEGIN_ALLOW_THREADS
#define CT_END(SELF) Py_END_ALLOW_THREADS (SELF)->busy--

/* convert.c: errors. */
PyObject *set_error(module_state *, int err, const char *msg,
                    PyObject *filename);

/* convert.c: the 128-bit value hi:lo (a connection label) as an int. */
PyObject *u128_to_int(uint64_t hi, uint64_t lo);

/* convert.c: O& converters and parsers; 0 on success, -1 with an
 * exception set (the conv_* ones return 1 / 0 as O& converters do). */
int conv_uint(PyObject *, unsigned long max, unsigned long *out);
int conv_u8(PyObject *, void *out);
int conv_u16(PyObject *, void *out);
int conv_u32(PyObject *, void *out);
int conv_u64(PyObject *, void *out);

/* ipfobj.c: Conntrack methods of IP fragment reassembly. */
PyObject *ct_ipf_set_enabled(CtObject *, PyObject *args);
PyObject *ct_ipf_set_min_frag(CtObject *, PyObject *args);
PyObject *ct_ipf_set_max_nfrags(CtObject *, PyObject *arg);
PyObject *ct_ipf_status(CtObject *, PyObject *);
PyObject *ct_ipf_lists(CtObject *, PyObject *);
PyObject *ct_ipf_drain(CtObject *, PyObject *args, PyObject *kwargs);
int parse_opt_zone(PyObject *, uint16_t *zone, bool *has);
int parse_zone(PyObject *, bool allow_default, int32_t *zone);
int parse_addr(PyObject *, uint8_t addr[16], bool *has);
int parse_action(PyObject *, struct ovsct_action *);
int parse_tuple(PyObject *, struct ovsct_tuple *);
int parse_tuple_match(PyObject *, struct ovsct_tuple_match *);
int parse_filter(PyObject *, struct ovsct_filter *, bool *has);
int get_frames(PyObject *, Py_buffer *view, bool *readonly);
int get_offsets(PyObject *, Py_buffer *view, const uint32_t **offs,
                size_t *n_offs, uint32_t **owned);
void put_offsets(Py_buffer *view, uint32_t *owned);
bool offsets_valid(const uint32_t *offs, size_t n_offs, size_t size);

/* dumpobj.c: Conntrack methods. */
PyObject *ct_dump_entries(CtObject *, PyObject *args);
PyObject *ct_dump_text(CtObject *, PyObject *args, PyObject *kwargs);
PyObject *ct_dump_begin(CtObject *, PyObject *args, PyObject *kwargs);
PyObject *ct_dump_text_next(CtObject *, PyObject *args, PyObject *kwargs);
PyObject *ct_dump_entries_next(CtObject *, PyObject *args, PyObject *kwargs);

/* dumpobj.c: Entry objects for other files.  entry_builder_new() sets
 * an exception and returns NULL on failure. */
struct builder;
struct builder *entry_builder_new(PyObject *tuple_type, PyObject *entry_type,
                                  PyObject *tcp_names);
PyObject *entry_builder_make(struct builder *, const struct ovsct_entry *,
                             int64_t now);
void entry_builder_free(struct builder *);

/* events.c: Conntrack methods. */
PyObject *ct_events_subscribe(CtObject *, PyObject *ignored);
PyObject *ct_events_unsubscribe(CtObject *, PyObject *ignored);
PyObject *ct_events_read(CtObject *, PyObject *args);

/* invariant.c: Conntrack.check_invariants() (tests only). */
PyObject *ct_check_invariants(CtObject *, PyObject *ignored);

/* persist.c: Conntrack.save(path), Conntrack.restore(path). */
PyObject *ct_save(CtObject *, PyObject *path);
PyObject *ct_restore(CtObject *, PyObject *path);

/* module.c: adds the tuple of the 'n' strings of 'names' as 'attr'; 0, or
 * -1 with an exception set. */
int add_names(PyObject *module, const char *attr, const char *const *names,
              int n);

/* live.c: _engine.Live (the live datapath, dpio/afpacket.c),
 * LIVE_ROLE_NAMES, LIVE_DROP_NAMES, LIVE_MAX_WORKERS; 0, or -1 with an
 * exception set.  Live(conntrack) holds the Conntrack busy (as the GIL-free
 * calls do) until it is closed. */
int ovsct_live_add_to_module(PyObject *module);

/* nfct.c: the kernel datapath's ctnetlink decoder (dpio/nfct.c) as module
 * functions and constants; 0, or -1 with an exception set. */
int ovsct_nfct_add_to_module(PyObject *module);

#endif /* binding.h */
