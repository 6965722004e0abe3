/*
 * Optional compiled core of the LogMiner SQL_REDO parser (headwater.codecs.oracle._credo),
 * and of the typed conversion that follows it: the Oracle task's per-clause conversion loop
 * (convert_row, Column) and the commonest literals (epoch, zoned), after the parser below;
 * last, event(), which reads, converts and builds a plain change event's key and envelope
 * in one call (the task falls back to its Python path whenever event() gives None), and
 * records(), which does that for a run of a transaction's changes and makes their
 * SourceRecords (handing back each change it leaves to the task's Python path).
 *
 * Contract: headwater.codecs.oracle.redo builds one Parser(RedoChange) at import and calls
 * Parser.parse(sql) first in parse_redo (the caller holds the GIL). parse returns a
 * RedoChange when the statement has exactly one of the three shapes LogMiner writes (the
 * shapes redo._fast reads with its whole-statement regular expressions):
 *
 *   insert into "S"."T"("A","B",...) values (v,v,...);
 *   update "S"."T" set "A" = v, "B" = v[ where "A" = v and "B" IS NULL ...];
 *   delete from "S"."T"[ where "A" = v and "B" IS NULL ...];
 *
 * (the final ';' optional, single blanks, lower-case keywords, no alias, no ROWID, no
 * '||', no comment), where v is a quoted string ('O''Brien'), NULL, a number, a function
 * call without nested parentheses (TO_DATE('..', '..'), HEXTORAW('..'), EMPTY_CLOB()),
 * Unsupported Type, Inf or Nan, exactly as the regular expressions _F_QUOTED and _F_OTHER
 * define them. It returns None for anything else, and then the Python path (redo._fast,
 * then the general reader) reads the statement and produces every error: this file never
 * builds an error message and raises nothing but MemoryError. It also returns None for an
 * update with an empty SET clause and for non-ASCII digits (forms LogMiner does not write,
 * left to the Python path whatever it makes of them).
 *
 * Values are those of the Python path: a quoted string's text with doubled quotes undone,
 * NULL (and IS NULL) as None, anything else as its exact text; tests/codecs/
 * test_oracle_redo_native.py compares both on generated and mangled statements.
 *
 * Safety: every character read is at an index checked against the string's length; the
 * scan has no recursion and an insert is read only up to 1,000 columns (Oracle's limit;
 * beyond, None). Column, schema and table names are kept per kind of statement and per
 * position, and reused while the next statement repeats them (the same table, over and
 * over), so a steady stream builds no name strings; the cache only ever holds owned
 * references and is updated before any call that could run Python code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define HW_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define HW_INLINE static __forceinline
#else
#define HW_INLINE static inline
#endif

#define MAX_COLUMNS 1000 /* Oracle's limit of columns per table */
#define NAME_SLOTS 64    /* names cached per kind of statement, by position */

enum { K_INSERT = 0, K_UPDATE = 1, K_DELETE = 2, K_KINDS = 3 };
enum { V_FAIL = 0, V_QUOTED, V_NULL, V_TEXT };

typedef struct {
    PyObject_HEAD
    PyObject *change_class;                 /* RedoChange */
    PyObject *operations[K_KINDS];          /* "INSERT", "UPDATE", "DELETE" */
    PyObject *names[K_KINDS][NAME_SLOTS + 2]; /* [0] schema, [1] table, [2..] columns by position */
} Parser;

/* ------------------------------------------------------------------ reading characters */

#define RD(i) PyUnicode_READ(kind, data, (i))

HW_INLINE int is_digit(Py_UCS4 c) { return c >= '0' && c <= '9'; }
HW_INLINE int is_name_start(Py_UCS4 c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
HW_INLINE int is_name_char(Py_UCS4 c) { return is_name_start(c) || is_digit(c) || c == '$' || c == '#'; }

/* The first index >= i (and < n) holding c, or -1. */
HW_INLINE Py_ssize_t find_char(const int kind, const void *data, Py_ssize_t i, Py_ssize_t n, Py_UCS4 c)
{
    if (i >= n)
        return -1;
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *start = (const Py_UCS1 *)data;
        const void *found = memchr(start + i, (int)c, (size_t)(n - i));
        return found == NULL ? -1 : (const Py_UCS1 *)found - start;
    }
    for (; i < n; i++)
        if (RD(i) == c)
            return i;
    return -1;
}

/* Does the ASCII literal lit (length len) stand at index i? */
HW_INLINE int has(const int kind, const void *data, Py_ssize_t n, Py_ssize_t i, const char *lit, Py_ssize_t len)
{
    if (i < 0 || n - i < len)
        return 0;
    for (Py_ssize_t k = 0; k < len; k++)
        if (RD(i + k) != (Py_UCS4)(unsigned char)lit[k])
            return 0;
    return 1;
}
#define HAS(i, lit) has(kind, data, n, (i), (lit), (Py_ssize_t)(sizeof(lit) - 1))

/* A quoted string opening at i ('...' with '' for a quote): the index after its closing
 * quote, or -1 if it never closes. Sets *doubled when it holds a doubled quote. This is
 * _F_QUOTED: possessive, so a quote followed by a quote is always a doubled quote. */
HW_INLINE Py_ssize_t scan_quoted(const int kind, const void *data, Py_ssize_t n, Py_ssize_t i, int *doubled)
{
    i++;
    for (;;) {
        Py_ssize_t q = find_char(kind, data, i, n, '\'');
        if (q < 0)
            return -1;
        if (q + 1 < n && RD(q + 1) == '\'') {
            *doubled = 1;
            i = q + 2;
            continue;
        }
        return q + 1;
    }
}

/* One value at i (_F_VALUE): its kind (V_FAIL if none) and *end, the index after it.
 * Where the regular expression could try several alternatives, only one of them can be
 * followed by a separator (',', ')', ' ', ';' or the end), which the caller checks. */
HW_INLINE int scan_value(const int kind, const void *data, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *end, int *doubled)
{
    if (i >= n)
        return V_FAIL;
    Py_UCS4 c = RD(i);
    if (c == '\'') {
        Py_ssize_t e = scan_quoted(kind, data, n, i, doubled);
        if (e < 0)
            return V_FAIL;
        *end = e;
        return V_QUOTED;
    }
    if (is_name_start(c)) {
        Py_ssize_t j = i + 1;
        while (j < n && is_name_char(RD(j)))
            j++;
        if (j < n && RD(j) == '(') { /* a function: quoted strings and anything but ( ) ' */
            int ignored = 0;
            j++;
            for (;;) {
                if (j >= n)
                    return V_FAIL;
                c = RD(j);
                if (c == ')') {
                    *end = j + 1;
                    return V_TEXT;
                }
                if (c == '(')
                    return V_FAIL;
                if (c == '\'') {
                    j = scan_quoted(kind, data, n, j, &ignored);
                    if (j < 0)
                        return V_FAIL;
                    continue;
                }
                j++;
            }
        }
        Py_ssize_t len = j - i;
        if (len == 4 && HAS(i, "NULL")) {
            *end = j;
            return V_NULL;
        }
        if (len == 3 && (HAS(i, "Inf") || HAS(i, "Nan"))) {
            *end = j;
            return V_TEXT;
        }
        if (len == 11 && HAS(i, "Unsupported Type")) {
            *end = i + 16;
            return V_TEXT;
        }
        return V_FAIL;
    }
    Py_ssize_t j = i;
    if (c == '+' || c == '-') {
        j++;
        if (HAS(j, "Inf")) {
            *end = j + 3;
            return V_TEXT;
        }
    }
    /* [-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)? taken whole: a shorter reading would end
     * before a digit, '.', 'e' or a sign, none of which may follow a value. */
    if (j < n && is_digit(RD(j))) {
        while (j < n && is_digit(RD(j)))
            j++;
        if (j < n && RD(j) == '.') {
            j++;
            while (j < n && is_digit(RD(j)))
                j++;
        }
    }
    else if (j + 1 < n && RD(j) == '.' && is_digit(RD(j + 1))) {
        j += 2;
        while (j < n && is_digit(RD(j)))
            j++;
    }
    else
        return V_FAIL;
    if (j < n && (RD(j) == 'e' || RD(j) == 'E')) {
        Py_ssize_t k = j + 1;
        if (k < n && (RD(k) == '+' || RD(k) == '-'))
            k++;
        if (k < n && is_digit(RD(k))) {
            while (k < n && is_digit(RD(k)))
                k++;
            j = k;
        }
    }
    *end = j;
    return V_TEXT;
}

/* ------------------------------------------------------------------ building values */

/* A quoted string's text between a and b (quotes excluded) with '' made '. */
HW_INLINE PyObject *unescape(const int kind, const void *data, Py_ssize_t a, Py_ssize_t b)
{
    Py_UCS4 widest = 0;
    Py_ssize_t length = 0;
    for (Py_ssize_t i = a; i < b; i++) {
        Py_UCS4 c = RD(i);
        if (c == '\'')
            i++; /* the second quote of the pair */
        if (c > widest)
            widest = c;
        length++;
    }
    PyObject *out = PyUnicode_New(length, widest);
    if (out == NULL)
        return NULL;
    int out_kind = PyUnicode_KIND(out);
    void *out_data = PyUnicode_DATA(out);
    Py_ssize_t k = 0;
    for (Py_ssize_t i = a; i < b && k < length; i++) {
        Py_UCS4 c = RD(i);
        if (c == '\'')
            i++;
        PyUnicode_WRITE(out_kind, out_data, k, c);
        k++;
    }
    return out;
}

/* The value scanned from start to end (of kind type) as the Python path gives it. */
HW_INLINE PyObject *
make_value(const int kind, const void *data, PyObject *sql, int type, Py_ssize_t start, Py_ssize_t end, int doubled)
{
    if (type == V_NULL)
        Py_RETURN_NONE;
    if (type == V_QUOTED)
        return doubled ? unescape(kind, data, start + 1, end - 1) : PyUnicode_Substring(sql, start + 1, end - 1);
    return PyUnicode_Substring(sql, start, end);
}

/* Does the string s hold the text between a and a + length? */
HW_INLINE int same_text(const int kind, const void *data, Py_ssize_t a, Py_ssize_t length, PyObject *s)
{
    if (PyUnicode_GET_LENGTH(s) != length)
        return 0;
    int s_kind = PyUnicode_KIND(s);
    const void *s_data = PyUnicode_DATA(s);
    if (s_kind == kind)
        return memcmp((const char *)data + a * kind, s_data, (size_t)(length * kind)) == 0;
    for (Py_ssize_t k = 0; k < length; k++)
        if (PyUnicode_READ(s_kind, s_data, k) != RD(a + k))
            return 0;
    return 1;
}

/* The name between a and b: the cached string of this slot when it holds the same text,
 * else a new string (which then replaces the cached one). A new reference, or NULL. */
HW_INLINE PyObject *
name_at(Parser *self, const int kind, const void *data, PyObject *sql, int which, Py_ssize_t slot, Py_ssize_t a, Py_ssize_t b)
{
    PyObject **cell = slot < NAME_SLOTS + 2 ? &self->names[which][slot] : NULL;
    if (cell != NULL && *cell != NULL && same_text(kind, data, a, b - a, *cell))
        return Py_NewRef(*cell);
    PyObject *name = PyUnicode_Substring(sql, a, b);
    if (name != NULL && cell != NULL) {
        PyObject *old = *cell;
        *cell = Py_NewRef(name);
        Py_XDECREF(old); /* a str: frees without running Python code */
    }
    return name;
}

/* ------------------------------------------------------------------ the three shapes */

typedef struct {
    Py_ssize_t schema_start, schema_end, table_start, table_end;
} TableSpan;

/* "S"."T" at i: the index after it, or -1. */
HW_INLINE Py_ssize_t scan_table(const int kind, const void *data, Py_ssize_t n, Py_ssize_t i, TableSpan *span)
{
    if (i >= n || RD(i) != '"')
        return -1;
    Py_ssize_t close = find_char(kind, data, i + 1, n, '"');
    if (close < 0 || !HAS(close + 1, ".\""))
        return -1;
    span->schema_start = i + 1;
    span->schema_end = close;
    i = close + 3;
    close = find_char(kind, data, i, n, '"');
    if (close < 0)
        return -1;
    span->table_start = i;
    span->table_end = close;
    return close + 1;
}

/* The end of the statement at i: an optional ';', then nothing. */
HW_INLINE int at_end(const int kind, const void *data, Py_ssize_t n, Py_ssize_t i)
{
    if (i < n && RD(i) == ';')
        i++;
    return i == n;
}

/* Store key -> value in dict (both new references, consumed). -1 on error. */
static int put(PyObject *dict, PyObject *key, PyObject *value)
{
    int rc = (key == NULL || value == NULL) ? -1 : PyDict_SetItem(dict, key, value);
    Py_XDECREF(key);
    Py_XDECREF(value);
    return rc;
}

#define FAIL_NONE 1 /* not one of LogMiner's shapes: None */
#define FAIL_ERROR 2 /* MemoryError (or another error from the C API) */

/* "A" = v, ... (SET: assignments joined by ", ") or "A" = v and "B" IS NULL ... (WHERE:
 * conditions joined by " and "), from i to the end of the statement. SET continues into
 * a WHERE clause when " where " follows a value; new is then NULL for a delete. Names take
 * cache slots from *slot on. 0, or FAIL_NONE / FAIL_ERROR. */
HW_INLINE int read_pairs(Parser *self, const int kind, const void *data, Py_ssize_t n, PyObject *sql, int which,
                         Py_ssize_t i, Py_ssize_t slot, PyObject *new_values, PyObject *old_values)
{
    int in_where = new_values == NULL;
    PyObject *target = in_where ? old_values : new_values;
    for (;;) {
        if (i >= n || RD(i) != '"')
            return FAIL_NONE;
        Py_ssize_t close = find_char(kind, data, i + 1, n, '"');
        if (close < 0)
            return FAIL_NONE;
        Py_ssize_t name_start = i + 1;
        int type, doubled = 0;
        Py_ssize_t start, end = 0;
        if (HAS(close, "\" = ")) {
            start = close + 4;
            type = scan_value(kind, data, n, start, &end, &doubled);
            if (type == V_FAIL)
                return FAIL_NONE;
        }
        else if (in_where && HAS(close, "\" IS NULL")) {
            type = V_NULL;
            start = close + 1;
            end = close + 9;
        }
        else
            return FAIL_NONE;
        PyObject *name = name_at(self, kind, data, sql, which, slot++, name_start, close);
        if (put(target, name, make_value(kind, data, sql, type, start, end, doubled)) < 0)
            return FAIL_ERROR;
        i = end;
        if (in_where ? HAS(i, " and ") : HAS(i, ", "))
            i += in_where ? 5 : 2;
        else if (!in_where && HAS(i, " where ")) {
            i += 7;
            in_where = 1;
            target = old_values;
        }
        else
            return at_end(kind, data, n, i) ? 0 : FAIL_NONE;
    }
}

HW_INLINE PyObject *finish(Parser *self, PyObject *sql, int which, const TableSpan *span, const int kind,
                           const void *data, PyObject *new_values, PyObject *old_values)
{
    PyObject *schema = name_at(self, kind, data, sql, which, 0, span->schema_start, span->schema_end);
    PyObject *table = schema == NULL ? NULL : name_at(self, kind, data, sql, which, 1, span->table_start, span->table_end);
    PyObject *result = NULL;
    if (table != NULL) {
        PyObject *args[5] = {self->operations[which], schema, table, new_values, old_values};
        result = PyObject_Vectorcall(self->change_class, args, 5, NULL);
    }
    Py_XDECREF(schema);
    Py_XDECREF(table);
    Py_DECREF(new_values);
    Py_DECREF(old_values);
    return result;
}

/* One statement of `kind` read into *which, *span and two new dicts (*new_out: an insert's
 * values or an update's SET clause; *old_out: the WHERE clause): 0, or FAIL_NONE (not one of
 * LogMiner's shapes) / FAIL_ERROR, and then no dict is returned. */
HW_INLINE int scan_kind(Parser *self, PyObject *sql, const int kind, int *which_out, TableSpan *span_out,
                        PyObject **new_out, PyObject **old_out)
{
    const void *data = PyUnicode_DATA(sql);
    Py_ssize_t n = PyUnicode_GET_LENGTH(sql);
    TableSpan span;
    Py_ssize_t i;
    int which;
    if (HAS(0, "insert into "))
        which = K_INSERT, i = 12;
    else if (HAS(0, "update "))
        which = K_UPDATE, i = 7;
    else if (HAS(0, "delete from "))
        which = K_DELETE, i = 12;
    else
        return FAIL_NONE;
    i = scan_table(kind, data, n, i, &span);
    if (i < 0)
        return FAIL_NONE;
    PyObject *new_values = PyDict_New();
    PyObject *old_values = new_values == NULL ? NULL : PyDict_New();
    if (old_values == NULL) {
        Py_XDECREF(new_values);
        return FAIL_ERROR;
    }
    int failed = 0;
    if (which == K_INSERT) {
        /* ("A","B",...) values (v,v,...); one value per column */
        Py_ssize_t columns[MAX_COLUMNS][2];
        Py_ssize_t count = 0;
        if (i >= n || RD(i) != '(')
            failed = FAIL_NONE;
        else
            i++;
        while (!failed) {
            Py_ssize_t close = (i < n && RD(i) == '"') ? find_char(kind, data, i + 1, n, '"') : -1;
            if (close < 0 || count == MAX_COLUMNS) {
                failed = FAIL_NONE;
                break;
            }
            columns[count][0] = i + 1;
            columns[count][1] = close;
            count++;
            i = close + 1;
            if (i < n && RD(i) == ',')
                i++;
            else if (HAS(i, ") values (")) {
                i += 10;
                break;
            }
            else
                failed = FAIL_NONE;
        }
        for (Py_ssize_t column = 0; !failed; column++) {
            int doubled = 0;
            Py_ssize_t end = 0;
            int type = column < count ? scan_value(kind, data, n, i, &end, &doubled) : V_FAIL;
            if (type == V_FAIL || end >= n) {
                failed = FAIL_NONE;
                break;
            }
            Py_UCS4 next = RD(end);
            if (next != ',' && next != ')') {
                failed = FAIL_NONE;
                break;
            }
            if (next == ')' && (column + 1 != count || !at_end(kind, data, n, end + 1))) {
                failed = FAIL_NONE;
                break;
            }
            PyObject *name = name_at(self, kind, data, sql, which, column + 2, columns[column][0], columns[column][1]);
            if (put(new_values, name, make_value(kind, data, sql, type, i, end, doubled)) < 0) {
                failed = FAIL_ERROR;
                break;
            }
            if (next == ')')
                break;
            i = end + 1;
        }
    }
    else if (which == K_UPDATE) {
        if (HAS(i, " set "))
            failed = read_pairs(self, kind, data, n, sql, which, i + 5, 2, new_values, old_values);
        else
            failed = FAIL_NONE;
    }
    else if (!at_end(kind, data, n, i)) {
        if (HAS(i, " where "))
            failed = read_pairs(self, kind, data, n, sql, which, i + 7, 2, NULL, old_values);
        else
            failed = FAIL_NONE;
    }
    if (failed) {
        Py_DECREF(new_values);
        Py_DECREF(old_values);
        return failed;
    }
    *which_out = which;
    *span_out = span;
    *new_out = new_values;
    *old_out = old_values;
    return 0;
}

HW_INLINE PyObject *parse_kind(Parser *self, PyObject *sql, const int kind)
{
    int which;
    TableSpan span;
    PyObject *new_values, *old_values;
    const int failed = scan_kind(self, sql, kind, &which, &span, &new_values, &old_values);
    if (failed == FAIL_ERROR)
        return NULL;
    if (failed)
        Py_RETURN_NONE;
    return finish(self, sql, which, &span, kind, PyUnicode_DATA(sql), new_values, old_values);
}

/* scan_kind for any kind of string (READY on 3.11). */
static int scan_statement(Parser *self, PyObject *sql, int *which, PyObject **new_values, PyObject **old_values)
{
    TableSpan span;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(sql) < 0)
        return FAIL_ERROR;
#endif
    switch (PyUnicode_KIND(sql)) {
    case PyUnicode_1BYTE_KIND:
        return scan_kind(self, sql, PyUnicode_1BYTE_KIND, which, &span, new_values, old_values);
    case PyUnicode_2BYTE_KIND:
        return scan_kind(self, sql, PyUnicode_2BYTE_KIND, which, &span, new_values, old_values);
    default:
        return scan_kind(self, sql, PyUnicode_4BYTE_KIND, which, &span, new_values, old_values);
    }
}

#undef RD

/* ------------------------------------------------------------------ the Parser type */

static PyObject *Parser_parse(Parser *self, PyObject *sql)
{
    if (!PyUnicode_Check(sql))
        Py_RETURN_NONE; /* the Python path raises what it raises */
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(sql) < 0)
        return NULL;
#endif
    switch (PyUnicode_KIND(sql)) {
    case PyUnicode_1BYTE_KIND:
        return parse_kind(self, sql, PyUnicode_1BYTE_KIND);
    case PyUnicode_2BYTE_KIND:
        return parse_kind(self, sql, PyUnicode_2BYTE_KIND);
    default:
        return parse_kind(self, sql, PyUnicode_4BYTE_KIND);
    }
}

static int Parser_traverse(Parser *self, visitproc visit, void *arg)
{
    Py_VISIT(self->change_class);
    return 0;
}

static int Parser_clear(Parser *self)
{
    Py_CLEAR(self->change_class);
    for (int which = 0; which < K_KINDS; which++) {
        Py_CLEAR(self->operations[which]);
        for (int slot = 0; slot < NAME_SLOTS + 2; slot++)
            Py_CLEAR(self->names[which][slot]);
    }
    return 0;
}

static void Parser_dealloc(Parser *self)
{
    PyObject_GC_UnTrack(self);
    Parser_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Parser_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *change_class;
    static char *keywords[] = {"change_class", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Parser", keywords, &change_class))
        return NULL;
    if (!PyCallable_Check(change_class)) {
        PyErr_SetString(PyExc_TypeError, "Parser: change_class must be callable");
        return NULL;
    }
    Parser *self = (Parser *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    static const char *operations[K_KINDS] = {"INSERT", "UPDATE", "DELETE"};
    for (int which = 0; which < K_KINDS; which++) {
        self->operations[which] = PyUnicode_InternFromString(operations[which]);
        if (self->operations[which] == NULL) {
            Py_DECREF(self);
            return NULL;
        }
    }
    self->change_class = Py_NewRef(change_class);
    return (PyObject *)self;
}

static PyMethodDef Parser_methods[] = {
    {"parse", (PyCFunction)Parser_parse, METH_O,
     "parse(sql) -> RedoChange | None: the change of a statement in one of LogMiner's three shapes, else None."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ParserType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "headwater.codecs.oracle._credo.Parser",
    .tp_basicsize = sizeof(Parser),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Parser(change_class): a one-pass reader of LogMiner's SQL_REDO shapes (see _credo.c).",
    .tp_new = Parser_new,
    .tp_dealloc = (destructor)Parser_dealloc,
    .tp_traverse = (traverseproc)Parser_traverse,
    .tp_clear = (inquiry)Parser_clear,
    .tp_methods = Parser_methods,
};

/* ------------------------------------------------------------------ timestamps
 *
 * epoch() and zoned() give what convert.value_converter's ``stamp`` and ``zoned`` closures
 * give for LogMiner's usual DATE and TIMESTAMP literals, read without a regular
 * expression. The text must start as convert._FAST_STAMP matches it,
 * TO_<A-Z_>+('YYYY-MM-DD HH:MM:SS[.f{1,9}][ +hh:mm]' (ASCII digits; whatever follows the
 * closing quote is not read), with a year from 1000, a date that exists and a time of day
 * in range. Anything else gives None and the caller takes its Python path, which reads
 * it or names the error.
 */

typedef struct {
    long year, month, day, hour, minute, second;
    long long nanos;           /* the fraction in nanoseconds */
    Py_ssize_t fraction_at;    /* index of the fraction's first digit, -1 without one */
    int fraction_digits;
    Py_ssize_t offset_at;      /* index of the offset's sign, -1 without one */
} Stamp;

HW_INLINE int digits_at(const int kind, const void *data, Py_ssize_t n, Py_ssize_t i, int count, long *out)
{
    long value = 0;
    if (i + count > n)
        return 0;
    for (int k = 0; k < count; k++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i + k);
        if (!is_digit(c))
            return 0;
        value = value * 10 + (long)(c - '0');
    }
    *out = value;
    return 1;
}

/* Reads the usual form into *s; 0 for anything else. */
static int read_stamp(const int kind, const void *data, const Py_ssize_t n, Stamp *s)
{
    if (!has(kind, data, n, 0, "TO_", 3))
        return 0;
    Py_ssize_t i = 3;
    while (i < n) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (!((c >= 'A' && c <= 'Z') || c == '_'))
            break;
        i++;
    }
    if (i == 3 || !has(kind, data, n, i, "('", 2))
        return 0;
    i += 2;
    if (!digits_at(kind, data, n, i, 4, &s->year) || !has(kind, data, n, i + 4, "-", 1)
        || !digits_at(kind, data, n, i + 5, 2, &s->month) || !has(kind, data, n, i + 7, "-", 1)
        || !digits_at(kind, data, n, i + 8, 2, &s->day) || !has(kind, data, n, i + 10, " ", 1)
        || !digits_at(kind, data, n, i + 11, 2, &s->hour) || !has(kind, data, n, i + 13, ":", 1)
        || !digits_at(kind, data, n, i + 14, 2, &s->minute) || !has(kind, data, n, i + 16, ":", 1)
        || !digits_at(kind, data, n, i + 17, 2, &s->second))
        return 0;
    i += 19;
    s->nanos = 0;
    s->fraction_at = -1;
    s->fraction_digits = 0;
    if (has(kind, data, n, i, ".", 1)) {
        i++;
        s->fraction_at = i;
        while (i < n && s->fraction_digits < 10 && is_digit(PyUnicode_READ(kind, data, i))) {
            s->nanos = s->nanos * 10 + (long long)(PyUnicode_READ(kind, data, i) - '0');
            s->fraction_digits++;
            i++;
        }
        if (s->fraction_digits == 0 || s->fraction_digits > 9)
            return 0;
        for (int k = s->fraction_digits; k < 9; k++)
            s->nanos *= 10;
    }
    s->offset_at = -1;
    if (has(kind, data, n, i, " ", 1)) {
        Py_UCS4 sign = i + 1 < n ? PyUnicode_READ(kind, data, i + 1) : 0;
        long oh, om;
        if ((sign != '+' && sign != '-') || !digits_at(kind, data, n, i + 2, 2, &oh)
            || !has(kind, data, n, i + 4, ":", 1) || !digits_at(kind, data, n, i + 5, 2, &om))
            return 0;
        s->offset_at = i + 1;
        i += 7;
    }
    if (!has(kind, data, n, i, "'", 1))
        return 0;
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (s->year < 1000 || s->month < 1 || s->month > 12 || s->day < 1 || s->hour > 23 || s->minute > 59
        || s->second > 59)
        return 0;
    const int leap = (s->year % 4 == 0 && s->year % 100 != 0) || s->year % 400 == 0;
    return s->day <= month_days[s->month - 1] + (s->month == 2 && leap);
}

/* Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const long long yoe = (long long)y - era * 400;
    const long long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* epoch(literal, per_second): epoch seconds * per_second + the fraction in that unit,
 * truncated (the offset is not read); None as above, and for a per_second other than 1e3,
 * 1e6 or 1e9 or a result beyond 64 bits. */
/* epoch() of a str literal: a new reference (None included). */
static PyObject *epoch_of(PyObject *literal, long long per_second)
{
    long long per_nano;
    if (per_second == 1000)
        per_nano = 1000000;
    else if (per_second == 1000000)
        per_nano = 1000;
    else if (per_second == 1000000000)
        per_nano = 1;
    else
        Py_RETURN_NONE;
    Stamp s;
    if (!read_stamp(PyUnicode_KIND(literal), PyUnicode_DATA(literal), PyUnicode_GET_LENGTH(literal), &s))
        Py_RETURN_NONE;
    const long long seconds =
        days_from_civil(s.year, s.month, s.day) * 86400LL + s.hour * 3600LL + s.minute * 60LL + s.second;
    /* years 1000-9999: |seconds| < 2.6e11; times 1e9 can pass 2^63 (after 2262) */
    if (per_second == 1000000000 && (seconds > 9000000000LL || seconds < -9000000000LL))
        Py_RETURN_NONE;
    return PyLong_FromLongLong(seconds * per_second + s.nanos / per_nano);
}

static PyObject *
credo_epoch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "epoch(literal: str, per_second: int)");
        return NULL;
    }
    long long per_second = PyLong_AsLongLong(args[1]);
    if (per_second == -1 && PyErr_Occurred())
        return NULL;
    return epoch_of(args[0], per_second);
}

/* zoned(literal, local): Debezium's ZonedTimestamp text, YYYY-MM-DDTHH:MM:SS, then the
 * fraction as written without its trailing zeros (none if all zeros), then "Z" when local
 * is true, without an offset or at +00:00 or -00:00, else the offset as written; None as
 * above. */
/* zoned() of a str literal: a new reference (None included). */
static PyObject *zoned_of(PyObject *text, int local)
{
    const int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Stamp s;
    if (!read_stamp(kind, data, PyUnicode_GET_LENGTH(text), &s))
        Py_RETURN_NONE;
    char out[48];
    int length = snprintf(out, sizeof out, "%04ld-%02ld-%02ldT%02ld:%02ld:%02ld", s.year, s.month, s.day, s.hour,
                          s.minute, s.second);
    int digits = s.fraction_digits;
    while (digits > 0 && PyUnicode_READ(kind, data, s.fraction_at + digits - 1) == '0')
        digits--;
    if (digits > 0) {
        out[length++] = '.';
        for (int k = 0; k < digits; k++)
            out[length++] = (char)PyUnicode_READ(kind, data, s.fraction_at + k);
    }
    if (local || s.offset_at < 0 || has(kind, data, s.offset_at + 6, s.offset_at + 1, "00:00", 5)) {
        out[length++] = 'Z';
    } else {
        for (int k = 0; k < 6; k++)
            out[length++] = (char)PyUnicode_READ(kind, data, s.offset_at + k);
    }
    return PyUnicode_FromStringAndSize(out, length);
}

static PyObject *
credo_zoned(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "zoned(literal: str, local: bool)");
        return NULL;
    }
    const int local = PyObject_IsTrue(args[1]);
    if (local < 0)
        return NULL;
    return zoned_of(args[0], local);
}

/* ------------------------------------------------------------------ convert_row(values, converters)
 *
 * The typed conversion of one parsed clause, as connectors/oracle/task.py's _converted does
 * it with its per-column closures: {column: None if literal is None else
 * converters[column](literal)}, in the clause's order; a column missing from converters
 * raises KeyError(column). A converter is any callable, or a Column, which this loop runs
 * without a Python frame:
 *
 *   Column(TEXT, cache, miss): the literal itself when it holds no '(' and is not
 *       "Unsupported Type" (plain text is its own value), else as CACHED;
 *   Column(CACHED, cache, miss): cache[literal] when present, else miss(literal) (which
 *       converts, stores in cache and bounds the caches, in Python);
 *   Column(INT, None, miss): int(literal) (PyLong_FromUnicodeObject, what int() of a str
 *       runs), or miss(literal) when int() raises ValueError;
 *   Column(FLOAT, None, miss): float(literal) likewise (PyFloat_FromString);
 *   Column(EPOCH, None, miss, per_second) and Column(ZONED, None, miss, local): epoch()
 *       and zoned() below (no cache: they cost less than one), miss(literal) when they
 *       give None;
 *   Column(SCALED, None, miss): variable_scale_of() above (a NUMBER without scale as
 *       Debezium's VariableScaleDecimal struct; no cache), else miss(literal).
 *
 * Literals are str (the parser's values); anything else raises TypeError. Errors that
 * miss raises propagate unchanged. The caller holds the GIL.
 */

enum {
    COLUMN_TEXT = 0, COLUMN_CACHED = 1, COLUMN_INT = 2, COLUMN_FLOAT = 3, COLUMN_EPOCH = 4, COLUMN_ZONED = 5,
    COLUMN_SCALED = 6
};

static PyObject *scale_key, *value_key; /* "scale" and "value", interned at import */

/* The VariableScaleDecimal struct {"scale": s, "value": bytes} of a plain number literal
 * (an optional '-', digits, an optional '.' and digits; at least one digit; at most 18
 * digits in all), exactly as codecs/oracle/schema.py's variable_scale_literal builds it:
 * the unscaled integer's two's complement, big-endian, in max(1, (bit_length + 8) // 8)
 * bytes. Py_None (a new reference) for any other form, which the caller hands to Python;
 * NULL with an exception set on a memory error. */
static PyObject *variable_scale_of(PyObject *literal)
{
    if (!PyUnicode_IS_ASCII(literal))
        Py_RETURN_NONE;
    const Py_ssize_t n = PyUnicode_GET_LENGTH(literal);
    const char *text = (const char *)PyUnicode_DATA(literal);
    Py_ssize_t i = 0;
    const int negative = n > 0 && text[0] == '-';
    i += negative;
    long long unscaled = 0;
    int digits = 0, scale = 0, dot = 0;
    for (; i < n; i++) {
        const char c = text[i];
        if (c == '.' && !dot) {
            dot = 1;
        } else if (c >= '0' && c <= '9') {
            if (++digits > 18)
                Py_RETURN_NONE; /* beyond a long long: Python's int reads it */
            unscaled = unscaled * 10 + (c - '0');
            scale += dot;
        } else {
            Py_RETURN_NONE;
        }
    }
    if (digits == 0)
        Py_RETURN_NONE;
    if (negative)
        unscaled = -unscaled;
    unsigned long long magnitude = (unsigned long long)(unscaled < 0 ? -unscaled : unscaled);
    int bits = 0;
    while (magnitude) {
        bits++;
        magnitude >>= 1;
    }
    const int size = (bits + 8) / 8; /* at least 1 */
    unsigned char bytes[8];
    const unsigned long long twos = (unsigned long long)unscaled;
    for (int k = 0; k < size; k++)
        bytes[size - 1 - k] = (unsigned char)(twos >> (8 * k));
    PyObject *value = PyBytes_FromStringAndSize((const char *)bytes, size);
    PyObject *scale_value = PyLong_FromLong(scale);
    PyObject *out = value && scale_value ? PyDict_New() : NULL;
    if (out != NULL && (PyDict_SetItem(out, scale_key, scale_value) < 0 || PyDict_SetItem(out, value_key, value) < 0))
        Py_CLEAR(out);
    Py_XDECREF(value);
    Py_XDECREF(scale_value);
    return out;
}

typedef struct {
    PyObject_HEAD
    int mode;
    long long argument; /* EPOCH: per_second; ZONED: local (0 or 1) */
    PyObject *cache;    /* dict (TEXT, CACHED) or NULL */
    PyObject *miss;     /* callable */
} Column;

static PyTypeObject ColumnType;

static int Column_traverse(Column *self, visitproc visit, void *arg)
{
    Py_VISIT(self->cache);
    Py_VISIT(self->miss);
    return 0;
}

static int Column_clear(Column *self)
{
    Py_CLEAR(self->cache);
    Py_CLEAR(self->miss);
    return 0;
}

static void Column_dealloc(Column *self)
{
    PyObject_GC_UnTrack(self);
    Column_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Column_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    int mode;
    long long argument = 0;
    PyObject *cache, *miss;
    static char *keywords[] = {"mode", "cache", "miss", "argument", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iOO|L:Column", keywords, &mode, &cache, &miss, &argument))
        return NULL;
    if (mode < COLUMN_TEXT || mode > COLUMN_SCALED) {
        PyErr_SetString(PyExc_ValueError, "Column mode must be TEXT, CACHED, INT, FLOAT, EPOCH, ZONED or SCALED");
        return NULL;
    }
    if ((mode == COLUMN_EPOCH && argument != 1000 && argument != 1000000 && argument != 1000000000)
        || (mode == COLUMN_ZONED && argument != 0 && argument != 1)) {
        PyErr_SetString(PyExc_ValueError, "Column argument: EPOCH takes 1e3, 1e6 or 1e9 a second, ZONED 0 or 1");
        return NULL;
    }
    if ((mode == COLUMN_TEXT || mode == COLUMN_CACHED) ? !PyDict_CheckExact(cache) : cache != Py_None) {
        PyErr_SetString(PyExc_TypeError, "Column cache must be a dict for TEXT and CACHED, None otherwise");
        return NULL;
    }
    if (!PyCallable_Check(miss)) {
        PyErr_SetString(PyExc_TypeError, "Column miss must be callable");
        return NULL;
    }
    Column *self = (Column *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->mode = mode;
    self->argument = argument;
    self->cache = cache == Py_None ? NULL : Py_NewRef(cache);
    self->miss = Py_NewRef(miss);
    return (PyObject *)self;
}

static PyObject *Column_call(Column *self, PyObject *args, PyObject *kwargs);

static PyTypeObject ColumnType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "headwater.codecs.oracle._credo.Column",
    .tp_basicsize = sizeof(Column),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Column(mode, cache, miss): one column's literal-to-value conversion for convert_row (see _credo.c).",
    .tp_new = Column_new,
    .tp_dealloc = (destructor)Column_dealloc,
    .tp_traverse = (traverseproc)Column_traverse,
    .tp_clear = (inquiry)Column_clear,
    .tp_call = (ternaryfunc)Column_call,
};

/* One literal through one Column: a new reference, or NULL with an exception set. */
static PyObject *column_convert(Column *column, PyObject *literal)
{
    if (!PyUnicode_Check(literal)) {
        PyErr_Format(PyExc_TypeError, "a literal must be str, not %.100s", Py_TYPE(literal)->tp_name);
        return NULL;
    }
    PyObject *value;
    switch (column->mode) {
    case COLUMN_TEXT: {
        const Py_ssize_t n = PyUnicode_GET_LENGTH(literal);
        const Py_ssize_t paren = PyUnicode_FindChar(literal, '(', 0, n, 1);
        if (paren == -2)
            return NULL;
        if (paren == -1 && PyUnicode_CompareWithASCIIString(literal, "Unsupported Type") != 0)
            return Py_NewRef(literal);
    }
        /* fall through: text holding a function goes through the cache */
    case COLUMN_CACHED:
        value = PyDict_GetItemWithError(column->cache, literal);
        if (value != NULL)
            return Py_NewRef(value);
        if (PyErr_Occurred())
            return NULL;
        return PyObject_CallOneArg(column->miss, literal);
    case COLUMN_EPOCH:
    case COLUMN_ZONED:
    case COLUMN_SCALED:
        value = column->mode == COLUMN_EPOCH   ? epoch_of(literal, column->argument)
                : column->mode == COLUMN_ZONED ? zoned_of(literal, (int)column->argument)
                                               : variable_scale_of(literal);
        if (value != Py_None)
            return value;
        Py_DECREF(value);
        return PyObject_CallOneArg(column->miss, literal);
    case COLUMN_INT:
        value = PyLong_FromUnicodeObject(literal, 10);
        break;
    default:
        value = PyFloat_FromString(literal);
        break;
    }
    if (value != NULL || !PyErr_ExceptionMatches(PyExc_ValueError))
        return value;
    PyErr_Clear();
    return PyObject_CallOneArg(column->miss, literal);
}

static PyObject *Column_call(Column *self, PyObject *args, PyObject *kwargs)
{
    PyObject *literal;
    static char *keywords[] = {"literal", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Column", keywords, &literal))
        return NULL;
    return column_convert(self, literal);
}

/* convert_row's loop: a new dict, or NULL with an exception set. */
static PyObject *convert_values(PyObject *values, PyObject *converters)
{
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    Py_ssize_t position = 0;
    PyObject *name, *literal;
    while (PyDict_Next(values, &position, &name, &literal)) {
        PyObject *value;
        Py_INCREF(name);  /* values may change under a Python converter: hold what we read */
        Py_INCREF(literal);
        if (literal == Py_None) {
            value = Py_NewRef(Py_None);
        } else {
            PyObject *converter = PyDict_GetItemWithError(converters, name);
            if (converter == NULL) {
                if (!PyErr_Occurred()) {
                    PyObject *key = PyTuple_Pack(1, name);
                    if (key != NULL) {
                        PyErr_SetObject(PyExc_KeyError, key);
                        Py_DECREF(key);
                    }
                }
                value = NULL;
            } else {
                Py_INCREF(converter); /* held: Python code may run and change converters */
                if (Py_IS_TYPE(converter, &ColumnType))
                    value = column_convert((Column *)converter, literal);
                else
                    value = PyObject_CallOneArg(converter, literal);
                Py_DECREF(converter);
            }
        }
        if (value == NULL || PyDict_SetItem(out, name, value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(name);
            Py_DECREF(literal);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(value);
        Py_DECREF(name);
        Py_DECREF(literal);
    }
    return out;
}

static PyObject *
credo_convert_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2 || !PyDict_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "convert_row(values: dict, converters: dict)");
        return NULL;
    }
    return convert_values(args[0], args[1]);
}

/* list(row) == names for a dict and a list: 1 or 0, -1 with an exception set. */
static int same_keys(PyObject *row, PyObject *names)
{
    if (PyDict_GET_SIZE(row) != PyList_GET_SIZE(names))
        return 0;
    Py_ssize_t position = 0, i = 0;
    PyObject *key, *value;
    while (PyDict_Next(row, &position, &key, &value)) {
        if (i >= PyList_GET_SIZE(names))
            return 0; /* names changed under us: not the same */
        PyObject *name = PyList_GET_ITEM(names, i++);
        if (key == name)
            continue;
        Py_INCREF(key);
        Py_INCREF(name);
        const int equal = PyObject_RichCompareBool(key, name, Py_EQ);
        Py_DECREF(key);
        Py_DECREF(name);
        if (equal <= 0)
            return equal;
    }
    return i == PyList_GET_SIZE(names);
}

/* keys_are(row, names) -> bool: list(row) == names (a dict's keys against a list of str, in
 * order) without building the list. */
static PyObject *
credo_keys_are(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2 || !PyDict_Check(args[0]) || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "keys_are(row: dict, names: list)");
        return NULL;
    }
    const int same = same_keys(args[0], args[1]);
    return same < 0 ? NULL : PyBool_FromLong(same);
}

/* ------------------------------------------------------------------ change events
 *
 * event(parser, sql, plan, change, tx) -> (key, value) | None: the Debezium key and envelope
 * of one SQL_REDO statement, what OracleLogMinerTask._records_from builds from it, in one
 * call: the statement read by parser (a Parser) without a RedoChange, each clause converted
 * as convert_row converts it, the row images checked as keys_are checks them, the `source`
 * block a copy of the plan's template with the change's own fields set.
 *
 * plan is (converters: dict, names: list, key_names: tuple, template: dict); change has the
 * attributes timestamp_ms, scn, row_id, rs_id, ssn and thread (a BufferedChange); tx is
 * (txId, commit_scn, start_scn, commit_ts_ms). It gives None, and the caller takes its
 * Python path, which builds the same event or names the error, whenever that path would do
 * anything but the plain case: a statement not in LogMiner's three shapes, a clause image
 * that is not every column in the table's order (an insert's or a where clause's), an
 * update naming a column the table no longer has, or an exception from a converter (a value
 * it cannot read). Only MemoryError and exceptions that are not Exceptions propagate.
 * The caller holds the GIL; converters may run Python code (a cache miss).
 */

static PyObject *s_before, *s_after, *s_source, *s_op, *s_ts_ms, *s_scn, *s_tx_id, *s_commit_scn, *s_start_scn,
    *s_commit_ts_ms, *s_row_id, *s_rs_id, *s_ssn, *s_redo_thread, *s_timestamp_ms, *s_thread, *s_c, *s_u, *s_d;

/* An exception a converter raised: cleared (0: the Python path reads the value again and
 * names the error) unless it is a MemoryError or not an Exception (-1: propagate). */
static int declined(void)
{
    if (PyErr_ExceptionMatches(PyExc_MemoryError) || !PyErr_ExceptionMatches(PyExc_Exception))
        return -1;
    PyErr_Clear();
    return 0;
}

/* One clause converted, if its image is every column in order (check) : a new dict, NULL
 * with no exception (declined) or NULL with one. */
static PyObject *image_of(PyObject *values, PyObject *converters, PyObject *names, int check)
{
    PyObject *row = convert_values(values, converters);
    if (row == NULL)
        return NULL;
    if (check) {
        const int same = same_keys(row, names);
        if (same <= 0) {
            Py_DECREF(row);
            return NULL;
        }
    }
    return row;
}

/* Sets source[key] = getattr(change, attribute) (str() of it with as_text). -1 on error. */
static int copy_attribute(PyObject *source, PyObject *key, PyObject *change, PyObject *attribute, int as_text)
{
    PyObject *value = PyObject_GetAttr(change, attribute);
    if (value != NULL && as_text)
        Py_SETREF(value, PyObject_Str(value));
    return put(source, Py_NewRef(key), value);
}

/* A plan tuple's parts, checked: 0, or -1 with TypeError set. */
static int plan_parts(PyObject *plan, PyObject **converters, PyObject **names, PyObject **key_names, PyObject **template)
{
    if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 4 || !PyDict_Check(PyTuple_GET_ITEM(plan, 0))
        || !PyList_Check(PyTuple_GET_ITEM(plan, 1)) || !PyTuple_Check(PyTuple_GET_ITEM(plan, 2))
        || !PyDict_Check(PyTuple_GET_ITEM(plan, 3))) {
        PyErr_SetString(PyExc_TypeError, "plan is (converters: dict, names: list, key_names: tuple, template: dict)");
        return -1;
    }
    *converters = PyTuple_GET_ITEM(plan, 0);
    *names = PyTuple_GET_ITEM(plan, 1);
    *key_names = PyTuple_GET_ITEM(plan, 2);
    *template = PyTuple_GET_ITEM(plan, 3);
    return 0;
}

/* event()'s work: 1 with *key_out and *value_out set (new references), 0 declined (no
 * exception), -1 an exception to propagate. sql must be a str, tx a tuple of 4. */
static int build_event(Parser *parser, PyObject *sql, PyObject *plan, PyObject *change, PyObject *tx,
                       PyObject **key_out, PyObject **value_out)
{
    PyObject *converters, *names, *key_names, *template;
    if (plan_parts(plan, &converters, &names, &key_names, &template) < 0)
        return -1;
    int which;
    PyObject *new_values, *old_values;
    const int failed = scan_statement(parser, sql, &which, &new_values, &old_values);
    if (failed == FAIL_ERROR)
        return -1;
    if (failed)
        return 0;
    PyObject *before = NULL, *after = NULL, *source = NULL, *key = NULL, *value = NULL, *op;
    int result = 0;
    if (which == K_INSERT) {
        after = image_of(new_values, converters, names, 1);
        if (after == NULL)
            goto out;
        op = s_c;
    } else {
        before = image_of(old_values, converters, names, 1);
        if (before == NULL)
            goto out;
        op = s_d;
        if (which == K_UPDATE) {
            PyObject *set = image_of(new_values, converters, names, 0);
            if (set == NULL)
                goto out;
            after = PyDict_Copy(before);
            if (after == NULL || PyDict_Update(after, set) < 0) {
                Py_DECREF(set);
                goto out;
            }
            Py_DECREF(set);
            if (PyDict_GET_SIZE(after) != PyList_GET_SIZE(names))
                goto out; /* a column the table no longer has: the Python path makes the image */
            op = s_u;
        }
    }
    source = PyDict_Copy(template);
    if (source == NULL || copy_attribute(source, s_ts_ms, change, s_timestamp_ms, 0) < 0
        || copy_attribute(source, s_scn, change, s_scn, 1) < 0
        || PyDict_SetItem(source, s_tx_id, PyTuple_GET_ITEM(tx, 0)) < 0
        || PyDict_SetItem(source, s_commit_scn, PyTuple_GET_ITEM(tx, 1)) < 0
        || PyDict_SetItem(source, s_start_scn, PyTuple_GET_ITEM(tx, 2)) < 0
        || PyDict_SetItem(source, s_commit_ts_ms, PyTuple_GET_ITEM(tx, 3)) < 0
        || copy_attribute(source, s_row_id, change, s_row_id, 0) < 0
        || copy_attribute(source, s_rs_id, change, s_rs_id, 0) < 0
        || copy_attribute(source, s_ssn, change, s_ssn, 0) < 0
        || copy_attribute(source, s_redo_thread, change, s_thread, 0) < 0)
        goto out;
    if (PyTuple_GET_SIZE(key_names) == 0) {
        key = Py_NewRef(Py_None);
    } else {
        PyObject *row = after != NULL ? after : before; /* the key of a delete is its before image's */
        key = PyDict_New();
        for (Py_ssize_t k = 0; key != NULL && k < PyTuple_GET_SIZE(key_names); k++) {
            PyObject *name = PyTuple_GET_ITEM(key_names, k);
            PyObject *found = PyDict_GetItemWithError(row, name);
            if ((found == NULL && PyErr_Occurred()) || PyDict_SetItem(key, name, found ? found : Py_None) < 0)
                Py_CLEAR(key);
        }
        if (key == NULL)
            goto out;
    }
    value = PyDict_New();
    if (value == NULL || PyDict_SetItem(value, s_before, before ? before : Py_None) < 0
        || PyDict_SetItem(value, s_after, after ? after : Py_None) < 0 || PyDict_SetItem(value, s_source, source) < 0
        || PyDict_SetItem(value, s_op, op) < 0 || PyDict_SetItem(value, s_ts_ms, PyTuple_GET_ITEM(tx, 3)) < 0)
        goto out;
    *key_out = Py_NewRef(key);
    *value_out = Py_NewRef(value);
    result = 1;
out:
    Py_DECREF(new_values);
    Py_DECREF(old_values);
    Py_XDECREF(before);
    Py_XDECREF(after);
    Py_XDECREF(source);
    Py_XDECREF(key);
    Py_XDECREF(value);
    if (result == 0 && PyErr_Occurred())
        return declined();
    return result;
}

static PyObject *
credo_event(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 5 || !Py_IS_TYPE(args[0], &ParserType) || !PyUnicode_Check(args[1]) || !PyTuple_Check(args[4])
        || PyTuple_GET_SIZE(args[4]) != 4) {
        PyErr_SetString(PyExc_TypeError, "event(parser, sql: str, plan: tuple of 4, change, tx: tuple of 4)");
        return NULL;
    }
    PyObject *key, *value;
    const int built = build_event((Parser *)args[0], args[1], args[2], args[3], args[4], &key, &value);
    if (built < 0)
        return NULL;
    if (built == 0)
        Py_RETURN_NONE;
    PyObject *result = PyTuple_Pack(2, key, value);
    Py_DECREF(key);
    Py_DECREF(value);
    return result;
}

/* ------------------------------------------------------------------ records of a transaction
 *
 * records(parser, changes, first_sequence, tx, in_tx, setup) -> (items, declined): the
 * SourceRecords of a run of one transaction's changes (a list of BufferedChange, numbered
 * from first_sequence), what OracleLogMinerTask._tx_items yields for them without LOBs: each
 * change's event (as event() builds it) in a record whose offset is {**in_tx, "tx_seq":
 * str(sequence)}, a delete's followed by its tombstone when setup says so. A change it does
 * not build (not an insert, update or delete; a table without a route; anything event()
 * gives None for) is the tuple (sequence, change) in its place, for the caller's Python
 * path; declined counts them.
 *
 * setup is (routes, partition, record_class, slots, tombstones): routes maps (owner, table)
 * to (plan, topic, key_schema, value_schema); slots are record_class's member descriptors
 * of partition, offset, topic, key, value, headers, timestamp_ms, kafka_partition,
 * key_schema and value_schema, in that order (a frozen slotted dataclass: a record is made
 * by setting its slots, what its __init__ does; headers is (), timestamp_ms and
 * kafka_partition None). The caller holds the GIL.
 */

#define RECORD_SLOTS 10

static PyObject *s_operation_code, *s_owner, *s_table, *s_sql, *s_tx_seq, *empty_tuple;

/* The slot offsets of setup's member descriptors: 0, or -1 with TypeError set. */
static int slot_offsets(PyTypeObject *cls, PyObject *slots, Py_ssize_t offsets[RECORD_SLOTS])
{
    if (!PyTuple_Check(slots) || PyTuple_GET_SIZE(slots) != RECORD_SLOTS)
        goto bad;
    for (Py_ssize_t i = 0; i < RECORD_SLOTS; i++) {
        PyObject *slot = PyTuple_GET_ITEM(slots, i);
        if (!Py_IS_TYPE(slot, &PyMemberDescr_Type))
            goto bad;
        PyMemberDef *member = ((PyMemberDescrObject *)slot)->d_member;
        if (member->type != T_OBJECT_EX || !PyType_IsSubtype(cls, PyDescr_TYPE(slot)) || member->offset <= 0
            || member->offset + (Py_ssize_t)sizeof(PyObject *) > cls->tp_basicsize)
            goto bad;
        offsets[i] = member->offset;
    }
    return 0;
bad:
    PyErr_SetString(PyExc_TypeError, "records: slots are the record class's 10 object member descriptors");
    return -1;
}

/* A new record_class instance with its slots set to values (new references taken). */
static PyObject *make_record(PyTypeObject *cls, const Py_ssize_t offsets[RECORD_SLOTS], PyObject *values[RECORD_SLOTS])
{
    PyObject *record = cls->tp_alloc(cls, 0);
    if (record == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < RECORD_SLOTS; i++)
        *(PyObject **)((char *)record + offsets[i]) = Py_NewRef(values[i]);
    return record;
}

/* One change's records appended to items: 1, 0 declined, -1 an error. */
static int change_records(Parser *parser, PyObject *change, Py_ssize_t sequence, PyObject *tx, PyObject *in_tx,
                          PyObject *routes, PyObject *partition, PyTypeObject *cls, const Py_ssize_t offsets[],
                          int tombstones, PyObject *items)
{
    PyObject *code = PyObject_GetAttr(change, s_operation_code);
    if (code == NULL)
        return -1;
    const long operation = PyLong_Check(code) ? PyLong_AsLong(code) : -1;
    Py_DECREF(code);
    if (operation == -1 && PyErr_Occurred())
        return -1;
    if (operation < 1 || operation > 3)
        return 0;
    PyObject *owner = PyObject_GetAttr(change, s_owner);
    PyObject *table = owner == NULL ? NULL : PyObject_GetAttr(change, s_table);
    PyObject *where = table == NULL ? NULL : PyTuple_Pack(2, owner, table);
    Py_XDECREF(owner);
    Py_XDECREF(table);
    if (where == NULL)
        return -1;
    PyObject *route = PyDict_GetItemWithError(routes, where);
    Py_DECREF(where);
    if (route == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!PyTuple_Check(route) || PyTuple_GET_SIZE(route) != 4) {
        PyErr_SetString(PyExc_TypeError, "records: a route is (plan, topic, key_schema, value_schema)");
        return -1;
    }
    PyObject *sql = PyObject_GetAttr(change, s_sql);
    if (sql == NULL)
        return -1;
    if (!PyUnicode_Check(sql)) {
        Py_DECREF(sql);
        return 0;
    }
    PyObject *key, *value;
    Py_INCREF(route); /* converters may run Python code that changes routes */
    int built = build_event(parser, sql, PyTuple_GET_ITEM(route, 0), change, tx, &key, &value);
    Py_DECREF(sql);
    if (built <= 0) {
        Py_DECREF(route);
        return built;
    }
    PyObject *offset = PyDict_Copy(in_tx);
    PyObject *number = offset == NULL ? NULL : PyUnicode_FromFormat("%zd", sequence);
    PyObject *record = NULL, *tombstone = NULL;
    built = -1;
    if (number != NULL && PyDict_SetItem(offset, s_tx_seq, number) == 0) {
        PyObject *topic = PyTuple_GET_ITEM(route, 1), *key_schema = PyTuple_GET_ITEM(route, 2);
        PyObject *values[RECORD_SLOTS] = {partition, offset, topic, key, value, empty_tuple, Py_None, Py_None,
                                          key_schema, PyTuple_GET_ITEM(route, 3)};
        record = make_record(cls, offsets, values);
        PyObject *after = record == NULL ? NULL : PyDict_GetItemWithError(value, s_after);
        if (after != NULL && after == Py_None && tombstones) { /* a delete: its tombstone follows */
            PyObject *empty[RECORD_SLOTS] = {partition, offset, topic, key, Py_None, empty_tuple, Py_None, Py_None,
                                             key_schema, Py_None};
            tombstone = make_record(cls, offsets, empty);
            if (tombstone != NULL && PyList_Append(items, record) == 0 && PyList_Append(items, tombstone) == 0)
                built = 1;
        } else if (after != NULL && PyList_Append(items, record) == 0) {
            built = 1;
        }
    }
    Py_XDECREF(number);
    Py_XDECREF(offset);
    Py_XDECREF(record);
    Py_XDECREF(tombstone);
    Py_DECREF(key);
    Py_DECREF(value);
    Py_DECREF(route);
    return built;
}

static PyObject *
credo_records(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 6 || !Py_IS_TYPE(args[0], &ParserType) || !PyList_Check(args[1]) || !PyLong_Check(args[2])
        || !PyTuple_Check(args[3]) || PyTuple_GET_SIZE(args[3]) != 4 || !PyDict_Check(args[4]) || !PyTuple_Check(args[5])
        || PyTuple_GET_SIZE(args[5]) != 5 || !PyDict_Check(PyTuple_GET_ITEM(args[5], 0))
        || !PyType_Check(PyTuple_GET_ITEM(args[5], 2))) {
        PyErr_SetString(PyExc_TypeError, "records(parser, changes: list, first_sequence: int, tx: tuple of 4, in_tx: "
                                         "dict, setup: (routes, partition, record_class, slots, tombstones))");
        return NULL;
    }
    PyObject *changes = args[1], *tx = args[3], *in_tx = args[4], *setup = args[5];
    PyObject *routes = PyTuple_GET_ITEM(setup, 0), *partition = PyTuple_GET_ITEM(setup, 1);
    PyTypeObject *cls = (PyTypeObject *)PyTuple_GET_ITEM(setup, 2);
    Py_ssize_t offsets[RECORD_SLOTS];
    const int tombstones = PyObject_IsTrue(PyTuple_GET_ITEM(setup, 4));
    if (tombstones < 0 || slot_offsets(cls, PyTuple_GET_ITEM(setup, 3), offsets) < 0)
        return NULL;
    const Py_ssize_t first = PyLong_AsSsize_t(args[2]);
    if (first == -1 && PyErr_Occurred())
        return NULL;
    PyObject *items = PyList_New(0);
    if (items == NULL)
        return NULL;
    Py_ssize_t declined_count = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(changes); i++) {
        PyObject *change = PyList_GET_ITEM(changes, i);
        Py_INCREF(change);
        int built = change_records((Parser *)args[0], change, first + i, tx, in_tx, routes, partition, cls, offsets,
                                   tombstones, items);
        if (built == 0) { /* the caller's Python path decides */
            PyObject *number = PyLong_FromSsize_t(first + i);
            PyObject *pending = number == NULL ? NULL : PyTuple_Pack(2, number, change);
            built = pending != NULL && PyList_Append(items, pending) == 0 ? 1 : -1;
            Py_XDECREF(number);
            Py_XDECREF(pending);
            declined_count++;
        }
        Py_DECREF(change);
        if (built < 0) {
            Py_DECREF(items);
            return NULL;
        }
    }
    PyObject *result = Py_BuildValue("(Nn)", items, declined_count);
    return result;
}

static PyMethodDef module_methods[] = {
    {"event", (PyCFunction)(void (*)(void))credo_event, METH_FASTCALL,
     "event(parser, sql, plan, change, tx) -> (key, value) | None: one statement's change event (see _credo.c)."},
    {"records", (PyCFunction)(void (*)(void))credo_records, METH_FASTCALL,
     "records(parser, changes, first_sequence, tx, in_tx, setup) -> (items, declined): see _credo.c."},
    {"keys_are", (PyCFunction)(void (*)(void))credo_keys_are, METH_FASTCALL,
     "keys_are(row, names) -> bool: list(row) == names, without building the list."},
    {"epoch", (PyCFunction)(void (*)(void))credo_epoch, METH_FASTCALL,
     "epoch(literal, per_second) -> int | None: a TO_DATE/TO_TIMESTAMP literal in epoch units, else None."},
    {"convert_row", (PyCFunction)(void (*)(void))credo_convert_row, METH_FASTCALL,
     "convert_row(values, converters) -> dict: each non-None literal through its column's converter."},
    {"zoned", (PyCFunction)(void (*)(void))credo_zoned, METH_FASTCALL,
     "zoned(literal, local) -> str | None: a TO_TIMESTAMP_TZ literal as Debezium's ISO text, else None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "headwater.codecs.oracle._credo",
    .m_doc = "Optional compiled core of headwater.codecs.oracle.redo (see _credo.c).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__credo(void)
{
    scale_key = PyUnicode_InternFromString("scale");
    value_key = PyUnicode_InternFromString("value");
    if (scale_key == NULL || value_key == NULL)
        return NULL;
    struct {
        PyObject **slot;
        const char *text;
    } strings[] = {
        {&s_before, "before"}, {&s_after, "after"}, {&s_source, "source"}, {&s_op, "op"}, {&s_ts_ms, "ts_ms"},
        {&s_scn, "scn"}, {&s_tx_id, "txId"}, {&s_commit_scn, "commit_scn"}, {&s_start_scn, "start_scn"},
        {&s_commit_ts_ms, "commit_ts_ms"}, {&s_row_id, "row_id"}, {&s_rs_id, "rs_id"}, {&s_ssn, "ssn"},
        {&s_redo_thread, "redo_thread"}, {&s_timestamp_ms, "timestamp_ms"}, {&s_thread, "thread"}, {&s_c, "c"},
        {&s_u, "u"}, {&s_d, "d"}, {&s_operation_code, "operation_code"}, {&s_owner, "owner"}, {&s_table, "table"},
        {&s_sql, "sql"}, {&s_tx_seq, "tx_seq"},
    };
    for (size_t k = 0; k < sizeof(strings) / sizeof(strings[0]); k++)
        if ((*strings[k].slot = PyUnicode_InternFromString(strings[k].text)) == NULL)
            return NULL;
    if ((empty_tuple = PyTuple_New(0)) == NULL)
        return NULL;
    if (PyType_Ready(&ParserType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ParserType);
    if (PyModule_AddObject(m, "Parser", (PyObject *)&ParserType) < 0) {
        Py_DECREF(&ParserType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyType_Ready(&ColumnType) < 0 || PyModule_AddType(m, &ColumnType) < 0
        || PyModule_AddIntConstant(m, "TEXT", COLUMN_TEXT) < 0 || PyModule_AddIntConstant(m, "CACHED", COLUMN_CACHED) < 0
        || PyModule_AddIntConstant(m, "INT", COLUMN_INT) < 0 || PyModule_AddIntConstant(m, "FLOAT", COLUMN_FLOAT) < 0
        || PyModule_AddIntConstant(m, "EPOCH", COLUMN_EPOCH) < 0 || PyModule_AddIntConstant(m, "ZONED", COLUMN_ZONED) < 0
        || PyModule_AddIntConstant(m, "SCALED", COLUMN_SCALED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
