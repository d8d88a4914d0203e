"""Gateway settings for tests that run the whole pipe quickly: short leases, fast retries and
no pacing on any channel, around the channels and handoff a test names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from frontdesk.config import Settings

# 0 turns a channel's declared send rate off, so tests never wait on pacing.
NO_PACING = {"slack": 0, "telegram": 0, "sms": 0, "whatsapp": 0, "whatsapp_cloud": 0}


def quick_settings(
    *,
    public_url: str,
    store_url: str,
    channels: Mapping[str, Any],
    handoff: Mapping[str, Any] | None = None,
) -> Settings:
    return Settings.model_validate(
        {
            "server": {"public_url": public_url},
            "store": {"url": store_url},
            "workers": {"lease": 2, "reclaim_idle": 2},
            "outbox": {
                "base_delay": 0.05,
                "max_delay": 0.2,
                "max_attempts": 3,
                "rate_limits": NO_PACING,
            },
            "channels": dict(channels),
            "handoff": dict(handoff or {}),
        }
    )
