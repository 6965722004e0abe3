"""A handler that answers per record, as Confluent's Lambda sink expects of a function
whose results go to a response topic: a JSON array, one element per record of the event,
in order. A value with ``"short": true`` makes it answer one element too few."""

import base64
import json


def handle(event, context):
    records = [record for batch in event["records"].values() for record in batch]
    answers = []
    short = False
    for record in records:
        value = json.loads(base64.b64decode(record["value"])) if "value" in record else None
        short = short or (isinstance(value, dict) and value.get("short") is True)
        answers.append({"offset": record["offset"], "doubled": value["n"] * 2 if value else None})
    return answers[:-1] if short else answers
