"""The plugin contract: the only runtime module a plugin needs to import.

A source task ``poll()``s records that carry a source partition and a source offset; a
sink task ``put()``s records and ``flush()``es them; a connector splits its work with
``task_configs(max_tasks)``. Every other hook is optional with a safe default. Plugins
never serialise and never store offsets: the runtime converts values with the configured
converters, produces them, and stores offsets only after Kafka has acknowledged the
records.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import shutil
import tempfile
import typing as t
import weakref
from dataclasses import dataclass
from pathlib import Path

from headwater.codecs.schema import Schema
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import RecordError

__all__ = [
    "RESERVED_STATUS_KEYS",
    "Capability",
    "ConnectorContext",
    "ErrantSourceRecord",
    "NullMetrics",
    "OffsetMarker",
    "OffsetReader",
    "Plugin",
    "PluginMetrics",
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
    "TaskContext",
    "TaskStatusReporter",
    "TimestampType",
    "TopicPartition",
    "TransactionContext",
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
TopicPartition: t.TypeAlias = tuple[str, int]
"""A Kafka topic-partition, ``("orders", 3)``."""


class Capability(enum.Enum):
    """What a plugin promises; the conformance suite runs the tests each one enables."""

    DELETES = "deletes"
    """Sources emit deletes (and tombstones); sinks apply them."""
    IDEMPOTENT_WRITES = "idempotent_writes"
    """Replaying records a sink already wrote leaves the target unchanged."""
    TRANSACTION_BOUNDARIES = "transaction_boundaries"
    """The source marks where Kafka transactions end (``context.transactions``); only such
    a plugin accepts ``transaction.boundary=connector`` (KIP-618's
    ``canDefineTransactionBoundaries``)."""
    OWNS_COMMIT_POINT = "owns_commit_point"
    """The sink stores its progress in its target: ``open`` returns the offsets to resume
    from and ``pre_commit`` returns only what the target holds."""
    QUICK_CALLS = "quick_calls"
    """The sink's hooks do local work and return promptly (a ``put`` of a batch in
    milliseconds, never near ``max.poll.interval.ms``): the runtime then calls them on the
    thread that polls the consumer, as Kafka Connect does, instead of a thread of their
    own. That saves handing each batch to another thread and core (about 18% of the
    ``file`` sink's time); the price is that a hook that does hang keeps the consumer from
    polling, and past ``max.poll.interval.ms`` the task leaves its group. Every hook is
    still called from one thread, never concurrently. Not for sinks that wait on a remote
    system."""


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
class OffsetMarker:
    """Advances a partition's stored offset without writing a Kafka record.

    A source task returns it from ``poll()`` among its records: for a heartbeat (an
    Oracle SCN that moved while no captured table changed) or a skipped range. The runtime
    stores ``offset`` for ``partition`` once every record returned before it is
    acknowledged, exactly as if a record with that offset had been written.
    """

    partition: SourcePartition
    offset: SourceOffset


TimestampType = t.Literal["CreateTime", "LogAppendTime", "NoTimestampType"]
"""Kafka's timestamp types, by the names of Kafka's ``TimestampType``."""


@dataclass(frozen=True, slots=True)
class SinkRecord:
    """One Kafka record as a sink task sees it: coordinates plus converted key and value.

    Immutable (``dataclasses.replace`` makes changed copies). The runtime builds one per
    record read (``__init__`` is :func:`_slot_init`'s).
    """

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
    timestamp_type: TimestampType = "CreateTime"
    """What ``timestamp_ms`` is, in Kafka's names: the producer's ``CreateTime``, the broker's
    ``LogAppendTime`` (a topic with ``message.timestamp.type=LogAppendTime``), or
    ``NoTimestampType`` (no timestamp)."""


def _slot_init(cls: type[t.Any]) -> t.Callable[..., None]:
    """The ``__init__`` of a frozen, slotted dataclass that sets each slot through its
    descriptor, bound in a closure: the generated one goes through ``object.__setattr__``
    per field (about 2.5 µs for ten fields against 1 µs). Same parameters and defaults
    (type checkers keep reading the dataclass's own signature); built from the class's own
    field names, once, at import."""
    fields = dataclasses.fields(cls)
    namespace: dict[str, t.Any] = {}
    parameters, body = [], []
    for index, item in enumerate(fields):
        if not item.name.isidentifier() or item.default_factory is not dataclasses.MISSING:
            msg = f"{cls.__name__}.{item.name}: not a plain field"
            raise AssertionError(msg)
        namespace[f"set{index}"] = vars(cls)[item.name].__set__
        if item.default is dataclasses.MISSING:
            parameters.append(item.name)
        else:
            namespace[f"default{index}"] = item.default
            parameters.append(f"{item.name}=default{index}")
        body.append(f"    set{index}(self, {item.name})")
    exec(f"def __init__(self, {', '.join(parameters)}):\n" + "\n".join(body), namespace)
    init: t.Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


SinkRecord.__init__ = _slot_init(SinkRecord)  # type: ignore[method-assign]
SourceRecord.__init__ = _slot_init(SourceRecord)  # type: ignore[method-assign]


class OffsetReader(t.Protocol):
    """Read access to the offsets the runtime has stored for a connector."""

    def offset(self, partition: SourcePartition) -> SourceOffset | None:
        """The last durable offset of ``partition``, or None if it was never committed."""
        ...


class PluginMetrics(t.Protocol):
    """Metrics a plugin defines for itself; they appear on ``/metrics`` with the task's labels.

    Names are plain (``records_parsed``); the runtime prefixes them with
    ``headwater_plugin_<plugin name>_`` and adds the ``connector`` and ``task`` labels.
    Asking twice for one name returns the same series. Safe from any thread.
    """

    def counter(self, name: str, doc: str) -> MetricCounter:
        """A monotonically increasing count."""
        ...

    def gauge(self, name: str, doc: str) -> MetricGauge:
        """A value that goes up and down (a lag, a queue depth)."""
        ...


class MetricCounter(t.Protocol):
    def inc(self, amount: float = 1) -> None: ...


class MetricGauge(t.Protocol):
    def set(self, value: float) -> None: ...


class _NullSeries:
    def inc(self, amount: float = 1) -> None:
        pass

    def set(self, value: float) -> None:
        pass


class NullMetrics:
    """The metrics of a task built outside a worker (unit tests): every series discards."""

    def counter(self, name: str, doc: str) -> MetricCounter:
        return _NullSeries()

    def gauge(self, name: str, doc: str) -> MetricGauge:
        return _NullSeries()


class TaskStatusReporter(t.Protocol):
    """Where a task context sends progress and status details (the runtime's side).

    Both methods must be cheap and thread-safe: the runtime records the latest values and
    publishes them when someone reads the status (and to a distributed worker's status
    topic at most every few seconds).
    """

    def progress(self, done: float, total: float | None, unit: str, what: str | None) -> None: ...

    def detail(self, key: str, value: t.Any) -> None: ...


RESERVED_STATUS_KEYS = frozenset({"id", "state", "worker_id", "trace", "version", "progress", "warning"})
"""Keys of a task's status object that the runtime owns (see :meth:`TaskContext.status_detail`)."""


class TaskContext:
    """What the runtime gives every task at construction.

    The base class works on its own (unit tests, the conformance suite build tasks with
    it); inside a worker the runtime passes a subclass that is wired to Kafka.

    Attributes:
        connector_name: the connector's ``name``.
        task_id: the task's index, 0 to ``tasks.max - 1``.
        metrics: the plugin's own metrics (:class:`PluginMetrics`).
    """

    def __init__(
        self,
        connector_name: str,
        task_id: int,
        *,
        scratch_dir: Path | None = None,
        metrics: PluginMetrics | None = None,
        status: TaskStatusReporter | None = None,
    ) -> None:
        self.connector_name = connector_name
        self.task_id = task_id
        self.metrics: PluginMetrics = metrics if metrics is not None else NullMetrics()
        self._scratch_dir = scratch_dir
        self._status = status
        self._remove_scratch: weakref.finalize[..., t.Any] | None = None
        self.last_progress: tuple[float, float | None, str, str | None] | None = None
        """The last :meth:`progress` call's arguments (for tests of plugins built outside a worker)."""

    def progress(
        self, done: float, total: float | None = None, unit: str = "records", *, what: str | None = None
    ) -> None:
        """Report how far a long load (a snapshot, a file) has got; optional, cheap, any thread.

        ``done`` counts from the start of the current load (rows, records, bytes: say
        which in ``unit``); ``total`` is what the load expects in all, or None when it is
        not known; ``what`` names the load (``"table MARA"``, ``"file CUST.D1"``). Each
        call replaces the previous one. A ``done`` below the previous one, or another
        ``unit``, starts a new load (its rate starts over); ``what`` may change freely.

        The runtime shows it in the task's status (REST ``GET /connectors/{name}/status``:
        ``"progress": {"done", "total", "unit", "rate_per_s", "eta_s"}``, plus ``"what"``)
        and on ``/metrics``, computing the rate over the last 30 seconds and the ETA from
        it. Call it at most once per ``poll()`` or batch, not per record. Built outside a
        worker it only records the arguments in :attr:`last_progress`.

        Thread rules: safe from any thread of the task (the plugin's own workers too);
        calls from several threads are ordered by when they arrive.
        """
        self.last_progress = (done, total, unit, what)
        if self._status is not None:
            self._status.progress(done, total, unit, what)

    def status_detail(self, key: str, value: t.Any) -> None:
        """Show a small JSON value under ``key`` in this task's status object; None removes it.

        For what an operator must see without reading logs (the mainframe source lists
        its quarantined files under ``quarantined``). Keep it small (it is in every status
        response and status-topic record) and free of secrets and absolute paths. Safe
        from any thread; does nothing outside a worker.

        Raises:
            ValueError: ``key`` is one the runtime owns (:data:`RESERVED_STATUS_KEYS`).
        """
        if key in RESERVED_STATUS_KEYS:
            msg = f"status key {key!r} belongs to the runtime; pick another"
            raise ValueError(msg)
        if self._status is not None:
            self._status.detail(key, value)

    @property
    def scratch_dir(self) -> Path:
        """A folder private to this task for spills and temporary files, created on first use.

        Given a folder (inside a worker: ``<scratch.dir>/<connector>/<task>``), it survives
        a restart of the task on the same worker and is never removed by Headwater, but it
        is not durable state: another worker does not see it, so a task must be able to
        rebuild from its offsets alone. Built without one (tests, tools), it is a fresh
        temporary folder of this context's own, removed by :meth:`close` (or, failing
        that, when the context is garbage-collected or the interpreter exits).
        """
        if self._scratch_dir is None:
            folder = Path(tempfile.mkdtemp(prefix=f"headwater-{self.connector_name}-{self.task_id}-"))
            self._remove_scratch = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            self._scratch_dir = folder
        self._scratch_dir.mkdir(parents=True, exist_ok=True)
        return self._scratch_dir

    def close(self) -> None:
        """The task has stopped: remove the temporary scratch folder this context made.

        A scratch folder given at construction (``scratch.dir``) is left as it is, with
        its content. Called by whoever built the context, after the task's ``stop()``; a
        later use of :attr:`scratch_dir` makes a new temporary folder. Idempotent.
        """
        if self._remove_scratch is not None:
            self._remove_scratch()
            self._remove_scratch = None
            self._scratch_dir = None


class TransactionContext(t.Protocol):
    """Transaction boundaries chosen by a source task (KIP-618 ``transaction.boundary=connector``).

    Given to the task as ``context.transactions`` only when the worker runs exactly-once
    sources and the connector sets ``transaction.boundary=connector``; None otherwise.
    Call it from ``poll()`` (the task's thread) only; a mark naming a record that this
    ``poll()`` does not return fails the task.

    A transaction stays open across polls until the task marks its end. What is open when
    the task stops (or fails) is aborted and polled again from the stored offsets after
    the restart; a pause keeps it open (a pause longer than the producer's
    ``transaction.timeout.ms`` makes the broker abort it, and the task then restarts from
    the stored offsets: nothing is lost or duplicated either way).
    """

    def commit_transaction(self, record: SourceRecord | OffsetMarker | None = None) -> None:
        """Commit the open Kafka transaction after ``record`` (a record or marker this
        ``poll()`` returns), or after the last record of this ``poll()`` when ``record``
        is None.

        The records up to that point and the offsets that skip them become visible
        together; the records after it start the next transaction.
        """
        ...

    def abort_transaction(self, record: SourceRecord | OffsetMarker | None = None) -> None:
        """Abort the open transaction after ``record`` (or after this ``poll()``'s batch).

        The aborted records are never visible to consumers reading committed data, and
        their offsets are not stored: nothing is skipped, they are polled again only if
        the task rewinds.
        """
        ...


class SourceTaskContext(TaskContext):
    """What the runtime gives a source task at construction.

    Attributes:
        offsets: the stored offsets of this connector's partitions (resume state).
        transactions: set only under ``transaction.boundary=connector`` (see
            :class:`TransactionContext`).
    """

    def __init__(
        self,
        connector_name: str,
        task_id: int,
        offsets: OffsetReader,
        *,
        scratch_dir: Path | None = None,
        metrics: PluginMetrics | None = None,
        transactions: TransactionContext | None = None,
        status: TaskStatusReporter | None = None,
    ) -> None:
        super().__init__(connector_name, task_id, scratch_dir=scratch_dir, metrics=metrics, status=status)
        self.offsets = offsets
        self.transactions = transactions
        self.next_poll_delay_ms = 0

    def next_poll_in(self, delay_ms: int) -> None:
        """Ask the runtime to wait ``delay_ms`` before it calls ``poll()`` again.

        Call it from ``poll()`` instead of sleeping there: the runtime waits without
        holding the task's thread hostage, so pause, stop and offset commits are served at
        once. A later call in the same ``poll()`` replaces the earlier one; it holds for
        the next poll only. Without it the runtime polls again at once after records and
        after a short wait (50 ms) after an empty poll.
        """
        self.next_poll_delay_ms = max(0, int(delay_ms))


class ErrantRecordReporter(t.Protocol):
    """Receives records a sink could not write (Kafka Connect's ErrantRecordReporter)."""

    def __call__(self, record: SinkRecord, error: BaseException) -> None: ...


def _raise_reported(record: SinkRecord, error: BaseException) -> None:
    raise error


class SinkTaskContext(TaskContext):
    """What the runtime gives a sink task at construction.

    Thread rules: :meth:`report`, :meth:`emit` and :meth:`request_commit` are safe from
    any thread, including the plugin's own worker threads; the other methods are for the
    thread that calls ``put()``/``open()``/``close()``.

    Built outside a worker (unit tests), ``report`` calls the given reporter (by default
    it raises the error), the assignment is empty and the other calls do nothing.
    """

    def __init__(
        self,
        connector_name: str,
        task_id: int,
        report: ErrantRecordReporter | None = None,
        *,
        scratch_dir: Path | None = None,
        metrics: PluginMetrics | None = None,
        status: TaskStatusReporter | None = None,
    ) -> None:
        super().__init__(connector_name, task_id, scratch_dir=scratch_dir, metrics=metrics, status=status)
        self._reporter: ErrantRecordReporter = report if report is not None else _raise_reported

    def report(self, record: SinkRecord, error: BaseException) -> None:
        """Hand one bad record to the runtime; safe from any thread.

        With ``errors.tolerance=all`` the record's original bytes and headers go to the
        dead-letter topic (even if its offset was read long ago: the runtime keeps them
        until the offset is committed) and the task carries on; with ``none`` the call
        raises, which fails the task with an error naming the record.
        """
        self._reporter(record, error)

    def assignment(self) -> frozenset[TopicPartition]:
        """The topic-partitions this task is assigned now."""
        return frozenset()

    def pause(self, partitions: t.Iterable[TopicPartition]) -> None:
        """Stop fetching ``partitions`` until :meth:`resume`; the task stays in its group.

        No record of them reaches ``put`` after this returns, until they are resumed. The
        pause lasts through the runtime's own pauses (retries, the PAUSED state) and ends
        when the partition is closed (revoked or lost).
        """

    def resume(self, partitions: t.Iterable[TopicPartition]) -> None:
        """Fetch ``partitions`` again after :meth:`pause`."""

    def request_commit(self) -> None:
        """Ask for ``pre_commit`` and a consumer offset commit soon, before the flush interval."""

    def emit(self, topic: str, key: t.Any, value: t.Any, headers: Headers = ()) -> None:
        """Write a record to Kafka (a response or result topic); safe from any thread.

        ``key`` and ``value`` are structured data: the runtime converts them with the
        connector's converters and produces them. Emitted records are acknowledged by
        Kafka before the input offsets of the same commit are committed, so a crash can
        duplicate them but never lose them.
        """
        msg = "emit() needs a worker: this context was built outside the runtime"
        raise RuntimeError(msg)


class ConnectorContext:
    """What the runtime gives a connector (not a task).

    Built outside a worker (unit tests) :meth:`request_task_reconfiguration` only records
    the request in ``reconfiguration_requested``.
    """

    def __init__(self, connector_name: str) -> None:
        self.connector_name = connector_name
        self.reconfiguration_requested = False

    def request_task_reconfiguration(self) -> None:
        """Ask the runtime to call ``task_configs`` again (new tables appeared, a snapshot
        finished); safe from any thread, e.g. a monitoring thread started in ``start()``.

        When the new list differs from the stored one the runtime stores it (in
        distributed mode in the config topic, where every worker sees it) and restarts
        the connector's tasks with it.
        """
        self.reconfiguration_requested = True


class Plugin(abc.ABC, t.Generic[C]):
    """A connector: validated config in, task configs out.

    Class attributes describe the plugin; ``name`` is also its ``connector.class`` alias
    and entry-point name.

    Lifecycle, all on one runtime thread: ``__init__`` -> ``start()`` -> ``task_configs``
    (again after each reconfiguration request) -> ``stop()`` (when the connector is
    STOPPED or deleted, the worker stops, or, in distributed mode, the connector moves to
    another worker in a rebalance; a new instance is started wherever it runs next). A
    PAUSED connector keeps running. In distributed mode the connector runs on one worker
    only (the owner of its task 0's slot), and the task configs it returns are stored in the
    config topic, so they may depend on the moment (a snapshot SCN read in ``start()``):
    every worker starts its tasks from the stored list, never by calling ``task_configs``.
    """

    name: t.ClassVar[str]
    config_class: t.ClassVar[type[PluginConfig]]
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset()
    description: t.ClassVar[str] = ""

    def __init__(self, config: C, context: ConnectorContext | None = None) -> None:
        self.config = config
        self.context = context if context is not None else ConnectorContext(type(self).__name__)

    def start(self) -> None:
        """Optional: connect, read what the task configs need, start a monitoring thread.

        Called once before the first ``task_configs``; an exception fails the connector.
        """

    @abc.abstractmethod
    def task_configs(self, max_tasks: int) -> list[C]:
        """Split the work into at least one and at most ``max_tasks`` task configs.

        Called by the runtime after ``start()``, and again after
        ``context.request_task_reconfiguration()``; each returned config builds one task.
        """

    def alter_offsets(self, offsets: t.Mapping[t.Any, t.Any]) -> None:
        """Optional: check offsets an operator gives to ``PATCH /connectors/{name}/offsets``.

        Called on a REST thread while the connector is STOPPED (KIP-875's
        ``alterOffsets``), on a fresh instance that is not started, before anything is
        written, with the partitions and offsets of the request (a None offset resets a
        partition; ``DELETE .../offsets`` passes every stored partition with None):
        source partition mappings (read-only, hashable) to source offset mappings, or
        ``(topic, partition)`` to an ``int`` for sinks. Raise :class:`ConfigError` naming
        the bad partition to refuse the request with a 400; nothing is written then. The
        default accepts every offset.
        """

    def stop(self) -> None:
        """Optional: release what ``start()`` took. Called once when the connector stops."""


class SourceTask(abc.ABC, t.Generic[C]):
    """Reads an external system. Built by the runtime once per task start.

    All resume state comes from ``context.offsets``: after a crash the task is rebuilt
    and must continue after the last durable offset of each partition it owns.
    Every method is called from the task's own thread.
    """

    def __init__(self, config: C, context: SourceTaskContext) -> None:
        self.config = config
        self.context = context

    @abc.abstractmethod
    def poll(self) -> t.Sequence[SourceRecord | ErrantSourceRecord | OffsetMarker]:
        """Return the records that are ready, in offset order per partition.

        Called in a loop by the runtime's task thread. Return ``[]`` when idle; never
        block for longer than about a second, and never sleep to pace yourself: call
        ``context.next_poll_in(ms)`` and return. Raise ``RetriableError`` (with
        ``retry_after_ms`` if the system said when) for transient trouble: the runtime
        backs off and calls again.
        """

    def commit(self, offsets: t.Sequence[tuple[SourcePartition, SourceOffset]]) -> None:
        """Called by the runtime after these (partition, offset) pairs are durable.

        Optional: acknowledge upstream, e.g. move a finished file away. Never called
        for offsets that are not yet stored.
        """

    def stop(self) -> None:
        """Release resources. Called once when the task stops, even after a failure."""


class SinkTask(abc.ABC, t.Generic[C]):
    """Writes records to an external system. Built by the runtime once per task start.

    ``open``, ``put``, ``flush``, ``pre_commit``, ``close`` and ``stop`` are called from
    one runtime thread, never concurrently; the consumer keeps polling on another thread
    while they run, so a slow batch never gets the task evicted from its group (unless the
    connector declares :attr:`Capability.QUICK_CALLS`: then that one thread is the
    consumer's). A sink may
    run its own threads (one per partition, say); from those it may call only
    ``context.report``, ``context.emit`` and ``context.request_commit``.
    """

    def __init__(self, config: C, context: SinkTaskContext) -> None:
        self.config = config
        self.context = context

    def open(self, partitions: t.Sequence[TopicPartition]) -> t.Mapping[TopicPartition, int | None] | None:
        """Optional: ``partitions`` were assigned to this task.

        Return, for any of them, the offset to start reading from (the next offset to
        write, as a sink that stores its progress in its target knows it); a partition
        left out, or mapped to None, starts from the group's committed offset. Called
        before the first ``put`` with records of these partitions.
        """
        return None

    @abc.abstractmethod
    def put(self, records: t.Sequence[SinkRecord]) -> None:
        """Write or buffer ``records`` (in offset order per Kafka partition).

        Hand single bad records to ``context.report`` and go on. Raise
        ``RetriableError`` to have the runtime deliver the same records again after a
        backoff (at least ``retry_after_ms`` when given), in a ``put`` of their own; any
        other exception fails the task. When the error names ``partitions``, only the
        batch's records of those partitions come again and only those partitions are
        paused meanwhile (the batch's other records count as written); otherwise the
        whole batch comes again and all of its partitions are paused. Other partitions
        keep flowing in other ``put`` calls.
        """

    @abc.abstractmethod
    def flush(self) -> None:
        """Make everything passed to ``put()`` so far durable.

        The runtime commits consumer offsets only after this returns. Calling it twice
        writes nothing twice.
        """

    def pre_commit(self, offsets: t.Mapping[TopicPartition, int]) -> t.Mapping[TopicPartition, int]:
        """Return the offsets (next to read, per topic-partition) that are safe to commit.

        Called by the runtime before each consumer offset commit. The default flushes
        and returns ``offsets``; a sink that owns its commit point returns only what it
        has durably written (possibly less, or nothing): the runtime commits exactly that
        and keeps every later record's original bytes for the dead-letter topic.
        """
        self.flush()
        return offsets

    def close(self, partitions: t.Sequence[TopicPartition], *, lost: bool) -> None:
        """Optional: ``partitions`` are no longer this task's.

        ``lost=False``: revoked in a rebalance, or the task is stopping; the runtime has
        already called ``pre_commit`` and committed what it returned. ``lost=True``: taken
        away without a hand-over (the group moved on): nothing was committed for them and
        another task may already write them, so drop their buffers without writing. Not
        called after the task failed: ``stop`` follows directly then.
        """

    def stop(self) -> None:
        """Release resources. Called once when the task stops: after a final commit and
        ``close``, or, after a failure, with nothing more committed."""


class SourceConnector(Plugin[C]):
    """A plugin whose tasks read an external system into Kafka."""

    task_class: t.ClassVar[type[SourceTask[t.Any]]]


class SinkConnector(Plugin[C]):
    """A plugin whose tasks write Kafka topics to an external system."""

    task_class: t.ClassVar[type[SinkTask[t.Any]]]

    def task_configs(self, max_tasks: int) -> list[C]:
        """Sinks share their topics through the consumer group: every task gets the same config."""
        return [t.cast(C, self.config)] * max(1, max_tasks)
