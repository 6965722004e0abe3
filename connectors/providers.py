"""``${env:NAME}`` and ``${file:/path/to.properties:key}`` references in config values.

``${env:NAME:-default}`` gives ``default`` when ``NAME`` is unset (a Headwater extension,
for example files that run as they are and take overrides from the environment).

A value may hold references that are replaced when a config is loaded, as Kafka Connect's
config providers do; the unresolved text is what status output and REST answers show
(:func:`reverse_transform` puts it back into task configs).

Which files and variables a reference may read is a :class:`ProviderPolicy`, built from
the worker keys ``config.providers.file.param.allowed.paths`` (KIP-993: comma-separated
directories) and ``config.providers.env.param.allowlist.pattern`` (KIP-887: a regular
expression the variable name must match). A config that arrives over REST (distributed
mode) may read nothing unless those keys are set; files given on the command line are
the operator's and may read anything unless those keys are set.

Every failure is a :class:`ConfigError` naming the key. A ``${file:}`` failure gives one
message whatever the cause (not allowed, missing, unreadable, binary, no such key), so an
answer never tells a caller whether a file exists; the cause is logged on the worker.
"""

from __future__ import annotations

import logging
import os
import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

from headwater.connectors.errors import ConfigError, FieldError

__all__ = [
    "ProviderPolicy",
    "has_references",
    "read_properties",
    "resolve_all",
    "resolve_providers",
    "reverse_transform",
]

log = logging.getLogger(__name__)

PROVIDERS = ("env", "file")
FILE_PATHS_KEY = "config.providers.file.param.allowed.paths"
ENV_ALLOWLIST_KEY = "config.providers.env.param.allowlist.pattern"
MAX_PROPERTIES_BYTES = 1 << 20
# Kafka Connect's variable syntax, ``${provider:[path:]key}``; ``${topic}`` (no colon) is
# not a reference and stays as written (the MongoDB sink's placeholder).
_REFERENCE = re.compile(r"\$\{(?P<provider>[A-Za-z0-9_.-]+):(?P<body>[^}]*)(?P<end>\}?)")


@dataclass(frozen=True)
class ProviderPolicy:
    """What ``${file:}`` and ``${env:}`` references may read.

    ``allowed_paths`` None lets ``${file:}`` read any file; otherwise only files under one
    of these directories (after symlinks are resolved). ``env_allowlist`` None lets
    ``${env:}`` read any variable; otherwise only names it matches in full.
    """

    allowed_paths: tuple[Path, ...] | None = None
    env_allowlist: re.Pattern[str] | None = None

    @classmethod
    def unrestricted(cls) -> ProviderPolicy:
        """The policy of config files the operator gives on the command line."""
        return cls()

    @classmethod
    def closed(cls) -> ProviderPolicy:
        """Nothing may be read (REST-submitted configs on a worker without the keys set)."""
        return cls((), re.compile(r"(?!)"))

    def file_allowed(self, path: Path) -> bool:
        if self.allowed_paths is None:
            return True
        resolved = path.resolve()
        return path.is_absolute() and any(resolved.is_relative_to(base) for base in self.allowed_paths)

    def env_allowed(self, name: str) -> bool:
        return self.env_allowlist is None or self.env_allowlist.fullmatch(name) is not None


def has_references(value: t.Any) -> bool:
    """Whether ``value`` is a string with a ``${provider:...}`` reference in it."""
    return isinstance(value, str) and _REFERENCE.search(value) is not None


def resolve_providers(value: t.Any, *, key: str, policy: ProviderPolicy | None = None) -> t.Any:
    """Replace the ``${env:NAME}`` and ``${file:/path:key}`` references inside a string value.

    Raises:
        ConfigError: naming ``key`` for an unknown provider, an unclosed ``${``, a variable
            that is unset or not allowed, or a file reference that cannot be resolved.
    """
    if not has_references(value):
        return value
    policy = policy or ProviderPolicy.unrestricted()
    out: list[str] = []
    pos = 0
    for match in _REFERENCE.finditer(value):
        provider, body, closed = match.group("provider"), match.group("body"), match.group("end")
        if not closed:
            message = f"unclosed reference {match.group(0)[:40]!r}: a reference is ${{{provider}:...}}"
            raise ConfigError([FieldError(key, message)])
        if provider not in PROVIDERS:
            message = f"unknown config provider {provider!r} (known: {', '.join(PROVIDERS)})"
            raise ConfigError([FieldError(key, message)])
        out.append(value[pos : match.start()])
        out.append(_env(body, key, policy) if provider == "env" else _file(body, key, policy))
        pos = match.end()
    out.append(value[pos:])
    return "".join(out)


def _env(reference: str, key: str, policy: ProviderPolicy) -> str:
    """``NAME`` or ``NAME:-default`` (the default when the variable is unset, as in a shell)."""
    name, has_default, default = reference.partition(":-")
    if not policy.env_allowed(name):
        message = f"${{env:{name}}} is not allowed by the worker's {ENV_ALLOWLIST_KEY}"
        raise ConfigError([FieldError(key, message)])
    if name not in os.environ:
        if has_default:
            return default
        raise ConfigError([FieldError(key, f"environment variable {name} is not set")])
    return os.environ[name]


def _file(reference: str, key: str, policy: ProviderPolicy) -> str:
    path, _, prop = reference.rpartition(":")
    if not path or not prop:
        raise ConfigError([FieldError(key, "a file reference is ${file:/path/to.properties:key}")])
    reason = None
    properties: dict[str, str] = {}
    if not policy.file_allowed(Path(path)):
        reason = f"outside {FILE_PATHS_KEY}"
    else:
        try:
            properties = read_properties(Path(path))
        except (OSError, ValueError) as exc:
            reason = str(exc)
    if reason is None and prop not in properties:
        reason = f"no key {prop!r}"
    if reason is not None:
        log.info("config key %s: ${file:%s:%s} not resolved: %s", key, path, prop, reason)
        message = (
            f"cannot resolve ${{file:{path}:{prop}}}: it must name a key of a readable properties file "
            f"in a directory of the worker's {FILE_PATHS_KEY}"
        )
        raise ConfigError([FieldError(key, message)])
    return properties[prop]


def read_properties(path: Path) -> dict[str, str]:
    """Parse a Java-style properties file (``key=value`` or ``key: value`` lines).

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not a regular file, is over 1 MiB, or is not UTF-8 text.
    """
    if not path.is_file():
        msg = "not a regular file"
        raise ValueError(msg)
    with path.open("rb") as handle:
        data = handle.read(MAX_PROPERTIES_BYTES + 1)
    if len(data) > MAX_PROPERTIES_BYTES or b"\0" in data:
        msg = "over 1 MiB or binary"
        raise ValueError(msg)
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    properties = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        match = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)", stripped)
        if match:
            properties[match.group(1)] = match.group(2)
    return properties


def resolve_all(flat: t.Mapping[str, t.Any], policy: ProviderPolicy | None = None) -> dict[str, t.Any]:
    """Every value of ``flat`` resolved.

    Raises:
        ConfigError: one entry per key that does not resolve.
    """
    resolved: dict[str, t.Any] = {}
    errors: list[FieldError] = []
    for key, value in flat.items():
        try:
            resolved[key] = resolve_providers(value, key=key, policy=policy)
        except ConfigError as exc:
            errors.extend(exc.errors)
    if errors:
        raise ConfigError(errors)
    return resolved


def reverse_transform(raw: t.Mapping[str, t.Any], config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """``config`` (a task config, resolved) with each key that holds a reference in ``raw``
    shown as the reference again, as Kafka Connect does: a REST answer never carries a
    resolved value."""
    return {key: raw[key] if has_references(raw.get(key)) else value for key, value in config.items()}
