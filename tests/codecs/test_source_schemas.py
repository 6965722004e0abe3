"""Sources derive their schemas from metadata: every record fits them, one schema per topic."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from headwater.codecs import schema as s
from headwater.codecs.converters import JsonConverter
from headwater.codecs.copybook import DecodeOptions, compile_plan, parse_copybook
from headwater.codecs.copybook.schema import record_schema
from headwater.conformance.emulators.mainframe import SCENARIOS, connector_config, generate
from headwater.conformance.standard import drain
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.datagen.task import DatagenTask
from headwater.connectors.mainframe import MainframeCopybookTask
from headwater.connectors.mainframe.config import MainframeCopybookConfig
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore

COPYBOOK = """\
       01  CUSTOMER.
           05  CUST-ID          PIC 9(6).
           05  NAME             PIC X(20).
           05  BALANCE          PIC S9(7)V99 COMP-3.
           05  BIG-AMOUNT       PIC S9(25)V9(10) COMP-3.
           05  COUNTER          PIC S9(11) COMP-3.
           05  SMALL            PIC S9(4) COMP.
           05  NATIVE           PIC S9(4) COMP-5.
           05  RATE             COMP-2.
           05  HUNDREDS         PIC 9(3)PP.
           05  ADDRESS.
              10  STREET        PIC X(20).
              10  CITY          PIC X(10).
           05  PHONES OCCURS 3 TIMES PIC X(12).
           05  ALT-A            PIC X(8).
           05  ALT-B REDEFINES ALT-A PIC 9(8).
           05  FILLER           PIC X(4).
"""


def _context(name: str) -> SourceTaskContext:
    return SourceTaskContext(name, 0, ConnectorOffsets(MemoryOffsetStore(), name))


def test_copybook_layout_maps_to_connect_types() -> None:
    plan = compile_plan(parse_copybook(COPYBOOK), DecodeOptions())
    schema = record_schema(plan, name="cust.Value")
    fields = {item.name: item.schema for item in schema.fields}
    assert list(fields) == [
        "CUST_ID", "NAME", "BALANCE", "BIG_AMOUNT", "COUNTER", "SMALL", "NATIVE", "RATE", "HUNDREDS",
        "ADDRESS", "PHONES", "ALT_A", "ALT_B",
    ]  # fmt: skip
    assert fields["CUST_ID"] == s.INT32.optional()
    assert fields["NAME"] == s.STRING.optional()
    assert fields["BALANCE"] == s.decimal_of(2, precision=9).optional()
    assert fields["BIG_AMOUNT"] == s.decimal_of(10, precision=35).optional()
    assert fields["COUNTER"] == s.INT64.optional()
    assert fields["SMALL"] == s.INT32.optional()
    assert fields["NATIVE"] == s.INT32.optional()
    assert fields["RATE"] == s.FLOAT64.optional()
    assert fields["HUNDREDS"] == s.INT32.optional()
    assert fields["ADDRESS"] == s.struct({"STREET": s.STRING.optional(), "CITY": s.STRING.optional()}, optional=True)
    assert fields["PHONES"] == s.array_of(s.STRING.optional()).optional()
    # Both REDEFINES alternatives, each optional: the one not selected is null.
    assert fields["ALT_B"] == s.INT32.optional()
    assert schema.name == "cust.Value" and not schema.is_optional


def _mainframe_records(scenario: str, tmp_path: Path) -> list[SourceRecord]:
    files = generate(scenario, 7, tmp_path / scenario, count=60)
    files.append_all()
    values = {**connector_config(files, f"mf.{scenario}"), "poll.interval.ms": "10", "file.quiet.ms": "0"}
    config = MainframeCopybookConfig.model_validate(values)
    task = MainframeCopybookTask(config, _context(scenario))
    try:
        records = drain(task, timeout=30)
    finally:
        task.stop()
    return [record for record in records if isinstance(record, SourceRecord)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_mainframe_records_fit_the_layout_schema(scenario: str, tmp_path: Path) -> None:
    records = _mainframe_records(scenario, tmp_path)
    assert records
    schemas = {(record.key_schema, record.value_schema) for record in records}
    assert len(schemas) == 1, "one key and one value schema per topic"
    ((key_schema, value_schema),) = schemas
    assert value_schema is not None and key_schema is not None
    assert value_schema.name == f"mf.{scenario}.Envelope"
    converter = JsonConverter()
    for record in records:
        key_schema.validate(record.key)
        if record.value is None:
            continue
        value_schema.validate(record.value)
        data = converter.from_connect_data(record.topic, value_schema, record.value)
        back = converter.to_connect_data(record.topic, data)
        assert back.schema == value_schema
        assert back.value == record.value


def test_hierarchies_nest_child_segment_arrays_in_their_parents(tmp_path: Path) -> None:
    records = _mainframe_records("hierarchical", tmp_path)
    schema = records[0].value_schema
    assert schema is not None
    after = t.cast(s.Schema, t.cast(s.Field, schema.field("after")).schema)
    company = t.cast(s.Field, after.field("COMPANY")).schema
    for child in ("DEPARTMENT", "CONTACT"):
        field = company.field(child)
        assert field is not None and field.schema.type is s.Type.ARRAY and field.schema.items is not None
        assert field.schema.items.type is s.Type.STRUCT
    # Records whose arrays are empty or absent write the same schema as the full ones.
    nested = [r for r in records if r.value and any(r.value["after"]["COMPANY"].get(c) for c in ("DEPARTMENT",))]
    empty = [r for r in records if r.value and not r.value["after"]["COMPANY"].get("DEPARTMENT")]
    assert nested and empty


def test_datagen_records_fit_their_table_schemas() -> None:
    config = DatagenConfig.model_validate(
        {"tables": "customers,orders,products", "count": "300", "keys": "20", "topic.prefix": "shop"}
    )
    task = DatagenTask(config, _context("datagen"))
    records: list[SourceRecord] = []
    for _ in range(50):
        records.extend(task.poll())
    by_topic: dict[str, set[t.Any]] = {}
    tombstones = 0
    for record in records:
        assert record.key_schema is not None
        record.key_schema.validate(record.key)
        if record.value is None:
            # As in Kafka Connect (and Debezium): a tombstone's value and value schema are null.
            assert record.value_schema is None
            tombstones += 1
            continue
        assert record.value_schema is not None
        record.value_schema.validate(record.value)
        by_topic.setdefault(record.topic, set()).add(record.value_schema)
    assert tombstones, "deletes are followed by tombstones"
    assert set(by_topic) == {"shop.customers", "shop.orders", "shop.products"}
    assert all(len(schemas) == 1 for schemas in by_topic.values())
    ops = {record.value["op"] for record in records if record.value}
    assert ops == {"c", "u", "d"}, "creates, updates and deletes share the envelope schema"
