"""Click command groups of the ``headwater`` CLI, one module per group, registered by ``cli``."""
