"""Converters: Kafka Connect's JSON shapes, exact decimals, clear errors."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headwater.codecs.converters import JsonConverter, make_converter
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
