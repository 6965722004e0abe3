"""Sink plugins: each one a folder of config, connector, task and client."""
