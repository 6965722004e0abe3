"""A real Kafka broker for tests: the ``kafka_bootstrap_servers`` fixture and helpers.

The fixture is re-exported by the ``headwater.conformance.pytest_plugin`` so that every
test (ours and a connector author's) can ask for it. It either points at a broker named by
``$HEADWATER_BOOTSTRAP_SERVERS`` (CI with a shared broker, or a developer's own
``headwater kafka start``) or starts a private :class:`~headwater.connectors.runtime.
broker.LocalKafka` on free ports for the pytest session. Never a fake: a test that passes
here passed against Apache Kafka.

:func:`create_topic` and :func:`consume_all` are the two things most tests need next.
"""

from __future__ import annotations

import os
import time
import typing as t
import uuid

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

# confluent_kafka.admin re-exports NewTopic only implicitly, which strict mypy rejects;
# cimpl is where it is defined and typed.
from confluent_kafka.cimpl import NewTopic

from headwater.connectors.errors import FatalError, RetriableError
from headwater.connectors.launch.broker import LocalKafka, find_free_port
from headwater.connectors.runtime.topics import wait_for_leaders

__all__ = [
    "BOOTSTRAP_ENV",
    "consume_all",
    "create_topic",
    "kafka_bootstrap_servers",
]

#: When set, the fixture uses this broker instead of starting one.
BOOTSTRAP_ENV = "HEADWATER_BOOTSTRAP_SERVERS"


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> t.Iterator[str]:
    """Yield the ``host:port`` of a running Kafka broker for the whole test session.

    ``$HEADWATER_BOOTSTRAP_SERVERS`` wins when set (that broker is neither started nor
    stopped). Otherwise a single-node broker is started in a temp data dir on free ports
    (the first session on a machine also fetches the jars, see
    :func:`~headwater.connectors.launch.broker.ensure_kafka_libs`) and stopped when the
    session ends. The broker is shared by all tests: give each test its own topic names
    (e.g. with :func:`uuid.uuid4`).
    """
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        yield external
        return
    port = find_free_port()
    controller_port = find_free_port()
    while controller_port == port:
        controller_port = find_free_port()
    broker = LocalKafka(
        tmp_path_factory.mktemp("kafka"),
        port=port,
        controller_port=controller_port,
    )
    address = broker.start()
    try:
        yield address
    finally:
        broker.stop()


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    config: t.Mapping[str, str] | None = None,
    *,
    replication_factor: int = 1,
    exist_ok: bool = False,
    timeout: float = 30.0,
) -> None:
    """Create topic ``name`` and wait until every partition has a leader.

    On return, producers and consumers can use the topic at once (no "unknown topic"
    retries). Topic-level ``config`` values are strings, as in Kafka
    (e.g. ``{"cleanup.policy": "compact"}``).

    Raises:
        FatalError: the broker refused the topic, or it already exists and not
            ``exist_ok``.
        RetriableError: the broker did not confirm the topic within ``timeout``.
    """
    admin = _admin(bootstrap)
    new = NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=replication_factor,
        config=dict(config or {}),
    )
    future = admin.create_topics([new], operation_timeout=timeout)[name]
    try:
        future.result(timeout=timeout)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        already = isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS
        if not (already and exist_ok):
            msg = f"Cannot create topic {name!r} on {bootstrap}: {exc}"
            raise FatalError(msg) from exc
    wait_for_leaders(admin, name, partitions=partitions, timeout=timeout)


def consume_all(
    bootstrap: str,
    topic: str,
    timeout: float = 30.0,
    *,
    min_messages: int = 0,
    idle: float = 0.5,
) -> list[Message]:
    """Read every message of ``topic`` from the beginning, until it has gone idle.

    A fresh consumer (no group offsets, nothing committed) is assigned all partitions at
    their start. It stops once every partition has reported its end (partition EOF) since
    the last message, at least ``min_messages`` were read, and no message arrived for
    ``idle`` seconds, so a writer that is still finishing is waited for briefly. Only
    committed transactional messages are returned (``read_committed``), in per-partition
    offset order (partitions interleaved).

    Args:
        bootstrap: ``host:port`` of the broker.
        topic: the topic to read; a topic that does not exist yet is waited for while
            ``min_messages`` is above zero, and reads as empty otherwise.
        timeout: overall bound in seconds.
        min_messages: keep reading (within ``timeout``) until at least this many.
        idle: seconds without a new message that count as "done".

    Returns:
        The messages; none of them is an error event.

    Raises:
        RetriableError: ``timeout`` passed before the end of the topic or before
            ``min_messages`` were read (the count so far is in the message).
        FatalError: the consumer got a non-transient error.
    """
    deadline = time.monotonic() + timeout
    admin = _admin(bootstrap)
    partitions: list[int] = []
    while not partitions:
        try:
            meta = admin.list_topics(topic=topic, timeout=5.0).topics.get(topic)
        except KafkaException:
            meta = None
        if meta is not None and meta.error is None and meta.partitions:
            partitions = sorted(meta.partitions)
            break
        if min_messages == 0:
            return []
        if time.monotonic() > deadline:
            msg = f"Topic {topic!r} does not exist after {timeout:.0f}s"
            raise RetriableError(msg)
        time.sleep(0.2)

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # A throwaway group: assign() needs none, but librdkafka wants a group.id.
            "group.id": f"headwater-consume-all-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    messages: list[Message] = []
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end: set[int] = set()
        last_error: KafkaError | None = None
        last_activity = time.monotonic()
        while True:
            now = time.monotonic()
            done = len(at_end) == len(partitions) and len(messages) >= min_messages and now - last_activity >= idle
            if done:
                return messages
            if now > deadline:
                msg = (
                    f"consume_all({topic!r}) timed out after {timeout:.0f}s with "
                    f"{len(messages)} messages (wanted at least {min_messages}); "
                    f"partitions at end: {sorted(at_end)} of {partitions}; "
                    f"last client error: {last_error}"
                )
                raise RetriableError(msg)
            msg_or_event = consumer.poll(0.1)
            if msg_or_event is None:
                continue
            error = msg_or_event.error()
            if error is None:
                messages.append(msg_or_event)
                partition = msg_or_event.partition()
                if partition is not None:
                    at_end.discard(partition)
                last_activity = time.monotonic()
            elif error.code() == KafkaError._PARTITION_EOF:
                partition = msg_or_event.partition()
                if partition is not None:
                    at_end.add(partition)
            elif error.retriable() or not error.fatal():
                # Transient broker/connection errors are retried by librdkafka itself.
                last_error = error
            else:
                msg = f"consume_all({topic!r}) failed: {error}"
                raise FatalError(msg)
    finally:
        consumer.close()
