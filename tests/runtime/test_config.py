"""Connector and worker files: per-field errors, config providers, secrets."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from headwater.connectors.api import SinkConnector, SinkRecord, SinkTask
from headwater.connectors.cli import cli
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import ConfigError
from headwater.connectors.launch.worker import write_json
from headwater.connectors.loading import load_connector_file, load_worker_file, parse_connector
from headwater.connectors.runtime.distributed import slot_stride, task_slot
from headwater.connectors.runtime.worker import check_clients
from headwater.connectors.settings import WorkerConfig


class _SecretSinkConfig(PluginConfig):
    """A sink with a password, to check it is never shown."""

    target_password: SecretStr
    """The password."""
    target_user: str = "app"
    """The user."""


class _SecretSinkTask(SinkTask[_SecretSinkConfig]):
    def put(self, records: t.Sequence[SinkRecord]) -> None:
        return None

    def flush(self) -> None:
        return None


class SecretSink(SinkConnector[_SecretSinkConfig]):
    name = "secret-sink"
    config_class = _SecretSinkConfig
    task_class = _SecretSinkTask


SECRET_SINK = f"{__name__}:SecretSink"


def _write(path: Path, document: t.Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def _keys(error: ConfigError) -> set[str]:
    return {e.key for e in error.errors}


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connector(
            {
                "name": "x",
                "config": {
                    "connector.class": "datagen",
                    "tasks.max": "0",
                    "errors.tolerance": "sometimes",
                    "count": "many",
                    "tabels": "customers",
                },
            }
        )
    assert _keys(caught.value) == {"tasks.max", "errors.tolerance", "count", "tabels"}
    assert "unknown key" in str(caught.value)


def test_unknown_plugin_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connector({"name": "x", "config": {"connector.class": "oracle-magic"}})
    assert _keys(caught.value) == {"connector.class"}
    assert "datagen" in str(caught.value) and "file" in str(caught.value)


def test_missing_required_plugin_key_and_sink_without_topics() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connector({"name": "x", "config": {"connector.class": "file"}})
    assert _keys(caught.value) == {"file.dir", "topics"}
    assert "missing" in str(caught.value)


def test_source_must_not_set_topics() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connector({"name": "x", "config": {"connector.class": "datagen", "topics": "a"}})
    assert _keys(caught.value) == {"topics"}


def test_env_and_file_providers_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HW_TEST_USER", "loader")
    secrets = tmp_path / "secrets.properties"
    secrets.write_text("# comment\ntarget.password = s3cr3t\n")
    connector = parse_connector(
        {
            "name": "x",
            "config": {
                "connector.class": SECRET_SINK,
                "topics": "t",
                "target.user": "${env:HW_TEST_USER}",
                "target.password": f"${{file:{secrets}:target.password}}",
            },
        }
    )
    config = t.cast(_SecretSinkConfig, connector.plugin_config)
    assert config.target_user == "loader"
    assert config.target_password.get_secret_value() == "s3cr3t"
    # What status output shows: the reference, never the resolved value.
    shown = connector.redacted()
    assert "s3cr3t" not in json.dumps(shown)
    assert "loader" not in json.dumps(shown)


def test_missing_provider_values_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connector(
            {
                "name": "x",
                "config": {
                    "connector.class": SECRET_SINK,
                    "topics": "t",
                    "target.user": "${env:HW_DEFINITELY_UNSET}",
                    "target.password": f"${{file:{tmp_path}/none.properties:pw}}",
                },
            }
        )
    assert _keys(caught.value) == {"target.user", "target.password"}
    assert "HW_DEFINITELY_UNSET" in str(caught.value)


def test_literal_secret_is_hidden() -> None:
    connector = parse_connector(
        {
            "name": "x",
            "config": {
                "connector.class": SECRET_SINK,
                "topics": "t",
                "target.password": "hunter2",
                "producer.override.sasl.password": "also-secret",
            },
        }
    )
    shown = json.dumps(connector.redacted())
    assert "hunter2" not in shown and "also-secret" not in shown
    assert "hunter2" not in repr(connector.plugin_config)


def test_overrides_are_grouped() -> None:
    connector = parse_connector(
        {
            "name": "x",
            "config": {
                "connector.class": "file",
                "topics": "t",
                "file.dir": "/tmp/x",
                "consumer.override.bootstrap.servers": "cloud:9092",
                "producer.override.compression.type": "zstd",
                "value.converter.schemas.enable": "false",
            },
        }
    )
    assert connector.framework.consumer_override == {"bootstrap.servers": "cloud:9092"}
    assert connector.framework.producer_override == {"compression.type": "zstd"}
    assert connector.framework.value_converter_config == {"schemas.enable": "false"}


def test_an_exactly_once_source_writing_to_another_cluster_is_refused() -> None:
    # Its transaction would carry its offsets to the other cluster, where the worker never reads them.
    source = {"connector.class": "datagen", "producer.override.bootstrap.servers": "cloud:9092"}
    connector = parse_connector({"name": "to-cloud", "config": source})
    exactly_once = WorkerConfig.model_validate(
        {"bootstrap.servers": "onprem:9092", "offset.storage.topic": "o", "exactly.once.source.support": "enabled"}
    )
    with pytest.raises(ConfigError) as caught:
        check_clients(connector, exactly_once)
    assert _keys(caught.value) == {"producer.override.bootstrap.servers"}
    assert "onprem:9092" in str(caught.value) and "cloud:9092" in str(caught.value)
    # Without exactly-once the worker's own producer stores the offsets: allowed.
    check_clients(connector, WorkerConfig.model_validate({"bootstrap.servers": "onprem:9092"}))
    # A sink reading another cluster has no offsets in the worker's topic: allowed.
    sink = {"connector.class": "file", "topics": "t", "file.dir": "/tmp/x"}
    cloud_sink = {**sink, "consumer.override.bootstrap.servers": "cloud:9092"}
    check_clients(parse_connector({"name": "from-cloud", "config": cloud_sink}), exactly_once)


def test_worker_file_rejects_unknown_keys(tmp_path: Path) -> None:
    path = _write(tmp_path / "w.json", {"bootstrap.servers": "a:1", "rest.port": "x", "offset.flush.interval": "1"})
    with pytest.raises(ConfigError) as caught:
        load_worker_file(path)
    assert _keys(caught.value) == {"rest.port", "offset.flush.interval"}
    assert str(path) in str(caught.value)


def test_a_group_instance_id_shared_by_all_tasks_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "w.json", {"bootstrap.servers": "a:1", "consumer.group.instance.id": "w1"})
    with pytest.raises(ConfigError) as caught:
        load_worker_file(path)
    assert _keys(caught.value) == {"consumer.group.instance.id"}
    assert "worker.instance.id" in str(caught.value)

    with pytest.raises(ConfigError) as caught:
        parse_connector(
            {
                "name": "x",
                "config": {
                    "connector.class": "file",
                    "topics": "t",
                    "file.dir": "/tmp/x",
                    "consumer.override.group.instance.id": "w1",
                },
            }
        )
    assert "worker.instance.id" in str(caught.value)


def test_worker_instance_id_must_be_usable_in_a_member_id(tmp_path: Path) -> None:
    path = _write(tmp_path / "w.json", {"worker.instance.id": "worker 3/eu"})
    with pytest.raises(ConfigError) as caught:
        load_worker_file(path)
    assert _keys(caught.value) == {"worker.instance.id"}


def test_bad_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{nope")
    with pytest.raises(ConfigError) as caught:
        load_connector_file(path)
    assert str(path) in str(caught.value)


def test_validate_command_prints_one_line_per_bad_field(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.json", {"name": "g", "config": {"connector.class": "datagen"}})
    bad = _write(
        tmp_path / "bad.json",
        {"name": "b", "config": {"connector.class": "datagen", "seed": "x", "speed": "1", "value.converter": "avro"}},
    )
    result = CliRunner().invoke(cli, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{good}: valid" in result.output
    lines = [line.strip() for line in result.output.splitlines() if line.startswith("  ")]
    assert sorted(line.split(":")[0] for line in lines) == ["seed", "speed"]
    # Converters are checked too once the plugin keys are right.
    bad_converter = _write(
        tmp_path / "conv.json", {"name": "c", "config": {"connector.class": "datagen", "value.converter": "thrift"}}
    )
    result = CliRunner().invoke(cli, ["validate", str(bad_converter)])
    assert result.exit_code == 1
    assert "value.converter: unknown converter 'thrift'" in result.output
    # A registry converter without its registry names the missing setting.
    no_registry = _write(
        tmp_path / "avro.json", {"name": "a", "config": {"connector.class": "datagen", "value.converter": "avro"}}
    )
    result = CliRunner().invoke(cli, ["validate", str(no_registry)])
    assert result.exit_code == 1
    assert "value.converter.schema.registry.url: required" in result.output


def test_plugins_command_lists_schemas() -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    listing = {entry["alias"]: entry for entry in json.loads(result.output)}
    assert {"datagen", "file"} <= set(listing)
    assert "file.dir" in listing["file"]["config"]["properties"]
    assert listing["file"]["config"]["required"] == ["file.dir"]
    assert listing["datagen"]["type"] == "source"


DISTRIBUTED_KEYS = ["group.id", "config.storage.topic", "status.storage.topic", "offset.storage.topic"]


def test_distributed_mode_names_each_missing_key(tmp_path: Path) -> None:
    path = write_json(tmp_path / "worker.json", {"bootstrap.servers": "127.0.0.1:1"})
    with pytest.raises(ConfigError) as caught:
        load_worker_file(path, distributed=True)
    assert sorted(e.key for e in caught.value.errors) == sorted(DISTRIBUTED_KEYS)
    assert load_worker_file(path).group_id is None  # standalone does not need them

    result = subprocess.run(
        [sys.executable, "-m", "headwater.connectors.cli", "distributed", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    for key in DISTRIBUTED_KEYS:
        assert f"  {key}: missing" in result.stderr, result.stderr


def test_task_slots_spread_a_connector_over_any_run_of_slots() -> None:
    # The cooperative-sticky assignor hands each worker contiguous runs of slots: any
    # quarter of the slots (a fourth worker's share) holds 2 to 4 of a connector's 12 tasks.
    for name in ("orders-cdc", "a", "datagen-demo", *(f"connector-{i}" for i in range(50))):
        slots = [task_slot(name, i, 64) for i in range(12)]
        assert slots[0] == task_slot(name, 0, 64, eager=True)
        assert len(set(slots)) == 12
        for start in range(64):
            run = {(start + offset) % 64 for offset in range(16)}
            assert 2 <= len(run.intersection(slots)) <= 4, (name, start, slots)
    assert slot_stride(64) == 25
    assert all(math.gcd(slot_stride(n), n) == 1 for n in range(1, 300))


def test_eager_task_slots_are_consecutive_per_connector() -> None:
    first = task_slot("orders-cdc", 0, 64, eager=True)
    assert [task_slot("orders-cdc", i, 64, eager=True) for i in range(3)] == [(first + i) % 64 for i in range(3)]


def test_task_internal_keys_are_not_user_keys(tmp_path: Path) -> None:
    listing = {entry["alias"]: entry for entry in json.loads(CliRunner().invoke(cli, ["plugins"]).output)}
    assert "task.tables" not in listing["datagen"]["config"]["properties"]
    assert "tables" in listing["datagen"]["config"]["properties"]
    # A user's connector config may not set them; each is named with the reason.
    bad = _write(
        tmp_path / "bad.json", {"name": "b", "config": {"connector.class": "datagen", "task.tables": "orders"}}
    )
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "task.tables: set by the connector on each task's config" in result.output
    # The connector still sets them on its task configs.
    connector = parse_connector({"name": "d", "config": {"connector.class": "datagen", "tasks.max": 2}})
    tasks = connector.plugin_class(connector.plugin_config).task_configs(2)
    assert sorted(task.model_dump(by_alias=True)["task.tables"] for task in tasks) == ["customers,products", "orders"]


def test_a_plugin_imports_no_framework_config() -> None:
    code = (
        "import sys, headwater.connectors.datagen, headwater.sinks.file;"
        "print(sorted(m for m in sys.modules if m.startswith('headwater.connectors.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for module in ("settings", "providers", "loading", "runtime", "registry", "launch"):
        assert f"'headwater.connectors.{module}" not in loaded, loaded
    assert "'headwater.connectors.config'" in loaded
