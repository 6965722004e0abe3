"""The per-transaction buffer against a reference model, on random interleavings:
commits come out in commit order with exactly the changes that were not undone, CSF rows
are joined, rolled-back transactions vanish, spilling to disk changes nothing."""

from __future__ import annotations

import datetime as dt
import tempfile
import typing as t
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.connectors.oracle.buffer import TransactionBuffer
from headwater.connectors.oracle.client import LogMinerRow

_STAMP = dt.datetime(2026, 1, 1)


def _row(scn: int, xid: str, code: int, **fields: t.Any) -> LogMinerRow:
    base: dict[str, t.Any] = {
        "start_scn": None, "commit_scn": None, "timestamp": _STAMP, "operation": "X", "seg_owner": "S",
        "table_name": "T", "row_id": None, "rollback": 0, "rs_id": " 0x1 ", "ssn": 0, "csf": 0, "thread": 1,
        "info": None, "status": 0, "sql_redo": "",
    }  # fmt: skip
    base.update(fields)
    return LogMinerRow(scn=scn, xid=xid, operation_code=code, **base)


# A step: (transaction index, action, row number, payload size)
_steps = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.sampled_from(["dml", "dml", "dml", "undo", "commit", "rollback"]),
        st.integers(0, 5),
        st.integers(1, 9_000),
    ),
    max_size=80,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(steps=_steps, threshold=st.sampled_from([1, 2, 5, 1_000]))
def test_buffer_matches_a_reference_model(
    steps: list[tuple[int, str, int, int]], threshold: int, tmp_path: Path
) -> None:
    spill_dir = Path(tempfile.mkdtemp(dir=tmp_path))  # one per example: the fixture is shared
    buffer = TransactionBuffer(spill_threshold=threshold, spill_dir=spill_dir)
    model: dict[str, list[tuple[str, str]]] = {}  # xid -> [(row_id, sql)]
    expected: list[tuple[str, list[str]]] = []
    got: list[tuple[str, list[str]]] = []
    generation = [0] * 5
    scn = 100
    counter = 0

    def feed(row: LogMinerRow) -> None:
        done = buffer.feed(row)
        if done is not None:
            got.append((done.xid, [c.sql for c in done.changes]))

    for tx, action, row_number, size in steps:
        xid = f"{tx:04X}{generation[tx]:012X}"
        scn += 1
        if xid not in model:
            model[xid] = []
            feed(_row(scn, xid, 6, start_scn=scn))
            scn += 1
        row_id = f"AAAAAAAAAAAAAAAAA{row_number}"
        if action == "dml":
            counter += 1
            sql = f"insert {counter} " + "x" * size
            model[xid].append((row_id, sql))
            pieces = [sql[i : i + 4000] for i in range(0, len(sql), 4000)]
            for index, piece in enumerate(pieces):
                feed(_row(scn, xid, 1, row_id=row_id, sql_redo=piece, csf=int(index < len(pieces) - 1)))
        elif action == "undo":
            matches = [i for i, (r, _) in enumerate(model[xid]) if r == row_id]
            if matches:
                del model[xid][matches[-1]]
            feed(_row(scn, xid, 2, row_id=row_id, rollback=1, sql_redo="delete ..."))
        elif action == "commit":
            changes = model.pop(xid)
            if changes:
                expected.append((xid, [sql for _, sql in changes]))
            feed(_row(scn, xid, 7, commit_scn=scn))
            generation[tx] += 1
        else:
            model.pop(xid)
            feed(_row(scn, xid, 36))
            generation[tx] += 1
    got = [(xid, sqls) for xid, sqls in got if sqls]
    assert got == expected
    open_xids = set(model)
    assert set(buffer.open) == open_xids
    left = {path.name for path in spill_dir.iterdir()}
    assert left <= {f"oracle-tx-{xid}.jsonl" for xid in open_xids}, "spill files go at commit or rollback"
