"""The ``csv-changes`` connector: files dealt over tasks by a stable hash of their name."""

from __future__ import annotations

import typing as t

from headwater.connectors.api import Capability, SourceConnector

from headwater_csv_changes.config import CsvChangesConfig
from headwater_csv_changes.task import CsvChangesTask


class CsvChangesConnector(SourceConnector[CsvChangesConfig]):
    """Change rows from CSV files as Debezium-style change events keyed by ``key.columns``."""

    name: t.ClassVar[str] = "csv-changes"
    description: t.ClassVar[str] = "Change rows (op c/u/d) from CSV files, keyed by chosen columns."
    config_class = CsvChangesConfig
    task_class = CsvChangesTask
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset({Capability.DELETES})

    def task_configs(self, max_tasks: int) -> list[CsvChangesConfig]:
        """``max_tasks`` configs that differ only in ``task.index``.

        A pure function of the config, as distributed mode requires: each task picks its
        own files when it lists the folder, so new files need no new task configs.
        """
        return [self.config.model_copy(update={"task_index": i, "task_count": max_tasks}) for i in range(max_tasks)]
