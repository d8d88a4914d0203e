"""The application, assembled: settings → channels, the bot and the gateway, served by one
aiohttp app whose lifecycle (``cleanup_ctx``) opens and closes everything.

This and ``frontdesk.chat`` are the only places that build a :class:`~gateway.runtime.Gateway`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

from aiohttp import web

import console
from channels import registry
from channels.base import Channel, Host
from dialogs.base import Dialog
from dialogs.echo import EchoDialog
from frontdesk.assembly import ConfiguredBot
from frontdesk.config import Settings
from gateway import http
from gateway.handoff.media import MediaSigner, media_signer
from gateway.runtime import Gateway
from gateway.store import Store


def build_gateway(
    settings: Settings,
    *,
    dialog: Dialog,
    channels: dict[str, Channel],
    store: Store | None = None,
    consumer: str | None = None,
) -> Gateway:
    """The gateway for the whole configuration: its own sections, plus what it needs from the
    others (the NLU threshold for the review inbox, Twilio's HELP text, the media signer)."""
    return Gateway(
        settings,
        dialog=dialog,
        channels=channels,
        store=store,
        consumer=consumer,
        media=slack_media(settings),
        nlu_threshold=settings.nlu.threshold,
        help_text=settings.channels.twilio.help_text,
    )


def enabled_channels(settings: Settings) -> dict[str, Channel]:
    """The adapters the configuration turns on, by the conversation channel they send for."""
    return registry.enabled_channels(settings.channels, channel_host(settings))


def channel_host(settings: Settings) -> Host:
    """What the adapters need to know of the rest of the configuration."""
    store = settings.store
    return Host(
        public_url=settings.server.public_url,
        timeout=settings.outbox.timeout,
        agents_channel=settings.handoff.slack_channel,
        store_url=store.url,
        session_ttl=store.session_ttl,
        dedup_ttl=store.dedup_ttl,
        max_connections=store.max_connections,
    )


def slack_media(settings: Settings) -> MediaSigner | None:
    """The signer of agents' file URLs (the handoff media proxy)."""
    slack = settings.channels.slack
    return media_signer(
        secret=settings.handoff.media_secret or slack.signing_secret,
        public_url=settings.server.public_url,
        ttl=settings.handoff.media_ttl,
        api_base_url=slack.api_base_url,
        token=slack.bot_token,
    )


def create_app(
    settings: Settings,
    *,
    dialog: Dialog | None = None,
    channels: dict[str, Channel] | None = None,
    workers: bool | None = None,
) -> web.Application:
    """The gateway as an aiohttp app; its workers start and stop with the app (unless
    ``workers`` is False, or by default ``server.role`` is ``ingest``). Without ``dialog``, the
    configured bot is built at startup (see frontdesk.assembly), by processes that run turns."""
    if workers is None:
        workers = settings.server.role != "ingest"
    bot = ConfiguredBot(settings) if dialog is None and workers else None
    gateway = build_gateway(
        settings,
        dialog=dialog or bot or EchoDialog(),
        channels=enabled_channels(settings) if channels is None else channels,
    )
    if bot is not None:
        errors = gateway.metrics.nlu_backend_errors
        bot.on_nlu_error = lambda backend, outcome: errors.labels(backend, outcome).inc()
    app = web.Application(client_max_size=http.MAX_BODY_BYTES)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if bot is not None:
                await bot.start()  # before the workers: no turn meets an unbuilt bot
                stack.push_async_callback(bot.close)
            await gateway.start(workers=workers)
            stack.push_async_callback(gateway.stop)
            yield

    app.cleanup_ctx.append(lifecycle)
    http.mount(app, gateway)
    console.mount(app, gateway, console_wiring(settings))
    return app


def console_wiring(settings: Settings) -> console.Wiring:
    """What the admin console reads of the configuration, and the review inbox's apply."""
    from frontdesk.commands.review import apply_for_console

    return console.Wiring(
        settings=settings.console,
        public_url=settings.server.public_url,
        retention=settings.store.transcript_retention,
        business_hours=settings.handoff.business_hours,
        note_prefix=settings.handoff.note_prefix,
        apply_labels=apply_for_console(settings),
    )
