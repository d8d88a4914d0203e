"""The example bot's conversation tests through ``frontdesk test``'s machinery (real engine,
built-in NLU trained on dialogs/nlu, fake order service), and the runner's HTTP actions."""

from __future__ import annotations

import asyncio
import glob
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from common.messages import ConversationRef, CustomerMessage, CustomerRef
from dialogs.base import SystemEvent, TurnContext
from dialogs.loader import load_bot
from dialogs.runner import DialogRunner
from frontdesk.commands.dialogs import run_conversation_tests
from frontdesk.config import Settings
from nlu.result import NluBackend
from tests.dialogs.keyword_nlu import KeywordNlu


@pytest.fixture(scope="module")
def builtin_nlu() -> NluBackend:
    from nlu.model import BuiltinBackend, load_or_train

    return BuiltinBackend(load_or_train(sorted(glob.glob("dialogs/nlu/*.yml")), model_dir=""))


async def test_the_example_bot_passes_its_conversation_tests(builtin_nlu: NluBackend) -> None:
    lines: list[str] = []
    code = await run_conversation_tests(Settings(), nlu=builtin_nlu, out=lines.append)
    output = "\n".join(lines)
    assert code == 0, output
    assert output.endswith("25 passed, 0 failed")  # 5 of them knowledge-base answers


async def test_a_transcript_that_differs_prints_where_and_what(tmp_path: Path) -> None:
    transcript = tmp_path / "wrong.yml"
    transcript.write_text(
        "tests:\n"
        "  - name: hours\n"
        "    steps:\n"
        "      - user: hi\n"
        '      - bot: "Hi! I\'m the Northwind Goods assistant. How can I help you today?"\n'
        "      - user: what are your opening hours?\n"
        "      - bot: We are open around the clock.\n"
    )
    lines: list[str] = []
    code = await run_conversation_tests(
        Settings(), str(transcript), nlu=KeywordNlu(), out=lines.append
    )
    output = "\n".join(lines)
    assert code == 1
    assert f"FAIL {transcript}:2  hours" in output
    assert f"at {transcript}:7" in output
    assert "  - bot: We are open around the clock." in output
    assert "  + bot: Our customer service is open Monday to Friday" in output
    assert output.endswith("0 passed, 1 failed")


def message(text: str = "", payload: str | None = None) -> CustomerMessage:
    return CustomerMessage(
        event_id="e1",
        conversation=ConversationRef(channel="api", chat_id="c1"),
        customer=CustomerRef(channel="api", user_id="u1"),
        text=text,
        button_payload=payload,
    )


@pytest.fixture
async def order_api(unused_tcp_port: int) -> AsyncIterator[tuple[str, list[str]]]:
    """An order service that answers slowly for SL00000 (not before the test is over) and
    records every path."""
    seen: list[str] = []
    over = asyncio.Event()

    async def order(request: web.Request) -> web.Response:
        seen.append(request.path)
        if request.match_info["id"] == "SL00000":
            await over.wait()  # later than any timeout the dialog sets
        return web.json_response({"status": "shipped", "eta": "today", "carrier": "UPS"})

    app = web.Application()
    app.router.add_get("/orders/{id}", order)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    yield f"http://127.0.0.1:{unused_tcp_port}", seen
    over.set()  # the cleanup need not wait out a slow answer
    await runner.cleanup()


async def test_runner_calls_the_backend_and_reports_why(order_api: tuple[str, list[str]]) -> None:
    url, seen = order_api
    bot = load_bot("dialogs/example", env={"FRONTDESK_ORDER_API": url}).bot
    assert bot is not None
    runner = DialogRunner(bot, KeywordNlu())
    context = TurnContext(channel="api", customer_name="Ada")
    try:
        outcome = await runner.respond({}, message("where is my order gh13579"), context)
        assert seen == ["/orders/GH13579"]
        assert outcome.replies[-1].text.startswith("Good news: order GH13579 has shipped")
        assert outcome.slots["order_status"] == "shipped"
        assert outcome.debug["intent"] == "order_status"
        assert outcome.debug["flow"] == "order_status"
        assert outcome.debug["entities"] == [{"entity": "order_id", "value": "GH13579"}]
        # A backend that does not answer in time takes the failure branch.
        later = await runner.respond(outcome.state, message("order status SL00000"), context)
        assert [r.text for r in later.replies] == [
            "Sorry, I can't reach our order system right now. Please try again in a few minutes."
        ]
    finally:
        await runner.close()


async def test_runner_hands_off_and_greets_back_in_context() -> None:
    bot = load_bot("dialogs/example", env={}).bot
    assert bot is not None
    runner = DialogRunner(bot, KeywordNlu())
    context = TurnContext(channel="api", slots={"order_id": "AB12345"})
    outcome = await runner.respond({"v": 1, "seen": True}, message("I want an agent"), context)
    assert outcome.handoff is not None
    assert (outcome.handoff.trigger, outcome.handoff.queue) == ("keyword", "customer-care")
    assert "order_id=AB12345" in outcome.handoff.summary
    back = await runner.respond(
        outcome.state,
        SystemEvent(name="handoff_returned", event_id="r1"),
        TurnContext(channel="api", slots=outcome.slots),
    )
    assert [r.text for r in back.replies] == [
        "Welcome back! I hope my colleague sorted out order AB12345. "
        "Is there anything else I can do for you?"
    ]
