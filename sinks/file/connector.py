"""The ``file`` sink connector."""

from __future__ import annotations

import typing as t

from headwater.connectors.api import Capability, SinkConnector
from headwater.sinks.file.config import FileSinkConfig
from headwater.sinks.file.task import FileSinkTask


class FileSinkConnector(SinkConnector[FileSinkConfig]):
    """Appends each record as one JSON line to a file per topic."""

    name: t.ClassVar[str] = "file"
    description: t.ClassVar[str] = "JSON lines, one file per topic."
    config_class = FileSinkConfig
    task_class = FileSinkTask
    # The file is a change log: folding it applies deletes and tombstones. Its hooks write
    # to a local file and return promptly: the consumer thread may call them itself.
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset({Capability.DELETES, Capability.QUICK_CALLS})
