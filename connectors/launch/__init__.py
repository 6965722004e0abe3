"""Launching processes for local use, tests and benchmarks: not part of the runtime.

- :mod:`~headwater.connectors.launch.broker`: a real local Apache Kafka broker (KRaft),
  behind ``headwater kafka`` and the test fixtures.
- :mod:`~headwater.connectors.launch.worker`: real ``headwater standalone`` and
  ``headwater distributed`` worker processes, driven over REST (the demo, crash tests,
  benchmarks).
- :mod:`~headwater.connectors.launch.registry`: a real local schema registry (Apicurio,
  Confluent-compatible API), behind ``headwater registry`` and the test fixtures.
"""
