"""Prometheus metrics of one gateway process (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """One registry per gateway, so several gateways (and tests) can live in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_in = Counter(
            "frontdesk_events_in",
            "Inbound webhook events by channel and outcome "
            "(accepted, duplicate, rejected, malformed, unavailable).",
            ["channel", "outcome"],
            registry=r,
        )
        self.turn_seconds = Histogram(
            "frontdesk_turn_seconds",
            "Time from an event's arrival to its turn being committed.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.turns = Counter(
            "frontdesk_turns", "Turns committed, by outcome (ok, error).", ["outcome"], registry=r
        )
        self.queue_depth = Gauge(
            "frontdesk_queue_depth",
            "Work tickets waiting or in progress, by lane (turns, sends).",
            ["lane"],
            registry=r,
        )
        self.sends = Counter(
            "frontdesk_sends",
            "Send attempts by channel and outcome (sent, retried, failed, skipped_duplicate).",
            ["channel", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "frontdesk_dead_letters",
            "Messages moved to the dead-letter queue, by channel.",
            ["channel"],
            registry=r,
        )
        self.reclaimed = Counter(
            "frontdesk_reclaimed",
            "Work tickets taken over from a consumer that stopped answering, by lane.",
            ["lane"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
