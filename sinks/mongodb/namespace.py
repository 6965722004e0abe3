"""Where each record goes: mongo-kafka's namespace mappers.

``default``: the topic's ``database`` and ``collection`` (with ``${topic}``), the same for
every record of a topic. ``field-path``: the database and/or collection are read, per
record, from a dotted path of the record's key or value; a part without a path keeps its
default.
"""

from __future__ import annotations

import typing as t

from headwater.connectors.api import SinkRecord
from headwater.connectors.errors import RecordError
from headwater.sinks.mongodb.config import MongoSinkConfig

__all__ = ["NamespaceMapper"]

Namespace: t.TypeAlias = tuple[str, str]

# MongoDB's limits: a database name has no "/\\. \"$" and at most 63 bytes; a collection
# name is not empty, has no "$" and does not start with "system.".
_BAD_DATABASE_CHARS = frozenset('/\\. "$')


class NamespaceMapper:
    """Maps a record to its (database, collection); built once per topic by the task."""

    def __init__(self, settings: MongoSinkConfig, topic: str) -> None:
        self.default: Namespace = settings.namespace(topic)
        self._paths: list[tuple[int, str, tuple[str, ...]]] = []
        if settings.namespace_mapper == "field-path":
            for index, part in enumerate(("database", "collection")):
                for kind in ("key", "value"):
                    path = getattr(settings, f"namespace_mapper_{kind}_{part}_field")
                    if path:
                        self._paths.append((index, kind, tuple(path.split("."))))
        self.error_if_invalid = settings.namespace_mapper_error_if_invalid

    def map(self, record: SinkRecord) -> Namespace:
        """The record's namespace.

        Raises:
            RecordError: with ``namespace.mapper.error.if.invalid``, when a mapped field is
                missing, not a string, or not a valid MongoDB name.
        """
        if not self._paths:
            return self.default
        parts = list(self.default)
        for index, kind, path in self._paths:
            value: t.Any = record.key if kind == "key" else record.value
            for name in path:
                value = value.get(name) if isinstance(value, dict) else None
            problem = _invalid(value, "database" if index == 0 else "collection")
            if problem is None:
                parts[index] = value
            elif self.error_if_invalid:
                field = f"namespace.mapper.{kind}.{'database' if index == 0 else 'collection'}.field"
                msg = f"{kind} field {'.'.join(path)!r} ({field}) {problem}"
                raise RecordError(msg, record=record, location=f"{record.topic}-{record.partition}@{record.offset}")
        return parts[0], parts[1]


def _invalid(value: t.Any, part: str) -> str | None:
    """Why ``value`` cannot name a database or collection, or None."""
    if value is None:
        return "is missing"
    if not isinstance(value, str) or not value:
        return f"is {value!r}, not a non-empty string"
    if part == "database" and (set(value) & _BAD_DATABASE_CHARS or len(value.encode()) > 63):
        return f"is {value!r}, not a valid database name"
    if part == "collection" and ("$" in value or value.startswith("system.")):
        return f"is {value!r}, not a valid collection name"
    return None
