"""``file``: a sink that writes each topic to a JSON-lines file."""

from headwater.sinks.file.connector import FileSinkConnector
from headwater.sinks.file.task import FileSinkTask

__all__ = ["FileSinkConnector", "FileSinkTask"]
