"""Timing one source connector end to end in an in-process worker, shared by the source benchmarks.

``bench_sap.py`` and ``bench_mainframe_source.py`` measure the same thing: a real worker
(:func:`headwater.conformance.runtime.in_process_worker`) runs one connector against a real
broker until its task 0 has polled every record, then stops; the clock stops once ``stop()``
has flushed the producer, seen every ack and stored the offsets.
"""

from __future__ import annotations

import contextlib
import os
import time
import typing as t
from pathlib import Path

from headwater.conformance.runtime import in_process_worker
from headwater.connectors.api import SourceOffset, SourcePartition
from headwater.connectors.loading import parse_connector
from headwater.connectors.runtime.offsets import ConnectorOffsets

__all__ = ["bootstrap_servers", "json_converters", "messages_in", "run_until_polled"]


@contextlib.contextmanager
def bootstrap_servers(work: Path) -> t.Iterator[str]:
    """``$HEADWATER_BOOTSTRAP_SERVERS`` when set; else a local broker in ``work / "kafka"`` for the block."""
    bootstrap = os.environ.get("HEADWATER_BOOTSTRAP_SERVERS", "").strip()
    if bootstrap:
        yield bootstrap
        return
    from headwater.connectors.launch.broker import LocalKafka, find_free_port

    broker = LocalKafka(work / "kafka", port=find_free_port(), controller_port=find_free_port())
    bootstrap = broker.start()
    try:
        yield bootstrap
    finally:
        broker.stop()


def json_converters(schemas: bool) -> dict[str, str]:
    """Connector settings for JSON keys without schemas and JSON values with or without them."""
    return {
        "value.converter": "json",
        "value.converter.schemas.enable": str(schemas).lower(),
        "key.converter": "json",
        "key.converter.schemas.enable": "false",
    }


def run_until_polled(
    bootstrap: str, work: Path, name: str, config: dict[str, str], count: int
) -> tuple[float, list[tuple[SourcePartition, SourceOffset]]]:
    """Run connector ``name`` with ``config`` until task 0 polled ``count`` records, then stop it.

    Uses the default offset flush interval (5 s) and a worker folder ``work / name``.

    Returns:
        The seconds from start to the end of a clean stop, and the connector's stored offsets
        as (partition, offset) pairs.

    Raises:
        RuntimeError: a task failed (its status is the message).
    """
    connector = parse_connector({"name": name, "config": config})
    worker = in_process_worker(bootstrap, work / name, [connector], offset_flush_interval_ms=5000)
    polled = worker.metrics.source_record_poll.labels(connector=connector.framework.name, task="0")
    started = time.perf_counter()
    worker.start()
    checked = started
    try:
        while polled._value.get() < count:
            # The status every 0.2 s only: read every 10 ms it took about 5% of the worker's
            # time (the GIL) in the mainframe bench.
            if time.perf_counter() - checked >= 0.2:
                checked = time.perf_counter()
                status = worker.status(connector.framework.name)
                if any(task["state"] == "FAILED" for task in status["tasks"]):
                    raise RuntimeError(status)
            time.sleep(0.01)
    finally:
        assert worker.stop(60)
    elapsed = time.perf_counter() - started
    return elapsed, ConnectorOffsets(worker.offset_store, connector.framework.name).all()


def messages_in(bootstrap: str, wanted: t.Callable[[str], bool]) -> int:
    """Messages in the topics that ``wanted`` picks by name: the sum of their partitions'
    high watermarks (a topic not created yet, or with a metadata error, counts 0)."""
    import uuid

    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-count-{uuid.uuid4().hex[:6]}"})
    try:
        topics = consumer.list_topics(timeout=30).topics
        return sum(
            consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=30)[1]
            for name, topic in topics.items()
            if wanted(name) and topic.error is None
            for partition in topic.partitions
        )
    finally:
        consumer.close()


def drop_topics(bootstrap: str, wanted: t.Callable[[str], bool]) -> None:
    """Delete the topics ``wanted`` picks (a run's, once counted), so that the broker does
    not carry every earlier run's data into the next one (each Oracle `users` run writes
    130 MB; runs on a broker that kept them measured slower one after another, though this
    machine's own speed moves as much)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [name for name in admin.list_topics(timeout=30).topics if wanted(name)]
    if names:
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.result()
