"""The standard sink suite on the reference sink, which owns its commit point (SQLite)."""

from __future__ import annotations

from reference_sink import ReferenceSinkConnector, count_writes, read_state

from headwater.conformance.standard import SinkHarness, get_sink_test_class

TestReferenceSink = get_sink_test_class(
    SinkHarness(
        connector_class=ReferenceSinkConnector,
        make_config=lambda tmp, name: {"reference.db": str(tmp / f"{name}.sqlite")},
        read_state=read_state,
        count_writes=count_writes,
        bad_value="not a change event",
    )
)
