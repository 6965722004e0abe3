"""Change events as Debezium writes them: source block, initial loads, schema names, decimals."""

from __future__ import annotations

import typing as t

import pytest

from headwater.codecs.envelope import ChangeEvent, Op, as_snapshot_read, fold, source_block
from headwater.connectors.api import SourceRecord
from headwater.connectors.datagen.client import TableGenerator, final_state
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.datagen.task import DatagenTask
from headwater.connectors.transforms import build_transforms
from headwater.connectors.version import HEADWATER_VERSION


class _NoOffsets:
    def offset(self, partition: t.Any) -> None:
        return None


def _poll_all(**settings: t.Any) -> list[SourceRecord]:
    from headwater.connectors.api import SourceTaskContext

    config = DatagenConfig.model_validate(settings)
    task = DatagenTask(config, SourceTaskContext("dg", 0, _NoOffsets()))
    out: list[SourceRecord] = []
    while batch := task.poll():
        out.extend(batch)
    return out


def test_source_block_has_debeziums_common_fields_first() -> None:
    block = source_block(version="1.0", connector="x", name="shop", ts_ms=5, table="t")
    assert list(block) == ["version", "connector", "name", "ts_ms", "snapshot", "table"]
    assert block["snapshot"] == "false"


def test_datagen_events_carry_version_name_and_source_time() -> None:
    event = TableGenerator("orders", seed=1, keys=10, name="shop").next_event()
    assert event.source["version"] == HEADWATER_VERSION
    assert event.source["connector"] == "datagen"
    assert event.source["name"] == "shop"
    assert event.source["ts_ms"] == event.ts_ms
    assert event.source["snapshot"] == "false"


def test_datagen_initial_rows_are_reads_marked_true_then_last() -> None:
    records = _poll_all(**{"topic.prefix": "shop", "tables": "customers", "count": "12", "keys": "8",
                           "initial.rows": "5"})  # fmt: skip
    values = [r.value for r in records if r.value is not None]
    assert [v["op"] for v in values[:5]] == ["r"] * 5
    assert [v["source"]["snapshot"] for v in values[:5]] == ["true", "true", "true", "true", "last"]
    assert all(v["before"] is None for v in values[:5])
    assert sorted(r.key["id"] for r in records[:5]) == [0, 1, 2, 3, 4]
    assert all(v["op"] != "r" and v["source"]["snapshot"] == "false" for v in values[5:])
    # the stream still folds to the generator's final state
    messages = [(r.key, r.value) for r in records]
    expected = final_state("customers", seed=42, keys=8, count=12, initial_rows=5)
    assert fold(messages) == expected


def test_initial_rows_cannot_exceed_keys() -> None:
    with pytest.raises(ValueError, match=r"initial.rows \(9\) cannot exceed keys \(8\)"):
        DatagenConfig.model_validate({"keys": "8", "initial.rows": "9"})


def test_datagen_schemas_are_named_as_debezium_names_them_and_fit_every_event() -> None:
    records = _poll_all(**{"topic.prefix": "shop", "count": "600", "keys": "30", "initial.rows": "3"})
    seen = set()
    for record in records:
        table = record.topic.split(".", 1)[1]
        assert record.key_schema is not None and record.key_schema.name == f"shop.{table}.Key"
        record.key_schema.validate(record.key)
        if record.value is None:
            assert record.value_schema is None  # a tombstone has no schema, as in Debezium
            continue
        assert record.value_schema is not None
        assert record.value_schema.name == f"shop.{table}.Envelope"
        assert record.value_schema.field("after").schema.name == f"shop.{table}.Value"
        record.value_schema.validate(record.value)
        seen.add(table)
    assert seen == {"customers", "orders", "products"}
    money = records[0].value_schema.field("after").schema.field("balance").schema
    assert (money.scale, money.precision) == (2, 10)


def test_unwrap_on_datagen_keeps_the_value_schema_name() -> None:
    chain = build_transforms({"transforms": "u", "transforms.u.type": "unwrap", "transforms.u.add.fields": "op"})
    records = _poll_all(**{"topic.prefix": "shop", "tables": "products", "count": "5", "initial.rows": "2"})
    out = chain.apply(records[0])
    assert out is not None and out.value_schema is not None
    assert out.value_schema.name == "shop.products.Value"
    assert out.value["__op"] == "r"
    out.value_schema.validate(out.value)


def test_as_snapshot_read_refuses_a_delete() -> None:
    delete = ChangeEvent(Op.DELETE, {"id": 1}, {"id": 1}, None, {}, 0)
    with pytest.raises(ValueError, match="initial load"):
        as_snapshot_read(delete, last=False)
