"""The bare-client loops the benchmarks compare the runtime with."""

from __future__ import annotations

import time
import typing as t

__all__ = ["PRODUCER_SETTINGS", "produce_all"]

PRODUCER_SETTINGS = {"linger.ms": "5", "compression.type": "lz4", "acks": "all", "enable.idempotence": "true"}
"""The runtime's own producer settings, so both sides pay for the same guarantees."""


def produce_all(bootstrap: str, topic: str, messages: t.Iterable[tuple[bytes | None, bytes | None]]) -> float:
    """Produce ``(key, value)`` messages as fast as the client allows; seconds until all are acked."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_SETTINGS})
    started = time.perf_counter()
    for i, (key, value) in enumerate(messages):
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0, "not every message was acknowledged"
    return time.perf_counter() - started
