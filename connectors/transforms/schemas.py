"""Schema rewriting for transformations of records that carry a schema (pure helpers).

With a schema, Kafka Connect's transformations rewrite it alongside the data: a struct
loses, gains or renames fields, a cast changes a field's type. Struct values are dicts in
both cases, so each transformation computes the data as without a schema and the new
schema with these helpers. Derived schemas keep the original's name, version, doc and
optionality, as Kafka Connect's ``SchemaUtil.copySchemaBasics`` does.
"""

from __future__ import annotations

import dataclasses
import typing as t

from headwater.codecs import schema as s
from headwater.connectors.errors import RecordError

__all__ = ["field_schema", "is_envelope_schema", "require_struct", "unwrapped_schema", "value_to_key", "with_fields"]

CAST_SCHEMAS = {
    "int8": s.INT8,
    "int16": s.INT16,
    "int32": s.INT32,
    "int64": s.INT64,
    "float32": s.FLOAT32,
    "float64": s.FLOAT64,
    "boolean": s.BOOLEAN,
    "string": s.STRING,
}
"""Cast's target types as schemas."""


def require_struct(schema: s.Schema, purpose: str) -> s.Schema:
    """``schema`` if it is a struct, else a :class:`RecordError` in Kafka Connect's words."""
    if schema.type is not s.Type.STRUCT:
        msg = f"only struct schemas are supported for [{purpose}], found {s.describe(schema)}"
        raise RecordError(msg)
    return schema


def with_fields(schema: s.Schema, pairs: t.Iterable[tuple[str, s.Schema]]) -> s.Schema:
    """A copy of struct ``schema`` (name, version, doc, optionality kept) with ``pairs`` as its fields."""
    items = list(pairs)
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        msg = f"the transformed struct would have duplicate fields {duplicates}"
        raise RecordError(msg)
    return dataclasses.replace(
        schema, fields=tuple(s.Field(name, index, field) for index, (name, field) in enumerate(items))
    )


def field_schema(schema: s.Schema, name: str, purpose: str) -> s.Schema:
    """The schema of struct field ``name``; a :class:`RecordError` when there is none."""
    found = require_struct(schema, purpose).field(name)
    if found is None:
        msg = f"unknown field {name!r} for [{purpose}] (the schema has {', '.join(schema.field_names) or 'no fields'})"
        raise RecordError(msg)
    return found.schema


def keep_optional(original: s.Schema, new: s.Schema) -> s.Schema:
    """``new``, optional if ``original`` was."""
    return new.optional() if original.is_optional else new


def value_to_key(fields: t.Sequence[str], value: t.Any, schema: s.Schema) -> tuple[dict[str, t.Any], s.Schema]:
    """ValueToKey with a schema: the key struct and its schema (the value's field schemas)."""
    pairs = [(name, field_schema(schema, name, "copying fields from value to key")) for name in fields]
    values = value if isinstance(value, t.Mapping) else {}
    return {name: values.get(name) for name in fields}, s.struct(pairs)


def is_envelope_schema(schema: s.Schema) -> bool:
    """A Debezium change-event schema: named ``*.Envelope``, or a struct with op, before and after."""
    if schema.type is not s.Type.STRUCT:
        return False
    if schema.name and schema.name.endswith(".Envelope"):
        return True
    return all(schema.field(name) is not None for name in ("op", "before", "after"))


def unwrapped_schema(
    envelope: s.Schema,
    *,
    deleted: bool,
    fields: t.Sequence[tuple[str | None, str, str]],
    rewrite: bool,
) -> s.Schema:
    """The row schema ExtractNewRecordState writes: ``after`` (``before`` for a rewritten delete),
    plus the ``add.fields`` metadata and ``__deleted`` when deletes are rewritten."""
    row = envelope.field("before" if deleted else "after") or envelope.field("after")
    if row is None:
        msg = "the change event's schema has no after field"
        raise RecordError(msg)
    pairs = [(item.name, item.schema) for item in row.schema.fields]
    for struct_name, name, output in fields:
        holder = envelope
        if struct_name is not None:
            holder = field_schema(envelope, struct_name, "add.fields")
        elif envelope.field(name) is None and envelope.field("source") is not None:
            holder = field_schema(envelope, "source", "add.fields")
        pairs.append((output, field_schema(holder, name, "add.fields").optional()))
    if rewrite:
        pairs.append(("__deleted", s.STRING.optional()))
    return with_fields(row.schema, pairs)
