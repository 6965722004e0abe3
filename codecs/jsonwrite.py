"""The JSON bytes of a struct schema's values: the compiled writer, with the Python path behind it.

:func:`json_writer` gives what ``tail(json_encoder(schema)(value))`` gives (``tail`` is the
caller's JSON writer, the JSON converter's ``to_json_bytes``), byte for byte. When the
optional C extension ``headwater.codecs._cjson`` is built (``pip install`` builds it when a
C compiler is there), a value on the plain path (a dict with exactly the struct's fields,
each of the expected Python type, recursively; see ``_cjson.c``) is written in one pass in
C; anything else the writer hands to the Python path itself, which fills defaults or
raises the precise error. Setting the environment variable
``HEADWATER_JSON_NATIVE=0`` before import (or :data:`NATIVE_ENABLED` to False, as the
differential tests do) leaves everything to Python.

Pure: no I/O, no state between calls; a writer may be called from any thread holding the GIL.
"""

from __future__ import annotations

import decimal
import os
import typing as t

import orjson

from headwater.codecs.schema import (
    _EXACT,
    _PYTHON_TYPES,
    Schema,
    Type,
    _compile,
    is_converted_logical,
    json_encoder,
)

try:
    from headwater.codecs import _cjson
except ImportError:  # no C compiler at install time: the Python path writes everything
    _cjson = None

__all__ = ["NATIVE_AVAILABLE", "NATIVE_ENABLED", "json_writer"]

#: True when the compiled writer (``_cjson``) is installed.
NATIVE_AVAILABLE: bool = _cjson is not None
#: Whether :func:`json_writer` builds compiled writers (read when a writer is built).
NATIVE_ENABLED: bool = NATIVE_AVAILABLE and os.environ.get("HEADWATER_JSON_NATIVE", "1") != "0"

Writer: t.TypeAlias = t.Callable[[t.Any], bytes]


def json_writer(
    schema: Schema,
    tail: t.Callable[[t.Any], bytes],
    *,
    decimal_format: str = "BASE64",
    map_entries: bool = False,
) -> Writer:
    """The JSON bytes of ``schema``'s values: ``tail(json_encoder(schema, ...)(value))``.

    Built once per schema (a generated encoder and, for a struct, a compiled writer: about
    a millisecond for a change-event envelope), called per record. Raises what that
    expression raises (:class:`~headwater.codecs.schema.SchemaError`, ``TypeError``).
    """
    encoder = json_encoder(schema, decimal_format=decimal_format, map_entries=map_entries)

    def reference(value: t.Any) -> bytes:
        return tail(encoder(value))

    if not (NATIVE_ENABLED and _cjson is not None) or schema.type is not Type.STRUCT or is_converted_logical(schema):
        return reference
    try:
        return t.cast(Writer, _cjson.Writer(_spec(schema, decimal_format, map_entries), orjson.dumps, tail, reference))
    except (ValueError, RecursionError):  # structs nested past the writer's 64 levels
        return reference


def _spec(schema: Schema, decimal_format: str, map_entries: bool) -> tuple[t.Any, ...]:
    """The ``_cjson.Writer`` node of ``schema``: the rule of ``schema._compile`` (which the
    generated encoders follow), with a Python encoder (CALL) wherever that one converts
    anything but bytes or a struct."""
    assert _cjson is not None
    if schema.is_decimal and decimal_format == "NUMERIC":  # schema._compile's ``numeric``, in C
        return (_cjson.DECIMAL, decimal.Decimal(1).scaleb(-schema.scale), _EXACT)
    if is_converted_logical(schema) or schema.type not in (*_PYTHON_TYPES, Type.BYTES, Type.STRUCT):
        encoder = _compile(schema, decimal_format, map_entries, True)
        assert encoder is not None  # only the pass-through types have none
        return (_cjson.CALL, encoder)
    kind = schema.type
    if kind is Type.STRUCT:
        fields = tuple(
            (
                item.name,
                orjson.dumps(item.name) + b":",
                item.schema.is_optional and item.schema.default is None,
                _spec(item.schema, decimal_format, map_entries),
            )
            for item in schema.fields
        )
        # No field converts: the encoders return the dict itself, which orjson writes in its own order.
        as_given = all(node[0] in (_cjson.INT, _cjson.FLOAT, _cjson.BOOL, _cjson.STR) for *_, node in fields)
        return (_cjson.STRUCT, fields, as_given)
    if kind is Type.BYTES:
        return (_cjson.BYTES,)
    if kind in (Type.FLOAT32, Type.FLOAT64):
        return (_cjson.FLOAT,)
    if kind is Type.BOOLEAN:
        return (_cjson.BOOL,)
    if kind is Type.STRING:
        return (_cjson.STR,)
    return (_cjson.INT,)
