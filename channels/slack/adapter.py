"""The Slack adapter: ``POST /webhooks/slack`` in, ``chat.postMessage`` out.

Verification uses ``slack_sdk.signature.SignatureVerifier`` (HMAC over ``v0:<timestamp>:<body>``
with the signing secret, compared in constant time, 5-minute window; the clock is injectable).
Missing signature headers answer 401, a bad or stale signature 403. The only unsigned body
accepted is Slack's ``ssl_check=1`` probe, which yields no event (as in Bolt).

Why slack_sdk and not slack-bolt's ``AsyncApp``: our generic handler must put events in the
durable queue *before* Slack gets its 200, and Bolt acknowledges from inside its listeners, with
the work done (or lost) in-process; it neither dedups Slack's retries nor separates "missing"
(401) from "bad or stale" (403) signatures, and its body parser (``slack_bolt.request.internals
.parse_body``, a private module) treats any form body containing the word ``payload`` as an
interaction, which loses a slash command whose text says "payload". What Bolt would contribute
here is ``SignatureVerifier`` and ``AsyncWebClient``, which come from slack_sdk, so the adapter
uses slack_sdk directly and keeps the pure verify / parse / acknowledge contract.

Sending: slack_sdk's ``AsyncWebClient`` (base URL from ``channels.slack.api_base_url``), built
with ``retry_handlers=[]`` so the SDK never retries underneath the outbox, which owns retries.
Failures are classified: HTTP 429 or ``ratelimited`` wait for ``Retry-After``; 5xx, timeouts,
connection errors and Slack's ``internal_error``/``fatal_error``/``service_unavailable`` are
transient; every other ``ok: false`` (``channel_not_found``, ``not_in_channel``,
``is_archived``, ``invalid_auth``, ``account_inactive``, ``invalid_blocks`` …) is permanent.

Events from the agents' handoff channel (``handoff.slack_channel``) are not customer
conversations: they go to ``agent_events`` (by default ``channels.slack.agents``: thread
replies, thread commands and card buttons as ``AgentEvent``s).

Besides plain posts, ``send`` serves the handoff's purposes: ``card`` (a Block Kit card,
``chat.postMessage``), ``card_update`` (``chat.update`` of the card), ``thread`` (a post in the
card's thread, optionally broadcast to the channel with a user group mention), ``ephemeral``
(``chat.postEphemeral``, seen by one agent) and ``reaction`` (``reactions.add``; an emoji
already there counts as done).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import parse_qsl

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import (
    Capabilities,
    EventSink,
    Route,
    SendError,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
    classify_http_status,
    parse_retry_after,
    rejecting_malformed,
)
from channels.parts import Progress, Recent, send_parts
from channels.slack.agents import agent_events
from channels.slack.inbound import SlackBody, customer_events, decode
from channels.slack.render import SlackPost, escape, render, render_card
from common.logging import get_logger
from common.messages import InboundEvent, OutboundMessage

AgentEvents = Callable[[SlackBody], list[InboundEvent]]
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable"})


class _CallableClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def no_agent_events(body: SlackBody) -> list[InboundEvent]:
    return []


class SlackChannel:
    name = "slack"
    conversation_channels: tuple[str, ...] = ("slack",)
    # chat.postMessage: about 1/s per channel
    capabilities: Mapping[str, Capabilities] = {
        "slack": Capabilities(label="Slack", buttons=True, rate_limit=1.0)
    }

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str,
        api_base_url: str = AsyncWebClient.BASE_URL,
        handoff_channel: str = "",
        timeout: float = 15.0,
        clock: Callable[[], float] = time.time,
        agent_events: AgentEvents | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.api_base_url = api_base_url
        self.handoff_channel = handoff_channel
        self.timeout = timeout
        self.agent_events = agent_events
        self.bot_user_ids: frozenset[str] = frozenset()  # learned from auth.test at start
        self._verifier = SignatureVerifier(signing_secret, clock=_CallableClock(clock))
        self._clock = clock
        self._http: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        # Message key -> ts of the parts already posted, so a retried multi-post message
        # resumes after the parts that went out (within this process).
        self._posted: Progress = Recent()
        self._log = get_logger(channel=self.name)

    def routes(self) -> Sequence[Route]:
        return (Route(method="POST", path="/webhooks/slack"),)

    # ------------------------------------------------------------------ inbound (pure)

    def verify(self, request: WebhookRequest) -> None:
        timestamp = request.header("X-Slack-Request-Timestamp")
        signature = request.header("X-Slack-Signature")
        if timestamp is None or signature is None:
            if timestamp is None and signature is None and _is_ssl_check(request):
                return
            raise WebhookRejected(401, "missing X-Slack-Signature or X-Slack-Request-Timestamp")
        try:
            age = abs(self._clock() - int(timestamp))
        except (ValueError, OverflowError):
            raise WebhookRejected(403, "bad X-Slack-Request-Timestamp") from None
        if age > 300:
            raise WebhookRejected(403, "stale X-Slack-Request-Timestamp (over 5 minutes)")
        # slack_sdk decodes the body as UTF-8 and compares str signatures: junk in either
        # (a body that is not UTF-8, ``v0=éé``) raises inside it, which is a bad signature.
        with rejecting_malformed(403):
            valid = self._verifier.is_valid(request.body, timestamp, signature)
        if not valid:
            raise WebhookRejected(403, "bad X-Slack-Signature")

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        with rejecting_malformed():
            body = decode(request)
            if self.handoff_channel and body.channel_id == self.handoff_channel:
                if self.agent_events is not None:
                    return self.agent_events(body)
                return agent_events(
                    body, channel=self.handoff_channel, bot_user_ids=self.bot_user_ids
                )
            return customer_events(body, bot_user_ids=self.bot_user_ids)

    def acknowledge(self, request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
        """Empty 200, except ``url_verification``, answered with its challenge. For slash
        commands too: Slack then shows nothing, and the reply comes through the API."""
        try:
            body = decode(request)
        except WebhookRejected:
            return WebhookResponse()
        if body.kind == "url_verification":
            challenge = json.dumps({"challenge": body.data["challenge"]}).encode()
            return WebhookResponse(body=challenge, content_type="application/json")
        return WebhookResponse()

    # ------------------------------------------------------------------ outbound

    async def start(self, sink: EventSink) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._client = AsyncWebClient(
            token=self.bot_token,
            base_url=self.api_base_url,
            session=self._http,
            timeout=math.ceil(self.timeout),
            retry_handlers=[],
        )
        try:
            auth = await self._client.auth_test()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            self._log.error("slack_auth_test_failed", error=str(exc))
            return
        self.bot_user_ids = frozenset(
            v for v in (auth.get("user_id"), auth.get("bot_id")) if isinstance(v, str)
        )
        self._log.info("slack_connected", team=auth.get("team"), bot_user=auth.get("user_id"))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._client = None

    async def send(self, message: OutboundMessage) -> str:
        if self._client is None:
            raise RuntimeError("SlackChannel.send before start()")
        if message.purpose in ("card", "card_update", "ephemeral", "reaction"):
            return await self._handoff_call(self._client, message)
        posted = await send_parts(message.key, render(message), self._post, self._posted)
        return posted[-1]

    async def _post(self, post: SlackPost) -> str:
        """One ``chat.postMessage``; its ``ts``."""
        assert self._client is not None
        try:
            response = await self._client.chat_postMessage(
                channel=post.channel,
                text=post.text,
                blocks=list(post.blocks),
                thread_ts=post.thread_ts,
                reply_broadcast=post.reply_broadcast or None,
            )
        except SlackApiError as exc:
            raise classify_slack_error(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError("transient", f"Slack unreachable: {exc!r}") from exc
        ts = response.get("ts")
        return ts if isinstance(ts, str) else ""

    async def _handoff_call(self, client: AsyncWebClient, message: OutboundMessage) -> str:
        channel = message.conversation.chat_id
        method = {
            "card": "chat.postMessage",
            "card_update": "chat.update",
            "ephemeral": "chat.postEphemeral",
            "reaction": "reactions.add",
        }[message.purpose]
        try:
            if message.purpose in ("card", "card_update"):
                if message.card is None:
                    raise SendError("permanent", f"{message.purpose} without a card")
                text, blocks = render_card(message.card)
                if message.purpose == "card":
                    response = await client.chat_postMessage(
                        channel=channel, text=text, blocks=blocks
                    )
                else:
                    if message.target is None:
                        raise SendError("permanent", "card_update without the card's ts")
                    response = await client.chat_update(
                        channel=channel, ts=message.target, text=text, blocks=blocks
                    )
                ts = response.get("ts")
                return ts if isinstance(ts, str) else ""
            if message.purpose == "ephemeral":
                if message.recipient is None:
                    raise SendError("permanent", "ephemeral without a recipient")
                response = await client.chat_postEphemeral(
                    channel=channel,
                    user=message.recipient,
                    text=escape(message.text),
                    thread_ts=message.conversation.thread_id,
                )
                ts = response.get("message_ts")
                return ts if isinstance(ts, str) else ""
            if message.target is None or message.reaction is None:
                raise SendError("permanent", "reaction without a message or an emoji")
            await client.reactions_add(
                channel=channel, timestamp=message.target, name=message.reaction
            )
            return message.target
        except SlackApiError as exc:
            data = getattr(exc.response, "data", None)
            if isinstance(data, dict) and data.get("error") == "already_reacted":
                return message.target or ""
            raise classify_slack_error(exc, method) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError("transient", f"Slack unreachable: {exc!r}") from exc


def classify_slack_error(exc: SlackApiError, method: str = "chat.postMessage") -> SendError:
    """How the outbox treats a failed Web API call."""
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    headers = getattr(response, "headers", None) or {}
    retry_after = headers.get("Retry-After") or headers.get("retry-after")
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    detail = f"{method}: HTTP {status}" + (f" {error}" if error else "")
    if status == 429 or error == "ratelimited":
        return SendError("rate_limited", detail, retry_after=parse_retry_after(retry_after))
    if status != 200:
        return classify_http_status(status, detail, retry_after)
    if error in TRANSIENT_ERRORS:
        return SendError("transient", detail)
    return SendError("permanent", detail)


def _is_ssl_check(request: WebhookRequest) -> bool:
    """Slack's unsigned certificate probe: ``ssl_check=1`` (and a token), nothing else."""
    try:
        form = dict(parse_qsl(request.body.decode(), keep_blank_values=True, strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        return False
    return form.get("ssl_check") == "1" and set(form) <= {"ssl_check", "token"}
