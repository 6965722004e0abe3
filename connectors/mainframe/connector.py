"""The ``mainframe-copybook`` connector: files spread over tasks by a stable hash of their name."""

from __future__ import annotations

import typing as t

from headwater.connectors.api import Capability, SourceConnector
from headwater.connectors.mainframe.config import MainframeCopybookConfig
from headwater.connectors.mainframe.task import MainframeCopybookTask


class MainframeCopybookConnector(SourceConnector[MainframeCopybookConfig]):
    """Streams the records of mainframe datasets (F, FB, V, VB, text) described by a COBOL copybook."""

    name: t.ClassVar[str] = "mainframe-copybook"
    description: t.ClassVar[str] = (
        "Mainframe dataset files decoded with a COBOL copybook: each record a create event, "
        "or each file a full extract diffed against the previous one."
    )
    config_class = MainframeCopybookConfig
    task_class = MainframeCopybookTask
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset({Capability.DELETES})

    def task_configs(self, max_tasks: int) -> list[MainframeCopybookConfig]:
        """One config per task; each task reads the files whose name hashes to its index.

        Files that appear later are owned the same way, so no two tasks ever read the
        same file. snapshot-diff compares successive files with each other and therefore
        runs in one task.
        """
        count = 1 if self.config.mode == "snapshot-diff" else max(1, max_tasks)
        return [self.config.model_copy(update={"task_index": i, "task_count": count}) for i in range(count)]
