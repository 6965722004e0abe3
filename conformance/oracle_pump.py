"""Run an ``oracle-logminer`` task against the LogMiner emulator straight into Kafka.

For the end-to-end test and the benchmark while the worker's support for offset markers
(contract v2) lands: the task is polled directly, records are serialised with a
:class:`~headwater.codecs.converters.JsonConverter` and produced with the runtime's
producer settings; offset markers are skipped (nothing is stored). Not a runtime:
no offsets, no retries, no transactions.
"""

from __future__ import annotations

import typing as t

from headwater.codecs.converters import JsonConverter
from headwater.connectors.api import SourceRecord

__all__ = ["PRODUCER_SETTINGS", "pump"]

PRODUCER_SETTINGS = {"linger.ms": "5", "compression.type": "lz4", "acks": "all", "enable.idempotence": "true"}


class _Pollable(t.Protocol):
    context: t.Any

    def poll(self) -> t.Sequence[t.Any]: ...


def pump(task: _Pollable, finished: t.Callable[[], bool], bootstrap: str, *, schemas: bool = False) -> dict[str, int]:
    """Poll ``task`` until ``finished()`` and the task has caught up; produce every record.

    Returns:
        Records produced per topic (tombstones included).

    Raises:
        AssertionError: not every message was acknowledged within 120 s.
    """
    from confluent_kafka import Producer

    converter = JsonConverter(schemas_enable=schemas)
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_SETTINGS})
    counts: dict[str, int] = {}
    idle = 0
    while idle < 2:
        batch = task.poll()
        caught_up = task.context.next_poll_delay_ms > 0
        task.context.next_poll_delay_ms = 0
        for record in batch:
            if not isinstance(record, SourceRecord):
                continue
            key = converter.to_bytes(record.topic, record.key)
            value = converter.to_bytes(record.topic, record.value)
            while True:
                try:
                    producer.produce(record.topic, value, key)
                    break
                except BufferError:
                    producer.poll(0.05)
            counts[record.topic] = counts.get(record.topic, 0) + 1
        producer.poll(0)
        idle = idle + 1 if finished() and caught_up else 0
    assert producer.flush(120) == 0, "not every message was acknowledged"
    return counts
