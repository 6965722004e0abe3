"""Reading, resetting and altering a connector's offsets for the REST API (KIP-875).

A source connector's offsets are the entries of the offset store keyed by its name; a
sink connector's offsets are the committed offsets of its consumer group
``connect-<name>``. Both are shown in Kafka Connect's shape::

    {"partition": {...}, "offset": {...}}                     # source: the connector's own maps
    {"partition": {"kafka_topic": t, "kafka_partition": p},
     "offset": {"kafka_offset": o}}                           # sink: the group's next offset to read

Resets and alters are only safe while no task of the connector runs. Both admins (the
standalone admin and the distributed herder) describe a connector as an
:class:`OffsetScope` and call :func:`read_offsets`, :func:`reset_offsets` and
:func:`alter_offsets`, which hold the whole flow: check that the connector is STOPPED,
let the connector refuse the change (:func:`ask_connector`, KIP-875's
``alterOffsets``), and only then write anything.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from headwater.connectors.errors import HeadwaterError, RetriableError
from headwater.connectors.runtime.logs import CLIENT_LOG
from headwater.connectors.runtime.offsets import ConnectorOffsets, KafkaOffsetStore, OffsetStore, offset_key

__all__ = [
    "ALTERED",
    "RESET",
    "GroupNotEmpty",
    "InvalidOffsets",
    "OffsetChange",
    "OffsetScope",
    "alter_offsets",
    "alter_sink_offsets",
    "alter_source_offsets",
    "ask_connector",
    "parse_offsets",
    "read_offsets",
    "reset_changes",
    "reset_offsets",
    "reset_sink_offsets",
    "reset_source_offsets",
    "sink_offsets",
    "source_offsets",
]

# Kafka Connect's answers when the connector keeps no offsets of its own elsewhere.
RESET = (
    "The Connect framework-managed offsets for this connector have been reset successfully. However, if this "
    "connector manages offsets externally, they will need to be manually reset in the system that the connector uses."
)
ALTERED = (
    "The Connect framework-managed offsets for this connector have been altered successfully. However, if this "
    "connector manages offsets externally, they will need to be manually altered in the system that the connector uses."
)

OffsetChange: t.TypeAlias = tuple[dict[str, t.Any], dict[str, t.Any] | None]
"""One requested change: a partition and its new offset (None removes it)."""


class InvalidOffsets(HeadwaterError):
    """The ``PATCH .../offsets`` body is not ``{"offsets": [{"partition", "offset"}]}`` of
    the connector's kind: fix the body (REST 400)."""


class GroupNotEmpty(HeadwaterError):
    """The sink's consumer group still has members: retry once they have left (REST 409)."""


def parse_offsets(body: t.Mapping[str, t.Any], *, sink: bool) -> list[OffsetChange]:
    """The changes a ``PATCH .../offsets`` body asks for, checked for the connector's kind.

    Raises:
        InvalidOffsets: naming the first entry that is malformed.
    """
    entries = body.get("offsets")
    if not isinstance(entries, list) or not entries:
        msg = "Partitions / offsets need to be provided for an alter offsets request"
        raise InvalidOffsets(msg)
    changes: list[OffsetChange] = []
    for index, entry in enumerate(entries):
        partition = entry.get("partition") if isinstance(entry, dict) else None
        offset = entry.get("offset") if isinstance(entry, dict) else None
        if not isinstance(partition, dict) or not partition:
            msg = f"offsets[{index}]: 'partition' must be a non-empty JSON object"
            raise InvalidOffsets(msg)
        if offset is not None and not isinstance(offset, dict):
            msg = f"offsets[{index}]: 'offset' must be a JSON object or null"
            raise InvalidOffsets(msg)
        if sink:
            _check_sink_entry(index, partition, offset)
        changes.append((partition, offset))
    return changes


def _check_sink_entry(index: int, partition: dict[str, t.Any], offset: dict[str, t.Any] | None) -> None:
    topic, number = partition.get("kafka_topic"), partition.get("kafka_partition")
    if not isinstance(topic, str) or not topic or not _is_int(number) or number < 0:
        msg = (
            f"offsets[{index}]: a sink connector's partition is "
            '{"kafka_topic": "<topic>", "kafka_partition": <n >= 0>}'
        )
        raise InvalidOffsets(msg)
    if offset is not None:
        value = offset.get("kafka_offset")
        if not _is_int(value) or value < 0:
            msg = f'offsets[{index}]: a sink connector\'s offset is {{"kafka_offset": <n >= 0>}} or null'
            raise InvalidOffsets(msg)


def _is_int(value: object) -> t.TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


# -- the connector's say (KIP-875) ---------------------------------------------------


class _Partition(Mapping[str, t.Any]):
    """A source partition as a read-only, hashable mapping (a key of ``alter_offsets``'s argument)."""

    def __init__(self, items: t.Mapping[str, t.Any]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> t.Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(sorted((key, repr(value)) for key, value in self._items.items())))

    def __repr__(self) -> str:
        return repr(self._items)


def ask_connector(
    plugin_class: type[t.Any], plugin_config: t.Any, changes: t.Sequence[OffsetChange], *, sink: bool
) -> None:
    """Hand the requested changes to a fresh instance of the connector's ``alter_offsets``.

    Called before anything is written, for a ``PATCH`` and for a reset (every stored
    partition mapped to None). A source connector gets its partition mappings (hashable,
    read-only) to offset mappings or None; a sink gets ``(topic, partition)`` to the next
    offset to read or None. The instance is not started (as Kafka Connect's).

    Raises:
        ConfigError: the connector refuses (REST 400 with its message); nothing was written.
    """
    offsets: dict[t.Any, t.Any]
    if sink:
        offsets = {
            (partition["kafka_topic"], partition["kafka_partition"]): None if offset is None else offset["kafka_offset"]
            for partition, offset in changes
        }
    else:
        offsets = {_Partition(partition): None if offset is None else dict(offset) for partition, offset in changes}
    plugin_class(plugin_config).alter_offsets(offsets)


def reset_changes(current: t.Sequence[t.Mapping[str, t.Any]]) -> list[OffsetChange]:
    """The changes a reset makes: every partition of ``current`` (the ``GET .../offsets``
    entries) mapped to None."""
    return [(dict(entry["partition"]), None) for entry in current]


# -- sources -------------------------------------------------------------------------


def source_offsets(store: OffsetStore, connector: str) -> list[dict[str, t.Any]]:
    """The connector's stored source offsets (re-read first from an offset topic)."""
    if isinstance(store, KafkaOffsetStore):
        store.refresh()
    return [
        {"partition": partition, "offset": offset} for partition, offset in ConnectorOffsets(store, connector).all()
    ]


def reset_source_offsets(store: OffsetStore, connector: str) -> None:
    """Delete (tombstone) every stored offset of ``connector``: its tasks start from scratch.

    Raises:
        RetriableError: the store did not acknowledge the deletes.
    """
    if isinstance(store, KafkaOffsetStore):
        store.refresh()
    keys = [offset_key(connector, partition) for partition, _offset in ConnectorOffsets(store, connector).all()]
    if keys:
        store.put_many(dict.fromkeys(keys))


def alter_source_offsets(store: OffsetStore, connector: str, changes: t.Sequence[OffsetChange]) -> None:
    """Write each partition's new offset (a None offset deletes it) in one ``put_many``.

    Raises:
        RetriableError: the store did not acknowledge the writes.
    """
    store.put_many({offset_key(connector, partition): offset for partition, offset in changes})


# -- sinks ---------------------------------------------------------------------------

_CONNECTION_PREFIXES = ("bootstrap.servers", "security.", "sasl.", "ssl.", "client.dns.lookup", "socket.")


def _admin(consumer_config: t.Mapping[str, t.Any]) -> t.Any:
    """An AdminClient on the cluster and with the credentials of the sink's consumer."""
    from confluent_kafka.admin import AdminClient

    config = {key: value for key, value in consumer_config.items() if key.startswith(_CONNECTION_PREFIXES)}
    return AdminClient({**config, "logger": CLIENT_LOG})


def _committed(admin: t.Any, group: str) -> dict[tuple[str, int], int]:
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException

    future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
    try:
        result = future.result(timeout=30)
    except KafkaException as exc:
        if exc.args and getattr(exc.args[0], "code", lambda: None)() == KafkaError.GROUP_ID_NOT_FOUND:
            return {}
        msg = f"cannot read the committed offsets of consumer group {group}: {exc}"
        raise RetriableError(msg) from exc
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in result.topic_partitions or []
        if tp.error is None and tp.offset >= 0
    }


def sink_offsets(consumer_config: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The committed offsets of the sink's group (``consumer_config["group.id"]``).

    Raises:
        RetriableError: the group's offsets could not be read.
    """
    committed = _committed(_admin(consumer_config), consumer_config["group.id"])
    return [
        {"partition": {"kafka_topic": topic, "kafka_partition": partition}, "offset": {"kafka_offset": offset}}
        for (topic, partition), offset in sorted(committed.items())
    ]


def _delete_group(admin: t.Any, group: str) -> None:
    from confluent_kafka import KafkaError, KafkaException

    try:
        admin.delete_consumer_groups([group], request_timeout=30)[group].result(timeout=30)
    except KafkaException as exc:
        code = getattr(exc.args[0], "code", lambda: None)() if exc.args else None
        if code == KafkaError.GROUP_ID_NOT_FOUND:
            return
        if code == KafkaError.NON_EMPTY_GROUP:
            msg = (
                f"consumer group {group} still has members, so its offsets cannot change: a sink task still runs, "
                "or a static member (worker.instance.id) waits out its session.timeout.ms; retry once it left"
            )
            raise GroupNotEmpty(msg) from exc
        msg = f"cannot delete consumer group {group}: {exc}"
        raise RetriableError(msg) from exc


def _commit(admin: t.Any, group: str, offsets: t.Mapping[tuple[str, int], int]) -> None:
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition

    if not offsets:
        return
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(tp[0], tp[1], o) for tp, o in offsets.items()])
    try:
        result = admin.alter_consumer_group_offsets([request])[group].result(timeout=30)
    except KafkaException as exc:
        code = getattr(exc.args[0], "code", lambda: None)() if exc.args else None
        if code in (KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS, KafkaError.NON_EMPTY_GROUP):
            msg = f"consumer group {group} still has members, so its offsets cannot change; retry once they left"
            raise GroupNotEmpty(msg) from exc
        msg = f"cannot alter the offsets of consumer group {group}: {exc}"
        raise RetriableError(msg) from exc
    failed = [f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in result.topic_partitions or [] if tp.error]
    if failed:
        msg = f"offsets of consumer group {group} not altered: {failed}"
        raise RetriableError(msg)


def reset_sink_offsets(consumer_config: t.Mapping[str, t.Any]) -> None:
    """Delete the sink's consumer group, so its tasks read from ``auto.offset.reset``
    (``earliest`` unless overridden): the topics again from the start.

    Raises:
        GroupNotEmpty: the group still has members.
        RetriableError: Kafka did not answer.
    """
    _delete_group(_admin(consumer_config), consumer_config["group.id"])


def alter_sink_offsets(consumer_config: t.Mapping[str, t.Any], changes: t.Sequence[OffsetChange]) -> None:
    """Set the group's committed offset of each partition (a None offset removes it).

    Kafka's client here cannot delete one partition's offset, so a removal deletes the
    group and commits back every offset that is not removed, while the group is empty.

    Raises:
        GroupNotEmpty: the group still has members.
        RetriableError: Kafka did not answer.
    """
    admin = _admin(consumer_config)
    group = consumer_config["group.id"]
    wanted = {
        (partition["kafka_topic"], partition["kafka_partition"]): None if offset is None else offset["kafka_offset"]
        for partition, offset in changes
    }
    if all(offset is not None for offset in wanted.values()):
        _commit(admin, group, t.cast(dict[tuple[str, int], int], wanted))
        return
    kept = {tp: offset for tp, offset in _committed(admin, group).items() if tp not in wanted}
    kept.update({tp: offset for tp, offset in wanted.items() if offset is not None})
    _delete_group(admin, group)
    _commit(admin, group, kept)


# -- the REST flow -------------------------------------------------------------------


@dataclass(frozen=True)
class OffsetScope:
    """Where one connector's offsets live: a source's entries in the offset store, or a
    sink's consumer group. Both are given lazily, as opening either may touch Kafka."""

    connector: str
    sink: bool
    store: t.Callable[[], OffsetStore]
    """The worker's offset store (sources)."""
    consumer_config: t.Callable[[], t.Mapping[str, t.Any]]
    """The sink's consumer config, with its ``group.id`` (sinks)."""
    ask: t.Callable[[t.Sequence[OffsetChange]], None] | None = None
    """Hands the requested changes to the connector's ``alter_offsets`` (see
    :func:`ask_connector`); raises ConfigError when the connector refuses them."""


def read_offsets(scope: OffsetScope) -> list[dict[str, t.Any]]:
    """``GET .../offsets``: the connector's offsets in Kafka Connect's shape.

    Raises:
        RetriableError: a sink group's offsets could not be read.
    """
    if scope.sink:
        return sink_offsets(scope.consumer_config())
    return source_offsets(scope.store(), scope.connector)


def reset_offsets(scope: OffsetScope, ensure_stopped: t.Callable[[], object]) -> str:
    """``DELETE .../offsets``: once ``ensure_stopped`` passes, delete every offset of the
    connector; returns Kafka Connect's message.

    Raises:
        ConnectorNotStopped, TasksStillStopping: from ``ensure_stopped``.
        ConfigError: the connector refused the change (nothing was written).
        GroupNotEmpty: a sink's consumer group still has members.
        RetriableError: Kafka did not acknowledge.
    """
    ensure_stopped()
    if scope.ask is not None:
        scope.ask(reset_changes(read_offsets(scope)))
    if scope.sink:
        reset_sink_offsets(scope.consumer_config())
    else:
        reset_source_offsets(scope.store(), scope.connector)
    return RESET


def alter_offsets(scope: OffsetScope, body: t.Mapping[str, t.Any], ensure_stopped: t.Callable[[], object]) -> str:
    """``PATCH .../offsets``: check ``body`` for the connector's kind (a malformed body is
    400 whatever the state), then, once ``ensure_stopped`` passes, write the offsets.

    Raises:
        InvalidOffsets: the body is malformed for the connector's kind.
        ConnectorNotStopped, TasksStillStopping: from ``ensure_stopped``.
        ConfigError: the connector refused the change (nothing was written).
        GroupNotEmpty: a sink's consumer group still has members.
        RetriableError: Kafka did not acknowledge.
    """
    changes = parse_offsets(body, sink=scope.sink)
    ensure_stopped()
    if scope.ask is not None:
        scope.ask(changes)
    if scope.sink:
        alter_sink_offsets(scope.consumer_config(), changes)
    else:
        alter_source_offsets(scope.store(), scope.connector, changes)
    return ALTERED
