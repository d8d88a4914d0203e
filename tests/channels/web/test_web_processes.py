"""Two real ``frontdesk run`` processes sharing Redis: a visitor's two tabs hold sockets on
different processes, the turns run wherever a worker takes them, and every reply reaches both
tabs, once each, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import pytest

from tests.channels.web.support import TOKEN_SECRET, Widget
from tests.support.processes import running_gateway
from tests.support.redis_server import free_port


@pytest.fixture
def two_gateways(tmp_path: Path, redis_url: str) -> Iterator[list[int]]:
    ports = [free_port(), free_port()]
    with ExitStack() as stack:
        for port in ports:
            config = tmp_path / f"gateway-{port}.yml"
            settings = {
                "server": {"host": "127.0.0.1", "port": port},
                "store": {"url": redis_url},
                "workers": {"lease": 2, "reclaim_idle": 2, "shutdown_grace": 5},
                "log": {"level": "warning"},
                "channels": {"web": {"token_secret": TOKEN_SECRET}},
            }
            config.write_text(json.dumps(settings))  # JSON is YAML
            stack.enter_context(running_gateway(config, port, "unused"))
        yield ports


async def test_two_tabs_on_two_processes_see_one_conversation(two_gateways: list[int]) -> None:
    urls = [f"http://127.0.0.1:{port}" for port in two_gateways]
    async with aiohttp.ClientSession() as http:
        first = Widget(http, f"{urls[0]}/web/socket", origin=urls[0])
        await first.open()
        second = Widget(http, f"{urls[1]}/web/socket", origin=urls[1])
        await second.open(token=first.token)
        for n in range(6):
            tab = (first, second)[n % 2]
            await tab.say(f"m{n}")
            await first.wait_text(f"echo: m{n}")
            await second.wait_text(f"echo: m{n}")
        expected = [line for n in range(6) for line in (f"customer: m{n}", f"bot: echo: m{n}")]
        assert first.texts() == expected
        assert second.texts() == expected
        await first.close()
        await second.close()
