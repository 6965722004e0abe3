"""The reference source: a small plugin that uses every optional source hook of the contract.

It reads the conformance package's deterministic change streams (an emulated database
with source transactions) and passes the whole standard source suite
(``tests/runtime/test_reference_source.py``):

- source partition ``{"partition": "p<i>"}``, topic ``<topic>.p<i>``, offset
  ``{"seq": <next event>}``; the end of a partition is an :class:`OffsetMarker`
  ``{"seq": count, "end": True}`` (a heartbeat: the offset moves, no record);
- every ``rollback.every``-th source transaction is rolled back: under
  ``transaction.boundary=connector`` its records are sent and the Kafka transaction
  aborted; otherwise it is skipped with an :class:`OffsetMarker`;
- each committed source transaction ends with ``context.transactions.commit_transaction``
  after its last record, so it becomes one Kafka transaction even across polls;
- ``context.next_poll_in`` when there is nothing to read, a spill file in
  ``context.scratch_dir``, plugin metrics, ``start``/``stop`` (and a lifecycle log),
  ``request_task_reconfiguration`` when the partition count in ``partitions.file``
  changes, and ``alter_offsets`` refusing offsets past the end of a partition.
"""

from __future__ import annotations

import threading
import typing as t
from pathlib import Path

from pydantic import Field

from headwater.codecs.envelope import to_messages
from headwater.conformance.generator import ChangeStream, transaction_sizes
from headwater.connectors.api import (
    Capability,
    OffsetMarker,
    SourceConnector,
    SourceRecord,
    SourceTask,
    SourceTaskContext,
)
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import ConfigError, FieldError


class ReferenceSourceConfig(PluginConfig):
    """The emulated database: partitions, events per partition, pacing."""

    topic: str = Field(min_length=1)
    """Events of partition ``p<i>`` go to ``<topic>.p<i>``."""
    count: int = Field(default=40, ge=0)
    """Change events per partition."""
    partitions: int = Field(default=2, ge=1)
    """Partitions ``p0`` ... (unless ``partitions.file`` says otherwise)."""
    partitions_file: str | None = None
    """A file holding the partition count; watched, a change asks for new task configs."""
    lifecycle_file: str | None = None
    """The connector appends ``start``, ``task_configs <n>`` and ``stop`` lines here."""
    seed: int = 7
    """The same seed always gives the same events and transactions."""
    batch_size: int = Field(default=3, ge=1)
    """Most events one poll returns (transactions span polls)."""
    idle_poll_ms: int = Field(default=300, ge=1)
    """``next_poll_in`` when a task has nothing to read."""
    rollback_every: int = Field(default=4, ge=0)
    """Every n-th source transaction is rolled back (0: none)."""
    task_partitions: str | None = None
    """Set by the connector in task configs: the partitions one task reads."""


def rolled_back(config: ReferenceSourceConfig, partition: str) -> list[tuple[int, int, bool]]:
    """The source transactions of ``partition``: (first event, end event, rolled back)."""
    index = int(partition[1:])
    out = []
    start = 0
    for number, size in enumerate(transaction_sizes(config.count, seed=config.seed * 1000 + index)):
        back = config.rollback_every > 0 and number % config.rollback_every == config.rollback_every - 1
        out.append((start, start + size, back))
        start += size
    return out


def expected_state(config: PluginConfig) -> dict[str, dict[str, dict[str, t.Any]]]:
    """What each topic folds to: the committed transactions' events."""
    from headwater.conformance.generator import final_state

    assert isinstance(config, ReferenceSourceConfig)
    count = _partition_count(config)
    out = {}
    for index in range(count):
        name = f"p{index}"
        skip = {n for first, end, back in rolled_back(config, name) if back for n in range(first, end)}
        out[f"{config.topic}.{name}"] = final_state(name, config.count, seed=config.seed, skip=skip)
    return out


def _partition_count(config: ReferenceSourceConfig) -> int:
    if config.partitions_file:
        return int(Path(config.partitions_file).read_text().strip())
    return config.partitions


class _Partition:
    """One partition's reading position and its transactions."""

    def __init__(self, config: ReferenceSourceConfig, name: str, stored: t.Mapping[str, t.Any] | None) -> None:
        self.name = name
        self.source_partition = {"partition": name}
        self.topic = f"{config.topic}.{name}"
        self.transactions = rolled_back(config, name)
        self.stream = ChangeStream(name, seed=config.seed)
        self.count = config.count
        self.ended = bool(stored and stored.get("end"))
        if stored is not None:
            self.stream.skip_to(int(t.cast(int, stored["seq"])))

    def transaction(self, sequence: int) -> tuple[int, int, bool]:
        for first, end, back in self.transactions:
            if first <= sequence < end:
                return first, end, back
        msg = f"no transaction holds event {sequence}"
        raise AssertionError(msg)


class ReferenceSourceTask(SourceTask[ReferenceSourceConfig]):
    """Reads its partitions one after the other."""

    def __init__(self, config: ReferenceSourceConfig, context: SourceTaskContext) -> None:
        super().__init__(config, context)
        names = config.task_partitions.split(",") if config.task_partitions else []
        self._partitions = [
            _Partition(config, name, context.offsets.offset({"partition": name})) for name in names if name
        ]
        self._emitted = context.metrics.counter("events_emitted", "Change events returned by poll")
        self._remaining = context.metrics.gauge("events_remaining", "Events not read yet")

    def poll(self) -> list[SourceRecord | OffsetMarker]:
        current = next((p for p in self._partitions if not p.ended), None)
        if current is None:
            self.context.next_poll_in(self.config.idle_poll_ms)
            return []
        transactions = self.context.transactions
        out: list[SourceRecord | OffsetMarker] = []
        events = 0
        stream = current.stream
        while events < self.config.batch_size and stream.sequence < current.count:
            _first, end, back = current.transaction(stream.sequence)
            if back and transactions is None:
                # Rolled back in the source and no Kafka transaction to abort: skip the range.
                stream.skip_to(end)
                out.append(OffsetMarker(current.source_partition, {"seq": end}))
                continue
            event = stream.next_event()
            events += 1
            offset = {"seq": stream.sequence}
            for key, value in to_messages(event):
                out.append(SourceRecord(current.source_partition, offset, current.topic, key, value))
            if transactions is not None and stream.sequence == end:
                if back:
                    transactions.abort_transaction(out[-1])
                else:
                    transactions.commit_transaction(out[-1])
        if stream.sequence >= current.count and not out:
            marker = OffsetMarker(current.source_partition, {"seq": current.count, "end": True})
            out.append(marker)
            current.ended = True
            if transactions is not None:
                transactions.commit_transaction(marker)
        self._emitted.inc(events)
        self._remaining.set(sum(p.count - p.stream.sequence for p in self._partitions))
        if events:
            with (self.context.scratch_dir / "spill.log").open("a") as spill:
                spill.write(f"{current.name} {stream.sequence}\n")
        return out


class ReferenceSource(SourceConnector[ReferenceSourceConfig]):
    """The reference source connector: partitions dealt round-robin over the tasks."""

    name: t.ClassVar[str] = "reference-source"
    description: t.ClassVar[str] = "Emulated transactional database; uses every optional source hook."
    config_class = ReferenceSourceConfig
    task_class = ReferenceSourceTask
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset({Capability.DELETES, Capability.TRANSACTION_BOUNDARIES})

    def start(self) -> None:
        config = t.cast(ReferenceSourceConfig, self.config)
        self._log("start")
        self._count = _partition_count(config)
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        if config.partitions_file:
            self._watcher = threading.Thread(target=self._watch, name="reference-source-watch", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        """A monitoring thread: a new partition count asks for new task configs."""
        config = t.cast(ReferenceSourceConfig, self.config)
        while not self._stopping.wait(0.1):
            try:
                count = _partition_count(config)
            except (OSError, ValueError):
                continue
            if count != self._count:
                self._count = count
                self.context.request_task_reconfiguration()

    def task_configs(self, max_tasks: int) -> list[ReferenceSourceConfig]:
        config = t.cast(ReferenceSourceConfig, self.config)
        count = getattr(self, "_count", None) or _partition_count(config)
        names = [f"p{index}" for index in range(count)]
        groups = [names[i::max_tasks] for i in range(min(max_tasks, len(names)))]
        self._log(f"task_configs {len(groups)}")
        return [config.model_copy(update={"task_partitions": ",".join(group)}) for group in groups]

    def alter_offsets(self, offsets: t.Mapping[t.Any, t.Any]) -> None:
        config = t.cast(ReferenceSourceConfig, self.config)
        errors = []
        for partition, offset in offsets.items():
            name = partition.get("partition")
            if not isinstance(name, str) or not name.startswith("p") or not name[1:].isdigit():
                errors.append(FieldError(f"offsets[{dict(partition)}]", "not a partition of this source"))
            elif offset is not None:
                seq = offset.get("seq")
                if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= config.count:
                    message = f"seq must be an integer from 0 to {config.count}, not {seq!r}"
                    errors.append(FieldError(f"offsets[{name}].seq", message))
        if errors:
            raise ConfigError(errors)

    def stop(self) -> None:
        stopping = getattr(self, "_stopping", None)
        if stopping is not None:
            stopping.set()
        self._log("stop")

    def _log(self, line: str) -> None:
        path = t.cast(ReferenceSourceConfig, self.config).lifecycle_file
        if path:
            with Path(path).open("a") as out:
                out.write(line + "\n")
