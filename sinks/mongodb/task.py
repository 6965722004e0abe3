"""The ``mongodb`` sink task: each ``put`` becomes bulk writes, applied before it returns.

Writes are durable when ``put`` returns (to the write concern of ``connection.uri``),
so ``flush`` has nothing left to do and the default ``pre_commit`` commits exactly what
``put`` applied. Delivery is at-least-once; replays are harmless for every write model
except insert-one, whose replays meet duplicate keys.
"""

from __future__ import annotations

import logging
import time
import typing as t

from headwater.codecs.envelope import canonical_key
from headwater.connectors.api import SinkRecord, SinkTask, SinkTaskContext
from headwater.connectors.errors import RecordError, RetriableError
from headwater.sinks.mongodb.client import BulkWriteFailure, MongoWriter, WriteOp, connect
from headwater.sinks.mongodb.config import MongoSinkConfig
from headwater.sinks.mongodb.namespace import NamespaceMapper
from headwater.sinks.mongodb.strategies import WriteBuilder, make_builder

__all__ = ["MongoSinkTask"]

log = logging.getLogger(__name__)

Coordinates: t.TypeAlias = tuple[str, int, int]


class _TopicPlan(t.NamedTuple):
    """Everything ``put`` needs for one topic, resolved once."""

    namespace: NamespaceMapper
    ordered: bool
    max_batch_size: int
    builder: WriteBuilder


class MongoSinkTask(SinkTask[MongoSinkConfig]):
    """Writes records to MongoDB with bulk writes, one or more per collection per ``put``.

    Order: records keep their order within each collection, so each key's events apply
    in offset order. Ordered bulk writes get that from the server; unordered ones are
    cut wherever a document would be written twice in one bulk write.

    Errors: a record that cannot become a write, and each write MongoDB rejects (traced
    back by the write's index), goes to ``context.report``; every other record of the
    batch is written (after an ordered bulk write stops at a rejected write, the writes
    after it are sent again). Transient trouble raises :class:`RetriableError`: the
    runtime delivers the same batch again, and the records this task already settled
    (written or reported) in the failed attempt are skipped, so a retry neither
    reports a record twice nor repeats an insert.
    """

    def __init__(self, config: MongoSinkConfig, context: SinkTaskContext, writer: MongoWriter | None = None) -> None:
        """Build the task; ``writer`` replaces the pymongo client (tests, other drivers).

        Raises:
            FatalError: ``connection.uri`` is invalid (the message hides credentials).
        """
        super().__init__(config, context)
        self._writer: MongoWriter = writer if writer is not None else connect(config.connection_uri.get_secret_value())
        self._plans: dict[str, _TopicPlan] = {}
        self._settled: set[Coordinates] = set()
        self._bulk_writes = 0

    def _plan(self, topic: str) -> _TopicPlan:
        plan = self._plans.get(topic)
        if plan is None:
            settings = self.config.for_topic(topic)
            plan = self._plans[topic] = _TopicPlan(
                NamespaceMapper(settings, topic),
                settings.bulk_write_ordered,
                settings.max_batch_size,
                make_builder(settings),
            )
        return plan

    def put(self, records: t.Sequence[SinkRecord]) -> None:
        """Build one write per record and apply them; return once MongoDB acknowledged them.

        Called by the runtime with each consumed batch, in offset order per partition.

        Raises:
            RetriableError: MongoDB is unreachable or not primary, or a write timed out;
                the same batch may be passed again.
            FatalError: a failure a retry cannot fix (authentication, a refused command),
                or a bad record under ``errors.tolerance=none`` (raised by ``report``).
        """
        settled = self._settled
        groups: dict[tuple[str, str, bool, int], tuple[list[WriteOp], list[SinkRecord]]] = {}
        for record in records:
            if settled and (record.topic, record.partition, record.offset) in settled:
                continue
            plan = self._plan(record.topic)
            try:
                database, collection = plan.namespace.map(record)
                operation = plan.builder.build(record)
            except RecordError as exc:
                self._reject(record, exc)
                continue
            if operation is None:
                continue
            group = groups.get((database, collection, plan.ordered, plan.max_batch_size))
            if group is None:
                group = groups[(database, collection, plan.ordered, plan.max_batch_size)] = ([], [])
            group[0].append(operation)
            group[1].append(record)
        for (database, collection, ordered, max_batch_size), (operations, sources) in groups.items():
            for start, end in _chunks(operations, max_batch_size, ordered=ordered):
                self._write(database, collection, operations[start:end], sources[start:end], ordered=ordered)
        # The batch is done: nothing of it will be delivered again except after a crash.
        settled.clear()

    def _reject(self, record: SinkRecord, error: RecordError) -> None:
        """Hand one bad record to the runtime and remember it, so a retry does not report it again."""
        self.context.report(record, error)
        self._settled.add((record.topic, record.partition, record.offset))

    def _settle(self, records: t.Iterable[SinkRecord]) -> None:
        self._settled.update((record.topic, record.partition, record.offset) for record in records)

    def _write(
        self, database: str, collection: str, operations: list[WriteOp], records: list[SinkRecord], *, ordered: bool
    ) -> None:
        """Apply one bulk write; report the rejected writes and apply the rest.

        Raises:
            RetriableError: from the writer, or when a rejected write is transient (after
                the writes known to be applied were settled).
        """
        while operations:
            try:
                self._writer.bulk_write(database, collection, operations, ordered=ordered)
            except BulkWriteFailure as failure:
                operations, records = self._after_failure(
                    database, collection, operations, records, failure, ordered=ordered
                )
                continue
            finally:
                self._rate_limit()
            self._settle(records)
            return

    def _after_failure(
        self,
        database: str,
        collection: str,
        operations: list[WriteOp],
        records: list[SinkRecord],
        failure: BulkWriteFailure,
        *,
        ordered: bool,
    ) -> tuple[list[WriteOp], list[SinkRecord]]:
        """Report what MongoDB rejected, settle what it applied, return what is left to send."""
        where = f"{database}.{collection}"
        failed = {error.index: error for error in failure.errors}
        transient = [error for error in failure.errors if error.transient]
        for error in failure.errors:
            if not error.transient:
                code = f" (code {error.code})" if error.code is not None else ""
                record = records[error.index]
                message = f"MongoDB rejected the write to {where}{code}: {error.message}"
                self._reject(
                    record,
                    RecordError(message, record=record, location=f"{record.topic}-{record.partition}@{record.offset}"),
                )
        if not failure.others_attempted:
            # Nothing was sent: send everything that was not rejected.
            keep = [i for i in range(len(operations)) if i not in failed or failed[i].transient]
            return [operations[i] for i in keep], [records[i] for i in keep]
        if ordered:
            first = failure.errors[0].index
            self._settle(records[:first])
            if transient and transient[0].index == first:
                msg = f"transient write error on {where} (code {transient[0].code}): {transient[0].message}"
                raise RetriableError(msg)
            # The server stopped at the rejected write: the writes after it were never tried.
            return operations[first + 1 :], records[first + 1 :]
        self._settle(record for index, record in enumerate(records) if index not in failed)
        if transient:
            msg = f"{len(transient)} transient write errors on {where}, first: {transient[0].message}"
            raise RetriableError(msg)
        return [], []

    def _rate_limit(self) -> None:
        self._bulk_writes += 1
        every = self.config.rate_limiting_every_n
        if every and self._bulk_writes % every == 0 and self.config.rate_limiting_timeout:
            time.sleep(self.config.rate_limiting_timeout / 1000)

    def flush(self) -> None:
        """Nothing to do: ``put`` returns only after MongoDB acknowledged its writes."""

    def stop(self) -> None:
        """Close the MongoDB client. Called once by the runtime when the task stops."""
        self._writer.close()


def _chunks(operations: t.Sequence[WriteOp], max_batch_size: int, *, ordered: bool) -> t.Iterator[tuple[int, int]]:
    """(start, end) slices of at most ``max_batch_size`` writes (0: no limit).

    An unordered bulk write may apply its writes in any order, so a slice is also cut
    before a write whose target (its filter, or an insert's ``_id``) is already in it:
    two events of one key then land in two bulk writes, in offset order.
    """
    limit = max_batch_size or len(operations)
    start = 0
    targets: set[str] = set()
    for index, operation in enumerate(operations):
        target: str | None = None
        if not ordered:
            selector = operation.filter if operation.filter is not None else operation.document
            if selector is not None and (operation.filter is not None or "_id" in selector):
                target = canonical_key(selector if operation.filter is not None else selector["_id"])
            if operation.filter == {}:
                target = "*"  # a delete-many touches every document: a slice of its own
        full = index - start >= limit
        clash = target is not None and (target in targets or "*" in targets or (target == "*" and targets))
        if full or clash:
            yield start, index
            start = index
            targets = set()
        if target is not None:
            targets.add(target)
    if start < len(operations):
        yield start, len(operations)
