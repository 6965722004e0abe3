"""Kafka Connect connector files that name the Java connectors Headwater replaces.

A connector file written for Kafka Connect names its plugin by Java class
(``com.mongodb.kafka.connect.MongoSinkConnector``). :func:`translate_java_connector`
maps such a class to our plugin, renames the keys whose name differs, drops the keys
that have no meaning here (each with a note saying why), and refuses the keys whose
meaning cannot carry over, naming what to set instead. It is called by
:func:`headwater.connectors.loading.parse_connector` before validation, so ``validate``,
``standalone`` and the REST API treat such a file alike; the notes are printed by
``headwater validate`` and logged as warnings when a worker loads the file.

:data:`JAVA_CONNECTORS` is also the table in the README ("Configs that carry over").
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from headwater.connectors.errors import FieldError

__all__ = ["JAVA_CONNECTORS", "JavaConnector", "java_connectors_markdown", "translate_java_connector"]


@dataclass(frozen=True)
class JavaConnector:
    """How one Java connector's config maps to one of our plugins."""

    alias: str
    """Our plugin's alias."""
    renamed: t.Mapping[str, str] = field(default_factory=dict)
    """Java key -> our key (same meaning, other name)."""
    ignored: t.Mapping[str, str] = field(default_factory=dict)
    """Java key (or ``prefix.*``) -> why it has no effect here; dropped with a note."""
    refused: t.Mapping[str, str] = field(default_factory=dict)
    """Java key -> what to set instead; an error, as the meaning cannot carry over."""
    differences: str = ""
    """Behaviour that differs although the keys are the same (README table and a note)."""


JAVA_CONNECTORS: dict[str, JavaConnector] = {
    "com.mongodb.kafka.connect.MongoSinkConnector": JavaConnector(
        alias="mongodb",
        renamed={
            "mongo.errors.tolerance": "errors.tolerance",
            "mongo.errors.log.enable": "errors.log.enable",
            "mongo.errors.deadletterqueue.topic.name": "errors.deadletterqueue.topic.name",
        },
        ignored={
            "max.num.retries": "retries follow errors.retry.timeout (the driver retries writes itself)",
            "retries.defer.timeout": "retries follow errors.retry.delay.max.ms",
        },
        refused={
            "timeseries.timefield": "time-series collections are not created by this sink; create the collection "
            "in MongoDB first",
        },
        differences="Same keys and strategies by their Java class names; errors.* are the framework's.",
    ),
    "com.snowflake.kafka.connector.SnowflakeSinkConnector": JavaConnector(
        alias="snowflake",
        ignored={
            "snowflake.ingestion.method": "this sink loads each batch with INSERT or a stage and COPY INTO, in one "
            "transaction with its offsets; see snowflake.ingestion.mode (raw or cdc)",
            "snowflake.enable.schematization": "raw mode writes RECORD_CONTENT/RECORD_METADATA; cdc mode types the "
            "table from the record schema",
            "jmx": "metrics are at the worker's /metrics",
        },
        differences="Loads with INSERT or an internal stage and COPY INTO, in one transaction with the offsets "
        "(no Snowpipe, no Snowpipe Streaming); snowflake.ingestion.mode=cdc applies change events to a typed table.",
    ),
    "io.confluent.connect.aws.lambda.AwsLambdaSinkConnector": JavaConnector(
        alias="aws-lambda",
        ignored={
            "confluent.license": "no licence is needed",
            "confluent.topic.*": "no licence topic is used",
            "aws.credentials.provider.class": "credentials come from aws.access.key.id/aws.secret.access.key or the "
            "default AWS chain",
        },
        refused={
            "reporter.bootstrap.servers": "set aws.lambda.bootstrap.servers",
            "reporter.result.topic.name": "set aws.lambda.response.topic",
        },
        differences="Responses go to aws.lambda.response.topic instead of Confluent's reporter topics.",
    ),
    "io.debezium.connector.oracle.OracleConnector": JavaConnector(
        alias="oracle-logminer",
        renamed={"database.server.name": "topic.prefix"},
        ignored={
            "schema.history.internal.*": "no schema history topic is needed: table schemas are read from the "
            "dictionary with the redo",
            "database.history.*": "no schema history topic is needed",
            "log.mining.strategy": "the online catalog is always used",
            "database.connection.adapter": "LogMiner is the only adapter",
        },
        refused={
            "database.url": "set database.hostname, database.port and database.dbname",
            "database.pdb.name": "connect to the PDB's service in database.dbname",
        },
        differences="LogMiner only (no XStream, no OpenLogReplicator); Debezium's envelope and topic names.",
    ),
    "org.apache.kafka.connect.file.FileStreamSinkConnector": JavaConnector(
        alias="file",
        refused={
            "file": "set file.dir: a folder where topic T is written to <file.dir>/T.jsonl (one JSON line per "
            "record, with key, value and coordinates)",
        },
        differences="Writes JSON lines per topic into file.dir, not the value's toString() into one file.",
    ),
}
"""Java ``connector.class`` -> what carries over. Consulted before the plugin is resolved."""


def _matches(key: str, pattern: str) -> bool:
    return key.startswith(pattern[:-1]) if pattern.endswith("*") else key == pattern


def translate_java_connector(flat: t.Mapping[str, t.Any]) -> tuple[dict[str, t.Any], list[str], list[FieldError]]:
    """Map a flat connector config naming a Java connector to one naming our plugin.

    Returns ``(config, notes, errors)``: ``flat`` unchanged with no notes when its
    ``connector.class`` is not in :data:`JAVA_CONNECTORS`; otherwise the config with the
    alias, renamed keys and ignored keys dropped, one note per change, and one error per
    refused key (named by the Java key).
    """
    java = JAVA_CONNECTORS.get(str(flat.get("connector.class", "")))
    if java is None:
        return dict(flat), [], []
    notes = [f"connector.class {flat['connector.class']} runs as Headwater's {java.alias!r} plugin"]
    if java.differences:
        notes.append(f"differs: {java.differences}")
    config: dict[str, t.Any] = {}
    errors: list[FieldError] = []
    for key, value in flat.items():
        if key == "connector.class":
            config[key] = java.alias
        elif key in java.refused:
            errors.append(FieldError(key, f"not supported by Headwater's {java.alias}: {java.refused[key]}"))
        elif key in java.renamed:
            notes.append(f"{key} is read as {java.renamed[key]}")
            config.setdefault(java.renamed[key], value)
        elif reason := next((why for pattern, why in java.ignored.items() if _matches(key, pattern)), None):
            notes.append(f"{key} ignored: {reason}")
        else:
            config[key] = value
    return config, notes, errors


def java_connectors_markdown() -> str:
    """The README table of Java connector classes and how they map."""
    rows = ["| Kafka Connect `connector.class` | runs as | keys that differ |", "|---|---|---|"]
    for java_class, java in JAVA_CONNECTORS.items():
        parts = [f"`{key}` → `{ours}`" for key, ours in java.renamed.items()]
        parts += [f"`{key}` ignored ({why})" for key, why in java.ignored.items()]
        parts += [f"`{key}` refused ({why})" for key, why in java.refused.items()]
        keys = "; ".join(parts) + ("." if parts else "")
        cell = " ".join(part for part in (java.differences, keys) if part).replace("|", "\\|")
        rows.append(f"| `{java_class}` | `{java.alias}` | {cell} |")
    return "\n".join(rows)
