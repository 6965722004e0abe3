"""The local Lambda endpoint answers boto3 as Lambda does, with handlers run by awslambdaric."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest

from headwater.conformance.lambda_endpoint import LambdaEndpoint

pytest.importorskip("awslambdaric")
boto3 = pytest.importorskip("boto3")

HANDLER = """
import time

def handle(event, context):
    if event.get("raise"):
        raise KeyError(event["raise"])
    time.sleep(event.get("sleep", 0))
    return {"got": event, "function": context.function_name, "arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis()}
"""


@pytest.fixture(scope="module")
def lambda_client(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[t.Any]:
    folder: Path = tmp_path_factory.mktemp("handler")
    (folder / "fn.py").write_text(HANDLER)
    with LambdaEndpoint(0, sync_limit=64 * 1024, async_limit=16 * 1024) as endpoint:
        endpoint.add_function("fn", folder, "fn.handle", runtime_port=0, concurrency=2, timeout_s=1.0)
        client = boto3.client(
            "lambda",
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="y",
            config=boto3.session.Config(retries={"total_max_attempts": 1}),
        )
        client.endpoint = endpoint
        yield client


def _invoke(client: t.Any, event: t.Any, **kwargs: t.Any) -> t.Any:
    return client.invoke(FunctionName="fn", Payload=json.dumps(event).encode(), **kwargs)


def test_sync_result_comes_from_the_real_runtime_client(lambda_client: t.Any) -> None:
    response = _invoke(lambda_client, {"a": 1}, Qualifier="live")
    body = json.loads(response["Payload"].read())
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "live"
    assert body["got"] == {"a": 1} and body["function"] == "fn"
    assert body["arn"].endswith(":function:fn:live")
    assert 0 < body["remaining_ms"] <= 1000


def test_a_raised_exception_is_a_200_with_the_function_error_header(lambda_client: t.Any) -> None:
    response = _invoke(lambda_client, {"raise": "missing"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "KeyError" and "missing" in error["errorMessage"]


def test_a_handler_over_its_timeout_is_killed_and_the_function_runs_again(lambda_client: t.Any) -> None:
    response = _invoke(lambda_client, {"sleep": 5})
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out" in json.loads(response["Payload"].read())["errorMessage"]
    again = _invoke(lambda_client, {"b": 2})
    assert "FunctionError" not in again and json.loads(again["Payload"].read())["got"] == {"b": 2}


def test_event_dryrun_unknown_and_too_large(lambda_client: t.Any) -> None:
    assert _invoke(lambda_client, {"c": 3}, InvocationType="Event")["StatusCode"] == 202
    assert _invoke(lambda_client, {}, InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="nope", Payload=b"{}")
    with pytest.raises(lambda_client.exceptions.RequestTooLargeException):
        _invoke(lambda_client, {"pad": "x" * 20_000}, InvocationType="Event")  # over the 16 KiB async limit
    assert _invoke(lambda_client, {"pad": "x" * 20_000})["StatusCode"] == 200  # under the 64 KiB sync limit


def test_dryrun_fails_as_lambda_does_for_a_missing_function_or_permission(lambda_client: t.Any) -> None:
    """DryRun runs nothing and answers 204, or AWS's own error: 404 for an unknown function
    (named by its ARN), 403 AccessDeniedException for a caller without lambda:InvokeFunction."""
    ran = len(lambda_client.endpoint.invocations("fn"))
    assert _invoke(lambda_client, {}, InvocationType="DryRun")["StatusCode"] == 204
    assert len(lambda_client.endpoint.invocations("fn")) == ran, "a DryRun never runs the handler"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException, match=r"function:nope:v2"):
        lambda_client.invoke(FunctionName="nope", InvocationType="DryRun", Qualifier="v2")
    lambda_client.endpoint.deny("fn")
    try:
        with pytest.raises(Exception, match="AccessDeniedException") as caught:
            _invoke(lambda_client, {}, InvocationType="DryRun")
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "lambda:InvokeFunction" in caught.value.response["Error"]["Message"]
        with pytest.raises(Exception, match="AccessDeniedException"):
            _invoke(lambda_client, {})
    finally:
        lambda_client.endpoint.deny("fn", denied=False)
    assert _invoke(lambda_client, {}, InvocationType="DryRun")["StatusCode"] == 204


def test_an_injected_throttle_is_a_429_with_retry_after(lambda_client: t.Any) -> None:
    lambda_client.endpoint.throttle("fn", 1, retry_after_seconds=3)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as caught:
        _invoke(lambda_client, {})
    response = caught.value.response
    assert response["retryAfterSeconds"] == "3"
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert "FunctionError" not in _invoke(lambda_client, {})
