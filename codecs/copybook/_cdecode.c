/*
 * Optional compiled core of the fixed-record batch decoder (headwater.codecs.copybook._cdecode).
 *
 * Contract: headwater.codecs.copybook.native compiles a DecodePlan into a flat program (a
 * pre-order list of op tuples) and calls Program.decode(buffer, record_length, count,
 * record_start_offset) from the decoding thread (it holds the GIL throughout; a Program is
 * immutable after construction, so threads may share it). decode returns (records, bad):
 * records[i] is the dict of row i, or None when any field of the row is invalid (or an
 * OCCURS DEPENDING ON count is out of range); bad lists those rows. The caller re-decodes
 * bad rows on the per-record path, which produces the errors; this file never builds an
 * error message for data. Values are exactly those of the pure path (fields.py converters,
 * vectorized.py): the differential tests compare both.
 *
 * Safety: every op's byte range is checked against the program's span when the program is
 * built, and the span against the record length and the buffer size on every call, so no
 * read leaves the caller's buffer whatever the data holds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum {
    OP_GROUP = 0,
    OP_ARRAY = 1,
    OP_TEXT = 2,
    OP_ZONED = 3,
    OP_PACKED = 4,
    OP_BINARY = 5,
    OP_FLOAT = 6,
    OP_CALL = 7,
};

/* flags */
#define F_SIGNED 1
#define F_SEPARATE 2
#define F_LEADING 4
#define F_ZERO_NULL 8
#define F_HAS_SIGN 16
#define F_RELAXED 32
#define F_LITTLE 64
#define F_IBM 128

enum { TRIM_NONE = 0, TRIM_BOTH = 1, TRIM_LEFT = 2, TRIM_RIGHT = 3 };

#define MAX_DIGITS 18

typedef struct {
    int kind;
    PyObject *key; /* owned; NULL for array elements */
    Py_ssize_t offset;
    Py_ssize_t length;
    Py_ssize_t nchildren; /* GROUP: direct children; ARRAY: elements (the maximum) */
    Py_ssize_t size;      /* ops in this subtree, itself included */
    Py_ssize_t slot_in;   /* ARRAY: slot of its ODO count, or -1 */
    Py_ssize_t slot_out;  /* elementary: slot that keeps its value, or -1 */
    long long minimum, maximum; /* ARRAY with ODO */
    int flags;
    int scale;
    int table; /* TEXT: text table; ZONED: digit table set */
    int trim;
    PyObject *obj; /* owned; CALL: the converter; ZONED/BINARY with scale < 0: 10**-scale */
} Op;

typedef struct {
    signed char plain[256];
    signed char over_digit[256];
    signed char over_sign[256];
    int space, plus, minus;
} ZonedSet;

typedef struct {
    Py_UCS4 chars[256];
} TextTable;

typedef struct {
    PyObject_HEAD
    Op *ops;
    Py_ssize_t nops;
    TextTable *texts;
    Py_ssize_t ntexts;
    ZonedSet *zoned;
    Py_ssize_t nzoned;
    Py_ssize_t nslots;
    Py_ssize_t span; /* bytes a record needs: max(offset + length) */
    PyObject *decimal;  /* decimal.Decimal */
    int fast_decimal;   /* decimal_layout_check() passed */
    PyObject *decimal_text; /* or NULL: callable(str) for values whose str(Decimal) is plain */
    PyObject *invalid;  /* fields.InvalidField */
} Program;

/* ------------------------------------------------------------------ fast Decimal

   CPython's _decimal keeps a Decimal as PyObject_HEAD, a cached hash and an mpd_t whose
   coefficient lives in a 4-word array inside the object (libmpdec's layout, 64-bit words
   of base 10**19). Building one through Decimal(str) costs a string and a parse per value;
   filling that layout directly is several times faster. The layout is not a public API,
   so decimal_layout_check() verifies it on Decimals made by the real constructor when a
   Program is built, and every value goes through Decimal(str) unless the check passed. */

typedef struct {
    uint8_t flags;
    Py_ssize_t exp;
    Py_ssize_t digits;
    Py_ssize_t len;
    Py_ssize_t alloc;
    uint64_t *data;
} MpdMirror;

typedef struct {
    PyObject_HEAD
    Py_hash_t hash;
    MpdMirror dec;
    uint64_t data[4];
} DecMirror;

#define MPD_NEG_FLAG 1
#define MPD_STATIC_FLAGS (16 | 32) /* MPD_STATIC | MPD_STATIC_DATA */
#define MPD_RADIX_19 10000000000000000000ULL

static int
decimal_matches(PyObject *decimal, const char *text, int negative, uint64_t coefficient, Py_ssize_t digits,
                Py_ssize_t exp)
{
    PyObject *value = PyObject_CallFunction(decimal, "s", text);
    if (value == NULL) {
        PyErr_Clear();
        return 0;
    }
    DecMirror *d = (DecMirror *)value;
    int ok = d->dec.flags == (MPD_STATIC_FLAGS | (negative ? MPD_NEG_FLAG : 0)) && d->dec.exp == exp &&
             d->dec.digits == digits && d->dec.len == 1 && d->dec.alloc == 4 && d->dec.data == d->data &&
             d->data[0] == coefficient && d->hash == -1;
    Py_DECREF(value);
    return ok;
}

/* 1 when Decimals of this type have the layout above (checked on real ones), else 0. */
static int
decimal_layout_check(PyObject *decimal)
{
    if (!PyType_Check(decimal)) {
        return 0;
    }
    PyTypeObject *type = (PyTypeObject *)decimal;
    if (type->tp_basicsize != (Py_ssize_t)sizeof(DecMirror) || type->tp_itemsize != 0 ||
        PyType_HasFeature(type, Py_TPFLAGS_HAVE_GC) || type->tp_alloc == NULL) {
        return 0;
    }
    return decimal_matches(decimal, "123.45", 0, 12345, 5, -2) && decimal_matches(decimal, "-0.05", 1, 5, 1, -2) &&
           decimal_matches(decimal, "0.000", 0, 0, 1, -3) &&
           decimal_matches(decimal, "-9999999999999999.99", 1, 999999999999999999ULL, 18, -2);
}

static Py_ssize_t
count_digits(uint64_t value)
{
    Py_ssize_t n = 1;
    while (value >= 10) {
        value /= 10;
        n++;
    }
    return n;
}

/* A Decimal equal to Decimal("[-]magnitude") scaled by 10**-scale (magnitude < 10**19). */
static PyObject *
fast_decimal(PyTypeObject *type, int negative, uint64_t magnitude, int scale)
{
    DecMirror *d = (DecMirror *)type->tp_alloc(type, 0);
    if (d == NULL) {
        return NULL;
    }
    d->hash = -1;
    d->dec.flags = MPD_STATIC_FLAGS | (negative && magnitude != 0 ? MPD_NEG_FLAG : 0);
    d->dec.exp = -scale;
    d->dec.digits = count_digits(magnitude);
    d->dec.len = 1;
    d->dec.alloc = 4;
    d->dec.data = d->data;
    d->data[0] = magnitude;
    return (PyObject *)d;
}

typedef struct {
    const Program *program;
    const unsigned char *rec;
    PyObject **slots;
    int bad;
} State;

/* ------------------------------------------------------------------ values */

static PyObject *
make_int(int negative, unsigned long long magnitude)
{
    if (!negative) {
        return PyLong_FromUnsignedLongLong(magnitude);
    }
    if (magnitude <= (unsigned long long)LLONG_MAX) {
        return PyLong_FromLongLong(-(long long)magnitude);
    }
    PyObject *m = PyLong_FromUnsignedLongLong(magnitude);
    if (m == NULL) {
        return NULL;
    }
    PyObject *r = PyNumber_Negative(m);
    Py_DECREF(m);
    return r;
}

/* "[-]digits.digits" with exactly `scale` digits after the point (scale > 0). */
static PyObject *
decimal_string(int negative, unsigned long long magnitude, int scale)
{
    char digits[24];
    int n = 0;
    unsigned long long v = magnitude;
    do {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    int width = n > scale ? n : scale + 1; /* at least one digit before the point */
    char text[128];
    int t = 0;
    if (width + 3 > (int)sizeof(text)) {
        PyErr_SetString(PyExc_OverflowError, "decimal scale too large for the compiled decoder");
        return NULL;
    }
    if (negative && magnitude != 0) {
        text[t++] = '-';
    }
    for (int i = width - 1; i >= 0; i--) {
        if (i == scale - 1) {
            text[t++] = '.';
        }
        text[t++] = i < n ? digits[i] : '0';
    }
    return PyUnicode_FromStringAndSize(text, t);
}

/* sign * magnitude / 10**scale as the pure path builds it: int for scale <= 0, else Decimal. */
static PyObject *
make_number(const Program *p, const Op *op, int negative, unsigned long long magnitude)
{
    if (op->scale == 0) {
        return make_int(negative, magnitude);
    }
    if (op->scale < 0) {
        PyObject *m = make_int(negative, magnitude);
        if (m == NULL) {
            return NULL;
        }
        PyObject *r = PyNumber_Multiply(m, op->obj);
        Py_DECREF(m);
        return r;
    }
    if (p->decimal_text != NULL) {
        /* str(Decimal) is plain notation while the adjusted exponent is >= -6; below that
           it switches to 1E-7 style, so such values stay Decimals. */
        Py_ssize_t adjusted = count_digits(magnitude) - 1 - op->scale;
        if (adjusted >= -6) {
            PyObject *s = decimal_string(negative, magnitude, op->scale);
            if (s == NULL) {
                return NULL;
            }
            PyObject *r = PyObject_CallOneArg(p->decimal_text, s);
            Py_DECREF(s);
            return r;
        }
    }
    if (p->fast_decimal && magnitude < MPD_RADIX_19) {
        return fast_decimal((PyTypeObject *)p->decimal, negative, magnitude, op->scale);
    }
    /* Decimal(value).scaleb(-scale) == Decimal("[-]digits.digits") with the same
       coefficient and exponent; the string parse is exact whatever the context. */
    PyObject *s = decimal_string(negative, magnitude, op->scale);
    if (s == NULL) {
        return NULL;
    }
    PyObject *r = PyObject_CallOneArg(p->decimal, s);
    Py_DECREF(s);
    return r;
}

static int
all_bytes(const unsigned char *b, Py_ssize_t n, int value)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (b[i] != value) {
            return 0;
        }
    }
    return 1;
}

static PyObject *
decode_text(const Program *p, const Op *op, const unsigned char *b)
{
    const Py_UCS4 *table = p->texts[op->table].chars;
    Py_ssize_t begin = 0, end = op->length;
    if (op->trim == TRIM_BOTH || op->trim == TRIM_LEFT) {
        while (begin < end && table[b[begin]] <= 0x20) {
            begin++;
        }
    }
    if (op->trim == TRIM_BOTH || op->trim == TRIM_RIGHT) {
        while (end > begin && table[b[end - 1]] <= 0x20) {
            end--;
        }
    }
    Py_UCS4 maxchar = 0;
    for (Py_ssize_t i = begin; i < end; i++) {
        Py_UCS4 c = table[b[i]];
        if (c > maxchar) {
            maxchar = c;
        }
    }
    Py_ssize_t n = end - begin;
    PyObject *s = PyUnicode_New(n, maxchar);
    if (s == NULL) {
        return NULL;
    }
    int kind = PyUnicode_KIND(s);
    void *data = PyUnicode_DATA(s);
    if (kind == PyUnicode_1BYTE_KIND) {
        Py_UCS1 *out = (Py_UCS1 *)data;
        for (Py_ssize_t i = 0; i < n; i++) {
            out[i] = (Py_UCS1)table[b[begin + i]];
        }
    }
    else {
        for (Py_ssize_t i = 0; i < n; i++) {
            PyUnicode_WRITE(kind, data, i, table[b[begin + i]]);
        }
    }
    return s;
}

static PyObject *
decode_zoned(State *st, const Op *op, const unsigned char *b)
{
    const ZonedSet *z = &st->program->zoned[op->table];
    Py_ssize_t n = op->length;
    if ((op->flags & F_ZERO_NULL) && all_bytes(b, n, 0)) {
        Py_RETURN_NONE;
    }
    if (all_bytes(b, n, z->space)) {
        Py_RETURN_NONE;
    }
    int negative = 0;
    Py_ssize_t first = 0, last = n; /* digit bytes [first, last) */
    Py_ssize_t punched = -1;        /* index of the overpunched byte */
    if ((op->flags & F_SEPARATE) && (op->flags & F_SIGNED)) {
        int sign_byte = (op->flags & F_LEADING) ? b[0] : b[n - 1];
        if (op->flags & F_LEADING) {
            first = 1;
        }
        else {
            last = n - 1;
        }
        if (sign_byte == z->minus) {
            negative = 1;
        }
        else if (sign_byte != z->plus) {
            st->bad = 1;
            return NULL;
        }
    }
    else if (op->flags & F_SIGNED) {
        punched = (op->flags & F_LEADING) ? 0 : n - 1;
    }
    unsigned long long value = 0;
    for (Py_ssize_t i = first; i < last; i++) {
        int digit;
        if (i == punched) {
            digit = z->over_digit[b[i]];
            int sign = z->over_sign[b[i]];
            if (digit < 0 || sign == 0) {
                st->bad = 1;
                return NULL;
            }
            negative = sign < 0;
        }
        else {
            digit = z->plain[b[i]];
            if (digit < 0) {
                st->bad = 1;
                return NULL;
            }
        }
        value = value * 10 + (unsigned long long)digit;
    }
    return make_number(st->program, op, negative, value);
}

static PyObject *
decode_packed(State *st, const Op *op, const unsigned char *b)
{
    Py_ssize_t n = op->length;
    if ((op->flags & F_ZERO_NULL) && all_bytes(b, n, 0)) {
        Py_RETURN_NONE;
    }
    int has_sign = (op->flags & F_HAS_SIGN) != 0;
    Py_ssize_t ndigits = has_sign ? 2 * n - 1 : 2 * n;
    unsigned long long value = 0;
    for (Py_ssize_t i = 0; i < ndigits; i++) {
        int nibble = (i & 1) ? (b[i >> 1] & 0x0F) : (b[i >> 1] >> 4);
        if (nibble > 9) {
            st->bad = 1;
            return NULL;
        }
        value = value * 10 + (unsigned long long)nibble;
    }
    int negative = 0;
    if (has_sign) {
        int nibble = b[n - 1] & 0x0F;
        if (nibble < 10) {
            st->bad = 1;
            return NULL;
        }
        negative = nibble == 0x0B || nibble == 0x0D;
        if (negative && !(op->flags & F_SIGNED) && !(op->flags & F_RELAXED)) {
            st->bad = 1;
            return NULL;
        }
    }
    return make_number(st->program, op, negative, value);
}

static PyObject *
decode_binary(State *st, const Op *op, const unsigned char *b)
{
    Py_ssize_t n = op->length;
    unsigned long long bits = 0;
    if (op->flags & F_LITTLE) {
        for (Py_ssize_t i = n - 1; i >= 0; i--) {
            bits = bits << 8 | b[i];
        }
    }
    else {
        for (Py_ssize_t i = 0; i < n; i++) {
            bits = bits << 8 | b[i];
        }
    }
    int negative = 0;
    unsigned long long magnitude = bits;
    if ((op->flags & F_SIGNED) && (bits >> (8 * n - 1)) & 1) {
        /* two's complement of an n-byte number: magnitude = 2**(8n) - bits */
        unsigned long long mask = n == 8 ? ~0ULL : ((1ULL << (8 * n)) - 1);
        magnitude = ((~bits) & mask) + 1;
        if (n == 8 && magnitude == 0) {
            magnitude = 1ULL << 63; /* -2**63 */
        }
        negative = 1;
    }
    return make_number(st->program, op, negative, magnitude);
}

static PyObject *
decode_float(const Op *op, const unsigned char *b)
{
    Py_ssize_t n = op->length;
    unsigned long long bits = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        bits = bits << 8 | b[i];
    }
    if (op->flags & F_IBM) {
        int fraction_bits = (int)(n * 8 - 8);
        double sign = (bits >> (n * 8 - 1)) & 1 ? -1.0 : 1.0;
        int exponent = (int)((bits >> fraction_bits) & 0x7F);
        unsigned long long fraction = bits & ((1ULL << fraction_bits) - 1);
        return PyFloat_FromDouble(sign * ldexp((double)(long long)fraction, 4 * (exponent - 64) - fraction_bits));
    }
    if (n == 4) {
        uint32_t word = (uint32_t)bits;
        float f;
        memcpy(&f, &word, 4);
        return PyFloat_FromDouble((double)f);
    }
    double d;
    memcpy(&d, &bits, 8);
    return PyFloat_FromDouble(d);
}

static PyObject *
decode_call(State *st, const Op *op, const unsigned char *b)
{
    PyObject *raw = PyBytes_FromStringAndSize((const char *)b, op->length);
    if (raw == NULL) {
        return NULL;
    }
    PyObject *value = PyObject_CallOneArg(op->obj, raw);
    Py_DECREF(raw);
    if (value == NULL && PyErr_ExceptionMatches(st->program->invalid)) {
        PyErr_Clear();
        st->bad = 1;
    }
    return value;
}

/* ------------------------------------------------------------------ tree walk */

/* The value of ops[index] for the current record; NULL with st->bad set for invalid data,
   NULL with an exception set for a real error. */
static PyObject *
produce(State *st, Py_ssize_t index)
{
    const Op *op = &st->program->ops[index];
    const unsigned char *b = st->rec + op->offset;
    PyObject *value = NULL;
    switch (op->kind) {
    case OP_GROUP: {
#if PY_VERSION_HEX < 0x030D0000
        PyObject *dict = _PyDict_NewPresized(op->nchildren); /* no resizing while filling */
#else
        PyObject *dict = PyDict_New();
#endif
        if (dict == NULL) {
            return NULL;
        }
        Py_ssize_t child = index + 1;
        for (Py_ssize_t i = 0; i < op->nchildren; i++) {
            PyObject *item = produce(st, child);
            if (item == NULL) {
                Py_DECREF(dict);
                return NULL;
            }
            int failed = PyDict_SetItem(dict, st->program->ops[child].key, item);
            Py_DECREF(item);
            if (failed) {
                Py_DECREF(dict);
                return NULL;
            }
            child += st->program->ops[child].size;
        }
        return dict;
    }
    case OP_ARRAY: {
        Py_ssize_t count = op->nchildren;
        if (op->slot_in >= 0) {
            PyObject *held = st->slots[op->slot_in];
            if (held == NULL || !PyLong_Check(held)) {
                st->bad = 1;
                return NULL;
            }
            int overflow = 0;
            long long n = PyLong_AsLongLongAndOverflow(held, &overflow);
            if (n == -1 && PyErr_Occurred()) {
                return NULL;
            }
            if (overflow || n < op->minimum || n > op->maximum || n > op->nchildren) {
                st->bad = 1;
                return NULL;
            }
            count = (Py_ssize_t)n;
        }
        PyObject *list = PyList_New(count);
        if (list == NULL) {
            return NULL;
        }
        Py_ssize_t child = index + 1;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *item = produce(st, child);
            if (item == NULL) {
                Py_DECREF(list);
                return NULL;
            }
            PyList_SET_ITEM(list, i, item);
            child += st->program->ops[child].size;
        }
        return list;
    }
    case OP_TEXT:
        if ((op->flags & F_ZERO_NULL) && all_bytes(b, op->length, 0)) {
            Py_RETURN_NONE;
        }
        value = decode_text(st->program, op, b);
        break;
    case OP_ZONED:
        value = decode_zoned(st, op, b);
        break;
    case OP_PACKED:
        value = decode_packed(st, op, b);
        break;
    case OP_BINARY:
        value = decode_binary(st, op, b);
        break;
    case OP_FLOAT:
        value = decode_float(op, b);
        break;
    case OP_CALL:
        value = decode_call(st, op, b);
        break;
    default:
        PyErr_SetString(PyExc_SystemError, "bad op");
        return NULL;
    }
    if (value != NULL && op->slot_out >= 0) {
        Py_XSETREF(st->slots[op->slot_out], Py_NewRef(value));
    }
    return value;
}

/* ------------------------------------------------------------------ Program type */

static void
Program_dealloc(Program *self)
{
    if (self->ops != NULL) {
        for (Py_ssize_t i = 0; i < self->nops; i++) {
            Py_XDECREF(self->ops[i].key);
            Py_XDECREF(self->ops[i].obj);
        }
        PyMem_Free(self->ops);
    }
    PyMem_Free(self->texts);
    PyMem_Free(self->zoned);
    Py_XDECREF(self->decimal);
    Py_XDECREF(self->invalid);
    Py_XDECREF(self->decimal_text);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
fail_program(const char *message, Py_ssize_t index)
{
    PyErr_Format(PyExc_ValueError, "invalid decode program at op %zd: %s", index, message);
    return -1;
}

/* Check the structure from ops[index]: children inside the list, sizes, ranges. */
static int
check_tree(Program *self, Py_ssize_t index, Py_ssize_t *next)
{
    if (index >= self->nops) {
        return fail_program("children past the end", index);
    }
    Op *op = &self->ops[index];
    Py_ssize_t cursor = index + 1;
    if (op->kind == OP_GROUP || op->kind == OP_ARRAY) {
        if (op->nchildren < 0) {
            return fail_program("negative child count", index);
        }
        for (Py_ssize_t i = 0; i < op->nchildren; i++) {
            if (op->kind == OP_GROUP && cursor < self->nops && self->ops[cursor].key == NULL) {
                return fail_program("group member without a key", cursor);
            }
            if (check_tree(self, cursor, &cursor) < 0) {
                return -1;
            }
        }
        if (op->kind == OP_ARRAY && op->slot_in >= self->nslots) {
            return fail_program("slot out of range", index);
        }
        if (op->kind == OP_ARRAY && op->slot_in >= 0 && (op->minimum < 0 || op->maximum > op->nchildren)) {
            return fail_program("OCCURS range beyond the elements", index);
        }
    }
    else {
        if (op->offset < 0 || op->length <= 0 || op->length > self->span || op->offset > self->span - op->length) {
            return fail_program("field outside the record", index);
        }
        if (op->slot_out >= self->nslots) {
            return fail_program("slot out of range", index);
        }
        switch (op->kind) {
        case OP_TEXT:
            if (op->table < 0 || op->table >= self->ntexts) {
                return fail_program("text table out of range", index);
            }
            break;
        case OP_ZONED:
            if (op->table < 0 || op->table >= self->nzoned) {
                return fail_program("zoned table out of range", index);
            }
            if (op->length > MAX_DIGITS + 1 || ((op->flags & F_SEPARATE) && op->length < 2)) {
                return fail_program("zoned width", index);
            }
            if (!(op->flags & F_SEPARATE) && op->length > MAX_DIGITS) {
                return fail_program("zoned width", index);
            }
            break;
        case OP_PACKED:
            if ((op->flags & F_HAS_SIGN ? 2 * op->length - 1 : 2 * op->length) > MAX_DIGITS) {
                return fail_program("packed width", index);
            }
            break;
        case OP_BINARY:
            if (op->length > 8) {
                return fail_program("binary width", index);
            }
            break;
        case OP_FLOAT:
            if (op->length != 4 && op->length != 8) {
                return fail_program("float width", index);
            }
            break;
        case OP_CALL:
            if (op->obj == NULL || !PyCallable_Check(op->obj)) {
                return fail_program("converter is not callable", index);
            }
            break;
        default:
            return fail_program("unknown kind", index);
        }
        if ((op->kind == OP_ZONED || op->kind == OP_PACKED || op->kind == OP_BINARY) && op->scale < 0 &&
            op->obj == NULL) {
            return fail_program("scale factor missing", index);
        }
        if (op->scale > 60 || op->scale < -60) {
            return fail_program("scale out of range", index);
        }
    }
    op->size = cursor - index;
    *next = cursor;
    return 0;
}

static int
read_text_tables(Program *self, PyObject *tables)
{
    self->ntexts = PySequence_Fast_GET_SIZE(tables);
    self->texts = PyMem_Calloc(self->ntexts ? self->ntexts : 1, sizeof(TextTable));
    if (self->texts == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->ntexts; i++) {
        PyObject *table = PySequence_Fast_GET_ITEM(tables, i);
        if (!PyUnicode_Check(table) || PyUnicode_GET_LENGTH(table) != 256) {
            PyErr_SetString(PyExc_ValueError, "a text table is a str of 256 characters");
            return -1;
        }
        for (Py_ssize_t c = 0; c < 256; c++) {
            self->texts[i].chars[c] = PyUnicode_READ_CHAR(table, c);
        }
    }
    return 0;
}

static int
read_zoned_sets(Program *self, PyObject *sets)
{
    self->nzoned = PySequence_Fast_GET_SIZE(sets);
    self->zoned = PyMem_Calloc(self->nzoned ? self->nzoned : 1, sizeof(ZonedSet));
    if (self->zoned == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->nzoned; i++) {
        Py_buffer plain, over_digit, over_sign;
        ZonedSet *z = &self->zoned[i];
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(sets, i), "y*y*y*iii", &plain, &over_digit, &over_sign,
                              &z->space, &z->plus, &z->minus)) {
            return -1;
        }
        int ok = plain.len == 256 && over_digit.len == 256 && over_sign.len == 256;
        if (ok) {
            memcpy(z->plain, plain.buf, 256);
            memcpy(z->over_digit, over_digit.buf, 256);
            memcpy(z->over_sign, over_sign.buf, 256);
        }
        PyBuffer_Release(&plain);
        PyBuffer_Release(&over_digit);
        PyBuffer_Release(&over_sign);
        if (!ok) {
            PyErr_SetString(PyExc_ValueError, "a zoned table has 256 entries");
            return -1;
        }
        for (int c = 0; c < 256; c++) {
            if (z->plain[c] > 9 || z->over_digit[c] > 9 || z->over_sign[c] < -1 || z->over_sign[c] > 1) {
                PyErr_SetString(PyExc_ValueError, "a zoned table holds digits 0-9 (or -1) and signs -1..1");
                return -1;
            }
        }
    }
    return 0;
}

static PyObject *
Program_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"ops",     "text_tables", "zoned_sets",   "slots", "span",
                               "decimal", "invalid",     "fast_decimal", "decimal_text", NULL};
    PyObject *ops, *texts, *zoned, *decimal, *invalid, *decimal_text = Py_None;
    Py_ssize_t nslots, span;
    int fast = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOnnOO|pO", keywords, &ops, &texts, &zoned, &nslots, &span,
                                     &decimal, &invalid, &fast, &decimal_text)) {
        return NULL;
    }
    if (nslots < 0 || span < 0 || !PyType_Check(invalid) ||
        !PyType_IsSubtype((PyTypeObject *)invalid, (PyTypeObject *)PyExc_Exception)) {
        PyErr_SetString(PyExc_ValueError, "invalid program arguments");
        return NULL;
    }
    Program *self = (Program *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->decimal = Py_NewRef(decimal);
    self->fast_decimal = fast && decimal_layout_check(decimal);
    if (decimal_text != Py_None) {
        if (!PyCallable_Check(decimal_text)) {
            PyErr_SetString(PyExc_TypeError, "decimal_text must be callable");
            Py_DECREF(self);
            return NULL;
        }
        self->decimal_text = Py_NewRef(decimal_text);
    }
    self->invalid = Py_NewRef(invalid);
    self->nslots = nslots;
    self->span = span;
    PyObject *op_list = PySequence_Fast(ops, "ops must be a sequence");
    PyObject *text_list = op_list ? PySequence_Fast(texts, "text_tables must be a sequence") : NULL;
    PyObject *zoned_list = text_list ? PySequence_Fast(zoned, "zoned_sets must be a sequence") : NULL;
    if (zoned_list == NULL || read_text_tables(self, text_list) < 0 || read_zoned_sets(self, zoned_list) < 0) {
        goto error;
    }
    self->nops = PySequence_Fast_GET_SIZE(op_list);
    if (self->nops == 0) {
        PyErr_SetString(PyExc_ValueError, "empty program");
        goto error;
    }
    self->ops = PyMem_Calloc(self->nops, sizeof(Op));
    if (self->ops == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (Py_ssize_t i = 0; i < self->nops; i++) {
        Op *op = &self->ops[i];
        PyObject *key, *obj;
        long long minimum, maximum;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(op_list, i), "iOnnnnnLLiiiiO", &op->kind, &key, &op->offset,
                              &op->length, &op->nchildren, &op->slot_in, &op->slot_out, &minimum, &maximum,
                              &op->flags, &op->scale, &op->table, &op->trim, &obj)) {
            goto error;
        }
        op->minimum = minimum;
        op->maximum = maximum;
        if (key != Py_None) {
            if (!PyUnicode_Check(key)) {
                PyErr_SetString(PyExc_TypeError, "an op key is a str or None");
                goto error;
            }
            op->key = Py_NewRef(key);
        }
        if (obj != Py_None) {
            op->obj = Py_NewRef(obj);
        }
    }
    Py_ssize_t end = 0;
    if (self->ops[0].kind != OP_GROUP || check_tree(self, 0, &end) < 0) {
        if (!PyErr_Occurred()) {
            fail_program("the root is not a group", 0);
        }
        goto error;
    }
    if (end != self->nops) {
        fail_program("ops after the root", end);
        goto error;
    }
    Py_DECREF(op_list);
    Py_DECREF(text_list);
    Py_DECREF(zoned_list);
    return (PyObject *)self;
error:
    Py_XDECREF(op_list);
    Py_XDECREF(text_list);
    Py_XDECREF(zoned_list);
    Py_DECREF(self);
    return NULL;
}

PyDoc_STRVAR(Program_decode_doc,
             "decode(buffer, record_length, count, record_start_offset) -> (records, bad_rows)\n\n"
             "Decode count records of record_length bytes; a row with invalid data is None in\n"
             "records and listed in bad_rows.");

static PyObject *
Program_decode(Program *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t record_length, count, start;
    if (!PyArg_ParseTuple(args, "y*nnn", &view, &record_length, &count, &start)) {
        return NULL;
    }
    PyObject *records = NULL, *bad = NULL, *result = NULL;
    PyObject **slots = NULL;
    if (record_length <= 0 || count < 0 || start < 0 || start > record_length ||
        self->span > record_length - start || (count > 0 && record_length > view.len / count)) {
        PyErr_SetString(PyExc_ValueError, "buffer too small for the records, or a record too short for the layout");
        goto done;
    }
    records = PyList_New(count);
    bad = PyList_New(0);
    slots = PyMem_Calloc(self->nslots ? self->nslots : 1, sizeof(PyObject *));
    if (records == NULL || bad == NULL || slots == NULL) {
        if (slots == NULL) {
            PyErr_NoMemory();
        }
        goto done;
    }
    State st = {self, NULL, slots, 0};
    const unsigned char *base = (const unsigned char *)view.buf;
    for (Py_ssize_t row = 0; row < count; row++) {
        st.rec = base + row * record_length + start;
        st.bad = 0;
        PyObject *record = produce(&st, 0);
        for (Py_ssize_t s = 0; s < self->nslots; s++) {
            Py_CLEAR(slots[s]);
        }
        if (record == NULL) {
            if (!st.bad || PyErr_Occurred()) {
                goto failed;
            }
            PyObject *number = PyLong_FromSsize_t(row);
            if (number == NULL || PyList_Append(bad, number) < 0) {
                Py_XDECREF(number);
                goto failed;
            }
            Py_DECREF(number);
            record = Py_NewRef(Py_None);
        }
        PyList_SET_ITEM(records, row, record);
    }
    result = PyTuple_Pack(2, records, bad);
    goto done;
failed:
    if (!PyErr_Occurred()) {
        PyErr_SetString(PyExc_SystemError, "decode failed without an exception");
    }
done:
    PyMem_Free(slots);
    Py_XDECREF(records);
    Py_XDECREF(bad);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef Program_methods[] = {
    {"decode", (PyCFunction)Program_decode, METH_VARARGS, Program_decode_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Program_doc,
             "Program(ops, text_tables, zoned_sets, slots, span, decimal, invalid)\n\n"
             "A fixed-record decode program; see headwater.codecs.copybook.native.");

static PyMemberDef Program_members[] = {
    {"fast_decimal", T_INT, offsetof(Program, fast_decimal), READONLY,
     "True when Decimals are built in place (the layout check passed), False: through Decimal(str)."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "headwater.codecs.copybook._cdecode.Program",
    .tp_basicsize = sizeof(Program),
    .tp_dealloc = (destructor)Program_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = Program_doc,
    .tp_methods = Program_methods,
    .tp_members = Program_members,
    .tp_new = Program_new,
};

/* ------------------------------------------------------------------ V/VB record splitting */

PyDoc_STRVAR(split_rdw_doc,
             "split_rdw(buffer, at, limit, block_end, big_endian, adjustment, skip, cut, number, base, "
             "record_type, most)\n\n"
             "The plain records of a V or VB stream from index ``at`` of ``buffer``, as "
             "RecordSplitter._variable splits them: up to ``most`` records, each "
             "record_type(number, base + data_begin, data). Stops before the first record that is "
             "not plainly valid (a zero or negative length, a nonzero third or fourth RDW byte, a "
             "record past ``block_end`` (-1: none) or past ``limit``) and after a record that ends "
             "its block, leaving that to the Python loop, which names any error. Indexes are "
             "relative to the buffer. Returns (records, index after them, next number).");

static PyObject *
split_rdw(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t at, limit, block_end, adjustment, skip, cut, number, base, most;
    int big_endian;
    PyObject *record_type;
    if (!PyArg_ParseTuple(args, "y*nnnpnnnnnOn", &view, &at, &limit, &block_end, &big_endian, &adjustment, &skip,
                          &cut, &number, &base, &record_type, &most)) {
        return NULL;
    }
    PyObject *records = PyList_New(0);
    if (records == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)view.buf;
    Py_ssize_t size = view.len;
    int tuple_type = PyType_Check(record_type) && PyType_IsSubtype((PyTypeObject *)record_type, &PyTuple_Type) &&
                     ((PyTypeObject *)record_type)->tp_itemsize == sizeof(PyObject *);
    if (limit > size) {
        limit = size;
    }
    while (PyList_GET_SIZE(records) < most) {
        if (at < 0 || (block_end >= 0 && at >= block_end) || at + 4 > limit) {
            break;
        }
        Py_ssize_t value = big_endian ? (data[at] << 8 | data[at + 1]) : (data[at + 1] << 8 | data[at]);
        Py_ssize_t length = value + adjustment;
        if (value == 0 || length < 0 || data[at + 2] || data[at + 3]) {
            break;
        }
        Py_ssize_t end = at + 4 + length;
        if ((block_end >= 0 && end > block_end) || end > limit) {
            break;
        }
        /* As Python slices buffer[begin:max(begin, end - cut)]: the offset is begin's, the
           bytes stop at the buffer's end. */
        Py_ssize_t begin = at + 4 + skip;
        Py_ssize_t stop = end - cut > begin ? end - cut : begin;
        Py_ssize_t first = begin < size ? begin : size;
        Py_ssize_t last = stop < size ? stop : size;
        PyObject *bytes = PyBytes_FromStringAndSize((const char *)data + first, last - first);
        if (bytes == NULL) {
            goto fail;
        }
        PyObject *record;
        if (tuple_type) {
            /* A named tuple's fields set as tuple.__new__ would (its Python __new__ skipped). */
            record = ((PyTypeObject *)record_type)->tp_alloc((PyTypeObject *)record_type, 3);
            PyObject *first = PyLong_FromSsize_t(number);
            PyObject *second = PyLong_FromSsize_t(base + begin);
            if (record == NULL || first == NULL || second == NULL) {
                Py_XDECREF(record);
                Py_XDECREF(first);
                Py_XDECREF(second);
                Py_DECREF(bytes);
                goto fail;
            }
            PyTuple_SET_ITEM(record, 0, first);
            PyTuple_SET_ITEM(record, 1, second);
            PyTuple_SET_ITEM(record, 2, bytes);
        }
        else {
            record = PyObject_CallFunction(record_type, "nnN", number, base + begin, bytes);
            if (record == NULL) {
                goto fail;
            }
        }
        int appended = PyList_Append(records, record);
        Py_DECREF(record);
        if (appended < 0) {
            goto fail;
        }
        number++;
        at = end;
        if (block_end >= 0 && end >= block_end) {
            break;
        }
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("Nnn", records, at, number);
fail:
    Py_DECREF(records);
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef module_methods[] = {
    {"split_rdw", split_rdw, METH_VARARGS, split_rdw_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_cdecode",
    .m_doc = "Compiled core of the copybook batch decoder (optional; see headwater.codecs.copybook.native).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__cdecode(void)
{
    if (PyType_Ready(&ProgramType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Program", (PyObject *)&ProgramType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
