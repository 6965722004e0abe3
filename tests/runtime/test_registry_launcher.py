"""``headwater registry start|status|stop``: a real Apicurio Registry on loopback, fetched once."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater.connectors.cli import cli
from headwater.connectors.launch import registry as launcher
from headwater.connectors.launch.broker import find_free_port


def test_start_status_stop_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    launcher.ensure_registry_app()  # the first fetch, if this machine never had it

    def no_maven(*_args: object) -> Path:
        raise AssertionError("a cached registry must start offline, without Maven")

    monkeypatch.setattr(launcher, "_fetch_tarball", no_maven)
    data_dir = tmp_path / "registry"
    port = find_free_port()
    runner = CliRunner()
    started = runner.invoke(cli, ["registry", "start", "--port", str(port), "--data-dir", str(data_dir)])
    try:
        assert started.exit_code == 0, started.output
        url = started.output.strip().splitlines()[-1]
        assert url == f"http://127.0.0.1:{port}/apis/ccompat/v7"
        with urllib.request.urlopen(f"{url}/config", timeout=10) as response:
            assert json.loads(response.read()) == {"compatibilityLevel": "BACKWARD"}
        status = runner.invoke(cli, ["registry", "status", "--data-dir", str(data_dir)])
        assert status.exit_code == 0 and f"url={url}" in status.output
        again = runner.invoke(cli, ["registry", "start", "--port", str(port), "--data-dir", str(data_dir)])
        assert again.exit_code == 0 and again.output.strip().splitlines()[-1] == url
    finally:
        stopped = runner.invoke(cli, ["registry", "stop", "--data-dir", str(data_dir)])
    assert stopped.exit_code == 0
    status = runner.invoke(cli, ["registry", "status", "--data-dir", str(data_dir)])
    assert status.exit_code == 3 and "stopped" in status.output
    assert not (data_dir / "registry.pid").exists()


def test_a_taken_port_is_named(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["registry", "start", "--port", str(port), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"Port 127.0.0.1:{port} is already in use" in result.output
