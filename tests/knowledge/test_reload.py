"""The knowledge folder is hot-reloaded with the dialogs: a new article answers soon after it
is saved; a broken FAQ file is refused and the running knowledge base keeps answering."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialogs.knowledge import KnowledgeSpec
from dialogs.loader import load_bot
from dialogs.reload import DialogReloader
from dialogs.runner import DialogRunner
from nlu.settings import KnowledgeSettings
from tests.dialogs.keyword_nlu import KeywordNlu
from tests.dialogs.test_reload import eventually, watching


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Path, DialogRunner, DialogReloader]]:
    directory = tmp_path / "bot"
    shutil.copytree("dialogs/example", directory, ignore=shutil.ignore_patterns("tests", "*.py"))
    spec = KnowledgeSpec(str(directory / "knowledge"), KnowledgeSettings(encoder="none"))
    bot = load_bot(directory, env={}, knowledge=spec).bot
    assert bot is not None and bot.knowledge is not None
    runner = DialogRunner(bot, KeywordNlu())
    reloader = DialogReloader(runner, path=directory, env={}, debounce_ms=50, knowledge=spec)
    reloader.start()
    await watching(reloader, directory / "templates.yml")
    yield directory, runner, reloader
    await reloader.stop()


def best(runner: DialogRunner, question: str) -> str | None:
    assert runner.bot.knowledge is not None
    found = runner.bot.knowledge.kb.retriever.ask(question).answer
    return found.entry.id if found is not None else None


async def test_a_new_article_answers_soon(live: tuple[Path, DialogRunner, DialogReloader]) -> None:
    directory, runner, _ = live
    assert best(runner, "how do I assemble the bookshelf") is None
    (directory / "knowledge" / "assembly.md").write_text(
        "# Assembly\n\n## Assembling the bookshelf\n\n"
        "Assemble the bookshelf with the hex key in the box: sides first, then the shelves.\n"
    )

    async def answered() -> bool:
        return (
            best(runner, "how do I assemble the bookshelf") == "assembly#assembling-the-bookshelf"
        )

    await eventually(answered)


async def test_a_broken_faq_is_refused_and_the_old_one_answers(
    live: tuple[Path, DialogRunner, DialogReloader],
) -> None:
    directory, runner, reloader = live
    faq = directory / "knowledge" / "faq.yml"
    faq.write_text(faq.read_text().replace("  - id: loyalty\n", "  - idd: loyalty\n"))

    async def refused() -> bool:
        return reloader.refused >= 1

    await eventually(refused)
    assert best(runner, "is there a warranty?") == "warranty"
    problems = [p.message for p in await reloader.reload()]
    assert "FAQ entry: id is required" in problems
