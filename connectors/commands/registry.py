"""``headwater registry``: run a real local Confluent-compatible schema registry (Apicurio).

Registered on the main CLI by ``headwater.connectors.cli``. Every command works on one data
dir (default ``./.headwater/registry``), which keeps the registry's pid and URL, so
``start``, ``status`` and ``stop`` may run in different shells. Progress goes to stderr;
``start`` prints the ``schema.registry.url`` as its last stdout line, so
``REGISTRY=$(headwater registry start)`` works.
"""

from __future__ import annotations

from pathlib import Path

import click

from headwater.connectors.errors import FatalError
from headwater.connectors.launch.registry import (
    DEFAULT_DATA_DIR,
    DEFAULT_PORT,
    DEFAULT_REGISTRY_VERSION,
    LocalRegistry,
)

__all__ = ["registry"]

EXIT_NOT_RUNNING = 3

_data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Folder holding the registry's pid, URL and log.",
)


def _progress(message: str) -> None:
    click.echo(message, err=True)


@click.group(name="registry")
def registry() -> None:
    """Run a local schema registry (Apicurio, Confluent API) on 127.0.0.1."""


@registry.command(name="start")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True, help="HTTP port.")
@_data_dir_option
@click.option(
    "--version",
    "version",
    default=DEFAULT_REGISTRY_VERSION,
    show_default=True,
    help="Apicurio Registry 2.x release, fetched once from Maven Central.",
)
def start(port: int, data_dir: Path, version: str) -> None:
    """Start the registry (a no-op if it runs already) and print its schema.registry.url."""
    server = LocalRegistry(data_dir, port=port, version=version, echo=_progress)
    try:
        url = server.start()
    except FatalError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(url)


@registry.command(name="stop")
@_data_dir_option
def stop(data_dir: Path) -> None:
    """Stop the registry (its in-memory schemas are gone afterwards)."""
    server = LocalRegistry(data_dir, echo=_progress)
    if not server.stop():
        click.echo(f"The schema registry is not running (data dir {server.data_dir})")


@registry.command(name="status")
@_data_dir_option
def status(data_dir: Path) -> None:
    """Say whether the registry runs, with its pid and URL; exit 3 if it does not."""
    state = LocalRegistry(data_dir).status()
    if state.running:
        click.echo(f"running pid={state.pid} url={state.url} data_dir={state.data_dir}")
        return
    click.echo(f"stopped data_dir={state.data_dir}")
    raise SystemExit(EXIT_NOT_RUNNING)
