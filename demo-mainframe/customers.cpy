      * CUSTOMER MASTER - UNLOADED FROM VSAM KSDS CUST.MASTER
       01  CUSTOMER-RECORD.
           05  CUST-ID              PIC 9(8).
           05  CUST-NAME            PIC X(30).
           05  CUST-CITY            PIC X(20).
           05  CUST-STATUS          PIC X.
               88  CUST-ACTIVE      VALUE 'A'.
           05  BALANCE              PIC S9(9)V99 COMP-3.
           05  CREDIT-LIMIT         PIC S9(7)V99.
           05  ORDER-COUNT          PIC S9(4) COMP.
           05  OPENED-DATE          PIC 9(8).
           05  FILLER               PIC X(4).
