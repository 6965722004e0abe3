"""``headwater connectors ...`` against real in-process workers (standalone and distributed)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from headwater.conformance.runtime import in_process_worker
from headwater.connectors.commands.connectors import connectors, format_progress
from headwater.connectors.runtime.rest import RestServer
from headwater.connectors.settings import WorkerConfig


def _run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    # The group itself, not ``headwater``: the latter would point logging at the runner's stream.
    return CliRunner().invoke(connectors, ["--url", url, *args], env=env)


def _until(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_progress_cell() -> None:
    assert format_progress(None) == ""
    assert (
        format_progress({"done": 1200, "total": 10_000, "unit": "records", "rate_per_s": 350.0, "eta_s": 25.1})
        == "1,200 / 10.0k records (12%), 350 records/s, ETA 0:00:25"
    )
    assert format_progress({"done": 2_500_000, "total": None, "unit": "bytes", "rate_per_s": 1.5, "eta_s": None}) == (
        "2.5M bytes, 1.5 bytes/s"
    )
    assert format_progress({"done": 5, "total": 10, "unit": "rows", "what": "SHOP.CUSTOMERS"}) == (
        "SHOP.CUSTOMERS: 5 / 10 rows (50%)"
    )


@pytest.mark.kafka
def test_operate_a_standalone_worker(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:6]}"
    connector = {
        "name": name,
        "config": {"connector.class": "datagen", "topic.prefix": name, "count": "100000", "rate": "200"},
    }
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    rest = RestServer(worker, "127.0.0.1", 0)
    worker.start()
    rest.start()
    url = rest.url
    try:
        _until(lambda: worker.status(name)["tasks"][0]["state"] == "RUNNING", "task running")
        listing = _run(url, "list")
        assert listing.exit_code == 0, listing.output
        assert name in listing.output and "RUNNING" in listing.output and "1/1 running" in listing.output
        shown = _run(url, "status", name)
        assert shown.exit_code == 0 and f"{name} (source): RUNNING" in shown.output
        as_json = _run(url, "--json", "status", name)
        assert json.loads(as_json.output)["tasks"][0]["state"] == "RUNNING"

        # A task status with a progress object (as the worker reports long loads) shows it.
        plain_status = worker.status
        progress = {"done": 1200, "total": 10_000, "unit": "records", "rate_per_s": 350.0, "eta_s": 25.1}

        def with_progress(connector: str) -> dict[str, object]:
            document = plain_status(connector)
            document["tasks"] = [
                {**task, "progress": progress, "warning": "Kafka client error _TRANSPORT\nmore"}
                for task in document["tasks"]
            ]
            return document

        worker.status = with_progress  # type: ignore[method-assign]
        shown = _run(url, "status", name)
        worker.status = plain_status  # type: ignore[method-assign]
        row = next(line for line in shown.output.splitlines() if line.strip().startswith("0 "))
        assert "RUNNING" in row and "1,200 / 10.0k records (12%), 350 records/s, ETA 0:00:25" in row
        assert row.rstrip().endswith("warning: Kafka client error _TRANSPORT")

        assert _run(url, "pause", name).output == f"{name}: pause requested\n"
        _until(lambda: worker.status(name)["tasks"][0]["state"] == "PAUSED", "task paused")
        assert "PAUSED" in _run(url, "status", name).output
        assert _run(url, "resume", name).exit_code == 0
        _until(lambda: worker.status(name)["tasks"][0]["state"] == "RUNNING", "task resumed")
        restarted = _run(url, "restart", name, "--task", "0")
        assert restarted.exit_code == 0 and "task 0: restart requested" in restarted.output

        _until(lambda: "customers" in _run(url, "offsets", name).output, "offsets shown")

        missing = _run(url, "status", "nope")
        assert missing.exit_code == 1
        assert missing.output.strip().splitlines() == [f"error: GET /connectors/nope/status: 404 {_message(missing)}"]
        refused = _run(url, "delete", name)  # a standalone worker's connectors come from its command line
        assert refused.exit_code == 1 and refused.output.startswith(f"error: DELETE /connectors/{name}: 405")
    finally:
        rest.stop()
        worker.stop()
    gone = _run(url, "list")
    assert gone.exit_code == 1 and "cannot reach the worker" in gone.output


def _message(result: Result) -> str:
    return result.output.split(": 404 ", 1)[1].strip()


@pytest.mark.kafka
@pytest.mark.slow
def test_apply_and_delete_on_a_distributed_worker_with_basic_auth(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    from headwater.connectors.runtime.distributed import DistributedHerder

    group = f"cli-{uuid.uuid4().hex[:6]}"
    credentials = tmp_path / "users.properties"
    credentials.write_text("ops: secret\nviewer: look,read-only\n")
    config = WorkerConfig.model_validate(
        {
            "bootstrap.servers": kafka_bootstrap_servers,
            "group.id": group,
            "config.storage.topic": f"{group}-configs",
            "status.storage.topic": f"{group}-status",
            "offset.storage.topic": f"{group}-offsets",
            "rest.port": 0,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "rest.authentication.credentials.file": str(credentials),
        }
    )
    herder = DistributedHerder(config)
    rest = RestServer.for_worker(herder, config)
    herder.worker_id = f"127.0.0.1:{rest.port}"
    herder.start()
    rest.start()
    url = rest.url
    ops = {"HEADWATER_USER": "ops:secret"}
    connector_file = tmp_path / "gen.properties"
    connector_file.write_text(
        f"name={group}\nconnector.class=datagen\ntopic.prefix={group}\\\n  .a\ncount=100000\nrate=100\n"
    )
    try:
        unauthenticated = _run(url, "list")
        assert unauthenticated.exit_code == 1 and unauthenticated.output.startswith("error: GET /connectors: 401")
        created = _run(url, "apply", str(connector_file), env=ops)
        assert created.exit_code == 0 and created.output == f"{group}: created\n", created.output
        read_only = _run(url, "--user", "viewer:look", "apply", str(connector_file))
        assert read_only.exit_code == 1 and ": 403" in read_only.output
        _until(lambda: "RUNNING" in _run(url, "status", group, env=ops).output, "distributed task running")
        assert herder.config(group)["topic.prefix"] == f"{group}.a"

        connector_file.write_text(connector_file.read_text().replace("rate=100", "rate=50"))
        updated = _run(url, "apply", str(connector_file), env=ops)
        assert updated.output == f"{group}: updated\n", updated.output
        _until(lambda: herder.config(group).get("rate") == "50", "config updated")

        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"name": group, "config": {"connector.class": "datagen", "count": "-5"}}))
        invalid = _run(url, "apply", str(bad), env=ops)
        assert invalid.exit_code == 1 and len(invalid.output.strip().splitlines()) == 1
        assert "count" in invalid.output and "400" in invalid.output

        assert _run(url, "delete", group, env=ops).output == f"{group}: deleted\n"
        _until(lambda: _run(url, "list", env=ops).output == "no connectors\n", "connector deleted")
    finally:
        rest.stop()
        herder.stop()
