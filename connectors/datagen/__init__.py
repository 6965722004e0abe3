"""``datagen``: a deterministic change-event source for demos, tests and benchmarks."""

from headwater.connectors.datagen.connector import DatagenConnector
from headwater.connectors.datagen.task import DatagenTask

__all__ = ["DatagenConnector", "DatagenTask"]
