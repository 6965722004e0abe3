"""Active topics (KIP-558): the topics each connector produced to or consumed from.

Kafka Connect answers ``GET /connectors/{name}/topics`` with ``{name: {"topics": [...]}}``
and forgets them on ``PUT /connectors/{name}/topics/reset``. Each running task holds a
:class:`TaskTopics`: a source task reports a topic the first time it sends a record to
it (after transforms), a sink task each topic it is assigned a partition of. The runner
checks :attr:`TaskTopics.seen` itself (a set lookup per record, nothing more) and calls
:meth:`TaskTopics.add` for a topic not in it.

Where they are kept:

- :class:`MemoryTopicStore` (standalone): in the process; gone when it stops.
- :class:`StatusTopicStore` (distributed): in the status topic, as Kafka Connect keeps
  them: ``topic-<topic>-connector-<connector>`` → ``{"topic": {"name", "connector",
  "task", "discoverTimestamp"}}``, so every worker answers for the cluster and a reset on
  one worker (tombstones) makes every worker's tasks report their topics again.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t
import weakref

if t.TYPE_CHECKING:
    from headwater.connectors.runtime.tables import TopicTable

__all__ = ["MemoryTopicStore", "StatusTopicStore", "TaskTopics", "TopicStore"]

log = logging.getLogger(__name__)
TOPIC_PREFIX = "topic-"


class TopicStore(t.Protocol):
    """Where a worker keeps the active topics of its connectors."""

    def tracker(self, connector: str, task_id: int) -> TaskTopics:
        """A new task's tracker (the runner of task ``task_id`` calls its :meth:`~TaskTopics.add`)."""
        ...

    def topics(self, connector: str) -> list[str]:
        """The connector's active topics, sorted."""
        ...

    def reset(self, connector: str) -> None:
        """Forget the connector's active topics; its running tasks report them again."""
        ...


class TaskTopics:
    """One task's view: the topics it already reported (``seen``) and how to report one."""

    def __init__(self, connector: str, task_id: int, record: t.Callable[[str, int, str], None]) -> None:
        self.connector = connector
        self.task_id = task_id
        self.seen: set[str] = set()
        """Topics already reported; cleared by a reset. Read by the task's thread only."""
        self._record = record

    def add(self, topic: str) -> None:
        """From the task's thread: report ``topic`` (once until the next reset). A store
        failure is logged, never raised into the task."""
        self.seen.add(topic)
        try:
            self._record(self.connector, self.task_id, topic)
        except Exception:
            log.warning("could not record active topic %s of connector %s", topic, self.connector, exc_info=True)
            self.seen.discard(topic)


class _Trackers:
    """The live trackers per connector, so a reset can clear their ``seen`` sets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_connector: dict[str, weakref.WeakSet[TaskTopics]] = {}

    def add(self, tracker: TaskTopics) -> TaskTopics:
        with self._lock:
            self._by_connector.setdefault(tracker.connector, weakref.WeakSet()).add(tracker)
        return tracker

    def forget(self, connector: str, topic: str | None = None) -> None:
        with self._lock:
            trackers = list(self._by_connector.get(connector, ()))
        for tracker in trackers:
            if topic is None:
                tracker.seen.clear()
            else:
                tracker.seen.discard(topic)


class MemoryTopicStore:
    """Active topics of a standalone worker, in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, dict[str, int]] = {}
        self._trackers = _Trackers()

    def _record(self, connector: str, _task_id: int, topic: str) -> None:
        with self._lock:
            self._topics.setdefault(connector, {}).setdefault(topic, int(time.time() * 1000))

    def tracker(self, connector: str, task_id: int) -> TaskTopics:
        return self._trackers.add(TaskTopics(connector, task_id, self._record))

    def topics(self, connector: str) -> list[str]:
        with self._lock:
            return sorted(self._topics.get(connector, {}))

    def reset(self, connector: str) -> None:
        with self._lock:
            self._topics.pop(connector, None)
        self._trackers.forget(connector)


def topic_key(topic: str, connector: str) -> str:
    """Kafka Connect's status-topic key of an active topic."""
    return f"{TOPIC_PREFIX}{topic}-connector-{connector}"


class StatusTopicStore:
    """Active topics of a distributed cluster, in its status topic (see the module doc)."""

    def __init__(self, statuses: TopicTable) -> None:
        """Call before ``statuses.start()`` is not needed; the listener sees later changes."""
        self.statuses = statuses
        self._trackers = _Trackers()
        statuses.add_listener(self._changed)

    def _changed(self, key: str, value: dict[str, t.Any] | None) -> None:
        """From the status table's reader thread: a tombstone (a reset, here or on another
        worker) makes the local tasks report that topic again."""
        if value is None and key.startswith(TOPIC_PREFIX):
            topic, sep, connector = key[len(TOPIC_PREFIX) :].rpartition("-connector-")
            if sep:
                self._trackers.forget(connector, topic)

    def _record(self, connector: str, task_id: int, topic: str) -> None:
        key = topic_key(topic, connector)
        if self.statuses.get(key) is None:
            entry = {
                "name": topic,
                "connector": connector,
                "task": task_id,
                "discoverTimestamp": int(time.time() * 1000),
            }
            self.statuses.put(key, {"topic": entry})

    def tracker(self, connector: str, task_id: int) -> TaskTopics:
        return self._trackers.add(TaskTopics(connector, task_id, self._record))

    def _entries(self, connector: str) -> dict[str, str]:
        """Status key → topic name of the connector's active topics."""
        found = {}
        for key, value in self.statuses.items(TOPIC_PREFIX).items():
            entry = value.get("topic") if isinstance(value, dict) else None
            if isinstance(entry, dict) and entry.get("connector") == connector and isinstance(entry.get("name"), str):
                found[key] = entry["name"]
        return found

    def topics(self, connector: str) -> list[str]:
        return sorted(set(self._entries(connector).values()))

    def reset(self, connector: str) -> None:
        for key in self._entries(connector):
            self.statuses.put(key, None)
        self._trackers.forget(connector)
