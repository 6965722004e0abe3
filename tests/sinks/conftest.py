"""Fixtures of the sink tests: a real Kafka broker and a real MongoDB-wire server (SecantusDB)."""

from __future__ import annotations

from headwater.conformance.kafka import kafka_bootstrap_servers  # noqa: F401
from headwater.conformance.mongodb import mongodb_uri  # noqa: F401
