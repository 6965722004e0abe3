"""``field.types``: numeric and text fields read as dates and times (see :mod:`headwater.codecs.temporal`)."""

from __future__ import annotations

import dataclasses
import typing as t

from headwater.codecs.temporal import TemporalField, parse_field_types

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from headwater.codecs.copybook import DecodeError, Layout, RawRecord
    from headwater.codecs.schema import Schema

__all__ = ["FieldTypes"]

Decoded: t.TypeAlias = "tuple[RawRecord, dict[str, t.Any] | None, DecodeError | None]"


class FieldTypes:
    """The declared fields of one layout, applied to decoded rows in place.

    Built once per task; :meth:`apply` runs on the task's thread for each decoded chunk.
    """

    def __init__(self, spec: str, layout: Layout) -> None:
        from headwater.connectors.mainframe.config import key_path

        self.fields = [(key_path(layout, item.name), item) for item in parse_field_types(spec)]

    def __bool__(self) -> bool:
        return bool(self.fields)

    def rewrite_schema(self, row: Schema) -> Schema:
        """``row`` (the layout's record schema) with each declared field's schema replaced by
        its Connect logical type (optional Date, Time or Timestamp), so that the schema the
        records carry fits the values :meth:`apply` produces."""
        for path, item in self.fields:
            row = _replace_at(row, path, item.schema)
        return row

    def apply(self, decoded: Iterator[Decoded], source: str) -> Iterator[Decoded]:
        """Each decoded row with its declared fields converted; a value that does not fit
        its pattern turns the record into a bad record naming the field."""
        from headwater.codecs.copybook import DecodeError

        for raw, row, error in decoded:
            if row is not None:
                try:
                    self._convert(row)
                except _Bad as bad:
                    reason = f"not a {bad.item.kind} ({bad.item.pattern}): {bad.reason}"
                    yield raw, None, DecodeError(reason, source=source, record_number=raw.number,
                                                 byte_offset=raw.offset, field=bad.item.name, raw=b"")  # fmt: skip
                    continue
            yield raw, row, error

    def _convert(self, row: dict[str, t.Any]) -> None:
        for path, item in self.fields:
            holder: t.Any = row
            for part in path[:-1]:
                holder = holder.get(part) if isinstance(holder, dict) else None
            if not isinstance(holder, dict) or path[-1] not in holder:
                continue
            try:
                holder[path[-1]] = item.convert(holder[path[-1]])
            except ValueError as exc:
                raise _Bad(item, str(exc)) from exc


def _replace_at(schema: Schema, path: t.Sequence[str], replacement: Schema) -> Schema:
    """``schema`` with the struct field at ``path`` given ``replacement`` (unchanged if absent)."""
    if not path or not schema.fields:
        return schema
    fields = []
    for field in schema.fields:
        if field.name == path[0]:
            inner = replacement if len(path) == 1 else _replace_at(field.schema, path[1:], replacement)
            field = dataclasses.replace(field, schema=inner)
        fields.append(field)
    return dataclasses.replace(schema, fields=tuple(fields))


class _Bad(Exception):
    def __init__(self, item: TemporalField, reason: str) -> None:
        super().__init__(reason)
        self.item = item
        self.reason = reason
