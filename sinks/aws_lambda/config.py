"""Configuration of the ``aws-lambda`` sink, in Confluent's Lambda sink key names where they exist."""

from __future__ import annotations

import typing as t

from pydantic import Field, SecretStr, model_validator

from headwater.connectors.config import PluginConfig

__all__ = ["ASYNC_LIMIT", "SYNC_LIMIT", "LambdaSinkConfig"]

SYNC_LIMIT = 6 * 1024 * 1024
"""Lambda's payload limit for a synchronous (RequestResponse) invocation, in bytes."""
ASYNC_LIMIT = 1024 * 1024
"""Lambda's payload limit for an asynchronous (Event) invocation, in bytes."""


class LambdaSinkConfig(PluginConfig):
    """Which function, how to reach it, how records are batched and what a failure does."""

    aws_lambda_function_name: str = Field(min_length=1)
    """The function's name or ARN; ``name:alias`` and ``name:version`` are accepted."""
    aws_lambda_function_qualifier: str | None = None
    """A version or alias to invoke (the ``Qualifier``), unless the name already carries one."""
    aws_lambda_region: str = "us-east-1"
    """The function's region."""
    aws_access_key_id: SecretStr | None = None
    """An access key; unset means boto3's default credential chain (environment, profile, role)."""
    aws_secret_access_key: SecretStr | None = None
    """The secret of ``aws.access.key.id``."""
    aws_session_token: SecretStr | None = None
    """A session token for temporary credentials."""
    aws_lambda_endpoint_url: str | None = None
    """Another endpoint than AWS's, e.g. ``http://127.0.0.1:9001`` for a local endpoint."""
    aws_lambda_invocation_type: t.Literal["sync", "async"] = "sync"
    """``sync`` waits for the function's result (RequestResponse); ``async`` queues the event
    (Event): Lambda answers 202 and the function's errors never come back to the sink."""
    aws_lambda_payload_format: t.Literal["esm", "records", "single"] = "esm"
    """``esm``: the Kafka event source mapping's event (base64 key and value, headers as byte
    arrays); ``records``: a JSON array of the records' values; ``single``: one invocation per
    record, its value as the payload."""
    aws_lambda_batch_size: int = Field(default=100, ge=1, le=10_000)
    """Most records per invocation (the mapping's ``BatchSize`` default)."""
    aws_lambda_batch_max_bytes: int | None = Field(default=None, ge=256)
    """Most payload bytes per invocation; default Lambda's limit (6 MB sync, 1 MB async). A
    record that alone exceeds it is reported as a bad record."""
    aws_lambda_max_concurrency: int = Field(default=8, ge=1, le=256)
    """Invocations in flight at once (across partitions; never two of one partition)."""
    aws_lambda_event_source: str = "SelfManagedKafka"
    """``eventSource`` of the ``esm`` payload (``aws:kafka`` for MSK)."""
    aws_lambda_event_source_arn: str | None = None
    """``eventSourceArn`` of the ``esm`` payload (MSK events carry one)."""
    aws_lambda_bootstrap_servers: str = ""
    """``bootstrapServers`` of the ``esm`` payload."""
    aws_lambda_response_topic: str | None = None
    """Write each successful sync invocation's result here, keyed by its input offsets
    (``topic``, ``partition``, ``first_offset``, ``last_offset``). A result that is a JSON
    array with one element per input record gives one response record per input record."""
    behavior_on_error: t.Literal["fail", "log", "ignore"] = "fail"
    """What to do with a record the function keeps failing on, once bisection isolated it:
    ``fail`` reports it (dead-letter topic with ``errors.tolerance=all``, else the task
    fails), ``log`` logs and skips it, ``ignore`` skips it."""
    aws_lambda_retries_max: int = Field(default=10, ge=0)
    """Retries of an invocation that met a 5xx, a timeout or a connection error, with
    exponential backoff; after the last the task fails (and restarts from committed offsets)."""
    aws_lambda_retry_backoff_ms: int = Field(default=200, ge=1)
    """First backoff of those retries; it doubles up to 10 s."""
    aws_lambda_socket_timeout_ms: int = Field(default=900_000, ge=1000)
    """How long to wait for a sync invocation's answer (a function may run 15 minutes)."""

    @model_validator(mode="after")
    def _credentials_come_in_pairs(self) -> LambdaSinkConfig:
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            msg = "aws.access.key.id and aws.secret.access.key go together: set both or neither"
            raise ValueError(msg)
        return self

    @property
    def max_bytes(self) -> int:
        """The payload limit in force."""
        if self.aws_lambda_batch_max_bytes is not None:
            return self.aws_lambda_batch_max_bytes
        return SYNC_LIMIT if self.aws_lambda_invocation_type == "sync" else ASYNC_LIMIT
