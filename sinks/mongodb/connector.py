"""The ``mongodb`` sink connector."""

from __future__ import annotations

import typing as t

from headwater.connectors.api import Capability, SinkConnector
from headwater.sinks.mongodb.config import MongoSinkConfig
from headwater.sinks.mongodb.task import MongoSinkTask


class MongoSinkConnector(SinkConnector[MongoSinkConfig]):
    """Writes topics to MongoDB (Atlas or any MongoDB-wire server) with mongo-kafka's strategies.

    With ``change.data.capture.handler=headwater`` it applies Headwater's change events
    by primary key, so the collection equals the folded change stream; replays after a
    crash are harmless (upserts and deletes by ``_id``).
    """

    name: t.ClassVar[str] = "mongodb"
    description: t.ClassVar[str] = "MongoDB collections, with mongo-kafka's write models and a change-event handler."
    config_class = MongoSinkConfig
    task_class = MongoSinkTask
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset({Capability.DELETES, Capability.IDEMPOTENT_WRITES})
