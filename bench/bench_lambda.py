"""Benchmark: the ``aws-lambda`` sink against a raw boto3 invoke loop, same batches, same endpoint, one run.

Both sides invoke the same local endpoint (:mod:`headwater.conformance.lambda_endpoint`),
whose handler runs inside AWS's ``awslambdaric`` with ``--concurrency`` runtime clients:
the sink through ``put`` + ``flush`` (ESM payloads, ``aws.lambda.max.concurrency`` =
concurrency), the raw side as a thread pool of the same size calling ``invoke`` with the
same partitions cut into the same batches, building each ESM event with ``json.dumps``.
Runs alternate; the median of each side is reported. ``.venv/bin/python
bench/bench_lambda.py [--records 20000] [--runs 3] [--write]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from report import machine_description, write_section

from headwater.conformance.lambda_endpoint import LambdaEndpoint
from headwater.connectors.api import SinkRecord, SinkTaskContext
from headwater.sinks.aws_lambda import LambdaSinkTask
from headwater.sinks.aws_lambda.config import LambdaSinkConfig

PORT = 21250
PARTITIONS = 4
BATCH = 100

HANDLER = """
import base64

def handle(event, context):
    n = 0
    for records in event["records"].values():
        for record in records:
            base64.b64decode(record.get("value", ""))
            n += 1
    return {"processed": n}
"""


def make_records(count: int) -> list[SinkRecord]:
    return [
        SinkRecord(
            "bench",
            i % PARTITIONS,
            i // PARTITIONS,
            b'{"id":%d}' % i,
            b'{"id":%d,"name":"customer %d","balance":"1234.50","active":true}' % (i, i),
            (),
            1_700_000_000_000 + i,
        )
        for i in range(count)
    ]


def run_sink(url: str, records: list[SinkRecord], concurrency: int) -> tuple[float, int]:
    config = LambdaSinkConfig.model_validate(
        {
            "aws.lambda.function.name": "bench",
            "aws.lambda.endpoint.url": url,
            "aws.access.key.id": "bench",
            "aws.secret.access.key": "bench",
            "aws.lambda.batch.size": str(BATCH),
            "aws.lambda.max.concurrency": str(concurrency),
        }
    )
    task = LambdaSinkTask(config, SinkTaskContext("bench", 0))
    start = time.perf_counter()
    task.put(records)
    task.flush()
    elapsed = time.perf_counter() - start
    task.stop()
    return elapsed, -(-len(records) // BATCH)


def run_raw(url: str, records: list[SinkRecord], concurrency: int) -> float:
    client = boto3.client(
        "lambda", endpoint_url=url, region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
    )
    by_partition: dict[int, list[SinkRecord]] = {}
    for record in records:
        by_partition.setdefault(record.partition, []).append(record)

    def partition_loop(partition: int) -> None:
        rows = by_partition[partition]
        for i in range(0, len(rows), BATCH):
            event = {
                "eventSource": "SelfManagedKafka",
                "bootstrapServers": "",
                "records": {
                    f"bench-{partition}": [
                        {
                            "topic": r.topic,
                            "partition": r.partition,
                            "offset": r.offset,
                            "timestamp": r.timestamp_ms,
                            "timestampType": "CREATE_TIME",
                            "key": base64.b64encode(r.key).decode(),
                            "value": base64.b64encode(r.value).decode(),
                            "headers": [],
                        }
                        for r in rows[i : i + BATCH]
                    ]
                },
            }
            response = client.invoke(FunctionName="bench", Payload=json.dumps(event).encode())
            response["Payload"].read()
            assert "FunctionError" not in response

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(partition_loop, by_partition))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=PARTITIONS)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    records = make_records(args.records)
    sink_times, raw_times = [], []
    with tempfile.TemporaryDirectory(prefix="bench-lambda-") as folder:
        (Path(folder) / "bench_handler.py").write_text(HANDLER)
        with LambdaEndpoint(PORT) as endpoint:
            endpoint.add_function(
                "bench", folder, "bench_handler.handle", runtime_port=PORT + 1, concurrency=args.concurrency
            )
            run_sink(endpoint.url, records[:1000], args.concurrency)  # warm up both paths
            run_raw(endpoint.url, records[:1000], args.concurrency)
            for _ in range(args.runs):
                elapsed, invocations = run_sink(endpoint.url, records, args.concurrency)
                sink_times.append(elapsed)
                raw_times.append(run_raw(endpoint.url, records, args.concurrency))
    sink_s, raw_s = statistics.median(sink_times), statistics.median(raw_times)
    sink_rate, raw_rate = args.records / sink_s, args.records / raw_s
    report = (
        "## AWS Lambda sink\n\n"
        f"Machine: {machine_description()}; the local Lambda endpoint and {args.concurrency} `awslambdaric` "
        "runtime clients on the same machine.\n\n"
        f"Workload: {args.records:,} records (~90-byte JSON values) over {PARTITIONS} partitions, ESM payloads of "
        f"{BATCH} records ({invocations} invocations per run), {args.concurrency} invocations in flight; "
        f"median of {args.runs} alternating runs per side.\n\n"
        "| Path | records/s | invocations/s |\n|---|---:|---:|\n"
        f"| `LambdaSinkTask.put` + `flush` | {sink_rate:,.0f} | {invocations / sink_s:,.0f} |\n"
        f"| raw boto3 `invoke` loop, a thread per partition, same batches | {raw_rate:,.0f} | "
        f"{invocations / raw_s:,.0f} |\n"
        f"| **ratio sink / raw** | **{sink_rate / raw_rate:.2f}** (goal ≥ 0.8) | |\n\n"
        "The endpoint and the handler processes share the 2 cores with the client, so both sides are bound by "
        "the local round trip; the ratio is what the sink adds.\n"
        "Reproduce: `.venv/bin/python bench/bench_lambda.py --write`.\n"
    )
    print(report)
    if args.write:
        write_section(report)


if __name__ == "__main__":
    main()
