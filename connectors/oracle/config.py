"""Configuration of the ``oracle-logminer`` source (Debezium's key names where they exist)."""

from __future__ import annotations

import functools
import re
import typing as t

from pydantic import Field, SecretStr, field_validator, model_validator

from headwater.connectors.config import PluginConfig

__all__ = ["OracleLogMinerConfig"]


class OracleLogMinerConfig(PluginConfig):
    """Where the database is (or which emulated history to mine), what to capture, how."""

    topic_prefix: str = Field(default="oracle", min_length=1)
    """Changes of table S.T go to topic ``<topic.prefix>.S.T`` (characters Kafka refuses become ``_``)."""
    database_hostname: str | None = None
    """Oracle host (python-oracledb thin mode; not needed with ``emulator.scenario``)."""
    database_port: int = 1521
    """Oracle listener port."""
    database_dbname: str = "ORCLCDB"
    """Service name to connect to; also ``source.db`` in the events."""
    database_user: str | None = None
    """A user with the LogMiner grants listed in the README."""
    database_password: SecretStr | None = None
    """That user's password."""
    emulator_scenario: str | None = None
    """Mine the built-in LogMiner emulator instead of a database: a scenario name or a JSON scenario file."""
    emulator_seed: int = 1
    """The emulator's seed: the same seed gives the same history."""
    snapshot_mode: t.Literal["initial", "no_data", "when_needed"] = "initial"
    """``initial``: read every table AS OF the current SCN, then stream; ``no_data``: stream only;
    ``when_needed``: as initial, and take a new snapshot when the resume SCN's logs are gone."""
    table_include_list: str | None = None
    """Comma-separated regular expressions matched against ``OWNER.TABLE``; only these are captured."""
    table_exclude_list: str | None = None
    """Comma-separated regular expressions of ``OWNER.TABLE`` never captured."""
    log_mining_batch_size_min: int = Field(default=1_000, ge=1)
    """Smallest SCN window of one LogMiner session."""
    log_mining_batch_size_default: int = Field(default=20_000, ge=1)
    """First SCN window; it grows while the source lags and shrinks when it has caught up."""
    log_mining_batch_size_max: int = Field(default=100_000, ge=1)
    """Largest SCN window of one LogMiner session."""
    log_mining_sleep_time_ms: int = Field(default=1_000, ge=0)
    """Wait between mining rounds once the source has caught up with the database."""
    log_mining_buffer_spill_threshold: int = Field(default=10_000, ge=1)
    """Changes of one open transaction kept in memory; beyond this they spill to the task's scratch folder."""
    lob_enabled: bool = False
    """Capture CLOB/BLOB values; when false, a LOB column not in the redo carries the placeholder."""
    unavailable_value_placeholder: str = "__debezium_unavailable_value"
    """What a LOB column not present in the redo holds."""
    heartbeat_interval_ms: int = Field(default=0, ge=0)
    """When > 0, write a heartbeat record at most this often to ``<heartbeat.topics.prefix>.<topic.prefix>``
    (offsets advance on every mining round anyway)."""
    heartbeat_topics_prefix: str = "__debezium-heartbeat"
    """Prefix of the heartbeat topic."""
    provide_transaction_metadata: bool = False
    """Write BEGIN/END events (with per-table counts) to ``<topic.prefix>.transaction``."""
    binary_handling_mode: t.Literal["bytes", "base64", "base64-url-safe", "hex"] = "bytes"
    """How RAW and BLOB values are written, as Debezium's ``binary.handling.mode``."""
    decimal_handling_mode: t.Literal["precise", "double", "string"] = "precise"
    """How NUMBERs that are not integers below 10^18 are written, as Debezium's ``decimal.handling.mode``:
    ``precise`` (Connect Decimal, VariableScaleDecimal without scale), ``double`` (float64, may lose
    digits) or ``string`` (the exact number as text)."""
    tombstones_on_delete: bool = True
    """Emit a tombstone after each delete, as Debezium does."""
    max_batch_size: int = Field(default=10_000, ge=1)
    """Most records returned by one poll."""

    @field_validator("table_include_list", "table_exclude_list")
    @classmethod
    def _regexes(cls, value: str | None) -> str | None:
        for pattern in (value or "").split(","):
            try:
                re.compile(pattern.strip())
            except re.error as exc:
                msg = f"not a regular expression: {pattern.strip()!r} ({exc})"
                raise ValueError(msg) from exc
        return value

    @model_validator(mode="after")
    def _source(self) -> OracleLogMinerConfig:
        if self.emulator_scenario is None and (self.database_hostname is None or self.database_user is None):
            msg = "set database.hostname, database.user and database.password, or emulator.scenario"
            raise ValueError(msg)
        if not self.log_mining_batch_size_min <= self.log_mining_batch_size_default <= self.log_mining_batch_size_max:
            msg = "log.mining.batch.size.min <= log.mining.batch.size.default <= log.mining.batch.size.max"
            raise ValueError(msg)
        return self

    def captures(self, owner: str, table: str) -> bool:
        """Whether ``OWNER.TABLE`` passes the include and exclude lists (full-match regexes)."""
        return _captures(self.table_include_list, self.table_exclude_list, f"{owner}.{table}")


@functools.lru_cache(maxsize=4096)
def _captures(include: str | None, exclude: str | None, name: str) -> bool:
    """Cached: the lists are fixed per config and every change asks about its table."""

    def matches(patterns: str | None) -> bool:
        return any(re.fullmatch(p.strip(), name) for p in (patterns or "").split(",") if p.strip())

    if include and not matches(include):
        return False
    return not matches(exclude)
