"""The key and value schemas of the ``mainframe-copybook`` source's records.

Derived once per task from the copybook layout (:mod:`headwater.codecs.copybook.schema`)
and the config, then attached to every record, so converters never infer them: one topic
has one value schema whatever nulls, REDEFINES alternatives or empty OCCURS its records hold.
"""

from __future__ import annotations

import typing as t

from headwater.codecs import schema as s
from headwater.codecs.copybook.schema import hierarchy_schema, key_schema, record_schema
from headwater.codecs.envelope import source_schema
from headwater.codecs.schema import Schema

if t.TYPE_CHECKING:
    from headwater.codecs.copybook import DecodePlan
    from headwater.connectors.mainframe.config import MainframeCopybookConfig

__all__ = ["SOURCE_SCHEMA", "record_schemas"]

SOURCE_SCHEMA = source_schema(
    "mainframe-copybook",
    {
        "file": s.STRING.optional(),
        "record": s.INT64.optional(),
        "offset": s.INT64.optional(),
        "generation": s.STRING.optional(),
    },
)
"""The ``source`` block of the change events: Debezium's common fields (``version``,
``connector``, ``name``, ``ts_ms``, ``snapshot``), then the file position (keep in step with
the task's ``_source``); a snapshot-diff delete has no record number or offset."""

FILE_KEY = {"file": s.STRING, "record": s.INT64}


def record_schemas(
    config: MainframeCopybookConfig, plan: DecodePlan, key_paths: t.Sequence[tuple[str, ...]]
) -> tuple[Schema | None, Schema | None]:
    """``(key_schema, value_schema)`` of the task's records.

    With ``segment.children`` the rows are hierarchies: child segments nested as arrays in
    their parents' groups (:func:`~headwater.codecs.copybook.schema.hierarchy_schema`).
    """
    topic = config.topic
    if config.segment_children:
        row = hierarchy_schema(plan, name=f"{topic}.Value")
    else:
        row = record_schema(plan, name=f"{topic}.Value")
    if config.field_types:
        from headwater.connectors.mainframe.field_types import FieldTypes

        row = FieldTypes(config.field_types, config.layout()).rewrite_schema(row)
    key = key_schema(row, key_paths, name=f"{topic}.Key") if key_paths else s.struct(FILE_KEY, name=f"{topic}.Key")
    return key, s.envelope(row, SOURCE_SCHEMA, name=f"{topic}.Envelope")
