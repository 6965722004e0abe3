"""The ``headwater`` command line."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading
import typing as t
from pathlib import Path

import click
import orjson

from headwater.connectors.errors import ConfigError, HeadwaterError
from headwater.connectors.runtime.process import tune_for_worker

__all__ = ["main"]

log = logging.getLogger("headwater")


def _log_level(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """Check ``--log-level`` before anything runs: one clear error, no traceback."""
    from headwater.connectors.runtime.logs import parse_level

    try:
        parse_level(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


class _LazyGroup(click.Group):
    """Subcommand groups that live in their own modules and load only when used."""

    lazy: t.ClassVar[dict[str, str]] = {
        "kafka": "headwater.connectors.commands.kafka:kafka",
        "connectors": "headwater.connectors.commands.connectors:connectors",
        "registry": "headwater.connectors.commands.registry:registry",
        "copybook": "headwater.connectors.commands.copybook:copybook",
        "emulator": "headwater.connectors.commands.emulator:emulator",
        "oracle": "headwater.connectors.commands.oracle:oracle",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].partition(":")
            return t.cast(click.Command, getattr(importlib.import_module(module), attr))
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    callback=_log_level,
    help="TRACE, DEBUG, INFO, WARN(ING), ERROR or CRITICAL (case-insensitive).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object per line with time, level, logger, connector, task, message, traceback.",
)
def cli(log_level: str, log_format: t.Literal["text", "json"]) -> None:
    """Headwater: change data from legacy systems to the cloud through Apache Kafka."""
    from headwater.connectors.runtime.logs import configure

    configure(log_level, log_format)


def _print_config_errors(error: ConfigError) -> None:
    if error.source:
        click.echo(f"{error.source}:", err=True)
    for field_error in error.errors:
        click.echo(f"  {field_error.key}: {field_error.message}", err=True)


@cli.command()
@click.argument("connector_files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--worker",
    "worker_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also check converters against this worker file.",
)
def validate(connector_files: tuple[Path, ...], worker_file: Path | None) -> None:
    """Check connector files (JSON or .properties); print one line per invalid or missing key."""
    from headwater.connectors.loading import load_connector_file, load_worker_file
    from headwater.connectors.runtime.rest_security import rest_config_errors
    from headwater.connectors.runtime.worker import build_converters, check_clients
    from headwater.connectors.settings import WorkerConfig

    failed = False
    worker = load_worker_file(worker_file) if worker_file else WorkerConfig()
    if worker_file:
        errors = rest_config_errors(worker)
        if errors:
            failed = True
            _print_config_errors(ConfigError(errors, source=str(worker_file)))
    for path in connector_files:
        try:
            connector = load_connector_file(path, worker=worker)
            build_converters(connector, worker)
            check_clients(connector, worker)
            if local := connector.plugin_config.local_errors():
                raise ConfigError(local)
        except ConfigError as exc:
            failed = True
            _print_config_errors(ConfigError(exc.errors, source=str(path)))
            continue
        click.echo(f"{path}: valid ({connector.framework.connector_class}, tasks.max={connector.framework.tasks_max})")
        for note in connector.notes:
            click.echo(f"  note: {note}")
    if failed:
        sys.exit(1)


def config_reference_markdown() -> str:
    """The config reference of every installed plugin as Markdown (it is in the README)."""
    from headwater.connectors.api import SinkConnector
    from headwater.connectors.registry import available_plugins
    from headwater.connectors.settings import ConnectorConfig, WorkerConfig

    def table(schema: dict[str, t.Any]) -> list[str]:
        required = set(schema.get("required", ()))
        rows = ["| key | type | default | description |", "|---|---|---|---|"]
        for key, spec in schema["properties"].items():
            kinds = [spec.get("type")] if "type" in spec else [o.get("type", "?") for o in spec.get("anyOf", [])]
            kind = " or ".join(str(k) for k in kinds if k and k != "null") or "object"
            if "enum" in spec:
                kind = " \\| ".join(map(str, spec["enum"]))
            default = "**required**" if key in required else f"`{json_default(spec.get('default'))}`"
            description = " ".join(str(spec.get("description", "")).split()).replace("|", "\\|")
            rows.append(f"| `{key}` | {kind} | {default} | {description} |")
        return rows

    def json_default(value: t.Any) -> str:
        return orjson.dumps(value).decode() if not isinstance(value, str) else value

    lines = ["### Worker file", "", *table(WorkerConfig.model_json_schema(by_alias=True)), ""]
    lines += ["### Framework keys (every connector)", "", *table(ConnectorConfig.model_json_schema(by_alias=True)), ""]
    for alias, plugin in available_plugins().items():
        kind = "sink" if issubclass(plugin, SinkConnector) else "source"
        lines += [f"### `{alias}` ({kind})", "", plugin.description, ""]
        lines += [*table(plugin.config_class.user_json_schema()), ""]
    return "\n".join(lines)


def _with_java_table(readme: str) -> str:
    """``readme`` with its indented table of Java connector classes regenerated (if it has one)."""
    from headwater.connectors.compat import java_connectors_markdown

    lines = readme.split("\n")
    first = next((i for i, line in enumerate(lines) if line.startswith("  | Kafka Connect `connector.class`")), None)
    if first is None:
        return readme
    last = first
    while last < len(lines) and lines[last].startswith("  |"):
        last += 1
    lines[first:last] = ["  " + line for line in java_connectors_markdown().splitlines()]
    return "\n".join(lines)


@cli.command()
@click.option("--format", "output_format", type=click.Choice(["json", "markdown"]), default="json", show_default=True)
@click.option(
    "--update-readme",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Replace the Markdown reference between the config-reference markers of this file, "
    "and its table of Java connector classes.",
)
def plugins(output_format: str, update_readme: Path | None) -> None:
    """List every installed plugin with its config as JSON Schema (or a Markdown reference)."""
    from headwater.connectors.api import SinkConnector
    from headwater.connectors.registry import available_plugins

    if update_readme is not None:
        start, end = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
        text = update_readme.read_text()
        head, tail = text[: text.index(start) + len(start)], text[text.index(end) :]
        update_readme.write_text(_with_java_table(f"{head}\n{config_reference_markdown().strip()}\n{tail}"))
        return
    if output_format == "markdown":
        click.echo(config_reference_markdown())
        return

    listing = [
        {
            "alias": alias,
            "class": f"{plugin.__module__}:{plugin.__qualname__}",
            "type": "sink" if issubclass(plugin, SinkConnector) else "source",
            "description": plugin.description,
            "capabilities": sorted(capability.value for capability in plugin.capabilities),
            "config": plugin.config_class.user_json_schema(),
        }
        for alias, plugin in available_plugins().items()
    ]
    click.echo(orjson.dumps(listing, option=orjson.OPT_INDENT_2).decode())


class _Runnable(t.Protocol):
    """What a worker command runs: a standalone Worker or a DistributedHerder."""

    stopping: threading.Event

    def start(self) -> None: ...

    def wait(self) -> None: ...

    def stop(self) -> bool: ...


def _serve_until_signalled(runner: _Runnable, rest: t.Any, announce: t.Callable[[], None]) -> None:
    """Start ``runner`` and its REST server, run until SIGTERM or SIGINT, then stop both;
    exit 1 if a task did not stop within ``task.shutdown.graceful.timeout.ms``."""

    def request_stop(signum: int, _frame: t.Any) -> None:
        log.info("received %s; stopping gracefully", signal.Signals(signum).name)
        runner.stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    tune_for_worker()
    runner.start()
    rest.start()
    announce()
    runner.wait()
    clean = runner.stop()
    rest.stop()
    if not clean:
        log.error("some tasks did not stop within task.shutdown.graceful.timeout.ms")
        sys.exit(1)
    log.info("stopped")


@cli.command()
@click.argument("worker_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("connector_files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def standalone(worker_file: Path, connector_files: tuple[Path, ...]) -> None:
    """Run connectors in one worker process until SIGTERM or SIGINT (then flush, commit, exit 0)."""
    from headwater.connectors.loading import load_connector_file, load_worker_file
    from headwater.connectors.runtime.rest import RestServer
    from headwater.connectors.runtime.worker import Worker, build_converters, check_clients

    worker_config = load_worker_file(worker_file)
    connectors = [load_connector_file(path, worker=worker_config) for path in connector_files]
    for path, connector in zip(connector_files, connectors, strict=True):
        try:
            build_converters(connector, worker_config)
            check_clients(connector, worker_config)
            if local := connector.plugin_config.local_errors():
                raise ConfigError(local)
        except ConfigError as exc:
            raise ConfigError(exc.errors, source=str(path)) from None
        for note in connector.notes:
            log.warning("%s: %s", path, note)
    worker = Worker(worker_config, connectors)
    rest = RestServer.for_worker(worker, worker_config)

    _serve_until_signalled(
        worker,
        rest,
        lambda: log.info("worker %s running %d connector(s); REST at %s", worker.worker_id, len(connectors), rest.url),
    )


@cli.command()
@click.argument("worker_file", type=click.Path(dir_okay=False, path_type=Path))
def distributed(worker_file: Path) -> None:
    """Run a distributed worker: connectors are managed over REST and their tasks shared
    by every worker with the same group.id. Runs until SIGTERM or SIGINT (then stops its
    tasks, flushing and committing, leaves the group and exits 0)."""
    import socket

    from headwater.connectors.loading import load_worker_file
    from headwater.connectors.runtime.distributed import DistributedHerder
    from headwater.connectors.runtime.forwarding import advertised_url
    from headwater.connectors.runtime.rest import RestServer

    worker_config = load_worker_file(worker_file, distributed=True)
    herder = DistributedHerder(worker_config)
    rest = RestServer.for_worker(herder, worker_config)
    advertised_host = worker_config.rest_advertised_host_name or socket.gethostname()
    herder.worker_id = f"{advertised_host}:{worker_config.rest_advertised_port or rest.port}"
    host = str(rest.server.server_address[0])
    herder.forwarding.url = advertised_url(worker_config, rest.scheme, host, rest.port)

    _serve_until_signalled(
        herder,
        rest,
        lambda: log.info(
            "distributed worker %s in group %s (%d connector(s) stored); REST at %s",
            herder.worker_id,
            worker_config.group_id,
            len(herder.names()),
            rest.url,
        ),
    )


@cli.command()
@click.option("--count", default=100_000, show_default=True, help="Change events to generate.")
@click.option(
    "--out", "out_dir", default="demo-output", show_default=True, type=click.Path(file_okay=False, path_type=Path)
)
@click.option(
    "--bootstrap-servers", envvar="HEADWATER_BOOTSTRAP_SERVERS", help="Use this Kafka instead of the embedded one."
)
@click.option(
    "--kafka-port",
    type=click.IntRange(1, 65534),
    envvar="HEADWATER_KAFKA_PORT",
    default=9092,
    show_default=True,
    help="Port of the embedded broker (env HEADWATER_KAFKA_PORT).",
)
@click.option(
    "--rest-port",
    type=click.IntRange(1, 65535),
    envvar="HEADWATER_REST_PORT",
    help="The worker's REST port (env HEADWATER_REST_PORT; default: a free one).",
)
def demo(count: int, out_dir: Path, bootstrap_servers: str | None, kafka_port: int, rest_port: int | None) -> None:
    """Run datagen -> Kafka -> file sink on the embedded Kafka and show what landed."""
    from headwater.connectors.demo import run_demo

    sys.exit(
        run_demo(
            count=count,
            out_dir=out_dir,
            bootstrap_servers=bootstrap_servers,
            kafka_port=kafka_port,
            rest_port=rest_port,
        )
    )


def examples_folder() -> Path:
    """The README's example files: ``examples/`` of a checkout, or ``headwater/examples``
    of an installed wheel (both sit beside the ``connectors`` package)."""
    import headwater.connectors

    return Path(headwater.connectors.__file__).resolve().parent.parent / "examples"


@cli.command()
@click.argument("dest", required=False, type=click.Path(file_okay=False, path_type=Path))
def examples(dest: Path | None) -> None:
    """Print where the example files are, or copy them to DEST/examples (the README's
    commands run from DEST)."""
    import shutil

    source = examples_folder()
    if dest is None:
        click.echo(str(source))
        return
    target = dest / "examples"
    if target.exists():
        msg = f"{target} exists; remove it or pick another folder"
        raise click.ClickException(msg)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    click.echo(str(target))


def main() -> None:
    """Console entry point: config errors print per field and exit 2; other known errors exit 1."""
    try:
        cli(standalone_mode=False)
    except ConfigError as exc:
        _print_config_errors(exc)
        sys.exit(2)
    except HeadwaterError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
