"""A real schema registry for tests: the ``schema_registry_url`` fixture.

Re-exported by ``headwater.conformance.pytest_plugin``. It points at the registry named by
``$HEADWATER_SCHEMA_REGISTRY_URL`` (a shared one, or a developer's ``headwater registry
start``) or starts a private :class:`~headwater.connectors.launch.registry.LocalRegistry`
(Apicurio Registry, in memory, Confluent API) on a free port for the pytest session.
Never a fake: a test that passes here passed against a real registry.
"""

from __future__ import annotations

import os
import typing as t

import pytest

from headwater.connectors.launch.broker import find_free_port
from headwater.connectors.launch.registry import LocalRegistry

__all__ = ["REGISTRY_ENV", "schema_registry_url"]

#: When set, the fixture uses this registry (its Confluent API URL) instead of starting one.
REGISTRY_ENV = "HEADWATER_SCHEMA_REGISTRY_URL"


@pytest.fixture(scope="session")
def schema_registry_url(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[str]:
    """Yield a ``schema.registry.url`` for the whole test session.

    ``$HEADWATER_SCHEMA_REGISTRY_URL`` wins when set (neither started nor stopped; its
    default compatibility is whatever it was given). Otherwise Apicurio Registry starts in a
    temp data dir on a free port (the first run on a machine fetches it with Maven, later
    runs take about 5-15 s) with BACKWARD compatibility, and stops when the session ends.
    Tests share it: give each test its own topics (subjects).
    """
    external = os.environ.get(REGISTRY_ENV, "").strip()
    if external:
        yield external
        return
    registry = LocalRegistry(tmp_path_factory.mktemp("registry"), port=find_free_port())
    url = registry.start()
    try:
        yield url
    finally:
        registry.stop()
