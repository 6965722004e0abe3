"""The ``oracle-logminer`` source: Oracle change capture through LogMiner (see issue 8)."""
