"""The standard source suite on ``sap-rfc-table``, fed by the SAP RFC emulator.

Two connectors: snapshots of MARA and the wide ZWIDE with VBAK by changed-on
date/time; and KNA1 and VBAK through change documents (deletes included). The history
is committed from the start, so two runs read the same rows whatever their call pattern
(the resume test compares an interrupted run with an uninterrupted one).
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from headwater.codecs.envelope import canonical_key
from headwater.conformance.emulators.sap import final_state
from headwater.conformance.standard import SourceHarness, get_source_test_class
from headwater.connectors.config import PluginConfig
from headwater.connectors.sap import SapRfcTableConnector
from headwater.connectors.sap.config import SapRfcTableConfig

SEED = 11


def _make(**extra: str) -> t.Callable[[Path, str], dict[str, str]]:
    def make_config(tmp_path: Path, topic: str) -> dict[str, str]:
        return {
            "topic.prefix": topic,
            "emulator.scenario": "erp",
            "emulator.seed": str(SEED),
            "emulator.history": "committed",
            "page.size": "30",
            "batch.size": "100",
            "poll.interval.ms": "200",
            # The runtime on this branch does not take OffsetMarker yet (contract v2 work in
            # progress elsewhere); without markers the source stays exactly-once per run.
            **extra,
        }

    return make_config


def _state(config: PluginConfig) -> dict[str, dict[str, t.Any]]:
    assert isinstance(config, SapRfcTableConfig)
    return {
        f"{config.topic_prefix}.{table}": {
            canonical_key(entry["key"]): entry["row"] for entry in final_state("erp", SEED, tables=[table])
        }
        for table in config.table_list()
    }


TestSapSnapshotAndTimestamp = get_source_test_class(
    SourceHarness(
        connector_class=SapRfcTableConnector,
        make_config=_make(
            tables="MARA,ZWIDE,VBAK",
            **{
                "table.VBAK.mode": "timestamp",
                "table.VBAK.changed.date.field": "AEDAT",
                "table.VBAK.changed.time.field": "ZZAEZET",
                "table.VBAK.created.date.field": "ERDAT",
                "table.VBAK.created.time.field": "ERZET",
            },
        ),
        final_state=_state,
        bad_config={"tables": "", "page.size": "5", "mode": "full", "sap.client": "100"},
        bad_keys=frozenset({"tables", "page.size", "mode"}),
    )
)

TestSapChangeDocuments = get_source_test_class(
    SourceHarness(
        connector_class=SapRfcTableConnector,
        make_config=_make(tables="KNA1,VBAK", mode="change-documents"),
        final_state=_state,
        resume_repeats="change documents: offsets stored during the first two cycles vouch for no "
        "document (one committed behind a key range the first cycle had read would be skipped), so a "
        "restart then reads them again; the README's SAP section says so",
    )
)
