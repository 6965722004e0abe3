"""Copybooks shared by the codec tests (imported by module name: tests/codecs is on sys.path)."""

from __future__ import annotations

CUSTOMER = """\
000100* CUSTOMER MASTER RECORD                                          CUST0001
000200 01  CUSTOMER-RECORD.                                             CUST0002
000300     05  CUST-ID            PIC 9(6).                             CUST0003
000400     05  CUST-NAME          PIC X(20).                            CUST0004
000500     05  BALANCE            PIC S9(7)V99 COMP-3.                  CUST0005
000600     05  STATUS-CODE        PIC X.                                CUST0006
000700         88  ACTIVE         VALUE 'A'.                            CUST0007
000800     05  BRANCH             PIC S9(4) COMP.                       CUST0008
000900     05  RATE               PIC S9(3)V9(4).                       CUST0009
001000     05  FILLER             PIC X(3).                             CUST0010
"""
