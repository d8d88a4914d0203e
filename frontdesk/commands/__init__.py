"""The ``frontdesk`` subcommands, one module per area; ``frontdesk.cli`` registers them."""

from __future__ import annotations

import sys

from frontdesk.config import Settings


def shared_store_missing(settings: Settings, what: str) -> bool:
    """True (and says why) when ``store.url`` is in-process, so ``what`` cannot be reached
    from another command."""
    if not settings.store.url.startswith("memory://"):
        return False
    print(f"store.url is memory://: {what} live only inside the running process", file=sys.stderr)
    return True
