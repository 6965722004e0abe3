"""The emulated system's table definitions (DDIC), modelled on SAP ERP's own.

MARA (material master), KNA1 (customer master), VBAK (sales document header, with a
customer append ``ZZAEZET``/``ZZPRIO``/``ZZITEMS``), ZWIDE (a customer table wider than
RFC_READ_TABLE's 512 characters, with a RAW GUID), ZNOTES (a table with a STRING column,
which RFC_READ_TABLE cannot read), and the change document tables CDHDR and CDPOS.
"""

from __future__ import annotations

from headwater.conformance.emulators.sap.ddic import Field, Table

__all__ = ["CHANGE_OBJECTS", "define_tables"]

CHANGE_OBJECTS: dict[str, tuple[str, tuple[str, str, str]]] = {
    "MARA": ("MATERIAL", ("MM01", "MM02", "MM06")),
    "KNA1": ("DEBI", ("XD01", "XD02", "XD06")),
    "VBAK": ("VERKBELEG", ("VA01", "VA02", "VA02")),
}
"""Table -> (change document object class, (create, change, delete) transaction codes)."""

_NO_CHANGE_DOCS = frozenset({"AEDAT", "ZZAEZET", "LAEDA", "AENAM"})
"""Fields the change document objects do not log (administrative data)."""


def _f(
    name: str, datatype: str, leng: int, decimals: int = 0, *, key: bool = False, text: str = "", alpha: bool = False
) -> Field:
    return Field(name, datatype, leng, decimals, key, text, "ALPHA" if alpha else "")


def define_tables() -> dict[str, Table]:
    """Fresh, empty tables by name."""
    mandt = _f("MANDT", "CLNT", 3, key=True, text="Client")
    tables = [
        Table(
            "MARA",
            [
                mandt,
                _f("MATNR", "CHAR", 18, key=True, text="Material Number", alpha=True),
                _f("ERSDA", "DATS", 8, text="Created On"),
                _f("ERNAM", "CHAR", 12, text="Name of Person who Created the Object"),
                _f("LAEDA", "DATS", 8, text="Date of Last Change"),
                _f("AENAM", "CHAR", 12, text="Name of Person Who Changed Object"),
                _f("LVORM", "CHAR", 1, text="Flag Material for Deletion at Client Level"),
                _f("MTART", "CHAR", 4, text="Material Type"),
                _f("MATKL", "CHAR", 9, text="Material Group"),
                _f("MEINS", "UNIT", 3, text="Base Unit of Measure"),
                _f("BRGEW", "QUAN", 13, 3, text="Gross Weight"),
                _f("NTGEW", "QUAN", 13, 3, text="Net Weight"),
                _f("GEWEI", "UNIT", 3, text="Weight Unit"),
            ],
            text="General Material Data",
            auth_group="MA",
        ),
        Table(
            "KNA1",
            [
                mandt,
                _f("KUNNR", "CHAR", 10, key=True, text="Customer Number", alpha=True),
                _f("LAND1", "CHAR", 3, text="Country Key"),
                _f("NAME1", "CHAR", 35, text="Name 1"),
                _f("ORT01", "CHAR", 35, text="City"),
                _f("PSTLZ", "CHAR", 10, text="Postal Code"),
                _f("STRAS", "CHAR", 35, text="House number and street"),
                _f("ERDAT", "DATS", 8, text="Date on which the Record Was Created"),
                _f("ERNAM", "CHAR", 12, text="Name of Person who Created the Object"),
                _f("KTOKD", "CHAR", 4, text="Customer Account Group"),
                _f("LOEVM", "CHAR", 1, text="Central Deletion Flag for Master Record"),
            ],
            text="General Data in Customer Master",
            auth_group="VC",
        ),
        Table(
            "VBAK",
            [
                mandt,
                _f("VBELN", "CHAR", 10, key=True, text="Sales Document", alpha=True),
                _f("ERDAT", "DATS", 8, text="Date on which the Record Was Created"),
                _f("ERZET", "TIMS", 6, text="Entry time"),
                _f("ERNAM", "CHAR", 12, text="Name of Person who Created the Object"),
                _f("AEDAT", "DATS", 8, text="Date of Last Change"),
                _f("ZZAEZET", "TIMS", 6, text="Time of Last Change (append)"),
                _f("AUART", "CHAR", 4, text="Sales Document Type"),
                _f("VKORG", "CHAR", 4, text="Sales Organization"),
                _f("NETWR", "CURR", 15, 2, text="Net Value of the Sales Order in Document Currency"),
                _f("WAERK", "CUKY", 5, text="SD Document Currency"),
                _f("KUNNR", "CHAR", 10, text="Sold-to party", alpha=True),
                _f("ZZPRIO", "NUMC", 2, text="Priority (append)"),
                _f("ZZITEMS", "INT4", 10, text="Number of items (append)"),
            ],
            text="Sales Document: Header Data",
            auth_group="VA",
        ),
        Table(
            "ZWIDE",
            [
                mandt,
                _f("DOCID", "NUMC", 10, key=True, text="Document Number"),
                _f("TITLE", "CHAR", 60, text="Title"),
                _f("NOTE1", "CHAR", 254, text="Long Note 1"),
                _f("NOTE2", "CHAR", 254, text="Long Note 2"),
                _f("AMOUNT", "DEC", 11, 2, text="Amount"),
                _f("CREATED", "DATS", 8, text="Created On"),
                _f("CTIME", "TIMS", 6, text="Created At"),
                _f("ZZGUID", "RAW", 16, text="GUID in 'RAW' format"),
            ],
            text="Wide customer table (wider than 512 characters)",
        ),
        Table(
            "ZNOTES",
            [
                mandt,
                _f("NOTEID", "NUMC", 8, key=True, text="Note Number"),
                _f("BODY", "STRG", 0, text="Note text (STRING)"),
            ],
            text="Notes with a STRING column",
        ),
        Table(
            "CDHDR",
            [
                _f("MANDANT", "CLNT", 3, key=True, text="Client"),
                _f("OBJECTCLAS", "CHAR", 15, key=True, text="Object class"),
                _f("OBJECTID", "CHAR", 90, key=True, text="Object value"),
                _f("CHANGENR", "CHAR", 10, key=True, text="Document change number"),
                _f("USERNAME", "CHAR", 12, text="User name of the person responsible in change document"),
                _f("UDATE", "DATS", 8, text="Creation date of the change document"),
                _f("UTIME", "TIMS", 6, text="Time changed"),
                _f("TCODE", "CHAR", 20, text="Transaction in which a change was made"),
                _f("PLANCHNGNR", "CHAR", 12, text="Planned change number"),
                _f("ACT_CHNGNO", "CHAR", 10, text="Change number of the document created by this change"),
                _f("WAS_PLANND", "CHAR", 1, text="Flag that changes were generated from planned changes"),
                _f("CHANGE_IND", "CHAR", 1, text="Application object change type (U, I, E, D)"),
                _f("LANGU", "LANG", 1, text="Language Key"),
                _f("VERSION", "CHAR", 3, text="3-Byte field"),
            ],
            text="Change document header",
            auth_group="SC",
        ),
        Table(
            "CDPOS",
            [
                _f("MANDANT", "CLNT", 3, key=True, text="Client"),
                _f("OBJECTCLAS", "CHAR", 15, key=True, text="Object class"),
                _f("OBJECTID", "CHAR", 90, key=True, text="Object value"),
                _f("CHANGENR", "CHAR", 10, key=True, text="Document change number"),
                _f("TABNAME", "CHAR", 30, key=True, text="Table Name"),
                _f("TABKEY", "CHAR", 70, key=True, text="Changed table record key"),
                _f("FNAME", "CHAR", 30, key=True, text="Field Name"),
                _f("CHNGIND", "CHAR", 1, key=True, text="Change Type (U, I, S, D)"),
                _f("TEXT_CASE", "CHAR", 1, text="Flag: X=Text change"),
                _f("UNIT_OLD", "UNIT", 3, text="Change documents, unit referenced"),
                _f("UNIT_NEW", "UNIT", 3, text="Change documents, unit referenced"),
                _f("CUKY_OLD", "CUKY", 5, text="Change documents, referenced currency"),
                _f("CUKY_NEW", "CUKY", 5, text="Change documents, referenced currency"),
                _f("VALUE_NEW", "CHAR", 254, text="New contents of changed field"),
                _f("VALUE_OLD", "CHAR", 254, text="Old contents of changed field"),
            ],
            text="Change document items",
            auth_group="SC",
        ),
    ]
    return {table.name: table for table in tables}


def logged_fields(table: Table) -> list[str]:
    """The non-key fields a change document logs for ``table``."""
    return [f.name for f in table.fields if not f.key and f.name not in _NO_CHANGE_DOCS]
