"""Debezium's ExtractNewRecordState on Headwater's change events, deletes and tombstones included."""

from __future__ import annotations

import typing as t

import pytest

from headwater.codecs import schema as s
from headwater.codecs.envelope import ChangeEvent, Op, canonical_key, to_messages
from headwater.connectors.api import SourceRecord
from headwater.connectors.datagen.client import TableGenerator, final_state
from headwater.connectors.errors import ConfigError
from headwater.connectors.transforms import TransformChain, build_transforms

SOURCE = {"version": "0.1.0", "connector": "datagen", "name": "shop", "ts_ms": 1_700_000_000_000,
          "snapshot": "false", "table": "customers", "seq": 7}  # fmt: skip


def unwrap(**settings: str) -> TransformChain:
    flat = {"transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState"}
    flat.update({f"transforms.unwrap.{key}": value for key, value in settings.items()})
    return build_transforms(flat)


def records(event: ChangeEvent, value_schema: s.Schema | None = None) -> list[SourceRecord]:
    return [
        SourceRecord(
            {"table": "customers"},
            {"seq": 1},
            "shop.customers",
            key,
            value,
            value_schema=value_schema if value is not None else None,
        )
        for key, value in to_messages(event)
    ]


ROW = {"id": 1, "name": "Ada"}
CREATE = ChangeEvent(Op.CREATE, {"id": 1}, None, ROW, SOURCE, 1_700_000_000_500)
UPDATE = ChangeEvent(Op.UPDATE, {"id": 1}, ROW, {"id": 1, "name": "Grace"}, SOURCE, 1_700_000_000_600)
DELETE = ChangeEvent(Op.DELETE, {"id": 1}, {"id": 1, "name": "Grace"}, None, SOURCE, 1_700_000_000_700)


def run(chain: TransformChain, event: ChangeEvent) -> list[tuple[t.Any, t.Any]]:
    out = [chain.apply(record) for record in records(event)]
    return [(record.key, record.value) for record in out if record is not None]


def test_default_turns_a_delete_into_a_tombstone_and_drops_the_original_tombstone() -> None:
    chain = unwrap()
    assert run(chain, CREATE) == [({"id": 1}, ROW)]
    assert run(chain, UPDATE) == [({"id": 1}, {"id": 1, "name": "Grace"})]
    assert run(chain, DELETE) == [({"id": 1}, None)]


def test_drop_removes_deletes_and_tombstones() -> None:
    chain = unwrap(**{"delete.tombstone.handling.mode": "drop"})
    assert run(chain, DELETE) == []
    assert run(chain, CREATE) == [({"id": 1}, ROW)]


def test_rewrite_marks_every_row_with_deleted() -> None:
    chain = unwrap(**{"delete.tombstone.handling.mode": "rewrite"})
    assert run(chain, UPDATE) == [({"id": 1}, {"id": 1, "name": "Grace", "__deleted": "false"})]
    assert run(chain, DELETE) == [({"id": 1}, {"id": 1, "name": "Grace", "__deleted": "true"})]


def test_rewrite_with_tombstone_keeps_the_tombstone() -> None:
    chain = unwrap(**{"delete.tombstone.handling.mode": "rewrite-with-tombstone"})
    assert run(chain, DELETE) == [({"id": 1}, {"id": 1, "name": "Grace", "__deleted": "true"}), ({"id": 1}, None)]


def test_deprecated_keys_keep_their_meaning() -> None:
    legacy_default = unwrap(**{"drop.tombstones": "true"})  # delete.handling.mode defaults to drop
    assert run(legacy_default, DELETE) == []
    keep_all = unwrap(**{"drop.tombstones": "false", "delete.handling.mode": "none"})
    assert run(keep_all, DELETE) == [({"id": 1}, None), ({"id": 1}, None)]
    rewrite = unwrap(**{"delete.handling.mode": "rewrite"})
    assert run(rewrite, DELETE) == [({"id": 1}, {"id": 1, "name": "Grace", "__deleted": "true"})]
    with pytest.raises(ConfigError, match="not both"):
        unwrap(**{"drop.tombstones": "false", "delete.tombstone.handling.mode": "drop"})


def test_add_fields_and_headers_from_the_envelope_and_its_source_block() -> None:
    chain = unwrap(**{"add.fields": "op,table,source.ts_ms,version:VERSION", "add.headers": "op,db.missing"})
    [record] = [r for r in (chain.apply(x) for x in records(UPDATE)) if r is not None]
    assert record.value == {"id": 1, "name": "Grace", "__op": "u", "__table": "customers",
                            "__source_ts_ms": 1_700_000_000_000, "VERSION": "0.1.0"}  # fmt: skip
    assert record.headers == (("__op", b"u"), ("__db_missing", b""))
    prefixed = unwrap(**{"add.fields": "op", "add.fields.prefix": "cdc_", "delete.tombstone.handling.mode": "rewrite"})
    assert run(prefixed, DELETE) == [({"id": 1}, {"id": 1, "name": "Grace", "cdc_op": "d", "__deleted": "true"})]


def test_route_by_field_and_non_envelopes() -> None:
    chain = unwrap(**{"route.by.field": "name"})
    out = chain.apply(records(UPDATE)[0])
    assert out is not None and out.topic == "Grace"
    plain = SourceRecord({}, {}, "t", None, {"not": "an envelope"})
    assert chain.apply(plain) is plain


def test_a_delete_without_its_before_row_is_a_record_error() -> None:
    from headwater.connectors.transforms import TransformError

    chain = unwrap(**{"delete.tombstone.handling.mode": "rewrite"})
    broken = SourceRecord({}, {}, "t", {"id": 1}, {"op": "d", "before": None, "after": None, "source": {}})
    with pytest.raises(TransformError, match="op 'd' needs a before row"):
        chain.apply(broken)


def test_with_a_schema_the_row_schema_carries_the_added_fields() -> None:
    row = s.struct({"id": s.INT32, "name": s.STRING.optional()}, name="shop.customers.Value", optional=True)
    source_schema = s.struct({"version": s.STRING, "connector": s.STRING, "name": s.STRING, "ts_ms": s.INT64,
                              "snapshot": s.STRING.optional(), "table": s.STRING, "seq": s.INT64})  # fmt: skip
    envelope = s.struct({"before": row, "after": row, "source": source_schema, "op": s.STRING, "ts_ms": s.INT64},
                        name="shop.customers.Envelope")  # fmt: skip
    chain = unwrap(**{"add.fields": "op,source.ts_ms", "delete.tombstone.handling.mode": "rewrite"})
    out = chain.apply(records(DELETE, envelope)[0])
    assert out is not None
    assert out.value_schema.name == "shop.customers.Value"
    assert out.value_schema.field_names == ("id", "name", "__op", "__source_ts_ms", "__deleted")
    out.value_schema.validate(out.value)


def test_unwrapped_datagen_stream_folds_to_the_same_final_state() -> None:
    """What a sink relies on: applying the flat rows (tombstone = delete) gives the table."""
    generator = TableGenerator("customers", seed=3, keys=20)
    chain = unwrap()
    state: dict[str, t.Any] = {}
    for _ in range(400):
        for record in records(generator.next_event()):
            out = chain.apply(record)
            if out is None:
                continue
            if out.value is None:
                state.pop(canonical_key(out.key), None)
            else:
                state[canonical_key(out.key)] = out.value
    assert state == final_state("customers", seed=3, keys=20, count=400)
