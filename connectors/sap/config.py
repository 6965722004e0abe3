"""Configuration of the ``sap-rfc-table`` source.

Connector-wide keys (``tables``, ``mode``, ``sap.*``, ``page.size``...) and per-table
keys ``table.<TABLE>.<setting>`` (``table.VBAK.mode=timestamp``,
``table.VBAK.changed.date.field=AEDAT``...) that override or complete them::

    {"tables": "MARA,VBAK", "mode": "snapshot",
     "table.VBAK.mode": "timestamp", "table.VBAK.changed.date.field": "AEDAT",
     "table.VBAK.changed.time.field": "ZZAEZET", "table.VBAK.created.date.field": "ERDAT",
     "table.VBAK.created.time.field": "ERZET",
     "sap.ashost": "10.0.0.5", "sap.sysnr": "00", "sap.client": "100",
     "sap.user": "RFC_READER", "sap.passwd": "${file:/etc/headwater/sap.properties:passwd}"}
"""

from __future__ import annotations

import re
import typing as t

import pydantic
from pydantic import Field, SecretStr

from headwater.connectors.config import PluginConfig

__all__ = ["CHANGE_DOCUMENT_OBJECTS", "Mode", "SapRfcTableConfig", "TableSettings"]

Mode: t.TypeAlias = t.Literal["snapshot", "timestamp", "change-documents"]

CHANGE_DOCUMENT_OBJECTS = {
    "MARA": "MATERIAL",
    "MARC": "MATERIAL",
    "KNA1": "DEBI",
    "KNB1": "DEBI",
    "LFA1": "KRED",
    "LFB1": "KRED",
    "VBAK": "VERKBELEG",
    "VBAP": "VERKBELEG",
    "EKKO": "EINKBELEG",
    "EKPO": "EINKBELEG",
}
"""Default change document object class of common tables (``table.<T>.object.class`` overrides)."""

_NAME = re.compile(r"^[A-Z/][A-Z0-9_/]{0,29}$")
_STAMP = re.compile(r"^\d{14}$")


def _names(value: str) -> list[str]:
    return [name.strip().upper() for name in value.split(",") if name.strip()]


class TableSettings(PluginConfig):
    """How one table is read (``table.<TABLE>.*`` keys)."""

    mode: Mode | None = None
    """``snapshot``, ``timestamp`` or ``change-documents`` (default: the connector's ``mode``)."""
    fields: str = ""
    """Comma-separated fields to read (default: every field RFC_READ_TABLE can read; key fields are always read)."""
    key_fields: str = ""
    """Comma-separated key fields (default: the dictionary's key, without the client)."""
    where: str = ""
    """An Open SQL condition every read adds (``VKORG = '1000'``); literals in internal format."""
    changed_date_field: str = ""
    """timestamp mode: the changed-on date (DATS) field, e.g. ``AEDAT``."""
    changed_time_field: str = ""
    """timestamp mode: the changed-at time (TIMS) field; without one the watermark has day granularity."""
    created_date_field: str = ""
    """timestamp mode: the created-on date used while the changed-on date is empty (``ERDAT``)."""
    created_time_field: str = ""
    """timestamp mode: the created-at time field (``ERZET``)."""
    object_class: str = ""
    """change-documents mode: the CDHDR object class (default for common tables, e.g. VBAK: VERKBELEG)."""

    @pydantic.field_validator(
        "changed_date_field", "changed_time_field", "created_date_field", "created_time_field", "object_class"
    )
    @classmethod
    def _upper(cls, value: str) -> str:
        value = value.strip().upper()
        if value and not _NAME.match(value):
            msg = f"{value!r} is not an SAP field name"
            raise ValueError(msg)
        return value

    def field_list(self) -> list[str]:
        return _names(self.fields)

    def key_list(self) -> list[str]:
        return _names(self.key_fields)


class SapRfcTableConfig(PluginConfig):
    """Which SAP tables to read over RFC, how, and where the system is."""

    tables: str = Field(min_length=1)
    """Comma-separated tables (or views) to capture, e.g. ``MARA,VBAK``."""
    topic_prefix: str = Field(default="sap", min_length=1)
    """Events of table T go to topic ``<topic.prefix>.<T>``."""
    mode: Mode = "snapshot"
    """Default mode of every table: ``snapshot`` (a full read), ``timestamp`` (delta by changed-on
    date/time) or ``change-documents`` (CDHDR/CDPOS: creates, updates and deletes)."""
    table: dict[str, TableSettings] = Field(default_factory=dict)
    """Per-table settings, written as ``table.<TABLE>.<setting>`` keys."""
    page_size: int = Field(default=5_000, ge=10, le=1_000_000)
    """ROWCOUNT of each RFC_READ_TABLE call; a key range holding more rows is split."""
    read_function: str = "RFC_READ_TABLE"
    """The read function module: RFC_READ_TABLE, BBP_RFC_READ_TABLE or a Z copy with the same interface."""
    delimiter: str = Field(default="", max_length=1)
    """DELIMITER passed to the read function; empty (the default) leaves the whole 512 characters to data."""
    poll_interval_ms: int = Field(default=10_000, ge=0)
    """timestamp and change-documents modes: the wait between two delta reads."""
    overlap_seconds: int = Field(default=600, ge=0)
    """Delta reads start this long before the watermark, to catch late commits; duplicates are dropped."""
    initial_watermark: str = ""
    """``YYYYMMDDHHMMSS`` to start delta modes from (default: the beginning)."""
    tombstones_on_delete: bool = True
    """Emit a tombstone (null value) after each delete, as Debezium does."""
    batch_size: int = Field(default=2_000, ge=1, le=100_000)
    """Most records returned by one poll."""
    sap_ashost: str = ""
    """Application server host (direct logon)."""
    sap_sysnr: str = "00"
    """System (instance) number, two digits; the gateway port is 33<sysnr>."""
    sap_client: str = "100"
    """Client (Mandant), three digits."""
    sap_user: str = ""
    """RFC user; needs S_RFC for SDTX, SDIFRUNTIME, RFC_METADATA and S_TABU_DIS/S_TABU_NAM for the tables."""
    sap_passwd: SecretStr | None = None
    """Password; take it from a config provider (``${file:...}`` or ``${env:...}``)."""
    sap_lang: str = "EN"
    """Logon language."""
    sap_mshost: str = ""
    """Message server host (load balancing, instead of sap.ashost)."""
    sap_msserv: str = ""
    """Message server service or port, when sapms<SID> is not in /etc/services."""
    sap_sysid: str = ""
    """System id (with sap.mshost; also names the system in the events' source block)."""
    sap_group: str = ""
    """Logon group (with sap.mshost)."""
    sap_saprouter: str = ""
    """SAProuter string, e.g. ``/H/router.example.com/S/3299/H/``."""
    sap_snc_qop: str = ""
    """SNC quality of protection (1, 2, 3, 8, 9); SNC replaces user and password."""
    sap_snc_myname: str = ""
    """SNC name of this client."""
    sap_snc_partnername: str = ""
    """SNC name of the application server."""
    sap_snc_lib: str = ""
    """Path of the SNC library (default: the SNC_LIB environment variable)."""
    emulator_scenario: str | None = None
    """Read an emulated SAP system instead (``erp`` or ``large``); the sap.* keys are then ignored."""
    emulator_seed: int = 1
    """Emulator: the same scenario and seed always give the same system and history."""
    emulator_count: int | None = Field(default=None, ge=1)
    """Emulator: change steps (erp) or materials (large); a default per scenario."""
    emulator_history: t.Literal["progressive", "committed"] = "progressive"
    """Emulator: ``progressive`` commits one more step of history per read; ``committed`` all at once."""
    emulator_fail_calls: str = ""
    """Emulator: comma-separated RFC_READ_TABLE call numbers that break with a CommunicationError."""
    emulator_denied_tables: str = ""
    """Emulator: comma-separated tables the RFC user is not authorized for."""
    emulator_state_file: str | None = None
    """Emulator: a file that keeps the emulated system (its history so far, its call counters)
    across worker restarts, as a real system's database would; unset, each task start builds
    the system afresh and its history starts again."""
    task_tables: str | None = None
    """Set by the connector in task configs: the tables one task reads."""

    @pydantic.model_validator(mode="before")
    @classmethod
    def _gather_table_keys(cls, data: t.Any) -> t.Any:
        """Collect flat ``table.<TABLE>.<setting>`` keys into the ``table`` mapping."""
        if not isinstance(data, t.Mapping):
            return data
        out = dict(data)
        nested: dict[str, dict[str, t.Any]] = {
            str(name).upper(): dict(settings) for name, settings in (out.pop("table", None) or {}).items()
        }
        for key in list(out):
            if isinstance(key, str) and key.startswith("table.") and key.count(".") >= 2:
                _, name, setting = key.split(".", 2)
                nested.setdefault(name.upper(), {})[setting] = out.pop(key)
        out["table"] = nested
        return out

    @pydantic.field_validator("tables")
    @classmethod
    def _table_names(cls, value: str) -> str:
        names = _names(value)
        bad = [name for name in names if not _NAME.match(name)]
        if not names or bad:
            msg = f"not SAP table names: {bad}" if bad else "no tables given"
            raise ValueError(msg)
        return ",".join(names)

    @pydantic.field_validator("initial_watermark")
    @classmethod
    def _stamp(cls, value: str) -> str:
        if value and not _STAMP.match(value):
            msg = "must be YYYYMMDDHHMMSS"
            raise ValueError(msg)
        return value

    @pydantic.field_validator("emulator_scenario")
    @classmethod
    def _scenario(cls, value: str | None) -> str | None:
        if value is not None and value not in ("erp", "large"):
            msg = "unknown emulator scenario; choose erp or large"
            raise ValueError(msg)
        return value

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> SapRfcTableConfig:
        names = set(self.table_list())
        unknown = sorted(set(self.table) - names)
        if unknown:
            msg = f"table.{unknown[0]}.* is set but {unknown[0]} is not in tables"
            raise ValueError(msg)
        for name in names:
            settings = self.settings(name)
            mode = settings.mode or self.mode
            if mode == "timestamp" and not settings.changed_date_field:
                msg = f"table.{name}.changed.date.field is required in timestamp mode"
                raise ValueError(msg)
            if mode == "change-documents" and not (settings.object_class or CHANGE_DOCUMENT_OBJECTS.get(name)):
                msg = f"table.{name}.object.class is required in change-documents mode (no default for {name})"
                raise ValueError(msg)
        if self.emulator_scenario is None and not (self.sap_ashost or self.sap_mshost or self.sap_saprouter):
            msg = "set sap.ashost (or sap.mshost), or emulator.scenario"
            raise ValueError(msg)
        return self

    def table_list(self) -> list[str]:
        """Every configured table, in order."""
        return _names(self.tables)

    def own_tables(self) -> list[str]:
        """The tables this task reads."""
        return _names(self.task_tables) if self.task_tables else self.table_list()

    def settings(self, name: str) -> TableSettings:
        """The settings of table ``name`` (defaults when none are given)."""
        return self.table.get(name) or TableSettings()

    def mode_of(self, name: str) -> Mode:
        """The mode table ``name`` is read in."""
        return self.settings(name).mode or self.mode

    def object_class(self, name: str) -> str:
        """The change document object class of table ``name``."""
        return self.settings(name).object_class or CHANGE_DOCUMENT_OBJECTS.get(name, "")

    def rfc_params(self) -> dict[str, str]:
        """pyrfc's connection parameters (all str, empty ones left out)."""
        params = {
            "ashost": self.sap_ashost,
            "sysnr": self.sap_sysnr,
            "client": self.sap_client,
            "user": self.sap_user,
            "passwd": self.sap_passwd.get_secret_value() if self.sap_passwd else "",
            "lang": self.sap_lang,
            "mshost": self.sap_mshost,
            "msserv": self.sap_msserv,
            "sysid": self.sap_sysid,
            "group": self.sap_group,
            "saprouter": self.sap_saprouter,
            "snc_qop": self.sap_snc_qop,
            "snc_myname": self.sap_snc_myname,
            "snc_partnername": self.sap_snc_partnername,
            "snc_lib": self.sap_snc_lib,
        }
        return {key: value for key, value in params.items() if value}
