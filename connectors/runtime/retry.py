"""Retrying retriable errors with capped exponential backoff, bounded in total time."""

from __future__ import annotations

import logging
import random
import threading
import time
import typing as t

from headwater.connectors.errors import FatalError, RetriableError

__all__ = ["RetryPolicy", "retry_call"]

T = t.TypeVar("T")
log = logging.getLogger(__name__)


class RetryPolicy(t.NamedTuple):
    """``errors.retry.timeout`` (-1 forever, 0 never) and ``errors.retry.delay.max.ms``."""

    timeout_ms: int
    delay_max_ms: int
    delay_initial_ms: int = 100


def retry_call(
    operation: t.Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    stop: threading.Event | None = None,
    on_retry: t.Callable[[RetriableError], None] | None = None,
    wait: t.Callable[[float], bool] | None = None,
) -> T:
    """Run ``operation``; on :class:`RetriableError` back off and run it again.

    Delays double from ``delay_initial_ms`` up to ``delay_max_ms``, with jitter, until
    ``timeout_ms`` has passed since the first failure. An error's ``retry_after_ms`` is
    a floor on the next delay (even past ``delay_max_ms``).

    ``wait(seconds)`` sleeps and returns True if the caller is stopping; by default it
    waits on ``stop``. A sink passes one that keeps its consumer polled.

    Raises:
        FatalError: chained from the last retriable error once the time is up.
        RetriableError: unchanged if ``stop`` is set while waiting (the caller is
            shutting down and will retry after a restart).
    """
    wait_fn = wait
    started: float | None = None
    delay = policy.delay_initial_ms / 1000
    while True:
        try:
            return operation()
        except RetriableError as exc:
            now = time.monotonic()
            started = now if started is None else started
            elapsed_ms = (now - started) * 1000
            if policy.timeout_ms >= 0 and elapsed_ms >= policy.timeout_ms:
                msg = f"{what} kept failing for {elapsed_ms:.0f} ms (errors.retry.timeout={policy.timeout_ms}): {exc}"
                raise FatalError(msg) from exc
            if on_retry is not None:
                on_retry(exc)
            pause = min(delay, policy.delay_max_ms / 1000) * (0.5 + random.random() / 2)
            if policy.timeout_ms >= 0:
                pause = min(pause, max(0.0, (policy.timeout_ms - elapsed_ms) / 1000))
            if exc.retry_after_ms is not None:
                pause = max(pause, exc.retry_after_ms / 1000)  # the system said when: never sooner
            log.warning("%s failed (%s); retrying in %.2f s", what, exc, pause)
            if _wait(pause, stop, wait_function=wait_fn):
                raise
            delay *= 2


def _wait(seconds: float, stop: threading.Event | None, *, wait_function: t.Callable[[float], bool] | None) -> bool:
    if wait_function is not None:
        return wait_function(seconds)
    if stop is not None:
        return stop.wait(seconds)
    time.sleep(seconds)
    return False
