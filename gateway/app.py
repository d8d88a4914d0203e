"""The aiohttp application: every platform's webhook route, health, readiness and metrics.

One generic handler serves every channel: read the raw request, let the channel verify and
parse it, queue its events durably, and only then answer the platform.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

from aiohttp import web

from channels.base import Channel, WebhookRejected, WebhookRequest, WebhookRetryLater
from channels.registry import enabled_channels
from dialogs.base import Dialog
from dialogs.echo import EchoDialog
from gateway.assembly import bot_dialog
from gateway.config import Settings
from gateway.handoff.media import mount_media
from gateway.logging import get_logger
from gateway.messages import encode_event
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


def create_app(
    settings: Settings,
    *,
    dialog: Dialog | None = None,
    channels: dict[str, Channel] | None = None,
    workers: bool = True,
) -> web.Application:
    """The gateway as an aiohttp app; its workers start and stop with the app. Without
    ``dialog``, the configured bot is built at startup (see gateway.assembly)."""
    gateway = Gateway(
        settings,
        dialog=dialog or EchoDialog(),
        channels=enabled_channels(settings) if channels is None else channels,
    )
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[GATEWAY] = gateway

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if dialog is None:
                # The configured bot (NLU, dialog YAML, hot reload) replaces the echo dialog.
                errors = gateway.metrics.nlu_backend_errors

                def count(backend: str, outcome: str) -> None:
                    errors.labels(backend, outcome).inc()

                gateway.worker.dialog = await stack.enter_async_context(
                    bot_dialog(settings, on_nlu_error=count)
                )
            await gateway.start(workers=workers)
            yield
            await gateway.stop()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    # The media proxy: files agents share in a handoff thread, served to customers' platforms
    # through signed, expiring URLs (GET /media/slack/{id}; see gateway/handoff/media.py).
    if gateway.handoff is not None and gateway.handoff.media is not None:
        mount_media(app, gateway.handoff.media, settings.channels.slack)
    from console import mount as mount_console  # the composition root mounts the console

    mount_console(app, gateway)
    for channel in gateway.adapters():
        handler = webhook_handler(channel, gateway)
        for route in channel.routes():
            app.router.add_route(route.method, route.path, handler)
        mount = getattr(channel, "mount", None)  # a channel serving its own routes (web chat)
        if callable(mount):
            mount(app)
    return app
