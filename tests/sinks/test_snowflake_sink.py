"""The ``snowflake`` sink on fakesnow (the real snowflake-connector-python over HTTP) and the real broker."""

from __future__ import annotations

import importlib.util
import json
import sys
import typing as t
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.sink_suite import _as_sink_records, change_stream
from headwater.conformance.snowflake import shared_snowflake_server, snowflake_config
from headwater.conformance.standard import SinkHarness, _normalise, get_sink_test_class
from headwater.connectors.api import SinkRecord, SinkTaskContext
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import ConfigError
from headwater.sinks.snowflake import SnowflakeSinkConnector, SnowflakeSinkTask
from headwater.sinks.snowflake.client import connect
from headwater.sinks.snowflake.config import SnowflakeSinkConfig

# Not importorskip: importing fakesnow makes a fakesnow_bucket_* folder in /tmp.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("fakesnow") is None, reason="fakesnow is not installed")


def _config(tmp: Path, name: str, **keys: str) -> dict[str, str]:
    host, port = shared_snowflake_server()
    return snowflake_config(host, port, **{"buffer.flush.time": "0", **keys})


def _query(config: PluginConfig, sql: str) -> tuple[list[str], list[tuple[t.Any, ...]]]:
    assert isinstance(config, SnowflakeSinkConfig)
    client = connect(config)
    try:
        return client.columns(sql)
    finally:
        client.close()


def _exists(config: PluginConfig, table: str) -> bool:
    _, rows = _query(
        config,
        "SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES"
        f" WHERE TABLE_SCHEMA = CURRENT_SCHEMA() AND TABLE_NAME = '{table.upper()}'",
    )
    return bool(rows[0][0])


def read_cdc(config: PluginConfig, topic: str, key: tuple[str, ...] = ("id",)) -> dict[str, t.Any]:
    """The cdc table as canonical key -> row."""
    if not _exists(config, topic):
        return {}
    names, rows = _query(config, f"SELECT * FROM {topic}")
    state = {}
    for row in rows:
        document = dict(zip(names, row, strict=True))
        state[canonical_key({column: document[column] for column in key})] = document
    return state


def _raw_rows(config: PluginConfig, topic: str) -> list[tuple[dict[str, t.Any], t.Any]]:
    if not _exists(config, topic):
        return []
    _, rows = _query(config, f"SELECT RECORD_METADATA, RECORD_CONTENT FROM {topic}")
    parsed = [(json.loads(m), None if c is None else json.loads(c)) for m, c in rows]
    return sorted(parsed, key=lambda item: (item[0]["partition"], item[0]["offset"]))


def read_raw(config: PluginConfig, topic: str) -> dict[str, t.Any]:
    """The raw table folded by key, in offset order."""
    return fold((json.loads(m["key"]), c) for m, c in _raw_rows(config, topic))


TestSnowflakeCdcSink = get_sink_test_class(
    SinkHarness(
        connector_class=SnowflakeSinkConnector,
        make_config=lambda tmp, name: _config(tmp, name, **{"snowflake.ingestion.mode": "cdc"}),
        read_state=read_cdc,
        bad_value="not a change event",
    )
)

# raw rows are appended, so the row count is the write count: a duplicate would show.
TestSnowflakeRawSink = get_sink_test_class(
    SinkHarness(
        connector_class=SnowflakeSinkConnector,
        make_config=lambda tmp, name: _config(tmp, name),
        read_state=read_raw,
        count_writes=lambda config, topic: len(_raw_rows(config, topic)),
    )
)


def _task(
    name: str, **keys: str
) -> tuple[SnowflakeSinkConfig, SnowflakeSinkTask, list[tuple[SinkRecord, BaseException]]]:
    config = SnowflakeSinkConfig.model_validate(_config(Path(), name, **keys))
    reported: list[tuple[SinkRecord, BaseException]] = []
    task = SnowflakeSinkTask(config, SinkTaskContext(f"c-{name}", 0, report=lambda r, e: reported.append((r, e))))
    return config, task, reported


def test_raw_layout_has_content_and_metadata(tmp_path: Path) -> None:
    topic = f"raw_{uuid.uuid4().hex[:8]}"
    config, task, reported = _task(topic)
    records = [
        SinkRecord(
            topic, 2, 10, {"id": 1}, {"a": 1, "amount": Decimal("2.50")}, (("trace", b"x1"),), 1_700_000_000_123
        ),
        SinkRecord(topic, 2, 11, "k2", "plain text", (), 1_700_000_000_124),
        SinkRecord(topic, 2, 12, None, None, (), None),
        # A topic with message.timestamp.type=LogAppendTime: the field is named as Snowflake's connector names it.
        SinkRecord(topic, 2, 13, None, 1, (), 1_700_000_000_125, timestamp_type="LogAppendTime"),
    ]
    try:
        assert task.open([(topic, 2)]) == {(topic, 2): None}
        task.put(records)
        task.flush()
        assert task.pre_commit({(topic, 2): 14}) == {(topic, 2): 14}
    finally:
        task.stop()
    assert not reported
    rows = _raw_rows(config, topic)
    assert rows[0] == (
        {
            "topic": topic,
            "partition": 2,
            "offset": 10,
            "CreateTime": 1_700_000_000_123,
            "key": '{"id":1}',
            "headers": {"trace": "x1"},
        },
        {"a": 1, "amount": "2.50"},
    )
    assert rows[1] == (
        {"topic": topic, "partition": 2, "offset": 11, "CreateTime": 1_700_000_000_124, "key": "k2"},
        "plain text",
    )
    assert rows[2] == ({"topic": topic, "partition": 2, "offset": 12}, None)
    assert rows[3] == ({"topic": topic, "partition": 2, "offset": 13, "LogAppendTime": 1_700_000_000_125}, 1)


@pytest.mark.parametrize(
    ("toggles", "expected"),
    [
        (
            {"snowflake.metadata.createtime": "false", "snowflake.metadata.offset.and.partition": "false"},
            {"topic": "T", "key": "k1", "headers": {"h": "v"}},
        ),
        (
            {"snowflake.metadata.topic": "false"},
            {"partition": 1, "offset": 5, "CreateTime": 7, "key": "k1", "headers": {"h": "v"}},
        ),
        ({"snowflake.metadata.all": "false", "snowflake.metadata.topic": "true"}, {}),
    ],
)
def test_raw_metadata_toggles_leave_keys_out(toggles: dict[str, str], expected: dict[str, t.Any]) -> None:
    """Snowflake's connector toggles: createtime, topic, offset.and.partition drop their
    keys from RECORD_METADATA; ``all=false`` leaves it empty whatever the others say."""
    topic = f"meta_{uuid.uuid4().hex[:8]}"
    config, task, _ = _task(topic, **toggles)
    try:
        task.put([SinkRecord(topic, 1, 5, "k1", {"a": 1}, (("h", b"v"),), 7)])
        task.flush()
        assert task.pre_commit({(topic, 1): 6}) == {(topic, 1): 6}
    finally:
        task.stop()
    _, rows = _query(config, f"SELECT RECORD_METADATA, RECORD_CONTENT FROM {topic}")
    assert [(json.loads(m), json.loads(c)) for m, c in rows] == [
        ({**expected, "topic": topic} if "topic" in expected else expected, {"a": 1})
    ]


def test_raw_large_batch_goes_through_the_stage_exactly_once(tmp_path: Path) -> None:
    topic = f"rawbig_{uuid.uuid4().hex[:8]}"
    messages = change_stream(count=3000, keys=300)
    records = _as_sink_records(topic, messages)
    config, task, _ = _task(topic, **{"snowflake.stage.threshold.records": "100"})
    try:
        task.open([(topic, 0)])
        task.put(records[:2000])
        task.flush()
    finally:
        task.stop()
    # a new task (a restart) resumes from the stored offset; a replay from the start writes nothing twice
    _, task, _ = _task(topic, **{"snowflake.stage.threshold.records": "100"})
    try:
        assert task.open([(topic, 0)]) == {(topic, 0): 2000}
        task.put(records)
        task.flush()
    finally:
        task.stop()
    offsets = [m["offset"] for m, _ in _raw_rows(config, topic)]
    assert offsets == list(range(len(records)))
    assert _normalise(read_raw(config, topic)) == _normalise(fold(messages))


def _event(op: str, row: dict[str, t.Any] | None, before: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    return {"before": before, "after": row, "source": {}, "op": op, "ts_ms": 0}


def test_cdc_last_event_per_key_wins_deletes_apply_and_a_new_column_is_added(tmp_path: Path) -> None:
    topic = f"cdc_{uuid.uuid4().hex[:8]}"
    config, task, reported = _task(topic, **{"snowflake.ingestion.mode": "cdc"})
    first = [
        ({"id": 1}, _event("c", {"id": 1, "name": "a", "qty": 1})),
        ({"id": 2}, _event("c", {"id": 2, "name": "b", "qty": 2})),
        ({"id": 1}, _event("u", {"id": 1, "name": "a2", "qty": 3})),
        ({"id": 3}, _event("c", {"id": 3, "name": "c", "qty": 4})),
        ({"id": 3}, _event("d", None, {"id": 3, "name": "c", "qty": 4})),
        ({"id": 3}, None),
    ]
    second = [  # the source added a column
        ({"id": 2}, _event("u", {"id": 2, "name": "b2", "qty": 5, "city": "Oslo"})),
        ({"id": 4}, _event("r", {"id": 4, "name": "d", "qty": 6, "city": None})),
        ({"id": 1}, _event("d", None, {"id": 1})),
        ({"id": 1}, _event("c", {"id": 1, "name": "back", "qty": 7, "city": "Rome"})),
        ({"id": 4}, {"before": None, "after": {"id": 4, "name": "x", "qty": "not a number"}, "op": "u"}),
    ]
    executed: list[str] = []
    real = task.client.execute
    task.client.execute = lambda sql, params=None: executed.append(sql) or real(sql, params)  # type: ignore[method-assign]
    try:
        task.put(_as_sink_records(topic, first))
        task.flush()
        assert _normalise(read_cdc(config, topic)) == _normalise(fold(first))
        task.put(_as_sink_records(topic, second, start=len(first)))
        task.flush()
    finally:
        task.stop()
    # one MERGE per batch applies it (no DELETE or INSERT on the table itself)
    changes = [sql.split(" ", 1)[0] for sql in executed if f" {topic} " in sql]
    assert [kind for kind in changes if kind not in ("CREATE", "ALTER")] == ["MERGE", "MERGE"]
    assert [r.offset for r, _ in reported] == [len(first) + 4]
    assert "qty" in str(reported[0][1])
    expected = fold([*first, *second[:-1]])
    expected[canonical_key({"id": 4})] = {"id": 4, "name": "d", "qty": 6, "city": None}
    assert _normalise(read_cdc(config, topic)) == _normalise(
        {key: {"city": None, **row} for key, row in expected.items()}
    )


def _column_types(config: PluginConfig, table: str) -> dict[str, tuple[str, t.Any, t.Any]]:
    _, types = _query(
        config,
        "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS"
        f" WHERE TABLE_SCHEMA = CURRENT_SCHEMA() AND TABLE_NAME = '{table.upper()}'",
    )
    return {name: (kind, precision, scale) for name, kind, precision, scale in types}


def test_cdc_a_column_seen_only_as_null_gets_its_type_from_the_first_value() -> None:
    """Without a schema a null says nothing of a column's type: the column is added when a
    value comes, with that value's type (not VARCHAR for ever)."""
    topic = f"nulls_{uuid.uuid4().hex[:8]}"
    config, task, reported = _task(topic, **{"snowflake.ingestion.mode": "cdc"})
    first = [
        ({"id": 1}, _event("c", {"id": 1, "qty": None, "seen": None})),
        ({"id": 2}, _event("c", {"id": 2, "qty": None, "seen": None})),
    ]
    second = [
        ({"id": 2}, _event("u", {"id": 2, "qty": 7, "seen": None})),
        ({"id": 3}, _event("c", {"id": 3, "qty": None, "seen": True})),
    ]
    try:
        task.put(_as_sink_records(topic, first))
        task.flush()
        assert set(_column_types(config, topic)) == {"id"}
        task.put(_as_sink_records(topic, second, start=len(first)))
        task.flush()
    finally:
        task.stop()
    assert not reported
    kinds = _column_types(config, topic)
    assert kinds["qty"] == ("NUMBER", 38, 0)
    assert kinds["seen"][0] == "BOOLEAN"
    assert read_cdc(config, topic) == {
        canonical_key({"id": 1}): {"id": 1, "qty": None, "seen": None},
        canonical_key({"id": 2}): {"id": 2, "qty": 7, "seen": None},
        canonical_key({"id": 3}): {"id": 3, "qty": None, "seen": True},
    }


@pytest.mark.parametrize("mode", ["raw", "cdc"])
def test_a_crash_before_commit_leaves_nothing_and_the_retry_writes_once(mode: str) -> None:
    """A failure inside the transaction (after the rows were loaded and, in cdc mode, after
    the MERGE ran) rolls the rows back with the offsets; the records stay buffered and the
    next flush writes them once."""
    topic = f"crash_{mode}_{uuid.uuid4().hex[:8]}"
    config, task, _ = _task(topic, **{"snowflake.ingestion.mode": mode})
    messages = change_stream(count=50)
    records = _as_sink_records(topic, messages)
    end = len(records)
    statements: list[str] = []
    real = task.client.execute

    def failing(sql: str, params: t.Any = None) -> t.Any:
        if sql.startswith("INSERT INTO HEADWATER_KAFKA_OFFSETS") and "failed" not in statements:
            statements.append("failed")
            msg = "connection reset"
            raise ConnectionError(msg)
        statements.append(sql.split(" ", 1)[0])
        return real(sql, params)

    task.client.execute = failing  # type: ignore[method-assign]
    try:
        task.open([(topic, 0)])
        with pytest.raises(ConnectionError):
            task.put(records)  # due at once (buffer.flush.time=0)
        if mode == "raw":
            assert _raw_rows(config, topic) == []  # rolled back with its offsets
        else:
            assert "MERGE" in statements
            assert read_cdc(config, topic) == {}  # the MERGE rolled back with its offsets
        task.put(records)  # the runtime redelivers the batch: buffered already, not added twice
        assert task.pre_commit({(topic, 0): end}) == {(topic, 0): end}  # the due batch is written now
    finally:
        task.stop()
    if mode == "raw":
        assert [m["offset"] for m, _ in _raw_rows(config, topic)] == list(range(end))
    else:
        assert _normalise(read_cdc(config, topic)) == _normalise(fold(messages))


@pytest.mark.parametrize("headers", [True, False])
def test_key_pair_login_with_an_encrypted_key(headers: bool) -> None:
    """``snowflake.private.key`` as a whole PEM or as its base64 body only (as Snowflake's
    connector takes it), encrypted with ``snowflake.private.key.passphrase``: the driver
    signs its login with it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    ).decode()
    if not headers:
        pem = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    keys = _config(Path(), "kp")
    del keys["snowflake.password"]
    config = SnowflakeSinkConfig.model_validate(
        {**keys, "snowflake.private.key": pem, "snowflake.private.key.passphrase": "pw"}
    )
    client = connect(config)
    try:
        assert client.execute("SELECT 1") == [(1,)]
    finally:
        client.close()


def test_config_needs_an_account_and_a_secret() -> None:
    with pytest.raises(ValueError, match=r"snowflake\.url\.name"):
        SnowflakeSinkConfig.model_validate(
            {
                "snowflake.user.name": "u",
                "snowflake.password": "p",
                "snowflake.database.name": "D",
                "snowflake.schema.name": "S",
            }
        )
    config = SnowflakeSinkConfig.model_validate(
        {
            "snowflake.url.name": "https://myorg-acct.snowflakecomputing.com:443",
            "snowflake.user.name": "u",
            "snowflake.private.key": "MIIE...",
            "snowflake.database.name": "D",
            "snowflake.schema.name": "S",
            "snowflake.topic2table.map": "orders:ORDERS_RAW, a.b:AB",
        }
    )
    assert config.account == "myorg-acct"
    assert config.table("orders") == "ORDERS_RAW"
    assert config.table("7-x.y") == "_7_x_y"
    assert "MIIE" not in repr(config)
    assert {"snowflake.private.key", "snowflake.password", "snowflake.private.key.passphrase"} <= (
        SnowflakeSinkConfig.secret_keys()
    )
    assert ConfigError  # the driver-missing error is a ConfigError (see client.connect)


def test_cdc_column_types_come_from_the_record_schema() -> None:
    """Decimal(p,s) -> NUMBER(p,s), Debezium Date/MicroTimestamp -> DATE/TIMESTAMP_NTZ, bytes -> BINARY."""
    import datetime as dt

    from headwater.codecs.schema import Schema, Type, debezium, decimal_of, struct

    topic = f"typed_{uuid.uuid4().hex[:8]}"
    config, task, reported = _task(topic, **{"snowflake.ingestion.mode": "cdc"})
    row_schema = struct(
        {
            "id": Schema(Type.INT32),
            "price": decimal_of(3, precision=12),
            "born": debezium.DATE,
            "seen": debezium.MICRO_TIMESTAMP,
            "at": debezium.ZONED_TIMESTAMP,
            "blob": Schema(Type.BYTES, is_optional=True),
            "note": Schema(Type.INT64, is_optional=True),  # always null here: typed from the schema
        },
        optional=True,
    )
    value_schema = struct({"before": row_schema, "after": row_schema, "op": Schema(Type.STRING)})
    row = {
        "id": 5,
        "price": Decimal("12.500"),
        "born": 19_000,
        "seen": 1_700_000_000_123_456,
        "at": "2023-11-14T22:13:20.5+02:00",
        "blob": b"\x00\xff",
        "note": None,
    }
    key_schema = struct({"id": Schema(Type.INT32), "region": Schema(Type.INT16)})
    record = SinkRecord(
        topic,
        0,
        0,
        {"id": 5, "region": 3},  # a key column the row does not hold: typed from the key's schema
        {"before": None, "after": row, "op": "c"},
        (),
        0,
        key_schema=key_schema,
        value_schema=value_schema,
    )
    try:
        task.put([record])
        task.flush()
    finally:
        task.stop()
    assert not reported
    kinds = _column_types(config, topic)
    assert kinds["price"] == ("NUMBER", 12, 3)
    assert kinds["note"] == ("NUMBER", 19, 0)
    assert kinds["region"] == ("NUMBER", 5, 0)
    assert kinds["born"][0] == "DATE"
    assert kinds["seen"][0].startswith("TIMESTAMP")
    assert kinds["at"][0] == "TIMESTAMP_TZ"
    assert kinds["blob"][0] == "BINARY"
    assert read_cdc(config, topic, ("id", "region"))[canonical_key({"id": 5, "region": 3})] == {
        "id": 5,
        "region": 3,
        "note": None,
        "price": Decimal("12.500"),
        "born": dt.date(1970, 1, 1) + dt.timedelta(days=19_000),
        "seen": dt.datetime(2023, 11, 14, 22, 13, 20, 123456),
        "at": dt.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "blob": bytearray(b"\x00\xff"),
    }


_CHILD = """
import os, signal, sys
from headwater.conformance.sink_suite import _as_sink_records, change_stream
from headwater.connectors.api import SinkTaskContext
from headwater.sinks.snowflake import SnowflakeSinkTask
from headwater.sinks.snowflake.config import SnowflakeSinkConfig
import json
import sys

config = SnowflakeSinkConfig.model_validate(json.loads(sys.argv[1]))
topic = sys.argv[2]
task = SnowflakeSinkTask(config, SinkTaskContext("kill9-" + topic, 0))
records = _as_sink_records(topic, change_stream(count=300, keys=40))
real = task.client.execute
writes = 0

def execute(sql, params=None):
    global writes
    if config.snowflake_ingestion_mode == "cdc" and " USING " in sql:
        writes += 1
        if writes == 3:  # the batch is loaded and committed, its MERGE not run
            os.kill(os.getpid(), signal.SIGKILL)
    result = real(sql, params)
    if config.snowflake_ingestion_mode == "raw" and sql.startswith("INSERT INTO HEADWATER_KAFKA_OFFSETS"):
        writes += 1
        if writes == 3:  # rows and offsets written, not committed
            os.kill(os.getpid(), signal.SIGKILL)
    return result

task.client.execute = execute
task.open([(topic, 0)])
for start in range(0, len(records), 100):
    task.put(records[start : start + 100])
    task.flush()
"""


@pytest.mark.parametrize("mode", ["raw", "cdc"])
def test_kill_9_mid_flush_then_restart_neither_loses_nor_duplicates(mode: str) -> None:
    """A process killed inside its third batch (raw: rows and offsets written, not
    committed; cdc: the batch loaded and committed to the load table, its MERGE not run);
    a new task resumes from the stored offsets. fakesnow never rolls back a dead session's
    transaction (Snowflake aborts it when the session expires; checked: a later MERGE of
    the same rows fails with DuckDB's "Conflict on update"), so in cdc mode the kill comes
    before the batch's MERGE."""
    import subprocess
    import sys

    topic = f"kill_{mode}_{uuid.uuid4().hex[:8]}"
    keys = _config(Path(), topic, **{"snowflake.ingestion.mode": mode, "snowflake.stage.threshold.records": "50"})
    child = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(keys), topic], capture_output=True, timeout=120)
    assert child.returncode == -9, child.stderr.decode()[-2000:]

    messages = change_stream(count=300, keys=40)
    records = _as_sink_records(topic, messages)
    config = SnowflakeSinkConfig.model_validate(keys)
    task = SnowflakeSinkTask(config, SinkTaskContext(f"kill9-{topic}", 0))
    try:
        stored = task.open([(topic, 0)])[(topic, 0)]
        assert stored == 200  # two batches committed, the third died before its COMMIT
        task.put(records[stored:])  # the consumer rewinds to the stored offset
        task.flush()
    finally:
        task.stop()
    if mode == "raw":
        assert [m["offset"] for m, _ in _raw_rows(config, topic)] == list(range(len(records)))
    else:
        assert _normalise(read_cdc(config, topic)) == _normalise(fold(messages))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("OperationalError", "RetriableError"),  # network, login, timeouts
        ("ServiceUnavailableError", "RetriableError"),
        ("ProgrammingError", "FatalError"),  # SQL Snowflake refuses
    ],
)
def test_driver_errors_are_named_for_the_remedy(error: str, expected: str) -> None:
    from snowflake.connector import errors

    from headwater.connectors import errors as headwater_errors
    from headwater.sinks.snowflake.client import DriverClient

    class Cursor:
        def execute(self, sql: str, params: t.Any) -> t.Any:
            raise getattr(errors, error)(msg="boom", errno=1)

    class Connection:
        def cursor(self) -> Cursor:
            return Cursor()

    with pytest.raises(getattr(headwater_errors, expected)) as caught:
        DriverClient(Connection()).execute("INSERT INTO T VALUES (1)")
    assert isinstance(caught.value.__cause__, errors.Error)


def test_a_suspended_warehouse_is_retried() -> None:
    from snowflake.connector import errors

    from headwater.connectors.errors import RetriableError
    from headwater.sinks.snowflake.client import DriverClient

    class Cursor:
        def execute(self, sql: str, params: t.Any) -> t.Any:
            raise errors.ProgrammingError(msg="No active warehouse selected in the current session", errno=606)

    class Connection:
        def cursor(self) -> Cursor:
            return Cursor()

    with pytest.raises(RetriableError):
        DriverClient(Connection()).execute("COPY INTO T FROM @S")


def test_raw_tombstones_can_be_ignored() -> None:
    topic = f"nulls_{uuid.uuid4().hex[:8]}"
    config, task, _ = _task(topic, **{"behavior.on.null.values": "ignore"})
    records = [
        SinkRecord(topic, 0, 0, "a", {"v": 1}, (), 1),
        SinkRecord(topic, 0, 1, "a", None, (), 2),
        SinkRecord(topic, 0, 2, "b", {"v": 2}, (), 3),
    ]
    try:
        task.put(records)
        task.flush()
        assert task.pre_commit({(topic, 0): 3}) == {(topic, 0): 3}
    finally:
        task.stop()
    assert [(m["offset"], c) for m, c in _raw_rows(config, topic)] == [(0, {"v": 1}), (2, {"v": 2})]


def test_the_test_server_leaves_no_stage_folders_behind() -> None:
    """fakesnow makes a ``fakesnow_bucket_*`` folder for its stages when it starts: it lands
    in the server's own temporary folder, which ``stop`` removes."""
    from headwater.conformance.snowflake import FakesnowServer

    server = FakesnowServer()
    server.start()
    tmp_dir = server.tmp_dir
    try:
        assert tmp_dir is not None
        assert [path.name[:16] for path in tmp_dir.iterdir()] == ["fakesnow_bucket_"]
    finally:
        server.stop()
    assert not tmp_dir.exists()
    assert "fakesnow" not in sys.modules  # importing it here would leave a folder in /tmp


def test_a_record_that_does_not_fit_is_reported_once_across_a_retry() -> None:
    """The write fails after the bad record was reported: the retry writes the others
    and does not send the bad one to the dead-letter topic again."""
    topic = f"badretry_{uuid.uuid4().hex[:8]}"
    config, task, reported = _task(topic, **{"snowflake.ingestion.mode": "cdc"})
    messages = [
        ({"id": 1}, _event("c", {"id": 1, "qty": 1})),
        ({"id": 2}, _event("c", {"id": 2, "qty": "many"})),  # qty is NUMBER by now
        ({"id": 3}, _event("c", {"id": 3, "qty": 3})),
    ]
    failed: list[str] = []
    real = task.client.execute

    def failing(sql: str, params: t.Any = None) -> t.Any:
        if sql.startswith("INSERT INTO HEADWATER_KAFKA_OFFSETS") and not failed:
            failed.append(sql)
            msg = "connection reset"
            raise ConnectionError(msg)
        return real(sql, params)

    task.client.execute = failing  # type: ignore[method-assign]
    try:
        with pytest.raises(ConnectionError):
            task.put(_as_sink_records(topic, messages))
        task.flush()
    finally:
        task.stop()
    assert [r.offset for r, _ in reported] == [1]
    assert _normalise(read_cdc(config, topic)) == _normalise(fold([messages[0], messages[2]]))


def test_superseded_offset_rows_are_deleted_as_writes_go(monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.sinks.snowflake import task as task_module

    monkeypatch.setattr(task_module, "_OFFSET_ROWS_KEPT", 3)
    topic = f"offrows_{uuid.uuid4().hex[:8]}"
    config, task, _ = _task(topic)
    try:
        task.open([(topic, 0)])
        for offset in range(7):  # one write each
            task.put([SinkRecord(topic, 0, offset, "k", {"n": offset}, (), 0)])
            task.flush()
    finally:
        task.stop()
    _, rows = _query(
        config, f"SELECT NEXT_OFFSET FROM HEADWATER_KAFKA_OFFSETS WHERE CONNECTOR = 'c-{topic}' ORDER BY 1"
    )
    assert [offset for (offset,) in rows] == [6, 7]  # the 3rd and 6th writes deleted the rows before them
    _, task, _ = _task(topic)
    try:
        assert task.open([(topic, 0)]) == {(topic, 0): 7}
    finally:
        task.stop()
    assert len(_raw_rows(config, topic)) == 7


@pytest.mark.parametrize(
    ("value", "column", "expected"),
    [
        (12345, "NUMBER(5,0)", True),
        (123456, "NUMBER(5,0)", False),  # Snowflake would refuse the whole MERGE
        (-99, "NUMBER(3,1)", True),
        (-999, "NUMBER(3,1)", False),
        (0, "NUMBER(3,3)", True),
        (Decimal("12.500"), "NUMBER(5,3)", True),
        (Decimal("123.5"), "NUMBER(5,3)", False),  # 3 integer digits, room for 2
        (Decimal("1.2345"), "NUMBER(10,3)", False),  # more scale than the column
        (Decimal("0.005"), "NUMBER(3,3)", True),
        (True, "NUMBER(38,0)", False),
        ("2023-11-14", "DATE", True),
        ("14/11/2023", "DATE", False),
        ("2023-11-14T22:13:20.5+02:00", "TIMESTAMP_TZ", True),
        ("2023-11-14T22:13:20Z", "TIMESTAMP_NTZ", True),
        ("yesterday", "TIMESTAMP_NTZ", False),
        (1_700_000_000_000, "TIMESTAMP_NTZ", True),
        ("x", "BOOLEAN", False),
        ({"a": 1}, "VARIANT", True),
        (None, "DATE", True),
    ],
)
def test_what_fits_a_column(value: t.Any, column: str, expected: bool) -> None:
    from headwater.sinks.snowflake.columns import fits

    assert fits(value, column) is expected


def test_cdc_types_from_schemas_the_json_converter_reads() -> None:
    """Events written and read back by the JSON converter with schemas (as the runtime
    hands them over, key_schema and value_schema set): Connect's Decimal, Date and
    Timestamp logical types and a field that is null in every event get their types."""
    import datetime as dt

    from headwater.codecs import schema as s
    from headwater.codecs.converters import JsonConverter

    topic = f"jsonschema_{uuid.uuid4().hex[:8]}"
    row_schema = s.struct(
        {
            "id": s.Schema(s.Type.INT64),
            "price": s.decimal_of(2, precision=9),
            "born": s.DATE,
            "seen": s.TIMESTAMP,
            "rank": s.Schema(s.Type.INT32, is_optional=True),
        },
        optional=True,
    )
    value_schema = s.struct({"before": row_schema, "after": row_schema, "op": s.Schema(s.Type.STRING)})
    key_schema = s.struct({"id": s.Schema(s.Type.INT64)})
    converter = JsonConverter(schemas_enable=True)
    rows = [
        {"id": 1, "price": Decimal("10.50"), "born": dt.date(1990, 5, 17), "seen": dt.datetime(2024, 1, 2, 3, 4, 5)},
        {"id": 2, "price": Decimal("0.99"), "born": dt.date(2001, 1, 1), "seen": dt.datetime(2024, 6, 1)},
    ]
    records = []
    for offset, row in enumerate(rows):
        key = converter.to_connect_data(topic, converter.from_connect_data(topic, key_schema, {"id": row["id"]}))
        event = {"before": None, "after": {**row, "rank": None}, "op": "c"}
        value = converter.to_connect_data(topic, converter.from_connect_data(topic, value_schema, event))
        assert value.schema is not None
        records.append(
            SinkRecord(
                topic, 0, offset, key.value, value.value, (), 0, key_schema=key.schema, value_schema=value.schema
            )
        )
    config, task, reported = _task(topic, **{"snowflake.ingestion.mode": "cdc"})
    try:
        task.put(records)
        task.flush()
    finally:
        task.stop()
    assert not reported
    kinds = _column_types(config, topic)
    assert kinds["price"] == ("NUMBER", 9, 2)
    assert kinds["born"][0] == "DATE"
    assert kinds["seen"][0] == "TIMESTAMP_NTZ"
    assert kinds["rank"] == ("NUMBER", 10, 0)
    assert read_cdc(config, topic) == {canonical_key({"id": row["id"]}): {**row, "rank": None} for row in rows}
