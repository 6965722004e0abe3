"""Re-record ``tests/fixtures/connect-rest-4.1.1.json``: Kafka Connect 4.1.1's REST answers.

Not a test (CI never runs it): it starts a REAL Kafka Connect 4.1.1 distributed worker
(``org.apache.kafka:connect-runtime``, ``connect-json`` and ``connect-file`` from Maven
Central, cached under ``$HEADWATER_CACHE_DIR/connect-worker/4.1.1/libs`` through
:mod:`headwater.connectors.launch.maven`) on a broker you give, runs the call sequence of
``tests/runtime/connect_rest_sequence.py`` against it with the FileStream connectors, and
saves each step's status code and JSON key structure. Needs java and mvn::

    .venv/bin/python tests/interop/record_connect_rest.py --bootstrap-servers 127.0.0.1:19092 --port 20183

``tests/runtime/test_connect_rest_replay.py`` replays the same sequence against our worker.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

from headwater.connectors.launch import maven

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "runtime"))

from connect_rest_sequence import Side, call, run  # noqa: E402

KAFKA_VERSION = "4.1.1"
FIXTURE = HERE.parent / "fixtures" / f"connect-rest-{KAFKA_VERSION}.json"
POM = f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.headwater.local</groupId>
  <artifactId>connect-worker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-json</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-file</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>2.24.3</version></dependency>
  </dependencies>
</project>
"""
LOG4J = """appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
"""


def connect_libs() -> Path:
    """Kafka Connect's worker jars, fetched once."""
    root = maven.cache_root() / "connect-worker" / KAFKA_VERSION
    return maven.ensure_dependency_tree(
        root / "libs", POM, what=f"Kafka Connect {KAFKA_VERSION}", expect_jar="connect-runtime-"
    )


def record(bootstrap_servers: str, port: int, workdir: Path) -> dict[str, object]:
    """Start Connect, run the sequence, stop Connect; the fixture document."""
    libs = connect_libs()
    workdir.mkdir(parents=True, exist_ok=True)
    group = f"rest-record-{uuid.uuid4().hex[:6]}"
    properties = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group,
        "config.storage.topic": f"{group}-configs",
        "offset.storage.topic": f"{group}-offsets",
        "status.storage.topic": f"{group}-status",
        "config.storage.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "listeners": f"http://127.0.0.1:{port}",
        "rest.advertised.host.name": "127.0.0.1",
        "rest.advertised.port": str(port),
        "offset.flush.interval.ms": "500",
    }
    (workdir / "worker.properties").write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    (workdir / "log4j2.properties").write_text(LOG4J)
    source_file = workdir / "in.txt"
    source_file.write_text("".join(f"line {i}\n" for i in range(100)))
    topic = f"{group}-lines"
    side = Side(
        source=f"{group}-source",
        sink=f"{group}-sink",
        source_config={"connector.class": "FileStreamSource", "file": str(source_file), "topic": topic},
        sink_config={"connector.class": "FileStreamSink", "file": str(workdir / "out.txt"), "topics": topic},
        source_plugin="FileStreamSource",
        sink_plugin="FileStreamSink",
        logger="org.apache.kafka.connect.file",
    )
    log = (workdir / "connect.log").open("wb")
    process = subprocess.Popen(  # fixed argv, no shell
        [
            maven.require_tool("java", "java runs the Kafka Connect worker"),
            "-Xmx512m",
            f"-Dlog4j2.configurationFile={workdir / 'log4j2.properties'}",
            "-cp",
            f"{libs}/*",
            "org.apache.kafka.connect.cli.ConnectDistributed",
            str(workdir / "worker.properties"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if call(base, "GET", "/connectors", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                msg = f"Kafka Connect did not start; see {workdir / 'connect.log'}"
                raise RuntimeError(msg)
            time.sleep(1)
        answers = run(base, side, wait_timeout=120)
    finally:
        process.terminate()
        process.wait(60)
    return {
        "recorded_with": f"Kafka Connect {KAFKA_VERSION} distributed worker, FileStreamSource and FileStreamSink",
        "script": "tests/interop/record_connect_rest.py",
        "steps": answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--port", type=int, default=8083, help="the Connect worker's REST port")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/headwater-connect-rest"))
    parser.add_argument("--out", type=Path, default=FIXTURE)
    args = parser.parse_args()
    document = record(args.bootstrap_servers, args.port, args.workdir)
    args.out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out} ({len(document['steps'])} steps)")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
