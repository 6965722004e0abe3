#!/usr/bin/env bash
# A mainframe VB dataset -> Kafka -> MongoDB, on the embedded defaults:
# the local Kafka broker, SecantusDB (a MongoDB-wire server from the dev extra) on
# 127.0.0.1:27017, and the dataset emulator. Run from the repository root after `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
WORK=.headwater/mainframe-to-mongodb
rm -rf "$WORK" demo-mainframe && mkdir -p "$WORK"

$BIN/headwater kafka start
$BIN/secantusd-py --host 127.0.0.1 --port 27017 --storage-path :memory: > "$WORK/mongodb.log" 2>&1 &
MONGO_PID=$!
trap 'kill $MONGO_PID 2>/dev/null || true' EXIT

$BIN/headwater emulator generate mainframe --scenario customers-vb --seed 1 --out demo-mainframe
$BIN/headwater emulator final-state mainframe --scenario customers-vb --seed 1 > "$WORK/expected.jsonl"

cat > "$WORK/worker.json" <<JSON
{"bootstrap.servers": "127.0.0.1:9092", "offset.storage.file.filename": "$WORK/offsets.json",
 "offset.flush.interval.ms": "1000", "rest.port": "8083"}
JSON
$BIN/headwater standalone "$WORK/worker.json" examples/mainframe-customers.json examples/mainframe-to-mongodb.json \
  > "$WORK/worker.log" 2>&1 &
WORKER_PID=$!

# Wait until MongoDB holds every customer the emulator says should be there.
$BIN/python - "$WORK/expected.jsonl" <<'PY'
import json, sys, time
from decimal import Decimal
import pymongo
expected = {json.dumps(e["key"], sort_keys=True): e["row"]
            for e in map(lambda line: json.loads(line, parse_float=Decimal), open(sys.argv[1]))}
collection = pymongo.MongoClient("mongodb://127.0.0.1:27017/?directConnection=true").legacy.customers
deadline = time.time() + 300
while (count := collection.count_documents({})) < len(expected):
    if time.time() > deadline:
        sys.exit(f"only {count} of {len(expected)} documents after 300 s")
    time.sleep(1)
def plain(value):
    return value.to_decimal() if hasattr(value, "to_decimal") else value
landed = {json.dumps(doc.pop("_id"), sort_keys=True): {k: plain(v) for k, v in doc.items()} for doc in collection.find()}
wrong = [key for key, row in expected.items() if landed.get(key) != row]
print(f"MongoDB legacy.customers holds {count} documents; {len(expected) - len(wrong)} of {len(expected)} "
      "equal the emulator's final state")
print("one of them:", next(iter(landed.values())))
sys.exit(1 if wrong else 0)
PY
curl -s http://127.0.0.1:8083/connectors/mongodb-customers/status; echo
kill -TERM $WORKER_PID && wait $WORKER_PID && echo "worker stopped cleanly"
