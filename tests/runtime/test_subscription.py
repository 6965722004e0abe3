"""``topics.regex`` is matched as Kafka Connect matches it: Java's ``Pattern.matches`` over
the whole topic name, ``\\d`` and friends included (librdkafka's POSIX regex subscription
knows no ``\\d`` and matches anywhere in the name)."""

from __future__ import annotations

import typing as t
from types import SimpleNamespace

from headwater.connectors.runtime.subscription import TopicSubscription


class FakeConsumer:
    """The three consumer calls a subscription makes, over a topic list the test changes."""

    def __init__(self, topics: list[str]) -> None:
        self.topics = topics
        self.subscribed: list[str] | None = None
        self.calls: list[str] = []
        self.fail = False

    def list_topics(self, timeout: float) -> t.Any:
        if self.fail:
            raise RuntimeError("KafkaException: all brokers down")
        return SimpleNamespace(topics={name: None for name in self.topics})

    def subscribe(self, topics: list[str], **_callbacks: t.Any) -> None:
        self.subscribed = list(topics)
        self.calls.append("subscribe")

    def unsubscribe(self) -> None:
        self.subscribed = None
        self.calls.append("unsubscribe")


def test_the_whole_name_must_match_in_java_syntax() -> None:
    consumer = FakeConsumer(["src12.customers", "src7.orders", "srcx.orders", "orders", "orders.dlq", "my-orders"])
    TopicSubscription([], r"src\d+\..*").start(consumer)
    assert consumer.subscribed == ["src12.customers", "src7.orders"]
    consumer = FakeConsumer(["src12.customers", "orders", "orders.dlq", "my-orders"])
    TopicSubscription([], "orders").start(consumer)
    assert consumer.subscribed == ["orders"]  # not the dead-letter topic beside it


def test_internal_topics_never_match() -> None:
    consumer = FakeConsumer(["__consumer_offsets", "__transaction_state", "cdc.a"])
    TopicSubscription([], ".*").start(consumer)
    assert consumer.subscribed == ["cdc.a"]


def test_new_and_deleted_topics_change_the_subscription_at_the_next_refresh() -> None:
    now = [0.0]
    consumer = FakeConsumer([])
    subscription = TopicSubscription([], r"cdc\..*", refresh_s=2.0, clock=lambda: now[0])
    subscription.start(consumer)
    assert consumer.subscribed is None and consumer.calls == []  # nothing matches yet
    consumer.topics = ["cdc.a"]
    now[0] = 1.0
    subscription.refresh(consumer)
    assert consumer.subscribed is None  # not before the refresh interval
    now[0] = 2.0
    subscription.refresh(consumer)
    assert consumer.subscribed == ["cdc.a"]
    now[0] = 4.0
    subscription.refresh(consumer)
    assert consumer.calls == ["subscribe"]  # unchanged: no new subscription, no rebalance
    consumer.topics = ["cdc.a", "cdc.b"]
    consumer.fail = True
    now[0] = 6.0
    subscription.refresh(consumer)
    assert consumer.subscribed == ["cdc.a"]  # a failed listing keeps what it has
    consumer.fail = False
    now[0] = 8.0
    subscription.refresh(consumer)
    assert consumer.subscribed == ["cdc.a", "cdc.b"]
    consumer.topics = []
    now[0] = 10.0
    subscription.refresh(consumer)
    assert consumer.calls[-1] == "unsubscribe"


def test_a_topic_list_is_subscribed_once_as_given() -> None:
    consumer = FakeConsumer(["a", "b"])
    subscription = TopicSubscription(["b", "missing"], None)
    subscription.start(consumer)
    subscription.refresh(consumer)
    assert consumer.subscribed == ["b", "missing"] and consumer.calls == ["subscribe"]
