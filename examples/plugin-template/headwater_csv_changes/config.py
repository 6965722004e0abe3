"""Configuration of the ``csv-changes`` source: typed, declarative, one docstring per key."""

from __future__ import annotations

from headwater.connectors.config import PluginConfig, TaskKey
from pydantic import Field, field_validator


class CsvChangesConfig(PluginConfig):
    """Where the change logs are and how their rows become keyed change events.

    Field ``csv_dir`` is the dotted key ``csv.dir``: the runtime validates every key
    before a task starts and names each bad one.
    """

    csv_dir: str = Field(min_length=1)
    """Folder holding the ``*.csv`` change logs."""
    topic: str = Field(min_length=1)
    """Topic the change events go to."""
    key_columns: str = Field(min_length=1)
    """Comma-separated columns that form each row's key."""
    batch_size: int = Field(default=500, ge=1)
    """Most change events one poll returns."""
    task_index: TaskKey[int] = Field(default=0, ge=0)
    """Set by the connector in task configs: this task's index."""
    task_count: TaskKey[int] = Field(default=1, ge=1)
    """Set by the connector in task configs: how many tasks share the files."""

    @field_validator("key_columns")
    @classmethod
    def _no_blank_column(cls, value: str) -> str:
        if any(not column.strip() for column in value.split(",")):
            msg = "a column name is blank"
            raise ValueError(msg)
        return value

    def key_column_list(self) -> list[str]:
        """``key.columns`` as a list."""
        return [column.strip() for column in self.key_columns.split(",")]
