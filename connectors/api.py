"""The plugin contract: the only runtime module a plugin needs to import.

A source task ``poll()``s records that carry a source partition and a source offset; a
sink task ``put()``s records and ``flush()``es them; a connector splits its work with
``task_configs(max_tasks)``. Plugins never serialise and never store offsets: the runtime
converts values with the configured converters, produces them, and stores offsets only
after Kafka has acknowledged the records.
"""

from __future__ import annotations

import abc
import enum
import typing as t
from dataclasses import dataclass

from headwater.codecs.schema import Schema
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import RecordError

__all__ = [
    "Capability",
    "ErrantSourceRecord",
    "OffsetReader",
    "Plugin",
    "SinkConnector",
    "SinkRecord",
    "SinkTask",
    "SinkTaskContext",
    "SourceConnector",
    "SourceOffset",
    "SourcePartition",
    "SourceRecord",
    "SourceTask",
    "SourceTaskContext",
]

C = t.TypeVar("C", bound=PluginConfig)

JsonScalar: t.TypeAlias = str | int | bool | None
SourcePartition: t.TypeAlias = t.Mapping[str, JsonScalar]
"""Where a record comes from, e.g. ``{"file": "/data/CUST.VB"}``; JSON scalars only."""
SourceOffset: t.TypeAlias = t.Mapping[str, JsonScalar]
"""How far a partition has been read, e.g. ``{"record": 812, "byte": 40960}``.

JSON scalars only; big counters (an Oracle SCN) are strings, as Debezium stores them.
"""
Headers: t.TypeAlias = tuple[tuple[str, bytes], ...]


class Capability(enum.Enum):
    """What a plugin promises; the conformance suite runs the tests each one enables."""

    DELETES = "deletes"
    """Sources emit deletes (and tombstones); sinks apply them."""
    IDEMPOTENT_WRITES = "idempotent_writes"
    """Replaying records a sink already wrote leaves the target unchanged."""
    SNAPSHOT = "snapshot"
    """The source emits the initial state as ``op=r`` reads."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record a source task hands to the runtime.

    ``key`` and ``value`` are plain structured data (dicts, lists, str, int, Decimal,
    bool, None, bytes); the runtime's converters turn them into bytes. ``value=None`` is
    a tombstone. ``offset`` is the position *after* this record: resuming from it must
    not return this record again.

    ``timestamp_ms`` sets the Kafka record timestamp; leave it None (the producer's clock)
    unless the data is fresh: the broker's time-based retention deletes records whose
    timestamp is older than ``retention.ms`` as soon as it checks. The change event's own
    ``ts_ms`` carries the source time.
    """

    partition: SourcePartition
    offset: SourceOffset
    topic: str
    key: t.Any
    value: t.Any
    headers: Headers = ()
    timestamp_ms: int | None = None
    kafka_partition: int | None = None
    key_schema: Schema | None = None
    """The key's schema (:mod:`headwater.codecs.schema`); None lets the converter infer one."""
    value_schema: Schema | None = None
    """The value's schema, derived from the source's metadata; None lets the converter infer one."""


@dataclass(frozen=True, slots=True)
class ErrantSourceRecord:
    """An input record the source could not turn into a :class:`SourceRecord`.

    The task returns it from ``poll()`` in place of the record, so that the offset still
    advances past it. With ``errors.tolerance=all`` the runtime writes ``raw`` to the
    dead-letter topic with the error headers; with ``none`` the task fails with
    ``error``, which names the file, record and field.
    """

    partition: SourcePartition
    offset: SourceOffset
    error: RecordError
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class SinkRecord:
    """One Kafka record as a sink task sees it: coordinates plus converted key and value."""

    topic: str
    partition: int
    offset: int
    key: t.Any
    value: t.Any
    headers: Headers = ()
    timestamp_ms: int | None = None
    key_schema: Schema | None = None
    """The key's schema as the key converter read it (None for schemaless converters)."""
    value_schema: Schema | None = None
    """The value's schema as the value converter read it (None for schemaless converters)."""


class OffsetReader(t.Protocol):
    """Read access to the offsets the runtime has stored for a connector."""

    def offset(self, partition: SourcePartition) -> SourceOffset | None:
        """The last durable offset of ``partition``, or None if it was never committed."""
        ...


@dataclass(frozen=True, slots=True)
class SourceTaskContext:
    """What the runtime gives a source task at construction."""

    connector_name: str
    task_id: int
    offsets: OffsetReader


class ErrantRecordReporter(t.Protocol):
    """Receives records a sink could not write (Kafka Connect's ErrantRecordReporter)."""

    def __call__(self, record: SinkRecord, error: BaseException) -> None: ...


@dataclass(frozen=True, slots=True)
class SinkTaskContext:
    """What the runtime gives a sink task at construction.

    ``report(record, error)`` hands one bad record to the runtime: with
    ``errors.tolerance=all`` it goes to the dead-letter topic and the task carries on;
    with ``none`` the call raises, which fails the task with an error naming the record.
    """

    connector_name: str
    task_id: int
    report: ErrantRecordReporter


class Plugin(abc.ABC, t.Generic[C]):
    """A connector: validated config in, task configs out.

    Class attributes describe the plugin; ``name`` is also its ``connector.class`` alias
    and entry-point name.
    """

    name: t.ClassVar[str]
    config_class: t.ClassVar[type[PluginConfig]]
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset()
    description: t.ClassVar[str] = ""

    def __init__(self, config: C) -> None:
        self.config = config

    @abc.abstractmethod
    def task_configs(self, max_tasks: int) -> list[C]:
        """Split the work into at least one and at most ``max_tasks`` task configs.

        Called once by the worker when the connector starts, after the config was
        validated; each returned config builds one task.
        """


class SourceTask(abc.ABC, t.Generic[C]):
    """Reads an external system. Built by the runtime once per task start.

    All resume state comes from ``context.offsets``: after a crash the task is rebuilt
    and must continue after the last durable offset of each partition it owns.
    """

    def __init__(self, config: C, context: SourceTaskContext) -> None:
        self.config = config
        self.context = context

    @abc.abstractmethod
    def poll(self) -> t.Sequence[SourceRecord | ErrantSourceRecord]:
        """Return the records that are ready, in offset order per partition.

        Called in a loop by the runtime's task thread. Return ``[]`` when idle; never
        block for longer than about a second. Raise ``RetriableError`` for transient
        trouble (the runtime backs off and calls again).
        """

    def commit(self, offsets: t.Sequence[tuple[SourcePartition, SourceOffset]]) -> None:
        """Called by the runtime after these (partition, offset) pairs are durable.

        Optional: acknowledge upstream, e.g. move a finished file away. Never called
        for offsets that are not yet stored.
        """

    def close(self) -> None:
        """Release resources. Called once when the task stops, even after a failure."""


class SinkTask(abc.ABC, t.Generic[C]):
    """Writes records to an external system. Built by the runtime once per task start."""

    def __init__(self, config: C, context: SinkTaskContext) -> None:
        self.config = config
        self.context = context

    @abc.abstractmethod
    def put(self, records: t.Sequence[SinkRecord]) -> None:
        """Write or buffer ``records`` (in offset order per Kafka partition).

        Hand single bad records to ``context.report`` and go on. Raise
        ``RetriableError`` to have the runtime back off and deliver the same batch
        again; any other exception fails the task.
        """

    @abc.abstractmethod
    def flush(self) -> None:
        """Make everything passed to ``put()`` so far durable.

        The runtime commits consumer offsets only after this returns. Calling it twice
        writes nothing twice.
        """

    def pre_commit(self, offsets: t.Mapping[tuple[str, int], int]) -> t.Mapping[tuple[str, int], int]:
        """Return the offsets (next to read, per topic-partition) that are safe to commit.

        Called by the runtime before each consumer offset commit. The default flushes
        and returns ``offsets``; a sink that owns its commit point returns only what it
        has durably written.
        """
        self.flush()
        return offsets

    def close(self) -> None:
        """Release resources. Called once when the task stops, after a final flush."""


class SourceConnector(Plugin[C]):
    """A plugin whose tasks read an external system into Kafka."""

    task_class: t.ClassVar[type[SourceTask[t.Any]]]


class SinkConnector(Plugin[C]):
    """A plugin whose tasks write Kafka topics to an external system."""

    task_class: t.ClassVar[type[SinkTask[t.Any]]]

    def task_configs(self, max_tasks: int) -> list[C]:
        """Sinks share their topics through the consumer group: every task gets the same config."""
        return [t.cast(C, self.config)] * max(1, max_tasks)
