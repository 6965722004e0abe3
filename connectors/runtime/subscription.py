"""What a sink task's consumer subscribes to: ``topics``, or ``topics.regex`` matched as Kafka Connect does.

Kafka Connect matches ``topics.regex`` with Java's ``Pattern.matcher(topic).matches()``:
the whole topic name, in Java's regex syntax (``\\d``, ``(?:...)``, ``[\\w.-]``). librdkafka's
own regex subscriptions (a ``^`` pattern) use POSIX extended regexes and match anywhere
in the name: ``\\d`` matches nothing there, and ``orders`` would also take
``orders.dlq``. So the runtime matches the names itself, with Python's ``re.fullmatch``
(the same syntax for everything Connect users write in practice), and subscribes the
consumer to the list of matching topics, refreshed every few seconds so that topics
created later join the subscription (each change is one rebalance of the task's group).

Used from the sink runner's consumer thread only.
"""

from __future__ import annotations

import re
import time
import typing as t

__all__ = ["REFRESH_S", "TopicSubscription"]

REFRESH_S = 2.0
"""How often a ``topics.regex`` subscription looks for new or deleted topics."""

_INTERNAL_PREFIX = "__"
"""Kafka's internal topics (``__consumer_offsets``, ``__transaction_state``): never matched,
as the Java consumer's ``exclude.internal.topics`` default leaves them out."""


class TopicSubscription:
    """Subscribes one consumer to ``topics`` (a fixed list) or to the topics ``regex``
    matches in full (a list kept up to date by :meth:`refresh`)."""

    def __init__(
        self,
        topics: t.Sequence[str],
        regex: str | None,
        *,
        refresh_s: float = REFRESH_S,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.topics = list(topics)
        self.regex = re.compile(regex) if regex else None
        self.refresh_s = refresh_s
        self._clock = clock
        self._next_refresh = 0.0
        self.subscribed: list[str] | None = None
        """The topic list the consumer is subscribed to now (None before the first)."""
        self._callbacks: dict[str, t.Any] = {}

    def start(self, consumer: t.Any, **callbacks: t.Any) -> None:
        """Subscribe ``consumer`` (``callbacks``: ``on_assign``, ``on_revoke``, ``on_lost``)."""
        self._callbacks = dict(callbacks)
        if self.regex is None:
            consumer.subscribe(self.topics, **callbacks)
            self.subscribed = list(self.topics)
        else:
            self.refresh(consumer)

    def refresh(self, consumer: t.Any) -> None:
        """With a regex, at most every ``refresh_s``: list the cluster's topics and subscribe
        to the matching ones if they changed (none matching: unsubscribe). A failed
        listing keeps the current subscription until the next try."""
        if self.regex is None or self._clock() < self._next_refresh:
            return
        self._next_refresh = self._clock() + self.refresh_s
        try:
            names = consumer.list_topics(timeout=5).topics
        except Exception:  # KafkaException: broker unreachable; try again later
            return
        matched = sorted(name for name in names if not name.startswith(_INTERNAL_PREFIX) and self.regex.fullmatch(name))
        if matched == self.subscribed:
            return
        if matched:
            consumer.subscribe(matched, **self._callbacks)
        elif self.subscribed:
            consumer.unsubscribe()
        self.subscribed = matched
