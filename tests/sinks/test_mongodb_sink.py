"""The ``mongodb`` sink task against a real MongoDB-wire server (SecantusDB): strategies,
id strategies, post processors, the change-event handler, and error tracing."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import typing as t
import uuid
from decimal import Decimal

import pymongo
import pytest
from bson import Binary, ObjectId

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import fold, to_messages
from headwater.conformance.mongodb import read_state
from headwater.connectors.api import SinkRecord, SinkTaskContext
from headwater.connectors.datagen.client import TableGenerator
from headwater.connectors.errors import ConfigError, FatalError, RecordError, RetriableError
from headwater.connectors.loading import parse_connector
from headwater.sinks.mongodb import MongoSinkConnector, MongoSinkTask
from headwater.sinks.mongodb.client import BulkWriteFailure, WriteError, WriteKind, WriteOp
from headwater.sinks.mongodb.config import MongoSinkConfig

CONNECTOR_CLASS = "headwater.sinks.mongodb:MongoSinkConnector"


class Harness:
    """One task writing to a fresh database, with the records it reported."""

    def __init__(self, uri: str, **config: t.Any) -> None:
        self.uri = uri
        self.database = f"db_{uuid.uuid4().hex[:10]}"
        self.config = MongoSinkConfig.model_validate({"connection.uri": uri, "database": self.database, **config})
        self.reported: list[tuple[SinkRecord, BaseException]] = []
        self.task = MongoSinkTask(
            self.config, SinkTaskContext("test", 0, report=lambda r, e: self.reported.append((r, e)))
        )
        self.client: t.Any = pymongo.MongoClient(uri, uuidRepresentation="standard")

    def put(self, records: t.Sequence[SinkRecord]) -> None:
        self.task.put(records)
        self.task.flush()

    def docs(self, collection: str = "t") -> list[dict[str, t.Any]]:
        return list(self.client[self.database][collection].find().sort("_id", 1))

    def close(self) -> None:
        self.task.stop()
        self.client.close()


@pytest.fixture
def harness(mongodb_uri: str) -> t.Iterator[t.Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**config: t.Any) -> Harness:
        made.append(Harness(mongodb_uri, **config))
        return made[-1]

    yield make
    for item in made:
        item.close()


def rec(offset: int, value: t.Any, key: t.Any = None, topic: str = "t", partition: int = 0) -> SinkRecord:
    return SinkRecord(topic, partition, offset, key, value, (), 1_700_000_000_000 + offset)


def records_of(topic: str, messages: t.Sequence[tuple[t.Any, t.Any]], *, start: int = 0) -> list[SinkRecord]:
    """As the runtime hands them over: through the JSON converter (with schemas) and back."""
    converter = JsonConverter()
    return [
        rec(
            start + i,
            converter.from_bytes(topic, converter.to_bytes(topic, value)),
            converter.from_bytes(topic, converter.to_bytes(topic, key)),
            topic,
        )
        for i, (key, value) in enumerate(messages)
    ]


def normalise(state: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {key: json.loads(json.dumps(row, default=str, sort_keys=True)) for key, row in state.items()}


# --- the change-event handler ---------------------------------------------------------


@pytest.mark.parametrize("ordered", [True, False])
def test_cdc_state_equals_the_folded_stream(harness: t.Callable[..., Harness], ordered: bool) -> None:
    h = harness(
        **{
            "change.data.capture.handler": "headwater",
            "collection": "${topic}",
            "bulk.write.ordered": ordered,
            "max.batch.size": 300,
        }
    )
    expected = {}
    for table in ("customers", "orders", "products"):
        generator = TableGenerator(table, seed=5, keys=60)
        messages = [m for _ in range(1500) for m in to_messages(generator.next_event())]
        records = records_of(f"demo.{table}", messages)
        for start in range(0, len(records), 700):  # several put() calls, as the runtime makes
            h.put(records[start : start + 700])
        expected[table] = fold(messages)
    assert not h.reported
    for table, rows in expected.items():
        state = read_state(h.uri, h.database, f"demo.{table}")
        assert normalise(state) == normalise(rows)
        assert state, "the stream must leave rows"
    # Decimals arrive exactly: as Decimal128, not float.
    document = h.client[h.database]["demo.customers"].find_one()
    assert type(document["balance"]).__name__ == "Decimal128"


def test_cdc_replay_is_harmless_and_tombstone_can_delete(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        **{
            "change.data.capture.handler": "com.mongodb.kafka.connect.sink.cdc.debezium.rdbms.RdbmsHandler",
            "collection": "t",
            "delete.on.null.values": True,
        }
    )
    generator = TableGenerator("customers", seed=9, keys=20)
    messages = [m for _ in range(300) for m in to_messages(generator.next_event())]
    records = records_of("t", messages)
    h.put(records)
    h.put(records[100:])  # a replay of an uncommitted window
    assert normalise(read_state(h.uri, h.database, "t")) == normalise(fold(messages))
    live = next(iter(fold(messages)))
    h.put([rec(10_000, None, json.loads(live))])  # a bare tombstone deletes
    assert live not in read_state(h.uri, h.database, "t")


def test_cdc_key_field_id_truncate_and_bad_events(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        **{
            "change.data.capture.handler": "headwater",
            "collection": "t",
            "change.data.capture.handler.id": "key-field",
            "change.data.capture.handler.remove.null.values": True,
        }
    )
    create = {"before": None, "after": {"id": 1, "name": "a", "note": None}, "source": {}, "op": "c", "ts_ms": 1}
    h.put([rec(0, create, {"id": 1}), rec(1, create | {"after": {"id": 2, "name": "b"}}, {"id": 2})])
    assert h.docs() == [{"_id": 1, "id": 1, "name": "a"}, {"_id": 2, "id": 2, "name": "b"}]
    bad = [
        rec(2, {"no": "op"}, {"id": 3}),
        rec(3, create, None),
        rec(4, "text", {"id": 4}),
        rec(5, create, {"a": 1, "b": 2}),
    ]
    h.put([*bad, rec(6, {"before": None, "after": None, "source": {}, "op": "t", "ts_ms": 2}, {"id": 0})])
    assert [r.offset for r, _ in h.reported] == [2, 3, 4, 5]
    assert all(isinstance(e, RecordError) and "t-0@" in str(e) for _, e in h.reported)
    assert h.docs() == []  # the truncate cleared the collection


# --- write model strategies -----------------------------------------------------------


def test_replace_one_default_with_provided_in_value(harness: t.Callable[..., Harness]) -> None:
    h = harness(collection="t", **{"document.id.strategy": "ProvidedInValueStrategy"})
    h.put([rec(0, {"_id": 1, "v": 1, "x": True}), rec(1, {"_id": 1, "v": 2}), rec(2, {"_id": 2, "v": 3})])
    assert h.docs() == [{"_id": 1, "v": 2}, {"_id": 2, "v": 3}]


def test_replace_one_business_key(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        collection="t",
        **{
            "writemodel.strategy": "replace-one-business-key",
            "document.id.strategy": "partial-value",
            "document.id.strategy.partial.value.projection.type": "allowlist",
            "document.id.strategy.partial.value.projection.list": "sku,site.code",
        },
    )
    h.put(
        [
            rec(0, {"sku": "A", "site": {"code": 1}, "qty": 1}),
            rec(1, {"sku": "A", "site": {"code": 1}, "qty": 5}),
            rec(2, {"sku": "A", "site": {"code": 2}, "qty": 7}),
        ]
    )
    docs = h.docs()
    assert sorted((d["site"]["code"], d["qty"]) for d in docs) == [(1, 5), (2, 7)]
    assert all(isinstance(d["_id"], ObjectId) for d in docs), "the business key is the filter, MongoDB makes the _id"


def test_update_one_timestamps_keeps_insert_time(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        collection="t",
        **{"writemodel.strategy": "UpdateOneTimestampsStrategy", "document.id.strategy": "provided-in-value"},
    )
    h.put([rec(0, {"_id": "k", "a": 1, "b": 1})])
    first = h.docs()[0]
    h.put([rec(1, {"_id": "k", "a": 2})])
    second = h.docs()[0]
    assert (second["a"], second["b"]) == (2, 1), "update-one $sets fields; others stay"
    assert second["_insertedTS"] == first["_insertedTS"]
    assert second["_modifiedTS"] >= first["_modifiedTS"]
    assert isinstance(second["_modifiedTS"], dt.datetime)


def test_update_one_business_key_timestamps(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        collection="t",
        **{
            "writemodel.strategy": "update-one-business-key-timestamps",
            "document.id.strategy": "partial-key",
            "document.id.strategy.partial.key.projection.type": "blocklist",
            "document.id.strategy.partial.key.projection.list": "ignored",
        },
    )
    h.put([rec(0, {"a": 1}, {"code": "X", "ignored": 1}), rec(1, {"b": 2}, {"code": "X", "ignored": 2})])
    docs = h.docs()
    assert len(docs) == 1
    assert (docs[0]["a"], docs[0]["b"], docs[0]["code"]) == (1, 2, "X")


@pytest.mark.parametrize("ordered", [True, False])
def test_insert_one_duplicate_key_is_traced_to_its_record(harness: t.Callable[..., Harness], ordered: bool) -> None:
    h = harness(
        collection="t",
        **{
            "writemodel.strategy": "insert-one",
            "document.id.strategy": "provided-in-value",
            "bulk.write.ordered": ordered,
        },
    )
    h.client[h.database]["t"].create_index("email", unique=True)
    values = [{"_id": i, "email": f"u{i}@x"} for i in range(10)]
    values[3]["email"] = values[1]["email"]  # duplicate key at index 3
    values[7]["email"] = values[2]["email"]  # and at index 7
    h.put([rec(i, v) for i, v in enumerate(values)])
    assert [r.offset for r, _ in h.reported] == [3, 7]
    assert all("E11000" in str(e) and "code 11000" in str(e) for _, e in h.reported)
    assert [d["_id"] for d in h.docs()] == [0, 1, 2, 4, 5, 6, 8, 9]


def test_delete_one_on_tombstone(harness: t.Callable[..., Harness]) -> None:
    h = harness(collection="t", **{"document.id.strategy": "provided-in-key", "delete.on.null.values": True})
    h.put([rec(0, {"v": 1}, {"_id": 1}), rec(1, {"v": 2}, {"_id": 2}), rec(2, None, {"_id": 1})])
    assert h.docs() == [{"_id": 2, "v": 2}]


def test_delete_one_business_key_on_tombstone(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        collection="t",
        **{
            "writemodel.strategy": "replace-one-business-key",
            "delete.on.null.values": True,
            "delete.writemodel.strategy": "DeleteOneTombstoneBusinessKeyStrategy",
            "document.id.strategy": "partial-key",
            "document.id.strategy.partial.key.projection.type": "allowlist",
            "document.id.strategy.partial.key.projection.list": "code",
        },
    )
    h.put(
        [
            rec(0, {"code": "A", "v": 1}, {"code": "A"}),
            rec(1, {"code": "B", "v": 2}, {"code": "B"}),
            rec(2, None, {"code": "A"}),
        ]
    )
    assert [(d["code"], d["v"]) for d in h.docs()] == [("B", 2)]


def test_tombstone_without_delete_is_a_record_error(harness: t.Callable[..., Harness]) -> None:
    h = harness(collection="t", **{"document.id.strategy": "provided-in-key"})
    h.put([rec(0, None, {"_id": 1}), rec(1, {"v": 1}, {"_id": 2})])
    assert [r.offset for r, _ in h.reported] == [0]
    assert h.docs() == [{"_id": 2, "v": 1}]


# --- document id strategies -----------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "extra", "key", "value", "expected"),
    [
        ("bson-oid", {}, None, {"v": 1}, ObjectId),
        ("kafka-metadata", {}, None, {"v": 1}, "t#0#0"),
        ("full-key", {}, {"a": 1, "b": 2}, {"v": 1}, {"a": 1, "b": 2}),
        ("full-key", {}, "plain-key", {"v": 1}, "plain-key"),
        ("provided-in-key", {}, {"_id": 7}, {"v": 1}, 7),
        ("provided-in-value", {}, None, {"_id": 8, "v": 1}, 8),
        (
            "partial-key",
            {
                "document.id.strategy.partial.key.projection.type": "allowlist",
                "document.id.strategy.partial.key.projection.list": "a",
            },
            {"a": 1, "b": 2},
            {"v": 1},
            {"a": 1},
        ),
        (
            "partial-value",
            {
                "document.id.strategy.partial.value.projection.type": "blocklist",
                "document.id.strategy.partial.value.projection.list": "v",
            },
            None,
            {"v": 1, "w": 2},
            {"w": 2},
        ),
        ("uuid", {}, None, {"v": 1}, "uuid-string"),
        ("uuid", {"document.id.strategy.uuid.format": "binary"}, None, {"v": 1}, uuid.UUID),
        (
            "uuid-provided-in-value",
            {"document.id.strategy.uuid.format": "binary"},
            None,
            {"_id": "6b8d3f0a-1a9c-4c55-9d61-2f2a4a8f4f10", "v": 1},
            uuid.UUID("6b8d3f0a-1a9c-4c55-9d61-2f2a4a8f4f10"),
        ),
        (
            "uuid-provided-in-key",
            {},
            {"_id": "6B8D3F0A-1A9C-4C55-9D61-2F2A4A8F4F10"},
            {"v": 1},
            "6b8d3f0a-1a9c-4c55-9d61-2f2a4a8f4f10",
        ),
    ],
)
def test_id_strategies(
    harness: t.Callable[..., Harness],
    strategy: str,
    extra: dict[str, str],
    key: t.Any,
    value: dict[str, t.Any],
    expected: t.Any,
) -> None:
    h = harness(collection="t", **{"document.id.strategy": strategy, **extra})
    h.put([rec(0, value, key)])
    assert not h.reported
    (document,) = h.docs()
    if expected is ObjectId or expected is uuid.UUID:
        assert isinstance(document["_id"], expected)
    elif expected == "uuid-string":
        assert str(uuid.UUID(document["_id"])) == document["_id"]
    else:
        assert document["_id"] == expected


def test_id_strategy_missing_field_is_a_record_error(harness: t.Callable[..., Harness]) -> None:
    h = harness(collection="t", **{"document.id.strategy": "provided-in-value"})
    h.put([rec(0, {"v": 1}), rec(1, [1, 2]), rec(2, {"_id": 3}), rec(3, {"_id": "x"}, None)])
    assert [r.offset for r, _ in h.reported] == [0, 1]
    assert "_id" in str(h.reported[0][1])
    assert "not a document" in str(h.reported[1][1])
    assert [d["_id"] for d in h.docs()] == [3, "x"]


def test_overwrite_existing_id(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        collection="t", **{"document.id.strategy": "kafka-metadata", "document.id.strategy.overwrite.existing": True}
    )
    h.put([rec(5, {"_id": "mine", "v": 1})])
    assert h.docs() == [{"_id": "t#0#5", "v": 1}]


# --- post processors ------------------------------------------------------------------


def test_value_projectors(harness: t.Callable[..., Harness]) -> None:
    allow = harness(
        collection="t",
        **{
            "post.processor.chain": "AllowListValueProjector",
            "value.projection.type": "allowlist",
            "value.projection.list": "a,n.x,arr.k",
            "document.id.strategy": "provided-in-value",
        },
    )
    block = harness(
        collection="t",
        **{
            "post.processor.chain": "document-id-adder,block-list-value-projector",
            "value.projection.type": "blocklist",
            "value.projection.list": "a,n.x,arr.k",
            "document.id.strategy": "provided-in-value",
        },
    )
    value = {"_id": 1, "a": 1, "b": 2, "n": {"x": 1, "y": 2}, "arr": [{"k": 1, "j": 2}]}
    allow.put([rec(0, value)])
    block.put([rec(0, value)])
    assert allow.docs() == [{"_id": 1, "a": 1, "n": {"x": 1}, "arr": [{"k": 1}]}]
    assert block.docs() == [{"_id": 1, "b": 2, "n": {"y": 2}, "arr": [{"j": 2}]}]


def test_wildcard_projection_and_key_projector_before_id(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        collection="t",
        **{
            "post.processor.chain": "block-list-key-projector,document-id-adder,allow-list-value-projector",
            "key.projection.type": "blocklist",
            "key.projection.list": "drop",
            "value.projection.type": "allowlist",
            "value.projection.list": "n.*.keep,m.**",
            "document.id.strategy": "full-key",
        },
    )
    h.put(
        [
            rec(
                0,
                {"n": {"p": {"keep": 1, "no": 2}, "q": {"keep": 3}}, "m": {"z": {"deep": 1}}, "other": 1},
                {"id": 1, "drop": "x"},
            )
        ]
    )
    assert h.docs() == [{"_id": {"id": 1}, "n": {"p": {"keep": 1}, "q": {"keep": 3}}, "m": {"z": {"deep": 1}}}]


def test_renamers_meta_adder_and_null_remover(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        collection="t",
        **{
            "post.processor.chain": "rename-by-mapping,rename-by-regexp,kafka-meta-adder,null-field-value-remover",
            "field.renamer.mapping": json.dumps(
                [{"oldName": "value.old", "newName": "new"}, {"oldName": "value.n.a", "newName": "b"}]
            ),
            "field.renamer.regexp": json.dumps([{"regexp": "^value\\.my_.*$", "pattern": "_", "replace": "-"}]),
            "document.id.strategy": "provided-in-value",
        },
    )
    h.put([rec(3, {"_id": 1, "old": 1, "n": {"a": 2}, "my_field": 3, "gone": None, "m": {"gone": None, "k": 1}})])
    assert h.docs() == [
        {
            "_id": 1,
            "new": 1,
            "n": {"b": 2},
            "my-field": 3,
            "m": {"k": 1},
            "topic-partition-offset": "t-0-3",
            "CreateTime": 1_700_000_000_003,
        }
    ]


# --- namespaces and batching ----------------------------------------------------------


def test_topic_placeholder_and_overrides(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        collection="c_${topic}",
        **{
            "document.id.strategy": "provided-in-value",
            "topic.override.demo.orders.collection": "all_orders",
            "topic.override.demo.orders.document.id.strategy": "kafka-metadata",
        },
    )
    h.put([rec(0, {"_id": 1}, topic="demo.customers"), rec(0, {"v": 2}, topic="demo.orders")])
    assert h.docs("c_demo.customers") == [{"_id": 1}]
    assert h.docs("all_orders") == [{"_id": "demo.orders#0#0", "v": 2}]


def test_field_path_namespace_mapper_routes_each_record(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        collection="fallback",
        **{
            "namespace.mapper": "com.mongodb.kafka.connect.sink.namespace.mapping.FieldPathNamespaceMapper",
            "namespace.mapper.value.collection.field": "source.table",
            "change.data.capture.handler": "headwater",
        },
    )
    events = [
        ({"id": 1}, {"op": "c", "after": {"id": 1, "n": "a"}, "source": {"table": "customers"}}),
        ({"id": 7}, {"op": "c", "after": {"id": 7, "n": "b"}, "source": {"table": "orders"}}),
        ({"id": 2}, {"op": "c", "after": {"id": 2, "n": "c"}, "source": {}}),  # no table: the default collection
        ({"id": 1}, {"op": "u", "after": {"id": 1, "n": "a2"}, "source": {"table": "customers"}}),
    ]
    h.put([rec(i, value, key) for i, (key, value) in enumerate(events)])
    assert h.docs("customers") == [{"_id": {"id": 1}, "id": 1, "n": "a2"}]
    assert h.docs("orders") == [{"_id": {"id": 7}, "id": 7, "n": "b"}]
    assert h.docs("fallback") == [{"_id": {"id": 2}, "id": 2, "n": "c"}]
    assert h.reported == []


def test_namespace_mapper_error_if_invalid_reports_the_record(harness: t.Callable[..., Harness]) -> None:
    h = harness(
        **{
            "namespace.mapper": "field-path",
            "namespace.mapper.key.database.field": "tenant",
            "namespace.mapper.value.collection.field": "kind",
            "namespace.mapper.error.if.invalid": "true",
            "document.id.strategy": "provided-in-value",
        }
    )
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    h.put(
        [
            rec(0, {"_id": 1, "kind": "things"}, key={"tenant": tenant}),
            rec(1, {"_id": 2, "kind": "things"}, key={"tenant": "bad.name"}),
            rec(2, {"_id": 3}, key={"tenant": tenant}),
        ]
    )
    assert list(h.client[tenant]["things"].find()) == [{"_id": 1, "kind": "things"}]
    assert [(r.offset, type(e)) for r, e in h.reported] == [(1, RecordError), (2, RecordError)]
    assert "not a valid database name" in str(h.reported[0][1])
    assert "namespace.mapper.value.collection.field" in str(h.reported[1][1])
    h.client.drop_database(tenant)


def test_namespace_mapper_config_errors() -> None:
    with pytest.raises(ValueError, match=r"needs a namespace\.mapper"):
        MongoSinkConfig.model_validate({"database": "d", "namespace.mapper": "field-path"})
    with pytest.raises(ValueError, match="not both"):
        MongoSinkConfig.model_validate(
            {
                "database": "d",
                "namespace.mapper": "field-path",
                "namespace.mapper.key.collection.field": "a",
                "namespace.mapper.value.collection.field": "b",
            }
        )
    with pytest.raises(ValueError, match=r"need namespace\.mapper=field-path"):
        MongoSinkConfig.model_validate({"database": "d", "namespace.mapper.value.collection.field": "b"})
    with pytest.raises(ValueError, match="unknown namespace mapper"):
        MongoSinkConfig.model_validate({"database": "d", "namespace.mapper": "by-topic"})


class FakeWriter:
    """Records bulk writes; optionally fails the first calls."""

    def __init__(self, failures: t.Sequence[BaseException] = ()) -> None:
        self.calls: list[tuple[str, list[WriteOp], bool]] = []
        self.failures = list(failures)
        self.applied: list[WriteOp] = []

    def bulk_write(self, database: str, collection: str, operations: t.Sequence[WriteOp], *, ordered: bool) -> int:
        self.calls.append((collection, list(operations), ordered))
        if self.failures:
            raise self.failures.pop(0)
        self.applied.extend(operations)
        return len(operations)

    def close(self) -> None:
        pass


def fake_task(writer: FakeWriter, reported: list[tuple[SinkRecord, BaseException]], **config: t.Any) -> MongoSinkTask:
    settings = MongoSinkConfig.model_validate({"database": "d", **config})
    return MongoSinkTask(
        settings, SinkTaskContext("test", 0, report=lambda r, e: reported.append((r, e))), writer=writer
    )


def test_max_batch_size_and_unordered_split_keep_key_order() -> None:
    writer = FakeWriter()
    task = fake_task(
        writer, [], **{"document.id.strategy": "provided-in-value", "max.batch.size": 4, "bulk.write.ordered": False}
    )
    task.put([rec(i, {"_id": i % 3, "v": i}) for i in range(9)])
    sizes = [len(ops) for _c, ops, _o in writer.calls]
    assert sum(sizes) == 9
    assert max(sizes) <= 4
    for _c, ops, ordered in writer.calls:
        assert not ordered
        ids = [op.filter["_id"] for op in ops if op.filter is not None]
        assert len(ids) == len(set(ids)), "an unordered bulk write never holds two writes of one key"
    writer_ordered = FakeWriter()
    fake_task(writer_ordered, [], **{"document.id.strategy": "provided-in-value"}).put(
        [rec(i, {"_id": i % 3}) for i in range(9)]
    )
    assert [len(ops) for _c, ops, _o in writer_ordered.calls] == [9]


def test_retry_after_transient_failure_skips_settled_records() -> None:
    reported: list[tuple[SinkRecord, BaseException]] = []
    # Ordered: write 0 applied, 1 rejected for good, 2 hit a stepped-down primary.
    writer = FakeWriter(
        [
            BulkWriteFailure([WriteError(1, 11000, "E11000 dup")]),
            BulkWriteFailure([WriteError(0, 189, "PrimarySteppedDown")]),
        ]
    )
    task = fake_task(
        writer, reported, **{"writemodel.strategy": "insert-one", "document.id.strategy": "provided-in-value"}
    )
    batch = [rec(0, {"_id": 0}), rec(1, {"_id": 1}), rec(2, {"_id": 2}), rec(3, "bad")]
    with pytest.raises(RetriableError):
        task.put(batch)
    task.put(batch)  # the runtime's redelivery of the same batch
    assert [r.offset for r, _ in reported] == [3, 1], "each bad record is reported once"
    assert [op.document["_id"] for op in writer.applied if op.document] == [2], "nothing applied twice"
    assert [[op.document["_id"] for op in ops if op.document] for _c, ops, _o in writer.calls] == [[0, 1, 2], [2], [2]]


def test_unencodable_document_is_isolated(harness: t.Callable[..., Harness]) -> None:
    h = harness(collection="t", **{"document.id.strategy": "provided-in-value"})
    h.put(
        [
            rec(0, {"_id": 1}),
            rec(1, {"_id": 2, "bad": {1, 2}}),
            rec(2, {"_id": 3, "big": Decimal("1." + "1" * 40)}),
            rec(3, {"_id": 4}),
        ]
    )
    assert [r.offset for r, _ in h.reported] == [1, 2]
    assert [d["_id"] for d in h.docs()] == [1, 4]


@pytest.mark.parametrize("ordered", [True, False])
def test_a_dollar_field_name_first_in_a_replacement_rejects_only_that_record(
    harness: t.Callable[..., Harness], ordered: bool
) -> None:
    """pymongo refuses it inside bulk_write (a replacement starting with ``$``): only it goes to the DLQ."""
    h = harness(collection="t", **{"document.id.strategy": "provided-in-key", "bulk.write.ordered": ordered})
    values: list[dict[str, t.Any]] = [{"n": i} for i in range(6)]
    values[2] = {"$bad": 1, "n": 2}
    h.put([rec(i, v, key={"_id": i}) for i, v in enumerate(values)])
    assert [r.offset for r, _ in h.reported] == [2]
    assert "$" in str(h.reported[0][1])
    assert "t-0@2" in str(h.reported[0][1])
    assert [d["_id"] for d in h.docs()] == [0, 1, 3, 4, 5]


def test_server_down_is_retriable() -> None:
    from headwater.connectors.launch.broker import find_free_port

    uri = f"mongodb://127.0.0.1:{find_free_port()}/?directConnection=true&serverSelectionTimeoutMS=300"
    config = MongoSinkConfig.model_validate(
        {"connection.uri": uri, "database": "d", "collection": "t", "document.id.strategy": "provided-in-value"}
    )
    task = MongoSinkTask(config, SinkTaskContext("test", 0, report=lambda r, e: None))
    try:
        with pytest.raises(RetriableError, match="ServerSelectionTimeoutError"):
            task.put([rec(0, {"_id": 1})])
    finally:
        task.stop()


# --- configuration --------------------------------------------------------------------


def test_config_errors_name_the_key() -> None:
    document = {
        "name": "m",
        "config": {
            "connector.class": CONNECTOR_CLASS,
            "topics": "t",
            "connection.uri": "http://user:hunter2@host",
            "database": "d",
            "writemodel.strategy": "ReplaceSomething",
            "max.batch.size": "-1",
            "topic.override.t.colection": "x",
        },
    }
    with pytest.raises(ConfigError) as caught:
        parse_connector(document)
    keys = {error.key for error in caught.value.errors}
    assert {"connection.uri", "writemodel.strategy", "max.batch.size", "topic.override"} <= keys
    assert "hunter2" not in str(caught.value)
    assert "topic.override.t.colection" in str(caught.value)


def test_config_rejects_impossible_combinations() -> None:
    with pytest.raises(ValueError, match="key-based"):
        MongoSinkConfig.model_validate({"database": "d", "delete.on.null.values": True})
    with pytest.raises(ValueError, match="partial"):
        MongoSinkConfig.model_validate({"database": "d", "writemodel.strategy": "replace-one-business-key"})
    with pytest.raises(ValueError, match=r"topic\.override\.x"):
        MongoSinkConfig.model_validate({"database": "d", "topic.override.x.delete.on.null.values": "true"})


def test_connector_declares_itself_and_hides_the_uri() -> None:
    parsed = parse_connector(
        {
            "name": "m",
            "config": {
                "connector.class": CONNECTOR_CLASS,
                "topics": "t",
                "connection.uri": "mongodb+srv://u:hunter2@cluster0.example.net/?tls=true",
                "database": "d",
            },
        }
    )
    assert parsed.plugin_class is MongoSinkConnector
    assert parsed.redacted()["connection.uri"] == "[hidden]"
    assert "hunter2" not in repr(parsed.plugin_config)
    assert MongoSinkConnector.name == "mongodb"


def test_import_does_not_need_pymongo() -> None:
    code = (
        "import sys; sys.modules['pymongo'] = None; sys.modules['bson'] = None\n"
        "import headwater.sinks.mongodb as m\n"
        "from headwater.sinks.mongodb.config import MongoSinkConfig\n"
        "MongoSinkConfig.model_validate({'database': 'd'})\n"
        "from headwater.connectors.api import SinkTaskContext\n"
        "from headwater.connectors.errors import FatalError\n"
        "try:\n"
        "    config = MongoSinkConfig.model_validate({'database': 'd'})\n"
        "    m.MongoSinkTask(config, SinkTaskContext('x', 0, report=print))\n"
        "except FatalError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'headwater[mongodb]'" in out.stdout


def test_invalid_uri_is_fatal_without_the_password() -> None:
    config = MongoSinkConfig.model_validate(
        {"database": "d", "connection.uri": "mongodb://u:hunter2@127.0.0.1:notaport/"}
    )
    with pytest.raises(FatalError) as caught:
        MongoSinkTask(config, SinkTaskContext("x", 0, report=lambda r, e: None))
    assert "hunter2" not in str(caught.value)


def test_uuid_binary_is_subtype_4(harness: t.Callable[..., Harness]) -> None:
    h = harness(collection="t", **{"document.id.strategy": "uuid", "document.id.strategy.uuid.format": "binary"})
    h.put([rec(0, {"v": 1})])
    raw: t.Any = pymongo.MongoClient(h.uri)  # default uuidRepresentation: raw Binary
    try:
        document = raw[h.database]["t"].find_one()
        assert isinstance(document["_id"], Binary)
        assert document["_id"].subtype == 4
    finally:
        raw.close()


def test_write_op_kinds_cover_the_strategies() -> None:
    assert {kind.value for kind in WriteKind} == {"insert", "replace", "update", "delete", "delete_many"}


def test_strategies_take_mongo_kafka_class_names_and_reject_unknown_ones() -> None:
    import pydantic

    from headwater.connectors.config import field_errors
    from headwater.sinks.mongodb.config import MongoSinkConfig

    base = {"connection.uri": "mongodb://127.0.0.1/?directConnection=true", "database": "d"}
    config = MongoSinkConfig.model_validate(
        {**base, "document.id.strategy": "com.mongodb.kafka.connect.sink.processor.id.strategy.UuidStrategy"}
    )
    assert config.document_id_strategy == "uuid"
    with pytest.raises(pydantic.ValidationError) as caught:
        MongoSinkConfig.model_validate({**base, "writemodel.strategy": "upsert-everything"})
    errors = field_errors(caught.value)
    assert [e.key for e in errors] == ["writemodel.strategy"]
    assert "unknown write model strategy 'upsert-everything'" in errors[0].message
