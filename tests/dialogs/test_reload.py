"""Hot reload: a valid change is swapped in while the runner serves; an invalid one is refused
and the running version keeps answering; a conversation mid-form carries on."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from common.messages import ConversationRef, CustomerMessage, CustomerRef
from dialogs.base import Outcome, TurnContext
from dialogs.loader import load_bot
from dialogs.reload import DialogReloader
from dialogs.runner import DialogRunner
from tests.dialogs.keyword_nlu import KeywordNlu
from tests.support.waiting import until

HOURS = "Our customer service is open Monday to Friday 8:00-20:00"


def ask(text: str) -> CustomerMessage:
    return CustomerMessage(
        event_id="e",
        conversation=ConversationRef(channel="api", chat_id="c"),
        customer=CustomerRef(channel="api", user_id="u"),
        text=text,
    )


async def reply(runner: DialogRunner, text: str, state: dict[str, object] | None = None) -> Outcome:
    seen = state if state is not None else {"v": 1, "seen": True}
    return await runner.respond(seen, ask(text), TurnContext(channel="api"))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true (the reload is expected within a second)."""
    await until(check, timeout, "the change picked up")


async def watching(reloader: DialogReloader, probe: Path, timeout: float = 10.0) -> None:
    """Wait until the reloader's file watcher is live: write ``probe`` back unchanged until a
    reload follows (a write the watcher missed while starting is written again half a second
    later; an extra reload of unchanged files is harmless). That reload is not counted: the
    tests count their own."""
    await asyncio.sleep(0)  # let the watcher's task start
    text = probe.read_text()  # noqa: ASYNC240 (a small file, read once)
    deadline = time.monotonic() + timeout
    while not reloader.reloads:
        assert time.monotonic() < deadline, "the file watcher never saw a change"
        probe.write_text(text)  # noqa: ASYNC240
        with contextlib.suppress(AssertionError):
            await until(lambda: reloader.reloads, 0.5, "a reload after the probe")
    reloader.reloads = 0


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Path, DialogRunner, DialogReloader]]:
    directory = tmp_path / "bot"
    shutil.copytree("dialogs/example", directory, ignore=shutil.ignore_patterns("tests", "*.py"))
    nlu_dir = tmp_path / "nlu"
    shutil.copytree("dialogs/nlu", nlu_dir)
    bot = load_bot(directory, env={}).bot
    assert bot is not None
    runner = DialogRunner(bot, KeywordNlu())
    reloader = DialogReloader(
        runner, path=directory, nlu_data=[str(nlu_dir / "*.yml")], env={}, debounce_ms=50
    )
    reloader.start()
    await watching(reloader, directory / "templates.yml")
    yield directory, runner, reloader
    await reloader.stop()


async def test_a_valid_change_is_live_soon(live: tuple[Path, DialogRunner, DialogReloader]) -> None:
    directory, runner, _ = live
    assert (await reply(runner, "opening hours")).replies[0].text.startswith(HOURS)
    templates = directory / "templates.yml"
    templates.write_text(templates.read_text().replace(HOURS, "We are open around the clock"))

    async def changed() -> bool:
        text = (await reply(runner, "opening hours")).replies[0].text
        return text.startswith("We are open around the clock")

    await eventually(changed)


async def test_an_invalid_change_is_refused_and_the_old_version_answers(
    live: tuple[Path, DialogRunner, DialogReloader],
) -> None:
    directory, runner, reloader = live
    flows = directory / "flows.yml"
    flows.write_text(flows.read_text().replace("say: opening_hours", "say: opening_times"))

    async def refused() -> bool:
        return reloader.refused >= 1

    await eventually(refused)
    assert (await reply(runner, "opening hours")).replies[0].text.startswith(HOURS)
    problems = await reloader.reload()
    assert [p.message for p in problems] == ["unknown template opening_times"]
    assert problems[0].file == str(flows)


async def test_an_intent_removed_from_the_nlu_data_is_refused(
    live: tuple[Path, DialogRunner, DialogReloader], tmp_path: Path
) -> None:
    _, runner, reloader = live
    chat = tmp_path / "nlu" / "chat.yml"
    chat.write_text(chat.read_text().replace("- intent: bot_challenge", "- intent: robot"))

    async def refused() -> bool:
        return reloader.refused >= 1

    await eventually(refused)
    assert (await reply(runner, "opening hours")).replies[0].text.startswith(HOURS)


async def test_a_conversation_mid_form_carries_on_after_a_reload(
    live: tuple[Path, DialogRunner, DialogReloader],
) -> None:
    directory, runner, reloader = live
    asked = await reply(runner, "I want to change my address")
    assert asked.replies[-1].text.startswith("Which order should go to a new address?")
    flows = directory / "flows.yml"
    # A new first step: the waiting question moves, and the conversation follows it.
    flows.write_text(
        flows.read_text().replace(
            "    steps:\n      - ask: order_id\n        prompt: ask_address_order",
            "    steps:\n      - say: opening_hours\n      - ask: order_id\n"
            "        prompt: ask_address_order",
        )
    )
    version = runner.bot.version

    async def swapped() -> bool:
        return runner.bot.version != version

    await eventually(swapped)
    assert reloader.reloads >= 1
    answered = await reply(runner, "AB12345", asked.state)
    assert [r.text for r in answered.replies] == [
        "What's the new delivery address (street, number, postcode and city)?"
    ]
