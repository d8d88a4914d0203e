"""The example customer-care bot for end-to-end tests: the built-in NLU trained on its data, and
a runner with its fake order service on a free port."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import pytest

from dialogs.example.order_service import bound_url, start_order_service
from dialogs.runner import DialogRunner
from frontdesk.assembly import ORDER_API_ENV, build_dialog, build_nlu
from frontdesk.config import Settings
from nlu.result import NluBackend


def example_nlu() -> NluBackend:
    return build_nlu(Settings())


@contextlib.asynccontextmanager
async def example_runner(nlu: NluBackend) -> AsyncIterator[DialogRunner]:
    """The example bot's runner until the block ends, its order service on a free port."""
    service = await start_order_service("127.0.0.1", 0)
    settings = Settings.model_validate({"dialogs": {"enabled": True}})
    env = {**os.environ, ORDER_API_ENV: bound_url(service)}
    runner = build_dialog(settings, nlu, env=env)
    try:
        yield runner
    finally:
        await runner.close()
        await service.cleanup()


# Fixtures (a plugin of tests/conftest.py); a test module may define its own instead.
@pytest.fixture(scope="module")
def nlu() -> NluBackend:
    return example_nlu()


@pytest.fixture
async def runner(nlu: NluBackend) -> AsyncIterator[DialogRunner]:
    async with example_runner(nlu) as running:
        yield running
