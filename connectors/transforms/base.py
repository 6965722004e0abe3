"""The single-message-transform contract (Kafka Connect's ``Transformation`` and ``Predicate``).

A transformation is built once per connector from its validated settings and then
called by the runtime's task threads, one record at a time: on the source path after
``poll()`` and before the converters, on the sink path after the converters and before
``put()``. ``apply(record)`` returns a new record, or None to drop it; it must be pure
(no I/O, no state that changes what it returns; memo caches are fine), so one instance
may serve every task of a connector from several threads at once.

Records are the frozen :class:`~headwater.connectors.api.SourceRecord` and
:class:`~headwater.connectors.api.SinkRecord`; a transformation builds its result with
:func:`dataclasses.replace` and works on both. Without a schema, structured values are
plain ``dict``s (Kafka Connect's schemaless maps); with a schema (``key_schema`` /
``value_schema`` on the record, when present), a transformation rewrites the schema too.

A transformation that cannot handle a record raises :class:`RecordError`; the chain
wraps it (and any other exception) into :class:`TransformError` naming the transform,
and the runtime applies ``errors.tolerance``.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import decimal
import typing as t

from headwater.codecs.converters import to_json_bytes
from headwater.codecs.schema import Schema
from headwater.connectors.api import SinkRecord, SourceRecord
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import RecordError

__all__ = [
    "NoConfig",
    "Predicate",
    "Record",
    "TransformError",
    "Transformation",
    "header_bytes",
    "record_partition",
    "replace",
    "require_map",
    "schema_of",
]

Record = t.TypeVar("Record", SourceRecord, SinkRecord)
AnyRecord: t.TypeAlias = SourceRecord | SinkRecord


class NoConfig(PluginConfig):
    """A transformation or predicate without settings (any key is refused)."""


class Transformation(abc.ABC):
    """Kafka Connect's ``Transformation<R>``: one record in, one record or None out.

    Subclasses set ``config_class`` (a :class:`PluginConfig` with dotted keys, unknown keys
    refused) and implement :meth:`apply`. ``__init__`` receives the validated config and
    may raise ``ValueError`` for a combination of keys that is wrong together; the chain
    builder reports it against ``transforms.<alias>``.
    """

    config_class: t.ClassVar[type[PluginConfig]] = NoConfig
    aliases: t.ClassVar[tuple[str, ...]] = ()
    """Names ``transforms.<alias>.type`` accepts: Kafka Connect's class name first."""

    def __init__(self, config: PluginConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def apply(self, record: Record) -> Record | None:
        """The transformed record, or None to drop it.

        Called from a task thread, once per record, in order. Must not do I/O or keep
        per-record state. Raises :class:`RecordError` for a record it cannot transform.
        """

    @classmethod
    def class_name(cls) -> str:
        """The name the dead-letter headers carry: the first alias (Kafka Connect's class name)."""
        return cls.aliases[0] if cls.aliases else f"{cls.__module__}.{cls.__qualname__}"


class Predicate(abc.ABC):
    """Kafka Connect's ``Predicate<R>``: decides whether a transformation applies to a record."""

    config_class: t.ClassVar[type[PluginConfig]] = NoConfig
    aliases: t.ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: PluginConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def test(self, record: AnyRecord) -> bool:
        """True if the record matches. Same rules as :meth:`Transformation.apply`."""

    @classmethod
    def class_name(cls) -> str:
        return cls.aliases[0] if cls.aliases else f"{cls.__module__}.{cls.__qualname__}"


class TransformError(RecordError):
    """A transformation (or its predicate) failed on one record.

    ``alias`` is the ``transforms.<alias>`` it failed in and ``class_name`` its type,
    which the dead-letter record carries in ``__connect.errors.class.name``.
    """

    def __init__(self, message: str, *, alias: str, class_name: str, record: t.Any = None) -> None:
        super().__init__(message, record=record, location=f"transform {alias!r} ({class_name})")
        self.alias = alias
        self.class_name = class_name


def require_map(value: t.Any, purpose: str) -> dict[str, t.Any]:
    """``value`` as a (new) dict, or a :class:`RecordError` in Kafka Connect's words."""
    if type(value) is dict:
        return value.copy()
    if not isinstance(value, t.Mapping):
        msg = f"only maps are supported without a schema for [{purpose}], found {type(value).__name__}"
        raise RecordError(msg)
    return dict(value)


def record_partition(record: AnyRecord) -> int | None:
    """The Kafka partition of a record: the consumed one, or the one a source asked for."""
    if isinstance(record, SinkRecord):
        return record.partition
    return record.kafka_partition


def header_bytes(value: t.Any) -> bytes:
    """A header value as bytes, the way Kafka Connect's ``SimpleHeaderConverter`` writes it.

    Strings as UTF-8, bytes unchanged, booleans ``true``/``false``, numbers in their
    text form, dates in ISO 8601, maps and lists as JSON. ``None`` becomes an empty value
    (Headwater's header tuples carry bytes).
    """
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, (int, float, decimal.Decimal)):
        return str(value).encode()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat().encode()
    return to_json_bytes(value)


_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}


def replace(record: Record, **changes: t.Any) -> Record:
    """A copy of ``record`` with ``changes`` (what ``dataclasses.replace`` does, at a fifth of its cost:
    records are frozen, and this runs several times per record)."""
    cls = type(record)
    known = _FIELDS.get(cls)
    if known is None:
        names = tuple(field.name for field in dataclasses.fields(record))
        known = _FIELDS[cls] = (names, frozenset(names))
    names = known[0]
    unknown = changes.keys() - known[1]
    if unknown:
        msg = f"{cls.__name__} has no field {sorted(unknown)[0]!r}"
        raise TypeError(msg)
    return cls(*[changes[name] if name in changes else getattr(record, name) for name in names])


def schema_of(record: AnyRecord, part: str) -> Schema | None:
    """The record's ``key_schema`` or ``value_schema`` (None for a schemaless record)."""
    return record.key_schema if part == "key" else record.value_schema
