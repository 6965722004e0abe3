"""``headwater kafka``: run a real local Apache Kafka 4.x broker for development and tests.

The group is registered on the main CLI by ``headwater.connectors.cli``. Every command
works on one data dir, where the broker's pid and address are kept; by default it is
per port in the cache folder (``$HEADWATER_CACHE_DIR/brokers/<port>``), so ``start``,
``status`` and ``stop`` may run in different shells and folders (``status`` and
``stop`` find the running broker; ``--port`` picks one when several run).
Progress goes to stderr; ``start`` prints the bootstrap address as its last stdout line,
so ``BOOTSTRAP=$(headwater kafka start)`` works.
"""

from __future__ import annotations

import click

from headwater.connectors.commands.launcher import EXIT_NOT_RUNNING, launcher_group
from headwater.connectors.launch.broker import (
    DEFAULT_DATA_DIR,
    DEFAULT_KAFKA_VERSION,
    DEFAULT_PORT,
    BrokerStatus,
    LocalKafka,
    default_data_dir,
    running_brokers,
)

__all__ = ["EXIT_NOT_RUNNING", "kafka"]


def _bootstrap(state: BrokerStatus) -> str:
    return f"bootstrap={state.bootstrap}"


kafka = launcher_group(
    name="kafka",
    help="Run a local single-node Apache Kafka broker (KRaft) on 127.0.0.1.",
    make=LocalKafka,
    address=_bootstrap,
    data_dir_default=DEFAULT_DATA_DIR,
    data_dir_help="Folder holding the broker's config, storage, logs, pid and address "
    "(default: $HEADWATER_CACHE_DIR/brokers/<port>, found from any folder).",
    data_dir_for_port=default_data_dir,
    find_running=running_brokers,
    port_option=click.option(
        "--port",
        type=click.IntRange(1, 65534),
        default=DEFAULT_PORT,
        show_default=True,
        help="Client (PLAINTEXT) port; the controller listens on PORT+1.",
    ),
    version_default=DEFAULT_KAFKA_VERSION,
    version_help="Apache Kafka 4.x release, fetched once from Maven Central.",
    start_help="Start the broker (a no-op if it runs already) and print its bootstrap address.",
    stop_help="Stop the broker cleanly (SIGTERM, then SIGKILL after 30 s).",
    status_help="Say whether the broker runs, with its pid and address; exit 3 if it does not.",
    not_running="Kafka",
)
