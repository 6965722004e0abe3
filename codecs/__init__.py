"""Pure byte and format code (no I/O): converters, change-event envelopes, EBCDIC and copybooks."""
