"""Memory stays bounded: one huge transaction spills past the threshold instead of filling RAM.

Each run is a separate process (``python -m headwater.conformance.oracle_memory``) so the
peak RSS is the task's alone.
"""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest


def _measure(rows: int, threshold: int = 10_000) -> dict[str, float]:
    command = [sys.executable, "-m", "headwater.conformance.oracle_memory", "--rows", str(rows)]
    proc = subprocess.run([*command, "--threshold", str(threshold)], capture_output=True, check=True, timeout=900)
    result = orjson.loads(proc.stdout.splitlines()[-1])
    assert isinstance(result, dict)
    return result


def test_a_transaction_ten_times_larger_does_not_grow_memory() -> None:
    small = _measure(10_000, threshold=2_000)
    large = _measure(100_000, threshold=2_000)
    assert (small["events"], large["events"]) == (10_000, 100_000)
    assert large["max_rss_kb"] - small["max_rss_kb"] < 20_000, (small, large)


@pytest.mark.sweep
def test_a_million_row_transaction_stays_under_128_mib() -> None:
    result = _measure(1_000_000)
    assert result["events"] == 1_000_000
    assert result["max_rss_kb"] < 128 * 1024, result
