"""The ``datagen`` connector: one source partition per table, tables spread over tasks."""

from __future__ import annotations

import typing as t

from headwater.connectors.api import Capability, SourceConnector
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.datagen.task import DatagenTask


class DatagenConnector(SourceConnector[DatagenConfig]):
    """Deterministic customers/orders/products change events (c, u, d and tombstones)."""

    name: t.ClassVar[str] = "datagen"
    description: t.ClassVar[str] = "Deterministic change events for a few tables, for demos and tests."
    config_class = DatagenConfig
    task_class = DatagenTask
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset({Capability.DELETES})

    def task_configs(self, max_tasks: int) -> list[DatagenConfig]:
        """Deal the tables round-robin over at most ``max_tasks`` tasks.

        Every task keeps ``tables`` and ``count`` whole, so each table's share of the
        count is the same however the tables are dealt.
        """
        tables = self.config.table_list()
        groups = [tables[i::max_tasks] for i in range(min(max_tasks, len(tables)))]
        return [self.config.model_copy(update={"task_tables": ",".join(group)}) for group in groups]
