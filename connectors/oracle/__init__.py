"""The ``oracle-logminer`` source: Oracle change capture through LogMiner (see issue 8)."""

from headwater.connectors.oracle.connector import OracleLogMinerConnector
from headwater.connectors.oracle.task import OracleLogMinerTask

__all__ = ["OracleLogMinerConnector", "OracleLogMinerTask"]
