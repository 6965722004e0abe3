"""The ``snowflake`` sink connector."""

from __future__ import annotations

import typing as t

from headwater.connectors.api import Capability, SinkConnector
from headwater.sinks.snowflake.config import SnowflakeSinkConfig
from headwater.sinks.snowflake.task import SnowflakeSinkTask


class SnowflakeSinkConnector(SinkConnector[SnowflakeSinkConfig]):
    """Writes topics to Snowflake tables, exactly once: rows and Kafka offsets commit together.

    ``snowflake.ingestion.mode=raw`` lands any record in Snowflake's Kafka connector layout
    (``RECORD_CONTENT``, ``RECORD_METADATA``); ``cdc`` applies Headwater change events to a
    typed table keyed on the record key.
    """

    name: t.ClassVar[str] = "snowflake"
    description: t.ClassVar[str] = "Snowflake tables: raw landing or change application, exactly once."
    config_class = SnowflakeSinkConfig
    task_class = SnowflakeSinkTask
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset(
        {Capability.OWNS_COMMIT_POINT, Capability.IDEMPOTENT_WRITES, Capability.DELETES}
    )
