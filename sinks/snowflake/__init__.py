"""``snowflake``: a sink that writes topics to Snowflake (snowflake-connector-python, imported lazily)."""

from headwater.sinks.snowflake.connector import SnowflakeSinkConnector
from headwater.sinks.snowflake.task import SnowflakeSinkTask

__all__ = ["SnowflakeSinkConnector", "SnowflakeSinkTask"]
