"""The standard sink tests for ``mongodb``, against SecantusDB (started on first use)."""

from __future__ import annotations

from headwater.conformance.mongodb import read_state, shared_mongodb_uri
from headwater.conformance.standard import SinkHarness, get_sink_test_class
from headwater.sinks.mongodb import MongoSinkConnector

TestMongoSinkConnectorStandard = get_sink_test_class(
    SinkHarness(
        connector_class=MongoSinkConnector,
        make_config=lambda _tmp, name: {
            "connection.uri": shared_mongodb_uri(),
            "database": "conformance",
            "collection": name,
            "change.data.capture.handler": "headwater",
        },
        read_state=lambda config, _topic: read_state(
            config.connection_uri.get_secret_value(),
            config.database,
            config.collection,  # type: ignore[attr-defined]
        ),
        bad_value="not a change event",
    )
)
