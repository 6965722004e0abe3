"""Fixtures of the runtime tests: a real Kafka broker for the session."""

from __future__ import annotations

from headwater.conformance.kafka import kafka_bootstrap_servers  # noqa: F401
