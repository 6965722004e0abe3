"""Configuration of the ``snowflake`` sink, in Snowflake Kafka connector's key names.

``snowflake.url.name`` (``<account>.snowflakecomputing.com[:443]``) or
``snowflake.account.name`` name the account; ``snowflake.host``, ``snowflake.port`` and
``snowflake.protocol`` override where the driver connects (a local fakesnow server).
Secrets (password, private key, passphrase) are ``SecretStr``: config providers fill
them and they are never logged.
"""

from __future__ import annotations

import re
import typing as t

from pydantic import SecretStr, field_validator, model_validator

from headwater.connectors.config import PluginConfig

__all__ = ["SnowflakeSinkConfig", "table_for"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def table_for(topic: str, mapping: t.Mapping[str, str]) -> str:
    """The table of ``topic``: the mapped name, else the topic with unsafe characters as ``_``
    (a leading digit gets a ``_`` prefix), as Snowflake's connector names unmapped topics."""
    if topic in mapping:
        return mapping[topic]
    name = _UNSAFE.sub("_", topic)
    return f"_{name}" if name[:1].isdigit() else name


class SnowflakeSinkConfig(PluginConfig):
    """The ``snowflake`` sink's keys."""

    snowflake_url_name: str | None = None
    """Account URL, e.g. ``myorg-acct.snowflakecomputing.com:443``; the account is its first label."""
    snowflake_account_name: str | None = None
    """Account identifier; wins over the one taken from ``snowflake.url.name``."""
    snowflake_user_name: str
    """Login name."""
    snowflake_password: SecretStr | None = None
    """Password authentication."""
    snowflake_private_key: SecretStr | None = None
    """Key-pair authentication: the PKCS#8 private key (PEM, with or without its header lines)."""
    snowflake_private_key_passphrase: SecretStr | None = None
    """Passphrase of an encrypted ``snowflake.private.key``."""
    snowflake_role_name: str | None = None
    """Role for the session."""
    snowflake_warehouse_name: str | None = None
    """Warehouse that runs COPY and MERGE."""
    snowflake_database_name: str
    """Database of the tables (created if missing when the role may)."""
    snowflake_schema_name: str
    """Schema of the tables (created if missing when the role may)."""
    snowflake_topic2table_map: dict[str, str] = {}
    """``topic1:table1,topic2:table2``; unmapped topics get a sanitised topic name."""
    snowflake_host: str | None = None
    """Override of the host the driver connects to (a local server)."""
    snowflake_port: int | None = None
    """Override of the port."""
    snowflake_protocol: t.Literal["https", "http"] = "https"
    """``http`` for a local server only."""
    snowflake_ingestion_mode: t.Literal["raw", "cdc"] = "raw"
    """``raw``: RECORD_CONTENT + RECORD_METADATA VARIANT columns, one row per record.
    ``cdc``: Headwater change events applied to a typed table keyed on the record key."""
    behavior_on_null_values: t.Literal["default", "ignore"] = "default"
    """``raw`` mode: ``default`` lands a tombstone as a row with a null RECORD_CONTENT,
    ``ignore`` drops it (``cdc`` mode always applies tombstones as deletes)."""
    snowflake_metadata_all: bool = True
    """``raw`` mode: ``false`` leaves RECORD_METADATA an empty object (the toggles below then do not matter)."""
    snowflake_metadata_createtime: bool = True
    """``raw`` mode: ``false`` leaves the record's timestamp out of RECORD_METADATA (the key is
    ``CreateTime``, or ``LogAppendTime`` for a topic whose broker sets the timestamps)."""
    snowflake_metadata_topic: bool = True
    """``raw`` mode: ``false`` leaves ``topic`` out of RECORD_METADATA."""
    snowflake_metadata_offset_and_partition: bool = True
    """``raw`` mode: ``false`` leaves ``offset`` and ``partition`` out of RECORD_METADATA."""
    snowflake_offsets_table: str = "HEADWATER_KAFKA_OFFSETS"
    """Table holding the next Kafka offset per connector, topic and partition, written in
    the same transaction as the data."""
    snowflake_stage_threshold_records: int = 100
    """Batches of more rows than this go through a stage (PUT + COPY INTO); smaller ones
    are inserted with bound values."""
    buffer_count_records: int = 10_000
    """Records buffered (over all partitions) before a write."""
    buffer_flush_time: int = 120
    """Seconds the oldest buffered record waits before a write."""
    buffer_size_bytes: int = 5_000_000
    """Bytes (of JSON) buffered before a write."""

    @field_validator("snowflake_topic2table_map", mode="before")
    @classmethod
    def _parse_map(cls, value: t.Any) -> t.Any:
        if not isinstance(value, str):
            return value
        mapping: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            topic, sep, table = item.partition(":")
            if not sep or not topic.strip() or not table.strip():
                msg = f"expected topic:table, got {item!r}"
                raise ValueError(msg)
            mapping[topic.strip()] = table.strip()
        return mapping

    @field_validator("buffer_count_records", "buffer_size_bytes", "snowflake_stage_threshold_records")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            msg = "must be at least 1"
            raise ValueError(msg)
        return value

    @field_validator("buffer_flush_time")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            msg = "must be at least 0"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _account_and_auth(self) -> SnowflakeSinkConfig:
        if self.account is None:
            msg = "set snowflake.url.name or snowflake.account.name"
            raise ValueError(msg)
        if self.snowflake_password is None and self.snowflake_private_key is None:
            msg = "set snowflake.password or snowflake.private.key"
            raise ValueError(msg)
        return self

    @property
    def account(self) -> str | None:
        """The account identifier: ``snowflake.account.name``, else the URL's first label."""
        if self.snowflake_account_name:
            return self.snowflake_account_name
        if self.snowflake_url_name:
            host = re.sub(r"^https?://", "", self.snowflake_url_name).split("/")[0].split(":")[0]
            return host.removesuffix(".snowflakecomputing.com") or None
        return None

    def table(self, topic: str) -> str:
        """The table ``topic`` lands in."""
        return table_for(topic, self.snowflake_topic2table_map)
