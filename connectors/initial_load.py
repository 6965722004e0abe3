"""Initial loads as Debezium writes them: every row a read, the last one marked ``last``.

A source that emits the current state of its data before (or instead of) changes feeds
the load's rows through :class:`InitialLoad`; each comes out as ``op: "r"`` with
``source.snapshot: "true"``, and the last one with ``"last"``. Since the last row is only
known at the end, the latest read is held back until the next read or :meth:`finish`
(or :meth:`interrupt`, when the input breaks before the end: the held read goes out
unmarked); records reported in between (bad input) are held behind it, so offsets stay in order.
"""

from __future__ import annotations

import typing as t

from headwater.codecs.envelope import ChangeEvent, as_snapshot_read
from headwater.connectors.api import ErrantSourceRecord, SourceOffset, SourcePartition, SourceRecord

__all__ = ["InitialLoad"]

_Read: t.TypeAlias = tuple[SourcePartition, SourceOffset, str, ChangeEvent]
Output: t.TypeAlias = list[SourceRecord | ErrantSourceRecord]


class InitialLoad:
    """Turns one load's events into snapshot reads; used from a source task's thread only."""

    def __init__(self) -> None:
        self._held: list[_Read | ErrantSourceRecord] = []

    def read(self, partition: SourcePartition, offset: SourceOffset, topic: str, event: ChangeEvent) -> Output:
        """Hold ``event`` (a row of the load); returns what was held before it, ready to emit."""
        out = self._release(last=False)
        self._held = [(partition, offset, topic, event)]
        return out

    def other(self, record: ErrantSourceRecord) -> Output:
        """A record that is not a row of the load: emitted in order behind any held read."""
        if self._held:
            self._held.append(record)
            return []
        return [record]

    def finish(self) -> Output:
        """The load is complete: what is held, the last read marked ``snapshot: "last"``."""
        return self._release(last=True)

    def interrupt(self) -> Output:
        """The load stops before its end (its input is broken): what is held, ready to emit,
        none marked ``"last"`` since the load's last row was never read. A restart resumes
        the load after the stored offsets."""
        return self._release(last=False)

    def _release(self, *, last: bool) -> Output:
        out: Output = []
        for item in self._held:
            if isinstance(item, ErrantSourceRecord):
                out.append(item)
                continue
            partition, offset, topic, event = item
            read = as_snapshot_read(event, last=last)
            out.append(SourceRecord(partition, offset, topic, read.key, read.value()))
        self._held = []
        return out
