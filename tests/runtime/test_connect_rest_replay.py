"""Our REST API answers as Kafka Connect 4.1.1's does, call by call: status codes and JSON keys.

``tests/fixtures/connect-rest-4.1.1.json`` holds what a real Kafka Connect 4.1.1
distributed worker answered to the call sequence of ``connect_rest_sequence.py`` (create,
list, expand, status, config, tasks, topics and reset, pause/resume/stop, every restart
variant, validate, plugin config, loggers, offsets, delete, and the 404/409/400 errors),
with the FileStream connectors. This test replays the sequence against a Headwater
distributed worker (``datagen`` source, ``file`` sink) and compares each answer's code
and key structure (never the values; connector configs' keys are the plugin's and are
not compared).

Re-record the fixture (needs java and mvn; not part of CI) with::

    .venv/bin/python tests/interop/record_connect_rest.py --bootstrap-servers HOST:PORT --port 20183
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest
from connect_rest_sequence import Side, differences, run

from headwater.conformance.runtime import in_process_distributed

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "connect-rest-4.1.1.json"

KNOWN_CODE_DIFFERENCES = {
    "create without config": (
        500,
        400,
        "Connect fails with a NullPointerException; a missing config is a client error",
    ),
    "validate unknown plugin": (500, 404, "Connect fails inside the plugin lookup; we answer 'Unknown plugin X.'"),
}
"""Step → (Connect's code, ours, why): where Connect answers 500 for a client's mistake."""

ALLOWED_EXTRA_KEYS = {
    "create without config": {"$.errors"},
}
"""Step → keys we add to Connect's answer: the per-key list of a 400 for an invalid config."""


@pytest.mark.kafka
def test_the_connect_call_sequence_gets_connects_codes_and_keys(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    recorded = json.loads(FIXTURE.read_text())["steps"]
    group = f"replay-{uuid.uuid4().hex[:6]}"
    topic = f"{group}.customers"
    side = Side(
        source=f"{group}-source",
        sink=f"{group}-sink",
        source_config={
            "connector.class": "datagen",
            "topic.prefix": group,
            "tables": "customers",
            "count": "-1",
            "rate": "20",
        },
        sink_config={"connector.class": "file", "file.dir": str(tmp_path / "out"), "topics": topic},
        source_plugin="datagen",
        sink_plugin="file",
        logger="headwater.sinks",
    )
    with in_process_distributed(kafka_bootstrap_servers, tmp_path, group_id=group) as (_herder, rest):
        try:
            ours = run(rest.url, side, wait_timeout=60)
        finally:
            for name, logger in list(logging.root.manager.loggerDict.items()):
                if name.startswith("headwater.sinks") and isinstance(logger, logging.Logger):
                    logger.setLevel(logging.NOTSET)  # the sequence set levels there
    problems = []
    assert ours.keys() == recorded.keys()
    for name, theirs in recorded.items():
        mine = ours[name]
        expected_code = theirs["status"]
        if name in KNOWN_CODE_DIFFERENCES:
            connect_code, our_code, _why = KNOWN_CODE_DIFFERENCES[name]
            assert connect_code == expected_code, f"{name}: the fixture changed; revisit KNOWN_CODE_DIFFERENCES"
            expected_code = our_code
        if mine["status"] != expected_code:
            problems.append(
                f"{name}: {theirs['method']} {theirs['path']} answered {mine['status']}, Connect {theirs['status']}"
            )
        missing, extra = differences(theirs["shape"], mine["shape"])
        extra = [path for path in extra if path not in ALLOWED_EXTRA_KEYS.get(name, set())]
        if missing:
            problems.append(f"{name}: lacks {missing}")
        if extra:
            problems.append(f"{name}: has keys Connect does not: {extra}")
    assert not problems, "\n".join(problems)
