"""``headwater kafka``: run a real local Apache Kafka 4.x broker for development and tests.

The group is registered on the main CLI by ``headwater.connectors.cli``. Every command
works on one data dir (default ``./.headwater/kafka``), which is where the broker's pid
and address are kept, so ``start``, ``status`` and ``stop`` may run in different shells.
Progress goes to stderr; ``start`` prints the bootstrap address as its last stdout line,
so ``BOOTSTRAP=$(headwater kafka start)`` works.
"""

from __future__ import annotations

from pathlib import Path

import click

from headwater.connectors.errors import FatalError
from headwater.connectors.launch.broker import (
    DEFAULT_DATA_DIR,
    DEFAULT_KAFKA_VERSION,
    DEFAULT_PORT,
    LocalKafka,
)

__all__ = ["kafka"]

#: ``status`` exits with this when no broker runs (the LSB code for "not running").
EXIT_NOT_RUNNING = 3

_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Folder holding the broker's config, storage, logs, pid and address.",
)


def _progress(message: str) -> None:
    # stderr, so that stdout carries only the result.
    click.echo(message, err=True)


@click.group(name="kafka")
def kafka() -> None:
    """Run a local single-node Apache Kafka broker (KRaft) on 127.0.0.1."""


@kafka.command(name="start")
@click.option(
    "--port",
    type=click.IntRange(1, 65534),
    default=DEFAULT_PORT,
    show_default=True,
    help="Client (PLAINTEXT) port; the controller listens on PORT+1.",
)
@_data_dir_option
@click.option(
    "--version",
    "version",
    default=DEFAULT_KAFKA_VERSION,
    show_default=True,
    help="Apache Kafka 4.x release, fetched once from Maven Central.",
)
def start(port: int, data_dir: Path, version: str) -> None:
    """Start the broker (a no-op if it runs already) and print its bootstrap address."""
    broker = LocalKafka(data_dir, port=port, version=version, echo=_progress)
    try:
        address = broker.start()
    except FatalError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(address)


@kafka.command(name="stop")
@_data_dir_option
def stop(data_dir: Path) -> None:
    """Stop the broker cleanly (SIGTERM, then SIGKILL after 30 s)."""
    broker = LocalKafka(data_dir, echo=_progress)
    if not broker.stop():
        click.echo(f"Kafka is not running (data dir {broker.data_dir})")


@kafka.command(name="status")
@_data_dir_option
def status(data_dir: Path) -> None:
    """Say whether the broker runs, with its pid and address; exit 3 if it does not."""
    state = LocalKafka(data_dir).status()
    if state.running:
        click.echo(f"running pid={state.pid} bootstrap={state.bootstrap} data_dir={state.data_dir}")
        return
    click.echo(f"stopped data_dir={state.data_dir}")
    raise SystemExit(EXIT_NOT_RUNNING)
