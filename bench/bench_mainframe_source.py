"""Benchmark: records/s from a VB file to Kafka through the real runtime, against a raw producer floor.

The emulator's ``customers-vb`` scenario (88-byte records: text, zoned, packed, binary) is
written with N records; the in-process ``Worker`` runs the ``mainframe-copybook`` source
into a real broker (``$HEADWATER_BOOTSTRAP_SERVERS`` or a ``LocalKafka`` started in a temp
dir) until the stored offset reaches the last record. In the same run:

* ``raw producer``: confluent-kafka sending N pre-built messages of the same key and value
  sizes, with the runtime's producer settings (the floor: Kafka plus librdkafka);
* ``source only``: the task's ``poll()`` loop alone (read, split, decode, build events);
* the runtime end to end, with the value converter ``json`` with and without schemas.

Run: ``.venv/bin/python bench/bench_mainframe_source.py [--records 200000] [--write]``
(``--write`` replaces the ``## Mainframe source (file to Kafka)`` section of RESULTS.md).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from baselines import produce_all
from report import machine_description, write_section
from source_run import bootstrap_servers, json_converters, run_until_polled

from headwater.codecs.converters import JsonConverter
from headwater.conformance.emulators.mainframe import connector_config, generate
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.mainframe import MainframeCopybookTask
from headwater.connectors.mainframe.config import MainframeCopybookConfig
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore

SECTION = "## Mainframe source (file to Kafka)"


def _source_only(config: MainframeCopybookConfig, count: int) -> tuple[float, SourceRecord]:
    task = MainframeCopybookTask(config, SourceTaskContext("bench", 0, ConnectorOffsets(MemoryOffsetStore(), "bench")))
    seen = 0
    sample = None
    started = time.perf_counter()
    while seen < count:
        batch = task.poll()
        seen += len(batch)
        if sample is None and batch:
            sample = batch[0]
    elapsed = time.perf_counter() - started
    task.stop()
    assert isinstance(sample, SourceRecord)
    return count / elapsed, sample


def _raw_producer(bootstrap: str, count: int, key: bytes, value: bytes) -> float:
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    produce_all(bootstrap, topic, [(key, value)])  # topic auto-created before the clock starts
    return count / produce_all(bootstrap, topic, ((key, value) for _ in range(count)))


def _runtime(bootstrap: str, files_config: dict[str, str], count: int, work: Path, schemas: bool) -> float:
    topic = f"bench-mf-{uuid.uuid4().hex[:8]}"
    config = {
        "connector.class": "headwater.connectors.mainframe:MainframeCopybookConnector",
        **files_config,
        "topic": topic,
        "batch.size": "5000",
    }
    # Default offset flush interval; the clock stops once stop() has flushed the
    # producer, seen every ack and stored the offsets.
    elapsed, stored = run_until_polled(bootstrap, work, f"bench-{topic}", {**config, **json_converters(schemas)}, count)
    assert any(offset.get("record") == count for _p, offset in stored), "not every offset was stored"
    return count / elapsed


RUNS = 3
READING = (
    "History: on 2026-11-25 this bench measured 114,871 records/s with plain JSON values (three more runs"
    " 115,882-127,042; the source alone 188,937) and the goal was met with plain JSON, not with the default"
    " schema-carrying JSON. Since then the values grew (361 -> 417 bytes: Debezium's `source` block) and"
    " the source gained record schemas, which `poll()` added with a `dataclasses.replace` per record; on"
    " 2026-12-01 the bench read 46,645 (source alone) and 44,788 (plain JSON). The records are now built"
    " with their schemas and each chunk's `source` block is copied, not rebuilt, per record (the bench then"
    " read 61,995-75,116 with plain JSON); V and VB records are split by compiled code (4-5x the Python"
    " loop's records/s), and a key of one field is read directly. At that code (9d36a14) two runs of this"
    " bench a minute apart read, with plain JSON, 86,705 / 100,504 / 109,770 (its raw producer 115,283) and"
    " the runs in the table above; the raw producer itself read 221,584-247,861 earlier the same day: this"
    " machine's speed moves by half within the hour. The 100,000 goal is reached by single runs, not"
    " steadily: what is left is Python per record (the envelope and record built, the runner's loop,"
    " freeing each batch) and the compiled JSON writer."
)


def _listed(rates: list[float]) -> str:
    return ", ".join(f"{rate:,.0f}" for rate in rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    count = args.records
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = generate("customers-vb", 1, work / "data", count=count)
        config_keys = connector_config(files, "unused")
        size = files.data[0].stat().st_size
        config = MainframeCopybookConfig.model_validate({**config_keys, "batch.size": "5000"})
        source_rate, sample = _source_only(config, count)
        converter = JsonConverter()
        key = converter.to_bytes("t", sample.key) or b""
        value_schemas = converter.to_bytes("t", sample.value) or b""
        value_plain = JsonConverter(schemas_enable=False).to_bytes("t", sample.value) or b""

        with bootstrap_servers(work) as bootstrap:
            raw_plain = _raw_producer(bootstrap, count, key, value_plain)
            raw_schemas = _raw_producer(bootstrap, count, key, value_schemas)
            # Three runs a row, taking turns (this shared machine's speed moves by a quarter
            # within minutes); the best is quoted, every run listed.
            runs: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(RUNS):
                for schemas in (False, True):
                    runs[schemas].append(_runtime(bootstrap, config_keys, count, work, schemas=schemas))
            runtime_plain, runtime_schemas = max(runs[False]), max(runs[True])
    report = "\n".join(
        [
            SECTION,
            "",
            f"`bench/bench_mainframe_source.py --records {count}`: the emulator's `customers-vb` file "
            f"({count:,} VB records of 88 bytes, 9 fields: text, zoned, COMP-3, COMP) through the in-process worker "
            "with the `mainframe-copybook` source into a local single-node Kafka on the same machine "
            "(acks=all, idempotence, lz4), timed until the last offset is stored. Same run, same broker: a raw "
            "confluent-kafka producer sending pre-built messages of the same sizes.",
            "",
            f"Machine: {machine_description()}.",
            "",
            f"| what | records/s (runtime rows: best of {RUNS}) | vs raw producer | every run |",
            "|---|---:|---:|---|",
            f"| source only: read + split + decode + build events (no Kafka) | {source_rate:,.0f} | | |",
            f"| raw producer, value {len(value_plain)} B (plain JSON size) | {raw_plain:,.0f} | 1.00 | |",
            f"| runtime, value.converter json, schemas.enable=false | {runtime_plain:,.0f} | {runtime_plain / raw_plain:.2f} | {_listed(runs[False])} |",  # noqa: E501
            f"| raw producer, value {len(value_schemas)} B (JSON with schema size) | {raw_schemas:,.0f} | 1.00 | |",
            f"| runtime, value.converter json, schemas.enable=true (default) | {runtime_schemas:,.0f} | {runtime_schemas / raw_schemas:.2f} | {_listed(runs[True])} |",  # noqa: E501
            "",
            f"File size {size:,} bytes. Goal: 100,000 records/s file to Kafka.",
            "",
            READING,
            "",
        ]
    )
    print(report)
    if args.write:
        write_section(report)


if __name__ == "__main__":
    main()
