"""Conformance: standard plugin tests (a pytest plugin), emulators and test fixtures."""
