/*
 * bench.c -- the ovsct._bench extension: the C benchmark driver
 * (bench/bench.c) behind `ovsct bench`, in its own module with the engine
 * sources compiled in, so that the engine module (ovsct._engine) carries
 * no benchmark code.
 *
 *     run(phase, conns, threads, batch, buckets=0, sweep_interval=0,
 *         spread=0) -> str (one JSON object)
 *
 * The whole run happens in C threads with the GIL released.  Bad
 * parameters raise ValueError with the driver's message (OverflowError for
 * a number out of range), lack of memory MemoryError.  Neighbours:
 * bench/bench.h (the driver's contract), convert.c (conv_u32()),
 * ovsct/bench.py (the command line).
 */
#include "binding.h"

#include <errno.h>
#include <string.h>

#include "bench.h"

/* Size of the JSON buffer handed to ovsct_bench_run(). */
#define BENCH_JSON_SIZE (1 << 16)

static PyObject *
bench_run(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"phase", "conns", "threads", "batch", "buckets",
                             "sweep_interval", "spread", NULL};
    struct ovsct_bench_params p = { .buckets = 0 };
    PyObject *result;
    char *json;
    int err;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs,
                                     "sO&O&O&|O&O&O&:run", kwlist,
                                     &p.phase, conv_u32, &p.conns,
                                     conv_u32, &p.threads, conv_u32, &p.batch,
                                     conv_u32, &p.buckets,
                                     conv_u32, &p.sweep_interval_ms,
                                     conv_u32, &p.spread_ms)) {
        return NULL;
    }
    json = PyMem_RawCalloc(1, BENCH_JSON_SIZE);
    if (!json) {
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    err = ovsct_bench_run(&p, json, BENCH_JSON_SIZE);
    Py_END_ALLOW_THREADS
    json[BENCH_JSON_SIZE - 1] = '\0';
    errno = err;
    if (!err) {
        result = PyUnicode_DecodeUTF8(json, strlen(json), "replace");
    } else if (err == EINVAL) {
        PyErr_SetString(PyExc_ValueError, json[0] ? json : strerror(err));
        result = NULL;
    } else if (err == ENOMEM) {
        result = json[0] ? (PyErr_SetString(PyExc_MemoryError, json), NULL)
                         : PyErr_NoMemory();
    } else {
        PyErr_SetFromErrno(PyExc_OSError);
        result = NULL;
    }
    PyMem_RawFree(json);
    return result;
}

static PyMethodDef bench_methods[] = {
    {"run", (PyCFunction) (void (*)(void)) bench_run,
     METH_VARARGS | METH_KEYWORDS,
     "run(phase, conns, threads, batch, buckets=0, sweep_interval=0, "
     "spread=0) -> str (JSON)"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot bench_slots[] = {
    {0, NULL},
};

static struct PyModuleDef bench_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ovsct._bench",
    .m_doc = "C benchmark driver of ovsct (bench/bench.h); use `ovsct "
             "bench`.",
    .m_size = 0,
    .m_methods = bench_methods,
    .m_slots = bench_slots,
};

PyMODINIT_FUNC
PyInit__bench(void)
{
    return PyModuleDef_Init(&bench_module);
}
