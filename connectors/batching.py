"""An optional helper for sinks that write in batches: buffer by count, bytes and time.

A sink whose target prefers big writes (a bulk API, a file per batch, a warehouse load)
buffers in ``put`` and writes when the batch is due::

    def put(self, records):
        for record in records:
            self.batcher.add(record, size=len(encoded(record)))
        if self.batcher.due():
            self.write(self.batcher.drain())

    def pre_commit(self, offsets):
        if self.batcher.due():
            self.write(self.batcher.drain())
        return self.batcher.committable(offsets)   # hold back what is still buffered

:meth:`Batcher.committable` is what lets such a sink own its commit point: the runtime
commits only up to the first record still in the buffer of each partition, and keeps
the later records' original bytes for the dead-letter topic meanwhile.

Not thread-safe: call it from the task's thread (``put``/``pre_commit``/``close``).
"""

from __future__ import annotations

import time
import typing as t

from headwater.connectors.api import SinkRecord, TopicPartition

__all__ = ["Batcher"]


class Batcher:
    """Records buffered per Kafka partition, in arrival order, until the batch is due.

    The batch is due when it holds ``max_records`` records or ``max_bytes`` bytes (sizes
    as the caller counts them), or when its oldest record has waited ``max_age_ms``.
    ``clock`` returns seconds (``time.monotonic`` by default; tests pass their own).
    """

    def __init__(
        self,
        *,
        max_records: int = 500,
        max_bytes: int = 4 * 1024 * 1024,
        max_age_ms: int = 1000,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        if max_records < 1 or max_bytes < 1 or max_age_ms < 0:
            msg = "max_records and max_bytes must be at least 1, max_age_ms at least 0"
            raise ValueError(msg)
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_age_ms = max_age_ms
        self._clock = clock
        self._buffers: dict[TopicPartition, list[SinkRecord]] = {}
        self._count = 0
        self._bytes = 0
        self._oldest: float | None = None

    def __len__(self) -> int:
        """Records buffered."""
        return self._count

    @property
    def bytes(self) -> int:
        """Bytes buffered (the sum of the sizes given to :meth:`add`)."""
        return self._bytes

    def add(self, record: SinkRecord, size: int = 0) -> None:
        """Buffer ``record`` (``size`` bytes, as the caller counts them) behind its partition's others."""
        if size < 0:
            msg = f"size must be >= 0, not {size}"
            raise ValueError(msg)
        self._buffers.setdefault((record.topic, record.partition), []).append(record)
        self._count += 1
        self._bytes += size
        if self._oldest is None:
            self._oldest = self._clock()

    def due(self) -> bool:
        """True when the batch is full (records or bytes) or its oldest record is old enough."""
        if not self._count:
            return False
        if self._count >= self.max_records or self._bytes >= self.max_bytes:
            return True
        assert self._oldest is not None
        return (self._clock() - self._oldest) * 1000 >= self.max_age_ms

    def drain(self) -> dict[TopicPartition, list[SinkRecord]]:
        """Take every buffered record out: per partition, in the order they were added."""
        buffers, self._buffers = self._buffers, {}
        self._count, self._bytes, self._oldest = 0, 0, None
        return buffers

    def drop(self, partitions: t.Iterable[TopicPartition]) -> list[SinkRecord]:
        """Take the records of ``partitions`` out unwritten (``close(lost=True)``); returns them.

        The byte count is then an estimate proportional to the records left.
        """
        dropped: list[SinkRecord] = []
        for tp in partitions:
            dropped.extend(self._buffers.pop(tp, []))
        if dropped:
            left = self._count - len(dropped)
            self._bytes = self._bytes * left // self._count if self._count else 0
            self._count = left
            if not left:
                self._oldest, self._bytes = None, 0
        return dropped

    def first_offsets(self) -> dict[TopicPartition, int]:
        """The offset of the first buffered record of each partition that has any."""
        return {tp: records[0].offset for tp, records in self._buffers.items() if records}

    def committable(self, offsets: t.Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        """``offsets`` (from ``pre_commit``) held back to the first record still buffered per partition."""
        first = self.first_offsets()
        return {tp: min(offset, first[tp]) if tp in first else offset for tp, offset in offsets.items()}
