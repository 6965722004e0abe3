"""The ``oracle-logminer`` connector: one task mining Oracle redo through LogMiner."""

from __future__ import annotations

import typing as t

from headwater.connectors.api import Capability, SourceConnector
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask

__all__ = ["OracleLogMinerConnector"]


class OracleLogMinerConnector(SourceConnector[OracleLogMinerConfig]):
    """Debezium-compatible change events from Oracle redo (LogMiner), or from the LogMiner emulator."""

    name: t.ClassVar[str] = "oracle-logminer"
    description: t.ClassVar[str] = (
        "Oracle change capture through LogMiner (python-oracledb thin mode), Debezium-compatible events;"
        " emulator.scenario mines the built-in LogMiner emulator instead."
    )
    config_class = OracleLogMinerConfig
    task_class = OracleLogMinerTask
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset({Capability.DELETES})

    def task_configs(self, max_tasks: int) -> list[OracleLogMinerConfig]:
        """One task: LogMiner output is one ordered stream per database."""
        return [self.config]
