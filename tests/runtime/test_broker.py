"""The local Kafka broker against the real thing: JVM, KRaft, librdkafka clients."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import typing as t
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from headwater.conformance.kafka import consume_all, create_topic
from headwater.connectors.commands.kafka import EXIT_NOT_RUNNING, kafka
from headwater.connectors.errors import FatalError, RetriableError
from headwater.connectors.launch import broker as broker_mod
from headwater.connectors.launch.broker import (
    LocalKafka,
    ensure_kafka_libs,
    find_free_port,
    kafka_libs_dir,
)


def _ports() -> tuple[int, int]:
    port = find_free_port()
    controller = find_free_port()
    while controller == port:
        controller = find_free_port()
    return port, controller


def _produce(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    errors: list[object] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(err)

    for key, value in items:
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    assert producer.flush(30) == 0, "messages left undelivered"
    assert errors == []


def _answers(bootstrap: str) -> bool:
    # A silent logger: "connection refused" is the expected answer here.
    quiet = logging.getLogger("test_broker.quiet")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    config: dict[str, t.Any] = {
        "bootstrap.servers": bootstrap,
        "socket.timeout.ms": 1000,
        "logger": quiet,
    }
    admin = AdminClient(config)
    try:
        return bool(admin.list_topics(timeout=3).brokers)
    except KafkaException:
        return False


def _alive(pid: int) -> bool:
    return broker_mod._cmdline(pid) is not None


def test_start_round_trip_status_stop_and_cached_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port, controller = _ports()
    local = LocalKafka(tmp_path / "kafka", port=port, controller_port=controller)
    assert local.status().running is False

    address = local.start()
    try:
        assert address == f"127.0.0.1:{port}"
        state = local.status()
        assert state.running is True
        assert state.bootstrap == address
        assert state.pid is not None
        assert _alive(state.pid)
        # Detached: Ctrl-C in our terminal (our session) must not reach the broker.
        assert os.getsid(state.pid) != os.getsid(0)
        # The broker logs to its file, and it is a real Kafka of the chosen version.
        assert f"Kafka version: {local.version}" in local.log_file.read_text()

        topic = f"round-trip-{uuid.uuid4().hex[:8]}"
        create_topic(address, topic)
        sent = [(f"k{i}".encode(), f"value-{i}".encode()) for i in range(5)]
        _produce(address, topic, sent)
        got = consume_all(address, topic, timeout=30)
        assert [(m.key(), m.value()) for m in got] == sent

        # A second start on a running data dir is a no-op that returns its address.
        assert local.start() == address
        assert local.status().pid == state.pid

        assert local.stop() is True
        stopped = local.status()
        assert stopped.running is False
        assert stopped.pid is None
        assert not _alive(state.pid)
        assert not local.pid_file.exists()
        assert not _answers(address)
        assert local.stop() is False

        # The second start uses the cached jars: Maven must not run.
        calls: list[object] = []

        def no_maven(*args: object) -> None:
            calls.append(args)
            msg = "Maven was called on a cached start"
            raise AssertionError(msg)

        monkeypatch.setattr(broker_mod, "_run_maven", no_maven)
        stamp = kafka_libs_dir(local.version).parent / ".headwater-complete"
        assert stamp.is_file()
        assert local.start() == address
        assert calls == []
        # Same data dir: the data survived the restart.
        again = consume_all(address, topic, timeout=30, min_messages=len(sent))
        assert [(m.key(), m.value()) for m in again] == sent
    finally:
        local.stop()
    assert local.status().running is False


def test_start_reports_jvm_death_with_its_output(tmp_path: Path) -> None:
    port, controller = _ports()
    # -Xmx below -Xms: the JVM refuses to start, as a broken broker would die.
    local = LocalKafka(tmp_path / "kafka", port=port, controller_port=controller, heap="1m")
    with pytest.raises(FatalError) as info:
        local.start()
    text = str(info.value)
    assert "exited with code" in text or "Formatting the Kafka storage failed" in text
    assert "heap" in text.lower()
    assert local.status().running is False


def test_start_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        local = LocalKafka(tmp_path / "kafka", port=port, controller_port=find_free_port())
        with pytest.raises(FatalError, match=f"127.0.0.1:{port} is already in use"):
            local.start()
    assert not (tmp_path / "kafka" / "kafka.pid").exists()


def test_cache_stamp_skips_maven_and_half_download_is_redone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def fake_maven(_mvn: str, pom_dir: Path, output_dir: Path) -> None:
        assert "<artifactId>kafka_2.13</artifactId>" in (pom_dir / "pom.xml").read_text()
        calls.append(output_dir)
        output_dir.mkdir(parents=True)
        (output_dir / "kafka_2.13-9.9.9.jar").write_bytes(b"jar")

    monkeypatch.setattr(broker_mod, "_run_maven", fake_maven)
    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/mvn")
    libs = kafka_libs_dir("9.9.9", tmp_path)
    # A half-finished earlier download: jars but no stamp.
    libs.mkdir(parents=True)
    (libs / "partial.jar").write_bytes(b"x")

    assert ensure_kafka_libs("9.9.9", cache_dir=tmp_path, echo=lambda _m: None) == libs
    assert len(calls) == 1
    assert sorted(p.name for p in libs.iterdir()) == ["kafka_2.13-9.9.9.jar"]
    assert (libs.parent / ".headwater-complete").is_file()

    assert ensure_kafka_libs("9.9.9", cache_dir=tmp_path) == libs
    assert len(calls) == 1, "a stamped cache must not run Maven again"


def test_maven_output_without_kafka_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def empty_maven(_mvn: str, _pom_dir: Path, output_dir: Path) -> None:
        output_dir.mkdir(parents=True)

    monkeypatch.setattr(broker_mod, "_run_maven", empty_maven)
    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/mvn")
    with pytest.raises(FatalError, match=r"no kafka_2\.13-9\.9\.9 jar"):
        ensure_kafka_libs("9.9.9", cache_dir=tmp_path, echo=lambda _m: None)
    assert not (kafka_libs_dir("9.9.9", tmp_path).parent / ".headwater-complete").exists()


def test_missing_mvn_and_java_are_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(FatalError, match="Maven"):
        ensure_kafka_libs("9.9.9", cache_dir=tmp_path)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(FatalError, match="Java is not installed"):
        LocalKafka(tmp_path / "kafka", port=find_free_port()).start()


def test_cache_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_CACHE_DIR", str(tmp_path))
    assert kafka_libs_dir("4.1.1") == tmp_path / "kafka" / "4.1.1" / "libs"


def test_cli_start_status_stop_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --data-dir the broker's state is per port in the cache folder, so status
    and stop find it from another folder (the jars stay in the real cache: linked)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "kafka").symlink_to(kafka_libs_dir("4.1.1").parent.parent, target_is_directory=True)
    monkeypatch.setenv("HEADWATER_CACHE_DIR", str(cache))
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    runner = CliRunner()
    port = find_free_port()
    result = runner.invoke(kafka, ["status"])
    assert result.exit_code == EXIT_NOT_RUNNING
    assert result.output.startswith("stopped")
    try:
        monkeypatch.chdir(tmp_path / "a")
        result = runner.invoke(kafka, ["start", "--port", str(port)])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip().splitlines()[-1] == f"127.0.0.1:{port}"
        monkeypatch.chdir(tmp_path / "b")
        result = runner.invoke(kafka, ["status"])
        assert result.exit_code == 0
        assert f"bootstrap=127.0.0.1:{port} data_dir={cache / 'brokers' / str(port)}" in result.output
    finally:
        result = runner.invoke(kafka, ["stop"])
    assert result.exit_code == 0
    assert not list((tmp_path / "a").iterdir())  # nothing written where it was started
    result = runner.invoke(kafka, ["status", "--port", str(port)])
    assert result.exit_code == EXIT_NOT_RUNNING


def test_fixture_broker_and_helpers(kafka_bootstrap_servers: str) -> None:
    bootstrap = kafka_bootstrap_servers
    topic = f"helpers-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, partitions=3, config={"retention.ms": "600000"})
    with pytest.raises(FatalError, match="already exists"):
        create_topic(bootstrap, topic, partitions=3)
    create_topic(bootstrap, topic, partitions=3, exist_ok=True)

    sent = {(f"k{i}".encode(), f"v{i}".encode()) for i in range(30)}
    _produce(bootstrap, topic, sorted(sent))
    got = consume_all(bootstrap, topic, timeout=30)
    assert {(m.key(), m.value()) for m in got} == sent
    assert len(got) == len(sent)
    assert {m.partition() for m in got} == {0, 1, 2}

    assert consume_all(bootstrap, f"missing-{uuid.uuid4().hex[:8]}", timeout=5) == []
    with pytest.raises(RetriableError, match="with 30 messages"):
        consume_all(bootstrap, topic, timeout=3, min_messages=31)


def test_empty_topic_reads_as_empty(kafka_bootstrap_servers: str) -> None:
    topic = f"empty-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap_servers, topic, partitions=2)
    assert consume_all(kafka_bootstrap_servers, topic, timeout=15) == []
