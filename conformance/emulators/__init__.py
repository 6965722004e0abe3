"""Emulators of external systems: they write realistic input data and know its final state."""
