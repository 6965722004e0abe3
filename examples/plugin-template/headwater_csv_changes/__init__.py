"""``csv-changes``: a template source plugin. Copy this folder to start your own.

Every ``*.csv`` file in ``csv.dir`` is a change log: a header row, then one row per
change with an ``op`` column (``c``, ``u`` or ``d``) and the row's columns.
"""

from headwater_csv_changes.connector import CsvChangesConnector
from headwater_csv_changes.task import CsvChangesTask

__all__ = ["CsvChangesConnector", "CsvChangesTask"]
