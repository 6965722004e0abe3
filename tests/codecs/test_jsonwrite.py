"""The compiled JSON writer gives the Python path's bytes, or hands the value to it.

``json_writer`` with the C extension (``_cjson``) must write exactly what
``to_json_bytes(json_encoder(schema)(value))`` writes (the JSON converter's path without
it), and raise the same error where that raises: on generated structs with hostile field
names, values that fit, values of the wrong types, nulls, missing and extra fields, text with
every kind of character, integers past 64 bits and floats orjson writes in its own format.
"""

from __future__ import annotations

import datetime
import os
import typing as t
from decimal import Decimal as D

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from test_schema import _LEAVES, _SAMPLES, _sample, _schemas

from headwater.codecs import jsonwrite
from headwater.codecs import schema as s
from headwater.codecs.converters import to_json_bytes

if os.environ.get("HEADWATER_REQUIRE_NATIVE") == "1":
    assert jsonwrite.NATIVE_AVAILABLE, "the _cjson extension is not built"
pytestmark = pytest.mark.skipif(not jsonwrite.NATIVE_AVAILABLE, reason="the _cjson extension is not built")

_TEXT = ["plain", "", 'quote " back \\ slash /', "\x00\x01\x1f\x7f\n\t\r\b\f\x0b", "Zoë 東京 \u2028 🦆", "\ud800"]
_MORE_SAMPLES: dict[s.Type | str, list[t.Any]] = {
    **_SAMPLES,
    s.Type.INT8: [1, -128, True, 2**64, -(2**63), 2**63 - 1, 2**63],
    s.Type.INT16: [7, 1.0, None],
    s.Type.INT32: [0, -7, "1", 1.5, True, 2**70],
    s.Type.STRING: [*_TEXT, 3, b"x"],
    s.Type.FLOAT32: [0.5, 3, float("nan"), float("inf"), -0.0, 1e16, 1.5e-7, 2**80, True],
    s.Type.FLOAT64: [1.5, 2, "1.5", False, 1e300, float("-inf")],
    s.Type.BYTES: [b"", b"\x00", b"\x00\xff", b"abc", b"abcd" * 20, bytearray(b"ab"), "ab", 5],
    s.Type.ARRAY: [["a", "b"], [], ["a", 1], "x"],
    s.Type.MAP: [{"k": 1}, {}, {"k": "x"}, [("k", 1)]],
    s.TIMESTAMP_NAME: [datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC), 1_600_000_000_000, "x"],
    s.TIME_NAME: [datetime.time(1, 2, 3), 1000, "x"],
}
_MORE_LEAVES = (
    *_LEAVES,
    s.INT8,
    s.INT16,
    s.FLOAT32,
    s.TIMESTAMP,
    s.TIME,
    s.array_of(s.STRING),
    s.map_of(s.STRING, s.INT32),
)


def _both(schema: s.Schema, value: t.Any, decimal_format: str) -> tuple[t.Any, t.Any]:
    """(compiled writer's result, Python path's result): bytes, or the error's type and text."""
    results = []
    for native in (True, False):
        saved, jsonwrite.NATIVE_ENABLED = jsonwrite.NATIVE_ENABLED, native
        try:
            write = jsonwrite.json_writer(schema, to_json_bytes, decimal_format=decimal_format)
        finally:
            jsonwrite.NATIVE_ENABLED = saved
        try:
            results.append(write(value))
        except (s.SchemaError, TypeError) as exc:
            results.append((type(exc).__name__, str(exc)))
    return results[0], results[1]


@settings(max_examples=600, deadline=None)
@given(_schemas(leaves=_MORE_LEAVES), st.data(), st.sampled_from(["NUMERIC", "BASE64"]))
def test_the_compiled_writer_writes_the_python_paths_bytes(
    schema: s.Schema, data: st.DataObject, decimal_format: str
) -> None:
    value = _sample(schema, data, _MORE_SAMPLES)
    note(f"value: {value!r}; fields: {[(f.name, f.schema) for f in schema.fields]}")
    compiled, python = _both(schema, value, decimal_format)
    assert compiled == python


_ROW = s.struct(
    {
        "id": s.INT64,
        "name": s.STRING.optional(),
        "blob": s.BYTES.optional(),
        "amount": s.decimal_of(2).optional(),
        "ratio": s.FLOAT64.optional(),
        "ok": s.BOOLEAN,
        "inner": s.struct({"a": s.INT32, "b": s.STRING.optional()}, name="x.Inner").optional(),
        "tags": s.array_of(s.STRING).optional(),
    },
    name="x.Row",
)


@example({"id": 1, "name": "a", "blob": b"\x01", "amount": D("1.5"), "ratio": 0.1, "ok": True,
          "inner": {"a": 1, "b": None}, "tags": ["x"]})  # fmt: skip
@example({"id": 2**64, "name": None, "blob": None, "amount": None, "ratio": None, "ok": False, "inner": None,
          "tags": None})  # fmt: skip
@example({"id": 1, "name": "\ud800", "blob": None, "amount": None, "ratio": None, "ok": True, "inner": None,
          "tags": None})  # fmt: skip
@example({"id": 1, "name": "a", "blob": None, "amount": D("NaN"), "ratio": float("nan"), "ok": True,
          "inner": {"a": 1}, "tags": [1]})  # fmt: skip
@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "id": st.integers(),
            "name": st.none() | st.text(),
            "blob": st.none() | st.binary(),
            "amount": st.none() | st.decimals(places=3),
            "ratio": st.none() | st.floats(),
            "ok": st.booleans(),
            "inner": st.none() | st.fixed_dictionaries({"a": st.integers(), "b": st.none() | st.text()}),
            "tags": st.none() | st.lists(st.text()),
        }
    )
)
def test_any_text_number_and_bytes_are_written_as_the_python_path_writes_them(value: dict[str, t.Any]) -> None:
    for decimal_format in ("NUMERIC", "BASE64"):
        compiled, python = _both(_ROW, value, decimal_format)
        assert compiled == python


def test_a_writer_without_a_fallback_returns_none_off_the_plain_path() -> None:
    import orjson

    from headwater.codecs import _cjson

    row = s.struct({"id": s.INT64, "name": s.STRING.optional()})
    write = _cjson.Writer(jsonwrite._spec(row, "BASE64", False), orjson.dumps, to_json_bytes)
    assert write({"name": "a", "id": 1}) == b'{"name":"a","id":1}'  # no converting field: the dict's order
    assert write({"id": "1", "name": None}) is None  # a wrong type
    assert write({"id": 1}) is None  # a missing field (the Python path would fill the null)
    assert write([1]) is None
