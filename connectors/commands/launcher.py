"""The shared shape of ``headwater kafka`` and ``headwater registry``: start, stop, status.

Each of those groups drives one local server launcher (:mod:`headwater.connectors.launch`)
living in a data dir, which keeps its pid and address, so the three commands may run in
different shells. :func:`launcher_group` builds the click group once for both; the
modules ``kafka`` and ``registry`` only say what differs (names, defaults, help texts).

The contract users script against: progress goes to stderr; ``start`` prints the
server's address as its last stdout line (``X=$(headwater kafka start)`` works) and turns a
:class:`~headwater.connectors.errors.FatalError` into a click error (exit 1); ``stop``
says so when nothing ran; ``status`` prints ``running pid=... <address> data_dir=...`` or
``stopped data_dir=...`` and then exits :data:`EXIT_NOT_RUNNING`.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import click

from headwater.connectors.errors import FatalError

__all__ = ["EXIT_NOT_RUNNING", "Launcher", "LauncherStatus", "launcher_group"]

#: ``status`` exits with this when no server runs (the LSB code for "not running").
EXIT_NOT_RUNNING = 3


class LauncherStatus(t.Protocol):
    """What a launcher's ``status()`` returns (``BrokerStatus``, ``RegistryStatus``)."""

    @property
    def running(self) -> bool: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def data_dir(self) -> Path: ...


S = t.TypeVar("S", bound=LauncherStatus)
S_co = t.TypeVar("S_co", bound=LauncherStatus, covariant=True)


class Launcher(t.Protocol[S_co]):
    """A local server launcher bound to a data dir (``LocalKafka``, ``LocalRegistry``)."""

    data_dir: Path

    def start(self) -> str: ...
    def stop(self) -> bool: ...
    def status(self) -> S_co: ...


def _progress(message: str) -> None:
    # stderr, so that stdout carries only the result.
    click.echo(message, err=True)


def launcher_group(
    *,
    name: str,
    help: str,
    make: t.Callable[..., Launcher[S]],
    address: t.Callable[[S], str],
    data_dir_default: Path,
    data_dir_help: str,
    port_option: t.Callable[[t.Callable[..., None]], t.Callable[..., None]],
    version_default: str,
    version_help: str,
    start_help: str,
    stop_help: str,
    status_help: str,
    not_running: str,
    data_dir_for_port: t.Callable[[int], Path] | None = None,
    find_running: t.Callable[[], t.Sequence[S]] | None = None,
) -> click.Group:
    """Build the ``start``/``stop``/``status`` group of one launcher.

    Args:
        name: the group's command name.
        help: the group's help text.
        make: builds the launcher: ``make(data_dir, port=..., version=..., echo=...)`` for
            start, ``make(data_dir, echo=...)`` for stop, ``make(data_dir)`` for status.
        address: formats a running status's address part (``bootstrap=...``).
        data_dir_default: the ``--data-dir`` default.
        data_dir_help: the ``--data-dir`` help.
        port_option: the ``--port`` click option (its range and help differ per server).
        version_default: the ``--version`` default.
        version_help: the ``--version`` help.
        start_help: ``start``'s help; ``stop_help`` and ``status_help`` likewise.
        stop_help: ``stop``'s help.
        status_help: ``status``'s help.
        not_running: what ``stop`` says before `` is not running (data dir ...)``.
        data_dir_for_port: when given, the default data dir is per port (``start
            --port N`` uses ``data_dir_for_port(N)``), and ``stop``/``status`` without
            ``--data-dir`` or ``--port`` act on whatever ``find_running()`` finds, so
            they work from any folder.
        find_running: the statuses of the running servers in the default data dirs.
    """
    per_port = data_dir_for_port is not None
    data_dir_option = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None if per_port else data_dir_default,
        show_default="per port in the cache folder" if per_port else True,
        help=data_dir_help,
    )
    which_port = click.option(
        "--port", type=int, default=None, help="The server started with this --port (when several run)."
    )

    def chosen(port: int | None, data_dir: Path | None) -> list[Path] | None:
        """The data dirs ``stop``/``status`` act on; None when none is named and none runs."""
        if data_dir is not None or not per_port:
            return [data_dir if data_dir is not None else data_dir_default]
        assert data_dir_for_port is not None
        if port is not None:
            return [data_dir_for_port(port)]
        running = [state.data_dir for state in (find_running() if find_running else [])]
        return running or None

    @click.group(name=name, help=help)
    def group() -> None:
        pass

    @group.command(name="start", help=start_help)
    @port_option
    @data_dir_option
    @click.option("--version", "version", default=version_default, show_default=True, help=version_help)
    def start(port: int, data_dir: Path | None, version: str) -> None:
        if data_dir is None:
            data_dir = data_dir_for_port(port) if data_dir_for_port is not None else data_dir_default
        server = make(data_dir, port=port, version=version, echo=_progress)
        try:
            result = server.start()
        except FatalError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(result)

    @group.command(name="stop", help=stop_help)
    @data_dir_option
    @which_port
    def stop(data_dir: Path | None, port: int | None) -> None:
        folders = chosen(port, data_dir)
        if folders is None:
            click.echo(f"{not_running} is not running")
            return
        if len(folders) > 1:
            msg = f"several run ({', '.join(folder.name for folder in folders)}); say which with --port"
            raise click.ClickException(msg)
        server = make(folders[0], echo=_progress)
        if not server.stop():
            click.echo(f"{not_running} is not running (data dir {server.data_dir})")

    @group.command(name="status", help=status_help)
    @data_dir_option
    @which_port
    def status(data_dir: Path | None, port: int | None) -> None:
        folders = chosen(port, data_dir)
        states = [make(folder).status() for folder in folders or []]
        for state in states:
            if state.running:
                click.echo(f"running pid={state.pid} {address(state)} data_dir={state.data_dir}")
        if any(state.running for state in states):
            return
        click.echo(f"stopped data_dir={states[0].data_dir}" if states else "stopped (none running)")
        raise SystemExit(EXIT_NOT_RUNNING)

    return group
