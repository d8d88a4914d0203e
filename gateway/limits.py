"""Per-sender message rate limits: a token bucket per customer and channel, kept in the session.

The bucket lives in the customer's session, so it is read and written by the one worker that
holds the conversation, and saved by the same atomic commit as the turn: a retried turn cannot
count a message twice, and several gateway processes share one bucket without an extra Redis
round trip. Time is the message's arrival (``received_at``), so a backlog handled late is
judged by when it was sent, not when it was read.

Over the limit the sender gets one "slow down" reply; later messages are dropped (no NLU, no
dialog, not posted to agents) until the bucket admits one again. SMS keywords (STOP, START,
HELP) always pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from common.messages import CustomerMessage, InboundEvent
from gateway.sessions import Session

Verdict = Literal["ok", "warn", "drop"]
SLOW_DOWN_TEXT = "You're sending messages very fast — please slow down a moment."


@dataclass(frozen=True, slots=True)
class Bucket:
    """``rate`` messages a second on average, ``burst`` at once."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class SenderLimits:
    default: Bucket | None  # None: no limit
    channels: dict[str, Bucket]

    def bucket(self, channel: str) -> Bucket | None:
        return self.channels.get(channel, self.default)

    def check(self, session: Session, event: InboundEvent) -> tuple[Session, Verdict]:
        """The session with the sender's bucket updated, and what to do with ``event``."""
        if not isinstance(event, CustomerMessage) or event.edited or event.control is not None:
            return session, "ok"
        channel = event.conversation.channel
        bucket = self.bucket(channel)
        if bucket is None:
            return session, "ok"
        tokens, at, warned = session.rate.get(channel, (float(bucket.burst), event.received_at, 0))
        now = max(at, event.received_at)  # arrival times may go back a little across hosts
        tokens = min(float(bucket.burst), tokens + (now - at) * bucket.rate)
        if tokens >= 1.0:
            verdict: Verdict = "ok"
            state = (tokens - 1.0, now, 0)
        else:
            verdict = "drop" if warned else "warn"
            state = (tokens, now, 1)
        return session.replace(rate={**session.rate, channel: state}), verdict
