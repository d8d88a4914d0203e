"""The gateway's HTTP surface: every channel's webhook routes, health, readiness, metrics
and the media proxy, mounted on an aiohttp app for a :class:`~gateway.runtime.Gateway`.

One generic handler serves every channel: read the raw request, let the channel verify and
parse it, queue its events durably, and only then answer the platform.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from channels.base import Channel, ServesPages, WebhookRejected, WebhookRequest, WebhookRetryLater
from common.logging import get_logger
from common.messages import encode_event
from gateway.handoff.media import mount_media
from gateway.metrics import CONTENT_TYPE_LATEST
from gateway.runtime import Gateway
from gateway.store import StoreUnavailable

GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)
# The hard cap on one webhook body (aiohttp answers 413 above it): the bound on any one
# message's text, which adapters otherwise keep whole for agents (see docs/architecture.md).
MAX_BODY_BYTES = 4 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def webhook_handler(channel: Channel, gateway: Gateway) -> Handler:
    """Verify, parse, queue, acknowledge. Every outcome has a deliberate status: 401/403 for
    a request the platform did not sign, 400 for a malformed body (nothing of it is
    processed), 503 (with ``Retry-After`` when known) for what the platform should retry;
    an unexpected exception is logged once with the route and still answers one of these,
    never a traceback as a 500."""
    log = get_logger(channel=channel.name)
    counter = gateway.metrics.events_in

    def refuse(route: str, outcome: str, status: int, reason: str, **extra: object) -> web.Response:
        counter.labels(channel.name, outcome).inc()
        event = f"webhook_{outcome}"
        if status >= 500:
            log.error(event, route=route, status=status, reason=reason, **extra)
        else:
            log.warning(event, route=route, status=status, reason=reason, **extra)
        headers = {}
        if isinstance(extra.get("retry_after"), int):
            headers["Retry-After"] = str(extra["retry_after"])
        return web.Response(status=status, text=reason, headers=headers)

    async def handle(request: web.Request) -> web.StreamResponse:
        route = f"{request.method} {request.path}"
        raw = WebhookRequest(
            method=request.method,
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query),
            body=await request.read(),
        )
        try:
            channel.verify(raw)
        except WebhookRejected as exc:
            return refuse(route, "rejected", exc.status, exc.reason)
        except Exception as exc:  # a verifier choking on junk: still not signed by the platform
            return refuse(route, "rejected", 403, "signature not verifiable", error=repr(exc))
        try:
            events = channel.parse(raw)
            for event in events:  # nothing accepted may fail to encode later
                encode_event(event)
        except WebhookRejected as exc:
            return refuse(route, "malformed", exc.status, exc.reason)
        except WebhookRetryLater as exc:
            return refuse(route, "deferred", 503, exc.reason, retry_after=exc.retry_after)
        except Exception as exc:
            return refuse(route, "malformed", 400, "malformed body", error=repr(exc))
        try:
            for event in events:
                outcome = await gateway.ingest.accept(event)
                log.debug("event_in", event_id=event.event_id, outcome=outcome)
        except StoreUnavailable as exc:
            reason = "store unavailable, retry later"
            return refuse(route, "unavailable", 503, reason, error=str(exc))
        except Exception as exc:
            return refuse(route, "failed", 503, "not queued, retry later", error=repr(exc))
        try:
            ack = channel.acknowledge(raw, events)
        except Exception as exc:  # queued already: the platform must not send it again
            log.error("webhook_ack_failed", route=route, error=repr(exc))
            return web.Response(status=200)
        return web.Response(status=ack.status, body=ack.body, content_type=ack.content_type)

    return handle


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    try:
        await gateway.store.ping()
    except StoreUnavailable as exc:
        return web.json_response({"status": "unavailable", "store": str(exc)}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    with contextlib.suppress(StoreUnavailable):  # the last depth stays; /readyz tells
        await gateway.refresh_gauges()
    return web.Response(
        body=gateway.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def mount_health(app: web.Application, gateway: Gateway) -> None:
    """Health, readiness and metrics of ``gateway`` on ``app`` (alone: a workers-only
    process's own small listener)."""
    app[GATEWAY] = gateway
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


def mount(app: web.Application, gateway: Gateway) -> None:
    """Serve ``gateway`` on ``app``: health, readiness, metrics, the media proxy and each
    adapter's routes (and a channel's own pages, such as the website chat's)."""
    mount_health(app, gateway)
    # The media proxy: files agents share in a handoff thread, served to customers' platforms
    # through signed, expiring URLs (GET /media/slack/{id}; see gateway/handoff/media.py).
    if gateway.handoff is not None and gateway.handoff.media is not None:
        mount_media(app, gateway.handoff.media)
    for channel in gateway.adapters():
        handler = webhook_handler(channel, gateway)
        for route in channel.routes():
            app.router.add_route(route.method, route.path, handler)
        if isinstance(channel, ServesPages):
            channel.mount(app)
