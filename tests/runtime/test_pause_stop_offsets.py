"""Pause, resume, stop and the offsets endpoints (KIP-875) of a standalone worker, on a real broker.

What operators rely on: a paused source's topics stop growing and grow again after
resume; a paused sink writes nothing until resumed, then everything; after stop, an
offsets reset and resume, a source emits from the start again and a sink re-reads its
topics; an altered offset is where the connector resumes; offsets of a running
connector cannot be changed.
"""

from __future__ import annotations

import json
import time
import typing as t
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from headwater.conformance.file_sink import lines_landed
from headwater.conformance.kafka import create_topic
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.connectors.launch.worker import rest_request
from headwater.connectors.runtime.offset_admin import ALTERED, RESET
from headwater.connectors.runtime.rest import RestServer

pytestmark = [pytest.mark.kafka]

JSON = {
    "key.converter": "json",
    "key.converter.schemas.enable": "false",
    "value.converter": "json",
    "value.converter.schemas.enable": "false",
}


class Api:
    """A tiny REST client for one worker."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: t.Any = None) -> tuple[int, t.Any]:
        return rest_request(self.url, method, path, body)

    def status(self, name: str) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self.call("GET", f"/connectors/{name}/status")[1])

    def states(self, name: str) -> tuple[str, list[str]]:
        """The connector's state and its tasks' states."""
        status = self.status(name)
        return status["connector"]["state"], [task["state"] for task in status["tasks"]]

    def offsets(self, name: str) -> list[dict[str, t.Any]]:
        return t.cast(list[dict[str, t.Any]], self.call("GET", f"/connectors/{name}/offsets")[1]["offsets"])


@contextmanager
def _worker(bootstrap: str, folder: Path, connectors: t.Sequence[t.Mapping[str, t.Any]]) -> Iterator[Api]:
    worker = in_process_worker(bootstrap, folder, connectors)
    rest = RestServer(worker, "127.0.0.1", 0)
    worker.start()
    rest.start()
    try:
        yield Api(rest.url)
    finally:
        rest.stop()
        assert worker.stop(30)


def _end(bootstrap: str, topic: str) -> int:
    """Messages in ``topic`` so far (sum of its partitions' high watermarks)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:6]}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions)
    finally:
        consumer.close()


def _stable(read: t.Callable[[], int], *, quiet: float = 1.5, timeout: float = 30) -> int:
    """``read()`` once it returned the same value for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    value = read()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        again = read()
        if again == value:
            return value
        value = again
    msg = f"still changing after {timeout} s"
    raise TimeoutError(msg)


def _produce(bootstrap: str, topic: str, first: int, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(first, first + count):
        producer.produce(topic, json.dumps({"n": i}).encode(), json.dumps(i).encode())
    assert producer.flush(30) == 0


def test_a_paused_source_stops_producing_and_resumes_where_it_was(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"pause-src-{uuid.uuid4().hex[:6]}"
    topic = f"{name}.customers"
    source = {
        "name": name,
        "config": {"connector.class": "datagen", "topic.prefix": name, "tables": "customers", "count": "-1"}
        | {"rate": "300", "batch.size": "50", "tombstones.on.delete": "false", **JSON},
    }
    with _worker(kafka_bootstrap_servers, tmp_path, [source]) as api:
        wait_for(lambda: api.states(name) == ("RUNNING", ["RUNNING"]), what="RUNNING")
        wait_for(lambda: _end(kafka_bootstrap_servers, topic) > 100, what="records flowing")

        assert api.call("PUT", f"/connectors/{name}/pause") == (202, None)
        wait_for(lambda: api.states(name) == ("PAUSED", ["PAUSED"]), what="PAUSED")
        paused_at = _stable(lambda: _end(kafka_bootstrap_servers, topic))
        time.sleep(2)
        assert _end(kafka_bootstrap_servers, topic) == paused_at, "a paused source must not produce"
        # What was produced before the pause has its offsets stored: one record per event.
        assert api.offsets(name) == [{"partition": {"table": "customers"}, "offset": {"seq": paused_at}}]
        # Offsets change only while STOPPED: refused while RUNNING or PAUSED, as Kafka Connect does.
        code, answer = api.call("DELETE", f"/connectors/{name}/offsets")
        assert code == 400 and "STOPPED" in answer["message"] and f"/connectors/{name}/stop" in answer["message"]
        patch = {"offsets": [{"partition": {"table": "customers"}, "offset": {"seq": 0}}]}
        assert api.call("PATCH", f"/connectors/{name}/offsets", patch)[0] == 400

        assert api.call("PUT", f"/connectors/{name}/resume") == (202, None)
        wait_for(lambda: api.states(name) == ("RUNNING", ["RUNNING"]), what="RUNNING again")
        wait_for(lambda: _end(kafka_bootstrap_servers, topic) > paused_at + 50, what="records flowing again")
        code, answer = api.call("DELETE", f"/connectors/{name}/offsets")
        assert code == 400 and "STOPPED" in answer["message"]
        assert api.call("PUT", "/connectors/nope/pause")[0] == 404


def test_a_paused_sink_writes_nothing_until_resumed(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"pause-sink-{uuid.uuid4().hex[:6]}"
    topic = f"{name}-in"
    out = tmp_path / "out"
    create_topic(kafka_bootstrap_servers, topic, partitions=3)
    sink = {"name": name, "config": {"connector.class": "file", "topics": topic, "file.dir": str(out), **JSON}}
    _produce(kafka_bootstrap_servers, topic, 0, 300)
    with _worker(kafka_bootstrap_servers, tmp_path, [sink]) as api:
        wait_for(lambda: lines_landed(out) == 300, what="the first 300 records")

        assert api.call("PUT", f"/connectors/{name}/pause") == (202, None)
        wait_for(lambda: api.states(name) == ("PAUSED", ["PAUSED"]), what="PAUSED")
        _produce(kafka_bootstrap_servers, topic, 300, 200)
        time.sleep(3)
        assert lines_landed(out) == 300, "a paused sink must not write"
        # It still committed what it had flushed.
        committed = sum(entry["offset"]["kafka_offset"] for entry in api.offsets(name))
        assert committed == 300

        assert api.call("PUT", f"/connectors/{name}/resume") == (202, None)
        wait_for(lambda: api.states(name) == ("RUNNING", ["RUNNING"]), what="RUNNING again")
        wait_for(lambda: lines_landed(out) >= 500, what="the records produced during the pause")
        assert _stable(lambda: lines_landed(out)) == 500


def test_stop_reset_and_resume_replays_a_source_and_a_sink_from_the_start(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    prefix = f"reset-{uuid.uuid4().hex[:6]}"
    topic = f"{prefix}.customers"
    out = tmp_path / "out"
    source = {
        "name": f"src-{prefix}",
        "config": {"connector.class": "datagen", "topic.prefix": prefix, "tables": "customers", "count": "400"}
        | {"tombstones.on.delete": "false", **JSON},
    }
    sink = {"name": f"sink-{prefix}", "config": {"connector.class": "file", "topics": topic, "file.dir": str(out)}}
    sink["config"] |= JSON
    src, snk = source["name"], sink["name"]
    with _worker(kafka_bootstrap_servers, tmp_path, [source, sink]) as api:
        wait_for(lambda: lines_landed(out) == 400, what="all 400 events in the file")
        wait_for(lambda: api.offsets(src) == [{"partition": {"table": "customers"}, "offset": {"seq": 400}}])
        wait_for(
            lambda: (
                api.offsets(snk)
                == [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 400}}]
            ),
            what="the sink's committed offsets",
        )

        for name in (src, snk):
            assert api.call("PUT", f"/connectors/{name}/stop") == (204, None)
            status = api.status(name)
            assert (status["connector"]["state"], status["tasks"]) == ("STOPPED", [])
            assert api.call("GET", f"/connectors/{name}")[1]["tasks"] == []
            assert api.call("GET", f"/connectors/{name}/config")[0] == 200, "stop keeps the config"
            assert api.call("DELETE", f"/connectors/{name}/offsets") == (200, {"message": RESET})
            assert api.offsets(name) == []
        # Nothing runs while stopped.
        _produce(kafka_bootstrap_servers, topic, 0, 1)
        time.sleep(1)
        assert lines_landed(out) == 400

        assert api.call("PUT", f"/connectors/{src}/resume") == (202, None)
        wait_for(lambda: api.states(src) == ("RUNNING", ["RUNNING"]), what="the source RUNNING again")
        # The source emits its 400 events again from seq 0: the topic holds them twice.
        wait_for(lambda: _end(kafka_bootstrap_servers, topic) == 801, what="the source replaying from seq 0")
        assert api.call("PUT", f"/connectors/{snk}/resume") == (202, None)
        # The sink reads the topic from its start again: 400 old lines + 801 re-read.
        wait_for(lambda: lines_landed(out) == 1201, timeout=60, what="the sink re-reading the topic")
        lines = (out / f"{topic}.jsonl").read_text().splitlines()
        assert json.loads(lines[400])["offset"] == 0, "the re-read starts at the topic's first offset"


def test_altered_offsets_are_where_a_source_and_a_sink_resume(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    prefix = f"alter-{uuid.uuid4().hex[:6]}"
    topic = f"{prefix}.customers"
    out = tmp_path / "out"
    source = {
        "name": f"src-{prefix}",
        "config": {"connector.class": "datagen", "topic.prefix": prefix, "tables": "customers", "count": "300"}
        | {"tombstones.on.delete": "false", **JSON},
    }
    sink = {"name": f"sink-{prefix}", "config": {"connector.class": "file", "topics": topic, "file.dir": str(out)}}
    sink["config"] |= JSON
    src, snk = source["name"], sink["name"]
    with _worker(kafka_bootstrap_servers, tmp_path, [source, sink]) as api:
        wait_for(lambda: lines_landed(out) == 300, what="all 300 events in the file")
        wait_for(lambda: api.offsets(src) == [{"partition": {"table": "customers"}, "offset": {"seq": 300}}])
        for name in (src, snk):
            assert api.call("PUT", f"/connectors/{name}/stop")[0] == 204

        # Malformed bodies are refused naming the fix; nothing changes.
        assert api.call("PATCH", f"/connectors/{src}/offsets", {"offsets": []})[0] == 400
        bad_sink = {"offsets": [{"partition": {"kafka_topic": topic}, "offset": {"kafka_offset": 1}}]}
        code, answer = api.call("PATCH", f"/connectors/{snk}/offsets", bad_sink)
        assert code == 400 and "kafka_partition" in answer["message"]

        patch = {"offsets": [{"partition": {"table": "customers"}, "offset": {"seq": 250}}]}
        assert api.call("PATCH", f"/connectors/{src}/offsets", patch) == (200, {"message": ALTERED})
        assert api.offsets(src) == patch["offsets"]
        partition = {"kafka_topic": topic, "kafka_partition": 0}
        patch = {"offsets": [{"partition": partition, "offset": {"kafka_offset": 290}}]}
        assert api.call("PATCH", f"/connectors/{snk}/offsets", patch) == (200, {"message": ALTERED})
        assert api.offsets(snk) == patch["offsets"]

        # The source emits events 251..300 again (50 records), no more.
        assert api.call("PUT", f"/connectors/{src}/resume")[0] == 202
        wait_for(lambda: _end(kafka_bootstrap_servers, topic) == 350, what="the source resuming at seq 250")
        wait_for(lambda: api.offsets(src) == [{"partition": {"table": "customers"}, "offset": {"seq": 300}}])
        assert _stable(lambda: _end(kafka_bootstrap_servers, topic)) == 350
        # The sink resumes at offset 290: topic offsets 290..349 land, 60 lines.
        assert api.call("PUT", f"/connectors/{snk}/resume")[0] == 202
        wait_for(lambda: lines_landed(out) == 360, what="the sink resuming at offset 290")
        lines = (out / f"{topic}.jsonl").read_text().splitlines()
        assert json.loads(lines[300])["offset"] == 290

        # A null offset removes a sink partition's offset: it is read from the start again.
        assert api.call("PUT", f"/connectors/{snk}/stop")[0] == 204
        patch = {"offsets": [{"partition": partition, "offset": None}]}
        assert api.call("PATCH", f"/connectors/{snk}/offsets", patch) == (200, {"message": ALTERED})
        assert api.offsets(snk) == []
        assert api.call("PUT", f"/connectors/{snk}/resume")[0] == 202
        wait_for(lambda: lines_landed(out) == 360 + 350, what="the sink re-reading the whole topic")
