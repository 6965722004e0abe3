"""The standard source suite on ``mainframe-copybook``, fed by the mainframe dataset emulator.

Four scenarios: a VB customer master (append mode), a multisegment V file (segment
field + REDEFINES), three generations of a full extract (snapshot-diff) and a
hierarchical VB file (``segment.children``: one nested event per company).
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from headwater.codecs.envelope import canonical_key
from headwater.conformance.emulators.mainframe import connector_config, final_state, generate
from headwater.conformance.standard import SourceHarness, get_source_test_class
from headwater.connectors.config import PluginConfig
from headwater.connectors.mainframe import MainframeCopybookConnector
from headwater.connectors.mainframe.config import MainframeCopybookConfig

SEED = 7


def _make(scenario: str, **extra: str) -> t.Callable[[Path, str], dict[str, str]]:
    def make_config(tmp_path: Path, topic: str) -> dict[str, str]:
        # The scenario folder name tells _state which scenario a config reads.
        files = generate(scenario, SEED, tmp_path / scenario)
        files.append_all()
        return {**connector_config(files, topic), "batch.size": "250", "poll.interval.ms": "50", **extra}

    return make_config


def _state(config: PluginConfig) -> dict[str, dict[str, t.Any]]:
    assert isinstance(config, MainframeCopybookConfig)
    scenario = Path(config.input_dir).parent.name
    return {config.topic: {canonical_key(entry["key"]): entry["row"] for entry in final_state(scenario, SEED)}}


_BAD = {
    "copybook.text": "       01  REC.\n           05  A  PIC Q(3).\n",
    "input.dir": "",
    "mode": "mirror",
    "finished.file.action": "shred",
}

TestMainframeCustomersVB = get_source_test_class(
    SourceHarness(
        connector_class=MainframeCopybookConnector,
        make_config=_make("customers-vb"),
        final_state=_state,
        bad_config=_BAD,
        bad_keys=frozenset({"copybook.text", "input.dir", "mode", "topic", "finished.file.action"}),
    )
)

TestMainframeCustomersVBS = get_source_test_class(
    SourceHarness(connector_class=MainframeCopybookConnector, make_config=_make("customers-vbs"), final_state=_state)
)

TestMainframeMultisegment = get_source_test_class(
    SourceHarness(connector_class=MainframeCopybookConnector, make_config=_make("multisegment"), final_state=_state)
)

TestMainframeGenerations = get_source_test_class(
    SourceHarness(connector_class=MainframeCopybookConnector, make_config=_make("generations"), final_state=_state)
)

TestMainframeHierarchical = get_source_test_class(
    SourceHarness(connector_class=MainframeCopybookConnector, make_config=_make("hierarchical"), final_state=_state)
)
