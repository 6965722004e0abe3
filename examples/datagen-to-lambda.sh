#!/usr/bin/env bash
# datagen -> Kafka -> AWS Lambda, on the embedded defaults: the local Kafka broker and the
# local Lambda endpoint, whose handler (examples/lambda/esm_handler.py) runs inside AWS's own
# runtime client (awslambdaric, from the dev extra). Run from anywhere after `make setup`;
# it cleans up what it started (the worker and the endpoint; the Kafka broker keeps running).
#
# Ports, overridable from the environment:
#   HEADWATER_KAFKA_PORT (9092)  HEADWATER_REST_PORT (8083)  HEADWATER_LAMBDA_PORT (9001; +1 for the Runtime API)
#   HEADWATER_BOOTSTRAP_SERVERS  use this running Kafka instead of starting the local broker
#   HEADWATER_EXAMPLE_TIMEOUT    seconds to wait for every record to reach the handler (120)
set -euo pipefail
cd "$(dirname "$0")/.."
# A checkout's .venv, else the environment `headwater` is installed in (after `headwater examples DIR`).
if [ -x .venv/bin/headwater ]; then BIN=.venv/bin; else BIN=$(dirname "$(command -v headwater)"); fi
KAFKA_PORT=${HEADWATER_KAFKA_PORT:-9092}
REST_PORT=${HEADWATER_REST_PORT:-8083}
LAMBDA_PORT=${HEADWATER_LAMBDA_PORT:-9001}
TIMEOUT=${HEADWATER_EXAMPLE_TIMEOUT:-120}
WORK=$PWD/.headwater/datagen-to-lambda
PREFIX="demo$(date +%s)"   # topics of this run only
rm -rf "$WORK" && mkdir -p "$WORK"
export LAMBDA_STORE=$WORK AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local

WORKER_PID=""
ENDPOINT_PID=""
cleanup() {
  [ -n "$WORKER_PID" ] && kill -TERM "$WORKER_PID" 2>/dev/null && wait "$WORKER_PID" 2>/dev/null
  [ -n "$ENDPOINT_PID" ] && kill -INT "$ENDPOINT_PID" 2>/dev/null && wait "$ENDPOINT_PID" 2>/dev/null
  return 0
}
trap cleanup EXIT

if [ -n "${HEADWATER_BOOTSTRAP_SERVERS:-}" ]; then
  BOOTSTRAP=$HEADWATER_BOOTSTRAP_SERVERS
else
  BOOTSTRAP=$($BIN/headwater kafka start --port "$KAFKA_PORT" | tail -n 1)
fi
$BIN/python -m headwater.conformance.lambda_endpoint --port "$LAMBDA_PORT" \
  --function "esm-demo=$PWD/examples/lambda:esm_handler.handle" > "$WORK/endpoint.log" 2>&1 &
ENDPOINT_PID=$!

cat > "$WORK/worker.json" <<JSON
{"bootstrap.servers": "$BOOTSTRAP", "offset.storage.file.filename": "$WORK/offsets.json",
 "offset.flush.interval.ms": "1000", "rest.port": "$REST_PORT"}
JSON
$BIN/python - "$WORK" "$PREFIX" "$LAMBDA_PORT" <<'PY'
import json, sys
work, prefix, port = sys.argv[1:]
source = json.load(open("examples/datagen.json"))
source["config"].update({"topic.prefix": prefix, "count": "3000"})
sink = json.load(open("examples/lambda-sink.json"))
sink["config"].update({"topics.regex": prefix + r"\..*", "aws.lambda.endpoint.url": f"http://127.0.0.1:{port}",
                       "aws.lambda.response.topic": f"{prefix}-lambda-results"})
json.dump(source, open(f"{work}/source.json", "w"), indent=2)
json.dump(sink, open(f"{work}/sink.json", "w"), indent=2)
PY
until grep -q "Lambda endpoint on" "$WORK/endpoint.log"; do sleep 0.2; done
$BIN/headwater standalone "$WORK/worker.json" "$WORK/source.json" "$WORK/sink.json" > "$WORK/worker.log" 2>&1 &
WORKER_PID=$!

# Poll until the handler has seen every record of the run's topics, or time out.
$BIN/python - "$BOOTSTRAP" "$PREFIX" "$WORK/records.jsonl" "$TIMEOUT" <<'PY'
import json, os, sys, time
from confluent_kafka.admin import AdminClient
from headwater.conformance.kafka import consume_all
bootstrap, prefix, store, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
deadline = time.time() + timeout
time.sleep(3)  # let datagen finish its topics
topics = sorted(t for t in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
                if t.startswith(prefix + ".") )
produced = {(m.topic(), m.partition(), m.offset()) for t in topics for m in consume_all(bootstrap, t)}
while True:
    seen = set()
    if os.path.exists(store):
        seen = {(r["topic"], r["partition"], r["offset"]) for r in map(json.loads, open(store))}
    if produced <= seen:
        break
    if time.time() > deadline:
        print(f"after {timeout:.0f} s the handler has seen {len(seen & produced)} of {len(produced)} records",
              file=sys.stderr)
        sys.exit(1)
    time.sleep(1)
print(f"the Lambda handler saw all {len(produced)} records of {', '.join(topics)}")
results = consume_all(bootstrap, prefix + "-lambda-results", min_messages=1)
print(f"{len(results)} invocation results in {prefix}-lambda-results, e.g.",
      results[0].key().decode(), "->", results[0].value().decode())
PY
curl -s "http://127.0.0.1:$REST_PORT/connectors/lambda-demo/status"; echo
kill -TERM "$WORKER_PID" && wait "$WORKER_PID" && echo "worker stopped cleanly"
WORKER_PID=""
