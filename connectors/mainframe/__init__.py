"""``mainframe-copybook``: a source that streams mainframe dataset files decoded with a COBOL copybook."""

from headwater.connectors.mainframe.connector import MainframeCopybookConnector
from headwater.connectors.mainframe.task import MainframeCopybookTask

__all__ = ["MainframeCopybookConnector", "MainframeCopybookTask"]
