"""The ``sap-rfc-table`` connector: tables spread over tasks, each table read by one task."""

from __future__ import annotations

import typing as t

from headwater.connectors.api import Capability, SourceConnector
from headwater.connectors.sap.config import SapRfcTableConfig
from headwater.connectors.sap.task import SapRfcTableTask


class SapRfcTableConnector(SourceConnector[SapRfcTableConfig]):
    """Streams SAP tables over RFC: snapshots, changed-on deltas and change documents."""

    name: t.ClassVar[str] = "sap-rfc-table"
    description: t.ClassVar[str] = (
        "SAP ERP tables over RFC (RFC_READ_TABLE): key-range snapshots, deltas by changed-on date and time, "
        "and creates, updates and deletes from change documents (CDHDR/CDPOS)."
    )
    config_class = SapRfcTableConfig
    task_class = SapRfcTableTask
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset({Capability.DELETES})

    def task_configs(self, max_tasks: int) -> list[SapRfcTableConfig]:
        """One task per group of tables, dealt round-robin; a table is only ever read by one task."""
        tables = self.config.table_list()
        count = max(1, min(max_tasks, len(tables)))
        return [self.config.model_copy(update={"task_tables": ",".join(tables[i::count])}) for i in range(count)]
