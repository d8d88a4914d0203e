"""Validation: each kind of problem is reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.loader import load_bot
from frontdesk.commands.dialogs import validate_dialogs
from frontdesk.config import Settings

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
- intent: order_status
  examples: |
    - where is [AB12345](order_id)
"""

BASE = """\
slots:
  order_id: {}
templates:
  hi: "Hello"
  ask: "Which order?"
flows:
  greeting:
    triggers:
      - intent: greet
    steps:
      - say: hi
"""


def problems(tmp_path: Path, text: str, *, nlu: bool = True) -> list[str]:
    directory = tmp_path / "dialogs"
    directory.mkdir(exist_ok=True)
    (directory / "bot.yml").write_text(text)
    data = tmp_path / "nlu.yml"
    data.write_text(NLU)
    result = load_bot(directory, nlu_data=[data] if nlu else None, env={})
    assert result.bot is None
    return [f"{Path(p.file).name}:{p.line}: {p.message}" for p in result.problems]


def test_the_base_bot_is_valid(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(NLU)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "bot.yml").write_text(BASE)
    assert load_bot(tmp_path / "d", nlu_data=[tmp_path / "nlu.yml"]).problems == []


def test_the_example_bot_is_valid_against_its_nlu_data() -> None:
    assert validate_dialogs(Settings()) == []


FLOW = BASE + "  other:\n    triggers:\n      - intent: order_status\n    steps:\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE + "  bad: [\n", "bot.yml:13: invalid YAML"),
        (BASE.replace("      - say: hi", "      - say: hi\n        colour: red"),
         "bot.yml:12: say step: unknown key colour"),
        (BASE + "widgets: {}\n", "bot.yml:12: unknown section widgets"),
        (BASE.replace("intent: greet", "intent: greeting"),
         "bot.yml:9: unknown intent greeting (not in the NLU data)"),
        (FLOW + "      - ask: order_id\n        prompt: ask\n        entity: order_no\n",
         "bot.yml:18: unknown entity order_no"),
        (FLOW + "      - ask: order_number\n        prompt: ask\n",
         "bot.yml:16: unknown slot order_number"),
        (BASE.replace('hi: "Hello"', 'hi: "Hello {name}"'),
         "bot.yml:4: template uses unknown slot name"),
        (BASE.replace("say: hi", "say: hello"), "bot.yml:11: unknown template hello"),
        (FLOW + "      - flow: checkout\n", "bot.yml:16: unknown flow checkout"),
        (FLOW + "      - call: lookup\n", "bot.yml:16: unknown action lookup"),
        (FLOW + "      - end\n      - say: hi\n", "bot.yml:17: unreachable step in flow other"),
        (FLOW + "      - flow: greeting\n".replace("greeting", "other"),
         "bot.yml:12: flow other can never end"),
        (FLOW + "      - say: hi\n        id: top\n      - goto: top\n",
         "bot.yml:18: flow other loops without waiting for the customer"),
        (FLOW + "      - ask: order_id\n        prompt: ask\n        regex: '([A-Z'\n",
         "bot.yml:18: bad regex"),
        (FLOW + "      - if: order_id ==\n        then: [{say: hi}]\n",
         "bot.yml:16: invalid condition"),
        (FLOW + "      - if: __import__('os')\n        then: [{say: hi}]\n",
         "bot.yml:16: invalid condition"),
        (BASE.replace("intent: greet", "intent: greet\n      - intent: greet"),
         "bot.yml:10: greet already starts flow greeting"),
        (BASE + "  lonely:\n    steps:\n      - say: hi\n",
         "bot.yml:12: flow lonely is never started"),
        (BASE.replace('"Hello"', '"Hello ${MISSING_VAR}"'),
         "bot.yml:4: environment variable MISSING_VAR is not set"),
        (FLOW + "      - ask: order_id\n", "bot.yml:16: ask: prompt (a template name) is required"),
        (BASE.replace("slots:\n  order_id: {}", "slots:\n  intent: {}"),
         "bot.yml:2: slot intent: the name is reserved"),
    ],
)  # fmt: skip
def test_each_problem_names_its_line(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_problems_in_two_files_name_their_file(tmp_path: Path) -> None:
    directory = tmp_path / "dialogs"
    directory.mkdir()
    (directory / "a.yml").write_text(BASE)
    (directory / "b.yml").write_text("templates:\n  hi: 'again'\n")
    found = [str(p) for p in load_bot(directory, env={}).problems]
    assert found == [
        f"{directory / 'b.yml'}:2: template hi is already defined in {directory / 'a.yml'}"
    ]
