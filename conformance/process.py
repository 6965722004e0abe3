"""Worker processes for plugin test suites; they live in :mod:`headwater.connectors.launch.worker`.

Re-exported here so that a plugin's crash tests can import everything test-related from
:mod:`headwater.conformance`.
"""

from __future__ import annotations

from headwater.connectors.launch.worker import (
    DistributedWorkerProcess,
    WorkerProcess,
    free_port,
    rest_request,
    write_json,
)

__all__ = ["DistributedWorkerProcess", "WorkerProcess", "free_port", "rest_request", "write_json"]
