"""Benchmark: the ``snowflake`` sink's rows/s against a raw stage load of the same rows, one run.

N change events from datagen (customers, orders, products) are converted to bytes and
back with the JSON converter, as the runtime hands them to a sink. Then, alternating on
the same local fakesnow server (the real ``snowflake-connector-python`` over HTTP):

- **sink raw**: ``SnowflakeSinkTask.put`` + ``flush`` in batches of 2,000 records,
  ``snowflake.ingestion.mode=raw``: per table, PUT of a gzip'd JSON-lines file, COPY INTO
  the load table, INSERT into the RECORD_CONTENT/RECORD_METADATA table and the offsets,
  one transaction;
- **raw load**: the least code that lands the same rows through the same connector: per
  batch and table, the same JSON lines gzip'd, PUT, COPY INTO a load table, INSERT into
  the target (no offsets, no transaction);
- **sink cdc** (reported, not in the ratio): the same records in ``cdc`` mode (typed
  tables, last event per key, deletes).

Median per side; ratio sink raw / raw load. Run: ``.venv/bin/python
bench/bench_snowflake.py [--events 20000] [--runs 3]``; ``--write`` updates the
``## Snowflake sink`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from pathlib import Path

from report import machine_description, write_section

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import to_messages
from headwater.conformance.snowflake import FakesnowServer, snowflake_config
from headwater.connectors.api import SinkRecord, SinkTaskContext
from headwater.connectors.datagen.client import TableGenerator
from headwater.sinks.snowflake import SnowflakeSinkTask
from headwater.sinks.snowflake.client import connect
from headwater.sinks.snowflake.config import SnowflakeSinkConfig

BATCH = 2_000
TABLES = ("customers", "orders", "products")
PORT = 21390


def make_records(events: int) -> list[SinkRecord]:
    """``events`` change events, round-robin over the tables, as decoded SinkRecords."""
    converter = JsonConverter(schemas_enable=False)
    generators = {table: TableGenerator(table, seed=1, keys=5_000) for table in TABLES}
    offsets = dict.fromkeys(TABLES, 0)
    records: list[SinkRecord] = []
    for n in range(events):
        table = TABLES[n % len(TABLES)]
        topic = f"bench.{table}"
        for key, value in to_messages(generators[table].next_event()):
            records.append(
                SinkRecord(
                    topic,
                    0,
                    offsets[table],
                    converter.from_bytes(topic, converter.to_bytes(topic, key)),
                    converter.from_bytes(topic, converter.to_bytes(topic, value)),
                    (),
                    1_700_000_000_000 + n,
                )
            )
            offsets[table] += 1
    return records


def _config(schema: str, **keys: str) -> SnowflakeSinkConfig:
    return SnowflakeSinkConfig.model_validate(
        snowflake_config("127.0.0.1", PORT, **{"snowflake.schema.name": schema, "buffer.flush.time": "0", **keys})
    )


def run_sink(schema: str, records: list[SinkRecord], mode: str) -> float:
    """Seconds for the sink task to write ``records``."""
    task = SnowflakeSinkTask(_config(schema, **{"snowflake.ingestion.mode": mode}), SinkTaskContext("bench", 0))
    try:
        task.open([(table, 0) for table in {r.topic for r in records}])
        started = time.perf_counter()
        for start in range(0, len(records), BATCH):
            task.put(records[start : start + BATCH])
            task.flush()
        assert task.rows_written > 0
        return time.perf_counter() - started
    finally:
        task.stop()


def run_raw(schema: str, records: list[SinkRecord], scratch: Path) -> float:
    """Seconds for a hand-written stage load of the same rows."""
    client = connect(_config(schema))
    try:
        client.execute("CREATE STAGE IF NOT EXISTS RAW_STAGE")
        for topic in {r.topic for r in records}:
            table = topic.replace(".", "_")
            client.execute(f"CREATE TABLE IF NOT EXISTS {table} (RECORD_CONTENT VARIANT, RECORD_METADATA VARIANT)")
            client.execute(f"CREATE TABLE IF NOT EXISTS {table}_LOAD (V VARIANT)")
        started = time.perf_counter()
        for number, start in enumerate(range(0, len(records), BATCH)):
            by_table: dict[str, list[str]] = {}
            for r in records[start : start + BATCH]:
                metadata = {
                    "topic": r.topic,
                    "partition": r.partition,
                    "offset": r.offset,
                    "CreateTime": r.timestamp_ms,
                    "key": json.dumps(r.key, default=str),
                }
                line = json.dumps({"c": r.value, "m": metadata}, default=str)
                by_table.setdefault(r.topic.replace(".", "_"), []).append(line)
            for table, lines in by_table.items():
                path = scratch / f"{table}_{number}.json.gz"
                with gzip.open(path, "wt", compresslevel=1) as out:
                    out.write("\n".join(lines))
                client.execute(f"PUT 'file://{path}' @RAW_STAGE AUTO_COMPRESS = FALSE OVERWRITE = TRUE")
                client.execute(f"DELETE FROM {table}_LOAD")
                client.execute(f"COPY INTO {table}_LOAD FROM @RAW_STAGE/{path.name} FILE_FORMAT = (TYPE = JSON)")
                client.execute(f"INSERT INTO {table} SELECT V['c'], V['m'] FROM {table}_LOAD")
                path.unlink()
        return time.perf_counter() - started
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="change events (records include tombstones)")
    parser.add_argument("--runs", type=int, default=3, help="runs per side, alternating")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()

    records = make_records(args.events)
    times: dict[str, list[float]] = {"sink": [], "raw": [], "cdc": []}
    server = FakesnowServer(port=PORT)
    server.start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for run in range(args.runs):
                order = ("sink", "raw", "cdc") if run % 2 == 0 else ("raw", "sink", "cdc")
                for side in order:
                    schema = f"BENCH_{side.upper()}_{run}"
                    if side == "raw":
                        seconds = run_raw(schema, records, Path(scratch))
                    else:
                        seconds = run_sink(schema, records, "raw" if side == "sink" else "cdc")
                    times[side].append(seconds)
                    print(f"run {run} {side}: {len(records) / seconds:,.0f} records/s")
    finally:
        server.stop()
    rate = {side: len(records) / statistics.median(values) for side, values in times.items()}
    ratio = rate["sink"] / rate["raw"]
    import snowflake.connector

    report = (
        "## Snowflake sink\n\n"
        f"Machine: {machine_description()}; fakesnow 0.12.1 server (DuckDB) on the same machine, "
        f"snowflake-connector-python {snowflake.connector.__version__} over HTTP.\n\n"
        f"Workload: {args.events:,} datagen change events = {len(records):,} records over 3 topics, "
        f"JSON-decoded values, batches of {BATCH:,}; median of {args.runs} alternating runs per side, "
        "each into an empty schema.\n\n"
        "| Path | records/s |\n|---|---:|\n"
        f"| `SnowflakeSinkTask` raw mode (PUT + COPY INTO + INSERT, offsets, one transaction per table) "
        f"| {rate['sink']:,.0f} |\n"
        f"| raw stage load, same rows (PUT + COPY INTO + INSERT, no offsets) | {rate['raw']:,.0f} |\n"
        f"| **ratio sink / raw** | **{ratio:.2f}** (goal ≥ 0.8) |\n"
        f"| `SnowflakeSinkTask` cdc mode (typed tables, keyed DELETE + INSERT, offsets) | {rate['cdc']:,.0f} |\n\n"
        "Reproduce: `.venv/bin/python bench/bench_snowflake.py --write`.\n"
    )
    print(report)
    if args.write:
        write_section(report)


if __name__ == "__main__":
    main()
