"""Benchmark: the ``snowflake`` sink's rows/s against a raw stage load of the same rows, one run.

N change events from datagen (customers, orders, products) are converted to bytes and
back with the JSON converter, as the runtime hands them to a sink. Then, on one local
fakesnow server (the real ``snowflake-connector-python`` over HTTP), each run times:

- **sink raw**: ``SnowflakeSinkTask.put`` + ``flush`` in batches of 2,000 records,
  ``snowflake.ingestion.mode=raw``: per table, PUT of a gzip'd JSON-lines file, COPY INTO
  the load table, INSERT into the RECORD_CONTENT/RECORD_METADATA table; then the offsets;
  one transaction for the tables of a batch;
- **raw load**: the least code that lands the same rows through the same connector: per
  batch and table, the same JSON lines gzip'd, PUT, DELETE + COPY INTO a load table,
  INSERT into the target (no offsets, no transaction). The two take turns batch by batch
  (who goes first alternates), so both see the same load of this shared machine;
- **sink cdc** (reported, not in the ratio): the same records in ``cdc`` mode (typed
  tables, one MERGE per table and batch: last event per key, deletes).

Median per side; the ratio is the median of the runs' sink raw / raw load. Run:
``.venv/bin/python bench/bench_snowflake.py [--events 20000] [--runs 5]``; ``--write`` updates the
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


class SinkSide:
    """The sink task writing one batch at a time (``put`` + ``flush``)."""

    def __init__(self, schema: str, mode: str, topics: set[str]) -> None:
        self.task = SnowflakeSinkTask(
            _config(schema, **{"snowflake.ingestion.mode": mode}), SinkTaskContext("bench", 0)
        )
        self.task.open([(topic, 0) for topic in topics])

    def write(self, number: int, batch: list[SinkRecord]) -> None:
        self.task.put(batch)
        self.task.flush()

    def close(self) -> None:
        assert self.task.rows_written > 0
        self.task.stop()


class RawSide:
    """The least code landing the same rows through the same connector: per batch and table,
    the JSON lines gzip'd, PUT, COPY INTO a load table (emptied first), INSERT into the table."""

    def __init__(self, schema: str, topics: set[str], scratch: Path) -> None:
        self.client = connect(_config(schema))
        self.scratch = scratch
        self.client.execute("CREATE STAGE IF NOT EXISTS RAW_STAGE")
        for topic in topics:
            table = topic.replace(".", "_")
            self.client.execute(f"CREATE TABLE IF NOT EXISTS {table} (RECORD_CONTENT VARIANT, RECORD_METADATA VARIANT)")
            self.client.execute(f"CREATE TABLE IF NOT EXISTS {table}_LOAD (V VARIANT)")

    def write(self, number: int, batch: list[SinkRecord]) -> None:
        by_table: dict[str, list[str]] = {}
        for r in batch:
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
            path = self.scratch / f"{table}_{number}.json.gz"
            with gzip.open(path, "wt", compresslevel=1) as out:
                out.write("\n".join(lines))
            self.client.execute(f"PUT 'file://{path}' @RAW_STAGE AUTO_COMPRESS = FALSE OVERWRITE = TRUE")
            self.client.execute(f"DELETE FROM {table}_LOAD")
            self.client.execute(f"COPY INTO {table}_LOAD FROM @RAW_STAGE/{path.name} FILE_FORMAT = (TYPE = JSON)")
            self.client.execute(f"INSERT INTO {table} SELECT V['c'], V['m'] FROM {table}_LOAD")
            path.unlink()

    def close(self) -> None:
        self.client.close()


def run_pair(run: int, records: list[SinkRecord], scratch: Path) -> dict[str, float]:
    """Seconds per side, the sink (raw mode) and the raw load taking turns batch by batch
    (who goes first alternates), so both see the same load of this shared machine."""
    topics = {r.topic for r in records}
    sides = {"sink": SinkSide(f"BENCH_SINK_{run}", "raw", topics), "raw": RawSide(f"BENCH_RAW_{run}", topics, scratch)}
    seconds = dict.fromkeys(sides, 0.0)
    try:
        for number, start in enumerate(range(0, len(records), BATCH)):
            batch = records[start : start + BATCH]
            order = ("sink", "raw") if (number + run) % 2 == 0 else ("raw", "sink")
            for name in order:
                started = time.perf_counter()
                sides[name].write(number, batch)
                seconds[name] += time.perf_counter() - started
    finally:
        for side in sides.values():
            side.close()
    return seconds


def run_cdc(run: int, records: list[SinkRecord]) -> float:
    """Seconds for the sink in cdc mode to write ``records``."""
    side = SinkSide(f"BENCH_CDC_{run}", "cdc", {r.topic for r in records})
    try:
        started = time.perf_counter()
        for number, start in enumerate(range(0, len(records), BATCH)):
            side.write(number, records[start : start + BATCH])
        return time.perf_counter() - started
    finally:
        side.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="change events (records include tombstones)")
    parser.add_argument("--runs", type=int, default=5, help="runs (each: sink and raw load batch by batch, then cdc)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()

    records = make_records(args.events)
    times: dict[str, list[float]] = {"sink": [], "raw": [], "cdc": []}
    server = FakesnowServer(port=PORT)
    server.start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for run in range(args.runs):
                pair = run_pair(run, records, Path(scratch))
                pair["cdc"] = run_cdc(run, records)
                for side, seconds in pair.items():
                    times[side].append(seconds)
                rates = ", ".join(f"{side} {len(records) / seconds:,.0f}" for side, seconds in pair.items())
                print(f"run {run}: {rates} records/s; sink/raw {pair['raw'] / pair['sink']:.2f}")
    finally:
        server.stop()
    rate = {side: len(records) / statistics.median(values) for side, values in times.items()}
    ratio = statistics.median(raw / sink for sink, raw in zip(times["sink"], times["raw"], strict=True))
    per_run = ", ".join(f"{raw / sink:.2f}" for sink, raw in zip(times["sink"], times["raw"], strict=True))
    import snowflake.connector

    report = (
        "## Snowflake sink\n\n"
        f"Machine: {machine_description()}; fakesnow 0.12.1 server (DuckDB) on the same machine, "
        f"snowflake-connector-python {snowflake.connector.__version__} over HTTP.\n\n"
        f"Workload: {args.events:,} datagen change events = {len(records):,} records over 3 topics, "
        f"JSON-decoded values, batches of {BATCH:,}; {args.runs} runs, each into empty schemas; in each run "
        "the sink (raw mode) and the raw load take turns batch by batch, so both see the same load of the "
        "machine; rates are medians over the runs, the ratio is the median of the runs' ratios "
        f"(per run: {per_run}).\n\n"
        "| Path | records/s |\n|---|---:|\n"
        f"| `SnowflakeSinkTask` raw mode (PUT + COPY INTO + INSERT per table, offsets, one transaction) "
        f"| {rate['sink']:,.0f} |\n"
        "| raw stage load, same rows (PUT + DELETE + COPY INTO + INSERT per table, no offsets) "
        f"| {rate['raw']:,.0f} |\n"
        f"| **ratio sink / raw** | **{ratio:.2f}** (goal ≥ 0.8) |\n"
        f"| `SnowflakeSinkTask` cdc mode (typed tables, one MERGE per table and batch, offsets) "
        f"| {rate['cdc']:,.0f} |\n\n"
        "Both sides wait on the server (fakesnow parses every statement with sqlglot), so the ratio follows the "
        "round trips and the work per statement, not Python: per batch of 3 tables the sink runs 3 PUT, 3 COPY, "
        "3 INSERT, one offsets INSERT and one COMMIT (plus a load-table DELETE every 3 writes), the raw load "
        "3 PUT, 3 DELETE, 3 COPY, 3 INSERT. The earlier 0.64 came from a COMMIT and an offsets INSERT per table "
        "(now one per batch), load tables cleared every 20 writes (COPY and INSERT slowed as batches piled up), "
        "and a bound INSERT for the last, small batch (0.6 ms a row on fakesnow against about 50 ms for PUT + "
        "COPY: `snowflake.stage.threshold.records` is now 100, not 500). A run of only one side at a time moved "
        "with the load of this shared machine by 2-4x; taking turns batch by batch keeps the ratio steady.\n\n"
        "Reproduce: `.venv/bin/python bench/bench_snowflake.py --write`.\n"
    )
    print(report)
    if args.write:
        write_section(report)


if __name__ == "__main__":
    main()
