"""The python-oracledb adapter, as far as it can run here (no Oracle server is reachable):
it imports lazily, and a database that does not answer is a retriable error of ``poll()``."""

from __future__ import annotations

import typing as t

import pytest

from headwater.connectors.api import SourceTaskContext
from headwater.connectors.errors import RetriableError
from headwater.connectors.oracle.client import OracledbClient
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask

pytest.importorskip("oracledb")


class _NoOffsets:
    def offset(self, partition: t.Mapping[str, t.Any]) -> None:
        return None


def test_a_database_that_is_down_is_retriable_and_named() -> None:
    config = OracleLogMinerConfig.model_validate(
        {
            "database.hostname": "127.0.0.1", "database.port": 20899, "database.user": "c##dbzuser",
            "database.password": "secret", "database.dbname": "ORCLPDB1",
        }
    )  # fmt: skip
    task = OracleLogMinerTask(config, SourceTaskContext("oracle", 0, _NoOffsets()))
    assert isinstance(task.client, OracledbClient)
    with pytest.raises(RetriableError, match="DPY-6005"):
        task.poll()
    task.stop()
