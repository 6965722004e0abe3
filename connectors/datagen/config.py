"""Configuration of the ``datagen`` source."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from headwater.connectors.config import PluginConfig, TaskKey, topic_name_problem

TABLES = ("customers", "orders", "products")


class DatagenConfig(PluginConfig):
    """Which tables to generate, how many events, how fast."""

    topic_prefix: str = Field(default="datagen", min_length=1)
    """Events of table T go to topic ``<topic.prefix>.T``."""
    tables: str = ",".join(TABLES)
    """Comma-separated tables to generate, from customers, orders, products."""
    seed: int = 42
    """The same seed always gives the same events."""
    count: int = Field(default=10_000, ge=-1)
    """Total change events over all tables (-1: never stop)."""
    rate: float = Field(default=0, ge=0)
    """Events per second per task (0: as fast as possible)."""
    keys: int = Field(default=1_000, ge=1)
    """Size of each table's key space; smaller means more updates and deletes per key."""
    batch_size: int = Field(default=2_000, ge=1, le=100_000)
    """Most events returned by one poll."""
    tombstones_on_delete: bool = True
    """Emit a tombstone (null value) after each delete, as Debezium does."""
    initial_rows: int = Field(default=0, ge=0)
    """Start each table with an initial load of this many rows (at most ``keys``): reads
    (``op: "r"``) with ``source.snapshot`` ``"true"``, ``"last"`` on the last, as Debezium
    writes a snapshot; the change stream follows."""
    task_tables: TaskKey[str | None] = None
    """Set by the connector in task configs: the tables one task generates."""

    @field_validator("topic_prefix")
    @classmethod
    def _legal_topics(cls, value: str) -> str:
        for table in TABLES:
            problem = topic_name_problem(f"{value}.{table}")
            if problem is not None:
                msg = f"topic {value}.{table}: {problem}"
                raise ValueError(msg)
        return value

    @field_validator("tables")
    @classmethod
    def _known_tables(cls, value: str) -> str:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - set(TABLES))
        if not names or unknown:
            msg = f"unknown tables {unknown}; choose from {', '.join(TABLES)}" if unknown else "no tables given"
            raise ValueError(msg)
        return ",".join(names)

    @model_validator(mode="after")
    def _initial_rows_fit(self) -> DatagenConfig:
        if self.initial_rows > self.keys:
            msg = f"initial.rows ({self.initial_rows}) cannot exceed keys ({self.keys}): each row has its own key"
            raise ValueError(msg)
        return self

    def table_list(self) -> list[str]:
        """The tables, in order."""
        return self.tables.split(",")

    def own_tables(self) -> list[str]:
        """The tables this task generates."""
        return self.task_tables.split(",") if self.task_tables else self.table_list()

    def table_count(self, table: str) -> int:
        """Events of ``table``: ``count`` shared out over all tables (-1 stays -1)."""
        if self.count < 0:
            return -1
        tables = self.table_list()
        share, extra = divmod(self.count, len(tables))
        return share + (1 if tables.index(table) < extra else 0)
