"""``sap-rfc-table``: a source that streams SAP tables over RFC (pyrfc or the emulator)."""

from headwater.connectors.sap.connector import SapRfcTableConnector
from headwater.connectors.sap.task import SapRfcTableTask

__all__ = ["SapRfcTableConnector", "SapRfcTableTask"]
