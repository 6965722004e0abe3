"""Sub-command groups of the ``headwater`` command line."""
