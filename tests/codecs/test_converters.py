"""Converters: Kafka Connect's JSON shapes, exact decimals, clear errors."""

from __future__ import annotations

import base64
import json
import typing as t
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headwater.codecs import schema as s
from headwater.codecs.converters import JsonConverter, make_converter, to_json_line, to_json_lines
from headwater.connectors.errors import ConfigError, RecordError

ROW = {"id": 7, "name": "Ada", "balance": Decimal("59.80"), "active": True, "blob": b"\x00\x01", "tags": ["a"]}


def test_schema_and_payload_envelope() -> None:
    data = JsonConverter().to_bytes("t", ROW)
    assert data is not None
    document = json.loads(data)
    assert set(document) == {"schema", "payload"}
    fields = {f["field"]: f for f in document["schema"]["fields"]}
    assert document["schema"]["type"] == "struct"
    assert fields["id"]["type"] == "int64"
    assert fields["balance"]["name"] == "org.apache.kafka.connect.data.Decimal"
    assert fields["balance"]["parameters"] == {"scale": "2"}
    assert fields["blob"]["type"] == "bytes"
    assert fields["tags"] == {
        "type": "array",
        "items": {"type": "string", "optional": True},
        "optional": True,
        "field": "tags",
    }
    # NUMERIC decimal format writes the number with its full scale.
    assert b'"balance":59.80' in data


def test_round_trip_keeps_decimals_and_bytes_exact() -> None:
    converter = JsonConverter()
    assert converter.from_bytes("t", converter.to_bytes("t", ROW)) == ROW
    base64_converter = JsonConverter(decimal_format="BASE64")
    data = base64_converter.to_bytes("t", {"v": Decimal("-1.05")})
    assert data is not None
    payload = json.loads(data)["payload"]["v"]
    assert int.from_bytes(base64.b64decode(payload), "big", signed=True) == -105
    assert base64_converter.from_bytes("t", data) == {"v": Decimal("-1.05")}


def test_envelope_before_gets_the_row_schema() -> None:
    value = {"before": None, "after": {"id": 1, "amount": Decimal("1.50")}, "op": "c"}
    document = json.loads(JsonConverter().to_bytes("t", value) or b"")
    fields = {f["field"]: f for f in document["schema"]["fields"]}
    assert fields["before"]["type"] == "struct"
    assert [f["field"] for f in fields["before"]["fields"]] == ["id", "amount"]


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**20), max_value=10**20))
def test_decimals_survive_any_value(value: Decimal) -> None:
    converter = JsonConverter()
    assert converter.from_bytes("t", converter.to_bytes("t", {"v": value})) == {"v": value}


def test_schemaless_json_and_tombstones() -> None:
    converter = JsonConverter(schemas_enable=False)
    assert converter.to_bytes("t", {"a": 1}) == b'{"a":1}'
    assert converter.to_bytes("t", None) is None
    assert converter.from_bytes("t", None) is None


def test_bad_bytes_are_record_errors_that_name_the_topic() -> None:
    with pytest.raises(RecordError, match="orders"):
        JsonConverter().from_bytes("orders", b"{oops")
    with pytest.raises(RecordError, match=r"schemas\.enable=false"):
        JsonConverter().from_bytes("orders", b'{"a": 1}')
    with pytest.raises(RecordError, match="not UTF-8"):
        make_converter("string", {}, key="value.converter").from_bytes("orders", b"\xff\xfe")


def test_unknown_converter_and_options_are_config_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        make_converter("protobuf-nope", {}, key="value.converter")
    assert caught.value.errors[0].key == "value.converter"
    with pytest.raises(ConfigError) as caught:
        make_converter("io.confluent.connect.avro.AvroConverter", {}, key="value.converter")
    assert caught.value.errors[0].key == "value.converter.schema.registry.url"
    with pytest.raises(ConfigError) as caught:
        make_converter("json", {"schemas.enable": "maybe", "colour": "x"}, key="key.converter")
    assert {e.key for e in caught.value.errors} == {"key.converter.colour"}
    with pytest.raises(ConfigError) as caught:
        make_converter("org.apache.kafka.connect.json.JsonConverter", {"schemas.enable": "maybe"}, key="key.converter")
    assert caught.value.errors[0].key == "key.converter.schemas.enable"
    assert isinstance(make_converter("org.apache.kafka.connect.json.JsonConverter", {}, key="k"), JsonConverter)


def test_a_40_digit_decimal_is_read_exactly_and_bad_base64_is_a_record_error() -> None:
    """Issue 13 item 12b / issue 15: Connect-written JSON with a 40-digit plain-number decimal is read
    exactly (no InvalidOperation, no rounding); a payload that cannot be read is one bad record."""
    schema = {
        "type": "struct",
        "fields": [
            {"field": "AMOUNT", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
             "parameters": {"scale": "2"}, "optional": True},
        ],
        "optional": True,
    }  # fmt: skip
    data = json.dumps({"schema": schema, "payload": {"AMOUNT": 1234567890123456789012345678901234567890.12}})
    data = data.replace("1.2345678901234568e+39", "1234567890123456789012345678901234567890.12")
    value = JsonConverter().from_bytes("t1", data.encode())
    assert str(value["AMOUNT"]) == "1234567890123456789012345678901234567890.12"
    bad_base64 = json.dumps({"schema": schema, "payload": {"AMOUNT": "not base64!"}}).encode()
    with pytest.raises(RecordError, match=r"topic t1"):
        JsonConverter().from_bytes("t1", bad_base64)


def _schema_of(data: bytes | None) -> t.Any:
    assert data is not None
    return json.loads(data)["schema"]


def test_a_null_never_changes_the_inferred_schema() -> None:
    converter = JsonConverter()
    first = converter.to_bytes("mf", {"id": 1, "alt": 7, "items": [{"n": 1}], "amount": Decimal("3.00")})
    later = [
        converter.to_bytes("mf", {"id": 2, "alt": None, "items": [], "amount": None}),
        converter.to_bytes("mf", {"id": 3, "alt": 9, "items": [{"n": 2}], "amount": Decimal("1.50")}),
    ]
    assert all(_schema_of(data) == _schema_of(first) for data in later)
    # The null REDEFINES alternative and the empty OCCURS keep their types in the payload.
    assert json.loads(later[0] or b"")["payload"] == {"id": 2, "alt": None, "items": [], "amount": None}


def test_array_items_come_from_every_element() -> None:
    data = JsonConverter().to_bytes("h", {"employees": [{"name": "A"}, {"name": "B", "dept": {"id": 4}}]})
    items = _schema_of(data)["fields"][0]["items"]
    assert [field["field"] for field in items["fields"]] == ["name", "dept"]


def test_given_schema_drives_the_payload_and_floats_stay_floats() -> None:
    schema = s.struct({"amount": s.decimal_of(2, precision=38), "ratio": s.FLOAT64, "when": s.DATE.optional()})
    value = {"amount": Decimal("123456789012345678901234567890123456.5"), "ratio": 0.1, "when": None}
    for decimal_format in ("NUMERIC", "BASE64"):
        converter = JsonConverter(decimal_format=decimal_format)
        data = converter.from_connect_data("t", schema, value)
        back = converter.to_connect_data("t", data)
        assert back.schema == schema
        assert str(back.value["amount"]) == "123456789012345678901234567890123456.50"
        assert back.value["ratio"] == 0.1 and isinstance(back.value["ratio"], float)
    with pytest.raises(RecordError, match=r"amount: 1\.005 has more than 2 decimal places"):
        JsonConverter().from_connect_data("t", schema, {**value, "amount": Decimal("1.005")})
    with pytest.raises(RecordError, match=r"fields \['extra'\] are not in the schema"):
        JsonConverter().from_connect_data("t", schema, {**value, "extra": 1})


def test_decimals_beyond_28_digits_survive_schemaless_too() -> None:
    converter = JsonConverter()
    value = {"v": Decimal("12345678901234567890123456789.01")}
    assert str(converter.from_bytes("t", converter.to_bytes("t", value))["v"]) == "12345678901234567890123456789.01"
    base64_converter = JsonConverter(decimal_format="BASE64")
    big = {"v": Decimal("123456789012345678901234567890")}
    assert base64_converter.from_bytes("t", base64_converter.to_bytes("t", big)) == big
    assert str(base64_converter.from_bytes("t", base64_converter.to_bytes("t", big))["v"]) == str(big["v"])


def test_string_converter_encoding_and_unknown_settings() -> None:
    latin = make_converter("string", {"converter.encoding": "latin-1"}, key="value.converter")
    assert latin.from_connect_data("t", None, "café") == "café".encode("latin-1")
    assert latin.to_connect_data("t", b"caf\xe9").value == "café"
    with pytest.raises(ConfigError) as caught:
        make_converter("string", {"converter.encoding": "klingon"}, key="value.converter")
    assert caught.value.errors[0].key == "value.converter.converter.encoding"
    with pytest.raises(ConfigError) as caught:
        make_converter("avro", {"schema.registry.url": "http://x", "connect.meta.data": "false"}, key="key.converter")
    assert caught.value.errors[0].key == "key.converter.connect.meta.data"


# -- batch conversion (the sink runtime's path) ------------------------------------------

_BATCH_ITEMS = st.one_of(
    st.none(),
    st.binary(max_size=12),
    st.sampled_from([b"null", b"{}", b"[1, 2.5]", b'"caf\xc3\xa9"', b"123456789012345678901234567890", b"\xff"]),
    st.builds(
        lambda doc: json.dumps(doc).encode(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
            max_leaves=8,
        ),
    ),
)


@pytest.mark.parametrize(
    "converter",
    ["json", "json-envelope", "string", "string-latin-1", "bytes"],
)
@given(data=st.lists(_BATCH_ITEMS, max_size=12))
def test_batch_conversion_gives_what_each_record_gives(converter: str, data: list[bytes | None]) -> None:
    """The sink runtime converts a batch in one call; it must be record for record what
    ``to_connect_data`` gives, and raise RecordError exactly when some record cannot be read."""
    built = {
        "json": lambda: make_converter("json", {"schemas.enable": "false"}, key="value.converter"),
        "json-envelope": lambda: make_converter("json", {}, key="value.converter"),
        "string": lambda: make_converter("string", {}, key="key.converter"),
        "string-latin-1": lambda: make_converter("string", {"encoding": "latin-1"}, key="key.converter"),
        "bytes": lambda: make_converter("bytes", {}, key="value.converter"),
    }[converter]()
    expected: list[tuple[t.Any, t.Any]] | None = []
    for item in data:
        try:
            read = built.to_connect_data("t", item)
        except RecordError:
            expected = None
            break
        assert expected is not None
        expected.append((read.schema, read.value))
    if expected is None:
        with pytest.raises(RecordError):
            built.to_connect_batch("t", data)
        return
    schemas, values = built.to_connect_batch("t", data)
    assert list(zip(schemas, values, strict=True)) == expected
    # Same types too (1 == 1.0 == True in Python).
    assert [type(value) for value in values] == [type(value) for _schema, value in expected]


@pytest.mark.parametrize("text", ["12345678901234567890123", "-9223372036854775809", "18446744073709551616"])
def test_integers_beyond_64_bits_stay_exact_through_plain_json(text: str) -> None:
    """orjson reads such integers as floats without a word; the converter must not."""
    converter = make_converter("json", {"schemas.enable": "false"}, key="value.converter")
    data = f'{{"id": {text}, "small": 7, "x": 0.5, "s": "caf\\u00e9"}}'.encode()
    expected = {"id": int(text), "small": 7, "x": 0.5, "s": "café"}
    assert converter.to_connect_data("t", data).value == expected
    assert type(converter.to_connect_data("t", data).value["id"]) is int
    _schemas, values = converter.to_connect_batch("t", [b"{}", data, None])
    assert values == [{}, expected, None]
    assert (
        to_json_line(expected)
        == data.replace(b"\\u00e9", "é".encode()).replace(b": ", b":").replace(b", ", b",") + b"\n"
    )
    assert converter.to_bytes("t", expected) == to_json_line(expected)[:-1]


_JSONABLE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # newlines, quotes, control characters, ",\n," itself
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@given(values=st.lists(_JSONABLE, max_size=10))
def test_a_batch_of_json_lines_is_the_lines_one_by_one(values: list[t.Any]) -> None:
    """The file sink writes a batch with one orjson call; it must be byte for byte the
    lines it would write one at a time, whatever the strings hold."""
    assert to_json_lines(values) == b"".join(to_json_line(value) for value in values)


def test_a_batch_of_json_lines_refuses_what_one_line_writes_another_way() -> None:
    with pytest.raises(TypeError):
        to_json_lines([{"id": 1}, {"id": 2**70}])
    assert to_json_line({"id": 2**70}) == b'{"id":1180591620717411303424}\n'


def test_a_batch_too_large_to_join_is_still_searched_for_long_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.codecs import converters

    monkeypatch.setattr(converters, "_JOIN_MAX", 10)  # every batch here is "large"
    converter = make_converter("json", {"schemas.enable": "false"}, key="value.converter")
    _schemas, values = converter.to_connect_batch("t", [b'{"a": 1}', None, b'{"big": 123456789012345678901234}'])
    assert values == [{"a": 1}, None, {"big": 123456789012345678901234}]


def test_a_schema_in_steady_use_gets_its_generated_encoder_and_writes_the_same_bytes() -> None:
    """The JSON converter encodes a schema's first records with loops, then generates its
    encoder (and the compiled writer, when built); the bytes never change across the switch,
    and a stream of ever-new shapes (each schema seen once) never pays for generating."""
    from headwater.codecs import converters

    row = s.struct({"id": s.INT64, "amount": s.decimal_of(2).optional(), "raw": s.BYTES.optional()}, name="t.Value")
    value = {"raw": b"\x00\xff", "id": 7, "amount": Decimal("1.5")}
    converter = JsonConverter({"decimal.format": "NUMERIC"})
    written = {converter.from_connect_data("t", row, value) for _ in range(converters._GENERATE_AFTER * 2)}
    assert written == {
        b'{"schema":' + converter._envelope_schema(row) + b',"payload":{"id":7,"amount":1.50,"raw":"AP8="}}'
    }
    assert row in converter._writers and row not in converter._warming
    for index in range(50):
        shape = s.struct({f"f{index}": s.INT32})
        assert converter.from_connect_data("t", shape, {f"f{index}": index}).endswith(b"}}")
        assert shape not in converter._writers


_BATCH_VALUE = s.struct(
    {"id": s.INT64, "name": s.STRING.optional(), "price": s.decimal_of(2), "tags": s.array_of(s.STRING)},
    name="shop.Item",
)


@pytest.mark.parametrize("warm", [False, True])
@pytest.mark.parametrize("schemas_enable", ["false", "true"])
@pytest.mark.parametrize("converter_name", ["json", "string"])
@given(
    values=st.lists(
        st.none()
        | st.builds(
            lambda i, name, cents, tags: {"id": i, "name": name, "price": Decimal(cents).scaleb(-2), "tags": tags},
            st.integers(-(2**63), 2**63 - 1),
            st.none() | st.text(max_size=8),
            st.integers(-(10**9), 10**9),
            st.lists(st.text(max_size=4), max_size=3),
        ),
        max_size=120,
    )
)
def test_from_connect_batch_gives_each_values_bytes(
    warm: bool, schemas_enable: str, converter_name: str, values: list[dict[str, t.Any] | None]
) -> None:
    """A run of values (the source runtime's batch) gives, in order, the bytes each gives
    alone: before and after the JSON converter has built its compiled writer for the schema
    (64 values), tombstones (None) included, with and without the schema envelope."""
    config = {"schemas.enable": schemas_enable} if converter_name == "json" else {}
    batch, single = (
        make_converter(converter_name, config, key="value.converter"),
        make_converter(converter_name, config, key="value.converter"),
    )
    if warm:  # past the JSON converter's warm-up: the compiled writer writes the run
        seen = [{"id": i, "name": None, "price": Decimal(i).scaleb(-2), "tags": ["a"]} for i in range(70)]
        assert batch.from_connect_batch("t", _BATCH_VALUE, seen) == [
            single.from_connect_data("t", _BATCH_VALUE, value) for value in seen
        ]
    expected = [single.from_connect_data("t", _BATCH_VALUE, value) for value in values]
    assert batch.from_connect_batch("t", _BATCH_VALUE, values) == expected


def test_from_connect_batch_refuses_a_run_with_a_bad_value() -> None:
    """A value that does not fit the schema makes the whole run a RecordError naming the
    topic (the runtime then converts the run value by value, naming the bad record)."""
    converter = make_converter("json", {"schemas.enable": "false"}, key="value.converter")
    good = {"id": 1, "name": "a", "price": Decimal("1.00"), "tags": []}
    converter.from_connect_batch("shop", _BATCH_VALUE, [good] * 100)  # the compiled writer is built
    with pytest.raises(RecordError, match="cannot convert the value to JSON for topic shop"):
        converter.from_connect_batch("shop", _BATCH_VALUE, [good, {**good, "id": "one"}, good])
    with pytest.raises(RecordError, match="for topic shop"):
        converter.from_connect_batch("shop", None, [good, {"x": object()}])
