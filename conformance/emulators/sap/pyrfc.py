"""pyrfc's public client API, backed by an emulated SAP system.

The names and signatures are pyrfc 3.x's (``Connection(config=None, **params)``,
``call(func_name, options=None, **params)``, ``close()``, the exception classes with
``code``, ``key``, ``message``, ``msg_class``, ``msg_type``, ``msg_number`` and
``msg_v1..msg_v4``), so code written against pyrfc runs unchanged against the emulator:
a test can put this module on ``sys.path`` under the name ``pyrfc``.

A connection reaches the system registered (:func:`register`) under its ``ashost``; an
unknown host is a :class:`CommunicationError`, as an unreachable gateway is.
"""

from __future__ import annotations

import threading
import typing as t

if t.TYPE_CHECKING:
    from headwater.conformance.emulators.sap.system import SapSystem

__all__ = [
    "ABAPApplicationError",
    "ABAPRuntimeError",
    "CommunicationError",
    "Connection",
    "ExternalApplicationError",
    "ExternalAuthorizationError",
    "ExternalRuntimeError",
    "LogonError",
    "RFCError",
    "RFCLibError",
    "RFCTypeError",
    "register",
    "unregister",
]

_CONFIG_DEFAULTS: dict[str, t.Any] = {
    "dtime": False,
    "rstrip": True,
    "return_import_params": False,
    "check_date": True,
    "check_time": True,
    "timeout": None,
}

_systems: dict[str, SapSystem] = {}
_lock = threading.Lock()


def register(host: str, system: SapSystem) -> None:
    """Make ``system`` reachable as ``Connection(ashost=host, ...)``."""
    with _lock:
        _systems[host] = system


def unregister(host: str) -> None:
    """Forget the system registered under ``host`` (no error when there is none)."""
    with _lock:
        _systems.pop(host, None)


class RFCError(Exception):
    """Base of every pyrfc error (also raised bare for bad connection parameters)."""


class RFCLibError(RFCError):
    """An error reported by the RFC library, with the SDK's error info fields."""

    def __init__(
        self,
        message: str,
        code: int,
        key: str,
        msg_class: str = "",
        msg_type: str = "",
        msg_number: str = "",
        msg_v1: str = "",
        msg_v2: str = "",
        msg_v3: str = "",
        msg_v4: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.key = key
        self.msg_class = msg_class
        self.msg_type = msg_type
        self.msg_number = msg_number
        self.msg_v1 = msg_v1
        self.msg_v2 = msg_v2
        self.msg_v3 = msg_v3
        self.msg_v4 = msg_v4

    def __str__(self) -> str:
        text = f"{self.code} (rc={self.code}): key={self.key}, message={self.message}"
        if self.msg_class or self.msg_type or self.msg_number:
            values = ";".join((self.msg_v1, self.msg_v2, self.msg_v3, self.msg_v4))
            text += f" [MSG: class={self.msg_class}, type={self.msg_type}, number={self.msg_number}, v1-4:={values}]"
        return text


class ABAPApplicationError(RFCLibError):
    """A function module raised a classic exception (``RAISE``): ``key`` names it."""


class ABAPRuntimeError(RFCLibError):
    """A short dump or an A/E/X message in the function module."""


class LogonError(RFCLibError):
    """Wrong user, password or client."""


class CommunicationError(RFCLibError):
    """The partner was not reached or the connection broke."""


class ExternalRuntimeError(RFCLibError):
    """The RFC library refused the call (an unknown parameter, a conversion failure)."""


class ExternalApplicationError(RFCLibError):
    """An error in a server function implemented outside ABAP."""


class ExternalAuthorizationError(RFCLibError):
    """The RFC library refused the call for lack of an authorization."""


class RFCTypeError(RFCLibError):
    """A value of the wrong type for a parameter."""


class Connection:
    """An RFC connection to an emulated system; opened by the constructor, as pyrfc's is.

    Not thread-safe (neither is pyrfc's: one connection per thread). After a runtime,
    logon or communication error the connection stays usable (pyrfc reopens it
    silently; any stateful ABAP context would be lost, the emulator has none).
    """

    def __init__(self, config: t.Mapping[str, t.Any] | None = None, **params: t.Any) -> None:
        if not params:
            msg = "Connection parameters missing"
            raise RFCError(msg)
        for name, value in params.items():
            if not isinstance(value, str):
                msg = f"Connection parameter '{name}' value is not string"
                raise RFCError(msg)
        self.config = dict(_CONFIG_DEFAULTS)
        for name, value in (config or {}).items():
            if name not in _CONFIG_DEFAULTS:
                msg = f"Connection configuration option '{name}' is not supported"
                raise RFCError(msg)
            self.config[name] = value
        host = params.get("ashost") or params.get("mshost") or params.get("gwhost")
        if not host and not params.get("dest"):
            msg = "Parameter ASHOST, GWHOST, MSHOST or PORT is missing."
            raise ExternalRuntimeError(msg, 20, "RFC_INVALID_PARAMETER")
        with _lock:
            system = _systems.get(host or params.get("dest", ""))
        if system is None:
            sysnr = params.get("sysnr", "00")
            msg = f"partner '{host}:33{sysnr}' not reached"
            raise CommunicationError(msg, 1, "RFC_COMMUNICATION_FAILURE")
        system.logon(params)
        self._system: SapSystem | None = system
        self._params = dict(params)

    @property
    def alive(self) -> bool:
        """True while the connection is open."""
        return self._system is not None

    def call(self, func_name: str, options: t.Mapping[str, t.Any] | None = None, **params: t.Any) -> dict[str, t.Any]:
        """Call a remote function; returns its export, changing and tables parameters by name."""
        if not isinstance(func_name, str):
            msg = "Remote function module name must be unicode string, received: " + repr(func_name)
            raise RFCError(msg)
        if self._system is None:
            msg = f"Remote function module '{func_name}' invocation rejected because the connection is closed"
            raise RFCError(msg)
        return self._system.call(func_name, self._params, **params)

    def ping(self) -> None:
        """RFC_PING: returns nothing, raises when the system cannot be reached."""
        self.call("RFC_PING")

    def close(self) -> None:
        """Close the connection; calling it twice is harmless."""
        self._system = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
