"""Launchers of the local servers Headwater's examples and tests run on (Kafka, the schema registry)."""
