"""Human handoff to agents in a Slack channel: the card, the thread, claim / reply / resolve /
return to the bot, the queue's timers, business hours, satisfaction ratings and statistics.

:func:`build_handoff` wires the parts for a gateway: the desk (the turn worker's partner), the
relay (ingest's resolver and the outbox's send hooks), the ticker (timers) and the statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from channels.base import Capabilities
from common.logging import get_logger
from gateway.handoff.desk import DeskTurn, HandoffDesk
from gateway.handoff.media import MediaSigner
from gateway.handoff.relay import HandoffRelay
from gateway.handoff.stats import Stats
from gateway.handoff.store import HandoffStore, handoff_store
from gateway.handoff.ticker import Ticker
from gateway.metrics import Metrics
from gateway.settings import GatewaySettings
from gateway.store import Store


@dataclass(frozen=True, slots=True)
class HandoffParts:
    desk: HandoffDesk
    relay: HandoffRelay
    ticker: Ticker
    stats: Stats
    store: HandoffStore
    media: MediaSigner | None = None  # signs the URLs of agents' files

    async def refresh_gauges(self) -> None:
        await self.stats.refresh(self.store)


def build_handoff(
    settings: GatewaySettings,
    store: Store,
    metrics: Metrics,
    *,
    slack_enabled: bool,
    media: MediaSigner | None = None,
    capabilities: Mapping[str, Capabilities] | None = None,
) -> HandoffParts | None:
    """The handoff parts, or None when no agents' channel is configured (or Slack is off)."""
    if not settings.handoff.slack_channel:
        return None
    if not slack_enabled:
        get_logger().warning(
            "handoff_off", reason="handoff.slack_channel is set but the Slack channel is off"
        )
        return None
    hstore = handoff_store(store, retention=settings.store.transcript_retention)
    stats = Stats(metrics)
    desk = HandoffDesk(
        settings=settings.handoff,
        store=store,
        hstore=hstore,
        stats=stats,
        media=media,
        retention=settings.store.transcript_retention,
        capabilities=capabilities,
    )
    relay = HandoffRelay(desk=desk, store=store, hstore=hstore)
    ticker = Ticker(
        store=store,
        hstore=hstore,
        channel=settings.handoff.slack_channel,
        every=settings.handoff.tick,
        dedup_ttl=settings.store.dedup_ttl,
    )
    return HandoffParts(
        desk=desk, relay=relay, ticker=ticker, stats=stats, store=hstore, media=media
    )


__all__ = ["DeskTurn", "HandoffDesk", "HandoffParts", "HandoffRelay", "build_handoff"]
