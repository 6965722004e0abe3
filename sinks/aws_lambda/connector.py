"""The ``aws-lambda`` sink connector."""

from __future__ import annotations

import typing as t

from headwater.connectors.api import Capability, SinkConnector
from headwater.sinks.aws_lambda.config import LambdaSinkConfig
from headwater.sinks.aws_lambda.task import LambdaSinkTask


class LambdaSinkConnector(SinkConnector[LambdaSinkConfig]):
    """Invokes a Lambda function with each partition's records, in order, one batch in flight per partition.

    The default payload is exactly the event Lambda's own Kafka event source mapping
    delivers, so a function written for the mapping runs unchanged. Tombstones reach the
    function (a record without ``value``), so a function that folds its input applies deletes.
    """

    name: t.ClassVar[str] = "aws-lambda"
    description: t.ClassVar[str] = "AWS Lambda invocations, in the Kafka event source mapping's event shape."
    config_class = LambdaSinkConfig
    task_class = LambdaSinkTask
    capabilities: t.ClassVar[frozenset[Capability]] = frozenset({Capability.DELETES})
