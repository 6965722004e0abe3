/* Optional compiled JSON writer of schema'd structs: headwater.codecs._cjson.
 *
 * Writer(spec, dumps, tail[, fallback]) writes one value of a struct schema as the bytes
 * of headwater.codecs.jsonwrite's reference path, tail(json_encoder(schema)(value)): orjson,
 * compact, keys in the schema's order. It takes only the plain case; anything else goes to
 * fallback(value), that Python path (which fills defaults, or raises the precise error),
 * whose result or error is the call's; without a fallback it returns None. The spec is
 * built by codecs/jsonwrite.py from the schema:
 *
 *   node  = (INT,) | (FLOAT,) | (BOOL,) | (STR,) | (BYTES,) | (STRUCT, fields, as_given)
 *           | (CALL, encoder) | (DECIMAL, quantum, context)
 *   fields = ((name, key_json, nullable, node), ...)    key_json: orjson's `"name":` bytes
 *
 * The plain case is exactly what the generated encoders of codecs/schema.py pass without
 * their slow path: a struct is a dict (exactly) with exactly its fields' keys; a field's
 * value is None only where the field is optional without a default (written as null); INT
 * is an int (exactly, not bool) within 64 bits, FLOAT a float or an int (a float written by
 * dumps, orjson's own number format, NaN as null), BOOL a bool, STR a str (exactly) that
 * encodes to UTF-8, BYTES bytes (exactly), written as standard base64 with padding. A struct
 * is written in its fields' order, but one whose fields are all INT, FLOAT, BOOL or STR
 * (as_given) in the dict's own order: its encoder returns the dict itself, and orjson writes
 * that as it iterates. DECIMAL (a Connect Decimal written as a JSON number) is what the
 * Python encoder does for one: a decimal.Decimal (exactly) rescaled by
 * value.quantize(quantum, None, context) (the context traps rounding), written as str() of
 * it; an error or a result that is not finite is not the plain case. CALL runs the field's
 * Python encoder (dates, arrays, maps...) and writes its result: a str, an int within 64
 * bits or a finite Decimal (as str() of it, what the converter's writer gives) here,
 * anything else as tail(result), the converter's own JSON writer; an exception from either
 * is not the plain case either. Strings are escaped as orjson does: \" \\ \b \t \n \f \r,
 * other control characters as \u00xx, everything else as its UTF-8 bytes. The caller holds
 * the GIL; a Writer keeps no state between calls.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define HW_INLINE static inline __attribute__((always_inline))
#else
#define HW_INLINE static inline
#endif

enum { K_INT = 0, K_FLOAT = 1, K_BOOL = 2, K_STR = 3, K_BYTES = 4, K_STRUCT = 5, K_CALL = 6, K_DECIMAL = 7 };

typedef struct Node Node;

typedef struct {
    PyObject *name;     /* str key, interned */
    const char *key;    /* `"name":` as orjson writes it (points into key_bytes) */
    Py_ssize_t key_len;
    PyObject *key_bytes;
    int nullable;
    Node *node;
} Field;

struct Node {
    int kind;
    PyObject *call;     /* CALL: the Python encoder; DECIMAL: the quantum */
    PyObject *context;  /* DECIMAL: the decimal context of quantize */
    Py_ssize_t count;   /* STRUCT */
    Field *fields;
    PyObject *index;    /* STRUCT as_given: {name: field number}; else NULL */
};

static void node_free(Node *node)
{
    if (node == NULL)
        return;
    Py_XDECREF(node->call);
    Py_XDECREF(node->context);
    Py_XDECREF(node->index);
    for (Py_ssize_t i = 0; i < node->count; i++) {
        Py_XDECREF(node->fields[i].name);
        Py_XDECREF(node->fields[i].key_bytes);
        node_free(node->fields[i].node);
    }
    PyMem_Free(node->fields);
    PyMem_Free(node);
}

static Node *node_from(PyObject *spec, int depth)
{
    if (depth > 64) {
        PyErr_SetString(PyExc_ValueError, "Writer spec nests more than 64 structs");
        return NULL;
    }
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 1 || !PyLong_Check(PyTuple_GET_ITEM(spec, 0))) {
        PyErr_SetString(PyExc_TypeError, "a Writer spec node is a tuple (kind, ...)");
        return NULL;
    }
    const long kind = PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    Node *node = PyMem_Calloc(1, sizeof(Node));
    if (node == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    node->kind = (int)kind;
    const Py_ssize_t size = PyTuple_GET_SIZE(spec);
    if (kind >= K_INT && kind <= K_BYTES && size == 1)
        return node;
    if (kind == K_CALL && size == 2 && PyCallable_Check(PyTuple_GET_ITEM(spec, 1))) {
        node->call = Py_NewRef(PyTuple_GET_ITEM(spec, 1));
        return node;
    }
    if (kind == K_DECIMAL && size == 3) {
        node->call = Py_NewRef(PyTuple_GET_ITEM(spec, 1));
        node->context = Py_NewRef(PyTuple_GET_ITEM(spec, 2));
        return node;
    }
    if (kind == K_STRUCT && size == 3 && PyTuple_Check(PyTuple_GET_ITEM(spec, 1))) {
        PyObject *fields = PyTuple_GET_ITEM(spec, 1);
        const int as_given = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 2));
        if (as_given < 0 || (as_given && (node->index = PyDict_New()) == NULL)) {
            PyMem_Free(node);
            return NULL;
        }
        const Py_ssize_t count = PyTuple_GET_SIZE(fields);
        node->fields = PyMem_Calloc(count ? count : 1, sizeof(Field));
        if (node->fields == NULL) {
            PyMem_Free(node);
            PyErr_NoMemory();
            return NULL;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *item = PyTuple_GET_ITEM(fields, i);
            if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 0))
                || !PyBytes_CheckExact(PyTuple_GET_ITEM(item, 1))) {
                node->count = i;
                node_free(node);
                PyErr_SetString(PyExc_TypeError, "a Writer struct field is (name, key_json, nullable, node)");
                return NULL;
            }
            Field *field = &node->fields[i];
            node->count = i + 1;
            field->name = Py_NewRef(PyTuple_GET_ITEM(item, 0));
            PyUnicode_InternInPlace(&field->name);
            field->key_bytes = Py_NewRef(PyTuple_GET_ITEM(item, 1));
            field->key = PyBytes_AS_STRING(field->key_bytes);
            field->key_len = PyBytes_GET_SIZE(field->key_bytes);
            field->nullable = PyObject_IsTrue(PyTuple_GET_ITEM(item, 2));
            field->node = field->nullable < 0 ? NULL : node_from(PyTuple_GET_ITEM(item, 3), depth + 1);
            if (field->node == NULL) {
                node_free(node);
                return NULL;
            }
            if (node->index != NULL) {
                PyObject *number = PyLong_FromSsize_t(i);
                const int failed = number == NULL || PyDict_SetItem(node->index, field->name, number) < 0
                                   || field->node->kind > K_STR;
                Py_XDECREF(number);
                if (failed) {
                    node_free(node);
                    if (!PyErr_Occurred())
                        PyErr_SetString(PyExc_ValueError, "an as_given struct holds INT, FLOAT, BOOL and STR only");
                    return NULL;
                }
            }
        }
        return node;
    }
    PyMem_Free(node);
    PyErr_SetString(PyExc_ValueError, "unknown Writer spec node");
    return NULL;
}

/* ------------------------------------------------------------------ the output buffer */

#define INLINE_BUFFER 4096 /* most values fit: no allocation but the bytes object's */

typedef struct {
    char *data;         /* inline, or a PyMem block once a value outgrows it */
    Py_ssize_t len, cap;
    char inline_data[INLINE_BUFFER];
} Buffer;

HW_INLINE void buffer_init(Buffer *b)
{
    b->data = b->inline_data;
    b->len = 0;
    b->cap = INLINE_BUFFER;
}

HW_INLINE void buffer_free(Buffer *b)
{
    if (b->data != b->inline_data)
        PyMem_Free(b->data);
}

static int grow(Buffer *b, Py_ssize_t more)
{
    Py_ssize_t cap = b->cap;
    while (cap < b->len + more) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *data = b->data == b->inline_data ? PyMem_Malloc(cap) : PyMem_Realloc(b->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (b->data == b->inline_data)
        memcpy(data, b->inline_data, b->len);
    b->data = data;
    b->cap = cap;
    return 0;
}

HW_INLINE int reserve(Buffer *b, Py_ssize_t more)
{
    if (more > PY_SSIZE_T_MAX - b->len) {
        PyErr_NoMemory();
        return -1;
    }
    return b->len + more <= b->cap ? 0 : grow(b, more);
}

static int put(Buffer *b, const char *text, Py_ssize_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, text, n);
    b->len += n;
    return 0;
}

static int put_bytes_object(Buffer *b, PyObject *bytes)
{
    if (!PyBytes_Check(bytes)) {
        PyErr_SetString(PyExc_TypeError, "a JSON writer gave something other than bytes");
        return -1;
    }
    return put(b, PyBytes_AS_STRING(bytes), PyBytes_GET_SIZE(bytes));
}

static int put_int(Buffer *b, long long v)
{
    char digits[24];
    int n = 0;
    unsigned long long magnitude = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (reserve(b, n + 1) < 0)
        return -1;
    if (v < 0)
        b->data[b->len++] = '-';
    while (n)
        b->data[b->len++] = digits[--n];
    return 0;
}

static const char HEX[] = "0123456789abcdef";

static int put_string(Buffer *b, PyObject *text)
{
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &n);
    if (utf8 == NULL)
        return -1; /* surrogates: orjson refuses them too; the caller's path raises its error */
    if (reserve(b, n * 6 + 2) < 0)
        return -1;
    char *out = b->data + b->len;
    *out++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)utf8[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *out++ = (char)c;
            continue;
        }
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\t': *out++ = 't'; break;
        case '\n': *out++ = 'n'; break;
        case '\f': *out++ = 'f'; break;
        case '\r': *out++ = 'r'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = HEX[c >> 4];
            *out++ = HEX[c & 15];
        }
    }
    *out++ = '"';
    b->len = out - b->data;
    return 0;
}

/* An int (exactly) within 64 bits: 1 written; 0 beyond 64 bits (nothing written, no error
 * set); -1 an error to raise. */
static int put_exact_int(Buffer *b, PyObject *value)
{
    int overflow;
    const long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return put_int(b, v) < 0 ? -1 : 1;
}

/* A str (exactly): 1 written; 0 for one UTF-8 cannot hold (surrogates: orjson refuses them
 * too, and the Python path raises its error); -1 an error to raise. */
static int put_text(Buffer *b, PyObject *text)
{
    if (put_string(b, text) == 0)
        return 1;
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        return -1;
    PyErr_Clear();
    return 0;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int put_base64(Buffer *b, const unsigned char *data, Py_ssize_t n)
{
    if (n > (PY_SSIZE_T_MAX - 2) / 4 * 3 - 3 || reserve(b, (n + 2) / 3 * 4 + 2) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    char *out = b->data + b->len;
    *out++ = '"';
    Py_ssize_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        *out++ = B64[v >> 18];
        *out++ = B64[(v >> 12) & 63];
        *out++ = B64[(v >> 6) & 63];
        *out++ = B64[v & 63];
    }
    if (n - i == 1) {
        const unsigned v = (unsigned)data[i] << 16;
        *out++ = B64[v >> 18];
        *out++ = B64[(v >> 12) & 63];
        *out++ = '=';
        *out++ = '=';
    } else if (n - i == 2) {
        const unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
        *out++ = B64[v >> 18];
        *out++ = B64[(v >> 12) & 63];
        *out++ = B64[(v >> 6) & 63];
        *out++ = '=';
    }
    *out++ = '"';
    b->len = out - b->data;
    return 0;
}

/* ------------------------------------------------------------------ writing */

typedef struct {
    PyObject_HEAD
    Node *root;
    PyObject *dumps;    /* orjson.dumps: floats */
    PyObject *tail;     /* the converter's JSON writer: CALL results */
    PyObject *fallback; /* called with a value off the plain path; NULL: None is returned */
    vectorcallfunc vectorcall;
} Writer;

/* 1 written, 0 not the plain case (nothing set), -1 an error to raise. */
static int write_node(Writer *w, Node *node, PyObject *value, Buffer *b);

static PyObject *decimal_type; /* decimal.Decimal, imported at module import */
static PyObject *quantize_name; /* "quantize" */

/* A finite Decimal as str() writes it; 0 (nothing written) for NaN, Infinity and sNaN. */
static int put_decimal_text(Buffer *b, PyObject *decimal)
{
    PyObject *text = PyObject_Str(decimal);
    if (text == NULL)
        return -1;
    Py_ssize_t n;
    const char *digits = PyUnicode_AsUTF8AndSize(text, &n);
    const char first = digits == NULL || n == 0 ? 'N' : digits[digits[0] == '-' && n > 1];
    int status = 0; /* NaN, Infinity, sNaN: not JSON, the Python path raises its error */
    if (digits == NULL)
        status = -1;
    else if (first >= '0' && first <= '9')
        status = put(b, digits, n) < 0 ? -1 : 1;
    Py_DECREF(text);
    return status;
}

/* A CALL encoder's result: a str, an int or a finite Decimal (what the encoders of decimals,
 * dates and times give) written here; anything else (lists, dicts...) by tail. */
static int write_converted(Writer *w, PyObject *converted, Buffer *b)
{
    if (PyUnicode_CheckExact(converted))
        return put_text(b, converted);
    if (PyLong_CheckExact(converted)) {
        const int status = put_exact_int(b, converted);
        if (status != 0)
            return status; /* beyond 64 bits: tail writes it exactly */
    } else if (Py_IS_TYPE(converted, (PyTypeObject *)decimal_type)) {
        return put_decimal_text(b, converted);
    }
    PyObject *out = PyObject_CallOneArg(w->tail, converted);
    if (out == NULL) {
        PyErr_Clear(); /* what JSON cannot hold: the Python path raises its error */
        return 0;
    }
    const int status = put_bytes_object(b, out) < 0 ? -1 : 1;
    Py_DECREF(out);
    return status;
}

/* A dict key that is the field's name: the same object, or an exact str of the same
 * characters (a str subclass is looked up by hash instead, as before). */
HW_INLINE int same_name(PyObject *key, PyObject *name)
{
    if (key == name)
        return 1;
    if (!PyUnicode_CheckExact(key))
        return 0;
    const Py_ssize_t n = PyUnicode_GET_LENGTH(key);
    return n == PyUnicode_GET_LENGTH(name) && PyUnicode_KIND(key) == PyUnicode_KIND(name)
           && memcmp(PyUnicode_DATA(key), PyUnicode_DATA(name), (size_t)n * PyUnicode_KIND(key)) == 0;
}

static int write_node(Writer *w, Node *node, PyObject *value, Buffer *b)
{
    switch (node->kind) {
    case K_INT:
    case K_FLOAT:
        if (PyLong_CheckExact(value))
            return put_exact_int(b, value); /* beyond 64 bits: the Python path writes it exactly */
        if (node->kind == K_FLOAT && PyFloat_CheckExact(value)) {
            PyObject *text = PyObject_CallOneArg(w->dumps, value);
            if (text == NULL)
                return -1;
            const int status = put_bytes_object(b, text) < 0 ? -1 : 1;
            Py_DECREF(text);
            return status;
        }
        return 0;
    case K_BOOL:
        if (value == Py_True)
            return put(b, "true", 4) < 0 ? -1 : 1;
        if (value == Py_False)
            return put(b, "false", 5) < 0 ? -1 : 1;
        return 0;
    case K_STR:
        return PyUnicode_CheckExact(value) ? put_text(b, value) : 0;
    case K_BYTES:
        if (!PyBytes_CheckExact(value))
            return 0;
        return put_base64(b, (const unsigned char *)PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value)) < 0 ? -1 : 1;
    case K_DECIMAL: {
        if (!Py_IS_TYPE(value, (PyTypeObject *)decimal_type))
            return 0;
        PyObject *arguments[4] = {value, node->call, Py_None, node->context};
        PyObject *scaled = PyObject_VectorcallMethod(quantize_name, arguments, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        if (scaled == NULL) {
            PyErr_Clear(); /* rounding or out of range: the Python path raises the precise error */
            return 0;
        }
        const int status = put_decimal_text(b, scaled);
        Py_DECREF(scaled);
        return status;
    }
    case K_CALL: {
        PyObject *converted = PyObject_CallOneArg(node->call, value);
        if (converted == NULL) {
            PyErr_Clear(); /* a value the encoder refuses: the Python path raises the precise error */
            return 0;
        }
        const int status = write_converted(w, converted, b);
        Py_DECREF(converted);
        return status;
    }
    case K_STRUCT: {
        if (!PyDict_CheckExact(value) || PyDict_GET_SIZE(value) != node->count)
            return 0;
        if (put(b, "{", 1) < 0)
            return -1;
        Py_ssize_t position = 0;
        for (Py_ssize_t i = 0; i < node->count; i++) {
            Field *field;
            PyObject *item, *name;
            /* The dict's i-th entry (its keys are most often the fields, in order: then no
             * lookup by hash), or, without one, the field looked up by name. */
            const int next = PyDict_Next(value, &position, &name, &item);
            if (node->index != NULL) { /* the dict's order; values are never Python code here */
                if (!next)
                    return 0;
                if (same_name(name, node->fields[i].name)) {
                    field = &node->fields[i];
                } else {
                    PyObject *number = PyDict_GetItemWithError(node->index, name);
                    if (number == NULL)
                        return PyErr_Occurred() ? -1 : 0;
                    field = &node->fields[PyLong_AsSsize_t(number)];
                }
            } else {
                field = &node->fields[i];
                if (!next || !same_name(name, field->name)) {
                    item = PyDict_GetItemWithError(value, field->name);
                    if (item == NULL)
                        return PyErr_Occurred() ? -1 : 0;
                }
            }
            if ((i > 0 && put(b, ",", 1) < 0) || put(b, field->key, field->key_len) < 0)
                return -1;
            if (item == Py_None) {
                if (!field->nullable)
                    return 0;
                if (put(b, "null", 4) < 0)
                    return -1;
                continue;
            }
            Py_INCREF(item); /* a CALL encoder runs Python code that could change the dict */
            const int status = write_node(w, field->node, item, b);
            Py_DECREF(item);
            if (status != 1)
                return status;
        }
        return put(b, "}", 1) < 0 ? -1 : 1;
    }
    }
    return 0;
}

static PyObject *write_value(Writer *self, PyObject *value)
{
    Buffer b;
    buffer_init(&b);
    const int status = write_node(self, self->root, value, &b);
    PyObject *out = status == 1 ? PyBytes_FromStringAndSize(b.data, b.len) : NULL;
    buffer_free(&b);
    if (status == 0)
        out = self->fallback != NULL ? PyObject_CallOneArg(self->fallback, value) : Py_NewRef(Py_None);
    return out;
}

static PyObject *Writer_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "a Writer takes one value");
        return NULL;
    }
    return write_value((Writer *)self, args[0]);
}

static PyObject *Writer_call(Writer *self, PyObject *args, PyObject *kwargs)
{
    PyObject *value;
    static char *keywords[] = {"value", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Writer", keywords, &value))
        return NULL;
    return write_value(self, value);
}

static PyObject *Writer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *spec, *dumps, *tail, *fallback = Py_None;
    static char *keywords[] = {"spec", "dumps", "tail", "fallback", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO|O:Writer", keywords, &spec, &dumps, &tail, &fallback))
        return NULL;
    if (!PyCallable_Check(dumps) || !PyCallable_Check(tail) || (fallback != Py_None && !PyCallable_Check(fallback))) {
        PyErr_SetString(PyExc_TypeError, "Writer dumps, tail and fallback must be callable");
        return NULL;
    }
    Node *root = node_from(spec, 0);
    if (root == NULL)
        return NULL;
    if (root->kind != K_STRUCT) {
        node_free(root);
        PyErr_SetString(PyExc_ValueError, "a Writer writes structs");
        return NULL;
    }
    Writer *self = (Writer *)type->tp_alloc(type, 0);
    if (self == NULL) {
        node_free(root);
        return NULL;
    }
    self->root = root;
    self->dumps = Py_NewRef(dumps);
    self->tail = Py_NewRef(tail);
    self->fallback = fallback == Py_None ? NULL : Py_NewRef(fallback);
    self->vectorcall = Writer_vectorcall;
    return (PyObject *)self;
}

static int Writer_traverse(Writer *self, visitproc visit, void *arg);

static int Writer_clear(Writer *self)
{
    Py_CLEAR(self->dumps);
    Py_CLEAR(self->tail);
    Py_CLEAR(self->fallback);
    Node *root = self->root;
    self->root = NULL;
    node_free(root);
    return 0;
}

static int node_traverse(Node *node, visitproc visit, void *arg)
{
    if (node == NULL)
        return 0;
    Py_VISIT(node->call);
    Py_VISIT(node->context);
    Py_VISIT(node->index);
    for (Py_ssize_t i = 0; i < node->count; i++) {
        const int status = node_traverse(node->fields[i].node, visit, arg);
        if (status)
            return status;
    }
    return 0;
}

static int Writer_traverse(Writer *self, visitproc visit, void *arg)
{
    Py_VISIT(self->dumps);
    Py_VISIT(self->tail);
    Py_VISIT(self->fallback);
    return node_traverse(self->root, visit, arg);
}

static void Writer_dealloc(Writer *self)
{
    PyObject_GC_UnTrack(self);
    Writer_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject WriterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "headwater.codecs._cjson.Writer",
    .tp_basicsize = sizeof(Writer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Writer, vectorcall),
    .tp_doc = "Writer(spec, dumps, tail[, fallback])(value) -> bytes: one struct schema's values as JSON (see _cjson.c).",
    .tp_new = Writer_new,
    .tp_dealloc = (destructor)Writer_dealloc,
    .tp_traverse = (traverseproc)Writer_traverse,
    .tp_clear = (inquiry)Writer_clear,
    .tp_call = (ternaryfunc)Writer_call,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "headwater.codecs._cjson",
    .m_doc = "Optional compiled JSON writer of schema'd structs (see _cjson.c and headwater.codecs.jsonwrite).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__cjson(void)
{
    PyObject *decimal = PyImport_ImportModule("decimal");
    if (decimal == NULL)
        return NULL;
    decimal_type = PyObject_GetAttrString(decimal, "Decimal");
    Py_DECREF(decimal);
    quantize_name = PyUnicode_InternFromString("quantize");
    if (decimal_type == NULL || quantize_name == NULL || PyType_Ready(&WriterType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddType(m, &WriterType) < 0 || PyModule_AddIntConstant(m, "INT", K_INT) < 0
        || PyModule_AddIntConstant(m, "FLOAT", K_FLOAT) < 0 || PyModule_AddIntConstant(m, "BOOL", K_BOOL) < 0
        || PyModule_AddIntConstant(m, "STR", K_STR) < 0 || PyModule_AddIntConstant(m, "BYTES", K_BYTES) < 0
        || PyModule_AddIntConstant(m, "STRUCT", K_STRUCT) < 0 || PyModule_AddIntConstant(m, "CALL", K_CALL) < 0
        || PyModule_AddIntConstant(m, "DECIMAL", K_DECIMAL) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
