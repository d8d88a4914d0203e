"""Helpers for dialog tests: compile a bot from YAML text, and drive the pure engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dialogs.engine import Action, CallResult, DialogEvent, SayAction, UserInput, step
from dialogs.loader import load_bot
from dialogs.model import Bot, DialogState
from nlu.result import ParseResult
from tests.dialogs.keyword_nlu import KeywordNlu


def bot_from(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Bot:
    directory = tmp_path / "bot"
    directory.mkdir(exist_ok=True)
    (directory / "bot.yml").write_text(text)
    result = load_bot(directory, env=env or {})
    assert result.bot is not None, "\n".join(map(str, result.problems))
    return result.bot


class Chat:
    """Talks to the engine alone: the tests answer its HTTP requests themselves."""

    def __init__(self, bot: Bot, slots: dict[str, Any] | None = None) -> None:
        self.bot = bot
        self.nlu = KeywordNlu()
        self.state = DialogState(slots={**bot.slots, **(slots or {})}, seen=True)
        self.actions: list[Action] = []

    def send(self, text: str = "", payload: str | None = None, **parse: Any) -> list[Action]:
        result = self.nlu.parse_sync(text)
        if parse:
            fields = {**{f: getattr(result, f) for f in result.__slots__}, **parse}
            result = ParseResult(**fields)
        self.state, self.actions = step(
            self.bot, self.state, UserInput(text=text, payload=payload), result
        )
        return self.actions

    def event(self, name: str = "handoff_returned") -> list[Action]:
        self.state, self.actions = step(self.bot, self.state, DialogEvent(name=name))  # type: ignore[arg-type]
        return self.actions

    def answer(self, action: str, ok: bool, status: int, data: Any = None) -> list[Action]:
        result = CallResult(action=action, ok=ok, status=status, data=data)
        self.state, self.actions = step(self.bot, self.state, result)
        return self.actions

    def said(self) -> list[str]:
        return [a.text for a in self.actions if isinstance(a, SayAction)]

    def of(self, kind: type) -> list[Any]:
        return [a for a in self.actions if isinstance(a, kind)]
