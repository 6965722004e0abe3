"""The Headwater conformance suite on the template plugin: one harness, every standard test.

Run it with ``pytest`` in this folder (Headwater's pytest plugin starts a real Kafka
broker for the session, or uses ``$HEADWATER_BOOTSTRAP_SERVERS``).
"""

from __future__ import annotations

import csv
import typing as t
from pathlib import Path

from headwater.codecs.envelope import canonical_key
from headwater.conformance.standard import SourceHarness, get_source_test_class
from headwater.connectors.config import PluginConfig

from headwater_csv_changes import CsvChangesConnector
from headwater_csv_changes.client import LocalChangeLogReader
from headwater_csv_changes.config import CsvChangesConfig

# Two change logs: creates, updates and deletes, some keys deleted and created again.
CHANGES = {
    "people.csv": [
        ("c", "1", "Ada"), ("c", "2", "Grace"), ("u", "1", "Ada L."), ("c", "3", "Alan"),
        ("d", "2", "Grace"), ("c", "2", "Grace H."), ("d", "3", "Alan"), ("u", "2", "Grace Hopper"),
    ],
    "more-people.csv": [("c", "10", "Edsger"), ("c", "11", "Barbara"), ("d", "10", "Edsger"), ("u", "11", "B. Liskov")],
}  # fmt: skip


def _make_config(tmp_path: Path, topic: str) -> dict[str, str]:
    folder = tmp_path / "changes"
    folder.mkdir(exist_ok=True)
    for name, rows in CHANGES.items():
        with (folder / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["op", "id", "name"])
            writer.writerows(rows)
    return {"csv.dir": str(folder), "topic": topic, "key.columns": "id", "batch.size": "3"}


def _final_state(config: PluginConfig) -> dict[str, dict[str, t.Any]]:
    assert isinstance(config, CsvChangesConfig)
    state: dict[str, dict[str, t.Any]] = {}
    for rows in CHANGES.values():
        for op, key, name in rows:
            if op == "d":
                state.pop(canonical_key({"id": key}), None)
            else:
                state[canonical_key({"id": key})] = {"id": key, "name": name}
    return {config.topic: state}


TestCsvChanges = get_source_test_class(
    SourceHarness(
        connector_class=CsvChangesConnector,
        make_config=_make_config,
        final_state=_final_state,
        bad_config={"csv.dir": "", "key.columns": "id,,name", "batch.size": "0"},
        bad_keys=frozenset({"csv.dir", "topic", "key.columns", "batch.size"}),
        # How the suite builds a task, here with the reader client; a plugin for a remote
        # system hands its task a client pointed at an emulator the same way.
        make_task=lambda task_class, config, context: task_class(
            config, context, reader=LocalChangeLogReader(config.csv_dir)
        ),
    )
)
