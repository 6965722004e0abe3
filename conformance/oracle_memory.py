"""Measure the ``oracle-logminer`` task's memory on one huge transaction (run as a script).

``python -m headwater.conformance.oracle_memory --rows N --threshold T`` streams a
transaction of N inserts from :class:`~headwater.conformance.emulators.oracle.BigTransactionEmulator`
through the task (spilling beyond T buffered changes to a temporary scratch folder),
drops the records as a producer would after sending them, and prints one JSON line:
``{"rows": N, "events": ..., "max_rss_kb": ..., "seconds": ...}``. It runs in its own
process so that the peak RSS is the task's alone.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import typing as t
from pathlib import Path

import orjson

from headwater.conformance.emulators.oracle import BigTransactionEmulator
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask


class _FromStart:
    def __init__(self, scn: int) -> None:
        self.stored = {"scn": str(scn), "commit_scn": "", "snapshot_completed": True}

    def offset(self, partition: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
        return self.stored


def peak_rss_kb() -> int:
    """This process's peak resident set size in KiB: ``VmHWM`` where Linux gives it.

    Not ``getrusage().ru_maxrss``: Linux carries that over ``exec`` from the process that
    forked this one, so a child of a large test process would report the parent's size
    and hide its own growth."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(rows: int, threshold: int) -> dict[str, int | float]:
    """Stream the transaction; return events emitted, peak RSS (KiB) and seconds."""
    emulator = BigTransactionEmulator(rows)
    config = OracleLogMinerConfig.model_validate(
        {"emulator.scenario": "bulk", "log.mining.buffer.spill.threshold": threshold, "max.batch.size": 5_000}
    )
    with tempfile.TemporaryDirectory(prefix="oracle-memory-") as scratch:
        context = SourceTaskContext("memory", 0, _FromStart(emulator.first_scn), scratch_dir=Path(scratch))
        task = OracleLogMinerTask(config, context, client=emulator)
        started = time.perf_counter()
        events = 0
        idle = 0
        while idle < 2:
            batch = task.poll()
            events += sum(1 for r in batch if isinstance(r, SourceRecord) and r.value is not None)
            caught_up = context.next_poll_delay_ms > 0
            context.next_poll_delay_ms = 0
            idle = idle + 1 if emulator.finished and caught_up else 0
        seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "events": events,
        "max_rss_kb": peak_rss_kb(),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--threshold", type=int, default=10_000)
    args = parser.parse_args()
    print(orjson.dumps(measure(args.rows, args.threshold)).decode())


if __name__ == "__main__":
    main()
