"""A Lambda handler written for Lambda's Kafka event source mapping (the ``esm`` payload).

It decodes each record's base64 key and value and appends one JSON line per record to
``$LAMBDA_STORE/records.jsonl``, so the example can check that every record arrived.
Deploy the same file to AWS with a Kafka trigger, or point the ``aws-lambda`` sink at it.
"""

import base64
import fcntl
import json
import os


def _decode(record, field):
    return json.loads(base64.b64decode(record[field])) if field in record else None


def handle(event, context):
    lines = []
    for records in event["records"].values():  # keyed "topic-partition"
        for record in records:
            lines.append(
                json.dumps(
                    {
                        "topic": record["topic"],
                        "partition": record["partition"],
                        "offset": record["offset"],
                        "key": _decode(record, "key"),
                        "value": _decode(record, "value"),
                    }
                )
            )
    with open(os.path.join(os.environ["LAMBDA_STORE"], "records.jsonl"), "a", encoding="utf-8") as store:
        fcntl.flock(store, fcntl.LOCK_EX)
        store.write("".join(line + "\n" for line in lines))
    return {"processed": len(lines), "requestId": context.aws_request_id}
