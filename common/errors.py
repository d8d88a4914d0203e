"""Errors that cross package boundaries."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """The store cannot be reached; webhooks answer 503 so the platform retries."""
