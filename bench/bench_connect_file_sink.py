"""Headwater's ``file`` sink against Kafka Connect's own FileStreamSink, side by side in one run.

Both read the same topic on the same broker with the same converter settings (JSON values
without schemas, string keys) and write one line per record to a local file without fsync.
Each side is a fresh worker process (``headwater standalone`` / ``ConnectStandalone`` 4.1.1
from Maven Central, cached like the Kafka jars), timed from its start to the moment the
output holds a line for every record, so start-up counts on both sides. The sides alternate
over the rounds; the median of each is reported, with the steady rate (records per second
after the first line appeared) beside the end-to-end one.

What each side does per record (``--converter json``, the default; ``string`` passes values
through as text on both sides):

- Connect: JsonConverter parses the value into a Map; FileStreamSink writes its ``toString``.
- Headwater: the JSON converter parses the value; the ``file`` sink writes a JSON line with
  the key and value (``file.include.metadata=false``, ``file.fsync=false``).

Usage: ``python bench/bench_connect_file_sink.py [--records N] [--rounds R] [--write]``.
Needs Java 17 and Maven (first run only, to fetch the Connect jars) and a broker: the one in
``HEADWATER_BOOTSTRAP_SERVERS``, or a local one started for the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from report import machine_description, write_section

from headwater.connectors.launch import maven

CONNECT_VERSION = "4.1.1"
POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>headwater</groupId><artifactId>connect-bench</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId>
      <version>{CONNECT_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-file</artifactId>
      <version>{CONNECT_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-json</artifactId>
      <version>{CONNECT_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version></dependency>
  </dependencies>
</project>
"""
PARTITIONS = 1
VALUE_CONVERTERS = {
    "json": "org.apache.kafka.connect.json.JsonConverter",
    "string": "org.apache.kafka.connect.storage.StringConverter",
}


def connect_libs() -> Path:
    """Kafka Connect's runtime, file connectors and JSON converter, fetched once."""
    libs = maven.cache_root() / "connect" / CONNECT_VERSION / "libs"
    return maven.ensure_dependency_tree(libs, POM, what=f"Kafka Connect {CONNECT_VERSION}", expect_jar="connect-file-")


def fill_topic(bootstrap: str, topic: str, records: int) -> int:
    """Write ``records`` JSON values (about 120 bytes each) with string keys; return the bytes."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000, "acks": 1})
    size = 0
    for i in range(records):
        value = orjson.dumps(
            {"id": i, "name": f"customer-{i}", "balance": i * 0.25, "active": i % 3 == 0, "city": "Lisbon", "n": [1, 2]}
        )
        key = str(i).encode()
        size += len(value) + len(key)
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
        if i % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120):
        msg = "the producer did not deliver every record in 120 s"
        raise RuntimeError(msg)
    return size


class LineCounter:
    """Counts the lines of a file that only grows, reading each byte once: the watcher must
    not take a core from the workers it times (re-reading the whole file at every poll did,
    about 0.1 s per 200 MB)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._handle: t.BinaryIO | None = None

    def count(self) -> int:
        if self._handle is None:
            if not self.path.exists():
                return 0
            self._handle = self.path.open("rb")
        while chunk := self._handle.read(1 << 20):
            self.lines += chunk.count(b"\n")
        return self.lines

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def run_until(command: list[str], output: Path, records: int, log: Path, timeout: float) -> tuple[float, float]:
    """Start ``command``; return (seconds to the last line, seconds from the first line to the last)."""
    started = time.perf_counter()
    first: float | None = None
    counter = LineCounter(output)
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            while True:
                time.sleep(0.05)
                lines = counter.count()
                now = time.perf_counter()
                if first is None and lines:
                    first = now
                if lines >= records:
                    return now - started, now - (first or now)
                if process.poll() is not None:
                    msg = f"{command[0]} exited with {process.returncode}; see {log}"
                    raise RuntimeError(msg)
                if now - started > timeout:
                    msg = f"{command[0]} wrote {lines} of {records} lines in {timeout:.0f} s; see {log}"
                    raise RuntimeError(msg)
        finally:
            counter.close()
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def connect_side(
    bootstrap: str, topic: str, records: int, folder: Path, timeout: float, converter: str
) -> tuple[float, float]:
    libs = connect_libs()
    worker = folder / "connect-worker.properties"
    worker.write_text(
        "\n".join(
            [
                f"bootstrap.servers={bootstrap}",
                "key.converter=org.apache.kafka.connect.storage.StringConverter",
                f"value.converter={VALUE_CONVERTERS[converter]}",
                "value.converter.schemas.enable=false",
                f"offset.storage.file.filename={folder / 'connect.offsets'}",
                "offset.flush.interval.ms=10000",
                "listeners=http://127.0.0.1:0",
                "plugin.discovery=only_scan",
                "",
            ]
        )
    )
    output = folder / "connect.out"
    connector = folder / "connect-sink.properties"
    connector.write_text(
        "\n".join(
            [
                f"name=bench-connect-{uuid.uuid4().hex[:8]}",
                "connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector",
                "tasks.max=1",
                f"topics={topic}",
                f"file={output}",
                "consumer.override.auto.offset.reset=earliest",
                "",
            ]
        )
    )
    log4j = folder / "log4j.properties"
    log4j.write_text(
        "log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
    )
    command = [
        "java",
        "-Xms256m",
        "-Xmx1g",
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.connect.cli.ConnectStandalone",
        str(worker),
        str(connector),
    ]
    return run_until(command, output, records, folder / "connect.log", timeout)


def headwater_side(
    bootstrap: str, topic: str, records: int, folder: Path, timeout: float, converter: str
) -> tuple[float, float]:
    worker = folder / "headwater-worker.json"
    worker.write_text(
        json.dumps(
            {
                "bootstrap.servers": bootstrap,
                "offset.storage.file.filename": str(folder / "headwater.offsets.json"),
                "offset.flush.interval.ms": "10000",
                "rest.port": "0",
            }
        )
    )
    out_dir = folder / "headwater-out"
    connector = folder / "headwater-sink.json"
    connector.write_text(
        json.dumps(
            {
                "name": f"bench-headwater-{uuid.uuid4().hex[:8]}",
                "config": {
                    "connector.class": "file",
                    "tasks.max": "1",
                    "topics": topic,
                    "file.dir": str(out_dir),
                    "file.include.metadata": "false",
                    "file.fsync": "false",
                    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                    "value.converter": VALUE_CONVERTERS[converter],
                    "value.converter.schemas.enable": "false",
                    "consumer.override.auto.offset.reset": "earliest",
                },
            }
        )
    )
    headwater = Path(sys.executable).with_name("headwater")
    command = [str(headwater), "--log-level", "WARNING", "standalone", str(worker), str(connector)]
    return run_until(command, out_dir / f"{topic}.jsonl", records, folder / "headwater.log", timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--converter", choices=sorted(VALUE_CONVERTERS), default="json", help="the value converter of both sides"
    )
    parser.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    args = parser.parse_args()
    bootstrap = os.environ.get("HEADWATER_BOOTSTRAP_SERVERS")
    if not bootstrap:
        sys.exit("set HEADWATER_BOOTSTRAP_SERVERS to a running broker (e.g. `headwater kafka start`)")
    connect_libs()
    topic = f"bench-file-sink-{uuid.uuid4().hex[:8]}"
    print(f"filling {topic} with {args.records:,} records ...", flush=True)
    size = fill_topic(bootstrap, topic, args.records)
    results: dict[str, list[tuple[float, float]]] = {"connect": [], "headwater": []}
    sides = {"connect": connect_side, "headwater": headwater_side}
    for round_no in range(args.rounds):
        order = ["connect", "headwater"] if round_no % 2 == 0 else ["headwater", "connect"]
        for side in order:
            with tempfile.TemporaryDirectory(prefix=f"hw-bench-file-{side}-") as folder:
                total, steady = sides[side](bootstrap, topic, args.records, Path(folder), args.timeout, args.converter)
            results[side].append((total, steady))
            print(
                f"round {round_no + 1} {side:9s}: {total:6.1f} s to the last line, "
                f"{args.records / total:9,.0f} records/s end to end, {args.records / steady:9,.0f} steady",
                flush=True,
            )
    rows = []
    medians = {}
    for side, label in (
        ("connect", f"Kafka Connect {CONNECT_VERSION} FileStreamSink"),
        ("headwater", "Headwater `file` sink"),
    ):
        total = statistics.median(r[0] for r in results[side])
        steady = statistics.median(r[1] for r in results[side])
        medians[side] = (total, steady)
        rows.append(f"| {label} | {total:.1f} | {args.records / total:,.0f} | {args.records / steady:,.0f} |")
    ratio_total = medians["connect"][0] / medians["headwater"][0]
    ratio_steady = medians["connect"][1] / medians["headwater"][1]
    body = "\n".join(
        [
            f"`bench/bench_connect_file_sink.py --records {args.records} --rounds {args.rounds} "
            f"--converter {args.converter}`, "
            f"{time.strftime('%Y-%m-%d')}: {args.records:,} records ({size / 1e6:.0f} MB of keys and JSON values) "
            f"in one partition of one topic on one local broker; each side a fresh worker process, timed from its "
            f"start to the last line in its output file (start-up counts); sides alternate; medians of "
            f"{args.rounds} rounds. Value converter on both sides: {VALUE_CONVERTERS[args.converter]} (schemas "
            f"disabled); keys as strings; each writes a line per record, no fsync.",
            "",
            machine_description(),
            "",
            "| worker | seconds to the last line | records/s end to end | records/s after the first line |",
            "|---|---:|---:|---:|",
            *rows,
            f"| **ratio Headwater / Connect** | | **{ratio_total:.2f}** | **{ratio_steady:.2f}** |",
        ]
    )
    print(body)
    if args.write:
        write_section(f"## File sink against Kafka Connect's FileStreamSink ({args.converter} values)\n\n" + body)


if __name__ == "__main__":
    main()
