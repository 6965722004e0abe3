"""The schema model: building, validating, Connect schema JSON, exact decimals, inference."""

from __future__ import annotations

import datetime
import decimal
import io
import typing as t

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.codecs import schema as s

D = decimal.Decimal

ROW = s.struct(
    {
        "id": s.INT32,
        "name": s.STRING.optional(),
        "balance": s.decimal_of(2, precision=38).optional(),
        "opened": s.DATE.optional(),
        "seen": s.TIMESTAMP.optional(),
        "at": s.TIME.optional(),
        "tags": s.array_of(s.STRING).optional(),
        "attrs": s.map_of(s.STRING, s.INT64).optional().with_default({"a": 1}),
        "ratio": s.FLOAT64.optional(),
        "ts": s.debezium.MICRO_TIMESTAMP.optional(),
    },
    name="bank.customers.Value",
    version=2,
    doc="one customer",
)


def test_schemas_are_immutable_values() -> None:
    again = s.struct(dict((item.name, item.schema) for item in ROW.fields), name="bank.customers.Value", version=2)
    assert again.with_doc("one customer") == ROW
    assert hash(again.with_doc("one customer")) == hash(ROW)
    assert ROW.optional() != ROW and ROW.optional().required() == ROW
    assert {ROW: 1}[again.with_doc("one customer")] == 1
    with pytest.raises(AttributeError):
        ROW.name = "x"  # type: ignore[misc]
    assert s.decimal_of(2, precision=9).precision == 9 and s.decimal_of(2).scale == 2


def test_connect_json_round_trip() -> None:
    document = s.to_connect_json(ROW)
    assert document["name"] == "bank.customers.Value" and document["version"] == 2
    assert document["fields"][2] == {
        "type": "bytes",
        "optional": True,
        "name": "org.apache.kafka.connect.data.Decimal",
        "version": 1,
        "parameters": {"scale": "2", "connect.decimal.precision": "38"},
        "field": "balance",
    }
    assert document["fields"][7]["default"] == {"a": 1}
    assert s.from_connect_json(document) == ROW
    with pytest.raises(s.SchemaError, match=r"\.x: unknown type 'blob'"):
        s.from_connect_json({"type": "struct", "fields": [{"field": "x", "type": "blob"}]})


def test_validate_names_the_field() -> None:
    ROW.validate({"id": 1, "balance": D("1.5"), "opened": datetime.date(2020, 1, 2), "tags": ["a"]})
    with pytest.raises(s.SchemaError, match="id: null in a required int32"):
        ROW.validate({"id": None})
    with pytest.raises(s.SchemaError, match=r"tags\[1\]: int"):
        ROW.validate({"id": 1, "tags": ["a", 2]})
    with pytest.raises(s.SchemaError, match="more than 2 decimal places"):
        ROW.validate({"id": 1, "balance": D("1.555")})
    with pytest.raises(s.SchemaError, match=r"fields \['nope'\] are not in bank.customers.Value"):
        ROW.validate({"id": 1, "nope": 1})
    with pytest.raises(s.SchemaError, match="out of range"):
        s.INT8.validate(300)


@pytest.mark.parametrize(
    "text",
    [
        "12345678901234567890123456789.01",
        "-123456789012345678901234567890123456.78",
        "99999999999999999999999999999999999999",
        "0.00",
    ],
)
def test_decimals_stay_exact_beyond_28_digits(text: str) -> None:
    value = D(text)
    scale = max(0, -t_exponent(value))
    schema = s.decimal_of(scale, precision=38)
    assert s.from_unscaled(s.unscaled_bytes(value, scale), scale) == value
    for decimal_format in ("BASE64", "NUMERIC"):
        written = s.value_to_json(schema, value, decimal_format=decimal_format)
        back = s.value_from_json(schema, written)
        assert str(back) == text


def t_exponent(value: decimal.Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return exponent


def test_payload_round_trip_keeps_types() -> None:
    value = {
        "id": 7,
        "name": "Ann",
        "balance": D("12.5"),
        "opened": datetime.date(2021, 3, 4),
        "seen": datetime.datetime(2021, 3, 4, 5, 6, 7, 123000, tzinfo=datetime.UTC),
        "at": datetime.time(1, 2, 3, 456000),
        "tags": [],
        "attrs": None,
        "ratio": 0.25,
        "ts": 1_600_000_000_000_000,
    }
    payload = s.value_to_json(ROW, value, decimal_format="NUMERIC")
    assert payload["opened"] == 18690 and payload["at"] == 3723456 and payload["attrs"] == {"a": 1}
    back = s.value_from_json(ROW, payload)
    assert back == {**value, "balance": D("12.50"), "attrs": {"a": 1}}
    assert isinstance(back["ratio"], float) and str(back["balance"]) == "12.50"


def test_a_null_never_changes_an_inferred_schema() -> None:
    first = s.infer({"id": 1, "alt": "x", "items": [{"n": 1}], "amount": D("1.25")})
    later = s.infer({"id": 2, "alt": None, "items": [], "amount": None})
    assert s.merge(first, later) == first
    # The other way round: the open parts are filled by the record that has the data.
    assert s.merge(later, first) == first
    # A nullable NUMBER(10,2): scales 0, 1 and 2 and nulls make one schema, at the widest scale.
    merged = None
    for amount in (D("3"), None, D("1.5"), D("1.25"), None):
        merged = s.merge(merged, s.infer({"amount": amount}))
    assert s.close(merged) == s.struct({"amount": s.decimal_of(2).optional()}, optional=True)
    # An array's item schema comes from all its elements, not the first.
    assert (
        s.infer([None, {"a": 1}, {"b": "x"}])
        == s.array_of(s.struct({"a": s.INT64.optional(), "b": s.STRING.optional()}, optional=True)).optional()
    )
    # What no record ever filled becomes an optional string at the end.
    assert s.close(s.infer({"x": None, "y": []})) == s.struct(
        {"x": s.STRING.optional(), "y": s.array_of(s.STRING.optional()).optional()}, optional=True
    )


def test_debezium_variable_scale_decimal() -> None:
    value = s.debezium.variable_scale_decimal(D("-1234.567"))
    s.debezium.VARIABLE_SCALE_DECIMAL.validate(value)
    assert value["scale"] == 3 and s.from_unscaled(value["value"], 3) == D("-1234.567")


@pytest.mark.parametrize("decimal_format", ["NUMERIC", "BASE64"])
def test_the_compiled_encoder_matches_value_to_json(decimal_format: str) -> None:
    encode = s.json_encoder(ROW, decimal_format=decimal_format)
    values = [
        {"id": 1, "name": "a", "balance": D("1.5"), "opened": datetime.date(2020, 1, 1), "seen": None, "at": None,
         "tags": ["x", "y"], "attrs": None, "ratio": 1, "ts": 5},
        {"id": 2, "name": None, "balance": D("1.50"), "opened": None, "seen": None, "at": None, "tags": [],
         "attrs": {"k": 3}, "ratio": None, "ts": None},
        {"id": 3},  # missing fields: defaults and nulls
    ]  # fmt: skip
    for value in values:
        assert encode(value) == s.value_to_json(ROW, value, decimal_format=decimal_format)
    for bad, message in [
        ({"id": "1"}, "id: str"),
        ({"id": None}, "id: null in a required int32"),
        ({"id": 1, "balance": D("0.001")}, "balance: 0.001 has more than 2 decimal places"),
        ({"id": 1, "tags": ["a", 1]}, r"tags\[1\]: int"),
        ({"id": 1, "x": 1}, r"fields \['x'\] are not in the schema"),
    ]:
        with pytest.raises(s.SchemaError, match=message):
            encode(bad)


_LEAVES = [s.INT32, s.INT64, s.STRING, s.FLOAT64, s.BOOLEAN, s.BYTES, s.decimal_of(2), s.DATE]
_SAMPLES: dict[s.Type | str, list[t.Any]] = {
    s.Type.INT32: [0, -7, "1", 1.5, True],
    s.Type.INT64: [2**40, "x", None],
    s.Type.STRING: ["", "a'b", 3, b"x"],
    s.Type.FLOAT64: [1.5, 2, "1.5", False],
    s.Type.BOOLEAN: [True, 1, "true"],
    s.Type.BYTES: [b"\x00\xff", bytearray(b"ab"), "ab", 5],
    s.DECIMAL: [D("1.5"), D("-0.25"), D("1E+3"), D("0.001"), D("NaN"), D("Infinity"), 3, 2.5, "1"],
    s.DATE_NAME: [datetime.date(2020, 2, 29), 18000, "2020-01-01"],
}


def _sample(schema: s.Schema, data: st.DataObject, samples: dict[s.Type | str, list[t.Any]] = _SAMPLES) -> t.Any:
    if schema.type is s.Type.STRUCT:
        names = [item.name for item in schema.fields]
        # Mostly every field (the fast path), in any order; sometimes some are missing.
        every = data.draw(st.integers(0, 3)) > 0
        keep = data.draw(st.permutations([name for name in names if every or data.draw(st.booleans())]))
        value = {name: _sample(schema.field(name).schema, data, samples) for name in keep}
        if data.draw(st.integers(0, 19)) == 0:
            value["extra"] = 1
        return value if data.draw(st.integers(0, 19)) else [value]
    if data.draw(st.integers(0, 9)) == 0:
        return None
    fits = samples[schema.name or schema.type]
    return fits[0] if data.draw(st.booleans()) else data.draw(st.sampled_from(fits))  # mostly a fit


@st.composite
def _schemas(draw: st.DrawFn, depth: int = 0, leaves: t.Sequence[s.Schema] = tuple(_LEAVES)) -> s.Schema:
    characters = st.sampled_from("a'\"\\\n #{}x)")
    names = draw(st.lists(st.text(characters, min_size=1, max_size=6), max_size=6, unique=True))
    fields = {}
    for name in names:
        nested = depth < 2 and draw(st.integers(0, 4)) == 0
        leaf = draw(_schemas(depth + 1, leaves)) if nested else draw(st.sampled_from(leaves))
        if draw(st.booleans()):
            leaf = leaf.optional()
        fields[name] = leaf
    return s.struct(fields, name=draw(st.sampled_from([None, "x.Value", "'quoted\"\nname"])))


def _exact(value: t.Any) -> t.Any:
    """``value`` with decimals as their text, so a scale difference (1.5 against 1.50) shows."""
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact(item) for item in value]
    return str(value) if isinstance(value, D) else value


@settings(max_examples=400, deadline=None)
@given(_schemas(), st.data(), st.sampled_from(["NUMERIC", "BASE64"]), st.booleans())
def test_the_generated_struct_encoder_matches_value_to_json_on_any_struct(
    schema: s.Schema, data: st.DataObject, decimal_format: str, generated: bool
) -> None:
    """Generated from field names that could break the source (quotes, backslashes, newlines,
    braces), on values that fit, and values with wrong types, nulls, missing and extra fields:
    the same result as :func:`s.value_to_json`, or the same error; so is the loop encoder."""
    value = _sample(schema, data)
    try:
        expected = s.value_to_json(schema, value, decimal_format=decimal_format)
    except s.SchemaError as exc:
        error = str(exc)
    else:
        encoded = s.json_encoder(schema, decimal_format=decimal_format, generated=generated)(value)
        assert _exact(encoded) == _exact(expected)
        other = s.json_encoder(schema, decimal_format=decimal_format, generated=not generated)(value)
        assert repr(_exact(other)) == repr(_exact(encoded))  # the same bytes: the same field order too
        return
    with pytest.raises(s.SchemaError) as raised:
        s.json_encoder(schema, decimal_format=decimal_format, generated=generated)(value)
    assert str(raised.value) == error


def test_a_struct_wider_than_generated_code_is_encoded_by_the_loop() -> None:
    wide = s.struct({f"f{index}": s.decimal_of(1).optional() for index in range(s._GENERATED_FIELDS_MAX + 1)})
    value = {f"f{index}": D(index) for index in range(s._GENERATED_FIELDS_MAX + 1)}
    encoded = s.json_encoder(wide, decimal_format="NUMERIC")(value)
    assert [str(item) for item in encoded.values()] == [f"{index}.0" for index in range(s._GENERATED_FIELDS_MAX + 1)]


def test_the_compiled_avro_encoder_matches_to_avro_value() -> None:
    from headwater.codecs import avro

    schema = s.struct(
        {
            "id": s.INT32,
            "amount": s.decimal_of(2, precision=9).optional(),
            "rows": s.array_of(s.struct({"n": s.INT64, "d": s.decimal_of(1).optional()})).optional(),
            "ratio": s.FLOAT64.optional(),
            "when": s.DATE.optional(),
            "inner": s.struct({"n": s.INT64, "d": s.decimal_of(1).optional()}, name="x.Inner").optional(),
        }
    )
    encode = avro.avro_encoder(schema)
    parsed = fastavro.parse_schema(avro.to_avro_schema(schema))

    def written(datum: object) -> bytes:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, datum)
        return out.getvalue()

    for value in [
        {"id": 1, "amount": D("1.50"), "rows": [{"n": 1, "d": D("0.5")}], "ratio": 1.5, "when": None, "inner": None},
        {"id": 2, "amount": D("1.5"), "rows": [{"n": 1, "d": None}], "ratio": 2, "when": datetime.date(2020, 1, 1),
         "inner": {"n": 5, "d": D("1.0")}},
        {"id": 3},
    ]:  # fmt: skip
        assert written(encode(value)) == written(avro.to_avro_value(schema, value))
    with pytest.raises(s.SchemaError, match=r"rows\[0\]\.d: 0\.55 has more than 1 decimal places"):
        encode(
            {"id": 1, "amount": None, "rows": [{"n": 1, "d": D("0.55")}], "ratio": None, "when": None, "inner": None}
        )
    with pytest.raises(s.SchemaError, match="id: str"):
        encode({"id": "1", "amount": None, "rows": None, "ratio": None, "when": None, "inner": None})


def test_defaults_and_parameters_round_trip_through_avro_and_json_schema() -> None:
    """As Confluent's AvroData: a default travels as ``connect.default``, parameters as ``connect.parameters``."""
    import json

    from headwater.codecs import avro, json_schema
    from headwater.codecs.converters import loads_exact, to_json_bytes
    from headwater.codecs.envelope import source_schema

    schema = s.struct(
        {
            "source": source_schema("datagen", {"table": s.STRING}),
            "amount": s.decimal_of(2, precision=9).with_default(D("1.50")),
            "when": s.DATE.optional().with_default(datetime.date(2020, 1, 2)),
            "blob": s.BYTES.with_default(b"\x00\xff"),
            "count": s.INT16.optional().with_default(7),
            "row": ROW.optional(),
        },
        name="x.Event",
    )
    snapshot = t.cast(s.Field, schema.field("source")).schema.field("snapshot")
    assert snapshot is not None and snapshot.schema.default == "false"
    assert avro.to_connect_schema(json.loads(json.dumps(avro.to_avro_schema(schema)))) == schema
    assert json_schema.to_connect_schema(loads_exact(to_json_bytes(json_schema.to_json_schema(schema)))) == schema
