"""Shared types at the bottom of the house: messages, identity, errors, logging and the
settings loader. This package imports nothing else of Frontdesk's (tests/test_layers.py)."""
