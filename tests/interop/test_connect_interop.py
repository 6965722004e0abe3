"""Interop: the JVM's own converters read what Headwater writes, field for field.

Kafka Connect's ``JsonConverter`` (``org.apache.kafka:connect-json``) reads our JSON in both
decimal formats, and Apicurio's ``AvroConverter`` (a Kafka Connect converter running in the
JVM, from ``apicurio-registry-utils-converter``) reads our Avro through the same registry.
Each read is printed back by Kafka Connect's JsonConverter, so schema and values are
compared in Connect's own terms.
"""

from __future__ import annotations

import datetime
import typing as t
import uuid
from decimal import Decimal

import pytest

from headwater.codecs import converters
from headwater.codecs import schema as s
from headwater.codecs.converters import JsonConverter, make_converter
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.datagen.task import DatagenTask
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore

ROW = s.struct(
    {
        "id": s.INT64,
        "tiny": s.INT8.optional(),
        "small": s.INT16.optional(),
        "name": s.STRING.optional(),
        "balance": s.decimal_of(2, precision=9).optional(),
        "huge": s.decimal_of(2, precision=38).optional(),
        "whole": s.decimal_of(0, precision=30).optional(),
        "ratio": s.FLOAT64.optional(),
        "single": s.FLOAT32.optional(),
        "active": s.BOOLEAN.optional(),
        "blob": s.BYTES.optional(),
        "opened": s.DATE.optional(),
        "at": s.TIME.optional(),
        "seen": s.TIMESTAMP.optional(),
        "phones": s.array_of(s.STRING.optional()).optional(),
        "history": s.array_of(s.struct({"amount": s.decimal_of(2, precision=7).optional()}, optional=True)).optional(),
        "labels": s.map_of(s.STRING, s.INT32).optional(),
        "ts_us": s.debezium.MICRO_TIMESTAMP.optional(),
    },
    name="bank.accounts.Value",
    version=2,
    doc="one account",
)
FULL = {
    "id": 9_007_199_254_740_993,
    "tiny": -8,
    "small": 300,
    "name": "Ada Lovelace",
    "balance": Decimal("-1234567.89"),
    "huge": Decimal("123456789012345678901234567890123456.78"),
    "whole": Decimal("123456789012345678901234567890"),
    "ratio": 0.1,
    "single": 0.5,
    "active": True,
    "blob": b"\x00\xff\x10",
    "opened": datetime.date(2024, 2, 29),
    "at": datetime.time(23, 59, 58, 999000),
    "seen": datetime.datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=datetime.UTC),
    "phones": ["555-0100", None],
    "history": [{"amount": Decimal("1.00")}, {"amount": None}, {"amount": Decimal("-0.05")}],
    "labels": {"tier": 2},
    "ts_us": 1_709_294_400_123_456,
}
SPARSE = {"id": 1, **{name: None for name in ROW.field_names if name != "id"}, "history": [], "phones": []}


def _same(ours: t.Any, theirs: t.Any, path: str = "") -> None:
    """Equal, with decimals compared exactly by value (Connect may print 1.2E+29 for 120000...)."""
    if isinstance(ours, dict):
        assert isinstance(theirs, dict) and set(ours) == set(theirs), f"{path}: {sorted(ours)} != {theirs}"
        for key in ours:
            _same(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(ours, list):
        assert isinstance(theirs, list) and len(ours) == len(theirs), f"{path}: {ours} != {theirs}"
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            _same(mine, other, f"{path}[{index}]")
    elif isinstance(ours, (Decimal, float)) and not isinstance(ours, bool):
        assert isinstance(theirs, (Decimal, int, float)), f"{path}: {theirs!r}"
        assert Decimal(theirs) == Decimal(ours) if isinstance(ours, Decimal) else float(theirs) == ours, (
            f"{path}: ours {ours!r}, theirs {theirs!r}"
        )
    else:
        assert ours == theirs, f"{path}: ours {ours!r}, theirs {theirs!r}"


@pytest.mark.parametrize("decimal_format", ["NUMERIC", "BASE64"])
@pytest.mark.parametrize("value", [FULL, SPARSE], ids=["full", "sparse"])
def test_connect_json_converter_reads_our_json(connect_jvm: t.Any, decimal_format: str, value: dict) -> None:
    data = JsonConverter(decimal_format=decimal_format).from_connect_data("accounts", ROW, value)
    assert data is not None
    read = connect_jvm.read(f"json-{decimal_format.lower()}", "accounts", data)
    _same(s.to_connect_json(ROW, decimal_format="NUMERIC"), read["schema"])
    _same(s.value_to_json(ROW, value, decimal_format="NUMERIC"), read["payload"])


@pytest.mark.parametrize("decimal_format", ["NUMERIC", "BASE64"])
def test_connect_json_converter_reads_what_the_compiled_writer_writes(connect_jvm: t.Any, decimal_format: str) -> None:
    """A schema in steady use is written by generated encoders and, when built, the compiled
    writer (``codecs/_cjson.c``): Kafka Connect reads those bytes as it reads the first ones."""
    converter = JsonConverter(decimal_format=decimal_format)
    for value in (FULL, SPARSE):
        first = converter.from_connect_data("accounts", ROW, value)
        for _ in range(converters._GENERATE_AFTER):
            steady = converter.from_connect_data("accounts", ROW, value)
        assert ROW in converter._writers
        assert steady == first
        assert steady is not None
        read = connect_jvm.read(f"json-{decimal_format.lower()}", "accounts", steady)
        _same(s.to_connect_json(ROW, decimal_format="NUMERIC"), read["schema"])
        _same(s.value_to_json(ROW, value, decimal_format="NUMERIC"), read["payload"])


PLAIN = [
    b'{"id": 7, "name": "caf\\u00e9", "ratio": 0.25, "tags": ["a", null],'
    b' "inner": {"ok": true, "n": -9223372036854775808}}',
    b'[1, 2.5, "x", {"deep": [[]]}]',
    b'"text"',
    b"9223372036854775807",
    b"null",
    b'{"when": "2024-02-29", "exp": 1.5e300}',
]


def test_plain_json_is_read_in_batches_as_connect_reads_it(connect_jvm: t.Any) -> None:
    """The sink runtime reads a batch at once (``to_connect_batch``); what it reads must be
    what Kafka Connect's JsonConverter with ``schemas.enable=false`` reads, value for value."""
    converter = make_converter("json", {"schemas.enable": "false"}, key="value.converter")
    # One document a batch too: a 19-digit number sends its whole batch down the exact path.
    for batch in [PLAIN, *([data] for data in PLAIN)]:
        _schemas, values = converter.to_connect_batch("plain", batch)
        for data, ours in zip(batch, values, strict=True):
            _same(ours, connect_jvm.read("json-plain", "plain", data)["payload"])


def test_integers_beyond_64_bits_stay_exact_where_connect_loses_them(connect_jvm: t.Any) -> None:
    """A deliberate difference: Connect's schemaless JsonConverter reads an integer beyond
    64 bits as an INT64 and loses it (it wraps); Headwater keeps every digit."""
    data = b'{"id": 12345678901234567890123}'
    converter = make_converter("json", {"schemas.enable": "false"}, key="value.converter")
    _schemas, values = converter.to_connect_batch("plain", [data])
    assert values == [{"id": 12345678901234567890123}]
    assert connect_jvm.read("json-plain", "plain", data)["payload"]["id"] != 12345678901234567890123


def _datagen() -> list[SourceRecord]:
    config = DatagenConfig.model_validate({"count": "300", "keys": "20", "topic.prefix": "interop"})
    task = DatagenTask(config, SourceTaskContext("d", 0, ConnectorOffsets(MemoryOffsetStore(), "d")))
    return [record for _ in range(10) for record in task.poll() if record.value is not None]


def test_connect_json_converter_reads_datagen_events_and_inferred_schemas(connect_jvm: t.Any) -> None:
    converter = JsonConverter(decimal_format="BASE64")
    for record in _datagen()[:60]:
        read = connect_jvm.read("json-base64", record.topic, converter.to_bytes(record.topic, record.value) or b"")
        _same(s.value_to_json(s.infer(record.value) or s.STRING, record.value, decimal_format="NUMERIC"),
              read["payload"])  # fmt: skip
        typed = converter.from_connect_data(record.topic, record.value_schema, record.value) or b""
        read = connect_jvm.read("json-base64", record.topic, typed)
        assert record.value_schema is not None
        _same(s.to_connect_json(record.value_schema, decimal_format="NUMERIC"), read["schema"])


@pytest.mark.parametrize("value", [FULL, SPARSE], ids=["full", "sparse"])
def test_a_jvm_avro_converter_reads_our_avro(connect_jvm: t.Any, schema_registry_url: str, value: dict) -> None:
    topic = f"interop-{uuid.uuid4().hex[:8]}"
    converter = make_converter("avro", {"schema.registry.url": schema_registry_url}, key="value.converter")
    data = converter.from_connect_data(topic, ROW, value)
    assert data is not None
    read = connect_jvm.read("avro", topic, data)
    _same(s.value_to_json(ROW, value, decimal_format="NUMERIC"), read["payload"])
    _same(s.to_connect_json(ROW, decimal_format="NUMERIC"), read["schema"])


def test_a_jvm_avro_converter_reads_datagen_events(connect_jvm: t.Any, schema_registry_url: str) -> None:
    converter = make_converter("avro", {"schema.registry.url": schema_registry_url}, key="value.converter")
    topic = f"interop-dg-{uuid.uuid4().hex[:8]}"
    for record in _datagen()[:40]:
        assert record.value_schema is not None
        read = connect_jvm.read(
            "avro", topic, converter.from_connect_data(topic, record.value_schema, record.value) or b""
        )
        _same(s.value_to_json(record.value_schema, record.value, decimal_format="NUMERIC"), read["payload"])
        _same(s.to_connect_json(record.value_schema, decimal_format="NUMERIC"), read["schema"])
