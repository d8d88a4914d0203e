"""``frontdesk run --role workers``: the gateway's workers without an HTTP listener.

The process takes turns and sends from the shared Redis store, as every ``frontdesk run``
does, but accepts no webhooks: the processes with ``--role ingest`` (or ``all``) do, so an
acknowledgement never waits behind a turn on this process's event loop. It runs the same
application as ``frontdesk run`` (the configured bot, the gateway's start and graceful stop)
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal

from aiohttp import web

from common.logging import get_logger
from gateway import http
from gateway.settings import ServerSettings


async def serve_workers(app: web.Application, host: str, server: ServerSettings) -> None:
    """Start ``app`` (its bot and workers) at the lower CPU priority ``server.workers_nice``
    (webhooks on the same host run first), without listening for webhooks; with
    ``server.metrics_port``, serve only health, readiness and metrics there; stop on SIGTERM or
    SIGINT."""
    if server.workers_nice:
        os.nice(server.workers_nice)
    metrics_port = server.metrics_port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # the app's startup: the bot built, the workers running
    health: web.AppRunner | None = None
    log = get_logger(role="workers")
    try:
        if metrics_port:
            side = web.Application()
            http.mount_health(side, app[http.GATEWAY])
            health = web.AppRunner(side, handle_signals=False, access_log=None)
            await health.setup()
            await web.TCPSite(health, host, metrics_port).start()
        log.info("workers_started", metrics_port=metrics_port or None)
        await stop.wait()
    finally:
        log.info("workers_stopping")
        if health is not None:
            await health.cleanup()
        await runner.cleanup()  # hands held conversations back (Gateway.stop)
