#!/usr/bin/env bash
# A mainframe VB dataset -> Kafka -> MongoDB, on the embedded defaults:
# the local Kafka broker, SecantusDB (a MongoDB-wire server from the dev extra) and the
# dataset emulator. Run from anywhere after `make setup`; it cleans up what it started
# (the worker and SecantusDB; the Kafka broker keeps running, as with `make demo`).
#
# Ports, overridable from the environment:
#   HEADWATER_KAFKA_PORT (9092)  HEADWATER_REST_PORT (8083)  HEADWATER_MONGO_PORT (27017)
#   HEADWATER_BOOTSTRAP_SERVERS  use this running Kafka instead of starting the local broker
#   HEADWATER_EXAMPLE_TIMEOUT seconds to wait for MongoDB to equal the emulator's state (300)
set -euo pipefail
cd "$(dirname "$0")/.."
# A checkout's .venv, else the environment `headwater` is installed in (after `headwater examples DIR`).
if [ -x .venv/bin/headwater ]; then BIN=.venv/bin; else BIN=$(dirname "$(command -v headwater)"); fi
KAFKA_PORT=${HEADWATER_KAFKA_PORT:-9092}
REST_PORT=${HEADWATER_REST_PORT:-8083}
MONGO_PORT=${HEADWATER_MONGO_PORT:-27017}
TIMEOUT=${HEADWATER_EXAMPLE_TIMEOUT:-300}
WORK=.headwater/mainframe-to-mongodb
# A topic of its own for each run: earlier runs (or the README's mainframe step, which
# writes mainframe.customers) never mix into what this run checks.
RUN=$(date +%s)
TOPIC="mainframe.customers.$RUN"
DATABASE="legacy_$RUN"
rm -rf "$WORK" demo-mainframe && mkdir -p "$WORK"

WORKER_PID=""
MONGO_PID=""
cleanup() {
  [ -n "$WORKER_PID" ] && kill -TERM "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null
  [ -n "$MONGO_PID" ] && kill "$MONGO_PID" 2>/dev/null && wait "$MONGO_PID" 2>/dev/null
  return 0
}
trap cleanup EXIT

if [ -n "${HEADWATER_BOOTSTRAP_SERVERS:-}" ]; then
  BOOTSTRAP=$HEADWATER_BOOTSTRAP_SERVERS
else
  BOOTSTRAP=$($BIN/headwater kafka start --port "$KAFKA_PORT" | tail -n 1)
fi
$BIN/secantusd-py --host 127.0.0.1 --port "$MONGO_PORT" --storage-path :memory: > "$WORK/mongodb.log" 2>&1 &
MONGO_PID=$!

$BIN/headwater emulator generate mainframe --scenario customers-vb --seed 1 --out demo-mainframe
$BIN/headwater emulator final-state mainframe --scenario customers-vb --seed 1 > "$WORK/expected.jsonl"

cat > "$WORK/worker.json" <<JSON
{"bootstrap.servers": "$BOOTSTRAP", "offset.storage.file.filename": "$WORK/offsets.json",
 "offset.flush.interval.ms": "1000", "rest.port": "$REST_PORT"}
JSON
# The example connector files, with this run's topic, database and ports.
$BIN/python - "$WORK" "$TOPIC" "$DATABASE" "$MONGO_PORT" <<'PY'
import json, sys
work, topic, database, mongo_port = sys.argv[1:]
source = json.load(open("examples/mainframe-customers.json"))
source["config"]["topic"] = topic
sink = json.load(open("examples/mainframe-to-mongodb.json"))
sink["config"].update({
    "topics": topic,
    "database": database,
    "connection.uri": f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true",
})
json.dump(source, open(f"{work}/source.json", "w"), indent=2)
json.dump(sink, open(f"{work}/sink.json", "w"), indent=2)
PY
$BIN/headwater standalone "$WORK/worker.json" "$WORK/source.json" "$WORK/sink.json" > "$WORK/worker.log" 2>&1 &
WORKER_PID=$!

# Poll until MongoDB equals the emulator's final state, document for document, or time out.
$BIN/python - "$WORK/expected.jsonl" "$DATABASE" "$MONGO_PORT" "$TIMEOUT" <<'PY'
import json, sys, time
from decimal import Decimal
import pymongo
expected_file, database, mongo_port, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
expected = {json.dumps(e["key"], sort_keys=True): e["row"]
            for e in map(lambda line: json.loads(line, parse_float=Decimal), open(expected_file))}
collection = pymongo.MongoClient(f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true")[database].customers

def plain(value):
    return value.to_decimal() if hasattr(value, "to_decimal") else value

def landed():
    return {json.dumps(doc.pop("_id"), sort_keys=True): {k: plain(v) for k, v in doc.items()}
            for doc in collection.find()}

deadline = time.time() + timeout
while True:
    current = landed()
    wrong = [key for key, row in expected.items() if current.get(key) != row]
    extra = [key for key in current if key not in expected]
    if not wrong and not extra:
        break
    if time.time() > deadline:
        print(f"after {timeout:.0f} s: {len(expected) - len(wrong)} of {len(expected)} documents equal the "
              f"emulator's final state, {len(extra)} unexpected", file=sys.stderr)
        sys.exit(1)
    time.sleep(1)
print(f"MongoDB {database}.customers holds {len(current)} documents; all {len(expected)} equal the emulator's "
      "final state")
print("one of them:", next(iter(current.values())))
PY
curl -s "http://127.0.0.1:$REST_PORT/connectors/mongodb-customers/status"; echo
kill -TERM "$WORKER_PID" && wait "$WORKER_PID" && echo "worker stopped cleanly"
WORKER_PID=""
