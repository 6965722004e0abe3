"""Distributed mode: REST requests travel to the worker that must answer them, as in Kafka Connect.

Kafka Connect forwards a task restart to the worker running the task, and every config
change to its leader, so that two simultaneous ``POST /connectors`` of one name cannot
both win. Headwater does the same with nothing but the status topic (no cluster
protocol of its own):

- Each worker publishes its REST URL (``rest.advertised.listener``,
  ``rest.advertised.host.name``, ``rest.advertised.port``; by default the listener's own)
  as ``worker-<worker id>`` → ``{"url"}``, and tombstones it when it stops cleanly.
- The *leader* is the worker that owns slot 0 of the task slots topic (the group's
  assignment makes exactly one owner at a time). On getting slot 0 it writes
  ``leader`` → ``{"worker_id", "url"}``. Config changes (create, update, delete,
  pause, resume, stop, offset changes) are carried out by the leader only, one at a
  time, so a name taken by the first POST answers 409 to the second.
- A worker forwards a request only to a URL published in its own group's status topic,
  chosen from the status data (the task's or connector's worker, the leader), never
  from anything in the request, so it is no open proxy; the caller was authenticated
  here first and its ``Authorization`` header travels on (the receiving worker checks it
  again). A forwarded request carries ``X-Headwater-Forwarded``; it is never forwarded a
  second time (a worker that is no longer the one asked answers 409, retry).

Called from REST handler threads (:meth:`Forwarding.leader_url`, :meth:`forward`) and
from the herder (:meth:`start`, :meth:`stop`, :meth:`assigned` on the group thread).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import typing as t
import urllib.error
import urllib.request
from dataclasses import dataclass

from headwater.connectors.errors import HeadwaterError, RetriableError

if t.TYPE_CHECKING:
    from headwater.connectors.runtime.tables import TopicTable
    from headwater.connectors.settings import WorkerConfig

__all__ = ["FORWARDED_HEADER", "Answer", "Forwarding", "NotLeader", "advertised_url"]

log = logging.getLogger(__name__)

FORWARDED_HEADER = "X-Headwater-Forwarded"
WORKER_PREFIX = "worker-"
LEADER_KEY = "leader"
LEADER_WAIT_S = 15.0
"""How long a config change waits for a leader during a rebalance before answering 409."""


class NotLeader(HeadwaterError):
    """No worker leads the group right now (a rebalance), or a forwarded request reached a
    worker that no longer leads: retry in a moment (REST 409, as Kafka Connect's)."""


@dataclass(frozen=True)
class Answer:
    """Another worker's answer, relayed to the caller as it came."""

    status: int
    content_type: str | None
    body: bytes


def advertised_url(config: WorkerConfig, scheme: str, host: str, port: int) -> str:
    """The URL other workers reach this one at: ``rest.advertised.*`` where set, else the
    bound listener (a wildcard host is replaced by this machine's name)."""
    import socket

    advertised_host = config.rest_advertised_host_name or host
    if advertised_host in ("", "0.0.0.0", "::"):
        advertised_host = socket.getfqdn()
    advertised_port = config.rest_advertised_port or port
    advertised_scheme = config.rest_advertised_listener or scheme
    if ":" in advertised_host and not advertised_host.startswith("["):
        advertised_host = f"[{advertised_host}]"
    return f"{advertised_scheme}://{advertised_host}:{advertised_port}"


class Forwarding:
    """One distributed worker's view of where its group's workers and leader listen."""

    def __init__(
        self, statuses: TopicTable, config: WorkerConfig, worker_id: t.Callable[[], str], leads: t.Callable[[], bool]
    ) -> None:
        """Args:
        statuses: the group's status table (the worker and leader records live there).
        worker_id: this worker's id, as status entries name it (read at each use).
        leads: whether this worker owns slot 0 now.
        """
        self.statuses = statuses
        self.config = config
        self._worker_id = worker_id
        self.leads = leads
        self.url: str | None = None
        """This worker's advertised URL; set before :meth:`start` (None: forwarding off)."""
        self._tls: ssl.SSLContext | None = None
        self.write_lock = threading.Lock()
        """Held by the leader around each config change, so they apply one at a time."""

    # -- publishing (herder) -----------------------------------------------------------

    def start(self) -> None:
        """Publish this worker's URL (the status table is started)."""
        if self.url is not None:
            self.statuses.put(WORKER_PREFIX + self._worker_id(), {"url": self.url})

    def assigned(self) -> None:
        """From the group thread after an assignment: the owner of slot 0 announces itself."""
        if self.url is not None and self.leads():
            record = {"worker_id": self._worker_id(), "url": self.url}
            if self.statuses.get(LEADER_KEY) != record:
                self.statuses.put(LEADER_KEY, record)
                log.info("this worker (%s) leads the group: config changes come here", self._worker_id())

    def stop(self) -> None:
        """Withdraw this worker's URL (and leader record) at a clean stop; errors are logged."""
        try:
            if self.url is not None:
                self.statuses.put(WORKER_PREFIX + self._worker_id(), None)
            leader = self.statuses.get(LEADER_KEY)
            if leader is not None and leader.get("worker_id") == self._worker_id():
                self.statuses.put(LEADER_KEY, None)
        except Exception:
            log.warning("could not withdraw this worker's REST URL from the status topic", exc_info=True)

    # -- finding the target (REST threads) -----------------------------------------------

    def url_of(self, worker_id: str) -> str | None:
        """The published URL of a worker of this group, or None."""
        record = self.statuses.get(WORKER_PREFIX + worker_id)
        url = record.get("url") if record else None
        return url if isinstance(url, str) and url else None

    def leader_url(self, *, forwarded: bool) -> str | None:
        """None when this worker leads (carry the change out here), else the leader's URL.

        Waits (bounded by :data:`LEADER_WAIT_S`) while a rebalance leaves no leader.

        Raises:
            NotLeader: no leader within the wait, or this request was forwarded here
                already and this worker does not lead (never a second hop).
        """
        deadline = time.monotonic() + LEADER_WAIT_S
        while True:
            if self.leads():
                return None
            if forwarded:
                msg = (
                    f"this worker ({self._worker_id()}) no longer leads the group (a rebalance is under way); "
                    "retry the request"
                )
                raise NotLeader(msg)
            record = self.statuses.get(LEADER_KEY) or {}
            leader, url = record.get("worker_id"), record.get("url")
            if leader and leader != self._worker_id() and isinstance(url, str) and url == self.url_of(leader):
                return url
            if time.monotonic() > deadline:
                msg = "no worker leads the group yet (a rebalance is under way); retry the request"
                raise NotLeader(msg)
            time.sleep(0.1)

    # -- sending -------------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        """TLS to other workers: the system's CAs plus this worker's own certificate chain
        (workers of one cluster usually share a CA or a certificate)."""
        if self._tls is None:
            context = ssl.create_default_context()
            own = self.config.listeners_https_ssl_certificate_location
            if own:
                context.load_verify_locations(own)
            self._tls = context
        return self._tls

    def forward(
        self,
        url: str,
        method: str,
        path: str,
        body: bytes | None,
        authorization: str | None,
        *,
        timeout: float = 90.0,
    ) -> Answer:
        """Send the request to ``url`` (a published worker URL) and return its answer.

        Raises:
            RetriableError: the worker did not answer (down, or unreachable from here).
        """
        headers = {FORWARDED_HEADER: self._worker_id(), "Content-Type": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        request = urllib.request.Request(url.rstrip("/") + path, data=body, method=method, headers=headers)
        context = self._context() if url.startswith("https:") else None
        log.debug("forwarding %s %s to %s", method, path, url)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                return Answer(response.status, response.headers.get("Content-Type"), response.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.headers.get("Content-Type"), exc.read())
        except (urllib.error.URLError, OSError) as exc:
            msg = f"cannot forward {method} {path} to {url}: {getattr(exc, 'reason', exc)}; retry shortly"
            raise RetriableError(msg) from exc
