"""``headwater registry``: run a real local Confluent-compatible schema registry (Apicurio).

Registered on the main CLI by ``headwater.connectors.cli``. Every command works on one data
dir (default ``./.headwater/registry``), which keeps the registry's pid and URL, so
``start``, ``status`` and ``stop`` may run in different shells. Progress goes to stderr;
``start`` prints the ``schema.registry.url`` as its last stdout line, so
``REGISTRY=$(headwater registry start)`` works.
"""

from __future__ import annotations

import click

from headwater.connectors.commands.launcher import EXIT_NOT_RUNNING, launcher_group
from headwater.connectors.launch.registry import (
    DEFAULT_DATA_DIR,
    DEFAULT_PORT,
    DEFAULT_REGISTRY_VERSION,
    LocalRegistry,
    RegistryStatus,
)

__all__ = ["EXIT_NOT_RUNNING", "registry"]


def _url(state: RegistryStatus) -> str:
    return f"url={state.url}"


registry = launcher_group(
    name="registry",
    help="Run a local schema registry (Apicurio, Confluent API) on 127.0.0.1.",
    make=LocalRegistry,
    address=_url,
    data_dir_default=DEFAULT_DATA_DIR,
    data_dir_help="Folder holding the registry's pid, URL and log.",
    port_option=click.option(
        "--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True, help="HTTP port."
    ),
    version_default=DEFAULT_REGISTRY_VERSION,
    version_help="Apicurio Registry 2.x release, fetched once from Maven Central.",
    start_help="Start the registry (a no-op if it runs already) and print its schema.registry.url.",
    stop_help="Stop the registry (its in-memory schemas are gone afterwards).",
    status_help="Say whether the registry runs, with its pid and URL; exit 3 if it does not.",
    not_running="The schema registry",
)
