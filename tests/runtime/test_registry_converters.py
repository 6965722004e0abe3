"""Avro and JSON Schema converters against a real schema registry (Apicurio, Confluent API).

Round trips for the datagen and mainframe schemas, a source schema change registering a
new compatible version, an incompatible one refused, subject strategies, exact decimals
of 30-38 digits, and one pipeline through the runtime with ``value.converter=avro``.
"""

from __future__ import annotations

import datetime
import json
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.codecs import schema as s
from headwater.codecs.converters import Converter, make_converter
from headwater.codecs.copybook import DecodeOptions, compile_plan, parse_copybook
from headwater.codecs.envelope import source_block
from headwater.conformance.file_sink import tables_off_final_state
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.datagen.task import DatagenTask
from headwater.connectors.errors import RecordError
from headwater.connectors.launch.worker import WorkerProcess
from headwater.connectors.mainframe.schema import SOURCE_SCHEMA
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore

FORMATS = ["avro", "json-schema"]


def _converter(url: str, name: str = "avro", **settings: str) -> Converter:
    return make_converter(name, {"schema.registry.url": url, **settings}, key="value.converter")


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _topic(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def _datagen_records(prefix: str) -> list[SourceRecord]:
    config = DatagenConfig.model_validate({"count": "600", "keys": "30", "topic.prefix": prefix})
    task = DatagenTask(config, SourceTaskContext("d", 0, ConnectorOffsets(MemoryOffsetStore(), "d")))
    records: list[SourceRecord] = []
    for _ in range(20):
        records.extend(task.poll())
    return records


@pytest.mark.parametrize("fmt", FORMATS)
def test_datagen_events_round_trip(schema_registry_url: str, fmt: str) -> None:
    prefix = _topic("dg")
    records = _datagen_records(prefix)
    values, keys = (
        _converter(schema_registry_url, fmt),
        make_converter(fmt, {"schema.registry.url": schema_registry_url}, key="key.converter"),
    )
    for record in records:
        data = values.from_connect_data(record.topic, record.value_schema, record.value)
        if record.value is None:
            assert data is None
            continue
        assert data is not None and data[0] == 0, "Confluent wire format: magic byte 0"
        back = values.to_connect_data(record.topic, data)
        assert back.value == record.value
        assert back.schema == record.value_schema
        key_back = keys.to_connect_data(
            record.topic, keys.from_connect_data(record.topic, record.key_schema, record.key)
        )
        assert key_back.value == record.key
    subjects = t_subjects(schema_registry_url)
    for table in ("customers", "orders", "products"):
        assert f"{prefix}.{table}-value" in subjects and f"{prefix}.{table}-key" in subjects
        versions = _get(f"{schema_registry_url}/subjects/{prefix}.{table}-value/versions")
        assert versions == [1], "one schema per table, whatever the op"


def t_subjects(url: str) -> list[str]:
    subjects = _get(f"{url}/subjects")
    assert isinstance(subjects, list)
    return subjects


COPYBOOK_V1 = """\
       01  ACCOUNT.
           05  ACCT-ID          PIC 9(8).
           05  HOLDER           PIC X(20).
           05  BALANCE          PIC S9(7)V99 COMP-3.
           05  HISTORY OCCURS 3 TIMES.
              10  AMOUNT        PIC S9(5)V99 COMP-3.
"""
COPYBOOK_V2 = COPYBOOK_V1 + "           05  BRANCH           PIC X(4).\n"


def _mainframe_schema(copybook: str, topic: str) -> s.Schema:
    from headwater.codecs.copybook.schema import record_schema

    row = record_schema(compile_plan(parse_copybook(copybook), DecodeOptions()), name=f"{topic}.Value")
    return s.envelope(row, SOURCE_SCHEMA, name=f"{topic}.Envelope")


def _event(row: dict[str, object]) -> dict[str, object]:
    source = source_block(
        version="1.0",
        connector="mainframe-copybook",
        name="acct",
        ts_ms=1,
        file="ACCT.FB",
        record=1,
        offset=0,
        generation=None,
    )
    return {"before": None, "after": row, "source": source, "op": "c", "ts_ms": 1}  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_copybook_column_added_registers_a_new_compatible_version(schema_registry_url: str, fmt: str) -> None:
    topic = _topic("acct")
    converter = _converter(schema_registry_url, fmt)
    v1, v2 = _mainframe_schema(COPYBOOK_V1, topic), _mainframe_schema(COPYBOOK_V2, topic)
    history = [{"AMOUNT": Decimal("1.00")}, {"AMOUNT": None}, {"AMOUNT": Decimal("-0.05")}]
    row = {"ACCT_ID": 1, "HOLDER": "ADA", "BALANCE": Decimal("-12.50"), "HISTORY": history}
    old = converter.from_connect_data(topic, v1, _event(row))
    new = converter.from_connect_data(topic, v2, _event({**row, "BRANCH": "0042"}))
    assert _get(f"{schema_registry_url}/subjects/{topic}-value/versions") == [1, 2]
    # A consumer reads both generations, each with its own writer schema.
    assert converter.to_connect_data(topic, old).value["after"] == row
    assert converter.to_connect_data(topic, new).value["after"]["BRANCH"] == "0042"
    assert converter.to_connect_data(topic, new).schema == v2


def test_an_incompatible_change_is_refused_with_the_registry_answer(schema_registry_url: str) -> None:
    topic = _topic("incompatible")
    converter = _converter(schema_registry_url)
    first = s.struct({"id": s.INT32, "name": s.STRING}, name="acct.Value")
    converter.from_connect_data(topic, first, {"id": 1, "name": "a"})
    # A new required field without a default: old records could not be read with it.
    changed = s.struct({"id": s.INT32, "name": s.STRING, "branch": s.STRING}, name="acct.Value")
    with pytest.raises(RecordError, match=rf"value on topic {topic}.*409"):
        converter.from_connect_data(topic, changed, {"id": 2, "name": "b", "branch": "x"})


@pytest.mark.parametrize("fmt", FORMATS)
def test_decimals_of_30_to_38_digits_stay_exact(schema_registry_url: str, fmt: str) -> None:
    topic = _topic("big")
    schema = s.struct(
        {"n30": s.decimal_of(2, precision=30), "n38": s.decimal_of(0, precision=38), "f": s.FLOAT64},
        name="big.Value",
    )
    value = {
        "n30": Decimal("1234567890123456789012345678.91"),
        "n38": Decimal("-99999999999999999999999999999999999999"),
        "f": 0.1,
    }
    converter = _converter(schema_registry_url, fmt)
    back = converter.to_connect_data(topic, converter.from_connect_data(topic, schema, value)).value
    assert {key: str(item) for key, item in back.items()} == {key: str(item) for key, item in value.items()}
    assert isinstance(back["f"], float)


def test_logical_types_and_annotations_in_the_registered_avro(schema_registry_url: str) -> None:
    topic = _topic("logical")
    schema = s.struct(
        {
            "amount": s.decimal_of(2, precision=9),
            "opened": s.DATE.optional(),
            "seen": s.TIMESTAMP,
            "tiny": s.INT8,
            "CUST-NAME": s.STRING.optional(),
        },
        name="bank.accounts.Value",
        version=3,
        doc="accounts",
    )
    value = {
        "amount": Decimal("12.30"),
        "opened": datetime.date(2024, 2, 29),
        "seen": datetime.datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=datetime.UTC),
        "tiny": -3,
        "CUST-NAME": None,
    }
    converter = _converter(schema_registry_url)
    back = converter.to_connect_data(topic, converter.from_connect_data(topic, schema, value))
    assert back.value == value and back.schema == schema
    latest = _get(f"{schema_registry_url}/subjects/{topic}-value/versions/latest")
    assert isinstance(latest, dict)
    avro = json.loads(latest["schema"])
    assert avro["name"] == "Value" and avro["namespace"] == "bank.accounts"
    assert avro["connect.name"] == "bank.accounts.Value" and avro["connect.version"] == 3
    fields = {field["name"]: field for field in avro["fields"]}
    assert fields["amount"]["type"] == {
        "type": "bytes",
        "logicalType": "decimal",
        "precision": 9,
        "scale": 2,
        "connect.name": "org.apache.kafka.connect.data.Decimal",
        "connect.version": 1,
        "connect.parameters": {"scale": "2", "connect.decimal.precision": "9"},
    }
    assert fields["opened"]["type"][0] == "null" and fields["opened"]["default"] is None
    assert fields["opened"]["type"][1]["logicalType"] == "date"
    assert fields["tiny"]["type"] == {"type": "int", "connect.type": "int8"}
    assert fields["CUST_NAME"]["connect.field.name"] == "CUST-NAME"


def test_subject_name_strategies(schema_registry_url: str) -> None:
    topic = _topic("strategy")
    schema = s.struct({"id": s.INT32}, name=f"com.example.{topic.replace('-', '_')}")
    record = _converter(schema_registry_url, **{"value.subject.name.strategy": "RecordNameStrategy"})
    topic_record = _converter(
        schema_registry_url,
        **{"value.subject.name.strategy": "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"},
    )
    record.from_connect_data(topic, schema, {"id": 1})
    topic_record.from_connect_data(topic, schema, {"id": 1})
    subjects = t_subjects(schema_registry_url)
    assert schema.name in subjects
    assert f"{topic}-{schema.name}" in subjects
    assert f"{topic}-value" not in subjects


def test_use_latest_version_without_auto_register(schema_registry_url: str) -> None:
    topic = _topic("latest")
    schema = s.struct({"id": s.INT32, "note": s.STRING.optional()}, name="latest.Value")
    writer = _converter(schema_registry_url, **{"auto.register.schemas": "false", "use.latest.version": "true"})
    with pytest.raises(RecordError, match=f"{topic}-value"):
        writer.from_connect_data(topic, schema, {"id": 1, "note": None})  # nothing registered yet
    _converter(schema_registry_url).from_connect_data(topic, schema, {"id": 1, "note": "x"})
    data = writer.from_connect_data(topic, schema, {"id": 2, "note": None})
    assert writer.to_connect_data(topic, data).value == {"id": 2, "note": None}
    assert _get(f"{schema_registry_url}/subjects/{topic}-value/versions") == [1]


def test_bad_bytes_and_an_unreachable_registry_name_the_remedy(schema_registry_url: str) -> None:
    from headwater.connectors.errors import RetriableError

    with pytest.raises(RecordError, match="Confluent wire format"):
        _converter(schema_registry_url).to_connect_data("t", b"{not avro}")
    unreachable = make_converter(
        "avro",
        {"schema.registry.url": "http://127.0.0.1:9", "schema.registry.request.timeout.ms": "2000"},
        key="value.converter",
    )
    with pytest.raises(RetriableError, match="unreachable"):
        unreachable.from_connect_data("t", s.struct({"id": s.INT32}), {"id": 1})


@pytest.mark.kafka
@pytest.mark.slow
def test_datagen_to_file_sink_through_avro(
    tmp_path: Path, kafka_bootstrap_servers: str, schema_registry_url: str
) -> None:
    prefix = _topic("avro-e2e")
    out = tmp_path / "out"
    datagen = {"topic.prefix": prefix, "count": "2000", "keys": "200", "seed": "5"}
    avro = {
        "key.converter": "io.confluent.connect.avro.AvroConverter",
        "key.converter.schema.registry.url": schema_registry_url,
        "value.converter": "avro",
        "value.converter.schema.registry.url": schema_registry_url,
    }
    source = {"name": f"src-{prefix}", "config": {"connector.class": "datagen", **datagen, **avro}}
    sink = {
        "name": f"sink-{prefix}",
        "config": {"connector.class": "file", "topics.regex": f"{prefix}\\..*", "file.dir": str(out), **avro},
    }
    config = DatagenConfig.model_validate(datagen)
    with WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [source, sink]) as worker:
        worker.wait_until(lambda: not tables_off_final_state(out, prefix, config), timeout=180, what="final state")
        assert worker.stop() == 0
    assert f"{prefix}.customers-value" in t_subjects(schema_registry_url)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("scenario", ["customers-vb", "multisegment", "generations", "hierarchical"])
def test_mainframe_records_round_trip(schema_registry_url: str, tmp_path: Path, fmt: str, scenario: str) -> None:
    from headwater.conformance.emulators.mainframe import connector_config, generate
    from headwater.conformance.standard import drain
    from headwater.connectors.mainframe import MainframeCopybookTask
    from headwater.connectors.mainframe.config import MainframeCopybookConfig

    topic = _topic(f"mf-{scenario}")
    files = generate(scenario, 3, tmp_path, count=40)
    values = {**connector_config(files, topic), "poll.interval.ms": "10", "file.quiet.ms": "0"}
    task = MainframeCopybookTask(
        MainframeCopybookConfig.model_validate(values),
        SourceTaskContext("mf", 0, ConnectorOffsets(MemoryOffsetStore(), "mf")),
    )
    try:
        records = [record for record in drain(task, timeout=30) if isinstance(record, SourceRecord)]
    finally:
        task.stop()
    assert records
    keys = make_converter(fmt, {"schema.registry.url": schema_registry_url}, key="key.converter")
    converter = _converter(schema_registry_url, fmt)
    for record in records:
        key = keys.to_connect_data(topic, keys.from_connect_data(topic, record.key_schema, record.key))
        assert key.value == record.key and key.schema == record.key_schema
        if record.value is None:
            continue
        back = converter.to_connect_data(topic, converter.from_connect_data(topic, record.value_schema, record.value))
        assert back.schema == record.value_schema
        after = back.value["after"] or back.value["before"]
        original = record.value["after"] or record.value["before"]
        # Hierarchies leave the other root alternatives out; they come back as nulls.
        assert {name: item for name, item in after.items() if name in original} == original
    assert _get(f"{schema_registry_url}/subjects/{topic}-value/versions") == [1]
