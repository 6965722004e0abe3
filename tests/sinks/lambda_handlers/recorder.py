"""A handler written for Lambda's Kafka event source mapping, run by awslambdaric in the tests.

For each record it appends one line to ``$HEADWATER_LAMBDA_STORE/<topic>.jsonl`` with the
key and value bytes spliced in as they came (so decimals stay exact), and it appends the
raw event to ``<topic>.events.jsonl``; any other payload (the ``records`` and ``single``
formats) is appended to ``other-formats.jsonl``. A value with ``"poison": true`` fails the whole
invocation before anything is written, as a function with a transaction would.
"""

import base64
import fcntl
import json
import os
import time

STORE = os.environ["HEADWATER_LAMBDA_STORE"]
DELAY_S = float(os.environ.get("HEADWATER_LAMBDA_DELAY_S", "0"))


def _append(path, text):
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(text)
        handle.flush()


def handle(event, context):
    time.sleep(DELAY_S)
    if not (isinstance(event, dict) and "records" in event):  # the records and single formats
        _append(os.path.join(STORE, "other-formats.jsonl"), json.dumps(event) + "\n")
        return {"processed": len(event) if isinstance(event, list) else 1}
    lines = {}
    for key, records in event["records"].items():
        for record in records:
            raw_key = base64.b64decode(record["key"]).decode() if "key" in record else "null"
            raw_value = base64.b64decode(record["value"]).decode() if "value" in record else "null"
            if '"poison": true' in raw_value or '"poison":true' in raw_value:
                raise ValueError(f"poison record at {key}@{record['offset']}")
            meta = json.dumps({"partition": record["partition"], "offset": record["offset"], "at": time.time()})
            line = f'{{"key": {raw_key}, "value": {raw_value}, "meta": {meta}}}\n'
            lines.setdefault(record["topic"], []).append(line)
    for topic, topic_lines in lines.items():
        _append(os.path.join(STORE, f"{topic}.jsonl"), "".join(topic_lines))
        _append(os.path.join(STORE, f"{topic}.events.jsonl"), json.dumps(event) + "\n")
    return {"processed": sum(len(v) for v in lines.values()), "request": context.aws_request_id}
