"""Frontdesk's core: message types, configuration, sessions, ingest, workers, outbox, app, CLI."""
