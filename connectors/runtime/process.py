"""Process-wide settings a worker process applies once at start (the CLI calls it).

Not for embedding: a program that runs a :class:`~headwater.connectors.runtime.worker.Worker`
inside itself keeps its own interpreter settings.
"""

from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "tune_for_worker"]

GC_THRESHOLDS = (200_000, 20, 10)
"""CPython's default (700, 10, 10) runs a young collection every time the tracked objects
grow by 700; a sink task keeps every record it read until its offset is committed
(hundreds of thousands of objects), and each collection walks them again. Measured on the
``file`` sink, 1M JSON records: 8.1 s of CPU with the defaults, 5.6 s with (50_000, 20, 10)
(5.5 s with no collection at all). The Oracle source buffers a transaction's rows until its
COMMIT (10,000 a transaction in the bench's ``users`` load): with 50,000 its young
collections still took 5-7% of the worker's CPU there, with 200,000 none ran in a
67,625-event run. The collector's count is net (allocations less deallocations), so this
bounds the uncollected cyclic garbage to about 200,000 objects, not the allocation rate."""


def tune_for_worker() -> None:
    """Raise the collector's thresholds and move everything allocated so far (imports,
    configs) out of its sight with :func:`gc.freeze`. Call once, from the main thread,
    before the worker starts its tasks."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()
