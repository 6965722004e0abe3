"""The narrow client the task invokes through, and its boto3 implementation.

The task sees only :class:`LambdaClient`: one ``invoke`` that either returns what the
function answered (which may be a function error: HTTP 200 with ``X-Amz-Function-Error``)
or raises one of the errors below, named for what the task does next. boto3 is imported
when a :class:`Boto3LambdaClient` is built, so Headwater imports without it.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from headwater.connectors.errors import HeadwaterError

if t.TYPE_CHECKING:
    from headwater.sinks.aws_lambda.config import LambdaSinkConfig

__all__ = [
    "Boto3LambdaClient",
    "InvokeRejected",
    "InvokeResult",
    "LambdaClient",
    "PayloadTooLarge",
    "Throttled",
    "TransientInvokeError",
]


@dataclass(frozen=True)
class InvokeResult:
    """What the Invoke API answered: 200 (sync), 202 (async); ``function_error`` is
    ``Handled`` or ``Unhandled`` when the function failed, with its error object in ``payload``."""

    status: int
    payload: bytes
    function_error: str | None = None
    executed_version: str | None = None


class Throttled(HeadwaterError):
    """429 TooManyRequestsException: try the same invocation again after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PayloadTooLarge(HeadwaterError):
    """413: the payload is over Lambda's limit; a smaller batch may pass."""


class TransientInvokeError(HeadwaterError):
    """A 5xx, a timeout or a broken connection: retry with backoff."""


class InvokeRejected(HeadwaterError):
    """Any other refusal (unknown function, no permission, bad parameter): retrying cannot help.

    ``code`` is AWS's error code (``ResourceNotFoundException``, ``AccessDeniedException``...)
    when AWS answered, else empty."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class LambdaClient(t.Protocol):
    """Invokes one function; called from the task's worker threads, concurrently."""

    def invoke(self, payload: bytes, *, asynchronous: bool) -> InvokeResult:
        """Invoke the function once (no retries of its own).

        Raises:
            Throttled, PayloadTooLarge, TransientInvokeError, InvokeRejected.
        """
        ...

    def dry_run(self) -> None:
        """Invoke with ``InvocationType=DryRun``: Lambda checks that the function exists
        and that the caller may invoke it, without running it (204).

        Raises:
            Throttled, TransientInvokeError, InvokeRejected (with AWS's error code).
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


_TRANSIENT_CODES = frozenset(
    {
        "ServiceException",
        "ResourceNotReadyException",
        "EC2ThrottledException",
        "EC2UnexpectedException",
        "ENILimitReachedException",
        "SnapStartNotReadyException",
        "ResourceConflictException",
    }
)


class Boto3LambdaClient:
    """:class:`LambdaClient` over boto3's ``lambda`` client, with boto3's own retries off
    (the task retries, honouring ``retryAfterSeconds``)."""

    def __init__(self, config: LambdaSinkConfig) -> None:
        import boto3
        import botocore.config
        import botocore.exceptions

        self._botocore_exceptions = botocore.exceptions
        keys: dict[str, str] = {}
        if config.aws_access_key_id is not None and config.aws_secret_access_key is not None:
            keys["aws_access_key_id"] = config.aws_access_key_id.get_secret_value()
            keys["aws_secret_access_key"] = config.aws_secret_access_key.get_secret_value()
            if config.aws_session_token is not None:
                keys["aws_session_token"] = config.aws_session_token.get_secret_value()
        self._client = boto3.session.Session().client(
            "lambda",
            region_name=config.aws_lambda_region,
            endpoint_url=config.aws_lambda_endpoint_url,
            config=botocore.config.Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                read_timeout=config.aws_lambda_socket_timeout_ms / 1000,
                connect_timeout=10,
                max_pool_connections=config.aws_lambda_max_concurrency + 2,
                tcp_keepalive=True,
            ),
            **keys,
        )
        self._function = config.aws_lambda_function_name
        self._qualifier = config.aws_lambda_function_qualifier

    def invoke(self, payload: bytes, *, asynchronous: bool) -> InvokeResult:
        return self._invoke("Event" if asynchronous else "RequestResponse", payload)

    def dry_run(self) -> None:
        self._invoke("DryRun", b"{}")

    def _invoke(self, invocation_type: str, payload: bytes) -> InvokeResult:
        arguments: dict[str, t.Any] = {
            "FunctionName": self._function,
            "InvocationType": invocation_type,
            "Payload": payload,
        }
        if self._qualifier:
            arguments["Qualifier"] = self._qualifier
        errors = self._botocore_exceptions
        try:
            response = self._client.invoke(**arguments)
            body = response["Payload"].read() if "Payload" in response else b""
        except errors.ClientError as exc:
            raise self._classify(exc) from exc
        except (errors.ReadTimeoutError, errors.ConnectTimeoutError) as exc:
            msg = f"invoking {self._function} timed out: {exc}"
            raise TransientInvokeError(msg) from exc
        except (errors.EndpointConnectionError, errors.ConnectionClosedError, errors.HTTPClientError) as exc:
            msg = f"cannot reach Lambda to invoke {self._function}: {exc}"
            raise TransientInvokeError(msg) from exc
        except (errors.NoCredentialsError, errors.PartialCredentialsError) as exc:
            msg = "no AWS credentials: set aws.access.key.id and aws.secret.access.key or configure the default chain"
            raise InvokeRejected(msg) from exc
        return InvokeResult(
            status=int(response.get("StatusCode", 200)),
            payload=body,
            function_error=response.get("FunctionError"),
            executed_version=response.get("ExecutedVersion"),
        )

    def _classify(self, exc: t.Any) -> Exception:
        response = exc.response
        code = response.get("Error", {}).get("Code", "")
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        message = f"invoking {self._function}: {status} {code}: {response.get('Error', {}).get('Message', '')}"
        if status == 429 or code == "TooManyRequestsException":
            headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            raw = response.get("retryAfterSeconds") or headers.get("retry-after") or "1"
            try:
                retry_after = max(0.0, float(raw))
            except ValueError:
                retry_after = 1.0
            return Throttled(message, retry_after)
        if status == 413 or code in ("RequestTooLargeException", "SerializedRequestEntityTooLargeException"):
            return PayloadTooLarge(message)
        if status >= 500 or code in _TRANSIENT_CODES:
            return TransientInvokeError(message)
        return InvokeRejected(message, code)

    def close(self) -> None:
        self._client.close()
