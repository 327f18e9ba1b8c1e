/*
 * dumpobj.c -- dumps of the ovsct._engine binding: the whole table as
 * Entry/Tuple objects (dump_entries()), as OVS dump-conntrack text
 * (dump_text()), and as a stream of text pieces through a cursor
 * (dump_begin(), dump_text_next()) that the daemon sends while the next
 * piece is formatted.
 *
 * The engine copies entries out (ovsct_dump_next()) and formats them
 * (ovsct_format_entry()) with the GIL released; Python objects are made
 * afterwards.  Neighbours: binding.h, module.c (the Conntrack type whose
 * methods these are), ext/format.c (the text), ovsct/engine.py
 * (TextStream, Entry).
 */
#include "binding.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* Entries fetched per ovsct_dump_next() call. */
#define DUMP_CHUNK 4096

/* Conntrack: dumps and statistics. */

/* Runs a whole dump into a malloc'd array.  Called without the GIL. */
static int
dump_all(struct ovsct *ct, const struct ovsct_filter *filter,
         struct ovsct_entry **out, size_t *n_out)
{
    struct ovsct_entry *entries = NULL;
    size_t n = 0, cap = 0;
    struct ovsct_dump *dump;
    int err;

    err = ovsct_dump_start(ct, filter, &dump);
    if (err) {
        return err;
    }
    for (;;) {
        size_t got = 0;
        if (cap - n < DUMP_CHUNK) {
            size_t new_cap = cap ? 2 * cap : DUMP_CHUNK;
            struct ovsct_entry *e = realloc(entries,
                                            new_cap * sizeof *entries);
            if (!e) {
                err = ENOMEM;
                break;
            }
            entries = e;
            cap = new_cap;
        }
        err = ovsct_dump_next(dump, entries + n, DUMP_CHUNK, &got);
        if (err || !got) {
            break;
        }
        n += got;
    }
    ovsct_dump_done(dump);
    if (err) {
        free(entries);
        return err;
    }
    *out = entries;
    *n_out = n;
    return 0;
}

/* Building Entry objects.
 *
 * dump_entries() makes the ovsct.engine.Entry / Tuple dataclass instances
 * itself: a Python __init__ per object costs about a microsecond, three per
 * connection, which is seconds for a million-entry dump.  The classes are
 * slots dataclasses, so each field is a member descriptor: objects are
 * created with tp_new (no __init__) and fields are stored through the
 * descriptors' own setter, which is what object.__setattr__ ends up calling.
 * Address strings and port numbers are cached for the duration of a dump. */

/* Field names, in the dataclasses' order. */
static const char *const tuple_fields[] = {
    "l3", "proto", "src", "dst", "sport", "dport", "icmp_id", "icmp_type",
    "icmp_code",
};
#define N_TUPLE_FIELDS (sizeof tuple_fields / sizeof *tuple_fields)
static const char *const entry_fields[] = {
    "orig", "reply", "zone", "mark", "labels", "expiration", "timeout",
    "tcp_state", "tcp_wscale", "tcp_flags", "bucket", "nat", "helper",
    "parent",
};
#define N_ENTRY_FIELDS (sizeof entry_fields / sizeof *entry_fields)

/* Direct-mapped cache of address strings. */
#define ADDR_CACHE_SIZE 4096

struct builder {
    PyTypeObject *tuple_type, *entry_type;
    PyObject *tuple_descrs[N_TUPLE_FIELDS];
    PyObject *entry_descrs[N_ENTRY_FIELDS];
    PyObject *tcp_names;        /* Tuple of OVSCT_TCPS_N str. */
    PyObject *empty;            /* () for tp_new. */
    PyObject **ports;           /* 65536 lazily made ints. */
    struct {
        uint8_t key[17];        /* l3, then the address. */
        PyObject *str;
    } *addrs;
};

static void
builder_destroy(struct builder *b)
{
    for (size_t i = 0; i < N_TUPLE_FIELDS; i++) {
        Py_CLEAR(b->tuple_descrs[i]);
    }
    for (size_t i = 0; i < N_ENTRY_FIELDS; i++) {
        Py_CLEAR(b->entry_descrs[i]);
    }
    Py_CLEAR(b->empty);
    if (b->ports) {
        for (size_t i = 0; i < 65536; i++) {
            Py_XDECREF(b->ports[i]);
        }
        PyMem_Free(b->ports);
        b->ports = NULL;
    }
    if (b->addrs) {
        for (size_t i = 0; i < ADDR_CACHE_SIZE; i++) {
            Py_XDECREF(b->addrs[i].str);
        }
        PyMem_Free(b->addrs);
        b->addrs = NULL;
    }
}

/* Looks up the member descriptors of 'type' for 'names'. */
static int
get_descrs(PyTypeObject *type, const char *const *names, size_t n,
           PyObject **descrs)
{
    for (size_t i = 0; i < n; i++) {
        descrs[i] = PyObject_GetAttrString((PyObject *) type, names[i]);
        if (!descrs[i]) {
            return -1;
        }
        if (!PyObject_TypeCheck(descrs[i], &PyMemberDescr_Type)
            || !Py_TYPE(descrs[i])->tp_descr_set) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot",
                         type->tp_name, names[i]);
            return -1;
        }
    }
    return 0;
}

static int
builder_init(struct builder *b, PyObject *tuple_type, PyObject *entry_type,
             PyObject *tcp_names)
{
    memset(b, 0, sizeof *b);
    if (!PyType_Check(tuple_type) || !PyType_Check(entry_type)
        || !PyTuple_Check(tcp_names)
        || PyTuple_GET_SIZE(tcp_names) != OVSCT_TCPS_N) {
        PyErr_SetString(PyExc_TypeError, "bad Tuple/Entry/TCP names");
        return -1;
    }
    b->tuple_type = (PyTypeObject *) tuple_type;
    b->entry_type = (PyTypeObject *) entry_type;
    b->tcp_names = tcp_names;
    b->empty = PyTuple_New(0);
    b->ports = PyMem_Calloc(65536, sizeof *b->ports);
    b->addrs = PyMem_Calloc(ADDR_CACHE_SIZE, sizeof *b->addrs);
    if (!b->empty || !b->ports || !b->addrs) {
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        return -1;
    }
    if (get_descrs(b->tuple_type, tuple_fields, N_TUPLE_FIELDS,
                   b->tuple_descrs)
        || get_descrs(b->entry_type, entry_fields, N_ENTRY_FIELDS,
                      b->entry_descrs)) {
        return -1;
    }
    return 0;
}

/* New reference to the int 'port' (0..65535). */
static PyObject *
builder_port(struct builder *b, uint16_t port)
{
    PyObject **slot = &b->ports[port];
    if (!*slot) {
        *slot = PyLong_FromLong(port);
    }
    return Py_XNewRef(*slot);
}

/* New reference to the text form of address 'a' of family 'l3'. */
static PyObject *
builder_addr(struct builder *b, uint8_t l3, const uint8_t a[16])
{
    uint8_t key[17];
    uint32_t h = 2166136261u;
    size_t len = l3 == 4 ? 4 : 16;

    key[0] = l3;
    memcpy(key + 1, a, 16);
    for (size_t i = 0; i < 1 + len; i++) {
        h = (h ^ key[i]) * 16777619u;
    }
    h &= ADDR_CACHE_SIZE - 1;
    if (b->addrs[h].str && !memcmp(b->addrs[h].key, key, 1 + len)) {
        return Py_NewRef(b->addrs[h].str);
    }

    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(l3 == 4 ? AF_INET : AF_INET6, a, text, sizeof text)) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *s = PyUnicode_DecodeASCII(text, strlen(text), NULL);
    if (s) {
        Py_XSETREF(b->addrs[h].str, Py_NewRef(s));
        memcpy(b->addrs[h].key, key, sizeof key);
    }
    return s;
}

/* Creates an instance of 'type' without __init__ and sets its 'n' fields
 * from 'values' (stolen references; NULL means an error occurred while
 * making it). */
static PyObject *
builder_make(struct builder *b, PyTypeObject *type, PyObject **descrs,
             PyObject **values, size_t n)
{
    PyObject *obj = NULL;

    for (size_t i = 0; i < n; i++) {
        if (!values[i]) {
            goto out;
        }
    }
    obj = type->tp_new(type, b->empty, NULL);
    for (size_t i = 0; obj && i < n; i++) {
        if (Py_TYPE(descrs[i])->tp_descr_set(descrs[i], obj, values[i])) {
            Py_CLEAR(obj);
        }
    }
out:
    for (size_t i = 0; i < n; i++) {
        Py_XDECREF(values[i]);
    }
    return obj;
}

static PyObject *
builder_tuple(struct builder *b, const struct ovsct_tuple *t)
{
    bool icmp = t->proto == 1 || t->proto == 58;
    PyObject *v[N_TUPLE_FIELDS] = {
        PyLong_FromLong(t->l3),
        PyLong_FromLong(t->proto),
        builder_addr(b, t->l3, t->src),
        builder_addr(b, t->l3, t->dst),
        builder_port(b, icmp ? 0 : t->sport),
        builder_port(b, icmp ? 0 : t->dport),
        builder_port(b, icmp ? t->sport : 0),
        PyLong_FromLong(icmp ? t->icmp_type : 0),
        PyLong_FromLong(icmp ? t->icmp_code : 0),
    };
    return builder_make(b, b->tuple_type, b->tuple_descrs, v,
                        N_TUPLE_FIELDS);
}

static PyObject *
pair(PyObject *a, PyObject *b)
{
    PyObject *t = a && b ? PyTuple_Pack(2, a, b) : NULL;
    Py_XDECREF(a);
    Py_XDECREF(b);
    return t;
}

static PyObject *
builder_entry(struct builder *b, const struct ovsct_entry *e, int64_t now)
{
    int64_t left = e->expiration - now;
    PyObject *tcp_state;

    if (e->orig.proto == 6) {
        uint8_t s0 = e->tcp_state[0] < OVSCT_TCPS_N ? e->tcp_state[0] : 0;
        uint8_t s1 = e->tcp_state[1] < OVSCT_TCPS_N ? e->tcp_state[1] : 0;
        tcp_state = pair(Py_NewRef(PyTuple_GET_ITEM(b->tcp_names, s0)),
                         Py_NewRef(PyTuple_GET_ITEM(b->tcp_names, s1)));
    } else {
        tcp_state = Py_NewRef(Py_None);
    }

    PyObject *v[N_ENTRY_FIELDS] = {
        builder_tuple(b, &e->orig),
        builder_tuple(b, &e->reply),
        builder_port(b, e->zone),
        PyLong_FromUnsignedLong(e->mark),
        u128_to_int(e->labels.hi, e->labels.lo),
        PyLong_FromLongLong(e->expiration),
        PyLong_FromLongLong(left > 0 ? left / 1000 : 0),
        tcp_state,
        pair(PyLong_FromLong(e->tcp_wscale[0]),
             PyLong_FromLong(e->tcp_wscale[1])),
        pair(PyLong_FromLong(e->tcp_flags[0]),
             PyLong_FromLong(e->tcp_flags[1])),
        PyLong_FromUnsignedLong(e->bucket),
        PyLong_FromLong(e->nat),
        (e->helper < OVSCT_ALG_N && ovsct_alg_names[e->helper]
         ? PyUnicode_InternFromString(ovsct_alg_names[e->helper])
         : Py_NewRef(Py_None)),
        e->has_parent ? builder_tuple(b, &e->parent) : Py_NewRef(Py_None),
    };
    return builder_make(b, b->entry_type, b->entry_descrs, v,
                        N_ENTRY_FIELDS);
}

/* The builder for other files (events.c), on the heap. */
struct builder *
entry_builder_new(PyObject *tuple_type, PyObject *entry_type,
                  PyObject *tcp_names)
{
    struct builder *b = PyMem_Malloc(sizeof *b);

    if (!b) {
        PyErr_NoMemory();
        return NULL;
    }
    if (builder_init(b, tuple_type, entry_type, tcp_names)) {
        builder_destroy(b);
        PyMem_Free(b);
        return NULL;
    }
    return b;
}

PyObject *
entry_builder_make(struct builder *b, const struct ovsct_entry *e,
                   int64_t now)
{
    return builder_entry(b, e, now);
}

void
entry_builder_free(struct builder *b)
{
    if (b) {
        builder_destroy(b);
        PyMem_Free(b);
    }
}

/* dump_entries(filter, Tuple, Entry, tcp_state_names) -> list[Entry]
 *
 * 'filter': None, a zone, or a filter tuple (convert.c parse_filter()).
 *
 * The whole dump runs with the GIL released; objects are made after. */
PyObject *
ct_dump_entries(CtObject *self, PyObject *args)
{
    struct ovsct *ct = ct_get(self);
    struct ovsct_entry *entries = NULL;
    PyObject *filter_obj, *tuple_type, *entry_type, *tcp_names;
    PyObject *list = NULL;
    struct ovsct_filter filter;
    struct builder b;
    size_t n = 0;
    bool has;
    int64_t now = 0;
    int err;

    if (!ct || !PyArg_ParseTuple(args, "OOOO:dump_entries", &filter_obj,
                                 &tuple_type, &entry_type, &tcp_names)
        || parse_filter(filter_obj, &filter, &has)) {
        return NULL;
    }
    if (builder_init(&b, tuple_type, entry_type, tcp_names)) {
        builder_destroy(&b);
        return NULL;
    }
    CT_BEGIN(self);
    now = ovsct_now(ct);
    err = dump_all(ct, has ? &filter : NULL, &entries, &n);
    CT_END(self);
    if (err) {
        set_error(ct_state(self), err, NULL, NULL);
        goto out;
    }

    /* Three new container objects per entry would trigger a collection
     * every few hundred entries, each walking the ever larger young
     * generation: 5x the construction time.  None of them can form a cycle,
     * so the collector is paused while they are made (the GIL is held
     * throughout, so this is invisible to other threads). */
    int gc_was_enabled = PyGC_Disable();
    list = PyList_New(n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *obj = builder_entry(&b, &entries[i], now);
        if (!obj) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, obj);
    }
    if (gc_was_enabled) {
        PyGC_Enable();
    }

out:
    free(entries);
    builder_destroy(&b);
    return list;
}

/* One formatted line in a text buffer. */
struct line {
    size_t ofs;
    size_t len;
    const char *base;
};

static int
line_cmp(const void *a_, const void *b_)
{
    const struct line *a = a_, *b = b_;
    size_t len = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->base + a->ofs, b->base + b->ofs, len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Formats 'n' entries into '*textp' as lines (no separators) and records
 * them in '*linesp'.  Called without the GIL. */
static int
format_all(const struct ovsct_entry *entries, size_t n, bool json,
           bool verbose, bool print_stats, int64_t now, char **textp,
           struct line **linesp)
{
    size_t size = 0, cap = n * 160 + 1024;
    char *text = malloc(cap);
    struct line *lines = malloc((n ? n : 1) * sizeof *lines);

    if (!text || !lines) {
        goto nomem;
    }
    for (size_t i = 0; i < n; i++) {
        for (;;) {
            int len = json
                      ? ovsct_format_entry_json(&entries[i], now, text + size,
                                                cap - size)
                      : ovsct_format_entry(&entries[i], verbose, print_stats,
                                           now, text + size, cap - size);
            if (len < 0) {
                free(text);
                free(lines);
                return EINVAL;
            }
            if ((size_t) len < cap - size) {
                lines[i].ofs = size;
                lines[i].len = len;
                size += len;
                break;
            }
            size_t new_cap = 2 * cap + len;
            char *t = realloc(text, new_cap);
            if (!t) {
                goto nomem;
            }
            text = t;
            cap = new_cap;
        }
    }
    for (size_t i = 0; i < n; i++) {
        lines[i].base = text;
    }
    *textp = text;
    *linesp = lines;
    return 0;

nomem:
    free(text);
    free(lines);
    return ENOMEM;
}

/* dump_text(filter=None, verbose=False, stats=False, sort=True,
 *           json=False) -> str, or bytes with 'json'
 *
 * The OVS dump-conntrack lines of every connection 'filter' selects (None,
 * a zone, or a filter tuple), each followed by "\n".  Dumping, formatting
 * (ovsct_format_entry()) and sorting all run in C with the GIL released.
 * 'sort' orders lines bytewise, which makes the output independent of the
 * bucket layout; OVS itself prints in hash order.
 *
 * With 'json', the UTF-8 text of the JSON list of the connections instead
 * (ovsct_format_entry_json() objects joined by ","), 'sort' ordering them
 * by ovsct_sort_entries(). */
PyObject *
ct_dump_text(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"filter", "verbose", "stats", "sort", "json",
                             NULL};
    struct ovsct *ct = ct_get(self);
    struct ovsct_entry *entries = NULL;
    struct ovsct_filter filter;
    struct line *lines = NULL;
    char *text = NULL;
    PyObject *filter_obj = Py_None, *result = NULL;
    int verbose = 0, print_stats = 0, sort = 1, json = 0;
    size_t n = 0, total = 0;
    bool has;
    int err;

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs, "|Opppp:dump_text",
                                            kwlist, &filter_obj, &verbose,
                                            &print_stats, &sort, &json)
        || parse_filter(filter_obj, &filter, &has)) {
        return NULL;
    }
    CT_BEGIN(self);
    int64_t now = ovsct_now(ct);
    err = dump_all(ct, has ? &filter : NULL, &entries, &n);
    if (!err && json && sort) {
        err = ovsct_sort_entries(entries, n);
    }
    if (!err) {
        err = format_all(entries, n, json, verbose, print_stats, now, &text,
                         &lines);
    }
    free(entries);
    if (!err) {
        if (sort && !json) {
            qsort(lines, n, sizeof *lines, line_cmp);
        }
        for (size_t i = 0; i < n; i++) {
            total += lines[i].len + 1;
        }
        if (json) {
            total += !n + 1;    /* "[" "]": n - 1 commas, 2 brackets. */
        }
    }
    CT_END(self);
    if (err) {
        return set_error(ct_state(self), err, NULL, NULL);
    }

    /* Formatted text is ASCII: build the object, then fill its storage
     * with the GIL released.  The object is not visible to any other
     * thread until this function returns it. */
    result = json ? PyBytes_FromStringAndSize(NULL, (Py_ssize_t) total)
                  : PyUnicode_New(total, 127);
    if (result) {
        char *dst = json ? PyBytes_AS_STRING(result)
                         : (char *) PyUnicode_1BYTE_DATA(result);
        CT_BEGIN(self);
        if (json) {
            *dst++ = '[';
        }
        for (size_t i = 0; i < n; i++) {
            if (json && i) {
                *dst++ = ',';
            }
            memcpy(dst, text + lines[i].ofs, lines[i].len);
            dst += lines[i].len;
            if (!json) {
                *dst++ = '\n';
            }
        }
        if (json) {
            *dst++ = ']';
        }
        CT_END(self);
    }
    free(text);
    free(lines);
    return result;
}

/* Dump cursors: dump_begin() and dump_text_next() let a caller stream a
 * dump in pieces (the daemon writes each piece while the next one is
 * formatted), instead of building the whole text first. */
#define CURSOR_NAME "ovsct._engine.dump_cursor"
#define CURSOR_ENTRIES 256

struct dump_cursor {
    struct ovsct_dump *dump;
    struct ovsct *ct;           /* Kept alive by 'owner'. */
    CtObject *owner;            /* Strong reference. */
    bool busy;                  /* A dump_text_next() is running. */
    size_t n_json;              /* JSON objects written so far. */
    struct ovsct_entry entries[CURSOR_ENTRIES];
};

/* The cursor in 'capsule', if it is one of 'self' and no call is using it;
 * else NULL with ValueError (as for an object that is not a cursor). */
static struct dump_cursor *
cursor_get(CtObject *self, PyObject *capsule)
{
    struct dump_cursor *c = PyCapsule_GetPointer(capsule, CURSOR_NAME);

    if (c && (c->owner != self || c->busy)) {
        PyErr_SetString(PyExc_ValueError,
                        "dump cursor of another Conntrack, or in use");
        return NULL;
    }
    return c;
}

static void
cursor_destroy(PyObject *capsule)
{
    struct dump_cursor *c = PyCapsule_GetPointer(capsule, CURSOR_NAME);
    CtObject *owner;

    if (!c) {
        PyErr_Clear();
        return;
    }
    owner = c->owner;
    ovsct_dump_done(c->dump);
    free(c);
    if (--owner->n_cursors == 0 && owner->doomed && !owner->busy) {
        struct ovsct *ct = owner->doomed;

        owner->doomed = NULL;
        Py_BEGIN_ALLOW_THREADS
        ovsct_destroy(ct);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(owner);
}

/* dump_begin(filter=None) -> cursor (an opaque capsule) over the
 * connections 'filter' (None, a zone or a filter tuple) selects. */
PyObject *
ct_dump_begin(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"filter", NULL};
    struct ovsct *ct = ct_get(self);
    PyObject *filter_obj = Py_None, *capsule;
    struct ovsct_filter filter;
    struct dump_cursor *c;
    bool has;
    int err;

    if (!ct || !PyArg_ParseTupleAndKeywords(args, kwargs, "|O:dump_begin",
                                            kwlist, &filter_obj)
        || parse_filter(filter_obj, &filter, &has)) {
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        return PyErr_NoMemory();
    }
    err = ovsct_dump_start(ct, has ? &filter : NULL, &c->dump);
    if (err) {
        free(c);
        return set_error(ct_state(self), err, NULL, NULL);
    }
    c->ct = ct;
    c->owner = self;
    capsule = PyCapsule_New(c, CURSOR_NAME, cursor_destroy);
    if (!capsule) {
        ovsct_dump_done(c->dump);
        free(c);
        return NULL;
    }
    Py_INCREF(self);
    self->n_cursors++;
    return capsule;
}

/* dump_text_next(cursor, verbose=False, stats=False, size=1 MiB,
 *                escaped=False, json=False) -> str or bytes
 *
 * The next OVS dump lines (each ending in "\n"), about 'size' bytes of
 * them, formatted with the GIL released; "" once the dump is over.  Lines
 * come in bucket (hash) order, as OVS prints them.  With 'escaped', bytes
 * ready to stand inside a JSON string: the lines are printable ASCII with
 * no quote or backslash, so only the newlines need escaping, done here
 * instead of in a second pass over the text.
 *
 * With 'json', bytes of JSON objects (ovsct_format_entry_json()) instead
 * of lines: each but the cursor's first preceded by ",", so that "[", the
 * pieces and "]" make the JSON list of the dump. */
PyObject *
ct_dump_text_next(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"cursor", "verbose", "stats", "size",
                             "escaped", "json", NULL};
    PyObject *capsule, *result;
    struct dump_cursor *c;
    int verbose = 0, print_stats = 0, escaped = 0, json = 0;
    Py_ssize_t want = 1 << 20;
    size_t len = 0, cap;
    char *text;
    int err = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|ppnpp:dump_text_next",
                                     kwlist, &capsule, &verbose,
                                     &print_stats, &want, &escaped, &json)) {
        return NULL;
    }
    c = cursor_get(self, capsule);
    if (!c) {
        return NULL;
    }
    if (want < 4096) {
        want = 4096;
    }
    cap = (size_t) want + 4096;
    text = malloc(cap);
    if (!text) {
        return PyErr_NoMemory();
    }
    c->busy = true;
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    int64_t now = ovsct_now(c->ct);
    while (len < (size_t) want) {
        size_t n = 0;

        err = ovsct_dump_next(c->dump, c->entries, CURSOR_ENTRIES, &n);
        if (err || !n) {
            break;
        }
        for (size_t i = 0; i < n && !err; i++) {
            for (;;) {
                /* JSON: room for the separator before the object. */
                size_t sep = json && c->n_json;
                int l = json
                        ? ovsct_format_entry_json(&c->entries[i], now,
                                                  text + len + 1,
                                                  cap - len - 1)
                        : ovsct_format_entry(&c->entries[i], verbose,
                                             print_stats, now, text + len,
                                             cap - len);
                if (l < 0) {
                    err = EINVAL;
                    break;
                }
                if ((size_t) l + 2 < cap - len) {
                    if (json) {
                        if (sep) {
                            text[len++] = ',';
                        } else {
                            memmove(text + len, text + len + 1, (size_t) l);
                        }
                        len += (size_t) l;
                        c->n_json++;
                        break;
                    }
                    len += (size_t) l;
                    if (escaped) {
                        text[len++] = '\\';
                        text[len++] = 'n';
                    } else {
                        text[len++] = '\n';
                    }
                    break;
                }
                char *t = realloc(text, cap * 2 + (size_t) l);
                if (!t) {
                    err = ENOMEM;
                    break;
                }
                text = t;
                cap = cap * 2 + (size_t) l;
            }
        }
    }
    Py_END_ALLOW_THREADS
    self->busy--;
    c->busy = false;
    if (err) {
        free(text);
        return set_error(ct_state(self), err, NULL, NULL);
    }
    result = escaped || json
             ? PyBytes_FromStringAndSize(text, (Py_ssize_t) len)
             : PyUnicode_DecodeASCII(text, (Py_ssize_t) len, NULL);
    free(text);
    return result;
}

/* stats(zone=None) -> (total, per_proto[OVSCT_PC_N], tcp_states[N]). */

/* dump_entries_next(cursor, Tuple, Entry, tcp_state_names, max=256)
 *     -> list[Entry]
 *
 * The next entries of a dump_begin() cursor (at most 'max'), made as
 * dump_entries() makes them; [] once the dump is over.  The
 * walk runs with the GIL released.  With it a consumer (the daemon's JSON
 * dump) holds one piece of the table at a time, never the whole of it. */
PyObject *
ct_dump_entries_next(CtObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"cursor", "Tuple", "Entry", "tcp_state_names",
                             "max", NULL};
    PyObject *capsule, *tuple_type, *entry_type, *tcp_names;
    PyObject *list = NULL;
    struct dump_cursor *c;
    struct builder b;
    Py_ssize_t want = CURSOR_ENTRIES;
    size_t n = 0;
    int64_t now = 0;
    int err = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO|n:dump_entries_next",
                                     kwlist, &capsule, &tuple_type,
                                     &entry_type, &tcp_names, &want)) {
        return NULL;
    }
    c = cursor_get(self, capsule);
    if (!c) {
        return NULL;
    }
    if (want < 1 || want > CURSOR_ENTRIES) {
        want = CURSOR_ENTRIES;
    }
    if (builder_init(&b, tuple_type, entry_type, tcp_names)) {
        builder_destroy(&b);
        return NULL;
    }
    c->busy = true;
    self->busy++;
    Py_BEGIN_ALLOW_THREADS
    now = ovsct_now(c->ct);
    err = ovsct_dump_next(c->dump, c->entries, (size_t) want, &n);
    Py_END_ALLOW_THREADS
    self->busy--;
    c->busy = false;
    if (err) {
        builder_destroy(&b);
        return set_error(ct_state(self), err, NULL, NULL);
    }
    list = PyList_New((Py_ssize_t) n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *obj = builder_entry(&b, &c->entries[i], now);
        if (!obj) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t) i, obj);
    }
    builder_destroy(&b);
    return list;
}
