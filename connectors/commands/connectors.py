"""``headwater connectors``: operate connectors on a running worker through its REST API.

The same calls a Kafka Connect operator makes with ``curl``, with readable tables:
``list``, ``status NAME`` (with each task's progress when the worker reports one),
``apply FILE`` (create or update from a JSON or ``.properties`` file), ``pause``,
``resume``, ``restart`` (``--task N``, ``--only-failed``), ``offsets`` and ``delete``.
``--json`` prints the worker's JSON answer instead. The worker is ``--url`` (or
``$HEADWATER_URL``, default ``http://127.0.0.1:8083``); ``--user USER:PASSWORD`` or
``--token TOKEN`` authenticate as the worker's ``rest.authentication.*`` files require
(``$HEADWATER_USER`` / ``$HEADWATER_TOKEN``), and ``--cacert`` trusts an ``https``
listener's certificate. An error answer is printed as one line and exits 1.
"""

from __future__ import annotations

import base64
import datetime as dt
import ssl
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click
import orjson

__all__ = ["RestClient", "RestError", "connectors", "format_progress"]

DEFAULT_URL = "http://127.0.0.1:8083"


class RestError(click.ClickException):
    """An error answer (or no answer) from the worker, shown as one line; exit code 1."""

    exit_code = 1

    def show(self, file: t.IO[t.Any] | None = None) -> None:
        click.echo(f"error: {self.message}", err=True)


@dataclass
class RestClient:
    """A small client of one worker's REST API (the calls this CLI makes)."""

    url: str
    user: str | None = None
    token: str | None = None
    cacert: Path | None = None
    timeout: float = 30.0

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.user:
            headers["Authorization"] = "Basic " + base64.b64encode(self.user.encode()).decode()
        return headers

    def call(self, method: str, path: str, body: t.Any = None, *, query: t.Mapping[str, str] | None = None) -> t.Any:
        """Send one request; return the decoded JSON answer (None for an empty one).

        Raises:
            RestError: the worker answered 4xx/5xx (its ``message``), or could not be reached.
        """
        url = self.url.rstrip("/") + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = orjson.dumps(body) if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=self._headers())
        context = ssl.create_default_context(cafile=str(self.cacert)) if self.cacert else None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            msg = f"{method} {path}: {exc.code} {_error_message(exc.read()) or exc.reason}"
            raise RestError(msg) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            msg = f"cannot reach the worker at {self.url}: {reason} (is it running? set --url or HEADWATER_URL)"
            raise RestError(msg) from exc
        return orjson.loads(raw) if raw.strip() else None


def _error_message(raw: bytes) -> str:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode(errors="replace").strip().splitlines()[0] if raw.strip() else ""
    if isinstance(document, dict) and "message" in document:
        return " ".join(str(document["message"]).split())
    return orjson.dumps(document).decode()


# -- formatting ---------------------------------------------------------------------------


def _number(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.1f}"


def format_progress(progress: t.Mapping[str, t.Any] | None) -> str:
    """One cell for a task's ``progress`` object (``done``, ``total``, ``unit``,
    ``rate_per_s``, ``eta_s``, optional ``what``): ``"1,200 / 10.0k records (12%), 350
    records/s, ETA 0:00:25"``, prefixed ``"<what>: "`` when given; ``""`` when the task
    reports none. ``total`` and ``eta_s`` may be null."""
    if not progress:
        return ""
    unit = str(progress.get("unit") or "records")
    done = progress.get("done")
    total = progress.get("total")
    parts = []
    if isinstance(done, int | float):
        text = _number(done)
        if isinstance(total, int | float) and total > 0:
            text += f" / {_number(total)} {unit} ({min(100.0, 100 * done / total):.0f}%)"
        else:
            text += f" {unit}"
        parts.append(text)
    rate = progress.get("rate_per_s")
    if isinstance(rate, int | float):
        parts.append(f"{_number(rate)} {unit}/s")
    eta = progress.get("eta_s")
    if isinstance(eta, int | float) and eta >= 0:
        parts.append(f"ETA {dt.timedelta(seconds=round(eta))}")
    text = ", ".join(parts)
    return f"{progress['what']}: {text}" if progress.get("what") else text


def _state(state: str) -> str:
    colour = {"RUNNING": "green", "FAILED": "red", "PAUSED": "yellow", "STOPPED": "yellow"}.get(state, "cyan")
    return f"[{colour}]{state}[/{colour}]"


def _first_line(trace: t.Any) -> str:
    return str(trace).strip().splitlines()[0][:120] if trace else ""


def _print_table(columns: t.Sequence[str], rows: t.Iterable[t.Sequence[str]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, title=title, title_justify="left", box=None, header_style="bold")
    for row in rows:
        table.add_row(*row)
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        # Piped (grep, awk, a log): one row per line, never folded at 80 columns.
        console = Console(soft_wrap=False, width=1000)
    console.print(table)


def _echo_json(document: t.Any) -> None:
    click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


# -- commands -----------------------------------------------------------------------------


@click.group()
@click.option("--url", envvar="HEADWATER_URL", default=DEFAULT_URL, show_default=True, help="The worker's REST URL.")
@click.option("--user", envvar="HEADWATER_USER", help="USER:PASSWORD for HTTP basic auth.")
@click.option("--token", envvar="HEADWATER_TOKEN", help="A bearer token (rest.authentication.tokens.file).")
@click.option("--cacert", type=click.Path(dir_okay=False, path_type=Path), help="PEM CA file of an https listener.")
@click.option("--json", "as_json", is_flag=True, help="Print the worker's JSON answer.")
@click.pass_context
def connectors(
    ctx: click.Context, url: str, user: str | None, token: str | None, cacert: Path | None, as_json: bool
) -> None:
    """Operate connectors on a running worker through its REST API."""
    if user is not None and ":" not in user:
        msg = "give USER:PASSWORD"
        raise click.BadParameter(msg, param_hint="--user")
    ctx.obj = (RestClient(url, user=user, token=token, cacert=cacert), as_json)


def _ctx() -> tuple[RestClient, bool]:
    return t.cast(tuple[RestClient, bool], click.get_current_context().obj)


def _path(name: str, *rest: str) -> str:
    return "/".join(["/connectors", urllib.parse.quote(name, safe=""), *rest]).rstrip("/")


@connectors.command("list")
def list_connectors() -> None:
    """Every connector with its type, state and tasks."""
    client, as_json = _ctx()
    document = client.call("GET", "/connectors", query={"expand": "status"})
    if as_json:
        _echo_json(document)
        return
    rows = []
    for name, entry in sorted(document.items()):
        status = entry.get("status", {})
        tasks = status.get("tasks", [])
        running = sum(task.get("state") == "RUNNING" for task in tasks)
        failed = sum(task.get("state") == "FAILED" for task in tasks)
        summary = f"{running}/{len(tasks)} running" + (f", [red]{failed} failed[/red]" if failed else "")
        connector = status.get("connector", {})
        rows.append(
            [
                name,
                str(status.get("type", "")),
                _state(connector.get("state", "?")),
                summary,
                connector.get("worker_id", ""),
            ]
        )
    if not rows:
        click.echo("no connectors")
        return
    _print_table(["NAME", "TYPE", "STATE", "TASKS", "WORKER"], rows)


@connectors.command()
@click.argument("name")
def status(name: str) -> None:
    """The connector's state and each task's state, worker, progress and error (or warning)."""
    client, as_json = _ctx()
    document = client.call("GET", _path(name, "status"))
    if as_json:
        _echo_json(document)
        return
    connector = document.get("connector", {})
    click.echo(
        f"{document.get('name', name)} ({document.get('type', '?')}): {connector.get('state', '?')} "
        f"on {connector.get('worker_id', '?')}"
    )
    if trace := _first_line(connector.get("trace")):
        click.echo(f"  error: {trace}")
    rows = [
        [
            str(task.get("id", "")),
            _state(str(task.get("state", "?"))),
            str(task.get("worker_id", "")),
            format_progress(task.get("progress")),
            _first_line(task.get("trace"))
            or (f"warning: {_first_line(task['warning'])}" if task.get("warning") else ""),
        ]
        for task in document.get("tasks", [])
    ]
    _print_table(["TASK", "STATE", "WORKER", "PROGRESS", "ERROR"], rows)


@connectors.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def apply(file: Path) -> None:
    """Create or update a connector from a JSON or .properties file (PUT .../config)."""
    from headwater.connectors.errors import ConfigError
    from headwater.connectors.loading import load_document

    client, as_json = _ctx()
    try:
        document = load_document(file)
    except ConfigError as exc:
        problems = "; ".join(f"{error.key}: {error.message}" for error in exc.errors)
        msg = f"{file}: {problems}"
        raise RestError(msg) from exc
    name = str(document["name"])
    config = {key: value if isinstance(value, str) else _text(value) for key, value in document["config"].items()}
    existed = name in (client.call("GET", "/connectors") or [])
    answer = client.call("PUT", _path(name, "config"), config)
    if as_json:
        _echo_json(answer)
        return
    click.echo(f"{name}: {'updated' if existed else 'created'}")


def _text(value: t.Any) -> str:
    """A JSON value as Kafka Connect's string config value (``true``, ``3``)."""
    return orjson.dumps(value).decode() if not isinstance(value, str) else value


def _simple(method: str, action: str, done: str) -> t.Callable[[str], None]:
    def command(name: str) -> None:
        client, as_json = _ctx()
        answer = client.call(method, _path(name, action) if action else _path(name))
        if as_json:
            _echo_json(answer)
        else:
            click.echo(f"{name}: {done}")

    return command


connectors.command("pause", help="Pause the connector and its tasks (they keep their resources).")(
    click.argument("name")(_simple("PUT", "pause", "pause requested"))
)
connectors.command("resume", help="Resume a paused or stopped connector.")(
    click.argument("name")(_simple("PUT", "resume", "resume requested"))
)
connectors.command("delete", help="Delete the connector (its offsets stay).")(
    click.argument("name")(_simple("DELETE", "", "deleted"))
)


@connectors.command()
@click.argument("name")
@click.option("--task", "task_id", type=int, help="Restart only this task.")
@click.option("--only-failed", is_flag=True, help="Restart only what has FAILED.")
@click.option("--include-tasks/--connector-only", default=True, show_default=True, help="Also restart the tasks.")
def restart(name: str, task_id: int | None, only_failed: bool, include_tasks: bool) -> None:
    """Restart the connector (and its tasks), or one task."""
    client, as_json = _ctx()
    if task_id is not None:
        answer = client.call("POST", _path(name, "tasks", str(task_id), "restart"))
        what = f"{name} task {task_id}: restart requested"
    else:
        query = {"includeTasks": str(include_tasks).lower(), "onlyFailed": str(only_failed).lower()}
        answer = client.call("POST", _path(name, "restart"), query=query)
        what = f"{name}: restart requested"
    if as_json:
        _echo_json(answer)
    else:
        click.echo(what)


@connectors.command()
@click.argument("name")
def offsets(name: str) -> None:
    """The connector's committed offsets (source partitions or topic-partitions)."""
    client, as_json = _ctx()
    document = client.call("GET", _path(name, "offsets"))
    if as_json:
        _echo_json(document)
        return
    entries = document.get("offsets", []) if isinstance(document, dict) else []
    if not entries:
        click.echo(f"{name}: no committed offsets")
        return
    rows = [
        [orjson.dumps(entry.get("partition")).decode(), orjson.dumps(entry.get("offset")).decode()] for entry in entries
    ]
    _print_table(["PARTITION", "OFFSET"], rows)
