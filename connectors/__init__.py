"""The Headwater connector runtime and the source plugins.

A plugin imports its contract from here: ``SourceConnector``/``SourceTask``,
``SinkConnector``/``SinkTask``, the record types, ``PluginConfig`` (with ``TaskKey`` and
``TopicName`` field types) and the errors.
"""

from headwater.connectors.api import (
    Capability,
    ErrantSourceRecord,
    SinkConnector,
    SinkRecord,
    SinkTask,
    SinkTaskContext,
    SourceConnector,
    SourceRecord,
    SourceTask,
    SourceTaskContext,
)
from headwater.connectors.config import PluginConfig, TaskKey, TopicName
from headwater.connectors.errors import ConfigError, FatalError, FieldError, RecordError, RetriableError

__all__ = [
    "Capability",
    "ConfigError",
    "ErrantSourceRecord",
    "FatalError",
    "FieldError",
    "PluginConfig",
    "RecordError",
    "RetriableError",
    "SinkConnector",
    "SinkRecord",
    "SinkTask",
    "SinkTaskContext",
    "SourceConnector",
    "SourceRecord",
    "SourceTask",
    "SourceTaskContext",
    "TaskKey",
    "TopicName",
]
