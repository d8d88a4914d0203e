"""The outbox: send each conversation's replies in order, with retries, exactly once.

A message is sent through its channel's adapter. Rate limits wait as long as the platform's
``Retry-After`` says; transient failures (5xx, timeouts, network) back off exponentially with
jitter (tenacity); permanent ones (4xx) are not retried. After the last attempt the message goes
to the dead-letter queue (``frontdesk dlq list`` / ``frontdesk dlq retry ID``). Sends are
paced per channel (``outbox.rate_limits``, aiolimiter) below each platform's documented limit.
A sent message's key is remembered, so a retried turn or a re-sent dead letter never goes out
twice.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from typing import Protocol

from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from channels.base import AgentDesk, Channel, SendError
from common.logging import get_logger
from common.messages import CustomerReply, OutboundMessage, decode_outbound
from common.retry import retrying
from gateway.lanes import LockLost
from gateway.metrics import Metrics
from gateway.settings import OutboxSettings
from gateway.store import DeadLetter, Store, StoreUnavailable

SENT_TTL = 7 * 24 * 3600.0


class SendHooks(Protocol):
    """What the handoff adds around a send (``gateway.handoff.relay``): fill in where a
    message goes (a card's thread), and act on its success or final failure."""

    async def prepare(self, key: str, message: OutboundMessage) -> OutboundMessage: ...

    async def sent(self, key: str, message: OutboundMessage, platform_id: str) -> None: ...

    async def failed(self, key: str, message: OutboundMessage, error: str) -> None: ...


class AlreadySent(Exception):
    """The message's key is recorded as sent: a retried turn or a re-sent dead letter."""


class Outbox:
    def __init__(
        self,
        *,
        store: Store,
        channels: Mapping[str, Channel],
        metrics: Metrics,
        settings: OutboxSettings,
        lease: float,
        hooks: SendHooks | None = None,
    ) -> None:
        self.hooks = hooks
        self.store = store
        self.lease = lease
        self.sent_ttl = SENT_TTL  # how long a sent mark is kept (capped by the retention)
        self.channels = channels
        self.metrics = metrics
        self.settings = settings
        # each channel's declared rate, unless outbox.rate_limits says otherwise
        rates = {
            c: ch.capabilities[c].rate_limit for c, ch in channels.items() if c in ch.capabilities
        }
        rates.update(settings.rate_limits)
        self._limiters = {
            channel: AsyncLimiter(max_rate=rate, time_period=1.0)
            for channel, rate in rates.items()
            if rate is not None and rate > 0
        }
        self._backoff = wait_random_exponential(
            multiplier=settings.base_delay, max=settings.max_delay
        )

    async def handle(self, key: str, token: str, item: bytes) -> bytes | None:
        """Send one message; returns the outbox's next item, or None when it is empty and the
        conversation's outbox was released."""
        message = decode_outbound(item)
        channel = message.conversation.channel
        log = get_logger(conversation_id=key, channel=channel, message_key=message.key)
        try:
            attempts, platform_id = await self._send(key, token, message)
        except AlreadySent:
            self.metrics.sends.labels(channel, "skipped_duplicate").inc()
            return await self._remember_sent(key, token, item, message.key)
        except SendError as exc:
            attempts = exc.attempts
            log.warning("send_dead_lettered", error=str(exc), attempts=attempts)
            await self._hook("failed", key, message, str(exc))
            letter = DeadLetter(
                id=uuid.uuid4().hex[:12],
                key=key,
                payload=item,
                error=str(exc),
                attempts=attempts,
                failed_at=time.time(),
            )
            advance = await self.store.dead_letter(key, token, item, letter)
            self.metrics.dead_letters.labels(channel).inc()
            if not advance.ok:
                raise LockLost(key) from None
            return advance.next
        log.info("sent", platform_message_id=platform_id, attempts=attempts)
        await self._hook("sent", key, message, platform_id)
        return await self._remember_sent(key, token, item, message.key)

    async def _hook(self, name: str, key: str, message: OutboundMessage, detail: str) -> None:
        """Run a hook after a send; its failure is logged and never makes us send again."""
        if self.hooks is None:
            return
        hook = self.hooks.sent if name == "sent" else self.hooks.failed
        log = get_logger(conversation_id=key, message_key=message.key)
        give_up = min(10.0, self.settings.max_retry_after)
        try:  # a store outage is waited out a while; anything else is logged at once
            async for attempt in retrying(on=StoreUnavailable, first=0.1, most=2.0,
                                          give_up_after=give_up):  # fmt: skip
                with attempt:
                    await hook(key, message, detail)
        except StoreUnavailable:
            log.error("send_hook_failed", hook=name, error="store unavailable")
        except Exception:
            log.exception("send_hook_failed", hook=name)

    async def _remember_sent(
        self, key: str, token: str, item: bytes, message_key: str
    ) -> bytes | None:
        """Record the send, waiting out a store outage: it is the only record that the
        message went out, and without it the message would be sent again."""
        give_up = self.settings.max_retry_after
        async for attempt in retrying(on=StoreUnavailable, first=0.1, most=2.0,
                                      give_up_after=give_up):  # fmt: skip
            with attempt:
                advance = await self.store.commit_sent(key, token, item, message_key, self.sent_ttl)
        if not advance.ok:
            raise LockLost(key)  # recorded as sent; the new owner will skip it
        return advance.next

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, SendError) and exc.retry_after is not None:
            return min(exc.retry_after, self.settings.max_retry_after)
        return self._backoff(state)

    async def _send(self, key: str, token: str, message: OutboundMessage) -> tuple[int, str]:
        channel_name = message.conversation.channel
        adapter = self.channels.get(channel_name)
        if adapter is None:
            raise SendError("permanent", f"channel {channel_name!r} is not enabled")
        retrying = AsyncRetrying(
            stop=stop_after_attempt(message.max_attempts or self.settings.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, SendError) and e.retryable),
            reraise=True,
        )
        attempt = 0
        try:
            async for attempt_state in retrying:
                with attempt_state:
                    attempt = attempt_state.retry_state.attempt_number
                    if attempt > 1:
                        self.metrics.sends.labels(channel_name, "retried").inc()
                    # Fence every attempt: after a store outage or a long wait our lock may
                    # have expired and another process may own this conversation's outbox.
                    fence = await self.store.fence_send(key, token, message.key, self.lease)
                    if fence == "sent":
                        raise AlreadySent(message.key)
                    if fence == "lost":
                        raise LockLost(key)
                    # A post in a handoff card's thread learns the card's ts here.
                    ready = message
                    if self.hooks is not None:
                        ready = await self.hooks.prepare(key, message)
                    limiter = self._limiters.get(channel_name)
                    if limiter is None:
                        platform_id = await self._send_once(adapter, ready)
                    else:
                        async with limiter:
                            platform_id = await self._send_once(adapter, ready)
        except SendError as exc:
            self.metrics.sends.labels(channel_name, "failed").inc()
            exc.attempts = attempt
            raise
        self.metrics.sends.labels(channel_name, "sent").inc()
        return attempt, platform_id

    async def _send_once(self, adapter: Channel, message: OutboundMessage) -> str:
        try:
            async with asyncio.timeout(self.settings.timeout):
                if isinstance(message, CustomerReply):
                    return await adapter.send(message)
                if isinstance(adapter, AgentDesk):  # a desk operation: the agents' channel
                    return await adapter.send_desk(message)
                raise SendError("permanent", f"channel {adapter.name!r} is no agents' desk")
        except TimeoutError as exc:
            raise SendError("transient", f"no answer within {self.settings.timeout}s") from exc
