"""The whole standard source suite on the reference source, which uses every optional hook."""

from __future__ import annotations

from pathlib import Path

from reference_source import ReferenceSource, expected_state

from headwater.conformance.standard import SourceHarness, get_source_test_class


def _config(_tmp: Path, topic: str) -> dict[str, str]:
    return {"topic": topic, "count": "40", "partitions": "2", "seed": "3", "idle.poll.ms": "300"}


TestReferenceSource = get_source_test_class(
    SourceHarness(
        connector_class=ReferenceSource,
        make_config=_config,
        final_state=expected_state,
        bad_config={"count": "-1", "batch.size": "0", "topic": ""},
        bad_keys=frozenset({"count", "batch.size", "topic"}),
        drain_timeout=60.0,
        bad_offsets=[
            {"partition": {"partition": "p0"}, "offset": {"seq": 41}},
            {"partition": {"partition": "p1"}, "offset": {"seq": "ten"}},
        ],
    )
)
