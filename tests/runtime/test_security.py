"""Hardening (issue 13): config providers, REST authentication and TLS, plugin resolution."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from headwater.conformance.runtime import in_process_worker
from headwater.connectors.errors import ConfigError
from headwater.connectors.loading import parse_connector
from headwater.connectors.providers import ProviderPolicy, resolve_providers
from headwater.connectors.runtime.distributed import DistributedHerder, _parse, task_properties
from headwater.connectors.runtime.rest import RestServer
from headwater.connectors.runtime.worker import Worker
from headwater.connectors.settings import WorkerConfig

DISTRIBUTED = {
    "group_id": "g",
    "config_storage_topic": "c",
    "status_storage_topic": "s",
    "offset_storage_topic": "o",
}


def _messages(error: ConfigError) -> dict[str, str]:
    return {e.key: e.message for e in error.errors}


def _datagen(name: str, **config: t.Any) -> dict[str, t.Any]:
    return {"name": name, "config": {"connector.class": "datagen", **config}}


# -- 1. config providers -----------------------------------------------------------------


def test_file_reference_errors_do_not_tell_whether_a_file_exists(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "db.properties").write_text("user=loader\n")
    outside = tmp_path / "outside.properties"
    outside.write_text("user=root\n")
    binary = allowed / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    policy = ProviderPolicy(allowed_paths=(allowed.resolve(),))
    assert resolve_providers(f"${{file:{allowed}/db.properties:user}}", key="k", policy=policy) == "loader"
    answers = set()
    for reference in (
        f"{outside}:user",  # exists, not allowed
        f"{tmp_path}/missing.properties:user",  # does not exist, not allowed
        f"{allowed}/missing.properties:user",  # does not exist, allowed
        f"{allowed}/../outside.properties:user",  # escapes the allowed directory
        f"{binary}:user",  # binary file
        f"{allowed}/db.properties:nope",  # no such key
        "/dev/zero:x",  # never read to the end
    ):
        with pytest.raises(ConfigError) as caught:
            resolve_providers(f"${{file:{reference}}}", key="target.user", policy=policy)
        (message,) = _messages(caught.value).values()
        assert list(_messages(caught.value)) == ["target.user"]
        answers.add(
            message.replace(reference.rpartition(":")[0], "<path>").replace(reference.rpartition(":")[2], "<k>")
        )
    assert len(answers) == 1, answers


def test_env_references_obey_the_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://x")
    monkeypatch.setenv("HW_SECRET", "s3cr3t")
    policy = WorkerConfig(config_providers_env_param_allowlist_pattern="MONGODB_.*").provider_policy(remote=True)
    assert resolve_providers("${env:MONGODB_URI}", key="k", policy=policy) == "mongodb://x"
    with pytest.raises(ConfigError) as caught:
        resolve_providers("${env:HW_SECRET}", key="k", policy=policy)
    assert "not allowed by the worker's config.providers.env.param.allowlist.pattern" in str(caught.value)


def test_unknown_provider_and_unclosed_reference_name_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connector(_datagen("x", **{"topic.prefix": "${vault:secret/db:pw}", "tables": "${env:HOME"}))
    messages = _messages(caught.value)
    assert "unknown config provider 'vault'" in messages["topic.prefix"]
    assert "unclosed reference" in messages["tables"]


def test_a_placeholder_without_a_provider_is_not_a_reference() -> None:
    config = {"connector.class": "mongodb", "topics": "t", "connection.uri": "mongodb://h", "database": "d"}
    connector = parse_connector({"name": "m", "config": {**config, "collection": "${topic}"}}, worker=WorkerConfig())
    assert connector.plugin_config.model_dump(by_alias=True)["collection"] == "${topic}"


def test_rest_submitted_configs_read_nothing_unless_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HW_PREFIX", "from-env")
    secrets = tmp_path / "s.properties"
    secrets.write_text("prefix=from-file\n")
    closed = DistributedHerder(WorkerConfig(**DISTRIBUTED))
    for reference in ("${env:HW_PREFIX}", f"${{file:{secrets}:prefix}}"):
        with pytest.raises(ConfigError) as caught:
            closed._validate("x", {"connector.class": "datagen", "topic.prefix": reference})
        assert list(_messages(caught.value)) == ["topic.prefix"]
    opened = DistributedHerder(
        WorkerConfig(
            **DISTRIBUTED,
            config_providers_file_param_allowed_paths=str(tmp_path),
            config_providers_env_param_allowlist_pattern="HW_PREFIX",
        )
    )
    assert opened._validate("x", {"connector.class": "datagen", "topic.prefix": "${env:HW_PREFIX}"}).plugin_config
    assert opened._validate("x", {"connector.class": "datagen", "topic.prefix": f"${{file:{secrets}:prefix}}"})


def test_distributed_task_configs_show_references_not_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HW_TOPIC_PREFIX", "resolved-prefix")
    herder = DistributedHerder(WorkerConfig(**DISTRIBUTED, config_providers_env_param_allowlist_pattern="HW_.*"))
    document = _datagen("x", **{"topic.prefix": "${env:HW_TOPIC_PREFIX}", "tasks.max": "2"})
    connector = parse_connector(document, worker=herder.worker_config, remote=True)
    task_configs = connector.plugin_class(connector.plugin_config).task_configs(2)
    stored = tuple(task_properties(connector, config) for config in task_configs)
    assert "resolved-prefix" not in json.dumps(stored), "the config topic keeps the reference, not its value"
    plan = _parse(document, stored, herder.worker_config)
    assert plan.connector is not None and plan.error is None
    monkeypatch.setattr(herder, "plan", lambda name: plan)
    monkeypatch.setattr(herder, "target_state", lambda name: "STARTED")
    configs = herder.task_configs("x")
    assert [config["topic.prefix"] for config in configs] == ["${env:HW_TOPIC_PREFIX}"] * 2
    assert "resolved-prefix" not in json.dumps(configs)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.kafka
def test_task_configs_over_rest_show_references_not_values(
    kafka_bootstrap_servers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"sec-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("HW_TOPIC_PREFIX", prefix)
    name = f"{prefix}-src"
    connector = parse_connector(_datagen(name, **{"topic.prefix": "${env:HW_TOPIC_PREFIX}", "count": "10"}))
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    rest = RestServer(worker, "127.0.0.1", 0)
    worker.start()
    rest.start()
    try:
        deadline = time.monotonic() + 30
        while not worker.connectors[name].task_configs:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status, body = _get(f"{rest.url}/connectors/{name}/tasks")
        assert status == 200
        assert json.loads(body)[0]["config"]["topic.prefix"] == "${env:HW_TOPIC_PREFIX}"
        assert prefix.encode() not in body.replace(name.encode(), b"")
    finally:
        worker.stop()
        rest.stop()


# -- 3. connector.class ------------------------------------------------------------------


def test_connector_class_never_imports_a_module_outside_the_allowed_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "hw_side_effect.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass NotAPlugin: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    document = {"name": "x", "config": {"connector.class": "hw_side_effect:NotAPlugin"}}
    for worker in (WorkerConfig(), WorkerConfig(plugin_packages="hw_side")):  # a prefix must match whole names
        with pytest.raises(ConfigError) as caught:
            parse_connector(document, worker=worker)
        assert "plugin.packages" in _messages(caught.value)["connector.class"]
        assert not marker.exists() and "hw_side_effect" not in sys.modules
    # Allowed: imported, then refused for not being a connector.
    with pytest.raises(ConfigError) as caught:
        parse_connector(document, worker=WorkerConfig(plugin_packages="other, hw_side_effect"))
    assert "is not a Headwater SourceConnector or SinkConnector" in _messages(caught.value)["connector.class"]
    assert marker.exists()
    monkeypatch.delitem(sys.modules, "hw_side_effect")


def test_registered_plugins_resolve_by_alias_or_class_path() -> None:
    for name in ("mongodb", "headwater.sinks.mongodb:MongoSinkConnector", "headwater.sinks.mongodb.MongoSinkConnector"):
        config = {"connector.class": name, "topics": "t", "connection.uri": "mongodb://h", "database": "d"}
        connector = parse_connector({"name": "m", "config": config}, worker=WorkerConfig())
        assert connector.plugin_class.__name__ == "MongoSinkConnector"
    with pytest.raises(ConfigError) as caught:
        parse_connector(_datagen("x") | {"config": {"connector.class": "../etc:passwd"}}, worker=WorkerConfig())
    assert "unknown plugin" in _messages(caught.value)["connector.class"]


# -- 2. REST authentication and TLS --------------------------------------------------------


def _call(
    url: str, method: str = "GET", *, auth: tuple[str, str] | None = None, token: str | None = None, **kw: t.Any
) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, method=method, data=b"{}" if method != "GET" else None)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10, **kw) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def _serve(tmp_path: Path, **settings: t.Any) -> RestServer:
    config = WorkerConfig(rest_port=0, offset_storage_file_filename=str(tmp_path / "o.json"), **settings)
    rest = RestServer.for_worker(Worker(config, []), config)
    rest.start()
    return rest


def test_basic_auth_and_tokens_with_read_only_and_admin_roles(tmp_path: Path) -> None:
    users = tmp_path / "users.properties"
    users.write_text("# Kafka Connect's format\nalice: wonderland,admin\nbob: builder,read-only\ncarol: plain\n")
    tokens = tmp_path / "tokens.properties"
    tokens.write_text("ci: t0ken-ci,read-only\n")
    rest = _serve(
        tmp_path,
        rest_authentication_credentials_file=str(users),
        rest_authentication_tokens_file=str(tokens),
    )
    try:
        base = f"{rest.url}/connectors"
        status, headers = _call(base)
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="headwater", Bearer realm="headwater"'
        assert _call(base, auth=("alice", "wrong"))[0] == 401
        assert _call(base, auth=("nobody", "wonderland"))[0] == 401
        assert _call(base, token="t0ken-other")[0] == 401
        assert _call(base, auth=("alice", "wonderland"))[0] == 200
        assert _call(base, auth=("bob", "builder"))[0] == 200
        assert _call(base, token="t0ken-ci")[0] == 200
        assert _call(f"{rest.url}/metrics")[0] == 401
        # Writes: read-only callers get 403; admins reach the route (a standalone worker answers 405).
        assert _call(base, "POST", auth=("bob", "builder"))[0] == 403
        assert _call(base, "POST", token="t0ken-ci")[0] == 403
        assert _call(base, "POST", auth=("alice", "wonderland"))[0] == 405
        assert _call(base, "POST", auth=("carol", "plain"))[0] == 405  # no role: admin, as Kafka Connect
        assert _call(base, "POST")[0] == 401
    finally:
        rest.stop()


def test_authentication_is_off_by_default(tmp_path: Path) -> None:
    rest = _serve(tmp_path)
    try:
        assert _call(f"{rest.url}/connectors")[0] == 200
    finally:
        rest.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_listener_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    command = (
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
    )
    subprocess.run(
        [*command.split(), "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    rest = _serve(
        tmp_path,
        listeners="https://127.0.0.1:0",
        listeners_https_ssl_certificate_location=str(cert),
        listeners_https_ssl_key_location=str(key),
    )
    try:
        assert rest.url.startswith("https://127.0.0.1:")
        trusting = ssl.create_default_context(cafile=str(cert))
        assert _call(f"{rest.url}/connectors", context=trusting)[0] == 200
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            _call(f"{rest.url}/connectors", context=ssl.create_default_context())
        with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
            _call(rest.url.replace("https://", "http://") + "/connectors")
    finally:
        rest.stop()
    # The key files are checked when the worker starts, each problem naming its key.
    config = WorkerConfig(listeners="https://127.0.0.1:0", listeners_https_ssl_certificate_location=str(cert))
    with pytest.raises(ConfigError) as caught:
        RestServer.for_worker(Worker(config, []), config)
    assert list(_messages(caught.value)) == ["listeners.https.ssl.key.location"]
    config = WorkerConfig(
        listeners="https://127.0.0.1:0",
        listeners_https_ssl_certificate_location=str(key),
        listeners_https_ssl_key_location=str(cert),
    )
    with pytest.raises(ConfigError) as caught:
        RestServer.for_worker(Worker(config, []), config)
    assert list(_messages(caught.value)) == ["listeners.https.ssl.certificate.location"]


def test_a_bad_credentials_file_names_the_key_and_line(tmp_path: Path) -> None:
    users = tmp_path / "users.properties"
    users.write_text("alice: pw,superuser\n")
    config = WorkerConfig(rest_authentication_credentials_file=str(users))
    with pytest.raises(ConfigError) as caught:
        RestServer.for_worker(Worker(config, []), config)
    assert "line 1: role 'superuser'" in _messages(caught.value)["rest.authentication.credentials.file"]


# -- 12. validate and standalone: one line per problem, never a traceback ---------------------

HEADWATER = str(Path(sys.executable).with_name("headwater"))


def _run(*args: str, cwd: Path) -> tuple[int, list[str]]:
    result = subprocess.run([HEADWATER, *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    return result.returncode, [line.strip() for line in output.splitlines() if line.startswith("  ")]


def _write_json(path: Path, document: t.Any) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def _line(lines: list[str], key: str) -> str:
    found = [line for line in lines if line.startswith(f"{key}: ")]
    assert len(found) == 1, (key, lines)
    return found[0]


def test_validate_names_each_bad_worker_client_key(tmp_path: Path) -> None:
    worker = {
        "producer.acks": "banana",
        "producer.no.such.property": "1",
        "consumer.auto.offset.reset": "sometimes",
        "offset.storage.topic": "a/b",
    }
    code, lines = _run("validate", "--worker", _write_json(tmp_path / "w.json", worker), "x.json", cwd=tmp_path)
    assert code == 2
    assert "Invalid value" in _line(lines, "producer.acks")
    assert "No such configuration property" in _line(lines, "producer.no.such.property")
    assert "sometimes" in _line(lines, "consumer.auto.offset.reset")
    assert "only ASCII letters" in _line(lines, "offset.storage.topic")


def test_validate_names_each_bad_connector_key(tmp_path: Path) -> None:
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)))
    worker = _write_json(tmp_path / "w.json", {"rest.host": "no-such-host.invalid"})
    source = {
        "topic.prefix": f"${{file:{binary}:k}}",
        "tables": "${vault:secret/tables:x}",
        "seed": "${env:HOME",
        "errors.deadletterqueue.topic.name": "..",
        "producer.override.linger.ms": "-5",
    }
    sink = {"connector.class": "file", "file.dir": str(tmp_path), "topics": "ok,not ok," + "x" * 250}
    mainframe = {
        "connector.class": "mainframe-copybook",
        "copybook.text": "       01  REC.\n           05  A  PIC X(3).\n",
        "input.dir": str(tmp_path / "missing"),
        "topic": "t",
    }
    files = [
        _write_json(tmp_path / "source.json", _datagen("s", **source)),
        _write_json(tmp_path / "sink.json", {"name": "k", "config": sink}),
        _write_json(tmp_path / "mainframe.json", {"name": "m", "config": mainframe}),
    ]
    code, lines = _run("validate", "--worker", worker, *files, cwd=tmp_path)
    assert code == 1
    assert "does not resolve" in _line(lines, "rest.host")
    assert "cannot resolve ${file:" in _line(lines, "topic.prefix")
    assert "unknown config provider 'vault'" in _line(lines, "tables")
    assert "unclosed reference" in _line(lines, "seed")
    assert "'.' and '..' are not topic names" in _line(lines, "errors.deadletterqueue.topic.name")
    assert "outside allowed range" in _line(lines, "producer.override.linger.ms")
    topics = _line(lines, "topics")
    assert "'not ok'" in topics and "at most 249 characters" in topics
    assert "is not a directory here" in _line(lines, "input.dir")


def test_standalone_refuses_a_taken_port_and_an_unknown_host(tmp_path: Path) -> None:
    connector = _write_json(tmp_path / "c.json", _datagen("s", count="1"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = {"offset.storage.file.filename": str(tmp_path / "o.json"), "rest.port": port}
        code, lines = _run("standalone", _write_json(tmp_path / "w.json", worker), connector, cwd=tmp_path)
    assert code == 2
    assert f"port {port} on 127.0.0.1 is in use" in _line(lines, "rest.port")
    worker = {"offset.storage.file.filename": str(tmp_path / "o.json"), "rest.host": "no-such-host.invalid"}
    code, lines = _run("standalone", _write_json(tmp_path / "w2.json", worker), connector, cwd=tmp_path)
    assert code == 2
    assert "does not resolve" in _line(lines, "rest.host")
