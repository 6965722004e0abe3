"""Single message transforms: Kafka Connect's built-in set, Debezium's unwrap, and the chain.

The runtime calls :meth:`TransformChain.apply` once per record: on the source path after
``poll()`` and before the converters, on the sink path after the converters and before
``put()``. See :mod:`.base` for the contract and :mod:`.chain` for the configuration.
"""

from __future__ import annotations

from headwater.connectors.transforms.base import Predicate, Transformation, TransformError
from headwater.connectors.transforms.chain import (
    BUILTIN_PREDICATES,
    BUILTIN_TRANSFORMS,
    PREDICATE_ENTRY_POINTS,
    TRANSFORM_ENTRY_POINTS,
    TransformChain,
    build_transforms,
)

__all__ = [
    "BUILTIN_PREDICATES",
    "BUILTIN_TRANSFORMS",
    "PREDICATE_ENTRY_POINTS",
    "TRANSFORM_ENTRY_POINTS",
    "Predicate",
    "TransformChain",
    "TransformError",
    "Transformation",
    "build_transforms",
]
