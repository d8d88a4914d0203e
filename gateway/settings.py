"""The gateway's own settings: server, store, workers, outbox, limits, logs and handoff."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from common.redisconn import parse_redis_url
from common.settings import Section, parse_duration


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = "http://localhost:8080"
    # what this process does: everything; only accept webhooks (no turns, no sends, so an
    # acknowledgement never waits behind a turn); or only run the workers (no HTTP listener)
    role: Literal["all", "ingest", "workers"] = "all"
    # A workers-only process lowers its own CPU priority by this much (os.nice): on a host it
    # shares with ingest processes, the kernel then runs an arriving webhook first, and the
    # turns take whatever CPU is left. 0 leaves it alone.
    workers_nice: int = Field(default=10, ge=0, le=19)
    # A workers-only process serves /healthz, /readyz and /metrics (its own turns and sends)
    # on this port, and nothing else; 0: no listener. Under `--processes N`, the i-th workers
    # process uses this port + i.
    metrics_port: int = Field(default=0, ge=0, le=65535)


class StoreSettings(Section):
    url: str = "memory://"
    session_ttl: float = Field(default=30 * 24 * 3600, gt=0, description="seconds")
    transcript_limit: int = Field(default=200, ge=1)
    dedup_ttl: float = Field(default=7 * 24 * 3600, gt=0, description="seconds")
    max_connections: int = Field(default=512, ge=8, description="Redis connections per process")
    # How long anything about a customer is kept (docs/privacy.md): session, transcript,
    # dedup ids, handoff records, dead letters and the web chat log never outlive it.
    transcript_retention: float = Field(default=90 * 24 * 3600, gt=0, description="seconds")

    @field_validator("url")
    @classmethod
    def _known_url(cls, value: str) -> str:
        """memory://, or a Redis URL (one server, cluster, Sentinel: common/redisconn.py)."""
        if not value.startswith("memory://"):
            parse_redis_url(value)  # a ValueError naming what is wrong (password masked)
        return value

    @field_validator("transcript_retention", mode="before")
    @classmethod
    def _retention_duration(cls, value: object) -> object:
        return parse_duration(value)

    @model_validator(mode="after")
    def _within_retention(self) -> StoreSettings:
        """Sessions and dedup ids (keys named after the customer) expire within retention."""
        keep = self.transcript_retention
        if self.session_ttl <= keep and self.dedup_ttl <= keep:
            return self
        return self.model_copy(
            update={
                "session_ttl": min(self.session_ttl, keep),
                "dedup_ttl": min(self.dedup_ttl, keep),
            }
        )


class WorkerSettings(Section):
    concurrency: int = Field(default=64, ge=1, description="conversations handled at once")
    # Admission control: turns are CPU work on the event loop that also answers webhooks; a
    # process takes only this many conversations' turns at once (capped by concurrency), the
    # rest wait in Redis, so accepting a webhook does not queue behind dozens of turns.
    turn_slots: int = Field(default=16, ge=1, description="turns computed at once per process")
    # ... and fewer while webhooks are arriving, so that their acknowledgements do not queue
    # behind the steps of many turns (gateway/admission.py); 0: no difference
    turn_slots_accepting: int = Field(
        default=8, ge=0, description="turns computed at once while webhooks arrive"
    )
    lease: float = Field(default=15.0, gt=0, description="seconds a conversation lock lives")
    reclaim_idle: float = Field(
        default=30.0, gt=0, description="seconds before work of a dead process is reclaimed"
    )
    shutdown_grace: float = Field(default=20.0, ge=0)
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="failed attempts at one inbound event or send before it is dead-lettered",
    )


class SenderLimitSettings(Section):
    rate: float = Field(default=1.0, gt=0, description="messages a second, on average")
    burst: int = Field(default=20, ge=1, description="messages at once")


class LimitSettings(Section):
    # Per sender (customer) and channel; over it: one "slow down" reply, then dropped.
    enabled: bool = True
    per_sender: SenderLimitSettings = SenderLimitSettings()
    channels: dict[str, SenderLimitSettings] = Field(default_factory=dict)  # overrides


class OutboxSettings(Section):
    max_attempts: int = Field(default=6, ge=1)
    base_delay: float = Field(default=0.5, gt=0)
    max_delay: float = Field(default=60.0, gt=0)
    max_retry_after: float = Field(default=300.0, gt=0)
    timeout: float = Field(default=15.0, gt=0)
    # Messages a second per process, by conversation channel. Each adapter declares a rate
    # below its platform's documented limit (Capabilities.rate_limit); these override it.
    rate_limits: dict[str, float] = Field(default_factory=dict)


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class BusinessHoursSettings(Section):
    """When agents are there. No ``weekly`` entries: always open."""

    time_zone: str = "UTC"
    # Day (mon … sun) -> spans "HH:MM-HH:MM" (end exclusive, "24:00" allowed); a day not listed
    # is closed.
    weekly: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    holidays: tuple[str, ...] = ()  # YYYY-MM-DD, closed all day

    def requirements(self) -> list[tuple[str, str]]:
        import datetime
        import zoneinfo

        problems: list[tuple[str, str]] = []
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(("time_zone", f"unknown time zone {self.time_zone!r}"))
        for day, spans in self.weekly.items():
            if day not in _DAYS:
                problems.append(("weekly", f"unknown day {day!r} (use {', '.join(_DAYS)})"))
            for span in spans:
                m = _SPAN.match(span)
                if m is None or (m.group(1), m.group(2)) >= (m.group(3), m.group(4)):
                    problems.append(("weekly", f"{day}: bad span {span!r} (use HH:MM-HH:MM)"))
        for holiday in self.holidays:
            try:
                datetime.date.fromisoformat(holiday)
            except ValueError:
                problems.append(("holidays", f"bad date {holiday!r} (use YYYY-MM-DD)"))
        return problems


class CsatSettings(Section):
    enabled: bool = True
    question: str = (
        "Thanks for your patience! How would you rate the help you got (1 = poor, 5 = great)?"
    )
    thanks: str = "Thank you for your feedback!"


class HandoffSettings(Section):
    slack_channel: str = ""  # the agents' channel id
    note_prefix: str = "//"  # a thread reply starting with it stays internal
    reannounce_after: float = Field(default=300.0, gt=0, description="seconds unclaimed")
    mention: str = ""  # a Slack user group id (S…) mentioned when re-announcing
    abandon_after: float = Field(default=1800.0, gt=0, description="seconds without a word")
    tick: float = Field(default=15.0, gt=0, description="seconds between timer scans")
    relay_attempts: int = Field(default=40, ge=1, description="send attempts for handoff posts")
    business_hours: BusinessHoursSettings = BusinessHoursSettings()
    csat: CsatSettings = CsatSettings()
    agents: dict[str, str] = Field(default_factory=dict)  # Slack user id -> name customers see
    default_agent_name: str = "Support"
    pickup_samples: int = Field(default=20, ge=1, description="recent pickups for the wait")
    # Files agents share reach customers through signed URLs on server.public_url
    # (/media/slack/…). Key: this secret, or else one derived from the Slack signing secret.
    media_secret: str = ""
    media_ttl: float = Field(default=24 * 3600.0, gt=0, description="seconds a file URL works")


class GatewaySettings(Section):
    """Everything the pipe reads; the composition root's ``Settings`` adds the channels, the
    NLU, the dialogs and the knowledge base."""

    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    workers: WorkerSettings = WorkerSettings()
    outbox: OutboxSettings = OutboxSettings()
    limits: LimitSettings = LimitSettings()
    log: LogSettings = LogSettings()
    handoff: HandoffSettings = HandoffSettings()
