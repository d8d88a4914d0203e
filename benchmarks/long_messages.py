"""Does one customer sending very long messages slow down everybody else?

One gateway (in this process, memory store, the example bot with the built-in NLU, the generic
API channel) answers "calm" customers who each send short questions at a steady rate, while
a "flooder" sends 40,000-character messages as fast as the gateway acknowledges them. The
calm customers' reply latency (signed webhook in -> signed callback out) is measured without
and then with the flooder, in one run, and printed with the flooder's own figures.

    python benchmarks/long_messages.py [--seconds 10] [--rate 20] [--chars 40000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
import uuid

import aiohttp
from aiohttp import web

from channels.api import SIGNATURE_HEADER, sign
from common.logging import configure_logging
from dialogs.example.order_service import bound_url, start_order_service
from frontdesk.app import create_app
from frontdesk.assembly import ORDER_API_ENV, build_dialog, build_nlu
from frontdesk.config import Settings

SECRET = "bench-secret"
QUESTIONS = ["where is my order?", "what are your opening hours?", "how do I return an item?"]
COMPLAINT = "I am really not happy with this order, it arrived late and the box was broken. "


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


class Replies:
    """The callback server: the time each turn's first reply arrived."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.first.setdefault(body["in_reply_to"], time.perf_counter())
        self.arrived.set()
        return web.Response()

    async def latencies(self, sent: dict[str, float], timeout: float = 60.0) -> list[float]:
        """Reply latency of each sent event, once all are answered (or ``timeout`` passed)."""
        deadline = time.perf_counter() + timeout
        while not all(e in self.first for e in sent):
            self.arrived.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)
        return [self.first[e] - at for e, at in sent.items() if e in self.first]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--rate", type=float, default=20.0, help="calm messages per second")
    parser.add_argument("--chars", type=int, default=40_000, help="length of a long message")
    args = parser.parse_args()
    configure_logging("error", "console")

    replies = Replies()
    cb_app = web.Application()
    cb_app.router.add_post("/cb", replies.handle)
    cb_runner, cb_url = await serve(cb_app)
    orders = await start_order_service("127.0.0.1", 0)
    settings = Settings.model_validate(
        {
            "store": {"url": "memory://"},
            "channels": {"api": {"secret": SECRET, "callback_url": f"{cb_url}/cb"}},
            "dialogs": {"enabled": True},
            "limits": {"enabled": False},  # the flooder must reach the NLU, not be dropped
        }
    )
    env = {**os.environ, ORDER_API_ENV: bound_url(orders)}
    dialog = build_dialog(settings, build_nlu(settings), env=env)
    gw_runner, gw_url = await serve(create_app(settings, dialog=dialog))
    long_text = (COMPLAINT * (args.chars // len(COMPLAINT) + 1))[: args.chars]

    async with aiohttp.ClientSession() as http:

        async def post(text: str, user: str) -> tuple[str, float]:
            event_id = uuid.uuid4().hex
            body = json.dumps(
                {"id": event_id, "conversation_id": user, "user_id": user, "text": text}
            ).encode()
            sent = time.perf_counter()
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}
            async with http.post(f"{gw_url}/webhooks/api", data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
            return event_id, sent

        async def calm_phase(label: str) -> list[float]:
            sent: dict[str, float] = {}
            n = int(args.seconds * args.rate)
            start = time.perf_counter()
            for i in range(n):
                await asyncio.sleep(max(0.0, start + i / args.rate - time.perf_counter()))
                event_id, at = await post(QUESTIONS[i % len(QUESTIONS)], f"calm-{label}-{i % 20}")
                sent[event_id] = at
            return await replies.latencies(sent)

        quiet = await calm_phase("quiet")

        flooded: dict[str, float] = {}
        stop = asyncio.Event()

        async def flood() -> None:
            while not stop.is_set():
                event_id, at = await post(long_text, "flooder")
                flooded[event_id] = at
                await asyncio.sleep(0.05)

        flooder = asyncio.create_task(flood())
        busy = await calm_phase("busy")
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await flooder
        flood_latency = await replies.latencies(flooded)

    print(f"calm customers: {args.rate:g} msg/s for {args.seconds:g} s per phase")
    for label, lat in (("without the flooder", quiet), ("with the flooder", busy)):
        print(
            f"  {label:<20} replies {len(lat):>4}  p50 {pct(lat, 0.5):7.1f} ms  "
            f"p99 {pct(lat, 0.99):7.1f} ms"
        )
    print(
        f"flooder: {len(flooded)} messages of {args.chars:,} characters, "
        f"{len(flood_latency)} answered, reply p50 {pct(flood_latency, 0.5):.1f} ms"
    )
    if quiet and busy:
        ratio = statistics.median(busy) / statistics.median(quiet)
        print(f"calm p50 with / without the flooder: {ratio:.2f}")

    await gw_runner.cleanup()
    await cb_runner.cleanup()
    await orders.cleanup()
    await dialog.close()


if __name__ == "__main__":
    asyncio.run(main())
