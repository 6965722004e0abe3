"""The ``headwater`` pytest plugin (entry point ``pytest11``), loaded in any pytest run
where Headwater is installed.

It provides the fixtures the standard tests need, so a plugin author's test module is
one line per plugin:

- ``kafka_bootstrap_servers``: a real local KRaft broker for the session (or
  ``$HEADWATER_BOOTSTRAP_SERVERS``);
- ``schema_registry_url``: a real local schema registry (Apicurio, Confluent API) for the
  session (or ``$HEADWATER_SCHEMA_REGISTRY_URL``);

and the ``kafka`` marker for tests that need it.
"""

from __future__ import annotations

import pytest

from headwater.conformance.kafka import kafka_bootstrap_servers
from headwater.conformance.registry import schema_registry_url

__all__ = ["kafka_bootstrap_servers", "schema_registry_url"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers the standard tests use."""
    config.addinivalue_line(
        "markers", "kafka: needs a real Kafka broker (started by the kafka_bootstrap_servers fixture)"
    )
    config.addinivalue_line("markers", "slow: takes more than a few seconds (crash and end-to-end tests)")
    config.addinivalue_line(
        "markers",
        "sweep: a long fuzz, differential or memory sweep (minutes); `make test-sweep` runs them, `make test` does not",
    )
