"""The RFC side of the ``sap-rfc-table`` source, as a narrow protocol.

:class:`RfcConnection` is the part of pyrfc's ``Connection`` the source uses: ``call``
and ``close``. pyrfc's own class implements it, and so does the emulator's
(:mod:`headwater.conformance.emulators.sap.pyrfc`). :class:`PyrfcClient` is the real
adapter: it imports a module with pyrfc's public API (``pyrfc`` by default, lazily, so
the package installs without SAP's NW RFC SDK), opens one connection, and translates
pyrfc's exceptions into Headwater's errors once, here:

* ``CommunicationError`` -> :class:`RetriableError` (the connection is reopened on the
  next call);
* ``LogonError`` -> :class:`FatalError` naming the logon parameters to check;
* ``ABAPApplicationError``, ``ABAPRuntimeError`` and the other ``RFCError`` s ->
  :class:`SapCallError` (a FatalError) carrying pyrfc's ``key`` and ``code``, so the
  task can say what to do about, say, ``NOT_AUTHORIZED``.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import types
import typing as t

from headwater.connectors.errors import FatalError, RetriableError

__all__ = ["PyrfcClient", "RfcClient", "RfcConnection", "SapCallError"]


class RfcConnection(t.Protocol):
    """What the source needs from an RFC connection (pyrfc's ``Connection`` has it)."""

    def call(self, func_name: str, options: t.Mapping[str, t.Any] | None = None, **params: t.Any) -> dict[str, t.Any]:
        """Call a remote-enabled function module; its exports and tables by name."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class RfcClient(t.Protocol):
    """What the task calls: an :class:`RfcConnection` whose errors are Headwater's."""

    def call(self, function: str, **params: t.Any) -> dict[str, t.Any]: ...

    def close(self) -> None: ...


class SapCallError(FatalError):
    """A function module failed (an ABAP exception or a dump).

    Attributes:
        function: the function module called.
        key: pyrfc's ``key`` (``TABLE_NOT_AVAILABLE``, ``NOT_AUTHORIZED``, a dump name...).
        code: pyrfc's ``code`` (5 for an ABAP exception, 3 for a dump, ...).
    """

    def __init__(self, message: str, *, function: str, key: str, code: int | None) -> None:
        super().__init__(message)
        self.function = function
        self.key = key
        self.code = code


class PyrfcClient:
    """The real adapter: one pyrfc connection, opened on first use and after a break.

    ``params`` are pyrfc's connection parameters (``ashost``, ``sysnr``, ``client``,
    ``user``, ``passwd``, ``mshost``, ``group``, ``snc_*``, ``saprouter``...), all str.
    ``module`` is a module with pyrfc's API; None imports ``pyrfc`` on first use. One
    client per task thread (pyrfc connections are not shared between threads).
    """

    def __init__(self, params: t.Mapping[str, str], *, module: types.ModuleType | None = None) -> None:
        self._params = {key: value for key, value in params.items() if value}
        self._module = module
        self._connection: RfcConnection | None = None
        self._lock = threading.Lock()

    @property
    def module(self) -> types.ModuleType:
        if self._module is None:
            try:
                self._module = importlib.import_module("pyrfc")
            except ImportError as exc:
                msg = (
                    "the sap-rfc-table source needs pyrfc (or a drop-in such as pyrfcx) with SAP's NW RFC SDK; "
                    "see the README's SAP section, or set emulator.scenario to run on the emulator"
                )
                raise FatalError(msg) from exc
        return self._module

    def _connect(self) -> RfcConnection:
        if self._connection is None:
            self._connection = t.cast(
                RfcConnection, self._translate("logon", lambda: self.module.Connection(**self._params))
            )
        return self._connection

    def call(self, function: str, **params: t.Any) -> dict[str, t.Any]:
        """Call ``function``; see the module docstring for the errors."""
        with self._lock:
            connection = self._connect()
            return t.cast(dict[str, t.Any], self._translate(function, lambda: connection.call(function, **params)))

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    self._connection.close()
                self._connection = None

    def _translate(self, function: str, action: t.Callable[[], t.Any]) -> t.Any:
        module = self.module
        try:
            return action()
        except module.CommunicationError as exc:
            self._connection = None
            where = self._params.get("ashost") or self._params.get("mshost") or self._params.get("dest", "?")
            msg = f"RFC connection to {where} broke during {function}: {getattr(exc, 'message', exc)}"
            raise RetriableError(msg) from exc
        except module.LogonError as exc:
            self._connection = None
            user = self._params.get("user", "?")
            msg = (
                f"SAP logon failed for user {user} in client {self._params.get('client', '?')}: "
                f"{getattr(exc, 'message', exc)}; check sap.user, sap.passwd and sap.client"
            )
            raise FatalError(msg) from exc
        except module.RFCError as exc:
            key = str(getattr(exc, "key", "") or type(exc).__name__)
            code = getattr(exc, "code", None)
            message = getattr(exc, "message", None) or str(exc)
            msg = f"{function} failed with {key}: {message}"
            raise SapCallError(msg, function=function, key=key, code=code) from exc
