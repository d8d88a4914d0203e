"""Prometheus metrics of one gateway process (served at ``/metrics``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
            "frontdesk_turns",
            "Turns committed, by outcome (ok, error, rate_limited).",
            ["outcome"],
            registry=r,
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
        self.rate_limited = Counter(
            "frontdesk_rate_limited",
            "Customer messages over the per-sender rate limit, by channel and outcome (warn: "
            "answered with a slow-down reply; drop: not processed).",
            ["channel", "outcome"],
            registry=r,
        )
        self.nlu_backend_errors = Counter(
            "frontdesk_nlu_backend_errors",
            "NLU backend calls that gave no usable answer, by backend and outcome "
            "(fallback, not_understood).",
            ["backend", "outcome"],
            registry=r,
        )
        self.poison_items = Counter(
            "frontdesk_poison_items",
            "Items moved to the dead-letter queue because processing them failed "
            "workers.max_attempts times (the conversation goes on without them), by lane.",
            ["lane"],
            registry=r,
        )
        self.reclaimed = Counter(
            "frontdesk_reclaimed",
            "Work tickets taken over from a consumer that stopped answering, by lane.",
            ["lane"],
            registry=r,
        )

        # Human handoff (gateway.handoff).
        minutes = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400)
        self.handoffs = Counter(
            "frontdesk_handoffs", "Handoffs to agents, by trigger.", ["trigger"], registry=r
        )
        self.handoff_claim_seconds = Histogram(
            "frontdesk_handoff_claim_seconds",
            "Time from a handoff to an agent claiming it.",
            buckets=minutes,
            registry=r,
        )
        self.handoff_first_reply_seconds = Histogram(
            "frontdesk_handoff_first_reply_seconds",
            "Time from a handoff to the agent's first reply reaching the outbox.",
            buckets=minutes,
            registry=r,
        )
        self.handoff_duration_seconds = Histogram(
            "frontdesk_handoff_duration_seconds",
            "Time from a handoff to its end (resolved, returned to the bot or abandoned).",
            buckets=minutes,
            registry=r,
        )
        self.handoffs_closed = Counter(
            "frontdesk_handoffs_closed",
            "Handoffs ended, by outcome (resolved, returned, abandoned).",
            ["outcome"],
            registry=r,
        )
        self.csat = Counter(
            "frontdesk_csat",
            "Satisfaction ratings after a handoff, by score.",
            ["score"],
            registry=r,
        )
        self.handoffs_open = Gauge(
            "frontdesk_handoffs_open", "Handoffs queued or with an agent now.", registry=r
        )
        self.bot_containment = Gauge(
            "frontdesk_bot_containment_ratio",
            "Share of conversations of the last 7 days (UTC) never handed to a person.",
            registry=r,
        )

        # Knowledge-base answers (dialogs/knowledge.py, docs/knowledge.md).
        self.knowledge = Counter(
            "frontdesk_knowledge",
            "Knowledge-base outcomes: answer (given), miss (none good enough), yes / no "
            "(the customer's feedback on an answer).",
            ["outcome"],
            registry=r,
        )

    def count_knowledge(self, debug: Mapping[str, Any]) -> None:
        """Count what a turn's ``Outcome.debug["knowledge"]`` says happened."""
        for note in debug.get("knowledge") or ():
            self.knowledge.labels(str(note.get("kind"))).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
