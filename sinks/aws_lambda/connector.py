"""The ``aws-lambda`` sink connector."""

from __future__ import annotations

import logging
import time
import typing as t

from headwater.connectors.api import Capability, SinkConnector
from headwater.connectors.errors import ConfigError, FieldError
from headwater.sinks.aws_lambda.client import (
    Boto3LambdaClient,
    InvokeRejected,
    LambdaClient,
    Throttled,
    TransientInvokeError,
)
from headwater.sinks.aws_lambda.config import LambdaSinkConfig
from headwater.sinks.aws_lambda.task import LambdaSinkTask

log = logging.getLogger(__name__)

_DRY_RUN_ATTEMPTS = 3

_FIELD_OF_CODE = {
    "UnrecognizedClientException": "aws.access.key.id",
    "InvalidSignatureException": "aws.secret.access.key",
    "ExpiredTokenException": "aws.session.token",
    "InvalidParameterValueException": "aws.lambda.function.name",
}
"""AWS error codes whose remedy is another key than ``aws.lambda.function.name``."""


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

    client_factory: t.ClassVar[t.Callable[[LambdaSinkConfig], LambdaClient]] = Boto3LambdaClient
    """Builds the client the start-up check uses (tests replace it)."""

    def start(self) -> None:
        """Check, as Confluent's Lambda sink does, that the function exists and may be
        invoked: one ``DryRun`` invocation (the function does not run). A refusal is one
        :class:`ConfigError` naming the function and AWS's error code; an unreachable
        endpoint or a 5xx is tried three times first. A throttle passes (the function
        exists). Runs on the runtime's lifecycle thread, before any task starts."""
        config = self.config
        function = config.aws_lambda_function_name
        if config.aws_lambda_function_qualifier:
            function += f" (qualifier {config.aws_lambda_function_qualifier})"
        client = type(self).client_factory(config)
        try:
            for attempt in range(1, _DRY_RUN_ATTEMPTS + 1):
                try:
                    client.dry_run()
                    return
                except Throttled:
                    log.info("DryRun of %s throttled: the function exists", function)
                    return
                except InvokeRejected as exc:
                    key = _FIELD_OF_CODE.get(exc.code, "aws.lambda.function.name")
                    msg = f"cannot invoke Lambda function {function}: the DryRun invocation was refused: {exc}"
                    raise ConfigError([FieldError(key, msg)]) from exc
                except TransientInvokeError as exc:
                    if attempt == _DRY_RUN_ATTEMPTS:
                        key = "aws.lambda.endpoint.url" if config.aws_lambda_endpoint_url else "aws.lambda.region"
                        msg = f"cannot reach Lambda to check function {function} (DryRun, {attempt} tries): {exc}"
                        raise ConfigError([FieldError(key, msg)]) from exc
                    time.sleep(config.aws_lambda_retry_backoff_ms / 1000 * attempt)
        finally:
            client.close()
