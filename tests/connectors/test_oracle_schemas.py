"""``oracle-logminer`` record schemas: Debezium's types from ALL_TAB_COLUMNS, on every record,
refreshed by DDL, and through the Avro converter with a real schema registry."""

from __future__ import annotations

import functools
import json
import struct
import typing as t
import urllib.request
import uuid
from decimal import Decimal

import pytest

from headwater.codecs import schema as s
from headwater.codecs.converters import make_converter
from headwater.codecs.oracle.convert import OracleColumn, convert_value
from headwater.codecs.oracle.schema import MICRO_DURATION, column_schema, connect_value
from headwater.conformance.emulators.oracle import LogMinerEmulator
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore


def _c(data_type: str, precision: int | None = None, scale: int | None = None, nullable: bool = True) -> OracleColumn:
    return OracleColumn("C", data_type, 22, precision, scale, nullable)


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (_c("NUMBER", 12, 2), s.decimal_of(2, 12)),
        (_c("NUMBER", 2, 0), s.INT8),
        (_c("NUMBER", 4, 0), s.INT16),
        (_c("NUMBER", 9, 0), s.INT32),
        (_c("NUMBER", 5, -2), s.INT32),
        (_c("NUMBER", 18, 0), s.INT64),
        (_c("NUMBER", 38, 0), s.decimal_of(0, 38)),
        (_c("INTEGER", None, 0), s.decimal_of(0, 38)),
        (_c("NUMBER"), s.debezium.VARIABLE_SCALE_DECIMAL),
        (_c("FLOAT", 126), s.debezium.VARIABLE_SCALE_DECIMAL),
        (_c("BINARY_FLOAT"), s.FLOAT32),
        (_c("BINARY_DOUBLE"), s.FLOAT64),
        (_c("DATE"), s.debezium.TIMESTAMP),
        (_c("TIMESTAMP(3)", scale=3), s.debezium.TIMESTAMP),
        (_c("TIMESTAMP(6)", scale=6), s.debezium.MICRO_TIMESTAMP),
        (_c("TIMESTAMP(9)", scale=9), s.debezium.NANO_TIMESTAMP),
        (_c("TIMESTAMP(3) WITH TIME ZONE", scale=3), s.debezium.ZONED_TIMESTAMP),
        (_c("TIMESTAMP(6) WITH LOCAL TIME ZONE", scale=6), s.debezium.ZONED_TIMESTAMP),
        (_c("INTERVAL DAY(2) TO SECOND(6)", 2, 6), MICRO_DURATION),
        (_c("VARCHAR2"), s.STRING),
        (_c("NVARCHAR2"), s.STRING),
        (_c("CHAR"), s.STRING),
        (_c("CLOB"), s.STRING),
        (_c("RAW"), s.BYTES),
        (_c("BLOB"), s.BYTES),
    ],
    ids=lambda v: v.data_type if isinstance(v, OracleColumn) else None,
)
def test_column_schemas_are_debeziums(column: OracleColumn, expected: s.Schema) -> None:
    assert column_schema(column) == expected.optional()
    assert column_schema(OracleColumn("C", column.data_type, 22, column.precision, column.scale, False)) == expected


def test_binary_handling_mode_makes_raw_text_and_number_without_scale_is_variable_scale() -> None:
    assert column_schema(_c("RAW"), "base64") == s.STRING.optional()
    value = connect_value(_c("NUMBER"), Decimal("-1234.50"))
    assert value == {"scale": 2, "value": (-123450).to_bytes(3, "big", signed=True)}
    assert connect_value(_c("NUMBER", 12, 2), Decimal("1.50")) == Decimal("1.50")


@pytest.mark.parametrize(
    ("column", "double", "string"),
    [
        (_c("NUMBER", 12, 2), 1234.5, "1234.50"),
        (_c("NUMBER"), -0.000125, "-0.000125"),
        (_c("FLOAT", 126), 1e-130, "1E-130"),
        (_c("NUMBER", 38, 0), 1.2345678901234568e29, "123456789012345678901234567890"),
        (_c("INTEGER", None, 0), 7.0, "7"),
    ],
    ids=lambda v: v.data_type if isinstance(v, OracleColumn) else None,
)
def test_decimal_handling_mode_double_and_string(column: OracleColumn, double: float, string: str) -> None:
    literal = {"1234.50": "1234.5", "1E-130": "1E-130"}.get(string, string)
    value = convert_value(column, literal)
    assert isinstance(value, Decimal)
    assert column_schema(column, decimal_handling_mode="double") == s.FLOAT64.optional()
    assert column_schema(column, decimal_handling_mode="string") == s.STRING.optional()
    assert connect_value(column, value, "double") == double
    assert connect_value(column, value, "string") == string
    precise = connect_value(column, value, "precise")
    assert column_schema(column).validate(precise) is None


def test_decimal_handling_mode_keeps_small_integers_and_other_types() -> None:
    # NUMBER(p, s<=0) below 19 digits is a Connect integer in every mode, as in Debezium.
    for mode in ("precise", "double", "string"):
        assert column_schema(_c("NUMBER", 9, 0), decimal_handling_mode=mode) == s.INT32.optional()  # type: ignore[arg-type]
        assert connect_value(_c("NUMBER", 9, 0), 42, mode) == 42  # type: ignore[arg-type]
        assert column_schema(_c("BINARY_DOUBLE"), decimal_handling_mode=mode) == s.FLOAT64.optional()  # type: ignore[arg-type]
        assert column_schema(_c("VARCHAR2"), decimal_handling_mode=mode) == s.STRING.optional()  # type: ignore[arg-type]


@functools.cache
def _precise_records() -> list[SourceRecord]:
    return _records("default", 5, "dec")


@pytest.mark.parametrize("mode", ["double", "string"])
def test_decimal_handling_mode_through_the_task_and_json_converter(mode: str) -> None:
    records = _records("default", 5, "dec", **{"decimal.handling.mode": mode})
    precise = _precise_records()
    assert len(records) == len(precise) > 100
    kind = float if mode == "double" else str
    converter = make_converter("json", {"schemas.enable": "true"}, key="value.converter")
    seen = 0
    for record, reference in zip(records, precise, strict=True):
        _fits(record)
        if record.topic != "dec.SHOP.CUSTOMERS" or record.value is None or record.value["after"] is None:
            continue
        after, expected = record.value["after"], reference.value["after"]
        fields = record.value_schema.field("after").schema
        assert fields.field("BALANCE").schema == s.FLOAT64.optional() if mode == "double" else s.STRING.optional()
        for name in ("BALANCE", "SCORE"):
            if after[name] is None:
                continue
            seen += 1
            assert isinstance(after[name], kind)
            exact = expected[name]
            if isinstance(exact, dict):  # VariableScaleDecimal struct in precise mode
                exact = Decimal(int.from_bytes(exact["value"], "big", signed=True)).scaleb(-exact["scale"])
            assert after[name] == (float(exact) if mode == "double" else str(exact))
        wire = json.loads(converter.from_connect_data(record.topic, record.value_schema, record.value))
        assert wire["payload"]["after"]["BALANCE"] == after["BALANCE"]
    assert seen > 20


def _records(scenario: str, seed: int, prefix: str, **extra: str) -> list[SourceRecord]:
    keys = {"emulator.scenario": scenario, "emulator.seed": str(seed), "topic.prefix": prefix}
    config = OracleLogMinerConfig.model_validate({"table.exclude.list": r"SHOP\.GEO", **keys, **extra})
    emulator = LogMinerEmulator(scenario, seed)
    context = SourceTaskContext("schemas", 0, ConnectorOffsets(MemoryOffsetStore(), "schemas"))
    task = OracleLogMinerTask(config, context, client=emulator)
    out: list[SourceRecord] = []
    idle = 0
    try:
        while idle < 2:
            out.extend(item for item in task.poll() if isinstance(item, SourceRecord))
            caught_up = context.next_poll_delay_ms > 0
            context.next_poll_delay_ms = 0
            idle = idle + 1 if emulator.finished and caught_up else 0
    finally:
        task.stop()
    return out


def _fits(record: SourceRecord) -> None:
    assert record.value_schema is not None or record.value is None, f"no value schema on {record.topic}"
    if record.value is not None:
        assert record.value_schema is not None
        record.value_schema.validate(record.value)
    if record.key is not None:
        assert record.key_schema is not None, f"no key schema on {record.topic}"
        record.key_schema.validate(record.key)


@pytest.mark.parametrize(
    ("scenario", "extra"),
    [
        ("default", {"provide.transaction.metadata": "true", "heartbeat.interval.ms": "1"}),
        ("lobs", {"lob.enabled": "true"}),
        ("lobs", {"binary.handling.mode": "hex"}),
    ],
)
def test_every_record_fits_its_schema(scenario: str, extra: dict[str, str]) -> None:
    records = _records(scenario, 5, "srv", **extra)
    assert len(records) > 100
    for record in records:
        _fits(record)
    customers = [r for r in records if r.topic == "srv.SHOP.CUSTOMERS" and r.value is not None]
    assert customers
    schema = customers[0].value_schema
    assert schema is not None and schema.name == "srv.SHOP.CUSTOMERS.Envelope"
    after = schema.field("after").schema
    assert after.name == "srv.SHOP.CUSTOMERS.Value"
    assert after.field("SCORE").schema.name == "io.debezium.data.VariableScaleDecimal"
    assert after.field("BALANCE").schema.parameters == {"scale": "2", "connect.decimal.precision": "12"}
    assert customers[0].key_schema is not None and customers[0].key_schema.name == "srv.SHOP.CUSTOMERS.Key"
    assert customers[0].key_schema.field("ID").schema == s.INT64
    lines = next(r for r in records if r.topic == "srv.SHOP.ORDER_LINES" and r.value_schema is not None)
    assert lines.value_schema is not None and lines.value_schema.name == "srv.SHOP.ORDER_LINES.Envelope"
    source = schema.field("source").schema
    assert source.field("scn").schema == s.STRING.optional()


def test_ddl_refreshes_the_schema() -> None:
    records = [r for r in _records("default", 5, "srv") if r.topic == "srv.SHOP.CUSTOMERS" and r.value is not None]
    names = [tuple(r.value_schema.field("after").schema.field_names) for r in records if r.value_schema]
    versions = [name for index, name in enumerate(names) if index == 0 or names[index - 1] != name]
    assert len(versions) == 3, "the DDL adds a column, then drops it"
    added = set(versions[1]) - set(versions[0])
    assert len(added) == 1 and versions[2] == versions[0]
    for record in records:
        row = record.value["after"] or record.value["before"]
        assert set(row) == set(record.value_schema.field("after").schema.field_names)


def _float32(value: dict[str, t.Any], schema: s.Schema | None) -> dict[str, t.Any]:
    """``value`` with BINARY_FLOAT (FLOAT32) columns narrowed to 32 bits, as Avro's float holds them."""
    assert schema is not None
    row = schema.field("after")
    assert row is not None
    narrow = {f.name for f in row.schema.fields if f.schema.type is s.Type.FLOAT32}
    out = dict(value)
    for part in ("before", "after"):
        if out[part] is not None:
            out[part] = {
                k: struct.unpack("f", struct.pack("f", v))[0] if k in narrow and v is not None else v
                for k, v in out[part].items()
            }
    return out


def _versions(url: str, subject: str) -> list[int]:
    with urllib.request.urlopen(f"{url}/subjects/{subject}/versions", timeout=10) as response:
        return t.cast(list[int], json.loads(response.read()))


def test_avro_round_trip_with_the_registry_and_a_new_version_after_ddl(schema_registry_url: str) -> None:
    prefix = f"ora{uuid.uuid4().hex[:8]}"
    records = _records("default", 5, prefix)
    values = make_converter("avro", {"schema.registry.url": schema_registry_url}, key="value.converter")
    keys = make_converter("avro", {"schema.registry.url": schema_registry_url}, key="key.converter")
    for record in records:
        data = values.from_connect_data(record.topic, record.value_schema, record.value)
        if record.value is None:
            assert data is None
        else:
            assert data is not None and data[0] == 0
            back = values.to_connect_data(record.topic, data)
            assert back.value == _float32(record.value, record.value_schema), f"{record.topic}: changed through Avro"
        if record.key is not None:
            key_data = keys.from_connect_data(record.topic, record.key_schema, record.key)
            assert keys.to_connect_data(record.topic, key_data).value == record.key
    # CUSTOMERS: the first schema, the one with the added column, and the first again
    # (the registry finds it as version 1, so no third version).
    assert _versions(schema_registry_url, f"{prefix}.SHOP.CUSTOMERS-value") == [1, 2]
    assert _versions(schema_registry_url, f"{prefix}.SHOP.ORDER_LINES-value") == [1]
