"""The narrow interface between the ``mongodb`` sink and MongoDB, and its pymongo adapter.

The task builds driver-neutral :class:`WriteOp` values and hands them to a
:class:`MongoWriter`. Only the factory functions here import pymongo (lazily), so
``import headwater.sinks.mongodb`` works without the ``mongodb`` extra, and tests can
put any object with a ``bulk_write`` method behind the task.

Error contract of :meth:`MongoWriter.bulk_write`:

- :class:`RetriableError` for transient trouble (network, no primary, timeouts,
  server selection, transient server codes): nothing can be assumed about which writes
  of the call were applied; every write the sink builds is safe to repeat except
  insert-one, which then meets a duplicate key.
- :class:`BulkWriteFailure` when single writes were rejected: it lists each failed
  write's index into ``operations``, and says whether the other writes were attempted.
- :class:`FatalError` for everything a retry cannot fix (authentication, bad URI).
"""

from __future__ import annotations

import decimal
import enum
import typing as t
import urllib.parse
from dataclasses import dataclass, field

from headwater.connectors.errors import FatalError, RetriableError

__all__ = [
    "TRANSIENT_CODES",
    "BulkWriteFailure",
    "MongoWriter",
    "PymongoWriter",
    "WriteError",
    "WriteKind",
    "WriteOp",
    "connect",
    "object_id_factory",
    "redact_uri",
]

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

# Server error codes a retry can fix (pymongo's own retryable-write list plus timeouts).
TRANSIENT_CODES = frozenset({6, 7, 50, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 134})


class WriteKind(enum.Enum):
    """The bulk-write operations the sink uses."""

    INSERT = "insert"
    REPLACE = "replace"
    UPDATE = "update"
    DELETE = "delete"
    DELETE_MANY = "delete_many"


@dataclass(slots=True)
class WriteOp:
    """One write of a bulk write, independent of the driver.

    ``document`` is the document to insert, the replacement, or the update (``$set``...);
    ``filter`` selects the target (unused for inserts).
    """

    kind: WriteKind
    filter: t.Mapping[str, t.Any] | None = None
    document: t.Mapping[str, t.Any] | None = None
    upsert: bool = False


@dataclass(frozen=True, slots=True)
class WriteError:
    """One rejected write: its index in the operations passed, the server code, the message."""

    index: int
    code: int | None
    message: str

    @property
    def transient(self) -> bool:
        """True when retrying this write may succeed (e.g. the primary stepped down)."""
        return self.code in TRANSIENT_CODES


@dataclass
class BulkWriteFailure(Exception):
    """Some writes of a bulk write were rejected.

    Attributes:
        errors: one entry per rejected write, in index order.
        others_attempted: True when the server ran the bulk write (ordered: the writes
            before the first error were applied, those after it were not attempted;
            unordered: all other writes were applied). False when the batch could not
            be sent at all (a document cannot be encoded): none was applied.
    """

    errors: list[WriteError] = field(default_factory=list)
    others_attempted: bool = True

    def __str__(self) -> str:
        first = self.errors[0] if self.errors else None
        return f"{len(self.errors)} writes rejected" + (f", first at {first.index}: {first.message}" if first else "")


class MongoWriter(t.Protocol):
    """What the sink needs from MongoDB: bulk writes, and a way to let go."""

    def bulk_write(self, database: str, collection: str, operations: t.Sequence[WriteOp], *, ordered: bool) -> int:
        """Apply ``operations`` to ``database.collection`` in one bulk write; return how many were applied.

        Raises:
            RetriableError: transient failure; the whole call may be repeated.
            BulkWriteFailure: single writes were rejected (see its attributes).
            FatalError: a failure no retry can fix.
        """
        ...

    def close(self) -> None:
        """Close connections. Called once, when the task stops."""
        ...


def redact_uri(text: str, uri: str) -> str:
    """``text`` with the password (and user) of ``uri`` replaced, for error messages."""
    try:
        parsed = urllib.parse.urlsplit(uri)
        secrets = [part for part in (parsed.password, parsed.username) if part]
    except ValueError:
        secrets = []
    for secret in secrets:
        text = text.replace(secret, "***").replace(urllib.parse.unquote(secret), "***")
    return text.replace(uri, "mongodb://***")


def object_id_factory() -> t.Callable[[], t.Any]:
    """``bson.ObjectId``, imported on first use (the bson-oid id strategy)."""
    from bson import ObjectId

    return t.cast(t.Callable[[], t.Any], ObjectId)


def connect(uri: str, *, app_name: str = "headwater-mongodb-sink") -> PymongoWriter:
    """A :class:`PymongoWriter` for ``uri``. Connects lazily, on the first write.

    Raises:
        FatalError: the URI is invalid, or its SRV record cannot be resolved (the
            message never contains the credentials).
    """
    try:
        import pymongo
        from bson.codec_options import TypeRegistry
        from bson.decimal128 import Decimal128
        from pymongo.errors import ConfigurationError
    except ImportError as exc:
        msg = "the mongodb sink needs pymongo: pip install 'headwater[mongodb]'"
        raise FatalError(msg) from exc

    def encode_fallback(value: t.Any) -> t.Any:
        # JSON with schemas gives exact Decimals; MongoDB's exact type is Decimal128.
        if isinstance(value, decimal.Decimal):
            return Decimal128(value)
        return value

    try:
        client: t.Any = pymongo.MongoClient(
            uri,
            appname=app_name,
            uuidRepresentation="standard",
            type_registry=TypeRegistry(fallback_encoder=encode_fallback),
        )
    except (ConfigurationError, ValueError, TypeError) as exc:
        msg = f"connection.uri is not usable: {redact_uri(str(exc), uri)}"
        raise FatalError(msg) from None
    return PymongoWriter(client)


class PymongoWriter:
    """:class:`MongoWriter` on a ``pymongo.MongoClient``; maps driver errors to Headwater's."""

    def __init__(self, client: t.Any) -> None:
        import pymongo

        self._client = client
        self._collections: dict[tuple[str, str], t.Any] = {}
        # Driver objects are built at the last moment; a missing filter or document is
        # the task's bug, so it fails loudly here rather than as a server error.
        self._builders: dict[WriteKind, t.Callable[[WriteOp], t.Any]] = {
            WriteKind.INSERT: lambda op: pymongo.InsertOne(_required(op.document)),
            WriteKind.REPLACE: lambda op: pymongo.ReplaceOne(
                _required(op.filter), _required(op.document), upsert=op.upsert
            ),
            WriteKind.UPDATE: lambda op: pymongo.UpdateOne(
                _required(op.filter), _required(op.document), upsert=op.upsert
            ),
            WriteKind.DELETE: lambda op: pymongo.DeleteOne(_required(op.filter)),
            WriteKind.DELETE_MANY: lambda op: pymongo.DeleteMany(op.filter or {}),
        }

    def _collection(self, database: str, collection: str) -> t.Any:
        handle = self._collections.get((database, collection))
        if handle is None:
            handle = self._collections[(database, collection)] = self._client[database][collection]
        return handle

    def bulk_write(self, database: str, collection: str, operations: t.Sequence[WriteOp], *, ordered: bool) -> int:
        """See :meth:`MongoWriter.bulk_write`."""
        from bson.errors import InvalidDocument
        from pymongo.errors import (
            BulkWriteError,
            ConnectionFailure,
            DocumentTooLarge,
            ExecutionTimeout,
            OperationFailure,
            PyMongoError,
            WTimeoutError,
        )

        if not operations:
            return 0
        try:
            requests = [self._build(op) for op in operations]
        except (TypeError, ValueError) as exc:
            # pymongo validates each write as it is built: find the bad ones.
            raise self._isolate(operations, exc) from exc
        try:
            result = self._collection(database, collection).bulk_write(requests, ordered=ordered)
        except BulkWriteError as exc:
            details = exc.details
            if details.get("writeConcernErrors") and not details.get("writeErrors"):
                reason = details["writeConcernErrors"][0].get("errmsg")
                msg = f"write concern not satisfied on {database}.{collection}: {reason}"
                raise RetriableError(msg) from exc
            errors = [
                WriteError(int(error["index"]), error.get("code"), str(error.get("errmsg", "")))
                for error in details.get("writeErrors", ())
            ]
            raise BulkWriteFailure(sorted(errors, key=lambda error: error.index)) from exc
        except (InvalidDocument, DocumentTooLarge, OverflowError, TypeError, ValueError) as exc:
            # Raised while pymongo encodes the batch (a value BSON cannot hold, a key the
            # driver refuses): no write was sent.
            raise self._isolate(operations, exc) from exc
        except (ConnectionFailure, ExecutionTimeout, WTimeoutError) as exc:
            # ConnectionFailure covers AutoReconnect, NotPrimaryError, NetworkTimeout and
            # ServerSelectionTimeoutError.
            msg = f"MongoDB unavailable ({type(exc).__name__}): {exc}"
            raise RetriableError(msg) from exc
        except OperationFailure as exc:
            if exc.code in TRANSIENT_CODES or exc.has_error_label("RetryableWriteError"):
                msg = f"MongoDB transient error {exc.code}: {exc}"
                raise RetriableError(msg) from exc
            msg = f"MongoDB refused the bulk write on {database}.{collection} (code {exc.code}): {exc}"
            raise FatalError(msg) from exc
        except PyMongoError as exc:
            msg = f"MongoDB driver error ({type(exc).__name__}): {exc}"
            raise FatalError(msg) from exc
        return int(result.inserted_count + result.upserted_count + result.matched_count + result.deleted_count)

    def _build(self, op: WriteOp) -> t.Any:
        """The driver request for ``op``, checked as pymongo checks it only once the batch is sent.

        A replacement whose first key starts with ``$`` (pymongo reads it as an update) or
        an update without ``$`` operators raises ``ValueError`` here, so that one write is
        rejected instead of the whole batch failing inside ``bulk_write``.
        """
        from pymongo.common import validate_ok_for_replace, validate_ok_for_update

        request = self._builders[op.kind](op)
        if op.kind is WriteKind.REPLACE:
            validate_ok_for_replace(_required(op.document))
        elif op.kind is WriteKind.UPDATE:
            validate_ok_for_update(_required(op.document))
        return request

    def _isolate(self, operations: t.Sequence[WriteOp], cause: BaseException) -> BulkWriteFailure | FatalError:
        """Build and encode each write alone to find those that cannot be sent; none was applied.

        Returns a :class:`FatalError` when no single write is to blame.
        """
        import bson

        options = self._client.codec_options
        errors = []
        for index, op in enumerate(operations):
            try:
                self._build(op)
                for part in (op.filter, op.document):
                    if part is not None:
                        size = len(bson.encode(part, codec_options=options))
                        if size > MAX_DOCUMENT_BYTES:
                            msg = f"document of {size} bytes exceeds MongoDB's 16 MiB limit"
                            raise ValueError(msg)
            except Exception as exc:
                errors.append(WriteError(index, None, f"cannot encode the document: {exc}"))
        if not errors:
            msg = f"bulk write could not be sent, though each write encodes alone: {cause}"
            return FatalError(msg)
        return BulkWriteFailure(errors, others_attempted=False)

    def close(self) -> None:
        """Close the client's connection pools."""
        self._client.close()


def _required(part: t.Mapping[str, t.Any] | None) -> t.Mapping[str, t.Any]:
    if part is None:
        msg = "write operation lacks its filter or document"
        raise TypeError(msg)
    return part
