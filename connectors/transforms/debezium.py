"""Debezium's ``io.debezium.transforms.ExtractNewRecordState`` (the "unwrap" SMT).

Replaces a change event's envelope with its row (``after``; ``before`` for a rewritten
delete), so that sinks that want flat rows get them. Deletes and tombstones follow
``delete.tombstone.handling.mode`` (Debezium 2.5+):

- ``tombstone`` (the default): a delete becomes a tombstone (same key, null value); the
  source's own tombstones are dropped;
- ``drop``: deletes and tombstones are dropped;
- ``rewrite``: a delete becomes its ``before`` row plus ``__deleted: "true"``, every other
  row gets ``__deleted: "false"``; tombstones are dropped;
- ``rewrite-with-tombstone``: as ``rewrite``, and tombstones are kept.

The deprecated pair ``drop.tombstones`` (default true) and ``delete.handling.mode``
(``drop`` default, ``rewrite``, ``none``: the delete becomes a null value) is honoured
when set instead. Truncate events (``op: "t"``) have no row: they are dropped, except
under ``rewrite-with-tombstone``, which passes them unchanged, as Debezium does.
Records that are not change events (no ``op``/``before``/``after``) pass unchanged.

``add.fields`` / ``add.headers`` copy envelope metadata: ``op,table,source.ts_ms`` adds
``__op``, ``__table`` and ``__source_ts_ms`` (``name:NEW`` renames); a plain name is looked
up in the envelope first (``op``, ``ts_ms``), then in its ``source`` block.
"""

from __future__ import annotations

import typing as t

from pydantic import model_validator

from headwater.codecs import schema as s
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import RecordError
from headwater.connectors.transforms import schemas
from headwater.connectors.transforms.base import Record, Transformation, header_bytes, replace
from headwater.connectors.transforms.fields import csv

__all__ = ["ExtractNewRecordState"]

DELETED_FIELD = "__deleted"
DeleteTombstoneMode: t.TypeAlias = t.Literal["drop", "tombstone", "rewrite", "rewrite-with-tombstone"]


class ExtractNewRecordStateConfig(PluginConfig):
    delete_tombstone_handling_mode: DeleteTombstoneMode | None = None
    """``tombstone`` (default), ``drop``, ``rewrite`` or ``rewrite-with-tombstone``."""
    drop_tombstones: bool | None = None
    """Deprecated (use delete.tombstone.handling.mode): drop the source's tombstones (default true)."""
    delete_handling_mode: t.Literal["drop", "rewrite", "none"] | None = None
    """Deprecated (use delete.tombstone.handling.mode): ``drop`` (default), ``rewrite`` or ``none``."""
    add_fields: str = ""
    """Envelope fields to add to the row, e.g. ``op,table,source.ts_ms`` (``name:NEW`` renames)."""
    add_fields_prefix: str = "__"
    """Prefix of the added fields' names."""
    add_headers: str = ""
    """Envelope fields to add as headers, same syntax as ``add.fields``."""
    add_headers_prefix: str = "__"
    """Prefix of the added headers' names."""
    route_by_field: str = ""
    """A row field whose value becomes the topic."""
    replace_null_with_default: bool = True
    """With a schema: a null field takes its schema default."""

    @model_validator(mode="after")
    def _not_both(self) -> ExtractNewRecordStateConfig:
        legacy = self.drop_tombstones is not None or self.delete_handling_mode is not None
        if self.delete_tombstone_handling_mode is not None and legacy:
            msg = (
                "set delete.tombstone.handling.mode or the deprecated drop.tombstones / delete.handling.mode, not both"
            )
            raise ValueError(msg)
        for spec in csv(self.add_fields) + csv(self.add_headers):
            path, _, rename = spec.partition(":")
            if not path or path.count(".") > 1 or (":" in spec and not rename):
                msg = f"{spec!r} is not field, struct.field or field:NEW_NAME"
                raise ValueError(msg)
        return self


def _metadata_specs(spec: str, prefix: str) -> list[tuple[str | None, str, str]]:
    """(struct or None, field, output name) for each entry of add.fields / add.headers."""
    out = []
    for item in csv(spec):
        path, _, rename = item.partition(":")
        struct, _, field = path.rpartition(".")
        default = f"{prefix}{struct}_{field}" if struct else f"{prefix}{field}"
        out.append((struct or None, field, rename or default))
    return out


def is_envelope(value: t.Any) -> bool:
    """True for a Debezium change-event value (schemaless: a map with op, before and after)."""
    return (
        (type(value) is dict or isinstance(value, t.Mapping))
        and "op" in value
        and "after" in value
        and ("before" in value)
    )


class ExtractNewRecordState(Transformation):
    """Flattens change events to their row state; see the module docstring for the modes."""

    config_class = ExtractNewRecordStateConfig
    aliases = ("io.debezium.transforms.ExtractNewRecordState", "ExtractNewRecordState", "unwrap")

    def __init__(self, config: ExtractNewRecordStateConfig) -> None:
        super().__init__(config)
        mode = config.delete_tombstone_handling_mode
        legacy = config.drop_tombstones is not None or config.delete_handling_mode is not None
        self.deletes: t.Literal["drop", "tombstone", "rewrite"]
        if legacy:
            legacy_mode = config.delete_handling_mode or "drop"
            self.deletes = "tombstone" if legacy_mode == "none" else legacy_mode
            self.keep_tombstones = config.drop_tombstones is False
        else:
            mode = mode or "tombstone"
            self.deletes = "rewrite" if mode in ("rewrite", "rewrite-with-tombstone") else t.cast(t.Any, mode)
            self.keep_tombstones = mode == "rewrite-with-tombstone"
        self.fields = _metadata_specs(config.add_fields, config.add_fields_prefix)
        self.headers = _metadata_specs(config.add_headers, config.add_headers_prefix)
        self.route_by = config.route_by_field
        self._schemas: dict[tuple[int, bool], tuple[s.Schema, s.Schema]] = {}

    def apply(self, record: Record) -> Record | None:
        envelope = record.value
        if envelope is None:
            return record if self.keep_tombstones else None
        envelope_schema = record.value_schema
        if envelope_schema is not None and not schemas.is_envelope_schema(envelope_schema):
            return record
        if not is_envelope(envelope):
            return record
        op = envelope.get("op")
        if op == "t":
            return record if self.keep_tombstones else None
        headers = record.headers
        if self.headers:
            extra = tuple(
                (name, header_bytes(_lookup(envelope, struct, field))) for struct, field, name in self.headers
            )
            headers = (*headers, *extra)
        deleted = envelope.get("after") is None
        if deleted and self.deletes == "drop":
            return None
        if deleted and self.deletes == "tombstone":
            return replace(record, value=None, value_schema=None, headers=headers)
        state = envelope.get("before") if deleted else envelope["after"]
        if not isinstance(state, t.Mapping):
            msg = f"a change event with op {op!r} needs a {'before' if deleted else 'after'} row to unwrap"
            raise RecordError(msg)
        row = dict(state)
        for struct, field, name in self.fields:
            row[name] = _lookup(envelope, struct, field)
        if self.deletes == "rewrite":
            row[DELETED_FIELD] = "true" if deleted else "false"
        topic = record.topic
        if self.route_by and row.get(self.route_by) is not None:
            topic = str(row[self.route_by])
        new_schema = None
        if envelope_schema is not None:
            new_schema = self._row_schema(envelope_schema, deleted)
        return replace(record, topic=topic, value=row, value_schema=new_schema, headers=headers)

    def _row_schema(self, envelope_schema: s.Schema, deleted: bool) -> s.Schema:
        """The unwrapped row's schema, remembered per envelope schema object (sources reuse theirs)."""
        cache_key = (id(envelope_schema), deleted)
        cached = self._schemas.get(cache_key)
        if cached is None or cached[0] is not envelope_schema:
            row = schemas.unwrapped_schema(
                envelope_schema, deleted=deleted, fields=self.fields, rewrite=self.deletes == "rewrite"
            )
            if len(self._schemas) >= 1_000:
                self._schemas.clear()
            cached = self._schemas[cache_key] = (envelope_schema, row)
        return cached[1]


def _lookup(envelope: t.Mapping[str, t.Any], struct: str | None, field: str) -> t.Any:
    if struct is None and field in envelope:
        return envelope[field]
    block = envelope.get(struct or "source")
    return block.get(field) if type(block) is dict or isinstance(block, t.Mapping) else None
