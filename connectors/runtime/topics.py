"""Creating topics: the runtime's own (dead-letter, offset, slots) and, for source
connectors, the topics they write to (``topic.creation.*``, KIP-158).

A source connector with ``topic.creation.default.replication.factor`` and
``topic.creation.default.partitions`` (on a worker with ``topic.creation.enable=true``,
the default) has each topic it writes to created before its first record is produced,
from the first group of ``topic.creation.groups`` whose ``include`` regexes match the
topic and whose ``exclude`` regexes do not (else from ``default``). A group's
``replication.factor`` and ``partitions`` default to ``default``'s; every other key of a
group is a topic config (``cleanup.policy``, ``retention.ms``, ``compression.type``, ...).
A topic that exists already is left as it is, as in Kafka Connect.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import typing as t
from dataclasses import dataclass, field

from headwater.connectors.errors import FieldError, RetriableError
from headwater.connectors.runtime.logs import CLIENT_LOG

__all__ = [
    "TopicCreation",
    "TopicCreator",
    "TopicGroup",
    "connection_settings",
    "ensure_topic",
    "parse_topic_creation",
    "wait_for_leaders",
]

log = logging.getLogger(__name__)

_CONNECTION_PREFIXES = ("bootstrap.servers", "security.", "sasl.", "ssl.", "client.dns.lookup", "socket.")


def connection_settings(client_config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The keys of a producer or consumer config that say where Kafka is and how to log in
    (``bootstrap.servers``, ``security.*``, ``sasl.*``, ``ssl.*``, ...): enough for an admin
    client on the same cluster with the same credentials."""
    return {key: value for key, value in client_config.items() if key.startswith(_CONNECTION_PREFIXES)}


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
    admin, _created = _create_topic(
        client_config, name, partitions, replication_factor, config or {}, timeout=timeout, what=f"{purpose} {name}"
    )
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


# -- topic.creation.* (KIP-158) ------------------------------------------------------

TOPIC_CONFIGS = frozenset(
    {
        "cleanup.policy",
        "compression.type",
        "compression.gzip.level",
        "compression.lz4.level",
        "compression.zstd.level",
        "delete.retention.ms",
        "file.delete.delay.ms",
        "flush.messages",
        "flush.ms",
        "follower.replication.throttled.replicas",
        "index.interval.bytes",
        "leader.replication.throttled.replicas",
        "local.retention.bytes",
        "local.retention.ms",
        "max.compaction.lag.ms",
        "max.message.bytes",
        "message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms",
        "message.timestamp.type",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "preallocate",
        "remote.log.copy.disable",
        "remote.log.delete.on.disable",
        "remote.storage.enable",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.index.bytes",
        "segment.jitter.ms",
        "segment.ms",
        "unclean.leader.election.enable",
    }
)
"""Kafka 4.x topic-level configs a ``topic.creation`` group may set."""

_PREFIX = "topic.creation."


@dataclass(frozen=True)
class TopicGroup:
    """One ``topic.creation`` group: which topics it covers and how they are created."""

    name: str
    partitions: int
    replication_factor: int
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    configs: t.Mapping[str, str] = field(default_factory=dict)

    def matches(self, topic: str) -> bool:
        """``default`` matches every topic; another group a topic one of its ``include``
        regexes matches in full and none of its ``exclude`` regexes does."""
        if self.name == "default":
            return True
        return any(p.fullmatch(topic) for p in self.include) and not any(p.fullmatch(topic) for p in self.exclude)


@dataclass(frozen=True)
class TopicCreation:
    """A source connector's ``topic.creation.*``: its groups in order, ``default`` last."""

    groups: tuple[TopicGroup, ...]

    def group_for(self, topic: str) -> TopicGroup:
        """The first group that matches ``topic`` (``default`` matches them all)."""
        return next(group for group in self.groups if group.matches(topic))


def _count(value: str, key: str, errors: list[FieldError]) -> int:
    text = str(value).strip()
    if text.lstrip("-").isdigit() and (int(text) == -1 or int(text) >= 1):
        return int(text)
    errors.append(FieldError(key, f"{value!r}: give a whole number of at least 1, or -1 for the broker's default"))
    return -1


def _regexes(value: str, key: str, errors: list[FieldError]) -> tuple[re.Pattern[str], ...]:
    patterns = []
    for part in (p.strip() for p in str(value).split(",")):
        if not part:
            continue
        try:
            patterns.append(re.compile(part))
        except re.error as exc:
            errors.append(FieldError(key, f"{part!r} is not a regular expression: {exc}"))
    return tuple(patterns)


def parse_topic_creation(settings: t.Mapping[str, t.Any]) -> tuple[TopicCreation | None, list[FieldError]]:
    """Read a connector's ``topic.creation.*`` keys (given without the prefix).

    Returns ``(None, [])`` when there are none; otherwise the rules and one error per key
    that is wrong (each named in full, ``topic.creation.<group>.<key>``): the two
    ``default`` keys missing, a count that is not -1 or at least 1, a regex that does not
    compile, a group without ``include`` or not listed in ``topic.creation.groups``, a
    topic config Kafka does not have.
    """
    if not settings:
        return None, []
    errors: list[FieldError] = []
    names = [g.strip() for g in str(settings.get("groups", "")).split(",") if g.strip()]
    if "default" in names:
        errors.append(FieldError(_PREFIX + "groups", "default is always a group; list only the others"))
    per_group: dict[str, dict[str, str]] = {name: {} for name in ["default", *names]}
    for key, value in settings.items():
        if key == "groups":
            continue
        group, _, setting = key.partition(".")
        if not setting:
            errors.append(FieldError(_PREFIX + key, "unknown key; expected topic.creation.<group>.<setting>"))
        elif group not in per_group:
            errors.append(FieldError(_PREFIX + key, f"group {group!r} is not listed in topic.creation.groups"))
        else:
            per_group[group][setting] = str(value)
    default = per_group["default"]
    for setting in ("replication.factor", "partitions"):
        if setting not in default:
            message = "required when any topic.creation.* key is set (-1 takes the broker's default)"
            errors.append(FieldError(f"{_PREFIX}default.{setting}", message))
    groups = []
    for name in [*names, "default"]:
        raw = dict(per_group.get(name, {}))
        where = f"{_PREFIX}{name}."
        partitions = _count(raw.pop("partitions", default.get("partitions", "-1")), where + "partitions", errors)
        replication = _count(
            raw.pop("replication.factor", default.get("replication.factor", "-1")), where + "replication.factor", errors
        )
        include = _regexes(raw.pop("include", ""), where + "include", errors)
        exclude = _regexes(raw.pop("exclude", ""), where + "exclude", errors)
        if name == "default" and (include or exclude):
            errors.append(FieldError(where + "include", "default covers every topic no other group takes"))
        elif name != "default" and not include:
            errors.append(FieldError(where + "include", "required: regexes of the topics this group creates"))
        for setting in raw:
            if setting not in TOPIC_CONFIGS:
                errors.append(
                    FieldError(where + setting, "not a Kafka topic config (e.g. cleanup.policy, retention.ms)")
                )
        configs = {key: value for key, value in raw.items() if key in TOPIC_CONFIGS}
        groups.append(TopicGroup(name, partitions, replication, include, exclude, configs))
    return TopicCreation(tuple(groups)), errors


class TopicCreator:
    """Creates a source task's topics before the first record goes to each.

    Built by the worker per task (with the task's admin settings); :meth:`ensure` is
    called from the task's thread before each record whose topic it has not seen, so a
    topic exists with its group's settings before anything is produced to it.
    """

    def __init__(self, admin_config: t.Mapping[str, t.Any], rules: TopicCreation, *, timeout: float = 30.0) -> None:
        self.admin_config = dict(admin_config)
        self.rules = rules
        self.timeout = timeout
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def ensure(self, topic: str) -> None:
        """Create ``topic`` from its group unless it exists; return once it has leaders.

        Raises:
            RetriableError: the broker refused or did not answer (the task retries).
        """
        with self._lock:
            if topic in self.seen:
                return
            group = self.rules.group_for(topic)
            created = _create_if_missing(self.admin_config, topic, group, timeout=self.timeout)
            if created:
                log.info(
                    "created topic %s (group %s: %d partitions, replication factor %d, %s)",
                    topic,
                    group.name,
                    group.partitions,
                    group.replication_factor,
                    dict(group.configs) or "no configs",
                )
            self.seen.add(topic)


def _create_if_missing(admin_config: t.Mapping[str, t.Any], topic: str, group: TopicGroup, *, timeout: float) -> bool:
    admin, created = _create_topic(
        admin_config,
        topic,
        group.partitions,
        group.replication_factor,
        group.configs,
        timeout=timeout,
        what=f"topic {topic} (topic.creation group {group.name})",
    )
    if created:
        wait_for_leaders(admin, topic, purpose="topic", partitions=max(group.partitions, 1), timeout=timeout)
    return created


def _create_topic(
    client_config: t.Mapping[str, t.Any],
    name: str,
    partitions: int,
    replication_factor: int,
    configs: t.Mapping[str, str],
    *,
    timeout: float,
    what: str,
) -> tuple[t.Any, bool]:
    """Ask the broker to create ``name``: the admin client used and whether it was created
    now (False: it existed). librdkafka's own lines go to :data:`CLIENT_LOG`.

    Raises:
        RetriableError: any other answer, naming ``what``.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({**client_config, "logger": CLIENT_LOG})
    new_topic = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=dict(configs))
    created = True
    for future in admin.create_topics([new_topic]).values():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                created = False
                continue
            msg = f"cannot create {what}: {exc}"
            raise RetriableError(msg) from exc
    return admin, created
