"""The admin console at ``/console``: how the bot and the agents are doing, the conversations
and the review inbox, for logged-in admins (docs/console.md).

It sits above the gateway: it reads the gateway's stores and keeps its own per-hour figures
through the turn worker's observer hook. Only the composition root imports it, to
:func:`mount` it on the gateway's app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web as aioweb  # not `web`: the submodule console.web takes that name

from common.logging import get_logger
from console import privacy  # noqa: F401  (registers the console as a customer data source)
from console.settings import ConsoleSettings
from console.wiring import ApplyOutcome, Wiring

if TYPE_CHECKING:
    from gateway.runtime import Gateway


def mount(app: aioweb.Application, gateway: Gateway, wiring: Wiring) -> None:
    """Serve the console at /console and record its figures as turns commit (needs Redis)."""
    if not wiring.settings.enabled:
        return
    redis = getattr(gateway.store, "redis", None)
    if redis is None:
        get_logger().info("console_off", reason="the console needs store.url redis://")

        async def off(request: aioweb.Request) -> aioweb.Response:
            text = (
                "The admin console needs the Redis store (store.url: redis://...): docs/console.md"
            )
            return aioweb.Response(status=503, text=text)

        app.router.add_get("/console", off)
        app.router.add_get("/console/{tail:.*}", off)
        return
    from console.recorder import Recorder
    from console.web import Console, build

    recorder = Recorder(redis, retention=wiring.retention)
    gateway.worker.observer = recorder

    async def written(app: aioweb.Application) -> None:
        await recorder.close()

    app.on_shutdown.append(written)
    app.add_subapp("/console", build(Console(wiring, gateway.store, redis)))


__all__ = ["ApplyOutcome", "ConsoleSettings", "Wiring", "mount"]
