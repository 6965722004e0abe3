"""Converters side by side on the same change events: Avro against JSON with and without schemas.

Two measurements in one run, on the same datagen change events (customers, with their
key and envelope schemas attached as the datagen source attaches them):

1. the converters alone: ``from_connect_data`` (source path) and ``to_connect_data`` (sink
   path) per record, and the bytes a record takes;
2. through the runtime: a worker replaying the pre-built records through each value
   converter into Kafka, timed until the last record is acknowledged and its offset stored.

Avro and JSON Schema go through a real schema registry (``$HEADWATER_SCHEMA_REGISTRY_URL``
or one started here with :class:`~headwater.connectors.launch.registry.LocalRegistry`);
Kafka is ``$HEADWATER_BOOTSTRAP_SERVERS`` or a broker started here.

Usage: ``python bench/bench_converters.py [--records N] [--rounds R] [--write]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

import bench_runtime
from bench_runtime import machine, runtime_source
from report import write_section

from headwater.codecs.converters import make_converter
from headwater.codecs.envelope import to_messages
from headwater.connectors.api import SourceRecord
from headwater.connectors.datagen.client import TableGenerator, table_schemas

VARIANTS: dict[str, dict[str, str]] = {
    "json, schemas.enable=false": {"value.converter": "json", "value.converter.schemas.enable": "false"},
    "json, schema from the source": {"value.converter": "json"},
    "json, schema inferred (no source schema)": {"value.converter": "json"},
    "avro (schema registry)": {"value.converter": "avro"},
    "json-schema (schema registry)": {"value.converter": "json-schema"},
}
INFERRED = "json, schema inferred (no source schema)"


def events(count: int, topic: str, *, schemas: bool = True) -> list[SourceRecord]:
    """``count`` customers change events (tombstones left out) with datagen's schemas."""
    key_schema, value_schema = table_schemas("customers", topic)
    generator = TableGenerator("customers", seed=1, keys=50_000)
    out: list[SourceRecord] = []
    while len(out) < count:
        event = generator.next_event()
        for key, value in to_messages(event, tombstone_on_delete=False):
            out.append(
                SourceRecord(
                    {"table": "customers"},
                    {"seq": generator.sequence},
                    topic,
                    key,
                    value,
                    key_schema=key_schema if schemas else None,
                    value_schema=value_schema if schemas else None,
                )
            )
    return out[:count]


def _options(variant: str, registry: str) -> dict[str, str]:
    settings = VARIANTS[variant]
    options = {
        key.removeprefix("value.converter."): value for key, value in settings.items() if key != "value.converter"
    }
    if settings["value.converter"] in ("avro", "json-schema"):
        options["schema.registry.url"] = registry
    return options


def converter_only(variant: str, registry: str, records: list[SourceRecord]) -> tuple[float, float, float]:
    """(records/s serialising, records/s deserialising, bytes per record)."""
    converter = make_converter(VARIANTS[variant]["value.converter"], _options(variant, registry), key="value.converter")
    topic = f"conv-{uuid.uuid4().hex[:6]}"
    converter.from_connect_data(topic, records[0].value_schema, records[0].value)  # registers the schema
    started = time.perf_counter()
    encoded = [converter.from_connect_data(topic, r.value_schema, r.value) for r in records]
    write = len(records) / (time.perf_counter() - started)
    started = time.perf_counter()
    for data in encoded:
        converter.to_connect_data(topic, data)
    read = len(records) / (time.perf_counter() - started)
    return write, read, sum(len(data or b"") for data in encoded) / len(encoded)


def through_runtime(variant: str, registry: str, bootstrap: str, folder: Path, records: list[SourceRecord]) -> float:
    topic = records[0].topic
    bench_runtime.RECORDS[:] = records
    settings = {**VARIANTS[variant], "key.converter": "json", "key.converter.schemas.enable": "false"}
    if settings["value.converter"] in ("avro", "json-schema"):
        settings["value.converter.schema.registry.url"] = registry
    connector = {
        "name": f"conv-{uuid.uuid4().hex[:6]}",
        "config": {"connector.class": "bench_runtime:ReplaySource", "topic": topic, **settings},
    }
    return len(records) / runtime_source(bootstrap, folder, connector, len(records))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    args = parser.parse_args()

    from headwater.connectors.launch.broker import LocalKafka, find_free_port
    from headwater.connectors.launch.registry import LocalRegistry

    folder = Path(tempfile.mkdtemp(prefix="hw-bench-conv-"))
    started: list[t.Any] = []
    bootstrap = os.environ.get("HEADWATER_BOOTSTRAP_SERVERS")
    registry = os.environ.get("HEADWATER_SCHEMA_REGISTRY_URL")
    try:
        if not bootstrap:
            broker = LocalKafka(folder / "kafka", port=find_free_port(), controller_port=find_free_port())
            bootstrap = broker.start()
            started.append(broker)
        if not registry:
            server = LocalRegistry(folder / "registry", port=find_free_port())
            registry = server.start()
            started.append(server)
        n = args.records
        alone: dict[str, list[tuple[float, float, float]]] = {variant: [] for variant in VARIANTS}
        runtime: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        for round_number in range(args.rounds):
            for variant in VARIANTS:
                topic = f"bench-conv-{uuid.uuid4().hex[:6]}"
                records = events(n, topic, schemas=variant != INFERRED)
                alone[variant].append(converter_only(variant, registry, records))
                runtime[variant].append(through_runtime(variant, registry, bootstrap, folder, records))
                print(
                    f"round {round_number + 1} {variant}: converter {alone[variant][-1][0]:,.0f}/s write, "
                    f"{alone[variant][-1][1]:,.0f}/s read; runtime {runtime[variant][-1]:,.0f}/s",
                    file=sys.stderr,
                )
        lines = [
            "## Converters (Avro against JSON, same change events)",
            "",
            f"Measured {time.strftime('%Y-%m-%d')} with "
            f"`python bench/bench_converters.py --records {n} --rounds {args.rounds}`:",
            f"{machine()}, Apicurio Registry 2.6.13 on loopback. Medians of {args.rounds} rounds in one run.",
            "The same datagen `customers` change events (envelope with before/after rows, a Decimal",
            "balance), with the key and value schemas the datagen source attaches; the key always plain",
            "JSON. Converter alone: `from_connect_data` / `to_connect_data` per record in a loop. Runtime:",
            "a worker replaying the pre-built records through the value converter into Kafka, timed to",
            "the last acknowledged record with its offset stored.",
            "",
            "| value converter | converter write rec/s | converter read rec/s | bytes/record | runtime rec/s |",
            "|---|---:|---:|---:|---:|",
        ]
        for variant in VARIANTS:
            write = statistics.median(x[0] for x in alone[variant])
            read = statistics.median(x[1] for x in alone[variant])
            size = statistics.median(x[2] for x in alone[variant])
            lines.append(
                f"| {variant} | {write:,.0f} | {read:,.0f} | {size:,.0f} | {statistics.median(runtime[variant]):,.0f} |"
            )
        lines += [
            "",
            "Reading: Avro makes the smallest records by far (no field names, no schema in the message: the",
            "registry's 4-byte id stands for it), but its write path is the slowest here: fastavro's encoder",
            "(Python objects to Avro binary, logical types and unions) costs more than orjson writing JSON,",
            "even with union branches named up front. JSON with the source's schema writes faster than",
            "inferred JSON (the schema is compiled once into an encoder and its serialised form cached, no",
            "inference per record) and carries the schema in every message, about six times the bytes of",
            "plain JSON; reading it back parses only the payload once the schema bytes were seen. JSON",
            "Schema writes plain JSON bodies (the payload is checked against the Connect schema, not",
            "validated again against the JSON Schema) and so sits near plain JSON.",
        ]
        report = "\n".join(lines) + "\n"
        print(report)
        if args.write:
            write_section(report)
        return 0
    finally:
        for server in reversed(started):
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
