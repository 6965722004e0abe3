"""Fixtures of the Cobrix differential tests: one JVM running Cobrix's reader per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cobrix_harness import CobrixOracle, CobrixUnavailable


@pytest.fixture(scope="session")
def cobrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CobrixOracle]:
    """A running Cobrix driver (skips the test when Java, javac or Maven is missing)."""
    work: Path = tmp_path_factory.mktemp("cobrix-cases")
    try:
        oracle = CobrixOracle(work)
    except CobrixUnavailable as exc:
        pytest.skip(f"Cobrix oracle unavailable: {exc}")
    yield oracle
    oracle.close()
