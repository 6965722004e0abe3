"""The optional Batcher: due by count, bytes and age; per-partition order; held-back commit points."""

from __future__ import annotations

import pytest

from headwater.connectors.api import SinkRecord
from headwater.connectors.batching import Batcher


def _record(partition: int, offset: int) -> SinkRecord:
    return SinkRecord("t", partition, offset, {"id": offset}, {"n": offset})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_due_by_count_bytes_and_age() -> None:
    clock = Clock()
    by_count = Batcher(max_records=3, max_bytes=10_000, max_age_ms=60_000, clock=clock)
    assert not by_count.due()
    for offset in range(2):
        by_count.add(_record(0, offset), 10)
    assert not by_count.due()
    by_count.add(_record(0, 2), 10)
    assert by_count.due()

    by_bytes = Batcher(max_records=100, max_bytes=25, max_age_ms=60_000, clock=clock)
    by_bytes.add(_record(0, 0), 20)
    assert not by_bytes.due()
    by_bytes.add(_record(0, 1), 5)
    assert by_bytes.due() and by_bytes.bytes == 25

    by_age = Batcher(max_records=100, max_bytes=10_000, max_age_ms=500, clock=clock)
    by_age.add(_record(0, 0), 1)
    clock.now += 0.499
    assert not by_age.due()
    clock.now += 0.002
    assert by_age.due()


def test_drain_keeps_per_partition_order_and_resets() -> None:
    batcher = Batcher(max_records=100)
    for offset, partition in enumerate([0, 1, 0, 2, 1, 0]):
        batcher.add(_record(partition, offset), 1)
    drained = batcher.drain()
    assert {tp: [r.offset for r in records] for tp, records in drained.items()} == {
        ("t", 0): [0, 2, 5],
        ("t", 1): [1, 4],
        ("t", 2): [3],
    }
    assert len(batcher) == 0 and batcher.bytes == 0 and not batcher.due() and batcher.drain() == {}


def test_committable_holds_back_to_the_first_buffered_record() -> None:
    batcher = Batcher()
    batcher.add(_record(0, 7), 1)
    batcher.add(_record(0, 8), 1)
    given = {("t", 0): 9, ("t", 1): 4}
    assert batcher.committable(given) == {("t", 0): 7, ("t", 1): 4}
    assert batcher.drop([("t", 0)]) == [_record(0, 7), _record(0, 8)]
    assert batcher.committable(given) == given and len(batcher) == 0


def test_bad_settings_and_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="max_records"):
        Batcher(max_records=0)
    with pytest.raises(ValueError, match="size"):
        Batcher().add(_record(0, 0), -1)
