"""Creating the topics the runtime itself writes to (dead-letter and offset topics)."""

from __future__ import annotations

import time
import typing as t

from headwater.connectors.errors import RetriableError
from headwater.connectors.runtime.logs import CLIENT_LOG

__all__ = ["ensure_topic", "wait_for_leaders"]


def ensure_topic(
    client_config: t.Mapping[str, t.Any],
    name: str,
    *,
    purpose: str,
    partitions: int = 1,
    replication_factor: int = -1,
    config: t.Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create topic ``name`` unless it exists; ``-1`` takes the broker's replication factor.

    Returns once every partition has a leader, so the caller can read and write at once.

    Raises:
        RetriableError: the broker did not create it (the message names ``purpose``).
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({**client_config, "logger": CLIENT_LOG})
    new_topic = NewTopic(
        name, num_partitions=partitions, replication_factor=replication_factor, config=dict(config or {})
    )
    for future in admin.create_topics([new_topic]).values():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            msg = f"cannot create {purpose} {name}: {exc}"
            raise RetriableError(msg) from exc
    wait_for_leaders(admin, name, purpose=purpose, timeout=timeout)


def wait_for_leaders(
    admin: t.Any, name: str, *, purpose: str = "topic", partitions: int = 1, timeout: float = 30.0
) -> None:
    """Wait until topic ``name`` has at least ``partitions`` partitions, each with a leader.

    Raises:
        RetriableError: not so within ``timeout`` seconds.
    """
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout
    while True:
        try:
            metadata = admin.list_topics(topic=name, timeout=5).topics.get(name)
        except KafkaException:
            metadata = None
        leaders = [p.leader for p in metadata.partitions.values()] if metadata and metadata.error is None else []
        if len(leaders) >= max(1, partitions) and min(leaders) >= 0:
            return
        if time.monotonic() > deadline:
            msg = f"{purpose} {name} has partitions without a leader after {timeout:.0f} s"
            raise RetriableError(msg)
        time.sleep(0.1)
