"""Kafka client settings written with Java's names, mapped to librdkafka's.

Kafka Connect users carry worker files whose client security is written for the Java
client: ``ssl.truststore.location``, ``sasl.jaas.config``, ... librdkafka (which every
Headwater client is) names most settings alike but not these. :func:`to_librdkafka`
maps one family of settings (the worker's top-level client keys, ``producer.*``,
``consumer.*``, ``admin.*``, a connector's ``*.override.*``):

- ``ssl.truststore.location`` of a PEM file -> ``ssl.ca.location``; of a PKCS12 file ->
  ``ssl.ca.pem`` (its certificates, read with ``ssl.truststore.password``) when the
  ``cryptography`` package is installed; a JKS file is refused with the ``keytool``
  command that converts it. ``ssl.truststore.certificates`` -> ``ssl.ca.pem``.
- ``ssl.keystore.location`` of a PKCS12 file stays (librdkafka reads PKCS12 itself, with
  ``ssl.keystore.password``); of a PEM file (``ssl.keystore.type=PEM``) ->
  ``ssl.certificate.location`` and ``ssl.key.location``; JKS is refused.
  ``ssl.keystore.key`` / ``ssl.keystore.certificate.chain`` -> ``ssl.key.pem`` /
  ``ssl.certificate.pem``.
- ``sasl.jaas.config`` with ``PlainLoginModule`` or ``ScramLoginModule`` ->
  ``sasl.username`` and ``sasl.password``; other login modules are refused with the
  librdkafka settings to use.
- ``ssl.endpoint.identification.algorithm=`` (empty, Java's "off") -> ``none``.
- Java-only settings with no librdkafka equivalent (``ssl.protocol``,
  ``ssl.enabled.protocols``, ``*.callback.handler.class``, ...) are refused by name.

Everything else passes unchanged; librdkafka's own check
(:func:`headwater.connectors.settings.client_setting_errors`) then refuses unknown names.
Called when a worker or connector file is loaded, so ``headwater validate`` reports the
same errors a task start would meet.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

from headwater.connectors.errors import FieldError

__all__ = ["CLIENT_SECURITY_PREFIXES", "is_client_security_key", "parse_jaas", "to_librdkafka"]

CLIENT_SECURITY_PREFIXES = ("sasl.", "ssl.")
"""With ``security.protocol``: the worker's top-level keys that apply to every client."""

_JAVA_ONLY = {
    "ssl.protocol": "librdkafka negotiates the highest TLS version both sides support; remove it",
    "ssl.enabled.protocols": "librdkafka negotiates the highest TLS version both sides support; remove it",
    "ssl.keymanager.algorithm": "a Java (JSSE) setting; remove it",
    "ssl.trustmanager.algorithm": "a Java (JSSE) setting; remove it",
    "ssl.secure.random.implementation": "a Java (JSSE) setting; remove it",
    "ssl.provider": "a Java (JSSE) setting; remove it",
    "ssl.engine.factory.class": "a Java class; use librdkafka's ssl.* settings",
    "sasl.login.class": "a Java class; use librdkafka's sasl.* settings",
    "sasl.login.callback.handler.class": "a Java class; for OAUTHBEARER use sasl.oauthbearer.method=oidc with "
    "sasl.oauthbearer.client.id, sasl.oauthbearer.client.secret and sasl.oauthbearer.token.endpoint.url",
    "sasl.client.callback.handler.class": "a Java class; use sasl.username and sasl.password",
}

_JKS_MAGIC = b"\xfe\xed\xfe\xed"
_JAAS = re.compile(
    r"^\s*(?P<module>[\w.$]+)\s+(?P<flag>required|requisite|sufficient|optional)(?P<options>.*?);?\s*$", re.S
)
_JAAS_OPTION = re.compile(r'\s*(?P<key>[\w.-]+)\s*=\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s;]+))')


def is_client_security_key(key: str) -> bool:
    """Whether a top-level worker key is client security that applies to every client."""
    return key == "security.protocol" or key.startswith(CLIENT_SECURITY_PREFIXES)


def parse_jaas(text: str) -> tuple[str, dict[str, str]]:
    """``(login module class, options)`` of one ``sasl.jaas.config`` entry
    (``org.apache...PlainLoginModule required username="u" password="p";``).

    Raises:
        ValueError: the text is not one JAAS login module entry.
    """
    match = _JAAS.match(text)
    if match is None:
        msg = 'expected "<LoginModule class> required key="value" ...;"'
        raise ValueError(msg)
    options: dict[str, str] = {}
    rest = match["options"].strip().rstrip(";")
    position = 0
    while position < len(rest):
        option = _JAAS_OPTION.match(rest, position)
        if option is None:
            if rest[position:].strip():
                msg = f"cannot read the options from {rest[position:].strip()[:40]!r}"
                raise ValueError(msg)
            break
        quoted = option["quoted"]
        options[option["key"]] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else option["bare"]
        position = option.end()
    return match["module"], options


def _store_kind(path: str, declared: str | None) -> str:
    """``PEM``, ``PKCS12`` or ``JKS``: ``declared`` if given, else sniffed from the file."""
    if declared:
        return declared.upper()
    try:
        head = Path(path).read_bytes()[:64]
    except OSError:
        return "PEM" if path.endswith((".pem", ".crt", ".cer")) else "UNKNOWN"
    if head.startswith(_JKS_MAGIC):
        return "JKS"
    if b"-----BEGIN" in head or head.lstrip().startswith(b"-----"):
        return "PEM"
    return "PKCS12"


def _pkcs12_certificates(path: str, password: str | None) -> str:
    """The certificates of a PKCS12 truststore as PEM text.

    Raises:
        ValueError: ``cryptography`` is missing, or the file cannot be read or decrypted.
    """
    try:
        from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
    except ImportError as exc:
        msg = "reading a PKCS12 truststore needs the cryptography package (pip install cryptography)"
        raise ValueError(msg) from exc
    try:
        data = Path(path).read_bytes()
        store = pkcs12.load_pkcs12(data, password.encode() if password else None)
    except (OSError, ValueError) as exc:
        msg = f"cannot read PKCS12 truststore {path}: {exc}"
        raise ValueError(msg) from exc
    certificates = [c.certificate for c in store.additional_certs]
    if store.cert is not None:
        certificates.append(store.cert.certificate)
    if not certificates:
        msg = f"PKCS12 truststore {path} holds no certificates"
        raise ValueError(msg)
    return "".join(c.public_bytes(Encoding.PEM).decode() for c in certificates)


def _jks_remedy(key: str, path: str) -> str:
    return (
        f"{path} is a JKS store, which librdkafka cannot read; convert it once with "
        f"`keytool -importkeystore -srckeystore {path} -destkeystore store.p12 -deststoretype PKCS12` "
        f"and point {key} at store.p12 (or give a PEM file)"
    )


def to_librdkafka(settings: t.Mapping[str, str], *, prefix: str = "") -> tuple[dict[str, str], list[FieldError]]:
    """Map one family of client settings from Java's names to librdkafka's.

    ``prefix`` is how the family's keys are written in the file (``producer.``,
    ``consumer.override.``, ``""`` for the worker's top-level keys); errors name the key so.

    Returns:
        ``(settings for librdkafka, errors)``; a refused key is left out of the settings.
    """
    source = dict(settings)
    out: dict[str, str] = {}
    errors: list[FieldError] = []

    def refuse(key: str, message: str) -> None:
        errors.append(FieldError(prefix + key, message))

    truststore_type = source.pop("ssl.truststore.type", None)
    truststore_password = source.pop("ssl.truststore.password", None)
    keystore_type = source.pop("ssl.keystore.type", None)
    if (location := source.pop("ssl.truststore.location", None)) is not None:
        kind = _store_kind(location, truststore_type)
        if kind == "PEM":
            out["ssl.ca.location"] = location
        elif kind == "PKCS12":
            try:
                out["ssl.ca.pem"] = _pkcs12_certificates(location, truststore_password)
            except ValueError as exc:
                refuse("ssl.truststore.location", f"{exc}; or give a PEM file (librdkafka: ssl.ca.location)")
        elif kind == "JKS":
            refuse("ssl.truststore.location", _jks_remedy("ssl.truststore.location", location))
        else:
            refuse("ssl.truststore.type", f"{kind!r}: give PEM or PKCS12 (librdkafka: ssl.ca.location, a PEM file)")
    if (certificates := source.pop("ssl.truststore.certificates", None)) is not None:
        out["ssl.ca.pem"] = certificates
    if (location := source.pop("ssl.keystore.location", None)) is not None:
        kind = _store_kind(location, keystore_type)
        if kind == "PEM":
            out["ssl.certificate.location"] = location
            out["ssl.key.location"] = location
        elif kind == "PKCS12":
            out["ssl.keystore.location"] = location
        elif kind == "JKS":
            refuse("ssl.keystore.location", _jks_remedy("ssl.keystore.location", location))
        else:
            refuse("ssl.keystore.type", f"{kind!r}: give PKCS12 or PEM (librdkafka: ssl.keystore.location)")
    if (key_pem := source.pop("ssl.keystore.key", None)) is not None:
        out["ssl.key.pem"] = key_pem
    if (chain := source.pop("ssl.keystore.certificate.chain", None)) is not None:
        out["ssl.certificate.pem"] = chain
    if source.get("ssl.endpoint.identification.algorithm") == "":
        source["ssl.endpoint.identification.algorithm"] = "none"
    if (jaas := source.pop("sasl.jaas.config", None)) is not None:
        _map_jaas(jaas, source, out, refuse)
    for key, value in source.items():
        if key in _JAVA_ONLY:
            refuse(key, f"not a librdkafka setting: {_JAVA_ONLY[key]}")
        else:
            out[key] = value
    return out, errors


def _map_jaas(jaas: str, source: dict[str, str], out: dict[str, str], refuse: t.Callable[[str, str], None]) -> None:
    """``sasl.jaas.config`` -> ``sasl.username``/``sasl.password`` for PLAIN and SCRAM."""
    try:
        module, options = parse_jaas(jaas)
    except ValueError as exc:
        refuse("sasl.jaas.config", f"not a JAAS login module entry: {exc}")
        return
    short = module.rsplit(".", 1)[-1]
    # Checked only when this family sets the mechanism: else it comes from another one
    # (a connector override's JAAS line with the worker's sasl.mechanism).
    mechanism = (source.get("sasl.mechanism") or source.get("sasl.mechanisms") or "").upper()
    if short in ("PlainLoginModule", "ScramLoginModule"):
        expected = "PLAIN" if short == "PlainLoginModule" else "SCRAM-SHA-256 or SCRAM-SHA-512"
        if mechanism and not (mechanism == "PLAIN" if short == "PlainLoginModule" else mechanism.startswith("SCRAM-")):
            refuse("sasl.jaas.config", f"{short} needs sasl.mechanism={expected} (it is {mechanism})")
            return
        missing = [name for name in ("username", "password") if name not in options]
        if missing:
            refuse("sasl.jaas.config", f"{short} entry lacks {' and '.join(missing)}")
            return
        out["sasl.username"] = options["username"]
        out["sasl.password"] = options["password"]
    elif short == "OAuthBearerLoginModule":
        refuse(
            "sasl.jaas.config",
            "OAUTHBEARER through JAAS is Java-only; use librdkafka's sasl.oauthbearer.method=oidc, "
            "sasl.oauthbearer.client.id, sasl.oauthbearer.client.secret and sasl.oauthbearer.token.endpoint.url",
        )
    elif short == "Krb5LoginModule":
        refuse(
            "sasl.jaas.config",
            "Kerberos through JAAS is Java-only; use librdkafka's sasl.kerberos.keytab and sasl.kerberos.principal",
        )
    else:
        refuse("sasl.jaas.config", f"unknown login module {module}; librdkafka takes sasl.username/sasl.password")
