"""A small fake order service for the example bot: ``GET /orders/{id}`` answers the order's
status as JSON, 404 for an unknown order, and 503 for ``ZZ99999`` (to try the failure branch).

Run it alone with ``python -m dialogs.example.order_service [--port 8081]``, or start it in
process with ``start_order_service(host, port)`` (``frontdesk chat`` and the tests do).
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from aiohttp import web

ORDERS: dict[str, dict[str, str]] = {
    "AB12345": {"status": "shipped", "eta": "Thursday, June 12", "carrier": "UPS"},
    "CD67890": {"status": "delivered", "eta": "Monday, June 2", "carrier": "DHL"},
    "EF24680": {"status": "processing", "eta": "Friday, June 13", "carrier": "UPS"},
    "GH13579": {"status": "shipped", "eta": "tomorrow", "carrier": "FedEx"},
}
BROKEN = "ZZ99999"
DEFAULT_URL = "http://127.0.0.1:8081"


async def _order(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"].upper()
    if order_id == BROKEN:
        return web.json_response({"error": "database unavailable"}, status=503)
    order = ORDERS.get(order_id)
    if order is None:
        return web.json_response({"error": f"no order {order_id}"}, status=404)
    return web.json_response({"id": order_id, **order})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/orders/{order_id}", _order)
    return app


async def start_order_service(host: str = "127.0.0.1", port: int = 8081) -> web.AppRunner:
    """Serve the fake order service until ``await runner.cleanup()``; port 0 picks a free
    port (read it from ``bound_url(runner)``)."""
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_url(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"


def address_of(url: str) -> tuple[str, int]:
    """Host and port of an order API URL such as ``http://127.0.0.1:8081``."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()


__all__ = ["DEFAULT_URL", "ORDERS", "address_of", "bound_url", "start_order_service"]
