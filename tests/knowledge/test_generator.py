"""Generative answers against a fake OpenAI-compatible server that records what it was sent:
the answer is the server's rephrasing with its sources named; a refusal, an uncited answer, an
error or a timeout give the extractive answer; phone numbers, emails and order ids never leave
the process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from dialogs.base import TurnContext
from dialogs.runner import DialogRunner
from frontdesk.assembly import build_dialog
from frontdesk.config import Settings
from nlu.knowledge.generator import mask
from nlu.result import NluBackend
from tests.dialogs.test_reload import ask
from tests.support.serve import serve

WARRANTY = "Every product has a 2-year warranty against manufacturing defects."


@dataclass
class FakeLlm:
    reply: str = "Yes: 2 years against defects, repaired or replaced for free [1]."
    status: int = 200
    hang: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append({"auth": request.headers.get("Authorization"),
                              "path": request.path, "body": await request.json()})  # fmt: skip
        if self.hang:
            await self.release.wait()  # past the client's timeout
        answer = {"choices": [{"index": 0, "message": {"role": "assistant",
                                                       "content": self.reply}}]}  # fmt: skip
        return web.json_response(answer, status=self.status)


@pytest.fixture
async def llm() -> AsyncIterator[tuple[FakeLlm, str]]:
    fake = FakeLlm()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner, url = await serve(app)
    yield fake, url + "/v1"
    fake.release.set()
    await runner.cleanup()


@pytest.fixture
async def bot(llm: tuple[FakeLlm, str], nlu: NluBackend) -> AsyncIterator[DialogRunner]:
    settings = Settings.model_validate({
        "dialogs": {"enabled": True},
        "knowledge": {"encoder": "none", "generator": "openai", "base_url": llm[1],
                      "model": "local-model", "api_key": "sk-test", "timeout": 0.5},
    })  # fmt: skip
    runner = build_dialog(settings, nlu)
    yield runner
    await runner.close()


async def answer(bot: DialogRunner, text: str) -> str:
    outcome = await bot.respond({"v": 1, "seen": True}, ask(text), TurnContext(channel="api"))
    return outcome.replies[0].text


async def test_the_answer_is_rephrased_cited_and_sent_masked(
    bot: DialogRunner, llm: tuple[FakeLlm, str]
) -> None:
    fake, _ = llm
    said = await answer(bot, "is there a warranty on ORD-2024-0042? call +44 20 7946 0958 "
                             "or mail ada@example.com")  # fmt: skip
    assert said == (
        "Yes: 2 years against defects, repaired or replaced for free [1].\n\n"
        "Sources: [1] Is there a warranty on your products? "
        "(https://northwind.example/help/warranty)"
    )
    [request] = fake.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "local-model"
    sent = json.dumps(body)
    assert "ORD-2024-0042" not in sent and "7946" not in sent and "ada@example.com" not in sent
    assert "[order]" in sent and "[phone]" in sent and "[email]" in sent
    assert "[1] Is there a warranty on your products?" in body["messages"][1]["content"]
    assert WARRANTY in body["messages"][1]["content"]  # the passage itself


@pytest.mark.parametrize(
    "reply, status",
    [("NO_ANSWER", 200), ("Sure, 5 years!", 200), ("", 200), ("oops", 500)],
    ids=["refuses", "uncited", "empty", "server error"],
)
async def test_no_usable_answer_gives_the_extractive_one(
    bot: DialogRunner, llm: tuple[FakeLlm, str], reply: str, status: int
) -> None:
    fake, _ = llm
    fake.reply, fake.status = reply, status
    said = await answer(bot, "is there a warranty?")
    assert said.startswith(WARRANTY) and "Source: Is there a warranty" in said
    assert len(fake.requests) == 1


async def test_a_timeout_gives_the_extractive_answer(
    bot: DialogRunner, llm: tuple[FakeLlm, str]
) -> None:
    fake, _ = llm
    fake.hang = True
    said = await answer(bot, "is there a warranty?")
    assert said.startswith(WARRANTY)


async def test_a_miss_never_asks_the_generator(bot: DialogRunner, llm: tuple[FakeLlm, str]) -> None:
    fake, _ = llm
    await answer(bot, "what is the airspeed of a swallow")
    assert fake.requests == []


def test_masking() -> None:
    assert mask("order ORD-2024-0042 or #55512, 020 7946 0958, a@b.co, 3 kids, 30 days") == (
        "order [order] or [order], [phone], [email], 3 kids, 30 days"
    )


def test_the_generator_needs_its_server_and_model() -> None:
    from common.settings import ConfigError
    from frontdesk.config import parse_settings

    with pytest.raises(ConfigError) as error:
        parse_settings("knowledge:\n  generator: openai\n", "config.yml", env={})
    assert [p.message for p in error.value.problems] == [
        "knowledge.base_url: required when knowledge.generator is openai",
        "knowledge.model: required when knowledge.generator is openai",
    ]
